// The journal is ergon's episodic memory: every event of a session, append-only
// and hash-chained, h_i = SHA-256(h_{i-1} || canonical JSON of event_i). A
// session's state is a fold of its events; resume replays them.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ergon/clock.h"
#include "ergon/json.h"
#include "ergon/result.h"

namespace ergon {

// Event types written by the engine (the `type` field).
namespace event {
inline constexpr const char* kSessionStarted = "session_started";  // goal, workspace, principal, roles
inline constexpr const char* kPlanMade =
    "plan_made";  // plan (JSON), model_calls (when a model planned)
inline constexpr const char* kQuestion = "question";     // slot, text
inline constexpr const char* kAnswer = "answer";         // slot, value
inline constexpr const char* kStepState = "step_state";  // step, item, state, detail
// step, item, action, decisions [{guard, verdict, reason}], compensation: for a
// call a guard denied or asked about, or a compensation (every other call's
// decisions are in its first action_started)
inline constexpr const char* kGuardDecision = "guard_decision";
inline constexpr const char* kApproval = "approval";  // step, item, action, approved, by, reason
inline constexpr const char* kIntent = "intent";      // step, item, action, args, idempotency_key
// step, item, action, args, attempt; idempotency_key, charges and, on the first
// attempt of a call every guard allowed, decisions [{guard, verdict, reason}]
inline constexpr const char* kActionStarted = "action_started";
inline constexpr const char* kOutcome = "outcome";  // step, item, action, ok, result | error
inline constexpr const char* kDone = "done";        // step, item, action (after irreversible)
inline constexpr const char* kCompensation = "compensation";   // step, item, action, ok, detail
inline constexpr const char* kSessionEnded = "session_ended";  // status, report
// step, turn, purpose, model, ok, error?, usage {calls, attempts, prompt_tokens,
// completion_tokens, latency_ms, cost}: one call to the model during a session
inline constexpr const char* kModelCall = "model_call";
// step, turn, thought, action, args, element | done/fail: summary, answer — what
// the model chose in one agent turn (its guard decisions and outcome follow
// as for any call, with item = turn)
inline constexpr const char* kAgentTurn = "agent_turn";
}  // namespace event

struct Event {
  int64_t seq = 0;  // 1-based position within the session
  std::string session;
  std::string type;
  int64_t time_ms = 0;
  Json data = Json::object();
  std::string prev_hash;  // hash of event seq-1; 64 zeros for the first
  std::string hash;

  // The object that is hashed: {seq, session, type, time_ms, data}.
  Json body() const;
};

// The prev_hash of a session's first event, and the head of an empty session.
inline constexpr char kGenesisHash[] =
    "0000000000000000000000000000000000000000000000000000000000000000";

// Computes the chain hash of `event` given the previous hash: the lowercase hex
// SHA-256 of the 64 hex characters of `prev_hash` followed by the canonical
// JSON of event.body(). `event.prev_hash` and `event.hash` are not read.
std::string chain_hash(const std::string& prev_hash, const Event& event);

// For stores, which hold an event's data already serialised: the canonical
// JSON of event.body() built around `canonical_data` (= canonical_json(
// event.data), which is not read again), and the chain hash of such a body.
// chain_hash(p, e) == chain_hash(p, canonical_body(e, canonical_json(e.data))).
std::string canonical_body(const Event& event, std::string_view canonical_data);
std::string chain_hash(const std::string& prev_hash, std::string_view canonical_body);
// chain_hash(p, canonical_body(e, canonical_data)), without building the body.
std::string chain_hash(const std::string& prev_hash, const Event& event,
                       std::string_view canonical_data);

// Recomputes a session's chain. Error (kFailedPrecondition) names the first
// event whose seq, link or hash does not match: an edited, deleted or reordered
// event is always detected.
Status verify_chain(const std::vector<Event>& events);

class Store;

// verify_chain over the session's events, plus the session row: its event count
// and head hash must match the last event, so deleting events from the end of
// the chain is detected too. Correct while another thread or process appends.
Status verify_session(Store& store, const std::string& session);

enum class SessionStatus { kRunning, kWaiting, kDone, kFailed, kAborted };
const char* to_string(SessionStatus status);
Result<SessionStatus> parse_session_status(const std::string& text);

struct SessionInfo {
  std::string id;
  std::string goal;
  std::string workspace;
  SessionStatus status = SessionStatus::kRunning;
  int64_t created_ms = 0;
  int64_t updated_ms = 0;
  int64_t events = 0;
  std::string head;  // hash of the last event; kGenesisHash before the first
};

// Durable storage of sessions and their events. Implementations are safe for
// concurrent use from several threads of one process; SQLite's WAL lets several
// processes share one file.
class Store {
 public:
  virtual ~Store() = default;

  virtual Result<SessionInfo> create_session(const std::string& id, const std::string& goal,
                                             const std::string& workspace) = 0;
  // Appends an event: assigns seq, time, prev_hash and hash. Durable on return
  // unless inside a batch (see begin_batch).
  virtual Result<Event> append(const std::string& session, const std::string& type, Json data) = 0;
  // append() for data its writer has already serialised: `canonical_data` must
  // be canonical_json(data) (other text would fail verify_chain). It is hashed
  // and stored as given, so each event is serialised once. Returns its hash.
  virtual Result<std::string> append_canonical(const std::string& session, const std::string& type,
                                               std::string_view canonical_data) = 0;
  // Groups the appends until commit_batch into one transaction: a crash loses
  // the whole group or nothing, never part of it.
  virtual Status begin_batch() = 0;
  virtual Status commit_batch() = 0;

  virtual Status set_status(const std::string& session, SessionStatus status) = 0;
  virtual Result<SessionInfo> session(const std::string& id) = 0;
  virtual Result<std::vector<SessionInfo>> sessions() = 0;
  virtual Result<std::vector<Event>> events(const std::string& session) = 0;
};

// Opens (creating if needed, with its parent directories) the SQLite store at
// `path`, WAL mode. `clock` stamps events and must outlive the store.
// A committed event survives a crash or kill -9 of the process; a power loss
// may roll back the last commits whole (synchronous=NORMAL), never corrupt.
// A batch is owned by the thread that began it and holds the file's write lock
// until commit_batch: other threads of the process wait for it, other
// processes' writes wait up to 5 s and then fail kUnavailable — so keep a batch
// short and never hold one across a call to the outside world.
Result<std::unique_ptr<Store>> open_sqlite_store(const std::string& path, Clock& clock);

}  // namespace ergon
