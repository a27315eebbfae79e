// The embedded Store: one SQLite file in WAL mode, shared by the threads of a
// process through one connection and by processes through SQLite's file locks.
//
// Durability: synchronous=NORMAL. In WAL mode a committed transaction is in the
// WAL file before COMMIT returns, so it survives a crash or kill -9 of the
// process. A power loss or OS crash can lose the last transactions committed
// before the WAL was synced at a checkpoint — they roll back whole, the file is
// never corrupted and the chain stays valid — in exchange for not calling
// fsync on every commit.
//
// Cross-process correctness: every write runs in a write transaction (BEGIN
// IMMEDIATE, which takes SQLite's single writer lock) and reads the session's
// head and event count inside it, so two processes appending to one session
// interleave into one valid chain. Heads are cached only inside a batch, whose
// transaction holds that lock from begin_batch to commit_batch.

#include <fmt/format.h>
#include <sqlite3.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <optional>
#include <string_view>
#include <thread>
#include <unordered_map>

#include "ergon/journal.h"

namespace ergon {
namespace {

// Bump when the schema changes, and append the migration to kMigrations:
// kMigrations[v] upgrades a store from user_version v to v + 1.
constexpr int kSchemaVersion = 1;
constexpr const char* kMigrations[kSchemaVersion] = {
    R"sql(
CREATE TABLE sessions (
  id TEXT PRIMARY KEY NOT NULL,
  goal TEXT NOT NULL,
  workspace TEXT NOT NULL,
  status TEXT NOT NULL,
  created_ms INTEGER NOT NULL,
  updated_ms INTEGER NOT NULL,
  events INTEGER NOT NULL,
  head TEXT NOT NULL
) STRICT;
CREATE INDEX sessions_by_created ON sessions(created_ms);
CREATE TABLE events (
  session TEXT NOT NULL REFERENCES sessions(id),
  seq INTEGER NOT NULL,
  type TEXT NOT NULL,
  time_ms INTEGER NOT NULL,
  data TEXT NOT NULL,
  prev_hash TEXT NOT NULL,
  hash TEXT NOT NULL,
  PRIMARY KEY (session, seq)
) STRICT;
)sql",
};

constexpr int kBusyTimeoutMs = 5000;

ErrorCode code_for(int rc) {
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED: return ErrorCode::kUnavailable;
    case SQLITE_CONSTRAINT:
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_CANTOPEN:
    case SQLITE_FULL: return ErrorCode::kFailedPrecondition;
    default: return ErrorCode::kInternal;
  }
}

// What to do about a failure, by SQLite result code.
const char* hint_for(int rc) {
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED: return "another process held the store's write lock for over 5 s; retry";
    case SQLITE_CONSTRAINT:
      return "the stored journal is inconsistent with its session row; run `ergon audit "
             "verify`";
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB: return "the file is not a readable ergon store; check the path";
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_CANTOPEN: return "check the path and its permissions";
    case SQLITE_FULL: return "free disk space and retry";
    default: return "this is likely a bug in ergon; please report it";
  }
}

// A prepared statement, finalized on destruction.
class Statement {
 public:
  Statement() = default;
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  int prepare(sqlite3* db, const char* sql) {
    return sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt_, nullptr);
  }
  sqlite3_stmt* get() const { return stmt_; }

 private:
  sqlite3_stmt* stmt_ = nullptr;
};

// Binds parameters to a prepared statement for one use, and resets it (and
// clears its bindings) when the use ends. Bound strings are not copied: they
// must outlive the Use.
class Use {
 public:
  explicit Use(const Statement& statement) : stmt_(statement.get()) {}
  ~Use() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  Use(const Use&) = delete;
  Use& operator=(const Use&) = delete;

  Use& bind(int index, std::string_view text) {
    sqlite3_bind_text64(stmt_, index, text.data(), text.size(), SQLITE_STATIC, SQLITE_UTF8);
    return *this;
  }
  Use& bind(int index, int64_t value) {
    sqlite3_bind_int64(stmt_, index, value);
    return *this;
  }
  int step() { return sqlite3_step(stmt_); }
  int64_t integer(int column) const { return sqlite3_column_int64(stmt_, column); }
  std::string text(int column) const {
    const auto* bytes = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, column));
    if (bytes == nullptr) return {};
    return std::string(bytes, static_cast<size_t>(sqlite3_column_bytes(stmt_, column)));
  }

 private:
  sqlite3_stmt* stmt_;
};

class SqliteStore final : public Store {
 public:
  SqliteStore(std::string path, Clock& clock, sqlite3* db)
      : path_(std::move(path)), clock_(clock), db_(db) {}

  ~SqliteStore() override {
    // An open batch was never committed: it is lost whole, as a crash would.
    if (batch_owner_) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    // close_v2 closes the connection once the statement members are finalized.
    sqlite3_close_v2(db_);
  }

  Status init();

  Result<SessionInfo> create_session(const std::string& id, const std::string& goal,
                                     const std::string& workspace) override;
  Result<Event> append(const std::string& session, const std::string& type, Json data) override;
  Result<std::string> append_canonical(const std::string& session, const std::string& type,
                                       std::string_view canonical_data) override;
  Status begin_batch() override;
  Status commit_batch() override;
  Status set_status(const std::string& session, SessionStatus status) override;
  Result<SessionInfo> session(const std::string& id) override;
  Result<std::vector<SessionInfo>> sessions() override;
  Result<std::vector<Event>> events(const std::string& session) override;

 private:
  using Lock = std::unique_lock<std::mutex>;

  Error sqlite_error(std::string_view operation, int rc) const;
  Status exec(const char* sql, std::string_view operation);
  // Appends `event` (session and type set) with `data_text` as its canonical
  // data: assigns seq, time, prev_hash and hash.
  Status append_text(Event& event, std::string_view data_text);
  Status migrate();
  Status prepare_statements();

  // Locks mu_ for one operation. While another thread has a batch open, waits
  // for it to be committed: its transaction is the connection's, and an
  // operation run now would join it.
  Result<Lock> lock(std::string_view operation);
  bool in_batch_on_this_thread() const {
    return batch_owner_ && *batch_owner_ == std::this_thread::get_id();
  }
  // Starts a write transaction unless this thread's batch already holds one.
  Status begin_write(std::string_view operation);
  // Commits the transaction begin_write started (nothing inside a batch).
  Status end_write(std::string_view operation);
  // Undoes the current transaction after a failed write. Inside a batch the
  // whole batch is rolled back, because SQLite may already have done so.
  Error abort_write(Error error);
  void end_batch();
  Status write_head(const std::string& session, const std::string& head, int64_t events,
                    int64_t updated_ms);
  // Writes the session rows of batch_heads_, so that reads and status changes
  // inside a batch see its appends. Rolls the batch back on failure.
  Status flush_batch_heads();

  Result<SessionInfo> read_session(Use& use) const;

  // Constant after construction.
  const std::string path_;
  Clock& clock_;
  sqlite3* const db_;

  std::mutex mu_;
  std::condition_variable batch_ended_;
  // Guarded by mu_: the connection, its statements and the batch state.
  std::optional<std::thread::id> batch_owner_;
  // Inside a batch, the head of each session appended to, not yet written to
  // its row. The batch holds SQLite's write lock, so no other connection can
  // move a head while it is open; the cache ends with the batch.
  struct BatchHead {
    std::string hash;
    int64_t events = 0;
    int64_t updated_ms = 0;
  };
  std::unordered_map<std::string, BatchHead> batch_heads_;
  Statement begin_, commit_, rollback_;
  Statement insert_session_, select_session_, select_sessions_, select_head_;
  Statement insert_event_, update_head_, update_status_, select_events_;
};

Error SqliteStore::sqlite_error(std::string_view operation, int rc) const {
  const char* detail =
      db_ != nullptr && sqlite3_errcode(db_) == rc ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
  return Error{code_for(rc), fmt::format("sqlite store {}: {} failed: {} (code {}); {}", path_,
                                         operation, detail, rc, hint_for(rc))};
}

Status SqliteStore::exec(const char* sql, std::string_view operation) {
  int rc = sqlite3_exec(db_, sql, nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return fail(sqlite_error(operation, rc));
  return {};
}

Status SqliteStore::migrate() {
  // The version check and the migration share one write transaction, so two
  // processes opening a new file at once migrate it once.
  if (auto s = exec("BEGIN IMMEDIATE", "begin the schema migration"); !s) return s;
  auto rollback = [this](Error error) {
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    return fail(std::move(error));
  };
  int version = 0;
  {
    Statement pragma;
    int rc = pragma.prepare(db_, "PRAGMA user_version");
    if (rc != SQLITE_OK) return rollback(sqlite_error("read the schema version", rc));
    Use use(pragma);
    rc = use.step();
    if (rc != SQLITE_ROW) return rollback(sqlite_error("read the schema version", rc));
    version = static_cast<int>(use.integer(0));
  }
  if (version > kSchemaVersion) {
    return rollback(Error{ErrorCode::kFailedPrecondition,
                          fmt::format("sqlite store {}: schema version {} was written by a newer "
                                      "ergon (this build knows up to {}); upgrade ergon",
                                      path_, version, kSchemaVersion)});
  }
  for (int v = version; v < kSchemaVersion; ++v) {
    auto s = exec(kMigrations[v], fmt::format("migrate the schema to version {}", v + 1));
    if (!s) return rollback(s.error());
  }
  if (version != kSchemaVersion) {
    auto sql = fmt::format("PRAGMA user_version = {}", kSchemaVersion);
    if (auto s = exec(sql.c_str(), "record the schema version"); !s) return rollback(s.error());
  }
  return exec("COMMIT", "commit the schema migration");
}

Status SqliteStore::prepare_statements() {
  const std::pair<Statement*, const char*> statements[] = {
      {&begin_, "BEGIN IMMEDIATE"},
      {&commit_, "COMMIT"},
      {&rollback_, "ROLLBACK"},
      {&insert_session_,
       "INSERT INTO sessions(id, goal, workspace, status, created_ms, updated_ms, events, head) "
       "VALUES (?1, ?2, ?3, ?4, ?5, ?5, 0, ?6)"},
      {&select_session_,
       "SELECT id, goal, workspace, status, created_ms, updated_ms, events, head FROM sessions "
       "WHERE id = ?1"},
      {&select_sessions_,
       "SELECT id, goal, workspace, status, created_ms, updated_ms, events, head FROM sessions "
       "ORDER BY created_ms DESC, rowid DESC"},
      {&select_head_, "SELECT head, events FROM sessions WHERE id = ?1"},
      {&insert_event_,
       "INSERT INTO events(session, seq, type, time_ms, data, prev_hash, hash) "
       "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"},
      {&update_head_, "UPDATE sessions SET head = ?2, events = ?3, updated_ms = ?4 WHERE id = ?1"},
      {&update_status_, "UPDATE sessions SET status = ?2, updated_ms = ?3 WHERE id = ?1"},
      {&select_events_,
       "SELECT seq, type, time_ms, data, prev_hash, hash FROM events WHERE session = ?1 "
       "ORDER BY seq"},
  };
  for (const auto& [statement, sql] : statements) {
    int rc = statement->prepare(db_, sql);
    if (rc != SQLITE_OK) return fail(sqlite_error(fmt::format("prepare '{}'", sql), rc));
  }
  return {};
}

Status SqliteStore::init() {
  sqlite3_extended_result_codes(db_, 1);
  sqlite3_busy_timeout(db_, kBusyTimeoutMs);
  {
    Statement pragma;
    int rc = pragma.prepare(db_, "PRAGMA journal_mode = WAL");
    if (rc != SQLITE_OK) return fail(sqlite_error("open the store", rc));
    Use use(pragma);
    rc = use.step();
    if (rc != SQLITE_ROW) return fail(sqlite_error("switch to WAL mode", rc));
    std::string mode = use.text(0);
    // An in-memory database (":memory:") has no WAL and needs none.
    if (mode != "wal" && mode != "memory") {
      return fail(ErrorCode::kFailedPrecondition,
                  fmt::format("sqlite store {}: could not switch to WAL mode (journal mode is "
                              "'{}'); the file system may not support shared memory — put the "
                              "store on a local disk",
                              path_, mode));
    }
  }
  if (auto s = exec("PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;", "set pragmas"); !s) {
    return s;
  }
  if (auto s = migrate(); !s) return s;
  return prepare_statements();
}

Result<SqliteStore::Lock> SqliteStore::lock(std::string_view operation) {
  Lock lock(mu_);
  auto free = [this] { return !batch_owner_ || *batch_owner_ == std::this_thread::get_id(); };
  if (!batch_ended_.wait_for(lock, std::chrono::milliseconds(kBusyTimeoutMs), free)) {
    return fail(ErrorCode::kUnavailable,
                fmt::format("sqlite store {}: {}: another thread has kept a batch open for over "
                            "{} ms; retry, and check that every begin_batch has a commit_batch",
                            path_, operation, kBusyTimeoutMs));
  }
  return lock;
}

Status SqliteStore::begin_write(std::string_view operation) {
  if (in_batch_on_this_thread()) return {};
  Use use(begin_);
  int rc = use.step();
  if (rc != SQLITE_DONE) return fail(sqlite_error(fmt::format("{}: begin", operation), rc));
  return {};
}

Status SqliteStore::end_write(std::string_view operation) {
  if (in_batch_on_this_thread()) return {};
  int rc;
  {
    Use use(commit_);
    rc = use.step();
  }
  if (rc != SQLITE_DONE) {
    return fail(abort_write(sqlite_error(fmt::format("{}: commit", operation), rc)));
  }
  return {};
}

Error SqliteStore::abort_write(Error error) {
  if (sqlite3_get_autocommit(db_) == 0) {
    Use use(rollback_);
    use.step();
  }
  if (in_batch_on_this_thread()) {
    end_batch();
    error.message += "; the open batch was rolled back and none of its events were saved";
  }
  return error;
}

void SqliteStore::end_batch() {
  batch_heads_.clear();
  batch_owner_.reset();
  batch_ended_.notify_all();
}

Result<SessionInfo> SqliteStore::read_session(Use& use) const {
  SessionInfo info;
  info.id = use.text(0);
  info.goal = use.text(1);
  info.workspace = use.text(2);
  auto status = parse_session_status(use.text(3));
  if (!status) {
    return fail(status.error().with_context(
        fmt::format("sqlite store {}: session '{}': ", path_, info.id)));
  }
  info.status = *status;
  info.created_ms = use.integer(4);
  info.updated_ms = use.integer(5);
  info.events = use.integer(6);
  info.head = use.text(7);
  return info;
}

Result<SessionInfo> SqliteStore::create_session(const std::string& id, const std::string& goal,
                                                const std::string& workspace) {
  if (id.empty()) {
    return fail(ErrorCode::kInvalidInput, "create_session: the session id is empty; pass an id");
  }
  auto guard = lock("create session");
  if (!guard) return fail(guard.error());
  const std::string operation = fmt::format("create session '{}'", id);
  SessionInfo info{.id = id,
                   .goal = goal,
                   .workspace = workspace,
                   .status = SessionStatus::kRunning,
                   .created_ms = clock_.now_ms(),
                   .updated_ms = 0,
                   .events = 0,
                   .head = kGenesisHash};
  info.updated_ms = info.created_ms;
  // A single INSERT is its own transaction outside a batch.
  Use use(insert_session_);
  use.bind(1, id)
      .bind(2, goal)
      .bind(3, workspace)
      .bind(4, std::string_view(to_string(info.status)))
      .bind(5, info.created_ms)
      .bind(6, info.head);
  int rc = use.step();
  if ((rc & 0xff) == SQLITE_CONSTRAINT) {
    return fail(ErrorCode::kInvalidInput,
                fmt::format("sqlite store {}: cannot create session '{}': a session with that id "
                            "already exists; choose another id",
                            path_, id));
  }
  if (rc != SQLITE_DONE) return fail(abort_write(sqlite_error(operation, rc)));
  return info;
}

Result<Event> SqliteStore::append(const std::string& session, const std::string& type, Json data) {
  Event event;
  event.session = session;
  event.type = type;
  event.data = std::move(data);
  const std::string data_text = canonical_json(event.data);
  if (auto s = append_text(event, data_text); !s) return fail(s.error());
  return event;
}

Result<std::string> SqliteStore::append_canonical(const std::string& session,
                                                  const std::string& type,
                                                  std::string_view canonical_data) {
  Event event;
  event.session = session;
  event.type = type;
  if (auto s = append_text(event, canonical_data); !s) return fail(s.error());
  return std::move(event.hash);
}

Status SqliteStore::append_text(Event& event, std::string_view data_text) {
  const std::string& session = event.session;
  const std::string& type = event.type;
  auto guard = lock("append");
  if (!guard) return fail(guard.error());
  const auto operation = [&] { return fmt::format("append '{}' to session '{}'", type, session); };
  if (auto s = begin_write("append"); !s) return fail(s.error().with_context(operation() + ": "));
  const bool in_batch = in_batch_on_this_thread();

  auto cached = in_batch ? batch_heads_.find(session) : batch_heads_.end();
  if (cached != batch_heads_.end()) {
    event.prev_hash = cached->second.hash;
    event.seq = cached->second.events + 1;
  } else {
    Use use(select_head_);
    use.bind(1, session);
    int rc = use.step();
    if (rc == SQLITE_DONE) {
      Error error{ErrorCode::kNotFound,
                  fmt::format("sqlite store {}: cannot append '{}': session '{}' does not "
                              "exist; create it first (run `ergon sessions` to list them)",
                              path_, type, session)};
      // Nothing was written: a batch stays open, a lone transaction just ends.
      if (!in_batch) {
        Use rollback(rollback_);
        rollback.step();
      }
      return fail(std::move(error));
    }
    if (rc != SQLITE_ROW) return fail(abort_write(sqlite_error(operation(), rc)));
    event.prev_hash = use.text(0);
    event.seq = use.integer(1) + 1;
  }
  event.time_ms = clock_.now_ms();
  event.hash = chain_hash(event.prev_hash, event, data_text);
  {
    Use use(insert_event_);
    use.bind(1, session)
        .bind(2, event.seq)
        .bind(3, type)
        .bind(4, event.time_ms)
        .bind(5, data_text)
        .bind(6, event.prev_hash)
        .bind(7, event.hash);
    int rc = use.step();
    if (rc != SQLITE_DONE) return fail(abort_write(sqlite_error(operation(), rc)));
  }
  if (in_batch) {
    // The session row is written once, when the batch is flushed.
    BatchHead head{event.hash, event.seq, event.time_ms};
    if (cached != batch_heads_.end()) {
      cached->second = std::move(head);
    } else {
      batch_heads_.emplace(session, std::move(head));
    }
    return {};
  }
  if (auto s = write_head(session, event.hash, event.seq, event.time_ms); !s) {
    return fail(abort_write(s.error().with_context(operation() + ": ")));
  }
  if (auto s = end_write("append"); !s) return fail(s.error().with_context(operation() + ": "));
  return {};
}

Status SqliteStore::write_head(const std::string& session, const std::string& head, int64_t events,
                               int64_t updated_ms) {
  Use use(update_head_);
  use.bind(1, session).bind(2, head).bind(3, events).bind(4, updated_ms);
  int rc = use.step();
  if (rc != SQLITE_DONE) {
    return fail(sqlite_error(fmt::format("update the head of session '{}'", session), rc));
  }
  return {};
}

Status SqliteStore::flush_batch_heads() {
  for (const auto& [session, head] : batch_heads_) {
    if (auto s = write_head(session, head.hash, head.events, head.updated_ms); !s) {
      return fail(abort_write(s.error()));
    }
  }
  batch_heads_.clear();
  return {};
}

Status SqliteStore::begin_batch() {
  auto guard = lock("begin batch");
  if (!guard) return fail(guard.error());
  if (in_batch_on_this_thread()) {
    return fail(ErrorCode::kFailedPrecondition,
                fmt::format("sqlite store {}: begin_batch: a batch is already open on this "
                            "thread and batches do not nest; call commit_batch first",
                            path_));
  }
  if (auto s = begin_write("begin batch"); !s) return s;
  batch_owner_ = std::this_thread::get_id();
  return {};
}

Status SqliteStore::commit_batch() {
  std::unique_lock guard(mu_);
  if (!in_batch_on_this_thread()) {
    return fail(ErrorCode::kFailedPrecondition,
                fmt::format("sqlite store {}: commit_batch: no batch is open on this thread; "
                            "call begin_batch first",
                            path_));
  }
  if (auto s = flush_batch_heads(); !s) return s;
  int rc;
  {
    Use use(commit_);
    rc = use.step();
  }
  if (rc != SQLITE_DONE) return fail(abort_write(sqlite_error("commit batch", rc)));
  end_batch();
  return {};
}

Status SqliteStore::set_status(const std::string& session, SessionStatus status) {
  auto guard = lock("set status");
  if (!guard) return fail(guard.error());
  if (auto s = flush_batch_heads(); !s) return fail(s.error());
  const auto operation = fmt::format("set the status of session '{}'", session);
  Use use(update_status_);
  use.bind(1, session).bind(2, std::string_view(to_string(status))).bind(3, clock_.now_ms());
  int rc = use.step();
  if (rc != SQLITE_DONE) return fail(abort_write(sqlite_error(operation, rc)));
  if (sqlite3_changes(db_) == 0) {
    return fail(ErrorCode::kNotFound,
                fmt::format("sqlite store {}: cannot set status: session '{}' not found (run "
                            "`ergon sessions` to list them)",
                            path_, session));
  }
  return {};
}

Result<SessionInfo> SqliteStore::session(const std::string& id) {
  auto guard = lock("read session");
  if (!guard) return fail(guard.error());
  if (auto s = flush_batch_heads(); !s) return fail(s.error());
  Use use(select_session_);
  use.bind(1, id);
  int rc = use.step();
  if (rc == SQLITE_DONE) {
    return fail(
        ErrorCode::kNotFound,
        fmt::format("session '{}' not found in {} (run `ergon sessions` to list them)", id, path_));
  }
  if (rc != SQLITE_ROW) return fail(sqlite_error(fmt::format("read session '{}'", id), rc));
  return read_session(use);
}

Result<std::vector<SessionInfo>> SqliteStore::sessions() {
  auto guard = lock("list sessions");
  if (!guard) return fail(guard.error());
  if (auto s = flush_batch_heads(); !s) return fail(s.error());
  std::vector<SessionInfo> out;
  Use use(select_sessions_);
  int rc;
  while ((rc = use.step()) == SQLITE_ROW) {
    auto info = read_session(use);
    if (!info) return fail(info.error());
    out.push_back(std::move(*info));
  }
  if (rc != SQLITE_DONE) return fail(sqlite_error("list sessions", rc));
  return out;
}

Result<std::vector<Event>> SqliteStore::events(const std::string& session) {
  auto guard = lock("read events");
  if (!guard) return fail(guard.error());
  std::vector<Event> out;
  {
    Use use(select_events_);
    use.bind(1, session);
    int rc;
    while ((rc = use.step()) == SQLITE_ROW) {
      Event event;
      event.seq = use.integer(0);
      event.session = session;
      event.type = use.text(1);
      event.time_ms = use.integer(2);
      event.data = Json::parse(use.text(3), nullptr, /*allow_exceptions=*/false);
      if (event.data.is_discarded()) {
        return fail(ErrorCode::kFailedPrecondition,
                    fmt::format("sqlite store {}: session '{}', event {}: data is not valid JSON "
                                "— the journal was edited or corrupted; run `ergon audit verify`",
                                path_, session, event.seq));
      }
      event.prev_hash = use.text(4);
      event.hash = use.text(5);
      out.push_back(std::move(event));
    }
    if (rc != SQLITE_DONE) {
      return fail(sqlite_error(fmt::format("read the events of session '{}'", session), rc));
    }
  }
  if (out.empty()) {
    // No events: tell an empty session from a missing one.
    Use use(select_head_);
    use.bind(1, session);
    int rc = use.step();
    if (rc == SQLITE_DONE) {
      return fail(ErrorCode::kNotFound,
                  fmt::format("session '{}' not found in {} (run `ergon sessions` to list them)",
                              session, path_));
    }
    if (rc != SQLITE_ROW) return fail(sqlite_error(fmt::format("read session '{}'", session), rc));
  }
  return out;
}

}  // namespace

Result<std::unique_ptr<Store>> open_sqlite_store(const std::string& path, Clock& clock) {
  namespace fs = std::filesystem;
  const bool is_uri = path.starts_with("file:");
  if (path != ":memory:" && !is_uri) {
    fs::path parent = fs::path(path).parent_path();
    std::error_code ec;
    if (!parent.empty()) fs::create_directories(parent, ec);
    if (ec) {
      return fail(ErrorCode::kFailedPrecondition,
                  fmt::format("sqlite store {}: cannot create directory {}: {}; check the path "
                              "and its permissions",
                              path, parent.string(), ec.message()));
    }
  }
  sqlite3* db = nullptr;
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX |
              (is_uri ? SQLITE_OPEN_URI : 0);
  int rc = sqlite3_open_v2(path.c_str(), &db, flags, nullptr);
  if (rc != SQLITE_OK) {
    std::string detail = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close_v2(db);
    return fail(code_for(rc),
                fmt::format("sqlite store {}: cannot open: {}; {}", path, detail, hint_for(rc)));
  }
  auto store = std::make_unique<SqliteStore>(path, clock, db);
  if (auto s = store->init(); !s) return fail(s.error());
  return store;
}

}  // namespace ergon
