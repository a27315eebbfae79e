// A Plan is a goal interpreted into a task graph: the slots it needs, the steps
// (a DAG through `needs`) and the questions still open. A planner never acts;
// the engine runs a Plan only after it has been validated.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "ergon/json.h"
#include "ergon/result.h"

namespace ergon {

// Where a value came from in a workspace file, for error messages.
struct SourceLoc {
  std::string file;
  int line = 0;             // 1-based; 0 when unknown
  std::string str() const;  // "file:line", "file" or ""
};

// kCode: an identifier with letters and digits ("MBR-123456", "INV-2027-001",
// a CPT code "72148"); kEmail: an e-mail address.
enum class SlotType { kString, kNumber, kPercent, kMoney, kDate, kEnum, kCode, kEmail };
const char* to_string(SlotType type);
Result<SlotType> parse_slot_type(const std::string& text);

struct SlotSpec {
  std::string name;
  SlotType type = SlotType::kString;
  bool required = true;
  std::string question;              // asked when required and missing
  std::vector<std::string> choices;  // for kEnum
  std::optional<Json> default_value;
  std::string description;
};

enum class StepKind { kAction, kCompute, kAsk, kAgent };
const char* to_string(StepKind kind);

enum class OnFail { kAbort, kRetry, kSkip, kAsk };
const char* to_string(OnFail on_fail);
Result<OnFail> parse_on_fail(const std::string& text);

struct RetryPolicy {
  int max_attempts = 3;  // including the first
  int initial_backoff_ms = 200;
  double multiplier = 2.0;
  int max_backoff_ms = 5000;
};

// An agent step: an open-ended task on one connector (a web app in the
// browser) that the model carries out one observed action at a time. The
// person approves the task and the actions it may take without asking
// (`allow`); anything else the model proposes — and every irreversible action —
// needs a person's approval at the intent guard (docs/model.md).
struct AgentTask {
  std::string goal;                // what to achieve, in plain words
  std::string connector;           // whose actions the model may use, e.g. "portal"
  std::vector<std::string> allow;  // fully qualified actions approved with the plan
  int max_steps = 0;               // action budget; 0: the model config's agent_max_steps
};

struct Step {
  std::string id;
  StepKind kind = StepKind::kAction;
  std::string action;          // kAction: fully qualified action name
  Json with = Json::object();  // kAction: argument templates ("${ lua }")
  std::string compute;         // kCompute: Lua chunk; its return value is the result
  std::string ask;             // kAsk: the question; the answer is the result
  std::string ask_slot;        // kAsk: optional slot the answer fills
  AgentTask agent;             // kAgent
  std::vector<std::string> needs;
  std::string when;      // Lua condition; the step is skipped when false
  std::string for_each;  // Lua expression yielding a list; the step runs once per `item`
  std::string expect;    // Lua postcondition over `result` (and working memory)
  OnFail on_fail = OnFail::kAbort;
  RetryPolicy retry;
  std::string description;
  SourceLoc loc;
};

// A question the planner could not answer from the goal.
struct Question {
  std::string slot;
  std::string text;
};

struct Plan {
  std::string goal;
  std::string skill;    // the skill it came from, if any
  std::string planner;  // who made it: "skill", "model" ("" when unknown, e.g. a hand-written file)
  std::vector<SlotSpec> slot_specs;
  Json slots = Json::object();  // slot name -> value
  std::vector<Step> steps;
  std::vector<Question> questions;  // open questions; a plan with any cannot run

  const Step* step(const std::string& id) const;
  bool ready() const { return questions.empty(); }
};

// The published JSON Schema of a plan (docs/plan.schema.json is generated from it).
const Json& plan_schema();
// Validates `json` against plan_schema() only (no parsing); the error message
// starts with the JSON pointer of the offending value ("/steps/2/on_fail: ...").
// Thread-safe.
Status check_plan_schema(const Json& json);

// Parsers shared by plan JSON and workspace YAML (converted to JSON first).
// Errors are kInvalidInput with messages "<json pointer>: <what is wrong and
// what to do>", the pointer relative to the value passed in ("/with/id", "" for
// the value itself), so a YAML loader can map it back to a line. Prefixing the
// pointer of the value in its document gives the absolute message
// ("/steps/2" + "/neds: ..."). Unknown fields are errors that name the field
// and, when close, the intended one.
// A step's kind follows from which of `do`, `compute`, `ask`, `agent` it has
// (exactly one). `agent` is an object {goal, connector, allow, max_steps}.
// `retry` is kept but takes effect only with `on_fail: retry`. Step.loc
// round-trips as "source": "file:line".
Result<Step> step_from_json(const Json& json);
Result<SlotSpec> slot_from_json(const std::string& name, const Json& json);
Json to_json(const Step& step);
Json to_json(const SlotSpec& slot);

Json to_json(const Plan& plan);
// Parses and validates against plan_schema(); errors name the JSON pointer.
Result<Plan> plan_from_json(const Json& json);

// Structural checks beyond the schema: unique step ids, `needs` naming existing
// steps, no cycles, action steps naming known actions (when `known_actions`
// is non-empty), questions only for declared slots, every required slot either
// filled or asked for. Errors name the step id (and its file:line when known).
Status validate_plan(const Plan& plan, const std::vector<std::string>& known_actions = {});

// Step ids in an order where every step comes after the ones it needs
// (stable with respect to declaration order). Assumes validate_plan passed.
std::vector<std::string> topological_order(const Plan& plan);

// The candidate that `word` most likely misspells, or "" when none is close;
// for "did you mean ...?" hints.
std::string closest_spelling(const std::string& word, const std::vector<std::string>& candidates);

}  // namespace ergon
