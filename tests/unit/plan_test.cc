#include "ergon/plan.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

namespace ergon {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

Json full_plan_json() {
  return Json::parse(R"({
    "goal": "cut our monthly cloud spend by 15%",
    "skill": "reduce-cloud-spend",
    "slot_specs": [
      {"name": "target_pct", "type": "percent", "required": true,
       "question": "By how much should monthly spend drop?", "description": "the cut"},
      {"name": "size", "type": "enum", "required": false, "choices": ["small", "large"],
       "default": "small"},
      {"name": "budget", "type": "money", "required": false, "default": 1200},
      {"name": "deadline", "type": "date", "required": false, "default": "2027-03-04"},
      {"name": "account", "type": "string", "required": true}
    ],
    "slots": {"target_pct": 15, "size": "small"},
    "steps": [
      {"id": "bill", "do": "cloud.get_bill", "description": "read the bill"},
      {"id": "pick", "needs": ["bill"], "compute": "return { stop = {} }"},
      {"id": "stop", "needs": ["pick"], "for_each": "steps.pick.result.stop",
       "do": "cloud.stop_instance", "with": {"id": "${item.id}", "env": "${item.tags.env}"},
       "when": "slots.target_pct > 0", "expect": "result.state == 'stopped'",
       "on_fail": "retry",
       "retry": {"max_attempts": 4, "initial_backoff_ms": 200, "multiplier": 2.0,
                 "max_backoff_ms": 5000},
       "source": "skills/reduce.yaml:14"},
      {"id": "confirm", "ask": "Which account should be billed?", "slot": "account",
       "on_fail": "skip"}
    ],
    "questions": [{"slot": "account", "text": "Which account should be billed?"}]
  })");
}

TEST(PlanJson, FullPlanRoundTrips) {
  auto plan = plan_from_json(full_plan_json());
  ASSERT_TRUE(plan.has_value()) << plan.error().message;
  EXPECT_EQ(plan->goal, "cut our monthly cloud spend by 15%");
  EXPECT_EQ(plan->skill, "reduce-cloud-spend");
  ASSERT_EQ(plan->slot_specs.size(), 5u);
  EXPECT_EQ(plan->slot_specs[0].type, SlotType::kPercent);
  EXPECT_EQ(plan->slot_specs[1].choices, (std::vector<std::string>{"small", "large"}));
  EXPECT_EQ(plan->slot_specs[3].default_value, Json("2027-03-04"));
  ASSERT_EQ(plan->steps.size(), 4u);
  const Step* stop = plan->step("stop");
  ASSERT_NE(stop, nullptr);
  EXPECT_EQ(stop->kind, StepKind::kAction);
  EXPECT_EQ(stop->action, "cloud.stop_instance");
  EXPECT_EQ(stop->with["id"], "${item.id}");
  EXPECT_EQ(stop->on_fail, OnFail::kRetry);
  EXPECT_EQ(stop->retry.max_attempts, 4);
  EXPECT_EQ(stop->loc.file, "skills/reduce.yaml");
  EXPECT_EQ(stop->loc.line, 14);
  EXPECT_EQ(plan->step("pick")->kind, StepKind::kCompute);
  EXPECT_EQ(plan->step("confirm")->kind, StepKind::kAsk);
  EXPECT_EQ(plan->step("confirm")->ask_slot, "account");
  EXPECT_FALSE(plan->ready());

  Json once = to_json(*plan);
  auto again = plan_from_json(once);
  ASSERT_TRUE(again.has_value()) << again.error().message;
  EXPECT_EQ(to_json(*again), once);
  EXPECT_EQ(once, full_plan_json());
}

TEST(PlanJson, MinimalPlanParses) {
  auto plan = plan_from_json(Json::parse(R"({"steps": [{"id": "a", "do": "x.y"}]})"));
  ASSERT_TRUE(plan.has_value()) << plan.error().message;
  EXPECT_TRUE(plan->ready());
  EXPECT_EQ(plan->steps[0].on_fail, OnFail::kAbort);
  Json json = to_json(plan->steps[0]);
  EXPECT_EQ(json, Json::parse(R"({"id": "a", "do": "x.y"})"));
}

Error plan_error(const std::string& text) {
  auto plan = plan_from_json(Json::parse(text));
  EXPECT_FALSE(plan.has_value()) << text;
  return plan ? Error{} : plan.error();
}

TEST(PlanJson, UnknownStepFieldNamesPointerAndSuggestion) {
  Error error = plan_error(R"({"steps": [{"id": "a", "do": "x.y"},
                                         {"id": "b", "do": "x.z", "neds": ["a"]}]})");
  EXPECT_EQ(error.code, ErrorCode::kInvalidInput);
  EXPECT_EQ(error.message, "/steps/1/neds: unknown field; did you mean 'needs'?");
}

TEST(PlanJson, UnknownTopLevelField) {
  Error error = plan_error(R"({"stpes": [], "steps": []})");
  EXPECT_EQ(error.message, "/stpes: unknown field; did you mean 'steps'?");
}

TEST(PlanJson, TwoKindsInOneStepIsRejected) {
  Error error = plan_error(R"({"steps": [{"id": "a", "do": "x.y", "compute": "return 1"}]})");
  EXPECT_THAT(error.message, StartsWith("/steps/0/compute: step 'a' has both 'do' and 'compute'"));
}

TEST(PlanJson, StepWithoutKindIsRejected) {
  Error error = plan_error(R"({"steps": [{"id": "a", "needs": []}]})");
  EXPECT_THAT(error.message, StartsWith("/steps/0: step 'a' has none of 'do', 'compute', 'ask'"));
}

TEST(PlanJson, BadIdIsRejected) {
  Error error = plan_error(R"({"steps": [{"id": "2 bad", "do": "x.y"}]})");
  EXPECT_THAT(error.message, StartsWith("/steps/0/id: '2 bad' is not a valid step id"));
  error = plan_error(R"({"steps": [{"id": "a", "do": "x.y", "needs": ["b c"]}]})");
  EXPECT_THAT(error.message, StartsWith("/steps/0/needs/0: "));
}

TEST(PlanJson, BadOnFailNamesPointer) {
  Error error = plan_error(R"({"steps": [{"id": "a", "do": "x.y"}, {"id": "b", "do": "x.y"},
                                         {"id": "c", "do": "x.y", "on_fail": "retyr"}]})");
  EXPECT_EQ(error.message,
            "/steps/2/on_fail: unknown value 'retyr'; did you mean 'retry'? — use abort, retry, "
            "skip or ask");
}

TEST(PlanJson, NotAnObject) {
  Error error = plan_error(R"([1, 2])");
  EXPECT_THAT(error.message, StartsWith(": expected a plan object"));
  error = plan_error(R"({"goal": "g"})");
  EXPECT_THAT(error.message, HasSubstr("no 'steps'"));
}

TEST(PlanJson, BadSlotSpecAndQuestion) {
  Error error = plan_error(R"({"steps": [], "slot_specs": [{"name": "x", "type": "pct"}]})");
  EXPECT_EQ(error.message,
            "/slot_specs/0/type: unknown slot type 'pct' — use string, number, percent, money, "
            "date, enum, code or email");
  error = plan_error(R"({"steps": [], "questions": [{"slot": "x", "txt": "?"}]})");
  EXPECT_EQ(error.message, "/questions/0/txt: unknown field; did you mean 'text'?");
}

// The schema alone (what a model planner's output is checked against) also
// names the JSON pointer.
TEST(PlanSchema, CheckNamesPointer) {
  EXPECT_TRUE(check_plan_schema(full_plan_json()).has_value());
  auto status =
      check_plan_schema(Json::parse(R"({"steps": [{"id": "a", "do": "x.y"}, {"id": "b", "do": "x.y",
                                                         "retry": {"max_attempts": 0}}]})"));
  ASSERT_FALSE(status.has_value());
  EXPECT_THAT(status.error().message, StartsWith("/steps/1/retry/max_attempts: "));
  status = check_plan_schema(Json::parse(R"({"steps": [{"id": "a", "do": "x.y", "neds": []}]})"));
  ASSERT_FALSE(status.has_value());
  EXPECT_THAT(status.error().message, StartsWith("/steps/0/neds: unknown field"));
  status = check_plan_schema(Json::parse(R"({"steps": [{"id": "a", "do": "nodot"}]})"));
  ASSERT_FALSE(status.has_value());
  EXPECT_THAT(status.error().message, StartsWith("/steps/0/do: "));
  status = check_plan_schema(
      Json::parse(R"({"steps": [{"id": "a", "do": "x.y", "compute": "return 1"}]})"));
  ASSERT_FALSE(status.has_value());
  EXPECT_THAT(status.error().message,
              StartsWith("/steps/0: has more than one of 'do', 'compute', 'ask'"));
  status = check_plan_schema(Json::parse(R"({"steps": [{"id": "a"}]})"));
  ASSERT_FALSE(status.has_value());
  EXPECT_THAT(status.error().message, StartsWith("/steps/0: has none of 'do', 'compute', 'ask'"));
}

// valijson matches "pattern" with std::regex, which recursed once per
// character and overflowed the stack on a 100,000-character step id.
TEST(PlanSchema, RegressionHugeIdIsRejectedWithoutCrashing) {
  Json plan = {{"steps", {{{"id", std::string(100000, 'a')}, {"do", "x.y"}}}}};
  auto status = check_plan_schema(plan);
  ASSERT_FALSE(status.has_value());
  EXPECT_THAT(status.error().message, StartsWith("/steps/0/id: longer than 128 characters"));
  auto parsed = plan_from_json(plan);
  ASSERT_FALSE(parsed.has_value());
  EXPECT_THAT(parsed.error().message, StartsWith("/steps/0/id: 'aaaa"));
  EXPECT_THAT(parsed.error().message, HasSubstr("(100000 characters) is not a valid step id"));
  EXPECT_LT(parsed.error().message.size(), 300u);

  Json slots = {{"steps", Json::array()}, {"slots", {{std::string(50000, 'b'), 1}}}};
  EXPECT_FALSE(check_plan_schema(slots).has_value());
  EXPECT_FALSE(plan_from_json(slots).has_value());
}

TEST(PlanJson, SlotNamesInSlotsAreChecked) {
  Error error = plan_error(R"({"steps": [], "slots": {"bad name": 1}})");
  EXPECT_THAT(error.message, StartsWith("/slots/bad name: 'bad name' is not a valid slot name"));
}

TEST(PlanSchema, PublishedFileEqualsSchema) {
  std::ifstream file(std::string(ERGON_SOURCE_DIR) + "/docs/plan.schema.json");
  ASSERT_TRUE(file.good()) << "docs/plan.schema.json is missing";
  std::stringstream text;
  text << file.rdbuf();
  Json published = Json::parse(text.str());
  EXPECT_EQ(published, plan_schema()) << "regenerate docs/plan.schema.json from plan_schema():\n"
                                      << plan_schema().dump(2);
}

// ---------------------------------------------------------------------------
// Shared step and slot parsers: pointers relative to the value.

Error step_error(const std::string& text) {
  auto step = step_from_json(Json::parse(text));
  EXPECT_FALSE(step.has_value()) << text;
  return step ? Error{} : step.error();
}

TEST(StepFromJson, MessagesAreRelativeToTheStep) {
  EXPECT_EQ(step_error(R"({"id": "a", "do": "x.y", "neds": []})").message,
            "/neds: unknown field; did you mean 'needs'?");
  EXPECT_THAT(step_error(R"({"id": "a", "do": "x.y", "bogus_field_name": 1})").message,
              StartsWith("/bogus_field_name: unknown field — a step takes id, do, compute"));
  EXPECT_THAT(step_error(R"({"do": "x.y"})").message, StartsWith(": step has no 'id'"));
  EXPECT_THAT(step_error(R"("a")").message, StartsWith(": expected a step"));
}

TEST(StepFromJson, ActionNameAndArguments) {
  EXPECT_THAT(step_error(R"({"id": "a", "do": "stop"})").message,
              StartsWith("/do: 'stop' is not an action name — use <connector>.<action>"));
  EXPECT_THAT(step_error(R"({"id": "a", "do": "x.y", "with": "id=1"})").message,
              StartsWith("/with: expected an object of arguments"));
  EXPECT_THAT(step_error(R"({"id": "a", "compute": "return 1", "with": {}})").message,
              StartsWith("/with: only an action step"));
  EXPECT_THAT(step_error(R"({"id": "a", "do": "x.y", "slot": "s"})").message,
              StartsWith("/slot: only an 'ask' step"));
  EXPECT_THAT(step_error(R"({"id": "a", "do": "x.y", "needs": "b"})").message,
              StartsWith("/needs: expected a list of step ids"));
  EXPECT_THAT(step_error(R"({"id": "a", "compute": ""})").message,
              StartsWith("/compute: is empty"));
}

TEST(StepFromJson, RetryRanges) {
  EXPECT_THAT(step_error(R"({"id": "a", "do": "x.y", "on_fail": "retry",
                             "retry": {"max_attempts": 0}})")
                  .message,
              StartsWith("/retry/max_attempts: 0 is out of range — use a value from 1 to 100"));
  EXPECT_THAT(step_error(R"({"id": "a", "do": "x.y", "retry": {"max_attempts": 2.5}})").message,
              StartsWith("/retry/max_attempts: expected a whole number"));
  EXPECT_THAT(step_error(R"({"id": "a", "do": "x.y", "retry": {"multiplier": 0.5}})").message,
              StartsWith("/retry/multiplier: 0.5 is out of range"));
  EXPECT_THAT(step_error(R"({"id": "a", "do": "x.y",
                             "retry": {"initial_backoff_ms": 900, "max_backoff_ms": 100}})")
                  .message,
              StartsWith("/retry/max_backoff_ms: 100 is below initial_backoff_ms (900)"));
  EXPECT_EQ(step_error(R"({"id": "a", "do": "x.y", "retry": {"attempts": 3}})").message,
            "/retry/attempts: unknown field; did you mean 'max_attempts'?");
}

TEST(StepFromJson, RetryAloneDoesNotTurnOnRetrying) {
  auto step =
      step_from_json(Json::parse(R"({"id": "a", "do": "x.y", "retry": {"max_attempts": 7}})"));
  ASSERT_TRUE(step.has_value()) << step.error().message;
  EXPECT_EQ(step->on_fail, OnFail::kAbort);
  EXPECT_EQ(step->retry.max_attempts, 7);
  EXPECT_EQ(step->retry.initial_backoff_ms, RetryPolicy{}.initial_backoff_ms);
}

TEST(SlotFromJson, ParsesAndNormalisesDefaults) {
  auto slot = slot_from_json("target_pct", Json::parse(R"({"type": "percent", "default": "10%",
                                                          "required": false})"));
  ASSERT_TRUE(slot.has_value()) << slot.error().message;
  EXPECT_EQ(slot->default_value, Json(10));
  EXPECT_FALSE(slot->required);
  auto date =
      slot_from_json("when", Json::parse(R"({"type": "date", "default": "March 4, 2027"})"));
  ASSERT_TRUE(date.has_value()) << date.error().message;
  EXPECT_EQ(date->default_value, Json("2027-03-04"));
  auto choice =
      slot_from_json("size", Json::parse(R"({"type": "enum", "choices": ["Small", "Large"],
                                                      "default": "large"})"));
  ASSERT_TRUE(choice.has_value()) << choice.error().message;
  EXPECT_EQ(choice->default_value, Json("Large"));
  Json json = to_json(*slot);
  EXPECT_EQ(json["name"], "target_pct");
  EXPECT_EQ(json["type"], "percent");
}

TEST(SlotFromJson, Errors) {
  auto error = [](const std::string& name, const std::string& text) {
    auto slot = slot_from_json(name, Json::parse(text));
    EXPECT_FALSE(slot.has_value()) << text;
    return slot ? std::string() : slot.error().message;
  };
  EXPECT_EQ(error("x", R"({"type": "percnt"})"),
            "/type: unknown slot type 'percnt'; did you mean 'percent'? — use string, number, "
            "percent, money, date, enum, code or email");
  EXPECT_THAT(error("x", R"({"type": "enum"})"), StartsWith(": enum slot 'x' has no choices"));
  EXPECT_THAT(error("x", R"({"type": "string", "choices": ["a"]})"),
              StartsWith("/choices: only an enum slot has choices"));
  EXPECT_THAT(error("x", R"({"type": "enum", "choices": ["a", "A"]})"),
              StartsWith("/choices/1: 'A' is listed twice"));
  EXPECT_THAT(error("x", R"({"type": "percent", "default": "lots"})"),
              StartsWith("/default: expected a percentage like 15%"));
  EXPECT_THAT(error("x", R"({"type": "date", "default": "2027-02-30"})"),
              StartsWith("/default: '2027-02-30' is not a valid date — February 2027 has 28 days"));
  EXPECT_THAT(error("x", R"({"type": "enum", "choices": ["a", "b"], "default": "c"})"),
              StartsWith("/default: expected one of a, b"));
  EXPECT_THAT(error("x", R"({"required": "yes"})"),
              StartsWith("/required: expected true or false"));
  EXPECT_THAT(error("bad name", R"({})"), StartsWith(": 'bad name' is not a valid slot name"));
  EXPECT_THAT(error("x", R"({"name": "y"})"), StartsWith("/name: 'y' does not match"));
  EXPECT_EQ(error("x", R"({"questoin": "?"})"),
            "/questoin: unknown field; did you mean 'question'?");
}

// ---------------------------------------------------------------------------
// validate_plan and topological_order.

Step action(const std::string& id, const std::string& name, std::vector<std::string> needs = {}) {
  Step step;
  step.id = id;
  step.kind = StepKind::kAction;
  step.action = name;
  step.needs = std::move(needs);
  return step;
}

Plan plan_of(std::vector<Step> steps) {
  Plan plan;
  plan.steps = std::move(steps);
  return plan;
}

const std::vector<std::string> kActions = {"cloud.get_bill", "cloud.stop_instance",
                                           "cloud.start_instance", "cloud.list_instances"};

TEST(ValidatePlan, AcceptsAValidPlan) {
  Plan plan =
      plan_of({action("bill", "cloud.get_bill"), action("stop", "cloud.stop_instance", {"bill"})});
  EXPECT_TRUE(validate_plan(plan, kActions).has_value());
  EXPECT_TRUE(validate_plan(plan).has_value());
}

TEST(ValidatePlan, DuplicateIds) {
  Plan plan = plan_of({action("a", "cloud.get_bill"), action("a", "cloud.get_bill")});
  auto status = validate_plan(plan);
  ASSERT_FALSE(status.has_value());
  EXPECT_EQ(status.error().code, ErrorCode::kInvalidInput);
  EXPECT_THAT(status.error().message, StartsWith("step 'a': id is already used"));
}

TEST(ValidatePlan, UnknownNeedsWithSuggestionAndLocation) {
  Step stop = action("stop", "cloud.stop_instance", {"pickk"});
  stop.loc = {"skills/reduce.yaml", 14};
  Plan plan = plan_of({action("pick", "cloud.get_bill"), stop});
  auto status = validate_plan(plan);
  ASSERT_FALSE(status.has_value());
  EXPECT_EQ(status.error().message,
            "step 'stop' (skills/reduce.yaml:14): needs 'pickk', which is not a step of this "
            "plan; did you mean 'pick'? — list ids of steps in this plan");
}

TEST(ValidatePlan, UnknownActionWithSuggestion) {
  Plan plan = plan_of({action("stop", "cloud.stopp")});
  auto status = validate_plan(plan, kActions);
  ASSERT_FALSE(status.has_value());
  EXPECT_THAT(status.error().message,
              StartsWith("step 'stop': unknown action 'cloud.stopp'; did you mean "
                         "'cloud.stop_instance'?"));
  // Without a catalog any well-formed name passes.
  EXPECT_TRUE(validate_plan(plan).has_value());
  // Nothing close: no suggestion.
  plan = plan_of({action("x", "mail.send")});
  status = validate_plan(plan, kActions);
  ASSERT_FALSE(status.has_value());
  EXPECT_THAT(status.error().message, StartsWith("step 'x': unknown action 'mail.send' — "));
}

TEST(ValidatePlan, CyclesAreNamed) {
  Plan two = plan_of({action("a", "x.y", {"b"}), action("b", "x.y", {"a"})});
  auto status = validate_plan(two);
  ASSERT_FALSE(status.has_value());
  EXPECT_THAT(status.error().message, HasSubstr("cycle a -> b -> a"));

  Plan three = plan_of({action("a", "x.y", {"c"}), action("b", "x.y", {"a"}),
                        action("c", "x.y", {"b"}), action("d", "x.y")});
  status = validate_plan(three);
  ASSERT_FALSE(status.has_value());
  EXPECT_EQ(status.error().message,
            "step 'a': needs form a cycle a -> b -> c -> a — remove one of these needs");

  Plan self = plan_of({action("a", "x.y", {"a"})});
  status = validate_plan(self);
  ASSERT_FALSE(status.has_value());
  EXPECT_THAT(status.error().message, HasSubstr("cycle a -> a"));
}

TEST(ValidatePlan, SlotsAndQuestions) {
  Plan plan = plan_of({action("a", "x.y")});
  SlotSpec pct;
  pct.name = "target_pct";
  pct.type = SlotType::kPercent;
  plan.slot_specs = {pct};

  auto status = validate_plan(plan);
  ASSERT_FALSE(status.has_value());
  EXPECT_THAT(status.error().message,
              StartsWith("required slot 'target_pct' has no value and no question"));

  plan.questions = {{"target_pct", "By how much?"}};
  EXPECT_TRUE(validate_plan(plan).has_value());

  plan.questions = {{"target", "By how much?"}};
  status = validate_plan(plan);
  ASSERT_FALSE(status.has_value());
  EXPECT_THAT(status.error().message,
              StartsWith("question for slot 'target', which the plan does not declare; did you "
                         "mean 'target_pct'?"));

  plan.questions.clear();
  plan.slots = {{"target_pct", 15}};
  EXPECT_TRUE(validate_plan(plan).has_value());

  plan.slot_specs.push_back(pct);
  status = validate_plan(plan);
  ASSERT_FALSE(status.has_value());
  EXPECT_THAT(status.error().message, StartsWith("slot 'target_pct' is declared twice"));
}

TEST(ValidatePlan, LongChainsDoNotExhaustTheStack) {
  std::vector<Step> steps = {action("s0", "x.y")};
  for (int i = 1; i < 50000; ++i) {
    steps.push_back(action("s" + std::to_string(i), "x.y", {"s" + std::to_string(i - 1)}));
  }
  Plan chain = plan_of(std::move(steps));
  EXPECT_TRUE(validate_plan(chain).has_value());
  auto order = topological_order(chain);
  ASSERT_EQ(order.size(), 50000u);
  EXPECT_EQ(order.back(), "s49999");
  chain.steps[0].needs = {"s49999"};
  auto status = validate_plan(chain);
  ASSERT_FALSE(status.has_value());
  EXPECT_EQ(status.error().message,
            "step 's0': needs form a cycle s0 -> s1 -> s2 -> s3 -> s4 -> s5 -> ... (50000 steps) "
            "-> s49998 -> s49999 -> s0 — remove one of these needs");
}

TEST(TopologicalOrder, StableByDeclarationOrder) {
  Plan plan = plan_of({action("c", "x.y", {"a"}), action("a", "x.y"), action("b", "x.y"),
                       action("d", "x.y", {"c", "b"})});
  ASSERT_TRUE(validate_plan(plan).has_value());
  EXPECT_EQ(topological_order(plan), (std::vector<std::string>{"a", "c", "b", "d"}));

  Plan independent = plan_of({action("z", "x.y"), action("y", "x.y"), action("x", "x.y")});
  EXPECT_EQ(topological_order(independent), (std::vector<std::string>{"z", "y", "x"}));

  Plan diamond =
      plan_of({action("top", "x.y"), action("left", "x.y", {"top"}),
               action("right", "x.y", {"top"}), action("bottom", "x.y", {"right", "left"})});
  EXPECT_EQ(topological_order(diamond),
            (std::vector<std::string>{"top", "left", "right", "bottom"}));
}

TEST(ClosestSpelling, TyposAndTruncations) {
  EXPECT_EQ(closest_spelling("neds", {"id", "needs", "when"}), "needs");
  EXPECT_EQ(closest_spelling("retyr", {"abort", "retry", "skip", "ask"}), "retry");
  EXPECT_EQ(closest_spelling("cloud.stopp", kActions), "cloud.stop_instance");
  EXPECT_EQ(closest_spelling("zzz", {"needs", "when"}), "");
}

// ---------------------------------------------------------------------------
// Agent steps and the planner field.

Json agent_plan_json() {
  return Json::parse(R"({
    "goal": "book an MRI for Dana Reyes",
    "skill": "",
    "planner": "model",
    "slot_specs": [],
    "slots": {},
    "steps": [
      {"id": "lookup", "do": "cloud.get_bill"},
      {"id": "book", "needs": ["lookup"],
       "agent": {"goal": "book the earliest MRI slot for ${slots.patient}", "connector": "portal",
                 "allow": ["portal.click", "portal.fill"], "max_steps": 20},
       "on_fail": "ask"}
    ],
    "questions": []
  })");
}

TEST(AgentStep, ParsesAndRoundTrips) {
  auto plan = plan_from_json(agent_plan_json());
  ASSERT_TRUE(plan.has_value()) << plan.error().message;
  EXPECT_EQ(plan->planner, "model");
  const Step* book = plan->step("book");
  ASSERT_NE(book, nullptr);
  EXPECT_EQ(book->kind, StepKind::kAgent);
  EXPECT_EQ(book->agent.goal, "book the earliest MRI slot for ${slots.patient}");
  EXPECT_EQ(book->agent.connector, "portal");
  EXPECT_EQ(book->agent.allow, (std::vector<std::string>{"portal.click", "portal.fill"}));
  EXPECT_EQ(book->agent.max_steps, 20);
  EXPECT_STREQ(to_string(StepKind::kAgent), "agent");
  EXPECT_EQ(to_json(*plan), agent_plan_json());

  // Only goal and connector are required; the defaults are not written back.
  auto step = step_from_json(
      Json::parse(R"({"id": "a", "agent": {"goal": "log in", "connector": "portal"}})"));
  ASSERT_TRUE(step.has_value()) << step.error().message;
  EXPECT_TRUE(step->agent.allow.empty());
  EXPECT_EQ(step->agent.max_steps, 0);
  EXPECT_EQ(to_json(*step),
            Json::parse(R"({"id": "a", "agent": {"goal": "log in", "connector": "portal"}})"));
  EXPECT_TRUE(check_plan_schema(Json{{"steps", {to_json(*step)}}}).has_value());
}

TEST(AgentStep, PlannerIsOptionalAndOmittedWhenUnknown) {
  auto plan = plan_from_json(Json::parse(R"({"steps": [{"id": "a", "do": "x.y"}]})"));
  ASSERT_TRUE(plan.has_value()) << plan.error().message;
  EXPECT_EQ(plan->planner, "");
  EXPECT_FALSE(to_json(*plan).contains("planner"));
  EXPECT_THAT(plan_error(R"({"steps": [], "planner": 3})").message, StartsWith("/planner: "));
  EXPECT_EQ(plan_error(R"({"steps": [], "planer": "model"})").message,
            "/planer: unknown field; did you mean 'planner'?");
}

TEST(AgentStep, ErrorsNamePointers) {
  EXPECT_EQ(step_error(R"({"id": "a", "agent": {"goal": "g", "connector": "portal",
                                                 "alow": ["portal.click"]}})")
                .message,
            "/agent/alow: unknown field; did you mean 'allow'?");
  EXPECT_EQ(step_error(R"({"id": "a", "agent": {"goal": "g", "connector": "portal",
                                                 "max_step": 3}})")
                .message,
            "/agent/max_step: unknown field; did you mean 'max_steps'?");
  EXPECT_THAT(step_error(R"({"id": "a", "agent": "book it"})").message,
              StartsWith("/agent: expected an object"));
  EXPECT_THAT(step_error(R"({"id": "a", "agent": {"connector": "portal"}})").message,
              StartsWith("/agent: agent has no 'goal'"));
  EXPECT_THAT(step_error(R"({"id": "a", "agent": {"goal": "", "connector": "portal"}})").message,
              StartsWith("/agent/goal: is empty"));
  EXPECT_THAT(step_error(R"({"id": "a", "agent": {"goal": "g"}})").message,
              StartsWith("/agent: agent has no 'connector'"));
  EXPECT_THAT(
      step_error(R"({"id": "a", "agent": {"goal": "g", "connector": "my portal"}})").message,
      StartsWith("/agent/connector: 'my portal' is not a connector name"));
  EXPECT_THAT(step_error(R"({"id": "a", "agent": {"goal": "g", "connector": "portal",
                                                   "allow": "portal.click"}})")
                  .message,
              StartsWith("/agent/allow: expected a list of actions"));
  EXPECT_THAT(step_error(R"({"id": "a", "agent": {"goal": "g", "connector": "portal",
                                                   "allow": ["portal.click", "click"]}})")
                  .message,
              StartsWith("/agent/allow/1: 'click' is not an action name"));
  EXPECT_THAT(step_error(R"({"id": "a", "agent": {"goal": "g", "connector": "portal",
                                                   "max_steps": -1}})")
                  .message,
              StartsWith("/agent/max_steps: -1 is out of range"));
  EXPECT_THAT(step_error(R"({"id": "a", "agent": {"goal": "g", "connector": "portal",
                                                   "max_steps": 2.5}})")
                  .message,
              StartsWith("/agent/max_steps: expected a whole number"));
  EXPECT_THAT(step_error(R"({"id": "a", "do": "x.y",
                             "agent": {"goal": "g", "connector": "portal"}})")
                  .message,
              StartsWith("/agent: step 'a' has both 'do' and 'agent'"));
  EXPECT_THAT(step_error(R"({"id": "a", "agent": {"goal": "g", "connector": "portal"},
                             "with": {}})")
                  .message,
              StartsWith("/with: only an action step"));
  EXPECT_THAT(step_error(R"({"id": "a"})").message,
              HasSubstr("has none of 'do', 'compute', 'ask', 'agent'"));

  // Through a whole plan the pointer is absolute.
  Error error = plan_error(R"({"steps": [{"id": "a", "do": "x.y"},
      {"id": "b", "agent": {"goal": "g", "connector": "portal", "alow": []}}]})");
  EXPECT_EQ(error.message, "/steps/1/agent/alow: unknown field; did you mean 'allow'?");
}

TEST(AgentStep, SchemaNamesPointer) {
  EXPECT_TRUE(check_plan_schema(agent_plan_json()).has_value());
  auto check = [](const std::string& agent) {
    auto status =
        check_plan_schema(Json::parse(R"({"steps": [{"id": "a", "agent": )" + agent + "}]}"));
    EXPECT_FALSE(status.has_value()) << agent;
    return status ? std::string() : status.error().message;
  };
  EXPECT_THAT(check(R"({"goal": "g", "connector": "portal", "extra": 1})"),
              StartsWith("/steps/0/agent/extra: unknown field"));
  EXPECT_THAT(check(R"({"goal": "g"})"), StartsWith("/steps/0/agent: missing required field "
                                                    "'connector'"));
  EXPECT_THAT(check(R"({"goal": "g", "connector": "portal", "allow": ["click"]})"),
              StartsWith("/steps/0/agent/allow/0: "));
  EXPECT_THAT(check(R"({"goal": "g", "connector": "portal", "max_steps": -2})"),
              StartsWith("/steps/0/agent/max_steps: "));
  EXPECT_THAT(check(R"({"goal": "g", "connector": ")" + std::string(20000, 'p') + R"("})"),
              StartsWith("/steps/0/agent/connector: longer than 128 characters"));
  auto both = check_plan_schema(Json::parse(
      R"({"steps": [{"id": "a", "ask": "?", "agent": {"goal": "g", "connector": "p"}}]})"));
  ASSERT_FALSE(both.has_value());
  EXPECT_THAT(both.error().message,
              StartsWith("/steps/0: has more than one of 'do', 'compute', 'ask', 'agent'"));
}

Step agent_step(const std::string& id, const std::string& connector,
                std::vector<std::string> allow = {}) {
  Step step;
  step.id = id;
  step.kind = StepKind::kAgent;
  step.agent.goal = "stop the idle instances";
  step.agent.connector = connector;
  step.agent.allow = std::move(allow);
  return step;
}

TEST(ValidatePlan, AgentSteps) {
  Plan plan = plan_of({agent_step("a", "cloud", {"cloud.get_bill", "cloud.list_instances"})});
  EXPECT_TRUE(validate_plan(plan, kActions).has_value());
  EXPECT_TRUE(validate_plan(plan).has_value());

  // `allow` names only the step's own connector's actions, catalog or not.
  plan = plan_of({agent_step("a", "cloud", {"mail.send"})});
  for (const auto& known : {kActions, std::vector<std::string>{}}) {
    auto status = validate_plan(plan, known);
    ASSERT_FALSE(status.has_value());
    EXPECT_THAT(status.error().message,
                StartsWith("step 'a': agent allows 'mail.send', which is not an action of its "
                           "connector 'cloud'"));
  }

  plan = plan_of({agent_step("a", "cloud", {"cloud.stopp"})});
  auto status = validate_plan(plan, kActions);
  ASSERT_FALSE(status.has_value());
  EXPECT_THAT(status.error().message,
              StartsWith("step 'a': agent allows unknown action 'cloud.stopp'; did you mean "
                         "'cloud.stop_instance'?"));
  EXPECT_TRUE(validate_plan(plan).has_value());

  Step typo = agent_step("a", "clod");
  typo.loc = {"skills/idle.yaml", 7};
  status = validate_plan(plan_of({typo}), kActions);
  ASSERT_FALSE(status.has_value());
  EXPECT_EQ(status.error().message,
            "step 'a' (skills/idle.yaml:7): agent connector 'clod' has no actions; did you mean "
            "'cloud'? — name a connector declared under connectors (cloud)");

  Step empty = agent_step("a", "cloud");
  empty.agent.goal = "";
  status = validate_plan(plan_of({empty}));
  ASSERT_FALSE(status.has_value());
  EXPECT_THAT(status.error().message, StartsWith("step 'a': agent has no goal"));

  Step negative = agent_step("a", "cloud");
  negative.agent.max_steps = -1;
  status = validate_plan(plan_of({negative}));
  ASSERT_FALSE(status.has_value());
  EXPECT_THAT(status.error().message, StartsWith("step 'a': agent max_steps -1 is out of range"));
}

}  // namespace
}  // namespace ergon
