#include "support/process.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace ergon::testing {
namespace fs = std::filesystem;

std::string bin(const std::string& name) {
  return std::string(ERGON_BIN_DIR) + "/" + name;
}
std::string source_path(const std::string& relative) {
  return std::string(ERGON_SOURCE_DIR) + "/" + relative;
}

TempDir::TempDir() {
  std::string pattern = (fs::temp_directory_path() / "ergon-test-XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = pattern;
}
TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_file(const std::string& path, const std::string& text) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path, std::ios::binary) << text;
}

void copy_tree(const std::string& from, const std::string& to) {
  fs::copy(from, to, fs::copy_options::recursive | fs::copy_options::overwrite_existing);
}

namespace {

pid_t spawn(const std::vector<std::string>& argv, const RunOptions& options, int* in_fd,
            int* out_fd, int* err_fd) {
  int in_pipe[2], out_pipe[2], err_pipe[2];
  if (pipe(in_pipe) != 0 || pipe(out_pipe) != 0 || pipe(err_pipe) != 0) {
    throw std::runtime_error("pipe failed");
  }
  pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    dup2(in_pipe[0], 0);
    dup2(out_pipe[1], 1);
    dup2(err_pipe[1], 2);
    for (int fd : {in_pipe[0], in_pipe[1], out_pipe[0], out_pipe[1], err_pipe[0], err_pipe[1]}) {
      close(fd);
    }
    setpgid(0, 0);
    for (const auto& [key, value] : options.env) setenv(key.c_str(), value.c_str(), 1);
    if (!options.cwd.empty() && chdir(options.cwd.c_str()) != 0) _exit(127);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  close(in_pipe[0]);
  close(out_pipe[1]);
  close(err_pipe[1]);
  *in_fd = in_pipe[1];
  *out_fd = out_pipe[0];
  *err_fd = err_pipe[0];
  return pid;
}

void write_all(int fd, const std::string& text) {
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
}

// Drains both pipes until EOF on both or the deadline passes.
bool drain(int out_fd, int err_fd, std::string& out, std::string& err,
           std::chrono::steady_clock::time_point deadline) {
  pollfd fds[2] = {{out_fd, POLLIN, 0}, {err_fd, POLLIN, 0}};
  int open_count = 2;
  char buffer[65536];
  while (open_count > 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    if (poll(fds, 2, static_cast<int>(left.count())) <= 0) continue;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP))) continue;
      ssize_t n = read(fds[i].fd, buffer, sizeof buffer);
      if (n <= 0) {
        fds[i].fd = -1;
        --open_count;
      } else {
        (i == 0 ? out : err).append(buffer, static_cast<size_t>(n));
      }
    }
  }
  return true;
}

RunResult reap(pid_t pid) {
  RunResult result;
  int status = 0;
  waitpid(pid, &status, 0);
  if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) result.signal = WTERMSIG(status);
  return result;
}

}  // namespace

RunResult run(const std::vector<std::string>& argv, const RunOptions& options) {
  int in_fd, out_fd, err_fd;
  pid_t pid = spawn(argv, options, &in_fd, &out_fd, &err_fd);
  std::thread writer([&] {
    write_all(in_fd, options.input);
    close(in_fd);
  });
  std::string out, err;
  bool finished =
      drain(out_fd, err_fd, out, err, std::chrono::steady_clock::now() + options.timeout);
  if (!finished) ::kill(-pid, SIGKILL);
  writer.join();
  close(out_fd);
  close(err_fd);
  RunResult result = reap(pid);
  result.out = std::move(out);
  result.err = std::move(err);
  if (!finished) result.err += "\n[test harness: killed after timeout]";
  return result;
}

Child::Child(const std::vector<std::string>& argv, const RunOptions& options) {
  int in_fd;
  pid_ = spawn(argv, options, &in_fd, &out_fd_, &err_fd_);
  write_all(in_fd, options.input);
  close(in_fd);
}

Child::~Child() {
  if (!reaped_) {
    ::kill(-pid_, SIGKILL);
    ::kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  if (out_fd_ >= 0) close(out_fd_);
  if (err_fd_ >= 0) close(err_fd_);
}

std::string Child::wait_for_line(const std::string& needle, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  char buffer[4096];
  while (true) {
    size_t newline;
    while ((newline = buffered_.find('\n')) != std::string::npos) {
      std::string line = buffered_.substr(0, newline);
      buffered_.erase(0, newline + 1);
      if (line.find(needle) != std::string::npos) return line;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return "";
    pollfd pfd{out_fd_, POLLIN, 0};
    if (poll(&pfd, 1, static_cast<int>(left.count())) <= 0) continue;
    ssize_t n = read(out_fd_, buffer, sizeof buffer);
    if (n <= 0) return "";
    buffered_.append(buffer, static_cast<size_t>(n));
  }
}

void Child::kill(int signal) {
  ::kill(pid_, signal);
}

RunResult Child::wait() {
  std::string out, err;
  drain(out_fd_, err_fd_, out, err, std::chrono::steady_clock::now() + std::chrono::seconds(120));
  RunResult result = reap(pid_);
  reaped_ = true;
  result.out = buffered_ + out;
  result.err = err;
  return result;
}

AcmeCloud::AcmeCloud(const std::vector<std::string>& extra_args)
    : child_([&] {
        std::vector<std::string> argv = {bin("acme_cloud"), "--port", "0"};
        argv.insert(argv.end(), extra_args.begin(), extra_args.end());
        return argv;
      }()) {
  std::string line = child_.wait_for_line("listening on");
  auto colon = line.rfind(':');
  if (line.empty() || colon == std::string::npos) {
    throw std::runtime_error("acme_cloud did not start");
  }
  port_ = std::atoi(line.c_str() + colon + 1);
  url_ = "http://127.0.0.1:" + std::to_string(port_);
}

int kill_processes_mentioning(const std::string& needle) {
  std::vector<pid_t> pids;
  DIR* proc = opendir("/proc");
  if (proc == nullptr) return 0;
  while (dirent* entry = readdir(proc)) {
    pid_t pid = std::atoi(entry->d_name);
    if (pid <= 0 || pid == getpid()) continue;
    std::ifstream in("/proc/" + std::string(entry->d_name) + "/cmdline");
    std::string cmdline((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (cmdline.find(needle) != std::string::npos) pids.push_back(pid);
  }
  closedir(proc);
  for (pid_t pid : pids) ::kill(pid, SIGKILL);
  for (pid_t pid : pids) {
    for (auto end = std::chrono::steady_clock::now() + std::chrono::seconds(5);
         std::chrono::steady_clock::now() < end;
         std::this_thread::sleep_for(std::chrono::milliseconds(5))) {
      std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
      std::string line;
      if (!std::getline(stat, line)) break;
      auto close = line.rfind(')');
      if (close != std::string::npos && line.size() > close + 2 && line[close + 2] == 'Z') break;
    }
  }
  return static_cast<int>(pids.size());
}

}  // namespace ergon::testing
