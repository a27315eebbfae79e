// `ergon serve`: an HTTP API over the engine and the journal. Sessions run on
// a pool of workers, each with its own Engine; approvals wait in a queue for a
// person with the right role; every route needs a bearer token.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "ergon/clock.h"
#include "ergon/result.h"

namespace ergon {

// What a token may do; each role includes the ones before it:
// viewer (GET) < operator (create, answer, cancel sessions) < approver
// (approve, deny) < admin (everything).
enum class Role { kViewer, kOperator, kApprover, kAdmin };
const char* to_string(Role role);
Result<Role> parse_role(const std::string& text);

// One API token as stored: only the SHA-256 of the secret is kept.
struct ApiToken {
  std::string name;  // the principal its requests act as
  Role role = Role::kViewer;
  std::string hash;  // sha256_hex of the token text
  int64_t created_ms = 0;
};

// The tokens file (JSON: {"tokens": [{name, role, hash, created_ms}]}). A
// missing file holds no tokens.
Result<std::vector<ApiToken>> load_tokens(const std::string& path);
// Adds (or replaces) the token called `name` and returns its secret, which is
// shown once and never stored. The file is written 0600.
Result<std::string> add_token(const std::string& path, const std::string& name, Role role,
                              int64_t now_ms);
// <workspace>/.ergon/tokens.json
std::string default_tokens_path(const std::string& workspace_dir);

// True while an `ergon serve` serves the workspace whose store is at
// `store_path` (it holds .ergon/serve.lock): its sessions are the server's to
// run, so the command line does not resume them behind its back.
bool workspace_served(const std::string& store_path);

struct ServerOptions {
  std::string workspace_dir = ".";
  std::string host = "127.0.0.1";  // loopback unless widened on purpose
  int port = 0;                    // 0: any free port (see Server::port())
  int workers = 4;                 // sessions that run at the same time
  std::string tokens_file;         // empty: default_tokens_path(workspace_dir)
  // The principal who created a session may not approve its irreversible
  // actions. The policy file's `four_eyes: true` turns it on as well.
  bool four_eyes = false;
  size_t max_body_bytes = 1 << 20;  // larger requests get 413
  Clock* clock = nullptr;           // null: the system clock; must be thread-safe
};

// The HTTP server. start() loads the workspace, resumes the sessions that
// were running when the last server stopped, and listens; stop() freezes the
// running sessions where they are (nothing more is journaled for them, so the
// next start resumes them exactly as after a crash) and joins every thread.
// start/stop are called from one thread; the routes are served concurrently.
class Server {
 public:
  explicit Server(ServerOptions options);
  ~Server();  // stop()s
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  Status start();
  void stop();
  int port() const;         // the bound port, after start()
  std::string url() const;  // http://host:port

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ergon
