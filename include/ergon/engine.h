// The Engine carries a validated Plan out against live connectors, one step at
// a time: ground (render arguments from working memory) → guard chain → act →
// verify (expect) → remember, journaling every transition. Failures follow the
// step's on_fail; an aborted session compensates its completed reversible
// steps in reverse order (saga). A session can be resumed from its journal
// after a crash without repeating a completed action.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "ergon/approver.h"
#include "ergon/clock.h"
#include "ergon/connector.h"
#include "ergon/guard.h"
#include "ergon/journal.h"
#include "ergon/model.h"
#include "ergon/plan.h"
#include "ergon/vault.h"
#include "ergon/workspace.h"

namespace ergon {

// The collaborators of an engine; each must outlive it.
struct EngineParts {
  const Workspace* workspace = nullptr;
  ConnectorSet* connectors = nullptr;
  Store* store = nullptr;
  Approver* approver = nullptr;
  Clock* clock = nullptr;
  const GuardChain* guards = nullptr;
  const Vault* vault = nullptr;
  ModelClient* model = nullptr;  // for agent steps; null: a plan with one fails validation
};

struct SessionReport {
  std::string session;
  SessionStatus status = SessionStatus::kRunning;
  std::string error;                // why the session failed or aborted
  std::vector<Question> questions;  // open questions when waiting
  Json steps = Json::object();      // step id -> {state, result}
  Json slots = Json::object();
  int actions = 0;  // actions executed (attempts that reached the connector)
  int approvals_asked = 0;
  int approvals_granted = 0;
  int denials = 0;  // guard denials
  int retries = 0;
  int compensations = 0;
  ModelUsage model;  // every model call: planning (from plan_made) and agent turns
  std::string head;  // journal head hash
};
Json to_json(const SessionReport& report);

// Runs sessions. One Engine runs one session at a time (each thread has its own Lua sandbox);
// use one Engine per thread for parallel sessions.
class Engine {
 public:
  explicit Engine(EngineParts parts);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Called for every event as it is recorded, for live output. Its seq and
  // hash are assigned when it is committed to the journal, at the next commit
  // point (before anything that changes the world or asks a person).
  void on_event(std::function<void(const Event&)> sink);

  // Starts a new session for `plan` (validated first). `session_id` empty →
  // generated. Open questions are asked through the approver; when nobody can
  // answer, the session is left waiting. `model_calls`, the planner's model
  // calls (ModelPlanner::calls()), is journaled with the plan (plan_made's
  // "model_calls") and counted in the report.
  // `principal` is who the session acts for: journaled with session_started,
  // and what policy predicates see as `principal` (also after a resume).
  Result<SessionReport> start(const Plan& plan, const std::string& session_id = "",
                              const Json& model_calls = Json::array(),
                              const Principal& principal = {});

  // Continues a session from its journal. `answers` (slot -> value) answer open
  // questions. Completed steps are not repeated; an action that was started but
  // has no recorded outcome is re-sent only when it is a read or carries an
  // idempotency key, otherwise a person is asked what happened.
  Result<SessionReport> resume(const std::string& session_id, const Json& answers = Json::object());

  // Ends a session that is not running (waiting for answers, or stopped
  // mid-run) as aborted for `why`: its completed reversible actions are
  // compensated, newest first, as when a step aborts.
  Result<SessionReport> cancel(const std::string& session_id, const std::string& why);

  // Asked before each step (and each for_each item) of the session being run; a non-empty answer
  // (why) aborts it there, with compensation. For cancelling from another
  // thread: `reason` must be thread-safe.
  void stop_when(std::function<std::string(const std::string& session)> reason);

 private:
  class Run;
  Status replay(Run& run, const std::string& session_id, const char* doing);

  EngineParts parts_;
  std::function<void(const Event&)> sink_;
  std::function<std::string(const std::string&)> stop_when_;
};

// A new random session id ("s-" + 12 hex digits).
std::string new_session_id();

}  // namespace ergon
