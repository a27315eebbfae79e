#include "connect/mcp/stdio.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <set>
#include <thread>

extern char** environ;

namespace ergon::internal {

namespace {

using Clock = std::chrono::steady_clock;

constexpr size_t kMaxLineBytes = 64 << 20;
constexpr auto kExitGrace = std::chrono::milliseconds(500);
constexpr auto kTermGrace = std::chrono::milliseconds(2000);

std::string errno_text(int error) {
  return std::strerror(error);
}

void close_fd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

// posix_spawn's attributes and file actions, destroyed on every path.
struct SpawnSetup {
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  SpawnSetup() {
    posix_spawn_file_actions_init(&actions);
    posix_spawnattr_init(&attr);
  }
  ~SpawnSetup() {
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
  }
};

}  // namespace

bool inherited_variable(const std::string& name) {
  static const std::set<std::string> kNames = {
      "PATH",        "HOME",        "USER",          "LOGNAME",
      "SHELL",       "TERM",        "LANG",          "TZ",
      "TMPDIR",      "NODE_PATH",   "NODE_OPTIONS",  "NODE_EXTRA_CA_CERTS",
      "HTTP_PROXY",  "HTTPS_PROXY", "NO_PROXY",      "http_proxy",
      "https_proxy", "no_proxy",    "SSL_CERT_FILE", "SSL_CERT_DIR"};
  if (kNames.contains(name) || name.starts_with("LC_")) return true;
  // npm's settings (registry, cache, proxy) so that npx works; its
  // credentials stay behind.
  if (!name.starts_with("npm_config_")) return false;
  std::string lowered = name;
  for (char& c : lowered) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (const char* secret : {"auth", "token", "password", "cert", "key"}) {
    if (lowered.find(secret) != std::string::npos) return false;
  }
  return true;
}

Result<std::unique_ptr<StdioProcess>> StdioProcess::start(const SpawnSpec& spec) {
  if (spec.argv.empty() || spec.argv[0].empty()) {
    return fail(ErrorCode::kInvalidInput, "no command to start");
  }
  const std::string& program = spec.argv[0];
  int to_child[2];
  int from_child[2];
  if (::pipe2(to_child, O_CLOEXEC) != 0) {
    return fail(ErrorCode::kUnavailable, "cannot create a pipe: " + errno_text(errno));
  }
  if (::pipe2(from_child, O_CLOEXEC) != 0) {
    int error = errno;
    ::close(to_child[0]);
    ::close(to_child[1]);
    return fail(ErrorCode::kUnavailable, "cannot create a pipe: " + errno_text(error));
  }
  auto close_all = [&] {
    for (int fd : {to_child[0], to_child[1], from_child[0], from_child[1]}) ::close(fd);
  };

  SpawnSetup setup;
  posix_spawn_file_actions_adddup2(&setup.actions, to_child[0], STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&setup.actions, from_child[1], STDOUT_FILENO);
  posix_spawn_file_actions_addopen(&setup.actions, STDERR_FILENO,
                                   spec.log_file.empty() ? "/dev/null" : spec.log_file.c_str(),
                                   O_WRONLY | O_CREAT | O_APPEND, 0644);
  if (!spec.cwd.empty()) posix_spawn_file_actions_addchdir_np(&setup.actions, spec.cwd.c_str());
  // Nothing else of ergon's is the server's: not a listening socket of ergon
  // serve, not a file some library opened without O_CLOEXEC.
  posix_spawn_file_actions_addclosefrom_np(&setup.actions, STDERR_FILENO + 1);
  // The child starts with default signal handling and an empty mask, whatever
  // ergon's threads block or ignore.
  sigset_t none;
  sigset_t all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&setup.attr, &none);
  posix_spawnattr_setsigdefault(&setup.attr, &all);
  posix_spawnattr_setflags(&setup.attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

  std::map<std::string, std::string> env;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    std::string text = *entry;
    size_t eq = text.find('=');
    if (eq == std::string::npos || !inherited_variable(text.substr(0, eq))) continue;
    env[text.substr(0, eq)] = text.substr(eq + 1);
  }
  for (const auto& [key, value] : spec.env) env[key] = value;
  std::vector<std::string> env_text;
  for (const auto& [key, value] : env) env_text.push_back(key + "=" + value);
  std::vector<char*> envp;
  for (std::string& text : env_text) envp.push_back(text.data());
  envp.push_back(nullptr);
  std::vector<std::string> args = spec.argv;
  std::vector<char*> argv;
  for (std::string& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);

  pid_t pid = -1;
  int error =
      ::posix_spawnp(&pid, program.c_str(), &setup.actions, &setup.attr, argv.data(), envp.data());
  if (error != 0) {
    close_all();
    std::string hint = error == ENOENT
                           ? " — is it installed and on PATH" +
                                 std::string(spec.cwd.empty() ? "" : ", and does cwd exist") + "?"
                       : error == EACCES ? " — is it executable?"
                                         : "";
    return fail(ErrorCode::kUnavailable,
                "cannot start '" + program + "': " + errno_text(error) + hint);
  }
  ::close(to_child[0]);
  ::close(from_child[1]);
  // Writes wait for room with a deadline (write_line), never for ever.
  ::fcntl(to_child[1], F_SETFL, ::fcntl(to_child[1], F_GETFL) | O_NONBLOCK);
  return std::unique_ptr<StdioProcess>(new StdioProcess(pid, to_child[1], from_child[0]));
}

StdioProcess::~StdioProcess() {
  stop();
}

Status StdioProcess::write_line(const std::string& line, Deadline deadline) {
  if (in_ < 0) return fail(ErrorCode::kUnavailable, "the server's stdin is closed");
  std::string text = line + "\n";
  // A write to a pipe whose reader exited raises SIGPIPE: keep it pending on
  // this thread only, and drop it, rather than change the process's handler.
  sigset_t pipe_set;
  sigset_t old;
  sigemptyset(&pipe_set);
  sigaddset(&pipe_set, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
  size_t done = 0;
  int error = 0;
  while (done < text.size()) {
    ssize_t n = ::write(in_, text.data() + done, text.size() - done);
    if (n < 0 && errno == EAGAIN) {
      // The pipe is full: the server is not reading its stdin.
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      pollfd room{in_, POLLOUT, 0};
      if (left.count() <= 0 || ::poll(&room, 1, static_cast<int>(left.count())) == 0) {
        error = ETIMEDOUT;
        break;
      }
      continue;
    }
    if (n < 0) {
      if (errno == EINTR) continue;
      error = errno;
      break;
    }
    done += static_cast<size_t>(n);
  }
  if (error == EPIPE) {
    timespec zero{};
    ::sigtimedwait(&pipe_set, nullptr, &zero);
  }
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  if (error == ETIMEDOUT) {
    return fail(ErrorCode::kUnavailable,
                "the server does not read its stdin (a message waited for room until the call's "
                "deadline)");
  }
  if (error != 0) {
    close_fd(in_);
    return fail(ErrorCode::kUnavailable, "cannot write to the server: " + errno_text(error));
  }
  return {};
}

Result<std::string> StdioProcess::read_line(Deadline deadline) {
  while (true) {
    size_t newline = buffer_.find('\n');
    if (newline != std::string::npos) {
      std::string line = buffer_.substr(0, newline);
      buffer_.erase(0, newline + 1);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      return line;
    }
    if (buffer_.size() > kMaxLineBytes) {
      return fail(ErrorCode::kUnavailable, "the server sent a line longer than " +
                                               std::to_string(kMaxLineBytes >> 20) + " MiB");
    }
    if (out_ < 0) return fail(ErrorCode::kUnavailable, "the server's stdout is closed");
    auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return fail(ErrorCode::kTimeout, "no answer in time");
    pollfd fd{out_, POLLIN, 0};
    int ready = ::poll(&fd, 1, static_cast<int>(std::min<long long>(left.count(), 60'000)));
    if (ready < 0) {
      if (errno == EINTR) continue;
      return fail(ErrorCode::kUnavailable, "cannot wait for the server: " + errno_text(errno));
    }
    if (ready == 0) continue;
    char chunk[65536];
    ssize_t n = ::read(out_, chunk, sizeof chunk);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      int error = errno;
      close_fd(out_);
      return fail(ErrorCode::kUnavailable, "cannot read from the server: " + errno_text(error));
    }
    if (n == 0) {
      close_fd(out_);
      return fail(ErrorCode::kUnavailable, "the server closed its stdout");
    }
    buffer_.append(chunk, static_cast<size_t>(n));
  }
}

bool StdioProcess::reap(int options) {
  if (!ended_.empty()) return true;
  int status = 0;
  pid_t done = ::waitpid(pid_, &status, options);
  if (done == 0) return false;
  if (done < 0) {
    ended_ = "ended (" + errno_text(errno) + ")";
  } else if (WIFEXITED(status)) {
    ended_ = "exited with status " + std::to_string(WEXITSTATUS(status));
  } else if (WIFSIGNALED(status)) {
    ended_ = "was killed by signal " + std::to_string(WTERMSIG(status));
  } else {
    ended_ = "ended";
  }
  return true;
}

std::string StdioProcess::stop() {
  close_fd(in_);
  // The spec's shutdown: close stdin, wait, SIGTERM, wait, SIGKILL.
  auto wait_until = [&](Clock::time_point until) {
    while (!reap(WNOHANG)) {
      if (Clock::now() >= until) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return true;
  };
  if (!wait_until(Clock::now() + kExitGrace)) {
    ::kill(pid_, SIGTERM);
    if (!wait_until(Clock::now() + kTermGrace)) {
      ::kill(pid_, SIGKILL);
      reap(0);
    }
  }
  close_fd(out_);
  return ended_;
}

}  // namespace ergon::internal
