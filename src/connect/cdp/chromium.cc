// Chromium over --remote-debugging-pipe. One reader thread owns the read end:
// it splits the stream on NUL bytes, hands answers to the callers waiting on
// their ids and events to subscribers and waiters, and, when the pipe closes
// or the process exits, reaps the process and fails everything still waiting.
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <sstream>
#include <string_view>
#include <thread>

#include "ergon/cdp.h"

namespace ergon {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// The browser's side of the pipe, fixed by Chromium.
constexpr int kBrowserReadFd = 3;
constexpr int kBrowserWriteFd = 4;
// Where the child keeps the exec-status pipe until execv closes it.
constexpr int kExecStatusFd = 5;

constexpr milliseconds kCloseGrace{2000};
constexpr milliseconds kExitGrace{3000};

std::string errno_text(int error) {
  return std::strerror(error);
}

std::string describe_status(int status) {
  if (WIFSIGNALED(status)) {
    int sig = WTERMSIG(status);
    const char* name = sigdescr_np(sig);
    return "chromium exited: signal " + std::to_string(sig) +
           (name != nullptr ? std::string(" (") + name + ")" : "");
  }
  if (WIFEXITED(status)) return "chromium exited: status " + std::to_string(WEXITSTATUS(status));
  return "chromium exited";
}

// The last `limit` bytes of a file, for launch failures.
std::string file_tail(const std::string& path, size_t limit) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  if (text.size() > limit) text = "…" + text.substr(text.size() - limit);
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

// Writes with SIGPIPE blocked on this thread, so a browser that went away is
// an EPIPE and not a process-wide signal; a SIGPIPE raised meanwhile is
// consumed before the mask is restored.
class SigpipeBlock {
 public:
  SigpipeBlock() {
    sigemptyset(&set_);
    sigaddset(&set_, SIGPIPE);
    sigset_t pending;
    sigpending(&pending);
    was_pending_ = sigismember(&pending, SIGPIPE) == 1;
    pthread_sigmask(SIG_BLOCK, &set_, &old_);
  }
  ~SigpipeBlock() {
    if (!was_pending_) {
      timespec zero{};
      while (sigtimedwait(&set_, nullptr, &zero) == SIGPIPE) {
      }
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }

 private:
  sigset_t set_;
  sigset_t old_;
  bool was_pending_ = false;
};

struct WaiterState {
  std::mutex mu;
  std::condition_variable cv;
  std::function<bool(const CdpEvent&)> match;
  std::optional<CdpEvent> event;  // guarded by mu
  std::string gone;               // guarded by mu: exit reason once the browser went away
};

class EventWaiter : public Chromium::Waiter {
 public:
  explicit EventWaiter(std::shared_ptr<WaiterState> state) : state_(std::move(state)) {}
  Result<CdpEvent> wait(milliseconds timeout) override {
    std::unique_lock lock(state_->mu);
    state_->cv.wait_for(lock, timeout,
                        [&] { return state_->event.has_value() || !state_->gone.empty(); });
    if (state_->event) return *state_->event;
    if (!state_->gone.empty()) return fail(ErrorCode::kUnavailable, state_->gone);
    return fail(ErrorCode::kTimeout,
                "no matching CDP event within " + std::to_string(timeout.count()) + " ms");
  }

 private:
  std::shared_ptr<WaiterState> state_;
};

}  // namespace

class Chromium::Impl {
 public:
  explicit Impl(ChromiumOptions opts) : options(std::move(opts)) {}

  // Constant after launch.
  ChromiumOptions options;
  pid_t pid = -1;
  int write_fd = -1;  // our end of the browser's fd 3 (non-blocking)
  int read_fd = -1;   // our end of the browser's fd 4
  std::string log_path;
  std::thread reader;
  std::thread::id reader_id;

  struct Pending {
    bool done = false;
    Result<Json> result;
  };

  mutable std::mutex mu;
  std::condition_variable cv;
  int next_id = 1;                                                  // guarded by mu
  std::map<int, Pending> pending;                                   // guarded by mu
  bool alive = true;                                                // guarded by mu
  std::string exit_reason;                                          // guarded by mu
  std::map<int, std::function<void(const CdpEvent&)>> subscribers;  // guarded by mu
  int next_subscriber = 1;                                          // guarded by mu
  std::vector<std::weak_ptr<WaiterState>> waiters;                  // guarded by mu

  // One message on the pipe at a time; waiting for the turn has a deadline.
  std::mutex write_mu;
  std::condition_variable write_cv;
  bool writing = false;    // guarded by write_mu
  std::mutex dispatch_mu;  // held while handlers run, so unsubscribe can wait them out
  std::mutex process_mu;   // guards reaped; signals go only to an unreaped process
  bool reaped = false;

  Status send(const std::string& message, Clock::time_point deadline);
  Result<Json> call(const std::string& method, const Json& params, const std::string& session,
                    milliseconds timeout);
  void read_loop();
  void handle(std::string_view text);
  void dispatch(const CdpEvent& event);
  void finish();
  void kill_group();
  bool is_alive() const {
    std::lock_guard lock(mu);
    return alive;
  }
};

Status Chromium::Impl::send(const std::string& message, Clock::time_point deadline) {
  {
    std::unique_lock turn(write_mu);
    if (!write_cv.wait_until(turn, deadline, [&] { return !writing; })) {
      return fail(ErrorCode::kTimeout, "chromium's command pipe is busy (the browser may be hung)");
    }
    writing = true;
  }
  struct TurnEnd {
    Impl& impl;
    ~TurnEnd() {
      {
        std::lock_guard turn(impl.write_mu);
        impl.writing = false;
      }
      impl.write_cv.notify_one();
    }
  } turn_end{*this};
  SigpipeBlock block;
  size_t done = 0;
  while (done < message.size()) {
    ssize_t n = ::write(write_fd, message.data() + done, message.size() - done);
    if (n > 0) {
      done += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) {
      auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now()).count();
      if (left <= 0) {
        return fail(ErrorCode::kTimeout,
                    "chromium does not read its command pipe (the browser may be hung)");
      }
      pollfd p{write_fd, POLLOUT, 0};
      ::poll(&p, 1, static_cast<int>(std::min<long long>(left, 100)));
      continue;
    }
    // The pipe closed: the browser is going away. The reader knows why as
    // soon as it has reaped it.
    int error = errno;
    std::unique_lock state(mu);
    cv.wait_until(state, std::min(deadline, Clock::now() + kExitGrace + kCloseGrace),
                  [&] { return !alive; });
    return fail(
        ErrorCode::kUnavailable,
        exit_reason.empty() ? "chromium's command pipe closed: " + errno_text(error) : exit_reason);
  }
  return {};
}

Result<Json> Chromium::Impl::call(const std::string& method, const Json& params,
                                  const std::string& session, milliseconds timeout) {
  if (timeout.count() <= 0) timeout = options.command_timeout;
  auto deadline = Clock::now() + timeout;
  int id = 0;
  {
    std::lock_guard lock(mu);
    if (!alive) return fail(ErrorCode::kUnavailable, exit_reason);
    id = next_id++;
    pending.emplace(id, Pending{});
  }
  Json message = {{"id", id}, {"method", method}, {"params", params}};
  if (!session.empty()) message["sessionId"] = session;
  std::string text = message.dump(-1, ' ', false, Json::error_handler_t::replace);
  text.push_back('\0');
  if (auto sent = send(text, deadline); !sent) {
    std::lock_guard lock(mu);
    pending.erase(id);
    return fail(sent.error().with_context(method + ": "));
  }
  std::unique_lock lock(mu);
  auto it = pending.find(id);
  cv.wait_until(lock, deadline, [&] { return it->second.done; });
  if (!it->second.done) {
    pending.erase(it);
    return fail(ErrorCode::kTimeout, "chromium did not answer " + method + " within " +
                                         std::to_string(timeout.count()) + " ms");
  }
  Result<Json> result = std::move(it->second.result);
  pending.erase(it);
  return result;
}

void Chromium::Impl::read_loop() {
  std::string buffer;
  size_t scanned = 0;  // bytes of buffer known to hold no NUL
  std::vector<char> chunk(1 << 16);
  while (true) {
    pollfd p{read_fd, POLLIN, 0};
    int ready = ::poll(&p, 1, 200);
    if (ready < 0 && errno == EINTR) continue;
    if (ready == 0) {
      // A browser whose helpers keep the pipe open may be gone without EOF.
      siginfo_t info{};
      if (::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
          info.si_pid == pid) {
        break;
      }
      continue;
    }
    ssize_t n = ::read(read_fd, chunk.data(), chunk.size());
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n <= 0) break;
    buffer.append(chunk.data(), static_cast<size_t>(n));
    size_t start = 0;
    for (size_t nul = buffer.find('\0', scanned); nul != std::string::npos;
         nul = buffer.find('\0', start)) {
      handle(std::string_view(buffer).substr(start, nul - start));
      start = nul + 1;
    }
    buffer.erase(0, start);
    scanned = buffer.size();
  }
  finish();
}

void Chromium::Impl::handle(std::string_view text) {
  Json message = Json::parse(text, nullptr, false);
  if (message.is_discarded() || !message.is_object()) {
    // An answer nlohmann cannot parse (e.g. a lone surrogate in a string):
    // fail its caller now rather than let it time out.
    constexpr std::string_view kIdPrefix = "{\"id\":";
    if (text.starts_with(kIdPrefix)) {
      int id = std::atoi(std::string(text.substr(kIdPrefix.size(), 12)).c_str());
      std::lock_guard lock(mu);
      if (auto it = pending.find(id); it != pending.end()) {
        it->second.done = true;
        it->second.result = fail(ErrorCode::kInternal, "chromium sent an unparseable answer");
        cv.notify_all();
      }
    }
    return;
  }
  if (auto id = message.find("id"); id != message.end() && id->is_number_integer()) {
    std::lock_guard lock(mu);
    auto it = pending.find(id->get<int>());
    if (it == pending.end()) return;  // its caller timed out
    it->second.done = true;
    if (auto error = message.find("error"); error != message.end()) {
      std::string text_error = error->value("message", std::string("CDP error"));
      if (auto data = error->find("data"); data != error->end() && data->is_string()) {
        text_error += ": " + data->get<std::string>();
      }
      it->second.result = fail(ErrorCode::kFailedPrecondition, text_error);
    } else {
      // Moved, not copied: an accessibility tree can be megabytes.
      auto result = message.find("result");
      it->second.result = result != message.end() ? std::move(*result) : Json::object();
    }
    cv.notify_all();
    return;
  }
  if (auto method = message.find("method"); method != message.end() && method->is_string()) {
    CdpEvent event{method->get<std::string>(), message.value("params", Json::object()),
                   message.value("sessionId", std::string())};
    dispatch(event);
  }
}

void Chromium::Impl::dispatch(const CdpEvent& event) {
  std::lock_guard dispatching(dispatch_mu);
  std::vector<std::function<void(const CdpEvent&)>> handlers;
  std::vector<std::shared_ptr<WaiterState>> live;
  {
    std::lock_guard lock(mu);
    handlers.reserve(subscribers.size());
    for (auto& [id, handler] : subscribers) handlers.push_back(handler);
    for (auto it = waiters.begin(); it != waiters.end();) {
      if (auto state = it->lock()) {
        live.push_back(std::move(state));
        ++it;
      } else {
        it = waiters.erase(it);
      }
    }
  }
  for (auto& handler : handlers) handler(event);
  for (auto& state : live) {
    std::lock_guard lock(state->mu);
    if (state->event || !state->match(event)) continue;
    state->event = event;
    state->cv.notify_all();
  }
}

void Chromium::Impl::kill_group() {
  std::lock_guard lock(process_mu);
  if (reaped || pid <= 0) return;
  // The group reaches the browser's helpers; the pid alone covers a child
  // that had not made its group yet.
  ::kill(-pid, SIGKILL);
  ::kill(pid, SIGKILL);
}

void Chromium::Impl::finish() {
  int status = 0;
  {
    // Give a browser that is closing a moment to exit by itself, so its
    // status says what happened; then make sure nothing of it survives.
    auto deadline = Clock::now() + kExitGrace;
    siginfo_t info{};
    while (Clock::now() < deadline) {
      info = {};
      if (::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
          info.si_pid == pid) {
        break;
      }
      std::this_thread::sleep_for(milliseconds(10));
    }
    std::lock_guard lock(process_mu);
    ::kill(-pid, SIGKILL);  // the leader is at worst a zombie: the group id is still ours
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    reaped = true;
  }
  std::string reason = describe_status(status);
  std::vector<std::shared_ptr<WaiterState>> live;
  {
    std::lock_guard lock(mu);
    alive = false;
    exit_reason = reason;
    for (auto& [id, call] : pending) {
      if (call.done) continue;
      call.done = true;
      call.result = fail(ErrorCode::kUnavailable, reason);
    }
    for (auto& weak : waiters) {
      if (auto state = weak.lock()) live.push_back(std::move(state));
    }
    waiters.clear();
    cv.notify_all();
  }
  for (auto& state : live) {
    std::lock_guard lock(state->mu);
    state->gone = reason;
    state->cv.notify_all();
  }
}

Chromium::Chromium(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Result<std::unique_ptr<Chromium>> Chromium::launch(const ChromiumOptions& given) {
  ChromiumOptions options = given;
  if (::access(options.executable.c_str(), X_OK) != 0) {
    return fail(ErrorCode::kUnavailable,
                "chromium not found at '" + options.executable + "' (" + errno_text(errno) +
                    "): install Debian's chromium package or set the executable");
  }
  std::error_code ec;
  if (options.profile_dir.empty()) {
    std::string pattern = (fs::temp_directory_path(ec) / "ergon-chromium-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) {
      return fail(ErrorCode::kUnavailable,
                  "cannot create a chromium profile directory: " + errno_text(errno));
    }
    options.profile_dir = pattern;
  } else {
    fs::create_directories(options.profile_dir, ec);
    if (ec) {
      return fail(ErrorCode::kUnavailable, "cannot create the chromium profile directory '" +
                                               options.profile_dir + "': " + ec.message());
    }
  }

  std::vector<std::string> args = {options.executable};
  if (options.headless) args.push_back("--headless=new");
  for (const char* flag :
       {"--remote-debugging-pipe", "--no-first-run", "--no-default-browser-check",
        "--disable-background-networking", "--disable-sync", "--disable-component-update",
        "--disable-extensions", "--disable-default-apps",
        "--disable-features=Translate,MediaRouter,OptimizationHints", "--metrics-recording-only",
        "--password-store=basic", "--use-mock-keychain", "--mute-audio", "--hide-scrollbars",
        "--disable-dev-shm-usage"}) {
    args.push_back(flag);
  }
  args.push_back("--user-data-dir=" + options.profile_dir);
  args.push_back("--window-size=" + std::to_string(options.window_width) + "," +
                 std::to_string(options.window_height));
  if (::geteuid() == 0) args.push_back("--no-sandbox");
  for (const auto& extra : options.extra_args) args.push_back(extra);
  args.push_back("about:blank");
  std::vector<char*> argv;
  for (auto& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);

  auto impl = std::make_unique<Impl>(options);
  impl->log_path = (fs::path(options.profile_dir) / "chromium.log").string();
  const char* log_path = impl->log_path.c_str();
  const char* executable = options.executable.c_str();

  int to_browser[2], from_browser[2], exec_status[2];
  if (::pipe2(to_browser, O_CLOEXEC) != 0) {
    return fail(ErrorCode::kUnavailable, "pipe: " + errno_text(errno));
  }
  if (::pipe2(from_browser, O_CLOEXEC) != 0) {
    int error = errno;
    ::close(to_browser[0]);
    ::close(to_browser[1]);
    return fail(ErrorCode::kUnavailable, "pipe: " + errno_text(error));
  }
  if (::pipe2(exec_status, O_CLOEXEC) != 0) {
    int error = errno;
    for (int fd : {to_browser[0], to_browser[1], from_browser[0], from_browser[1]}) ::close(fd);
    return fail(ErrorCode::kUnavailable, "pipe: " + errno_text(error));
  }

  pid_t pid = ::fork();
  if (pid == 0) {
    // Child: only async-signal-safe calls from here to execv.
    ::setpgid(0, 0);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::signal(SIGPIPE, SIG_DFL);
    int reads = ::fcntl(to_browser[0], F_DUPFD, 10);
    int writes = ::fcntl(from_browser[1], F_DUPFD, 10);
    int status = ::fcntl(exec_status[1], F_DUPFD_CLOEXEC, 10);
    int null_fd = ::open("/dev/null", O_RDWR);
    int log_fd = ::open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0600);
    if (reads < 0 || writes < 0 || status < 0 || null_fd < 0) ::_exit(127);
    ::dup2(null_fd, 0);
    ::dup2(null_fd, 1);
    ::dup2(log_fd >= 0 ? log_fd : null_fd, 2);
    ::dup2(reads, kBrowserReadFd);
    ::dup2(writes, kBrowserWriteFd);
    ::dup2(status, kExecStatusFd);
    ::fcntl(kExecStatusFd, F_SETFD, FD_CLOEXEC);
    if (::syscall(SYS_close_range, kExecStatusFd + 1, ~0U, 0) != 0) {
      for (int fd = kExecStatusFd + 1; fd < 4096; ++fd) ::close(fd);
    }
    ::execv(executable, argv.data());
    int error = errno;
    ssize_t ignored = ::write(kExecStatusFd, &error, sizeof error);
    (void)ignored;
    ::_exit(127);
  }
  int fork_error = errno;
  ::close(to_browser[0]);
  ::close(from_browser[1]);
  ::close(exec_status[1]);
  if (pid < 0) {
    ::close(to_browser[1]);
    ::close(from_browser[0]);
    ::close(exec_status[0]);
    return fail(ErrorCode::kUnavailable, "fork: " + errno_text(fork_error));
  }
  // Our own setpgid too, so a signal to the group cannot race the child's.
  ::setpgid(pid, pid);
  int exec_error = 0;
  ssize_t got = 0;
  do {
    got = ::read(exec_status[0], &exec_error, sizeof exec_error);
  } while (got < 0 && errno == EINTR);
  ::close(exec_status[0]);
  if (got == static_cast<ssize_t>(sizeof exec_error)) {
    ::close(to_browser[1]);
    ::close(from_browser[0]);
    int status = 0;
    ::waitpid(pid, &status, 0);
    if (options.remove_profile_on_close) fs::remove_all(options.profile_dir, ec);
    return fail(ErrorCode::kUnavailable,
                "cannot start chromium '" + options.executable + "': " + errno_text(exec_error));
  }
  ::fcntl(to_browser[1], F_SETFL, ::fcntl(to_browser[1], F_GETFL) | O_NONBLOCK);
  impl->pid = pid;
  impl->write_fd = to_browser[1];
  impl->read_fd = from_browser[0];
  Impl* raw = impl.get();
  impl->reader = std::thread([raw] { raw->read_loop(); });
  impl->reader_id = impl->reader.get_id();

  std::unique_ptr<Chromium> browser(new Chromium(std::move(impl)));
  auto version =
      browser->impl_->call("Browser.getVersion", Json::object(), "", options.launch_timeout);
  if (!version) {
    std::string log = file_tail(browser->impl_->log_path, 600);
    std::string message = "chromium did not start: " + version.error().message;
    if (!log.empty()) message += "; its log ends: " + log;
    browser.reset();
    return fail(ErrorCode::kUnavailable, message);
  }
  return browser;
}

Chromium::~Chromium() {
  if (!impl_) return;
  Impl& impl = *impl_;
  if (impl.is_alive()) {
    (void)impl.call("Browser.close", Json::object(), "", kCloseGrace);
    std::unique_lock lock(impl.mu);
    impl.cv.wait_for(lock, kExitGrace, [&] { return !impl.alive; });
  }
  impl.kill_group();
  if (impl.write_fd >= 0) ::close(impl.write_fd);
  if (impl.reader.joinable()) impl.reader.join();
  if (impl.read_fd >= 0) ::close(impl.read_fd);
  if (impl.options.remove_profile_on_close && !impl.options.profile_dir.empty()) {
    std::error_code ec;
    fs::remove_all(impl.options.profile_dir, ec);
  }
}

Result<Json> Chromium::call(const std::string& method, const Json& params,
                            const std::string& session, milliseconds timeout) {
  return impl_->call(method, params, session, timeout);
}

int Chromium::subscribe(std::function<void(const CdpEvent&)> handler) {
  std::lock_guard lock(impl_->mu);
  int id = impl_->next_subscriber++;
  impl_->subscribers.emplace(id, std::move(handler));
  return id;
}

void Chromium::unsubscribe(int id) {
  {
    std::lock_guard lock(impl_->mu);
    impl_->subscribers.erase(id);
  }
  // A dispatch that copied the handler before the erase may still be running
  // it; wait it out (unless this is that dispatch).
  if (std::this_thread::get_id() != impl_->reader_id) {
    std::lock_guard dispatching(impl_->dispatch_mu);
  }
}

std::unique_ptr<Chromium::Waiter> Chromium::expect(std::function<bool(const CdpEvent&)> match) {
  auto state = std::make_shared<WaiterState>();
  state->match = std::move(match);
  std::lock_guard lock(impl_->mu);
  if (!impl_->alive) {
    state->gone = impl_->exit_reason;
  } else {
    impl_->waiters.push_back(state);
  }
  return std::make_unique<EventWaiter>(std::move(state));
}

bool Chromium::alive() const {
  return impl_->is_alive();
}

pid_t Chromium::pid() const {
  return impl_->pid;
}

const ChromiumOptions& Chromium::options() const {
  return impl_->options;
}

std::string Chromium::exit_reason() const {
  std::lock_guard lock(impl_->mu);
  return impl_->exit_reason;
}

void Chromium::kill() {
  impl_->kill_group();
}

}  // namespace ergon
