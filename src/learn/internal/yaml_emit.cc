#include "learn/internal/yaml_emit.h"

#include <algorithm>
#include <array>
#include <string_view>

#include "core/internal/yaml_json.h"

namespace ergon::internal {

namespace {

constexpr std::array<std::string_view, 18> kTargetOrder = {
    "role",          "name",     "tag",         "type",       "id",    "name_attr",
    "text",          "href",     "placeholder", "aria_label", "alt",   "classes",
    "neighbor_text", "dom_path", "x",           "y",          "width", "height"};

// A literal block ("|") reads back with exactly one trailing newline, keeps
// inner lines verbatim, and cannot start with a space or hold tabs/CRs safely.
bool literal_round_trips(const std::string& text) {
  if (text.size() < 2 || text.back() != '\n' || text[text.size() - 2] == '\n') return false;
  if (text.front() == ' ' || text.front() == '\n') return false;
  if (text.find_first_of("\t\r") != std::string::npos) return false;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end > start && text[end - 1] == ' ') return false;  // trailing spaces
    start = end + 1;
  }
  return true;
}

bool plain_round_trips(const std::string& text) {
  if (text.empty() || text.find_first_of("\n\r\t") != std::string::npos) return false;
  if (text.front() == ' ' || text.back() == ' ') return false;
  auto doc = parse_yaml(text, "");
  return doc && doc->value.is_string() && doc->value.get<std::string>() == text;
}

}  // namespace

void emit_string(YAML::Emitter& out, const std::string& text) {
  if (text.find('\n') != std::string::npos && literal_round_trips(text)) {
    out << YAML::Literal << text;
  } else if (plain_round_trips(text)) {
    out << text;  // yaml-cpp still quotes where its own rules need it
  } else {
    out << YAML::DoubleQuoted << text;
  }
}

void emit_json(YAML::Emitter& out, const Json& value, bool flow) {
  switch (value.type()) {
    case Json::value_t::null: out << YAML::Null; break;
    case Json::value_t::boolean: out << (value.get<bool>() ? "true" : "false"); break;
    case Json::value_t::string: emit_string(out, value.get<std::string>()); break;
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned:
    case Json::value_t::number_float: out << value.dump(); break;
    case Json::value_t::array:
      if (flow) out << YAML::Flow;
      out << YAML::BeginSeq;
      for (const Json& item : value) emit_json(out, item, flow);
      out << YAML::EndSeq;
      break;
    case Json::value_t::object:
      if (flow) out << YAML::Flow;
      out << YAML::BeginMap;
      for (const auto& [key, item] : value.items()) {
        out << YAML::Key;
        emit_string(out, key);
        out << YAML::Value;
        emit_json(out, item, flow);
      }
      out << YAML::EndMap;
      break;
    default: out << YAML::Null; break;
  }
}

void emit_target(YAML::Emitter& out, const Json& target) {
  if (!target.is_object()) {
    emit_json(out, target, true);
    return;
  }
  out << YAML::Flow << YAML::BeginMap;
  auto put = [&](const std::string& key, const Json& item) {
    out << YAML::Key;
    emit_string(out, key);
    out << YAML::Value;
    emit_json(out, item, true);
  };
  for (std::string_view key : kTargetOrder) {
    if (auto it = target.find(std::string(key)); it != target.end()) put(std::string(key), *it);
  }
  for (const auto& [key, item] : target.items()) {
    if (std::find(kTargetOrder.begin(), kTargetOrder.end(), key) == kTargetOrder.end()) {
      put(key, item);
    }
  }
  out << YAML::EndMap;
}

void emit_with(YAML::Emitter& out, const Json& with) {
  if (!with.is_object()) {
    emit_json(out, with);
    return;
  }
  // The element first, then what is done to it.
  out << YAML::BeginMap;
  if (auto target = with.find("target"); target != with.end()) {
    out << YAML::Key << "target" << YAML::Value;
    emit_target(out, *target);
  }
  for (const auto& [key, item] : with.items()) {
    if (key == "target") continue;
    out << YAML::Key;
    emit_string(out, key);
    out << YAML::Value;
    emit_json(out, item);
  }
  out << YAML::EndMap;
}

}  // namespace ergon::internal
