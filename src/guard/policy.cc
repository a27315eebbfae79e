#include "ergon/policy.h"

#include <fmt/format.h>

#include <cmath>

namespace ergon {

namespace {

// "600" rather than "600.000000"; keeps fractions when there are any.
std::string format_amount(double amount) {
  return fmt::format("{:g}", amount);
}

std::string forbid_reason(const PolicyRule& rule) {
  std::string reason = "forbidden by " + rule.id();
  if (!rule.reason.empty()) reason += ": " + rule.reason;
  return reason;
}

PolicyVerdict deny(std::string reason) {
  PolicyVerdict verdict;
  verdict.allowed = false;
  verdict.reason = std::move(reason);
  return verdict;
}

}  // namespace

std::string PolicyRule::id() const {
  if (loc.line > 0) return loc.str();
  if (index > 0) return "rule " + std::to_string(index);
  return "rule for '" + actions + "'";
}

Policy::Policy(std::vector<PolicyRule> rules) : rules_(std::move(rules)) {
  for (size_t i = 0; i < rules_.size(); ++i) rules_[i].index = static_cast<int>(i) + 1;
}

bool glob_match(std::string_view pattern, std::string_view text) {
  // Greedy match with backtracking to the last '*': linear in practice, no recursion.
  size_t p = 0, t = 0;
  size_t star = std::string_view::npos, star_text = 0;
  while (t < text.size()) {
    if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == text[t])) {
      ++p;
      ++t;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      star_text = t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++star_text;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

PolicyVerdict Policy::evaluate(const std::string& action, const Json& input,
                               const PolicyUsage& usage, Sandbox& sandbox) const {
  // Rules whose glob and `when` both match. Every predicate of a glob-matching
  // rule is evaluated, so an erroring predicate denies even when another rule
  // would have decided: fail closed.
  std::vector<const PolicyRule*> applicable;
  for (const PolicyRule& rule : rules_) {
    if (!glob_match(rule.actions, action)) continue;
    if (!rule.when.empty()) {
      Result<bool> holds = sandbox.test(rule.when, input);
      if (!holds) {
        return deny(fmt::format(
            "policy rule {} could not evaluate its `when` ({}) for {}: {} — denied (fail closed); "
            "fix the predicate in the policy file",
            rule.id(), rule.when, action, holds.error().message));
      }
      if (!*holds) continue;
    }
    applicable.push_back(&rule);
  }

  for (const PolicyRule* rule : applicable) {
    if (rule->kind == PolicyRule::Kind::kForbid) return deny(forbid_reason(*rule));
  }

  PolicyVerdict verdict;
  std::string permitted_by;  // the ids of the applicable permits, comma-separated
  bool any_auto_approve = false;
  for (const PolicyRule* rule : applicable) {
    const std::string id = rule->id();
    if (!permitted_by.empty()) permitted_by += ", ";
    permitted_by += id;
    verdict.require_approval = verdict.require_approval || rule->require_approval;
    any_auto_approve = any_auto_approve || rule->auto_approve;
    if (!rule->max_calls && !rule->budget) continue;

    if (rule->max_calls) {
      auto it = usage.calls.find(id);
      int made = it == usage.calls.end() ? 0 : it->second;
      if (made >= *rule->max_calls) {
        return deny(
            fmt::format("call limit of {} reached for {}: {} of {} calls per session already made",
                        id, action, made, *rule->max_calls));
      }
    }

    double amount = 0;
    if (rule->budget) {
      const BudgetLimit& budget = *rule->budget;
      Result<Json> value = sandbox.eval(budget.sum, input);
      if (!value) {
        return deny(fmt::format(
            "policy rule {} could not compute its budget sum ({}) for {}: {} — denied (fail "
            "closed); fix limits.budget.sum in the policy file",
            id, budget.sum, action, value.error().message));
      }
      if (!value->is_number()) {
        return deny(fmt::format(
            "policy rule {}: budget sum ({}) for {} gave {}, not a number — denied (fail closed); "
            "fix limits.budget.sum in the policy file",
            id, budget.sum, action, canonical_json(*value)));
      }
      amount = value->get<double>();
      // A negative or non-finite amount would shrink what was spent: refuse it.
      if (!std::isfinite(amount) || amount < 0) {
        return deny(fmt::format(
            "policy rule {}: budget sum ({}) for {} is {}, which a budget cannot count — denied "
            "(fail closed)",
            id, budget.sum, action, format_amount(amount)));
      }
      auto it = usage.spent.find(id);
      double spent = it == usage.spent.end() ? 0 : it->second;
      if (spent + amount > budget.max) {
        return deny(fmt::format(
            "budget of {} exceeded by {}: this call adds {} to {} already spent, over the max of "
            "{}",
            id, action, format_amount(amount), format_amount(spent), format_amount(budget.max)));
      }
    }
    verdict.charges.push_back(PolicyCharge{id, amount});
  }

  if (permitted_by.empty()) {
    return deny("no policy rule permits " + action + " (default deny)");
  }
  verdict.allowed = true;
  verdict.auto_approve = any_auto_approve && !verdict.require_approval;
  verdict.reason = "permitted by " + permitted_by;
  return verdict;
}

void apply(PolicyUsage& usage, const std::vector<PolicyCharge>& charges) {
  for (const PolicyCharge& charge : charges) {
    usage.calls[charge.rule] += 1;
    usage.spent[charge.rule] += charge.amount;
  }
}

Json to_json(const std::vector<PolicyCharge>& charges) {
  Json out = Json::array();
  for (const PolicyCharge& charge : charges) {
    out.push_back({{"rule", charge.rule}, {"amount", charge.amount}});
  }
  return out;
}

std::vector<PolicyCharge> charges_from_json(const Json& json) {
  // Reads what to_json wrote; entries without a rule name are skipped, since a
  // charge that names no rule cannot be counted against anything.
  std::vector<PolicyCharge> out;
  if (!json.is_array()) return out;
  for (const Json& entry : json) {
    if (!entry.is_object()) continue;
    auto rule = entry.find("rule");
    if (rule == entry.end() || !rule->is_string()) continue;
    PolicyCharge charge;
    charge.rule = rule->get<std::string>();
    auto amount = entry.find("amount");
    if (amount != entry.end() && amount->is_number()) charge.amount = amount->get<double>();
    out.push_back(std::move(charge));
  }
  return out;
}

}  // namespace ergon
