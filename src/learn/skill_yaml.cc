// A skill as YAML a person reads and edits: the layout of the hand-written
// skills (name, description, examples, slots, steps; fingerprints on one
// line, Lua as literal blocks), read back by load_skill_file to the same skill.
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <string>
#include <vector>

#include "ergon/learn.h"
#include "learn/internal/yaml_emit.h"

namespace ergon {

namespace {

// Step fields in reading order; anything else to_json(Step) adds comes after.
const std::vector<std::string> kStepOrder = {"id",     "description", "needs",   "when", "for_each",
                                             "do",     "with",        "compute", "ask",  "slot",
                                             "expect", "on_fail",     "retry"};

void emit_step(YAML::Emitter& out, const Step& step) {
  Json json = to_json(step);
  json.erase("source");  // where it was read from, not part of the skill
  out << YAML::BeginMap;
  auto put = [&](const std::string& key, const Json& value) {
    out << YAML::Key;
    internal::emit_string(out, key);
    out << YAML::Value;
    if (key == "with") {
      internal::emit_with(out, value);
    } else if (key == "needs") {
      internal::emit_json(out, value, true);
    } else if (key == "retry") {
      internal::emit_json(out, value, true);
    } else {
      internal::emit_json(out, value);
    }
  };
  for (const std::string& key : kStepOrder) {
    if (auto it = json.find(key); it != json.end()) put(key, *it);
  }
  for (const auto& [key, value] : json.items()) {
    if (std::find(kStepOrder.begin(), kStepOrder.end(), key) == kStepOrder.end()) put(key, value);
  }
  out << YAML::EndMap;
}

std::string comment_line(const std::string& note) {
  std::string line;
  for (char c : note) line += (c == '\n' || c == '\r') ? ' ' : c;
  return "# " + line + "\n";
}

}  // namespace

std::string skill_to_yaml(const Skill& skill, const std::vector<std::string>& notes) {
  YAML::Emitter out;
  out.SetIndent(2);
  out << YAML::BeginMap;
  out << YAML::Key << "name" << YAML::Value;
  internal::emit_string(out, skill.name);
  if (!skill.description.empty()) {
    out << YAML::Key << "description" << YAML::Value;
    internal::emit_string(out, skill.description);
  }
  if (!skill.examples.empty()) {
    out << YAML::Key << "examples" << YAML::Value << YAML::BeginSeq;
    for (const std::string& example : skill.examples) internal::emit_string(out, example);
    out << YAML::EndSeq;
  }
  if (!skill.slots.empty()) {
    out << YAML::Key << "slots" << YAML::Value << YAML::BeginMap;
    for (const SlotSpec& slot : skill.slots) {
      out << YAML::Key;
      internal::emit_string(out, slot.name);
      out << YAML::Value << YAML::BeginMap;
      out << YAML::Key << "type" << YAML::Value << to_string(slot.type);
      out << YAML::Key << "required" << YAML::Value << (slot.required ? "true" : "false");
      if (!slot.question.empty()) {
        out << YAML::Key << "question" << YAML::Value;
        internal::emit_string(out, slot.question);
      }
      if (!slot.choices.empty()) {
        out << YAML::Key << "choices" << YAML::Value;
        internal::emit_json(out, Json(slot.choices), true);
      }
      if (slot.default_value) {
        out << YAML::Key << "default" << YAML::Value;
        internal::emit_json(out, *slot.default_value);
      }
      if (!slot.description.empty()) {
        out << YAML::Key << "description" << YAML::Value;
        internal::emit_string(out, slot.description);
      }
      out << YAML::EndMap;
    }
    out << YAML::EndMap;
  }
  out << YAML::Key << "steps" << YAML::Value << YAML::BeginSeq;
  for (const Step& step : skill.steps) emit_step(out, step);
  out << YAML::EndSeq;
  out << YAML::EndMap;

  std::string text;
  for (const std::string& note : notes) text += comment_line(note);
  if (!notes.empty()) text += "\n";
  return text + out.c_str() + "\n";
}

}  // namespace ergon
