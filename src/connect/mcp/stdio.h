// A child process spoken to line by line over its stdin and stdout: the MCP
// stdio transport. Not thread-safe: its one owner serializes calls.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "ergon/result.h"

namespace ergon::internal {

struct SpawnSpec {
  std::vector<std::string> argv;           // argv[0] is looked up on PATH; no shell
  std::map<std::string, std::string> env;  // added to (or replacing) the inherited safe variables
  std::string cwd;                         // empty: ergon's
  std::string log_file;                    // stderr is appended here; empty: /dev/null
};

// Whether ergon's environment variable `name` is passed on to a server: the
// basics a program needs (PATH, HOME, locale, proxies, what node and npx read),
// never ergon's own secrets (model API keys, ERGON_TOKEN, vault entries).
bool inherited_variable(const std::string& name);

// A child whose stdin and stdout are pipes to ergon, stderr goes to a log, and
// which inherits no other file descriptor and only the inherited_variable()s.
class StdioProcess {
 public:
  using Deadline = std::chrono::steady_clock::time_point;

  // Starts the process; kUnavailable when it cannot be started (a missing
  // program, a bad cwd), naming the program and what to do.
  static Result<std::unique_ptr<StdioProcess>> start(const SpawnSpec& spec);
  // Stops the process (stop()).
  ~StdioProcess();
  StdioProcess(const StdioProcess&) = delete;
  StdioProcess& operator=(const StdioProcess&) = delete;

  // Writes `line` and a '\n'. kUnavailable when the process closed its stdin,
  // or has not read enough of it by `deadline` to take the line.
  Status write_line(const std::string& line, Deadline deadline);
  // The next line of stdout, without its '\n'. kTimeout when none came by
  // `deadline`; kUnavailable when stdout closed (the process exited).
  Result<std::string> read_line(Deadline deadline);
  // Closes stdin, gives the process a moment to exit, then SIGTERM and finally
  // SIGKILL. Returns how it ended ("exited with status 3", "killed by signal 9").
  std::string stop();
  pid_t pid() const { return pid_; }

 private:
  StdioProcess(pid_t pid, int in, int out) : pid_(pid), in_(in), out_(out) {}
  bool reap(int options);

  pid_t pid_;
  int in_;   // the child's stdin; -1 once closed
  int out_;  // the child's stdout; -1 once closed
  std::string buffer_;
  std::string ended_;  // how the process ended, once reaped
};

}  // namespace ergon::internal
