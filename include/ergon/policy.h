// Policy: zero-trust rules in the spirit of Cedar. Default deny; a matching
// `forbid` overrides any `permit`; a `when` predicate that fails to evaluate
// denies (fail closed). Permits may require approval, auto-approve an
// irreversible action, and set per-session limits (call counts, budgets).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "ergon/expression.h"
#include "ergon/json.h"
#include "ergon/plan.h"
#include "ergon/result.h"

namespace ergon {

struct BudgetLimit {
  std::string sum;  // Lua expression over args, e.g. "args.count * args.price"
  double max = 0;
};

struct PolicyRule {
  enum class Kind { kPermit, kForbid };
  Kind kind = Kind::kPermit;
  std::string actions;  // glob over fully qualified action names: "cloud.*"
  std::string when;     // Lua predicate; empty means always
  std::string reason;   // shown when this rule decides
  bool require_approval = false;
  bool auto_approve = false;
  std::optional<int> max_calls;  // per session
  std::optional<BudgetLimit> budget;
  SourceLoc loc;
  int index = 0;           // 1-based position in its Policy; set by Policy's constructor
  std::string id() const;  // "policy.yaml:12" when loc has a line, else "rule N"
};

// What a session has consumed of each rule's limits, keyed by rule id.
struct PolicyUsage {
  std::map<std::string, int> calls;
  std::map<std::string, double> spent;
};

// Consumption one allowed call adds to the usage, applied once the call runs.
struct PolicyCharge {
  std::string rule;
  double amount = 0;  // budget amount; the call count always grows by one
};
void apply(PolicyUsage& usage, const std::vector<PolicyCharge>& charges);
// An unqualified apply(usage, charges) also finds std::apply through ADL on
// std::vector, which would be the better match for a non-const or rvalue
// vector; these exact-match overloads keep ergon::apply chosen.
inline void apply(PolicyUsage& usage, std::vector<PolicyCharge>& charges) {
  apply(usage, std::as_const(charges));
}
inline void apply(PolicyUsage& usage, std::vector<PolicyCharge>&& charges) {
  apply(usage, std::as_const(charges));
}
Json to_json(const std::vector<PolicyCharge>& charges);
std::vector<PolicyCharge> charges_from_json(const Json& json);

struct PolicyVerdict {
  bool allowed = false;
  std::string reason;  // names the deciding rule (file:line) or "default deny"
  bool require_approval = false;
  bool auto_approve = false;  // only when no matching permit requires approval
  std::vector<PolicyCharge> charges;
};

// Constant after loading; evaluate() is safe to call from one thread per Sandbox.
class Policy {
 public:
  Policy() = default;
  // Numbers the rules (PolicyRule::index) so rules without a source line keep distinct ids.
  explicit Policy(std::vector<PolicyRule> rules);

  // `input` is the predicate environment: {args, session, principal, slots}.
  PolicyVerdict evaluate(const std::string& action, const Json& input, const PolicyUsage& usage,
                         Sandbox& sandbox) const;
  const std::vector<PolicyRule>& rules() const { return rules_; }
  // `four_eyes: true` in the policy file: the person who started a session may
  // not approve its irreversible actions; another approver must (ergon serve).
  bool four_eyes() const { return four_eyes_; }
  void set_four_eyes(bool on) { four_eyes_ = on; }

 private:
  std::vector<PolicyRule> rules_;
  bool four_eyes_ = false;
};

// Shell-style glob: '*' any run of characters, '?' one character.
bool glob_match(std::string_view pattern, std::string_view text);

}  // namespace ergon
