// The HTTP API of `ergon serve`: routes, authentication, the worker pool that
// runs sessions, and the approvals queue that blocks a worker until a person
// decides.
#include <fcntl.h>
#include <httplib.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "ergon/engine.h"
#include "ergon/planner.h"
#include "ergon/serve.h"
#include "ergon/workspace.h"
#include "serve/internal/console.h"
#include "serve/internal/fenced_store.h"
#include "serve/internal/metrics.h"

namespace ergon {

using serve_internal::FencedStore;
using serve_internal::Metrics;

namespace {

std::string random_hex(size_t bytes) {
  std::vector<unsigned char> buffer(bytes);
  if (RAND_bytes(buffer.data(), static_cast<int>(bytes)) != 1) {
    std::random_device device;
    for (auto& b : buffer) b = static_cast<unsigned char>(device());
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char b : buffer) {
    out += kHex[b >> 4];
    out += kHex[b & 15];
  }
  return out;
}

void send_json(httplib::Response& res, int status, const Json& body) {
  res.status = status;
  res.set_content(body.dump(), "application/json");
}

void send_error(httplib::Response& res, int status, const std::string& message) {
  send_json(res, status, {{"error", message}});
}

int http_status_for(const Error& error) {
  switch (error.code) {
    case ErrorCode::kInvalidInput: return 400;
    case ErrorCode::kNotFound: return 404;
    case ErrorCode::kNeedsPerson: return 422;
    case ErrorCode::kDenied: return 403;
    case ErrorCode::kFailedPrecondition: return 409;
    case ErrorCode::kUnavailable:
    case ErrorCode::kTimeout: return 503;
    default: return 500;
  }
}

bool final_status(SessionStatus status) {
  return status == SessionStatus::kDone || status == SessionStatus::kFailed ||
         status == SessionStatus::kAborted;
}

// Sent with every response: the console loads nothing but its own files and
// cannot be framed; API answers are never sniffed into something else.
constexpr const char* kContentSecurityPolicy =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

// The console's login cookie: HttpOnly, so page scripts never see it, and
// SameSite=Strict, so no other site's page sends it.
constexpr const char* kCookie = "ergon_console";
constexpr int64_t kLoginMs = 12 * 3600 * 1000;

// The HTTP threads, and how many of them event streams may hold at once.
constexpr size_t kHttpThreads = 32;
constexpr int kMaxStreams = 24;

std::string cookie_value(const httplib::Request& req, const std::string& name) {
  std::string header = req.get_header_value("Cookie");
  size_t pos = 0;
  while (pos < header.size()) {
    size_t end = header.find(';', pos);
    if (end == std::string::npos) end = header.size();
    std::string_view pair = std::string_view(header).substr(pos, end - pos);
    while (!pair.empty() && pair.front() == ' ') pair.remove_prefix(1);
    if (pair.starts_with(name) && pair.size() > name.size() && pair[name.size()] == '=') {
      return std::string(pair.substr(name.size() + 1));
    }
    pos = end + 1;
  }
  return "";
}

// A browser names the page's origin on a cross-origin request; it must be
// this server as the browser reached it (directly, or through a TLS proxy
// that keeps the Host header).
bool same_origin(const httplib::Request& req) {
  std::string origin = req.get_header_value("Origin");
  if (origin.empty()) return true;
  std::string host = req.get_header_value("Host");
  return origin == "http://" + host || origin == "https://" + host;
}

bool same_secret(const std::string& a, const std::string& b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

const char* content_type(const std::string& file) {
  std::string ext = std::filesystem::path(file).extension().string();
  if (ext == ".html") return "text/html; charset=utf-8";
  if (ext == ".js" || ext == ".mjs") return "text/javascript; charset=utf-8";
  if (ext == ".css") return "text/css; charset=utf-8";
  if (ext == ".svg") return "image/svg+xml";
  if (ext == ".png") return "image/png";
  return "application/octet-stream";
}

std::string serve_lock_path(const std::string& store_path) {
  return (std::filesystem::path(store_path).parent_path() / "serve.lock").string();
}

// How many sessions are in each state, every state named (zero included).
std::map<std::string, int64_t> count_by_status(const std::vector<SessionInfo>& sessions) {
  std::map<std::string, int64_t> counts;
  for (SessionStatus status :
       {SessionStatus::kRunning, SessionStatus::kWaiting, SessionStatus::kDone,
        SessionStatus::kFailed, SessionStatus::kAborted}) {
    counts[to_string(status)] = 0;
  }
  for (const SessionInfo& info : sessions) ++counts[to_string(info.status)];
  return counts;
}

Json event_json(const Event& e) {
  Json row = e.body();
  row["prev_hash"] = e.prev_hash;
  row["hash"] = e.hash;
  return row;
}

}  // namespace

// An approval a worker waits on. Guarded by Server::Impl::mu_.
struct PendingApproval {
  std::string id;
  ApprovalRequest request;
  std::string goal;     // the session's, for the person deciding
  std::string creator;  // who started the session (four eyes)
  std::string hash;
  int64_t created_ms = 0;
  bool decided = false;
  ApprovalDecision decision;

  Json to_json() const {
    return {{"id", id},
            {"session", request.session},
            {"step", request.step},
            {"action", request.action},
            {"effect", ergon::to_string(request.effect)},
            {"args", request.args},
            {"reason", request.reason},
            {"preview", request.preview},
            {"needs_person", request.needs_person},
            {"created_ms", created_ms},
            {"goal", goal},
            {"hash", hash}};
  }

  // The browser's screenshot of the page the action would change, if any.
  std::string screenshot() const {
    const Json& shot =
        request.preview.is_object() ? request.preview.value("screenshot", Json()) : Json();
    return shot.is_string() ? shot.get<std::string>() : "";
  }
};

class Server::Impl {
 public:
  explicit Impl(ServerOptions options) : options_(std::move(options)) {
    clock_ = options_.clock ? options_.clock : &system_clock_;
  }
  ~Impl() { release_lock(); }

  Status start();
  void stop();
  const std::string& host() const { return options_.host; }

  int port_ = 0;

 private:
  // What the server knows of a session beyond its journal.
  struct SessionEntry {
    std::string creator;
    Json queued_plan;   // a plan posted but not started yet (kept across a restart)
    bool busy = false;  // queued or running on a worker
    bool cancel_requested = false;
    std::string cancelled_by;
    Json report;  // the last report of a run here
    std::string error;
  };

  // A worker thread and what its engine uses alone; the workspace, vault and
  // store are shared.
  struct Worker {
    ConnectorSet connectors;
    GuardChain guards;
    std::unique_ptr<FencedStore> store;
    std::unique_ptr<Approver> approver;
    std::unique_ptr<Engine> engine;
    std::thread thread;
  };

  class PoolApprover final : public Approver {
   public:
    explicit PoolApprover(Impl& server) : server_(server) {}
    Result<ApprovalDecision> approve(const ApprovalRequest& request) override {
      return server_.ask(request);
    }
    Result<std::string> answer(const QuestionRequest&) override {
      return fail(ErrorCode::kUnavailable, "answer through POST /v1/sessions/{id}/answers");
    }

   private:
    Impl& server_;
  };

  using Job = std::function<void(Worker&)>;

  Result<ApprovalDecision> ask(const ApprovalRequest& request);
  void release_lock() {
    if (lock_fd_ >= 0) ::close(lock_fd_);  // closing releases the flock
    lock_fd_ = -1;
  }
  void enqueue(const std::string& session, Job job);
  void enqueue_locked(const std::string& session, Job job);  // guarded by mu_; notify after
  void work(Worker& worker);
  void finished(const std::string& session, const Result<SessionReport>& report);
  void observe(const Event& event);
  void save_creators();  // guarded by mu_
  void load_creators();

  // A person logged in to the console: their cookie maps to this.
  struct ConsoleLogin {
    std::string token_hash;  // the token they logged in with; revoked with it
    std::string csrf;        // sent back in X-CSRF-Token on every POST
    int64_t expires_ms = 0;
  };

  // Authenticates the request by its bearer token, or by the console's
  // cookie (POSTs then need the login's CSRF token and a same-origin Origin);
  // on failure answers 401/403 and returns nullopt.
  std::optional<ApiToken> authorize(const httplib::Request& req, httplib::Response& res, Role need);
  // The token whose secret hashes to `hash`, re-reading the tokens file when
  // it changed (a token added or removed takes effect without a restart).
  std::optional<ApiToken> token_with_hash(const std::string& hash);
  std::optional<ApiToken> token_named(const std::string& name);
  bool four_eyes_applies(const PendingApproval& approval) const;  // guarded by mu_
  Json approval_json(const PendingApproval& approval) const;      // guarded by mu_
  void routes();
  void console_routes();
  void login(const httplib::Request& req, httplib::Response& res);
  void stats(httplib::Response& res);
  void start_queued(const std::string& id, std::shared_ptr<Plan> plan);
  void create_session(const ApiToken& who, const httplib::Request& req, httplib::Response& res);
  void list_sessions(const httplib::Request& req, httplib::Response& res);
  void get_session(const std::string& id, httplib::Response& res);
  void answer_session(const std::string& id, const ApiToken& who, const httplib::Request& req,
                      httplib::Response& res);
  void cancel_session(const std::string& id, const ApiToken& who, httplib::Response& res);
  void decide(const std::string& id, const ApiToken& who, const httplib::Request& req,
              httplib::Response& res);
  void events(const std::string& id, const httplib::Request& req, httplib::Response& res);
  void audit(const std::string& id, httplib::Response& res);
  std::string metrics_text();

  // constant after start():
  ServerOptions options_;
  SystemClock system_clock_;
  Clock* clock_ = nullptr;
  Workspace workspace_;
  std::unique_ptr<Vault> vault_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<SkillPlanner> planner_;
  std::unique_ptr<ModelClient> model_;  // when ergon.yaml has `model:`; thread-safe
  std::mutex tokens_mu_;
  std::vector<ApiToken> tokens_;  // guarded by tokens_mu_
  std::filesystem::file_time_type tokens_time_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::unique_ptr<httplib::Server> http_;
  std::thread listener_;
  Metrics metrics_;
  int lock_fd_ = -1;  // flock on .ergon/serve.lock while serving

  std::mutex mu_;
  std::condition_variable approvals_cv_;  // an approval was decided, or stopping
  std::condition_variable jobs_cv_;       // a job was queued, or stopping
  std::condition_variable events_cv_;     // an event was recorded, or stopping
  // guarded by mu_:
  bool stopping_ = false;
  bool started_ = false;
  std::deque<std::pair<std::string, Job>> jobs_;
  std::map<std::string, SessionEntry> sessions_;
  std::map<std::string, std::shared_ptr<PendingApproval>> approvals_;
  std::map<std::string, ConsoleLogin> logins_;  // by cookie
  int open_streams_ = 0;                        // GET .../events being served
  // Finished sessions never change: what /v1/stats needs of each, by id.
  std::map<std::string, Json> finished_summaries_;
};

Status Server::Impl::start() {
  auto workspace = load_workspace(options_.workspace_dir);
  if (!workspace) return fail(workspace.error());
  workspace_ = std::move(*workspace);
  if (options_.tokens_file.empty()) options_.tokens_file = default_tokens_path(workspace_.dir);
  auto tokens = load_tokens(options_.tokens_file);
  if (!tokens) return fail(tokens.error());
  tokens_ = std::move(*tokens);
  std::error_code time_error;
  tokens_time_ = std::filesystem::last_write_time(options_.tokens_file, time_error);
  auto vault = Vault::open(workspace_.vault_file);
  if (!vault) return fail(vault.error());
  vault_ = std::move(*vault);
  auto store = open_sqlite_store(workspace_.store_path, *clock_);
  if (!store) return fail(store.error());
  store_ = std::move(*store);
  // One server per workspace: a second would resume the first one's
  // running sessions and run them twice.
  std::string lock_path = serve_lock_path(workspace_.store_path);
  lock_fd_ = ::open(lock_path.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0600);
  if (lock_fd_ < 0 || ::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    release_lock();
    return fail(ErrorCode::kFailedPrecondition,
                "another ergon serve is serving " + workspace_.dir + " (" + lock_path +
                    " is locked): stop it first, or serve another workspace");
  }
  planner_ = std::make_unique<SkillPlanner>(workspace_.skills, SkillPlannerOptions{}, clock_);
  if (workspace_.model) {
    auto model = make_openai_client(*workspace_.model, *clock_, *vault_);
    if (!model) return fail(model.error().with_context("ergon.yaml: model: "));
    model_ = std::move(*model);
  }
  load_creators();

  int count = std::max(1, options_.workers);
  for (int i = 0; i < count; ++i) {
    auto worker = std::make_unique<Worker>();
    // Each worker has its own connectors (a browser connector is one page)
    // and guard chain; the engine is one session at a time.
    auto connectors = build_connectors(workspace_, *vault_);
    if (!connectors) return fail(connectors.error());
    worker->connectors = std::move(*connectors);
    auto guards = make_guard_chain(workspace_.guards, workspace_.policy);
    if (!guards) return fail(guards.error());
    worker->guards = std::move(*guards);
    worker->store = std::make_unique<FencedStore>(*store_);
    worker->approver = std::make_unique<PoolApprover>(*this);
    worker->engine = std::make_unique<Engine>(
        EngineParts{&workspace_, &worker->connectors, worker->store.get(), worker->approver.get(),
                    clock_, &worker->guards, vault_.get(), model_.get()});
    worker->engine->on_event([this](const Event& e) { observe(e); });
    worker->engine->stop_when([this](const std::string& session) {
      std::lock_guard lock(mu_);
      auto entry = sessions_.find(session);
      if (entry == sessions_.end() || !entry->second.cancel_requested) return std::string();
      return "cancelled by " + entry->second.cancelled_by;
    });
    workers_.push_back(std::move(worker));
  }

  http_ = std::make_unique<httplib::Server>();
  http_->set_payload_max_length(options_.max_body_bytes);
  // Small answers go out at once rather than waiting on the client's ack
  // (Nagle's algorithm held every keep-alive answer for ~40 ms).
  http_->set_tcp_nodelay(true);
  // Event streams hold a thread each for as long as they are open.
  http_->new_task_queue = [] { return new httplib::ThreadPool(kHttpThreads); };
  http_->set_post_routing_handler([](const httplib::Request&, httplib::Response& res) {
    res.set_header("Content-Security-Policy", kContentSecurityPolicy);
    res.set_header("X-Content-Type-Options", "nosniff");
    res.set_header("Referrer-Policy", "no-referrer");
    if (!res.has_header("Cache-Control")) res.set_header("Cache-Control", "no-store");
  });
  routes();
  console_routes();
  if (options_.port == 0) {
    port_ = http_->bind_to_any_port(options_.host);
    if (port_ <= 0) {
      return fail(ErrorCode::kUnavailable, "cannot listen on " + options_.host + " (any port)");
    }
  } else {
    if (!http_->bind_to_port(options_.host, options_.port)) {
      return fail(ErrorCode::kUnavailable, "cannot listen on " + options_.host + ":" +
                                               std::to_string(options_.port) +
                                               " — is the port in use? Choose another with --port");
    }
    port_ = options_.port;
  }
  {
    std::lock_guard lock(mu_);
    started_ = true;
  }
  for (auto& worker : workers_) {
    Worker* w = worker.get();
    w->thread = std::thread([this, w] { work(*w); });
  }
  // Sessions that were running when the last server stopped (or crashed)
  // resume from their journal; an approval they waited for is asked again
  // (or denied, when a cancel was accepted before the stop).
  // A cancel accepted before the stop ends a session that waits.
  auto list = store_->sessions();
  if (list) {
    for (const SessionInfo& info : *list) {
      std::string id = info.id;
      if (info.status == SessionStatus::kRunning) {
        enqueue(id, [this, id](Worker& w) { finished(id, w.engine->resume(id)); });
      } else if (info.status == SessionStatus::kWaiting) {
        std::string reason;
        {
          std::lock_guard lock(mu_);
          auto entry = sessions_.find(id);
          if (entry == sessions_.end() || !entry->second.cancel_requested) continue;
          reason = "cancelled by " + entry->second.cancelled_by;
        }
        enqueue(id, [this, id, reason](Worker& w) { finished(id, w.engine->cancel(id, reason)); });
      }
    }
  }
  // Plans posted but not started when the last server stopped start now.
  std::vector<std::pair<std::string, Json>> queued;
  {
    std::lock_guard lock(mu_);
    for (const auto& [id, entry] : sessions_) {
      if (!entry.queued_plan.is_null()) queued.emplace_back(id, entry.queued_plan);
    }
  }
  for (const auto& [id, json] : queued) {
    auto plan = plan_from_json(json);
    if (plan && !store_->session(id)) {
      start_queued(id, std::make_shared<Plan>(std::move(*plan)));
    } else {
      std::lock_guard lock(mu_);
      sessions_[id].queued_plan = Json();
      save_creators();
    }
  }
  listener_ = std::thread([this] { http_->listen_after_bind(); });
  // httplib's stop() does nothing until the listener runs: a stop() right
  // after start() would otherwise leave it listening for ever.
  for (int waited_ms = 0; !http_->is_running() && waited_ms < 10'000; ++waited_ms) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return {};
}

void Server::Impl::stop() {
  {
    std::lock_guard lock(mu_);
    if (!started_ || stopping_) return;
    // Fenced first: a session whose approval is cut short writes nothing
    // more, and resumes on the next start as it stands.
    for (auto& worker : workers_) worker->store->fence();
    stopping_ = true;
  }
  approvals_cv_.notify_all();
  jobs_cv_.notify_all();
  events_cv_.notify_all();
  if (http_) http_->stop();
  if (listener_.joinable()) listener_.join();
  for (auto& worker : workers_) {
    if (worker->thread.joinable()) worker->thread.join();
  }
  release_lock();
}

Result<ApprovalDecision> Server::Impl::ask(const ApprovalRequest& request) {
  auto info = store_->session(request.session);
  // Who the journal says the session acts for, for a session this server
  // did not create (started from the command line: "local").
  std::string principal;
  if (auto events = store_->events(request.session); events && !events->empty()) {
    const Json& started = events->front().data;
    if (started.contains("principal") && started["principal"].is_string()) {
      principal = started["principal"];
    }
  }
  std::unique_lock lock(mu_);
  if (stopping_) return fail(ErrorCode::kUnavailable, "the server is stopping");
  SessionEntry& entry = sessions_[request.session];
  if (entry.cancel_requested) {
    return ApprovalDecision{ApprovalAnswer::kNo, entry.cancelled_by, "the session was cancelled"};
  }
  auto pending = std::make_shared<PendingApproval>();
  pending->id = "a-" + random_hex(8);
  pending->request = request;
  if (info) pending->goal = info->goal;
  pending->creator = entry.creator.empty() ? principal : entry.creator;
  pending->created_ms = clock_->now_ms();
  // The exact action shown: approving binds to it.
  pending->hash = sha256_hex(canonical_json({{"session", request.session},
                                             {"step", request.step},
                                             {"action", request.action},
                                             {"args", request.args}}));
  approvals_[pending->id] = pending;
  events_cv_.notify_all();
  approvals_cv_.wait(lock, [&] { return pending->decided || stopping_; });
  approvals_.erase(pending->id);
  if (!pending->decided) {
    return fail(ErrorCode::kUnavailable, "the server stopped while the approval was pending");
  }
  metrics_.approval_decided(static_cast<double>(clock_->now_ms() - pending->created_ms) / 1000.0);
  return pending->decision;
}

void Server::Impl::enqueue(const std::string& session, Job job) {
  {
    std::lock_guard lock(mu_);
    enqueue_locked(session, std::move(job));
  }
  jobs_cv_.notify_one();
}

void Server::Impl::enqueue_locked(const std::string& session, Job job) {
  sessions_[session].busy = true;
  jobs_.emplace_back(session, std::move(job));
}

void Server::Impl::work(Worker& worker) {
  while (true) {
    std::pair<std::string, Job> job;
    {
      std::unique_lock lock(mu_);
      jobs_cv_.wait(lock, [&] { return stopping_ || !jobs_.empty(); });
      if (stopping_) return;
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    try {
      job.second(worker);
    } catch (const std::exception& e) {
      // A bug must not end every other session with the process.
      finished(job.first, fail(ErrorCode::kInternal, std::string("internal error: ") + e.what()));
    }
  }
}

void Server::Impl::finished(const std::string& session, const Result<SessionReport>& report) {
  bool still_cancelling = false;
  std::string reason;
  {
    std::lock_guard lock(mu_);
    SessionEntry& entry = sessions_[session];
    entry.busy = false;
    if (report) {
      // Like the journal, what the API shows has the vault's secrets masked.
      entry.report = vault_->redact(to_json(*report));
      entry.error.clear();
    } else if (!stopping_) {
      entry.error = vault_->redact(report.error().message);
    }
    // Cancelled, but the run stopped short of ending it (it went on to wait
    // for answers, or failed): end it now.
    still_cancelling =
        entry.cancel_requested && !stopping_ && !(report && final_status(report->status));
    if (still_cancelling) {
      entry.cancel_requested = false;  // once: Engine::cancel ends it or says why not
      reason = "cancelled by " + entry.cancelled_by;
    }
  }
  if (still_cancelling) {
    enqueue(session, [this, session, reason](Worker& w) {
      finished(session, w.engine->cancel(session, reason));
    });
  }
  events_cv_.notify_all();
}

void Server::Impl::observe(const Event& event) {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
  }
  metrics_.observe(event, clock_->now_ms());
  events_cv_.notify_all();
}

// Who created each session, for four-eyes after a restart:
// <workspace>/.ergon/serve-sessions.json.
void Server::Impl::save_creators() {
  Json out = Json::object();
  for (const auto& [id, entry] : sessions_) {
    if (entry.creator.empty()) continue;
    out[id] = {{"creator", entry.creator}};
    if (!entry.queued_plan.is_null()) out[id]["queued_plan"] = entry.queued_plan;
    if (entry.cancel_requested) out[id]["cancelled_by"] = entry.cancelled_by;
  }
  std::filesystem::path path =
      std::filesystem::path(workspace_.store_path).parent_path() / "serve-sessions.json";
  std::string tmp = path.string() + ".tmp";
  std::ofstream file(tmp, std::ios::trunc);
  file << out.dump() << "\n";
  file.close();
  std::error_code ec;
  if (file) {
    std::filesystem::rename(tmp, path, ec);  // only a whole file replaces the last one
  } else {
    std::filesystem::remove(tmp, ec);
  }
}

void Server::Impl::load_creators() {
  std::filesystem::path path =
      std::filesystem::path(workspace_.store_path).parent_path() / "serve-sessions.json";
  std::ifstream in(path);
  if (!in) return;
  std::stringstream text;
  text << in.rdbuf();
  Json json = Json::parse(text.str(), nullptr, false);
  if (!json.is_object()) return;
  std::lock_guard lock(mu_);
  for (const auto& [id, row] : json.items()) {
    if (!row.is_object()) continue;
    if (row.contains("creator") && row["creator"].is_string())
      sessions_[id].creator = row["creator"];
    if (row.contains("queued_plan")) sessions_[id].queued_plan = row["queued_plan"];
    if (row.contains("cancelled_by") && row["cancelled_by"].is_string()) {
      // A cancel accepted before a restart still stands.
      sessions_[id].cancel_requested = true;
      sessions_[id].cancelled_by = row["cancelled_by"];
    }
  }
}

std::optional<ApiToken> Server::Impl::token_with_hash(const std::string& hash) {
  std::lock_guard lock(tokens_mu_);
  std::error_code ec;
  auto time = std::filesystem::last_write_time(options_.tokens_file, ec);
  if (ec) {
    tokens_.clear();  // the file was removed: no token is valid any more
  } else if (time != tokens_time_) {
    // A file that does not parse keeps the tokens already loaded.
    if (auto tokens = load_tokens(options_.tokens_file)) {
      tokens_ = std::move(*tokens);
      tokens_time_ = time;
    }
  }
  for (const ApiToken& token : tokens_) {
    if (same_secret(token.hash, hash)) return token;
  }
  return std::nullopt;
}

std::optional<ApiToken> Server::Impl::token_named(const std::string& name) {
  std::lock_guard lock(tokens_mu_);
  for (const ApiToken& token : tokens_) {
    if (token.name == name) return token;
  }
  return std::nullopt;
}

std::optional<ApiToken> Server::Impl::authorize(const httplib::Request& req, httplib::Response& res,
                                                Role need) {
  std::optional<ApiToken> who;
  std::string header = req.get_header_value("Authorization");
  constexpr std::string_view kBearer = "Bearer ";
  if (!header.empty()) {
    if (header.starts_with(kBearer)) {
      who = token_with_hash(sha256_hex(std::string_view(header).substr(kBearer.size())));
    }
    if (!who) {
      res.set_header("WWW-Authenticate", "Bearer");
      send_error(res, 401,
                 header.starts_with(kBearer)
                     ? "unknown token"
                     : "expected Authorization: Bearer <token> (make one with `ergon serve token "
                       "add NAME --role ROLE`)");
      return std::nullopt;
    }
  } else if (std::string cookie = cookie_value(req, kCookie); !cookie.empty()) {
    ConsoleLogin login;
    {
      std::lock_guard lock(mu_);
      auto found = logins_.find(cookie);
      if (found != logins_.end() && found->second.expires_ms <= clock_->now_ms()) {
        logins_.erase(found);
        found = logins_.end();
      }
      if (found != logins_.end()) login = found->second;
    }
    if (!login.token_hash.empty()) who = token_with_hash(login.token_hash);
    if (!who) {
      send_error(res, 401, "your console login has ended: log in again");
      return std::nullopt;
    }
    if (req.method != "GET" && req.method != "HEAD") {
      // A page of another site cannot read the CSRF token, and a browser
      // names the page's origin on every cross-origin POST.
      if (!same_secret(req.get_header_value("X-CSRF-Token"), login.csrf)) {
        send_error(res, 403,
                   "CSRF check failed: a console request must carry the X-CSRF-Token of its "
                   "login; reload the console");
        return std::nullopt;
      }
      if (!same_origin(req)) {
        send_error(res, 403,
                   "cross-origin request refused (Origin: " + req.get_header_value("Origin") + ")");
        return std::nullopt;
      }
    }
  } else {
    res.set_header("WWW-Authenticate", "Bearer");
    send_error(res, 401, "missing bearer token: send Authorization: Bearer <token>");
    return std::nullopt;
  }
  if (static_cast<int>(who->role) < static_cast<int>(need)) {
    send_error(res, 403,
               "token '" + who->name + "' has role " + to_string(who->role) + "; this needs " +
                   to_string(need) + " or above");
    return std::nullopt;
  }
  return who;
}

bool Server::Impl::four_eyes_applies(const PendingApproval& approval) const {
  return (options_.four_eyes || workspace_.policy.four_eyes()) &&
         approval.request.effect == Effect::kIrreversible;
}

Json Server::Impl::approval_json(const PendingApproval& approval) const {
  Json out = approval.to_json();
  out["creator"] = approval.creator;
  out["four_eyes"] = four_eyes_applies(approval);
  if (!approval.screenshot().empty()) {
    out["screenshot_url"] = "/v1/approvals/" + approval.id + "/screenshot";
  }
  return out;
}

void Server::Impl::routes() {
  httplib::Server& s = *http_;
  s.Post("/v1/sessions", [this](const httplib::Request& req, httplib::Response& res) {
    if (auto who = authorize(req, res, Role::kOperator)) create_session(*who, req, res);
  });
  s.Get("/v1/sessions", [this](const httplib::Request& req, httplib::Response& res) {
    if (authorize(req, res, Role::kViewer)) list_sessions(req, res);
  });
  s.Get(R"(/v1/sessions/([^/]+))", [this](const httplib::Request& req, httplib::Response& res) {
    if (authorize(req, res, Role::kViewer)) get_session(req.matches[1], res);
  });
  s.Post(R"(/v1/sessions/([^/]+)/answers)",
         [this](const httplib::Request& req, httplib::Response& res) {
           if (auto who = authorize(req, res, Role::kOperator)) {
             answer_session(req.matches[1], *who, req, res);
           }
         });
  s.Post(R"(/v1/sessions/([^/]+)/cancel)",
         [this](const httplib::Request& req, httplib::Response& res) {
           if (auto who = authorize(req, res, Role::kOperator)) {
             cancel_session(req.matches[1], *who, res);
           }
         });
  s.Get(R"(/v1/sessions/([^/]+)/events)",
        [this](const httplib::Request& req, httplib::Response& res) {
          if (authorize(req, res, Role::kViewer)) events(req.matches[1], req, res);
        });
  s.Get(R"(/v1/sessions/([^/]+)/audit)",
        [this](const httplib::Request& req, httplib::Response& res) {
          if (authorize(req, res, Role::kViewer)) audit(req.matches[1], res);
        });
  s.Get("/v1/approvals", [this](const httplib::Request& req, httplib::Response& res) {
    if (!authorize(req, res, Role::kViewer)) return;
    Json out = Json::array();
    std::lock_guard lock(mu_);
    for (const auto& [id, pending] : approvals_) {
      if (!pending->decided) out.push_back(approval_json(*pending));
    }
    send_json(res, 200, {{"approvals", out}});
  });
  s.Post(R"(/v1/approvals/([^/]+))", [this](const httplib::Request& req, httplib::Response& res) {
    if (auto who = authorize(req, res, Role::kApprover)) decide(req.matches[1], *who, req, res);
  });
  s.Get(R"(/v1/approvals/([^/]+)/screenshot)",
        [this](const httplib::Request& req, httplib::Response& res) {
          if (!authorize(req, res, Role::kViewer)) return;
          std::string path, session;
          {
            std::lock_guard lock(mu_);
            auto found = approvals_.find(req.matches[1]);
            if (found != approvals_.end() && !found->second->decided) {
              path = found->second->screenshot();
              session = found->second->request.session;
            }
          }
          // The preview is the connector's answer: serve only what the
          // browser connector wrote for this session, never another file.
          namespace fs = std::filesystem;
          std::error_code ec;
          fs::path shots = fs::weakly_canonical(
              fs::path(workspace_.dir) / ".ergon" / "browser" / "sessions" / session, ec);
          fs::path file = fs::weakly_canonical(path, ec);
          auto [end, rest] = std::mismatch(shots.begin(), shots.end(), file.begin(), file.end());
          if (path.empty() || session.empty() || end != shots.end() || rest == file.end() ||
              file.extension() != ".png") {
            path.clear();
          }
          std::ifstream in(path, std::ios::binary);
          if (path.empty() || !in) return send_error(res, 404, "no screenshot for this approval");
          std::stringstream bytes;
          bytes << in.rdbuf();
          res.set_content(bytes.str(), "image/png");
        });
  s.Get("/v1/stats", [this](const httplib::Request& req, httplib::Response& res) {
    if (authorize(req, res, Role::kViewer)) stats(res);
  });
  s.Get("/metrics", [this](const httplib::Request& req, httplib::Response& res) {
    if (!authorize(req, res, Role::kViewer)) return;
    res.set_content(metrics_text(), "text/plain; version=0.0.4");
  });
}

void Server::Impl::console_routes() {
  httplib::Server& s = *http_;
  s.Get("/",
        [](const httplib::Request&, httplib::Response& res) { res.set_redirect("/console/"); });
  s.Get(R"(/console/([^/]*))", [](const httplib::Request& req, httplib::Response& res) {
    std::string name = req.matches[1];
    if (name.empty()) name = "index.html";
    const auto& files = serve_internal::console_files();
    auto found = files.find(name);
    if (found == files.end()) return send_error(res, 404, "no console file " + name);
    res.set_header("Cache-Control", "no-cache");
    res.set_content(std::string(found->second), content_type(name));
  });
  s.Post("/v1/login",
         [this](const httplib::Request& req, httplib::Response& res) { login(req, res); });
  s.Get("/v1/whoami", [this](const httplib::Request& req, httplib::Response& res) {
    auto who = authorize(req, res, Role::kViewer);
    if (!who) return;
    Json out = {{"name", who->name}, {"role", to_string(who->role)}};
    std::lock_guard lock(mu_);
    if (auto found = logins_.find(cookie_value(req, kCookie)); found != logins_.end()) {
      out["csrf"] = found->second.csrf;
    }
    send_json(res, 200, out);
  });
  s.Post("/v1/logout", [this](const httplib::Request& req, httplib::Response& res) {
    if (!authorize(req, res, Role::kViewer)) return;
    {
      std::lock_guard lock(mu_);
      logins_.erase(cookie_value(req, kCookie));
    }
    res.set_header("Set-Cookie",
                   std::string(kCookie) + "=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0");
    send_json(res, 200, {{"logged_out", true}});
  });
}

// The console trades an API token for a cookie and a CSRF token, so the page
// never keeps the API token.
void Server::Impl::login(const httplib::Request& req, httplib::Response& res) {
  if (!same_origin(req)) {
    return send_error(
        res, 403, "cross-origin login refused (Origin: " + req.get_header_value("Origin") + ")");
  }
  Json body = Json::parse(req.body, nullptr, false);
  if (body.is_discarded() || !body.is_object() || !body.contains("token") ||
      !body["token"].is_string()) {
    return send_error(res, 400, "the body must be {\"token\": \"<API token>\"}");
  }
  std::string hash = sha256_hex(body["token"].get<std::string>());
  auto who = token_with_hash(hash);
  if (!who) return send_error(res, 401, "unknown token");
  std::string cookie = random_hex(32);
  ConsoleLogin login{hash, random_hex(32), clock_->now_ms() + kLoginMs};
  {
    std::lock_guard lock(mu_);
    std::erase_if(logins_,
                  [&](const auto& pair) { return pair.second.expires_ms <= clock_->now_ms(); });
    logins_[cookie] = login;
  }
  res.set_header("Set-Cookie", std::string(kCookie) + "=" + cookie +
                                   "; HttpOnly; SameSite=Strict; Path=/; Max-Age=" +
                                   std::to_string(kLoginMs / 1000));
  send_json(res, 200, {{"name", who->name}, {"role", to_string(who->role)}, {"csrf", login.csrf}});
}

// What an operator watches: how much ran without a person, how often people
// were asked, and what failed.
void Server::Impl::stats(httplib::Response& res) {
  auto list = store_->sessions();
  if (!list) return send_error(res, 500, list.error().message);
  Json by_status = count_by_status(*list);
  int64_t finished = 0, zero_intervention = 0, approvals = 0;
  std::vector<Json> errors;
  for (const SessionInfo& info : *list) {
    if (!final_status(info.status)) continue;
    ++finished;
    Json summary;
    {
      std::lock_guard lock(mu_);
      if (auto found = finished_summaries_.find(info.id); found != finished_summaries_.end()) {
        summary = found->second;
      }
    }
    if (summary.is_null()) {
      auto events = store_->events(info.id);
      if (!events) continue;
      int64_t asked = 0, questions = 0;
      std::string error;
      for (const Event& e : *events) {
        if (e.type == event::kApproval) ++asked;
        if (e.type == event::kQuestion) ++questions;
        if (e.type == event::kSessionEnded) error = e.data.value("error", std::string());
      }
      summary = {{"approvals", asked}, {"questions", questions}, {"error", error}};
      std::lock_guard lock(mu_);
      finished_summaries_[info.id] = summary;
    }
    approvals += summary["approvals"].get<int64_t>();
    if (info.status == SessionStatus::kDone && summary["approvals"] == 0 &&
        summary["questions"] == 0) {
      ++zero_intervention;
    }
    if (info.status != SessionStatus::kDone) {
      errors.push_back({{"session", info.id},
                        {"goal", info.goal},
                        {"status", to_string(info.status)},
                        {"error", summary["error"]},
                        {"updated_ms", info.updated_ms}});
    }
  }
  std::sort(errors.begin(), errors.end(), [](const Json& a, const Json& b) {
    return a["updated_ms"].get<int64_t>() > b["updated_ms"].get<int64_t>();
  });
  if (errors.size() > 20) errors.resize(20);
  send_json(res, 200,
            {{"sessions", list->size()},
             {"by_status", by_status},
             {"finished", finished},
             {"zero_intervention", zero_intervention},
             {"approvals", approvals},
             {"approvals_per_task",
              finished == 0 ? 0.0 : static_cast<double>(approvals) / static_cast<double>(finished)},
             {"errors", errors}});
}

void Server::Impl::create_session(const ApiToken& who, const httplib::Request& req,
                                  httplib::Response& res) {
  Json body = Json::parse(req.body, nullptr, false);
  if (body.is_discarded() || !body.is_object()) {
    return send_error(res, 400,
                      "the body must be a JSON object: {\"goal\": \"...\"} or {\"plan\": {...}}");
  }
  Json slots = body.value("slots", Json::object());
  if (!slots.is_object()) return send_error(res, 400, "slots: expected an object {name: value}");
  if (body.contains("workspace")) {
    // One server serves one workspace; naming it guards against posting a
    // goal to the wrong one.
    std::error_code ec;
    std::filesystem::path served = std::filesystem::weakly_canonical(workspace_.dir, ec);
    const Json& named = body["workspace"];
    bool same = named.is_string() &&
                (named.get<std::string>() == served.filename().string() ||
                 std::filesystem::weakly_canonical(named.get<std::string>(), ec) == served);
    if (!same) {
      return send_error(res, 400,
                        "workspace: this server serves " + served.string() + " (name '" +
                            served.filename().string() +
                            "'); start another ergon serve for another workspace");
    }
  }
  bool has_goal = body.contains("goal") && body["goal"].is_string();
  bool has_plan = body.contains("plan") && body["plan"].is_object();
  if (has_goal == has_plan) {
    return send_error(res, 400, "give either \"goal\" (a string) or \"plan\" (an object)");
  }
  Result<Plan> plan = fail(ErrorCode::kInternal, "");
  if (has_goal) {
    const std::string goal = body["goal"].get<std::string>();
    plan = planner_->plan(goal, slots);
    ErrorCode code = plan ? ErrorCode::kInternal : plan.error().code;
    if (model_ && (code == ErrorCode::kNotFound || code == ErrorCode::kNeedsPerson)) {
      // No skill fits: the model plans, and nothing runs until a person has
      // read its plan and posts it back as {"plan": ...}.
      ModelPlanner model_planner(*model_, model_planner_input(workspace_, *vault_));
      auto made = model_planner.plan(goal, slots);
      if (!made) return send_error(res, http_status_for(made.error()), made.error().message);
      return send_json(res, 200,
                       {{"planner", "model"},
                        {"plan", to_json(*made)},
                        {"model_calls", model_planner.calls()},
                        {"next", "review the plan, then POST it as {\"plan\": ...} to run it"}});
    }
  } else {
    plan = plan_from_json(body["plan"]);
    if (plan) {
      for (const auto& [name, value] : slots.items()) plan->slots[name] = value;
    }
  }
  if (!plan) return send_error(res, http_status_for(plan.error()), plan.error().message);
  if (auto ok = validate_plan(*plan, workspace_.known_actions(*plan)); !ok) {
    return send_error(res, 400, ok.error().message);
  }
  std::string id = new_session_id();
  auto shared = std::make_shared<Plan>(std::move(*plan));
  {
    std::lock_guard lock(mu_);
    sessions_[id].creator = who.name;
    sessions_[id].queued_plan = to_json(*shared);
    save_creators();
  }
  start_queued(id, shared);
  send_json(res, 201, {{"id", id}, {"skill", shared->skill}, {"planner", shared->planner}});
}

// Queues a new session's first run. Until a worker takes it its plan is kept
// in serve-sessions.json, so a restart in between loses nothing.
void Server::Impl::start_queued(const std::string& id, std::shared_ptr<Plan> plan) {
  Principal principal;
  {
    std::lock_guard lock(mu_);
    principal.id = sessions_[id].creator;
  }
  if (auto token = token_named(principal.id)) principal.roles = {to_string(token->role)};
  enqueue(id, [this, id, plan, principal](Worker& w) {
    // Cancelled while queued: the engine journals it and stops before the
    // first step.
    auto report = w.engine->start(*plan, id, Json::array(), principal);
    if (store_->session(id)) {
      // Its journal has it now (a restart before this sees the journal and
      // does not start it again).
      std::lock_guard lock(mu_);
      sessions_[id].queued_plan = Json();
      save_creators();
    }
    finished(id, report);
  });
}

// Newest first; ?status=waiting,failed keeps those, ?limit=N the first N and
// ?offset=K skips K (for paging).
void Server::Impl::list_sessions(const httplib::Request& req, httplib::Response& res) {
  std::set<std::string> statuses;
  if (req.has_param("status")) {
    std::stringstream list(req.get_param_value("status"));
    for (std::string status; std::getline(list, status, ',');) {
      if (!parse_session_status(status)) {
        return send_error(
            res, 400,
            "status: '" + status + "' is not one of running, waiting, done, failed, aborted");
      }
      statuses.insert(status);
    }
  }
  size_t limit = SIZE_MAX, offset = 0;
  for (auto [name, field] : {std::pair{"limit", &limit}, std::pair{"offset", &offset}}) {
    if (!req.has_param(name)) continue;
    std::string text = req.get_param_value(name);
    if (text.empty() || text.size() > 9 ||
        text.find_first_not_of("0123456789") != std::string::npos) {
      return send_error(res, 400,
                        std::string(name) + ": expected a whole number, got '" + text + "'");
    }
    *field = std::stoul(text);
  }
  auto list = store_->sessions();
  if (!list) return send_error(res, 500, list.error().message);
  Json out = Json::array();
  size_t matched = 0;
  std::lock_guard lock(mu_);
  for (const SessionInfo& i : *list) {
    if (!statuses.empty() && !statuses.contains(to_string(i.status))) continue;
    if (matched++ < offset || out.size() >= limit) continue;
    auto entry = sessions_.find(i.id);
    out.push_back({{"id", i.id},
                   {"goal", i.goal},
                   {"status", to_string(i.status)},
                   {"busy", entry != sessions_.end() && entry->second.busy},
                   {"created_ms", i.created_ms},
                   {"updated_ms", i.updated_ms},
                   {"events", i.events}});
  }
  send_json(res, 200, {{"sessions", out}, {"total", matched}});
}

void Server::Impl::get_session(const std::string& id, httplib::Response& res) {
  Json out = {{"id", id}};
  auto info = store_->session(id);
  Json entry_report;
  std::string entry_error;
  bool busy = false;
  Json pending = Json::array();
  {
    std::lock_guard lock(mu_);
    auto entry = sessions_.find(id);
    if (entry != sessions_.end()) {
      busy = entry->second.busy;
      entry_report = entry->second.report;
      entry_error = entry->second.error;
      out["creator"] = entry->second.creator;
    }
    for (const auto& [aid, approval] : approvals_) {
      if (approval->request.session == id && !approval->decided) {
        pending.push_back(approval_json(*approval));
      }
    }
    if (!info && !busy) return send_error(res, 404, "no session " + id);
  }
  if (!info) {
    out["status"] = "queued";
    out["busy"] = true;
    out["steps"] = Json::object();
    out["approvals"] = pending;
    return send_json(res, 200, out);
  }
  out["goal"] = info->goal;
  out["status"] = to_string(info->status);
  out["busy"] = busy;
  out["created_ms"] = info->created_ms;
  out["updated_ms"] = info->updated_ms;
  out["events"] = info->events;
  out["head"] = info->head;
  auto events = store_->events(id);
  if (!events) return send_error(res, 500, events.error().message);
  Json steps = Json::object();
  Json questions = Json::object();
  Json report = entry_report;
  // What the session has done so far, live (the report comes at its end).
  int64_t actions = 0, asked = 0, granted = 0, denials = 0, compensations = 0, tokens = 0;
  for (const Event& e : *events) {
    const Json& d = e.data;
    if (e.type == event::kActionStarted) {
      ++actions;
    } else if (e.type == event::kApproval) {
      ++asked;
      if (d.value("approved", false)) ++granted;
    } else if (e.type == event::kGuardDecision) {
      // The chain stops at the first guard that does not allow.
      const Json& decisions = d.value("decisions", Json::array());
      if (decisions.is_array() && !decisions.empty() && decisions.back().is_object() &&
          decisions.back().value("verdict", std::string()) == "deny") {
        ++denials;
      }
    } else if (e.type == event::kCompensation) {
      ++compensations;
    } else if (e.type == event::kModelCall) {
      Json usage = d.value("usage", Json::object());
      if (usage.is_object()) {
        tokens +=
            usage.value("prompt_tokens", int64_t{0}) + usage.value("completion_tokens", int64_t{0});
      }
    }
    if (e.type == event::kStepState) {
      std::string step = d.value("step", std::string());
      int item = d.value("item", -1);
      Json state = {{"state", d.value("state", std::string())}};
      for (const char* key : {"detail", "error"}) {
        if (d.contains(key)) state[key] = d[key];
      }
      if (item < 0) {
        Json items = steps.contains(step) && steps[step].contains("items") ? steps[step]["items"]
                                                                           : Json::object();
        steps[step] = state;
        if (!items.empty()) steps[step]["items"] = items;
      } else {
        steps[step]["items"][std::to_string(item)] = state;
      }
    } else if (e.type == event::kQuestion) {
      questions[d.value("slot", std::string())] = d.value("text", std::string());
    } else if (e.type == event::kAnswer) {
      questions.erase(d.value("slot", std::string()));
    } else if (e.type == event::kSessionEnded && report.is_null()) {
      report = d;  // the summary journaled at the end: status, error, counts
    }
  }
  out["steps"] = steps;
  out["metrics"] = {{"events", info->events},
                    {"duration_ms", info->updated_ms - info->created_ms},
                    {"actions", actions},
                    {"approvals_asked", asked},
                    {"approvals_granted", granted},
                    {"denials", denials},
                    {"compensations", compensations},
                    {"model_tokens", tokens}};
  Json open = Json::array();
  if (info->status == SessionStatus::kWaiting) {
    for (const auto& [slot, text] : questions.items())
      open.push_back({{"slot", slot}, {"text", text}});
  }
  out["questions"] = open;
  out["approvals"] = pending;
  out["report"] = report;
  if (report.is_object() && !report.value("error", std::string()).empty()) {
    out["error"] = report["error"];
  }
  if (!entry_error.empty()) out["error"] = entry_error;
  send_json(res, 200, out);
}

void Server::Impl::answer_session(const std::string& id, const ApiToken&,
                                  const httplib::Request& req, httplib::Response& res) {
  Json answers = Json::parse(req.body, nullptr, false);
  if (answers.is_discarded() || !answers.is_object() || answers.empty()) {
    return send_error(res, 400, "the body must be a JSON object {slot: value}");
  }
  auto info = store_->session(id);
  if (!info) return send_error(res, 404, "no session " + id);
  if (info->status != SessionStatus::kWaiting) {
    return send_error(
        res, 409, "session " + id + " is " + to_string(info->status) + ", not waiting for answers");
  }
  // Only what the session asked can be answered.
  auto events = store_->events(id);
  if (!events) return send_error(res, 500, events.error().message);
  std::map<std::string, bool> open;
  for (const Event& e : *events) {
    if (e.type != event::kQuestion && e.type != event::kAnswer) continue;
    const Json& slot = e.data.contains("slot") ? e.data["slot"] : Json();
    if (slot.is_string()) open[slot.get<std::string>()] = e.type == event::kQuestion;
  }
  std::string asked;
  for (const auto& [slot, waiting] : open) {
    if (waiting) asked += (asked.empty() ? "" : ", ") + slot;
  }
  for (const auto& [slot, value] : answers.items()) {
    auto found = open.find(slot);
    if (found == open.end() || !found->second) {
      return send_error(res, 400,
                        "'" + slot + "' is not a question session " + id + " asked" +
                            (asked.empty() ? "" : " (it asks: " + asked + ")"));
    }
    if (!value.is_string() && !value.is_number() && !value.is_boolean()) {
      return send_error(res, 400, "'" + slot + "': expected a string, number or true/false");
    }
  }
  {
    // Checked and queued under one lock: two answers at once run it once.
    std::lock_guard lock(mu_);
    if (sessions_[id].busy) return send_error(res, 409, "session " + id + " is running");
    enqueue_locked(id,
                   [this, id, answers](Worker& w) { finished(id, w.engine->resume(id, answers)); });
  }
  jobs_cv_.notify_one();
  send_json(res, 202, {{"id", id}, {"resumed", true}});
}

void Server::Impl::cancel_session(const std::string& id, const ApiToken& who,
                                  httplib::Response& res) {
  auto info = store_->session(id);
  std::unique_lock lock(mu_);
  SessionEntry& entry = sessions_[id];
  if (!info && !entry.busy) {
    sessions_.erase(id);
    return send_error(res, 404, "no session " + id);
  }
  if (info && final_status(info->status)) {
    return send_error(res, 409,
                      "session " + id + " already ended (" + to_string(info->status) + ")");
  }
  std::string reason = "cancelled by " + who.name;
  if (entry.busy) {
    // Its pending approvals are denied (the engine then compensates per
    // policy), and so is anything it asks later.
    entry.cancel_requested = true;
    entry.cancelled_by = who.name;
    save_creators();
    for (auto& [aid, approval] : approvals_) {
      if (approval->request.session != id || approval->decided) continue;
      approval->decided = true;
      approval->decision = {ApprovalAnswer::kNo, who.name, reason};
    }
    lock.unlock();
    approvals_cv_.notify_all();
    return send_json(res, 202, {{"id", id}, {"cancelling", true}});
  }
  // Waiting for answers (or stopped): a worker ends it, compensating what it
  // completed. Queued under the same lock as the busy check, so a second
  // request cannot queue a second run.
  entry.cancel_requested = true;  // kept across a restart until it has run
  entry.cancelled_by = who.name;
  save_creators();
  enqueue_locked(id, [this, id, reason](Worker& w) { finished(id, w.engine->cancel(id, reason)); });
  lock.unlock();
  jobs_cv_.notify_one();
  send_json(res, 202, {{"id", id}, {"cancelling", true}});
}

void Server::Impl::decide(const std::string& id, const ApiToken& who, const httplib::Request& req,
                          httplib::Response& res) {
  Json body = Json::parse(req.body, nullptr, false);
  if (body.is_discarded() || !body.is_object()) {
    return send_error(res, 400,
                      "the body must be {\"decision\": \"approve\"|\"deny\", \"reason\": \"...\", "
                      "\"hash\": \"<the approval's hash>\"}");
  }
  std::string decision;
  if (body.contains("decision") && body["decision"].is_string()) decision = body["decision"];
  if (decision != "approve" && decision != "deny") {
    return send_error(res, 400, "decision: expected \"approve\" or \"deny\"");
  }
  if (body.contains("reason") && !body["reason"].is_string()) {
    return send_error(res, 400, "reason: expected a string");
  }
  if (!body.contains("hash") || !body["hash"].is_string()) {
    return send_error(res, 400, "hash: required, the hash of the approval as listed");
  }
  std::string reason = body.value("reason", std::string());
  {
    std::lock_guard lock(mu_);
    auto found = approvals_.find(id);
    if (found == approvals_.end() || found->second->decided) {
      return send_error(res, 404, "no pending approval " + id);
    }
    PendingApproval& pending = *found->second;
    if (body["hash"].get<std::string>() != pending.hash) {
      return send_error(res, 409,
                        "the action changed since it was shown (hash mismatch): reload the "
                        "approval and decide on what it now says.");
    }
    if (decision == "approve" && four_eyes_applies(pending)) {
      if (pending.creator.empty()) {
        return send_error(res, 403,
                          "four eyes: who started this session is not known, so nobody can be "
                          "shown to be someone else; deny it, or approve from the command line");
      }
      if (pending.creator == who.name) {
        return send_error(res, 403,
                          "four eyes: " + who.name +
                              " created this session and may not approve its irreversible "
                              "actions; another approver must");
      }
    }
    pending.decided = true;
    pending.decision = {decision == "approve" ? ApprovalAnswer::kYes : ApprovalAnswer::kNo,
                        who.name, reason};
  }
  approvals_cv_.notify_all();
  send_json(res, 200, {{"id", id}, {"decision", decision}, {"by", who.name}});
}

void Server::Impl::events(const std::string& id, const httplib::Request& req,
                          httplib::Response& res) {
  auto info = store_->session(id);
  {
    std::lock_guard lock(mu_);
    auto entry = sessions_.find(id);
    if (!info && (entry == sessions_.end() || !entry->second.busy)) {
      return send_error(res, 404, "no session " + id);
    }
  }
  int64_t after = 0;
  std::string last = req.get_header_value("Last-Event-ID");
  if (last.empty() && req.has_param("after")) last = req.get_param_value("after");
  if (!last.empty()) {
    try {
      after = std::stoll(last);
    } catch (const std::exception&) {
      return send_error(res, 400, "Last-Event-ID: expected an event's seq (a number)");
    }
  }
  {
    // Each open stream holds one of the HTTP pool's threads: keep some for
    // everything else (approvals above all).
    std::lock_guard lock(mu_);
    if (open_streams_ >= kMaxStreams) {
      res.set_header("Retry-After", "5");
      return send_error(res, 503,
                        "too many open event streams (" + std::to_string(kMaxStreams) +
                            "): close one, or poll GET /v1/sessions/{id}");
    }
    ++open_streams_;
  }
  res.set_header("Cache-Control", "no-cache");
  auto sent = std::make_shared<int64_t>(after);
  res.set_chunked_content_provider(
      "text/event-stream",
      [this, id, sent](size_t, httplib::DataSink& sink) {
        // Read the status before the events: once it is final, every event
        // is already in the journal.
        bool ended = false;
        bool busy = false;
        {
          std::lock_guard lock(mu_);
          if (stopping_) return false;
          auto entry = sessions_.find(id);
          busy = entry != sessions_.end() && entry->second.busy;
        }
        if (!busy) {
          auto info = store_->session(id);
          ended = info && final_status(info->status);
        }
        auto events = store_->events(id);
        if (!events) return false;
        std::string out;
        for (const Event& e : *events) {
          if (e.seq <= *sent) continue;
          out += "id: " + std::to_string(e.seq) + "\nevent: " + e.type +
                 "\ndata: " + event_json(e).dump() + "\n\n";
          *sent = e.seq;
        }
        if (!out.empty() && !sink.write(out.data(), out.size())) return false;
        if (ended) {
          sink.done();
          return true;
        }
        std::unique_lock lock(mu_);
        events_cv_.wait_for(lock, std::chrono::milliseconds(200));
        return !stopping_;
      },
      [this](bool) {
        std::lock_guard lock(mu_);
        --open_streams_;
      });
}

void Server::Impl::audit(const std::string& id, httplib::Response& res) {
  auto info = store_->session(id);
  if (!info) return send_error(res, 404, "no session " + id);
  auto events = store_->events(id);
  if (!events) return send_error(res, 500, events.error().message);
  Json rows = Json::array();
  for (const Event& e : *events) rows.push_back(event_json(e));
  Json out = {{"id", id}, {"events", rows}};
  auto verified = verify_session(*store_, id);
  out["chain"] = {{"ok", verified.has_value()},
                  {"error", verified ? "" : verified.error().message},
                  {"head", info->head},
                  {"events", info->events}};
  send_json(res, 200, out);
}

std::string Server::Impl::metrics_text() {
  auto list = store_->sessions();
  std::vector<SessionInfo> none;
  const std::vector<SessionInfo>& sessions = list ? *list : none;
  std::map<std::string, int64_t> by_state = count_by_status(sessions);
  std::set<std::string> journaled;
  for (const SessionInfo& i : sessions) journaled.insert(i.id);
  size_t pending = 0;
  {
    std::lock_guard lock(mu_);
    pending = static_cast<size_t>(std::count_if(approvals_.begin(), approvals_.end(),
                                                [](const auto& a) { return !a.second->decided; }));
    // Queued: on its way to a worker, with no journal yet.
    int64_t queued = 0;
    for (const auto& [id, entry] : sessions_) {
      if (entry.busy && !journaled.contains(id)) ++queued;
    }
    by_state["queued"] = queued;
  }
  return metrics_.render(by_state, pending);
}

bool workspace_served(const std::string& store_path) {
  int fd = ::open(serve_lock_path(store_path).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;  // never served
  bool held = ::flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK;
  ::close(fd);  // also releases the shared lock, if it was taken
  return held;
}

Server::Server(ServerOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}
Server::~Server() {
  stop();
}
Status Server::start() {
  return impl_->start();
}
void Server::stop() {
  impl_->stop();
}
int Server::port() const {
  return impl_->port_;
}
std::string Server::url() const {
  return "http://" + impl_->host() + ":" + std::to_string(port());
}

}  // namespace ergon
