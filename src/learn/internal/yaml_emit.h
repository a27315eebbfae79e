// Writing JSON values as YAML a person can read and edit, such that
// internal::parse_yaml reads every value back with the same JSON type: a
// string that would read as a number, a boolean or null ("72148", "true") is
// quoted; multi-line text becomes a literal block where that round-trips.
#pragma once

#include <yaml-cpp/yaml.h>

#include <string>

#include "ergon/json.h"

namespace ergon::internal {

// One string scalar (plain when that reads back as the same string).
void emit_string(YAML::Emitter& out, const std::string& text);

// Any JSON value; objects in block style unless `flow`. Object keys keep
// nlohmann's (sorted) order, except element fingerprints (see emit_target).
void emit_json(YAML::Emitter& out, const Json& value, bool flow = false);

// An element fingerprint as one flow mapping, keys in reading order (role,
// name, tag, type, id, name_attr, ... then position).
void emit_target(YAML::Emitter& out, const Json& target);

// A step's `with`: block mapping; `target` (a fingerprint) in flow style.
void emit_with(YAML::Emitter& out, const Json& with);

}  // namespace ergon::internal
