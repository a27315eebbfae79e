// An Approver is the channel to a person: it asks for approval of an action and
// for answers to questions. Implementations: the terminal, "yes to all that
// policy allows" (--yes), and none (deny, with the reason).
#pragma once

#include <iosfwd>
#include <memory>
#include <string>

#include "ergon/action.h"
#include "ergon/json.h"
#include "ergon/result.h"

namespace ergon {

struct ApprovalRequest {
  std::string session;
  std::string step;
  std::string action;
  Effect effect = Effect::kWrite;
  Json args = Json::object();  // secrets already redacted
  std::string reason;          // why approval is needed
  Json preview;                // dry-run result when the connector offers one; null otherwise
  // Only a person may approve: a model proposed the action outside the approved
  // plan. The auto approver (--yes) refuses these.
  bool needs_person = false;
};

enum class ApprovalAnswer { kYes, kNo, kYesToAll };

struct ApprovalDecision {
  ApprovalAnswer answer = ApprovalAnswer::kNo;
  std::string by;      // who decided: "terminal", "--yes", "none"
  std::string reason;  // why, for the journal
  bool approved() const { return answer != ApprovalAnswer::kNo; }
};

struct QuestionRequest {
  std::string session;
  std::string slot;  // may be empty
  std::string text;
  std::vector<std::string> choices;  // may be empty
};

class Approver {
 public:
  virtual ~Approver() = default;
  virtual Result<ApprovalDecision> approve(const ApprovalRequest& request) = 0;
  // kUnavailable when nobody can answer (the session waits or fails).
  virtual Result<std::string> answer(const QuestionRequest& request) = 0;
};

// Asks on a terminal: prints the action, arguments and preview; reads y / n / a
// (yes to all of this action). Not thread-safe.
std::unique_ptr<Approver> make_terminal_approver(std::istream& in, std::ostream& out);
// Approves everything it is asked (the guard chain only asks what policy allows);
// questions are unanswerable.
std::unique_ptr<Approver> make_auto_approver();
// Denies every approval with `reason`; questions are unanswerable.
std::unique_ptr<Approver> make_deny_approver(std::string reason);

}  // namespace ergon
