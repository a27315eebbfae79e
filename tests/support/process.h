// Test support: run real binaries (ergon, acme_cloud) as child processes.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <string>
#include <vector>

namespace ergon::testing {

// Path of a binary built by this tree (build/bin/NAME).
std::string bin(const std::string& name);
// Path under the source tree.
std::string source_path(const std::string& relative);
// A fresh empty directory under the system temp dir, removed by the destructor.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

std::string read_file(const std::string& path);
void write_file(const std::string& path, const std::string& text);
// Copies a directory tree (cp -r semantics).
void copy_tree(const std::string& from, const std::string& to);

struct RunResult {
  int exit_code = -1;  // -1 when killed by a signal
  int signal = 0;
  std::string out;
  std::string err;
};

struct RunOptions {
  std::map<std::string, std::string> env;  // added to the inherited environment
  std::string cwd;
  std::string input;  // written to stdin, then stdin is closed
  std::chrono::seconds timeout{120};
};

// Runs argv to completion, capturing stdout and stderr.
RunResult run(const std::vector<std::string>& argv, const RunOptions& options = {});

// A child process running in the background. Killed (SIGKILL) by the destructor.
class Child {
 public:
  Child(const std::vector<std::string>& argv, const RunOptions& options = {});
  ~Child();
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  pid_t pid() const { return pid_; }
  // Reads stdout until a line containing `needle` appears; returns that line
  // ("" on timeout or EOF).
  std::string wait_for_line(const std::string& needle,
                            std::chrono::milliseconds timeout = std::chrono::seconds(20));
  void kill(int signal);
  // Waits for exit and returns the result (out holds stdout not yet consumed).
  RunResult wait();

 private:
  pid_t pid_ = -1;
  int out_fd_ = -1;
  int err_fd_ = -1;
  std::string buffered_;
  bool reaped_ = false;
};

// Starts examples' acme-cloud on port 0 and returns once it listens.
class AcmeCloud {
 public:
  explicit AcmeCloud(const std::vector<std::string>& extra_args = {});
  const std::string& url() const { return url_; }
  int port() const { return port_; }

 private:
  Child child_;
  std::string url_;
  int port_ = 0;
};

// Kills (SIGKILL), by pid, every process whose command line mentions
// `needle` (e.g. the Chromium a test started, whose profile lives under the
// test's temp dir) and waits until each is gone or a zombie. Returns how many.
int kill_processes_mentioning(const std::string& needle);

}  // namespace ergon::testing
