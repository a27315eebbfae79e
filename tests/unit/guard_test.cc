#include "ergon/guard.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace ergon {
namespace {

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

ActionSpec stop_spec(Effect effect = Effect::kIrreversible) {
  ActionSpec spec;
  spec.name = "cloud.stop_instance";
  spec.effect = effect;
  spec.params_schema = Json::parse(R"({
    "type": "object",
    "required": ["id", "env"],
    "properties": {
      "id": {"type": "string"},
      "env": {"type": "string", "enum": ["dev", "prod"]},
      "tags": {"type": "array", "items": {"type": "string"}}
    }
  })");
  return spec;
}

ActionCall stop_call(Json args = {{"id", "i-1"}, {"env", "dev"}}) {
  return ActionCall{"cloud.stop_instance", std::move(args), ""};
}

// A context for one call with its spec, usage and sandbox wired up.
struct Fixture {
  explicit Fixture(Effect effect = Effect::kIrreversible) : spec(stop_spec(effect)) {
    context.session = "s1";
    context.spec = &spec;
    context.usage = &usage;
    context.sandbox = &sandbox;
    step.id = "stop";
    context.step = &step;
  }
  ActionSpec spec;
  Step step;
  PolicyUsage usage;
  Sandbox sandbox;
  GuardContext context;
};

// ----------------------------------------------------------------- schema

TEST(SchemaGuard, ValidArgumentsPass) {
  Fixture f;
  auto guard = make_schema_guard();
  EXPECT_EQ(guard->name(), "schema");
  Decision decision = guard->check(stop_call(), f.context);
  EXPECT_EQ(decision.verdict, Verdict::kAllow) << decision.reason;
  EXPECT_EQ(decision.guard, "schema");
  EXPECT_FALSE(decision.reason.empty());
}

TEST(SchemaGuard, MissingPropertyIsNamedByPath) {
  Fixture f;
  auto guard = make_schema_guard();
  Decision decision = guard->check(stop_call({{"env", "dev"}}), f.context);
  EXPECT_EQ(decision.verdict, Verdict::kDeny);
  EXPECT_TRUE(contains(decision.reason, "args/id: missing required property")) << decision.reason;
  EXPECT_TRUE(contains(decision.reason, "cloud.stop_instance")) << decision.reason;
}

TEST(SchemaGuard, EveryFailingPathIsListed) {
  Fixture f;
  auto guard = make_schema_guard();
  Decision decision =
      guard->check(stop_call({{"id", 42}, {"env", "qa"}, {"tags", {"ok", 7}}}), f.context);
  EXPECT_EQ(decision.verdict, Verdict::kDeny);
  EXPECT_TRUE(contains(decision.reason, "args/id:")) << decision.reason;
  EXPECT_TRUE(contains(decision.reason, "args/env:")) << decision.reason;
  EXPECT_TRUE(contains(decision.reason, "args/tags/1:")) << decision.reason;
  // The wrappers valijson adds for enclosing values are not repeated.
  EXPECT_FALSE(contains(decision.reason, "associated with property")) << decision.reason;
}

TEST(SchemaGuard, CachedSchemaStillValidatesEachCall) {
  Fixture f;
  auto guard = make_schema_guard();
  EXPECT_EQ(guard->check(stop_call(), f.context).verdict, Verdict::kAllow);
  EXPECT_EQ(guard->check(stop_call({{"id", "i-1"}}), f.context).verdict, Verdict::kDeny);
  EXPECT_EQ(guard->check(stop_call(), f.context).verdict, Verdict::kAllow);
  // A changed schema for the same action is compiled anew, not served from the cache.
  f.spec.params_schema = {{"type", "object"}, {"required", {"zone"}}};
  Decision changed = guard->check(stop_call(), f.context);
  EXPECT_EQ(changed.verdict, Verdict::kDeny);
  EXPECT_TRUE(contains(changed.reason, "args/zone")) << changed.reason;
}

TEST(SchemaGuard, InvalidSchemaDeniesWithAClearReason) {
  Fixture f;
  f.spec.params_schema = {{"type", 7}};
  auto guard = make_schema_guard();
  Decision decision = guard->check(stop_call(), f.context);
  EXPECT_EQ(decision.verdict, Verdict::kDeny);
  EXPECT_TRUE(contains(decision.reason, "schema of cloud.stop_instance is invalid"))
      << decision.reason;
}

TEST(SchemaGuard, MissingSpecDenies) {
  Fixture f;
  f.context.spec = nullptr;
  EXPECT_EQ(make_schema_guard()->check(stop_call(), f.context).verdict, Verdict::kDeny);
}

// ----------------------------------------------------------------- policy

TEST(PolicyGuard, RecordsTheVerdictAndDeniesWhenPolicyDoes) {
  PolicyRule rule;
  rule.actions = "cloud.*";
  rule.loc = {"policy.yaml", 2};
  rule.require_approval = true;
  PolicyRule no_prod;
  no_prod.kind = PolicyRule::Kind::kForbid;
  no_prod.actions = "cloud.stop_instance";
  no_prod.when = "args.env == 'prod' and principal.id == 'local'";
  no_prod.loc = {"policy.yaml", 3};
  Policy policy({rule, no_prod});
  auto guard = make_policy_guard(policy);
  EXPECT_EQ(guard->name(), "policy");

  Fixture f;
  Decision allowed = guard->check(stop_call(), f.context);
  EXPECT_EQ(allowed.verdict, Verdict::kAllow) << allowed.reason;
  EXPECT_TRUE(f.context.policy.allowed);
  EXPECT_TRUE(f.context.policy.require_approval);

  Decision denied = guard->check(stop_call({{"id", "i-1"}, {"env", "prod"}}), f.context);
  EXPECT_EQ(denied.verdict, Verdict::kDeny);
  EXPECT_TRUE(contains(denied.reason, "policy.yaml:3")) << denied.reason;
  EXPECT_FALSE(f.context.policy.allowed);
}

TEST(PolicyGuard, DefaultDeny) {
  Policy policy;
  Fixture f;
  Decision decision = make_policy_guard(policy)->check(stop_call(), f.context);
  EXPECT_EQ(decision.verdict, Verdict::kDeny);
  EXPECT_TRUE(contains(decision.reason, "default deny")) << decision.reason;
}

TEST(PolicyGuard, MissingSandboxDenies) {
  PolicyRule rule;
  rule.actions = "*";
  Policy policy({rule});
  Fixture f;
  f.context.sandbox = nullptr;
  EXPECT_EQ(make_policy_guard(policy)->check(stop_call(), f.context).verdict, Verdict::kDeny);
}

// ----------------------------------------------------------------- intent

TEST(IntentGuard, MatchingCallIsInThePlan) {
  Fixture f;
  f.context.expected = {{"action", "cloud.stop_instance"},
                        {"args", {{"id", "i-1"}, {"env", "dev"}}}};
  auto guard = make_intent_guard();
  EXPECT_EQ(guard->name(), "intent");
  Decision decision = guard->check(stop_call(), f.context);
  EXPECT_EQ(decision.verdict, Verdict::kAllow) << decision.reason;
  EXPECT_EQ(decision.reason, "in the approved plan: step stop");
}

TEST(IntentGuard, OtherActionIsNotInThePlan) {
  Fixture f;
  f.context.expected = {{"action", "cloud.get_bill"}, {"args", Json::object()}};
  Decision decision = make_intent_guard()->check(stop_call(), f.context);
  EXPECT_EQ(decision.verdict, Verdict::kDeny);
  EXPECT_TRUE(contains(decision.reason, "cloud.stop_instance is not in the approved plan"))
      << decision.reason;
}

TEST(IntentGuard, DifferentArgumentsAreNamedByPath) {
  Fixture f;
  f.context.expected = {{"action", "cloud.stop_instance"},
                        {"args", {{"id", "i-1"}, {"env", "dev"}}}};
  Decision decision =
      make_intent_guard()->check(stop_call({{"id", "i-666"}, {"env", "dev"}}), f.context);
  EXPECT_EQ(decision.verdict, Verdict::kDeny);
  EXPECT_TRUE(contains(decision.reason, "differ from what the plan derives: /args/id"))
      << decision.reason;
  EXPECT_FALSE(contains(decision.reason, "/args/env")) << decision.reason;

  Decision added = make_intent_guard()->check(
      stop_call({{"id", "i-1"}, {"env", "dev"}, {"force", true}}), f.context);
  EXPECT_EQ(added.verdict, Verdict::kDeny);
  EXPECT_TRUE(contains(added.reason, "/args/force")) << added.reason;
}

TEST(IntentGuard, NullExpectationIsNotPartOfThePlan) {
  Fixture f;
  Decision decision = make_intent_guard()->check(stop_call(), f.context);
  EXPECT_EQ(decision.verdict, Verdict::kDeny);
  EXPECT_TRUE(contains(decision.reason, "not part of the approved plan")) << decision.reason;
}

// A call a model proposed in an agent step: reads and the step's allowed
// actions pass; anything else, and anything irreversible, needs a person.
TEST(IntentGuard, AModelsProposalWithinTheAgentStepsApprovalPasses) {
  for (Effect effect : {Effect::kRead, Effect::kWrite}) {
    Fixture f(effect);
    AgentTask task{"stop idle dev machines", "cloud", {"cloud.stop_instance"}, 0};
    f.context.agent = &task;
    Decision decision = make_intent_guard()->check(stop_call(), f.context);
    EXPECT_EQ(decision.verdict, Verdict::kAllow) << decision.reason;
    EXPECT_FALSE(decision.needs_person);
  }
}

TEST(IntentGuard, AModelsUnplannedOrIrreversibleProposalNeedsAPerson) {
  {
    Fixture f(Effect::kWrite);
    AgentTask task{"look around", "cloud", {"cloud.get_bill"}, 0};
    f.context.agent = &task;
    Decision decision = make_intent_guard()->check(stop_call(), f.context);
    EXPECT_EQ(decision.verdict, Verdict::kAsk);
    EXPECT_TRUE(decision.needs_person);
    EXPECT_TRUE(contains(decision.reason, "does not allow it to use")) << decision.reason;
  }
  {
    Fixture f(Effect::kIrreversible);
    AgentTask task{"stop idle dev machines", "cloud", {"cloud.stop_instance"}, 0};
    f.context.agent = &task;
    f.context.dry_run = [] { return Result<Json>(Json{{"would_stop", "i-1"}}); };
    Decision decision = make_intent_guard()->check(stop_call(), f.context);
    EXPECT_EQ(decision.verdict, Verdict::kAsk);
    EXPECT_TRUE(decision.needs_person);
    EXPECT_TRUE(contains(decision.reason, "irreversible")) << decision.reason;
    EXPECT_EQ(decision.preview, (Json{{"would_stop", "i-1"}}));
  }
}

// ----------------------------------------------------------------- approval

TEST(ApprovalGuard, IrreversibleAsksWithPreviewFromDryRun) {
  Fixture f(Effect::kIrreversible);
  f.context.policy.allowed = true;
  int dry_runs = 0;
  f.context.dry_run = [&]() -> Result<Json> {
    ++dry_runs;
    return Json{{"would_stop", "i-1"}};
  };
  auto guard = make_approval_guard();
  EXPECT_EQ(guard->name(), "approval");
  Decision decision = guard->check(stop_call(), f.context);
  EXPECT_EQ(decision.verdict, Verdict::kAsk);
  EXPECT_EQ(decision.reason, "irreversible action needs a person's approval");
  EXPECT_EQ(dry_runs, 1);
  EXPECT_EQ(decision.preview, (Json{{"would_stop", "i-1"}}));
  EXPECT_EQ(f.context.preview, decision.preview);
}

TEST(ApprovalGuard, FailingDryRunStillAsksWithTheError) {
  Fixture f(Effect::kIrreversible);
  f.context.policy.allowed = true;
  f.context.dry_run = []() -> Result<Json> {
    return fail(ErrorCode::kUnavailable, "dry run: 503 from cloud");
  };
  Decision decision = make_approval_guard()->check(stop_call(), f.context);
  EXPECT_EQ(decision.verdict, Verdict::kAsk);
  EXPECT_EQ(decision.preview, (Json{{"error", "dry run: 503 from cloud"}}));
}

TEST(ApprovalGuard, IrreversibleWithoutDryRunAsksWithNullPreview) {
  Fixture f(Effect::kIrreversible);
  f.context.policy.allowed = true;
  Decision decision = make_approval_guard()->check(stop_call(), f.context);
  EXPECT_EQ(decision.verdict, Verdict::kAsk);
  EXPECT_TRUE(decision.preview.is_null());
}

TEST(ApprovalGuard, AutoApprovedIrreversibleIsAllowedWithoutDryRun) {
  Fixture f(Effect::kIrreversible);
  f.context.policy.allowed = true;
  f.context.policy.auto_approve = true;
  bool dry_ran = false;
  f.context.dry_run = [&]() -> Result<Json> {
    dry_ran = true;
    return Json::object();
  };
  Decision decision = make_approval_guard()->check(stop_call(), f.context);
  EXPECT_EQ(decision.verdict, Verdict::kAllow);
  EXPECT_EQ(decision.reason, "auto-approved by policy within limits");
  EXPECT_FALSE(dry_ran);
}

TEST(ApprovalGuard, WriteAsksOnlyWhenPolicyRequiresApproval) {
  Fixture f(Effect::kWrite);
  f.context.policy.allowed = true;
  auto guard = make_approval_guard();
  EXPECT_EQ(guard->check(stop_call(), f.context).verdict, Verdict::kAllow);
  f.context.policy.require_approval = true;
  Decision decision = guard->check(stop_call(), f.context);
  EXPECT_EQ(decision.verdict, Verdict::kAsk);
  EXPECT_TRUE(contains(decision.reason, "approval")) << decision.reason;
}

// ----------------------------------------------------------------- chain

// A guard with a fixed verdict that counts how often it ran.
class FixedGuard final : public Guard {
 public:
  FixedGuard(std::string name, Verdict verdict, int* runs)
      : name_(std::move(name)), verdict_(verdict), runs_(runs) {}
  const std::string& name() const override { return name_; }
  Decision check(const ActionCall&, GuardContext&) override {
    ++*runs_;
    return Decision{verdict_, name_, name_ + " says " + to_string(verdict_), nullptr};
  }

 private:
  std::string name_;
  Verdict verdict_;
  int* runs_;
};

TEST(GuardChain, StopsAtTheFirstDenyAndReturnsDecisionsInOrder) {
  int runs[4] = {0, 0, 0, 0};
  GuardChain chain;
  chain.add(std::make_unique<FixedGuard>("one", Verdict::kAllow, &runs[0]));
  chain.add(std::make_unique<FixedGuard>("two", Verdict::kAllow, &runs[1]));
  chain.add(std::make_unique<FixedGuard>("three", Verdict::kDeny, &runs[2]));
  chain.add(std::make_unique<FixedGuard>("four", Verdict::kAllow, &runs[3]));
  EXPECT_EQ(chain.names(), (std::vector<std::string>{"one", "two", "three", "four"}));

  Fixture f;
  std::vector<Decision> decisions = chain.check(stop_call(), f.context);
  ASSERT_EQ(decisions.size(), 3u);
  EXPECT_EQ(decisions[0].guard, "one");
  EXPECT_EQ(decisions[1].guard, "two");
  EXPECT_EQ(decisions[2].guard, "three");
  EXPECT_EQ(decisions[2].verdict, Verdict::kDeny);
  EXPECT_EQ(runs[3], 0);
}

TEST(GuardChain, StopsAtAsk) {
  int runs[2] = {0, 0};
  GuardChain chain;
  chain.add(std::make_unique<FixedGuard>("asks", Verdict::kAsk, &runs[0]));
  chain.add(std::make_unique<FixedGuard>("after", Verdict::kAllow, &runs[1]));
  Fixture f;
  std::vector<Decision> decisions = chain.check(stop_call(), f.context);
  ASSERT_EQ(decisions.size(), 1u);
  EXPECT_EQ(decisions[0].verdict, Verdict::kAsk);
  EXPECT_EQ(runs[1], 0);
}

TEST(GuardChain, EmptyChainDenies) {
  GuardChain chain;
  Fixture f;
  std::vector<Decision> decisions = chain.check(stop_call(), f.context);
  ASSERT_EQ(decisions.size(), 1u);
  EXPECT_EQ(decisions[0].verdict, Verdict::kDeny);
}

TEST(GuardChain, DefaultChainRunsAllFourGuards) {
  PolicyRule rule;
  rule.actions = "cloud.*";
  rule.loc = {"policy.yaml", 1};
  Policy policy({rule});
  auto chain = make_guard_chain({}, policy);
  ASSERT_TRUE(chain) << chain.error().message;
  EXPECT_EQ(chain->names(), (std::vector<std::string>{"schema", "policy", "intent", "approval"}));

  Fixture f(Effect::kIrreversible);
  f.context.expected = {{"action", "cloud.stop_instance"},
                        {"args", {{"id", "i-1"}, {"env", "dev"}}}};
  f.context.dry_run = []() -> Result<Json> { return Json{{"would_stop", "i-1"}}; };
  std::vector<Decision> decisions = chain->check(stop_call(), f.context);
  ASSERT_EQ(decisions.size(), 4u);
  EXPECT_EQ(decisions[0].verdict, Verdict::kAllow);
  EXPECT_EQ(decisions[1].verdict, Verdict::kAllow);
  EXPECT_EQ(decisions[2].verdict, Verdict::kAllow);
  EXPECT_EQ(decisions[3].verdict, Verdict::kAsk);
  EXPECT_EQ(decisions[3].guard, "approval");
  EXPECT_EQ(decisions[3].preview, (Json{{"would_stop", "i-1"}}));

  // A schema failure stops the chain before policy is consulted.
  GuardContext fresh = f.context;
  fresh.policy = PolicyVerdict{};
  std::vector<Decision> bad = chain->check(stop_call({{"env", "dev"}}), fresh);
  ASSERT_EQ(bad.size(), 1u);
  EXPECT_EQ(bad[0].guard, "schema");
  EXPECT_EQ(bad[0].verdict, Verdict::kDeny);
}

TEST(GuardChain, MakeGuardChainRejectsUnknownNames) {
  Policy policy;
  auto chain = make_guard_chain({"schema", "policy", "vibes", "approval"}, policy);
  ASSERT_FALSE(chain);
  EXPECT_EQ(chain.error().code, ErrorCode::kInvalidInput);
  EXPECT_TRUE(contains(chain.error().message, "vibes")) << chain.error().message;
  EXPECT_TRUE(contains(chain.error().message, "schema, policy, intent, approval"))
      << chain.error().message;
}

TEST(GuardChain, MakeGuardChainKeepsPolicyAndApproval) {
  Policy policy;
  for (std::vector<std::string> names : {std::vector<std::string>{"schema", "intent", "approval"},
                                         std::vector<std::string>{"schema", "policy", "intent"}}) {
    auto chain = make_guard_chain(names, policy);
    ASSERT_FALSE(chain);
    EXPECT_EQ(chain.error().code, ErrorCode::kInvalidInput);
    EXPECT_TRUE(contains(chain.error().message, "the policy and approval guards cannot be removed"))
        << chain.error().message;
  }
}

TEST(GuardChain, MakeGuardChainHonoursOrderAndRejectsApprovalBeforePolicy) {
  Policy policy;
  auto minimal = make_guard_chain({"policy", "approval"}, policy);
  ASSERT_TRUE(minimal) << minimal.error().message;
  EXPECT_EQ(minimal->names(), (std::vector<std::string>{"policy", "approval"}));

  EXPECT_FALSE(make_guard_chain({"approval", "policy"}, policy));
  EXPECT_FALSE(make_guard_chain({"policy", "policy", "approval"}, policy));
}

TEST(Verdict, Names) {
  EXPECT_STREQ(to_string(Verdict::kAllow), "allow");
  EXPECT_STREQ(to_string(Verdict::kDeny), "deny");
  EXPECT_STREQ(to_string(Verdict::kAsk), "ask");
}

}  // namespace
}  // namespace ergon
