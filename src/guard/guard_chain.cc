#include <algorithm>
#include <exception>

#include "ergon/guard.h"

namespace ergon {

namespace {

const std::vector<std::string>& known_guards() {
  static const std::vector<std::string> kKnown = {"schema", "policy", "intent", "approval"};
  return kKnown;
}

std::string join(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& name : names) out += (out.empty() ? "" : ", ") + name;
  return out;
}

}  // namespace

const char* to_string(Verdict verdict) {
  switch (verdict) {
    case Verdict::kAllow: return "allow";
    case Verdict::kDeny: return "deny";
    case Verdict::kAsk: return "ask";
  }
  return "deny";
}

void GuardChain::add(std::unique_ptr<Guard> guard) {
  guards_.push_back(std::move(guard));
}

std::vector<Decision> GuardChain::check(const ActionCall& call, GuardContext& context) const {
  std::vector<Decision> decisions;
  if (guards_.empty()) {
    decisions.push_back(Decision{
        Verdict::kDeny, "chain",
        "no guards are configured, so " + call.action + " is denied (default deny)", nullptr});
    return decisions;
  }
  decisions.reserve(guards_.size());
  for (const auto& guard : guards_) {
    Decision decision;
    try {
      decision = guard->check(call, context);
    } catch (const std::exception& e) {
      // A guard that throws has not said yes: deny, and keep the exception inside.
      decision = Decision{
          Verdict::kDeny, guard->name(),
          "the " + guard->name() + " guard failed on " + call.action + ": " + e.what(), nullptr};
    }
    if (decision.guard.empty()) decision.guard = guard->name();
    Verdict verdict = decision.verdict;
    decisions.push_back(std::move(decision));
    if (verdict != Verdict::kAllow) break;
  }
  return decisions;
}

std::vector<std::string> GuardChain::names() const {
  std::vector<std::string> out;
  for (const auto& guard : guards_) out.push_back(guard->name());
  return out;
}

Result<GuardChain> make_guard_chain(const std::vector<std::string>& names, const Policy& policy) {
  const std::vector<std::string>& order = names.empty() ? known_guards() : names;
  const auto& known = known_guards();
  for (size_t i = 0; i < order.size(); ++i) {
    if (std::find(known.begin(), known.end(), order[i]) == known.end()) {
      return fail(ErrorCode::kInvalidInput,
                  "unknown guard '" + order[i] + "' in guards: known guards are " + join(known));
    }
    if (std::find(order.begin(), order.begin() + static_cast<long>(i), order[i]) !=
        order.begin() + static_cast<long>(i)) {
      return fail(ErrorCode::kInvalidInput,
                  "guard '" + order[i] + "' is listed twice in guards: list each guard once");
    }
  }
  auto position = [&](const std::string& name) {
    return std::find(order.begin(), order.end(), name) - order.begin();
  };
  long policy_at = position("policy"), approval_at = position("approval");
  long size = static_cast<long>(order.size());
  if (policy_at == size || approval_at == size) {
    return fail(ErrorCode::kInvalidInput,
                "the policy and approval guards cannot be removed: guards is [" + join(order) +
                    "]; add the missing one (default order: " + join(known) + ")");
  }
  // The approval guard reads the policy guard's verdict (require_approval,
  // auto_approve); before it, that verdict would still be empty.
  if (approval_at < policy_at) {
    return fail(ErrorCode::kInvalidInput,
                "the approval guard must come after the policy guard in guards (it uses the "
                "policy's verdict): guards is [" +
                    join(order) + "]");
  }

  GuardChain chain;
  for (const std::string& name : order) {
    if (name == "schema") chain.add(make_schema_guard());
    if (name == "policy") chain.add(make_policy_guard(policy));
    if (name == "intent") chain.add(make_intent_guard());
    if (name == "approval") chain.add(make_approval_guard());
  }
  return chain;
}

}  // namespace ergon
