// The guard chain: the non-negotiable brake before every action. Each guard
// returns an explicit decision; the chain stops at the first Deny or Ask. The
// chain is assembled from configuration, default deny throughout.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "ergon/action.h"
#include "ergon/json.h"
#include "ergon/plan.h"
#include "ergon/policy.h"
#include "ergon/result.h"

namespace ergon {

enum class Verdict { kAllow, kDeny, kAsk };
const char* to_string(Verdict verdict);

struct Decision {
  Verdict verdict = Verdict::kDeny;
  std::string guard;          // which guard decided: schema, policy, intent, approval
  std::string reason;         // always set, also for Allow
  Json preview;               // kAsk: what the person should see (dry run), may be null
  bool needs_person = false;  // kAsk: --yes may not answer it (a model's unplanned action)
};

struct Principal {
  std::string id = "local";
  std::vector<std::string> roles;
};

// Everything a guard may look at. Guards fill the "set by guards" fields for the
// guards after them. Pointers are borrowed for one check and must outlive it.
// Not shared between threads.
struct GuardContext {
  std::string session;
  Principal principal;
  const ActionSpec* spec = nullptr;
  const Plan* plan = nullptr;
  const Step* step = nullptr;  // null for compensations
  // Set when a model proposed the call during this agent step rather than the
  // approved plan deriving it; `expected` is null then. The intent guard
  // allows reads and the step's `allow`ed actions, and asks a person for
  // anything else.
  const AgentTask* agent = nullptr;
  Json expected = nullptr;                // {action, args} the approved plan derives for this call
  const Json* slots = nullptr;            // the session's slots, not copied; null reads as {}
  const PolicyUsage* usage = nullptr;     // limits consumed so far this session
  std::function<Result<Json>()> dry_run;  // empty when the connector has none
  Sandbox* sandbox = nullptr;             // for predicates

  // Set by guards:
  PolicyVerdict policy;  // by the policy guard
  Json preview;          // by the approval guard (dry-run result)
};

class Guard {
 public:
  virtual ~Guard() = default;
  virtual const std::string& name() const = 0;
  virtual Decision check(const ActionCall& call, GuardContext& context) = 0;
};

// Runs guards in order; every decision is returned (the last one is final) so
// the engine can journal each with its reason.
class GuardChain {
 public:
  void add(std::unique_ptr<Guard> guard);
  std::vector<Decision> check(const ActionCall& call, GuardContext& context) const;
  std::vector<std::string> names() const;

 private:
  std::vector<std::unique_ptr<Guard>> guards_;
};

std::unique_ptr<Guard> make_schema_guard();
std::unique_ptr<Guard> make_policy_guard(const Policy& policy);  // policy must outlive the guard
std::unique_ptr<Guard> make_intent_guard();
std::unique_ptr<Guard> make_approval_guard();

// Builds the chain from names in order (default: schema, policy, intent,
// approval). Unknown names are an error; policy and approval may not be left out.
Result<GuardChain> make_guard_chain(const std::vector<std::string>& names, const Policy& policy);

}  // namespace ergon
