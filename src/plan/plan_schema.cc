// The published JSON Schema of a plan, and validation against it with valijson.
#include <exception>
#include <optional>
#include <utility>

// With -fsanitize=address g++ 12 reports a false "may be used uninitialized"
// inside libstdc++'s <regex>, which valijson uses for "pattern".
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <regex>
#include <valijson/adapters/nlohmann_json_adapter.hpp>
#include <valijson/schema.hpp>
#include <valijson/schema_parser.hpp>
#include <valijson/validation_results.hpp>
#include <valijson/validator.hpp>
#pragma GCC diagnostic pop

#include "core/internal/json_schema.h"
#include "ergon/plan.h"

namespace ergon {
namespace {

// docs/plan.schema.json is this text, pretty-printed; a unit test keeps them equal.
constexpr const char* kPlanSchema = R"json({
  "$schema": "http://json-schema.org/draft-07/schema#",
  "title": "ergon plan",
  "description": "A goal interpreted into a task graph: the slots it needs, the steps (a DAG through 'needs') and the questions still open.",
  "type": "object",
  "additionalProperties": false,
  "required": ["steps"],
  "properties": {
    "goal": {"type": "string", "description": "The goal as the person stated it."},
    "skill": {"type": "string", "description": "The skill the plan came from, if any."},
    "planner": {"type": "string", "description": "Who made the plan: skill or model; absent when unknown."},
    "slot_specs": {"type": "array", "items": {"$ref": "#/definitions/slot_spec"}},
    "slots": {
      "type": "object",
      "description": "Slot name to value.",
      "propertyNames": {"$ref": "#/definitions/slot_name"}
    },
    "steps": {"type": "array", "items": {"$ref": "#/definitions/step"}},
    "questions": {"type": "array", "items": {"$ref": "#/definitions/question"}}
  },
  "definitions": {
    "connector_name": {"type": "string", "maxLength": 128, "pattern": "^[A-Za-z_][A-Za-z0-9_-]*$"},
    "step_id": {"type": "string", "maxLength": 128, "pattern": "^[A-Za-z_][A-Za-z0-9_-]*$"},
    "slot_name": {"type": "string", "maxLength": 128, "pattern": "^[A-Za-z_][A-Za-z0-9_]*$"},
    "action_name": {
      "type": "string",
      "description": "<connector>.<action>, e.g. cloud.stop_instance",
      "maxLength": 128,
      "pattern": "^[A-Za-z_][A-Za-z0-9_-]*\\.[A-Za-z0-9_][A-Za-z0-9_.-]*$"
    },
    "slot_spec": {
      "type": "object",
      "additionalProperties": false,
      "required": ["name"],
      "properties": {
        "name": {"$ref": "#/definitions/slot_name"},
        "type": {"enum": ["string", "number", "percent", "money", "date", "enum", "code", "email"]},
        "required": {"type": "boolean"},
        "question": {"type": "string"},
        "choices": {"type": "array", "items": {"type": "string", "minLength": 1}},
        "default": {},
        "description": {"type": "string"}
      }
    },
    "retry": {
      "type": "object",
      "additionalProperties": false,
      "properties": {
        "max_attempts": {"type": "integer", "minimum": 1, "maximum": 100},
        "initial_backoff_ms": {"type": "integer", "minimum": 0, "maximum": 600000},
        "multiplier": {"type": "number", "minimum": 1, "maximum": 10},
        "max_backoff_ms": {"type": "integer", "minimum": 0, "maximum": 3600000}
      }
    },
    "agent": {
      "type": "object",
      "description": "An open-ended task the model carries out on one connector, one observed action at a time.",
      "additionalProperties": false,
      "required": ["goal", "connector"],
      "properties": {
        "goal": {"type": "string", "minLength": 1, "description": "What to achieve, in plain words; may hold ${ lua } templates."},
        "connector": {"$ref": "#/definitions/connector_name"},
        "allow": {
          "type": "array",
          "description": "Actions of the connector approved with the plan; any other needs a person's approval.",
          "items": {"$ref": "#/definitions/action_name"}
        },
        "max_steps": {"type": "integer", "minimum": 0, "maximum": 1000, "description": "Action budget; 0 or absent: the model's agent_max_steps."}
      }
    },
    "step": {
      "type": "object",
      "additionalProperties": false,
      "required": ["id"],
      "oneOf": [
        {"required": ["do"]},
        {"required": ["compute"]},
        {"required": ["ask"]},
        {"required": ["agent"]}
      ],
      "dependencies": {"with": ["do"], "slot": ["ask"]},
      "properties": {
        "id": {"$ref": "#/definitions/step_id"},
        "do": {"$ref": "#/definitions/action_name"},
        "compute": {"type": "string", "minLength": 1, "description": "Sandboxed Lua chunk; its return value is the result."},
        "ask": {"type": "string", "minLength": 1, "description": "A question to a person; the answer is the result."},
        "agent": {"$ref": "#/definitions/agent"},
        "slot": {"$ref": "#/definitions/slot_name"},
        "with": {"type": "object", "description": "Arguments; strings may hold ${ lua } templates."},
        "needs": {"type": "array", "items": {"$ref": "#/definitions/step_id"}},
        "when": {"type": "string"},
        "for_each": {"type": "string"},
        "expect": {"type": "string"},
        "on_fail": {"enum": ["abort", "retry", "skip", "ask"]},
        "retry": {"$ref": "#/definitions/retry"},
        "description": {"type": "string"},
        "source": {"type": "string", "description": "file:line the step was declared at."}
      }
    },
    "question": {
      "type": "object",
      "additionalProperties": false,
      "required": ["slot", "text"],
      "properties": {
        "slot": {"$ref": "#/definitions/slot_name"},
        "text": {"type": "string", "minLength": 1}
      }
    }
  }
})json";

constexpr const char* kSeeSchema = " — see docs/plan.schema.json for the plan format";

bool is_one_of_error(const std::string& description) {
  return description.find("oneOf") != std::string::npos ||
         description.find("exactly one child schema") != std::string::npos;
}

// valijson's wording, rephrased in the terms of a plan; the pointer moves onto
// the offending field where valijson names it only in the text.
std::pair<std::string, std::string> explain(const std::string& pointer,
                                            const std::string& description) {
  auto quoted = [&](const std::string& prefix) -> std::optional<std::string> {
    if (!description.starts_with(prefix)) return std::nullopt;
    // The last quoted word is the name ("... 'additionalProperties' constraints: 'neds'.").
    size_t close = description.rfind('\'');
    size_t open = close == std::string::npos || close == 0 ? std::string::npos
                                                           : description.rfind('\'', close - 1);
    if (open == std::string::npos || open < prefix.size()) return std::nullopt;
    return description.substr(open + 1, close - open - 1);
  };
  if (auto field = quoted("Object contains a property that could not be validated")) {
    return {pointer + "/" + *field, "unknown field"};
  }
  if (auto field = quoted("Missing required property")) {
    return {pointer, "missing required field '" + *field + "'"};
  }
  if (auto field = quoted("Missing dependency")) {
    return {pointer, "missing '" + *field +
                         "', which another field here depends on ('with' needs "
                         "'do', 'slot' needs 'ask')"};
  }
  if (description.find("any child schemas allowed by oneOf") != std::string::npos) {
    return {pointer,
            "has none of 'do', 'compute', 'ask', 'agent'; a step does exactly one of them"};
  }
  if (description.find("exactly one child schema") != std::string::npos) {
    return {pointer,
            "has more than one of 'do', 'compute', 'ask', 'agent'; a step does exactly one of "
            "them"};
  }
  std::string what = description;
  if (!what.empty() && what.back() == '.') what.pop_back();
  return {pointer, what};
}

constexpr size_t kMaxNameLength = 128;  // the schema's maxLength for ids and names

// valijson checks "pattern" with std::regex, whose matcher recurses once per
// character and overflows the stack on strings of some ten thousand
// characters. Every value a pattern applies to is length-checked first.
Status check_name_lengths(const Json& json) {
  if (!json.is_object()) return {};
  auto too_long = [](const Json& value) {
    return value.is_string() && value.get_ref<const std::string&>().size() > kMaxNameLength;
  };
  auto reject = [](const std::string& pointer) {
    return fail(ErrorCode::kInvalidInput, pointer + ": longer than " +
                                              std::to_string(kMaxNameLength) +
                                              " characters — use a shorter name");
  };
  auto each = [&](const char* list, auto&& check) -> Status {
    auto it = json.find(list);
    if (it == json.end() || !it->is_array()) return {};
    for (size_t i = 0; i < it->size(); ++i) {
      const Json& item = (*it)[i];
      if (!item.is_object()) continue;
      if (auto ok = check(item, "/" + std::string(list) + "/" + std::to_string(i)); !ok) return ok;
    }
    return {};
  };
  if (auto ok = each(
          "steps",
          [&](const Json& step, const std::string& at) -> Status {
            for (const char* key : {"id", "do", "slot"}) {
              if (step.contains(key) && too_long(step[key])) return reject(at + "/" + key);
            }
            if (auto agent = step.find("agent"); agent != step.end() && agent->is_object()) {
              if (agent->contains("connector") && too_long((*agent)["connector"]))
                return reject(at + "/agent/connector");
              if (auto allow = agent->find("allow"); allow != agent->end() && allow->is_array()) {
                for (size_t n = 0; n < allow->size(); ++n) {
                  if (too_long((*allow)[n]))
                    return reject(at + "/agent/allow/" + std::to_string(n));
                }
              }
            }
            if (auto needs = step.find("needs"); needs != step.end() && needs->is_array()) {
              for (size_t n = 0; n < needs->size(); ++n) {
                if (too_long((*needs)[n])) return reject(at + "/needs/" + std::to_string(n));
              }
            }
            return {};
          });
      !ok) {
    return ok;
  }
  for (const char* list : {"slot_specs", "questions"}) {
    const char* key = std::string(list) == "slot_specs" ? "name" : "slot";
    if (auto ok = each(list,
                       [&](const Json& item, const std::string& at) -> Status {
                         if (item.contains(key) && too_long(item[key]))
                           return reject(at + "/" + key);
                         return {};
                       });
        !ok) {
      return ok;
    }
  }
  if (auto slots = json.find("slots"); slots != json.end() && slots->is_object()) {
    for (const auto& [name, value] : slots->items()) {
      if (name.size() > kMaxNameLength)
        return reject("/slots" + json_pointer_token(name.substr(0, 40)));
    }
  }
  return {};
}

// The schema is compiled once; a valijson Schema is read-only during validation,
// and each call builds its own Validator (which owns a regex cache).
const valijson::Schema& compiled_plan_schema() {
  static const valijson::Schema* schema = [] {
    auto* compiled = new valijson::Schema();
    valijson::SchemaParser parser(valijson::SchemaParser::kDraft7);
    valijson::adapters::NlohmannJsonAdapter adapter(plan_schema());
    parser.populateSchema(adapter, *compiled);
    return compiled;
  }();
  return *schema;
}

}  // namespace

const Json& plan_schema() {
  static const Json schema = Json::parse(kPlanSchema);
  return schema;
}

Status check_plan_schema(const Json& json) {
  if (auto ok = check_name_lengths(json); !ok) return ok;
  valijson::Validator validator(valijson::Validator::kStrongTypes);
  valijson::ValidationResults results;
  valijson::adapters::NlohmannJsonAdapter target(json);
  try {
    if (validator.validate(compiled_plan_schema(), target, &results)) return {};
  } catch (const std::exception& e) {
    return fail(ErrorCode::kInvalidInput,
                std::string(": could not check the plan against its schema: ") + e.what());
  }

  // At one depth a oneOf summary says more than the "missing 'do'" of each of
  // its branches.
  std::optional<internal::SchemaError> best =
      internal::most_specific_error(results, is_one_of_error);
  if (!best) {
    return fail(ErrorCode::kInvalidInput,
                ": does not match the plan schema" + std::string(kSeeSchema));
  }
  auto [pointer, what] = explain(best->pointer, best->description);
  return fail(ErrorCode::kInvalidInput, pointer + ": " + what + kSeeSchema);
}

}  // namespace ergon
