// ActionSpec: what a connector can do, and how risky it is. ActionCall: one
// concrete request to do it.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "ergon/json.h"
#include "ergon/result.h"

namespace ergon {

enum class Effect {
  kRead,          // observes the world, changes nothing
  kWrite,         // changes the world, can be undone (by a compensation)
  kIrreversible,  // changes the world for good: always asks a person unless policy auto-approves
};

const char* to_string(Effect effect);
Result<Effect> parse_effect(const std::string& text);

// How to undo a completed write: another action of the same connector, with
// arguments given as templates over `args` (the original call's arguments) and
// `result` (its result).
struct Compensation {
  std::string action;  // fully qualified, e.g. "cloud.start_instance"
  Json with = Json::object();
};

struct ActionSpec {
  std::string name;  // fully qualified: "<connector>.<action>", e.g. "cloud.stop_instance"
  std::string description;
  Json params_schema = Json::object();  // JSON Schema of the arguments object
  Effect effect = Effect::kWrite;
  std::optional<Compensation> compensate;
  std::string idempotency_key;  // template over `args` and `session`; empty when none
  std::string expect;           // Lua postcondition over `args` and `result`; empty when none
  bool supports_dry_run = false;
};

struct ActionCall {
  std::string action;  // fully qualified name
  Json args = Json::object();
  std::string idempotency_key;  // rendered from the spec's template; empty when none
  // A person's answer to this call's earlier kNeedsPerson error ("done", "2",
  // ...); empty on a first attempt.
  std::string person_answer = {};
};

// "cloud.stop_instance" -> {"cloud", "stop_instance"}; error when there is no dot.
Result<std::pair<std::string, std::string>> split_action_name(const std::string& name);

}  // namespace ergon
