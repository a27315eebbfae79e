#include "ergon/policy.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace ergon {
namespace {

PolicyRule permit(std::string actions, int line = 0) {
  PolicyRule rule;
  rule.kind = PolicyRule::Kind::kPermit;
  rule.actions = std::move(actions);
  if (line > 0) rule.loc = {"policy.yaml", line};
  return rule;
}

PolicyRule forbid(std::string actions, int line = 0, std::string reason = "") {
  PolicyRule rule = permit(std::move(actions), line);
  rule.kind = PolicyRule::Kind::kForbid;
  rule.reason = std::move(reason);
  return rule;
}

Json input_with(Json args) {
  return {{"args", std::move(args)},
          {"session", {{"id", "s1"}}},
          {"principal", {{"id", "local"}, {"roles", Json::array()}}},
          {"slots", Json::object()}};
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

class PolicyTest : public ::testing::Test {
 protected:
  PolicyVerdict evaluate(const Policy& policy, const std::string& action, Json args = {}) {
    return policy.evaluate(action, input_with(args.is_null() ? Json::object() : args), usage_,
                           sandbox_);
  }
  Sandbox sandbox_;
  PolicyUsage usage_;
};

TEST(GlobMatch, StarAndQuestionMark) {
  EXPECT_TRUE(glob_match("cloud.*", "cloud.stop_instance"));
  EXPECT_TRUE(glob_match("cloud.*", "cloud."));
  EXPECT_FALSE(glob_match("cloud.*", "broker.place_order"));
  EXPECT_TRUE(glob_match("*", "anything.at_all"));
  EXPECT_TRUE(glob_match("*.get_*", "cloud.get_bill"));
  EXPECT_FALSE(glob_match("*.get_*", "cloud.list_bills"));
  EXPECT_TRUE(glob_match("cloud.stop_instance", "cloud.stop_instance"));
  EXPECT_FALSE(glob_match("cloud.stop_instance", "cloud.stop_instances"));
  EXPECT_TRUE(glob_match("cloud.?et_bill", "cloud.get_bill"));
  EXPECT_FALSE(glob_match("cloud.?et_bill", "cloud.et_bill"));
  EXPECT_TRUE(glob_match("a*b*c", "aXbYbZc"));
  EXPECT_FALSE(glob_match("a*b*c", "aXbYbZ"));
  EXPECT_TRUE(glob_match("", ""));
  EXPECT_FALSE(glob_match("", "x"));
}

TEST(PolicyRuleId, LocationOrPosition) {
  Policy policy({permit("a.*", 3), permit("b.*")});
  EXPECT_EQ(policy.rules()[0].id(), "policy.yaml:3");
  EXPECT_EQ(policy.rules()[1].id(), "rule 2");
}

TEST_F(PolicyTest, DefaultDeny) {
  Policy empty;
  PolicyVerdict verdict = evaluate(empty, "cloud.get_bill");
  EXPECT_FALSE(verdict.allowed);
  EXPECT_EQ(verdict.reason, "no policy rule permits cloud.get_bill (default deny)");

  Policy other({permit("broker.*", 1)});
  EXPECT_FALSE(evaluate(other, "cloud.get_bill").allowed);
}

TEST_F(PolicyTest, PermitGlob) {
  Policy policy({permit("cloud.*", 2)});
  PolicyVerdict verdict = evaluate(policy, "cloud.get_bill");
  EXPECT_TRUE(verdict.allowed);
  EXPECT_TRUE(contains(verdict.reason, "policy.yaml:2")) << verdict.reason;
  EXPECT_FALSE(verdict.require_approval);
  EXPECT_FALSE(verdict.auto_approve);
  EXPECT_TRUE(verdict.charges.empty());
}

TEST_F(PolicyTest, ForbidOverridesPermitInAnyOrder) {
  Policy forbid_last({permit("cloud.*", 2),
                      forbid("cloud.stop_instance", 7, "production instances are never touched")});
  PolicyVerdict verdict = evaluate(forbid_last, "cloud.stop_instance");
  EXPECT_FALSE(verdict.allowed);
  EXPECT_EQ(verdict.reason, "forbidden by policy.yaml:7: production instances are never touched");
  EXPECT_TRUE(evaluate(forbid_last, "cloud.start_instance").allowed);

  Policy forbid_first({forbid("cloud.stop_*", 1), permit("cloud.*", 2)});
  EXPECT_EQ(evaluate(forbid_first, "cloud.stop_instance").reason, "forbidden by policy.yaml:1");
}

TEST_F(PolicyTest, WhenPredicateDecidesWhetherARuleApplies) {
  PolicyRule no_prod = forbid("cloud.stop_instance", 4, "production instances are never touched");
  no_prod.when = "args.env == 'prod'";
  Policy policy({permit("cloud.*", 1), no_prod});

  PolicyVerdict prod = evaluate(policy, "cloud.stop_instance", {{"id", "i-1"}, {"env", "prod"}});
  EXPECT_FALSE(prod.allowed);
  EXPECT_TRUE(contains(prod.reason, "policy.yaml:4")) << prod.reason;

  PolicyVerdict dev = evaluate(policy, "cloud.stop_instance", {{"id", "i-2"}, {"env", "dev"}});
  EXPECT_TRUE(dev.allowed) << dev.reason;
}

TEST_F(PolicyTest, WhenSeesSessionPrincipalAndSlots) {
  PolicyRule admins = permit("cloud.*", 1);
  admins.when = "principal.id == 'alice' and session.id == 's9' and slots.pct > 10";
  Policy policy({admins});
  Json input = {{"args", Json::object()},
                {"session", {{"id", "s9"}}},
                {"principal", {{"id", "alice"}, {"roles", {"ops"}}}},
                {"slots", {{"pct", 15}}}};
  EXPECT_TRUE(policy.evaluate("cloud.get_bill", input, usage_, sandbox_).allowed);
  input["slots"]["pct"] = 5;
  EXPECT_FALSE(policy.evaluate("cloud.get_bill", input, usage_, sandbox_).allowed);
}

TEST_F(PolicyTest, FalsePermitPredicateFallsBackToDefaultDeny) {
  PolicyRule small = permit("broker.place_order", 3);
  small.when = "args.qty < 10";
  Policy policy({small});
  EXPECT_TRUE(evaluate(policy, "broker.place_order", {{"qty", 5}}).allowed);
  PolicyVerdict big = evaluate(policy, "broker.place_order", {{"qty", 50}});
  EXPECT_FALSE(big.allowed);
  EXPECT_TRUE(contains(big.reason, "default deny")) << big.reason;
}

TEST_F(PolicyTest, ErroringPredicateDeniesNamingTheRule) {
  PolicyRule broken = permit("cloud.*", 5);
  broken.when = "args.instance.tags.env == 'prod'";  // args.instance is nil: indexing errors
  Policy policy({permit("cloud.*", 1), broken});
  PolicyVerdict verdict = evaluate(policy, "cloud.stop_instance", {{"id", "i-1"}});
  EXPECT_FALSE(verdict.allowed);
  EXPECT_TRUE(contains(verdict.reason, "policy.yaml:5")) << verdict.reason;
  EXPECT_TRUE(contains(verdict.reason, "fail closed")) << verdict.reason;
}

TEST_F(PolicyTest, ErroringPredicateOnUnmatchedActionIsIgnored) {
  PolicyRule broken = forbid("broker.*", 5);
  broken.when = "this is not lua";
  Policy policy({permit("cloud.*", 1), broken});
  EXPECT_TRUE(evaluate(policy, "cloud.get_bill").allowed);
}

TEST_F(PolicyTest, CallLimit) {
  PolicyRule limited = permit("cloud.purchase_reservation", 9);
  limited.max_calls = 2;
  Policy policy({limited});

  for (int call = 0; call < 2; ++call) {
    PolicyVerdict verdict = evaluate(policy, "cloud.purchase_reservation");
    ASSERT_TRUE(verdict.allowed) << "call " << call << ": " << verdict.reason;
    ASSERT_EQ(verdict.charges.size(), 1u);
    EXPECT_EQ(verdict.charges[0].rule, "policy.yaml:9");
    EXPECT_EQ(verdict.charges[0].amount, 0);
    apply(usage_, verdict.charges);
  }
  EXPECT_EQ(usage_.calls["policy.yaml:9"], 2);
  PolicyVerdict third = evaluate(policy, "cloud.purchase_reservation");
  EXPECT_FALSE(third.allowed);
  EXPECT_TRUE(contains(third.reason, "policy.yaml:9")) << third.reason;
  EXPECT_TRUE(contains(third.reason, "2 of 2")) << third.reason;
}

TEST_F(PolicyTest, BudgetLimitAccumulatesThroughApply) {
  PolicyRule orders = permit("broker.place_order", 12);
  orders.budget = BudgetLimit{"args.qty * args.limit_price", 10000};
  Policy policy({orders});
  Json order = {{"qty", 40}, {"limit_price", 100}};  // 4000 each

  PolicyVerdict first = evaluate(policy, "broker.place_order", order);
  ASSERT_TRUE(first.allowed) << first.reason;
  ASSERT_EQ(first.charges.size(), 1u);
  EXPECT_DOUBLE_EQ(first.charges[0].amount, 4000);
  apply(usage_, first.charges);

  PolicyVerdict second = evaluate(policy, "broker.place_order", order);
  ASSERT_TRUE(second.allowed) << second.reason;
  apply(usage_, second.charges);
  EXPECT_DOUBLE_EQ(usage_.spent["policy.yaml:12"], 8000);
  EXPECT_EQ(usage_.calls["policy.yaml:12"], 2);

  PolicyVerdict third = evaluate(policy, "broker.place_order", order);
  EXPECT_FALSE(third.allowed);
  EXPECT_TRUE(contains(third.reason, "policy.yaml:12")) << third.reason;
  EXPECT_TRUE(contains(third.reason, "4000")) << third.reason;
  EXPECT_TRUE(contains(third.reason, "8000")) << third.reason;
  EXPECT_TRUE(contains(third.reason, "10000")) << third.reason;

  // What still fits is allowed.
  EXPECT_TRUE(evaluate(policy, "broker.place_order", {{"qty", 20}, {"limit_price", 100}}).allowed);
}

TEST_F(PolicyTest, BudgetSumThatIsNotANumberDenies) {
  PolicyRule orders = permit("broker.place_order", 12);
  orders.budget = BudgetLimit{"args.symbol", 10000};
  Policy policy({orders});
  PolicyVerdict verdict = evaluate(policy, "broker.place_order", {{"symbol", "ACME"}});
  EXPECT_FALSE(verdict.allowed);
  EXPECT_TRUE(contains(verdict.reason, "not a number")) << verdict.reason;
}

TEST_F(PolicyTest, NegativeBudgetAmountDenies) {
  PolicyRule orders = permit("broker.place_order", 12);
  orders.budget = BudgetLimit{"args.qty * args.limit_price", 10000};
  Policy policy({orders});
  EXPECT_FALSE(evaluate(policy, "broker.place_order", {{"qty", -5}, {"limit_price", 100}}).allowed);
}

TEST_F(PolicyTest, RequireApprovalAndAutoApproveCombinations) {
  PolicyRule asks = permit("cloud.*", 1);
  asks.require_approval = true;
  PolicyRule autos = permit("cloud.delete_*", 2);
  autos.auto_approve = true;

  PolicyVerdict only_auto = evaluate(Policy({autos}), "cloud.delete_snapshot");
  EXPECT_TRUE(only_auto.allowed);
  EXPECT_TRUE(only_auto.auto_approve);
  EXPECT_FALSE(only_auto.require_approval);

  PolicyVerdict only_ask = evaluate(Policy({asks}), "cloud.delete_snapshot");
  EXPECT_TRUE(only_ask.require_approval);
  EXPECT_FALSE(only_ask.auto_approve);

  PolicyVerdict both = evaluate(Policy({asks, autos}), "cloud.delete_snapshot");
  EXPECT_TRUE(both.allowed);
  EXPECT_TRUE(both.require_approval);
  EXPECT_FALSE(both.auto_approve) << "a permit requiring approval must win over auto_approve";

  PolicyVerdict neither = evaluate(Policy({permit("cloud.*", 3)}), "cloud.delete_snapshot");
  EXPECT_FALSE(neither.require_approval);
  EXPECT_FALSE(neither.auto_approve);
}

TEST_F(PolicyTest, ExceededLimitOnAnyMatchingPermitDenies) {
  PolicyRule limited = permit("cloud.purchase_*", 4);
  limited.max_calls = 1;
  Policy policy({permit("cloud.*", 1), limited});
  usage_.calls["policy.yaml:4"] = 1;
  EXPECT_FALSE(evaluate(policy, "cloud.purchase_reservation").allowed);
  EXPECT_TRUE(evaluate(policy, "cloud.get_bill").allowed);
}

TEST(PolicyCharges, JsonRoundTrip) {
  std::vector<PolicyCharge> charges = {{"policy.yaml:9", 0}, {"rule 3", 1250.5}};
  Json json = to_json(charges);
  ASSERT_TRUE(json.is_array());
  std::vector<PolicyCharge> back = charges_from_json(json);
  ASSERT_EQ(back.size(), 2u);
  EXPECT_EQ(back[0].rule, "policy.yaml:9");
  EXPECT_EQ(back[0].amount, 0);
  EXPECT_EQ(back[1].rule, "rule 3");
  EXPECT_DOUBLE_EQ(back[1].amount, 1250.5);

  EXPECT_TRUE(charges_from_json(Json("nonsense")).empty());
  EXPECT_EQ(charges_from_json(Json::parse(R"([{"amount": 3}, {"rule": "r"}])")).size(), 1u);
}

TEST(PolicyCharges, ApplyCountsCallsAndSpend) {
  PolicyUsage usage;
  apply(usage, {{"a", 10}, {"b", 0}});
  apply(usage, {{"a", 5}});
  EXPECT_EQ(usage.calls["a"], 2);
  EXPECT_EQ(usage.calls["b"], 1);
  EXPECT_DOUBLE_EQ(usage.spent["a"], 15);
}

}  // namespace
}  // namespace ergon
