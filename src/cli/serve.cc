// ergon serve [--listen HOST] [--port N] [--workers N] [--four-eyes]: the HTTP
// API; ergon serve token add NAME --role ROLE: a new API token, shown once.
#include "ergon/serve.h"

#include <signal.h>

#include <iostream>

#include "cli/commands.h"

namespace ergon::cli {
namespace {

struct ServeOptions {
  ServerOptions server;
  std::string token_name;
  std::string role = "viewer";
};

bool loopback(const std::string& host) {
  return host == "127.0.0.1" || host == "localhost" || host == "::1" || host.starts_with("127.");
}

int cmd_serve(const GlobalOptions& global, ServeOptions options) {
  options.server.workspace_dir = global.workspace;
  if (!loopback(options.server.host)) {
    std::cerr << "warning: listening on " << options.server.host
              << ", not loopback: anyone who can reach this address can try tokens against "
                 "the API; put it behind TLS (a reverse proxy) and a firewall\n";
  }
  // Block the stop signals in every thread; the main thread waits for them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  Server server(options.server);
  if (auto s = server.start(); !s) return report_error(s.error());
  auto tokens =
      load_tokens(options.server.tokens_file.empty() ? default_tokens_path(global.workspace)
                                                     : options.server.tokens_file);
  if (tokens && tokens->empty()) {
    std::cerr << "note: no API tokens yet — every request gets 401; add one with: ergon serve "
                 "token add NAME --role admin\n";
  }
  std::cout << "ergon serve listening on " << server.url() << std::endl;
  int signal = 0;
  sigwait(&stop_signals, &signal);
  std::cout << "stopping (sessions in flight resume on the next start)" << std::endl;
  server.stop();
  return kExitOk;
}

int cmd_token_add(const GlobalOptions& global, const ServeOptions& options) {
  auto role = parse_role(options.role);
  if (!role) return report_error(role.error());
  std::string path = options.server.tokens_file.empty() ? default_tokens_path(global.workspace)
                                                        : options.server.tokens_file;
  SystemClock clock;
  auto secret = add_token(path, options.token_name, *role, clock.now_ms());
  if (!secret) return report_error(secret.error());
  std::cerr << "token '" << options.token_name << "' (" << to_string(*role) << ") added to " << path
            << "; it is shown only this once:\n";
  std::cout << *secret << std::endl;
  return kExitOk;
}

}  // namespace

void register_serve(CLI::App& app, Commands& commands) {
  auto options = std::make_shared<ServeOptions>();
  auto* serve = app.add_subcommand("serve", "the HTTP API: sessions, approvals, events, metrics");
  serve->add_option("--listen", options->server.host, "address to listen on (default 127.0.0.1)");
  serve->add_option("--port", options->server.port, "port (default 0: any free port)")
      ->check(CLI::Range(0, 65535));
  serve->add_option("--workers", options->server.workers, "sessions run at once (default 4)")
      ->check(CLI::Range(1, 256));
  serve->add_option("--tokens", options->server.tokens_file,
                    "tokens file (default <workspace>/.ergon/tokens.json)");
  serve->add_flag("--four-eyes", options->server.four_eyes,
                  "whoever created a session may not approve its irreversible actions");
  auto* token = serve->add_subcommand("token", "manage API tokens");
  auto* add = token->add_subcommand("add", "add a token and print it once");
  add->add_option("name", options->token_name, "who the token stands for")->required();
  add->add_option("--role", options->role, "viewer | operator | approver | admin")
      ->check(CLI::IsMember({"viewer", "operator", "approver", "admin"}));
  token->require_subcommand(1);
  const GlobalOptions* global = commands.global;
  commands.add(add, [options, global] { return cmd_token_add(*global, *options); });
  commands.add(serve, [options, global] { return cmd_serve(*global, *options); });
}

}  // namespace ergon::cli
