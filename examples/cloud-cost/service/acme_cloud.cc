// acme-cloud: the sample cloud provider the cloud-cost example runs against.
//
//   acme_cloud [--host 127.0.0.1] [--port 0] [--token TOKEN] [--seed N]
//
// Binds (port 0 = any free port), prints "acme-cloud listening on HOST:PORT" on
// stdout, logs every request on stderr, and exits cleanly on SIGTERM or SIGINT.
// See README.md for the API.
#include <httplib.h>
#include <pthread.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>
#include <string_view>
#include <thread>

#include "server.h"

namespace {

constexpr const char* kUsage =
    "usage: acme_cloud [--host HOST] [--port PORT] [--token TOKEN] [--seed N]\n"
    "\n"
    "  --host HOST    address to bind (default 127.0.0.1)\n"
    "  --port PORT    port to bind; 0 picks a free port (default 0)\n"
    "  --token TOKEN  require 'Authorization: Bearer TOKEN' on /v1 (default: $ACME_CLOUD_TOKEN;\n"
    "                 no authentication when neither is set)\n"
    "  --seed N       0 is the documented fleet; other seeds change instance ids and jitter\n"
    "                 metrics, keeping every savings figure (default 0)\n";

[[noreturn]] void usage_error(const std::string& message) {
  std::fprintf(stderr, "acme_cloud: %s\n%s", message.c_str(), kUsage);
  std::exit(2);
}

std::uint64_t parse_number(const std::string& flag, const std::string& v, std::uint64_t max) {
  if (v.empty() || v.size() > 20 || v.find_first_not_of("0123456789") != std::string::npos)
    usage_error(flag + " needs a non-negative integer, got '" + v + "'");
  unsigned long long n = std::strtoull(v.c_str(), nullptr, 10);
  if (n > max) usage_error(flag + " is out of range: " + v);
  return n;
}

struct Options {
  std::string host = "127.0.0.1";
  int port = 0;
  std::string token;
  std::uint64_t seed = 0;
};

Options parse(int argc, char** argv) {
  Options o;
  bool token_given = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    }
    std::string value;
    std::size_t eq = arg.find('=');
    if (arg.starts_with("--") && eq != std::string::npos) {
      value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
    } else if (arg == "--host" || arg == "--port" || arg == "--token" || arg == "--seed") {
      if (i + 1 >= argc) usage_error(arg + " needs a value");
      value = argv[++i];
    } else {
      usage_error("unknown argument '" + arg + "'");
    }
    if (arg == "--host") {
      if (value.empty()) usage_error("--host needs a value");
      o.host = value;
    } else if (arg == "--port") {
      o.port = static_cast<int>(parse_number(arg, value, 65535));
    } else if (arg == "--token") {
      o.token = value;
      token_given = true;
    } else if (arg == "--seed") {
      o.seed = parse_number(arg, value, UINT64_MAX);
    } else {
      usage_error("unknown argument '" + arg + "'");
    }
  }
  if (!token_given) {
    if (const char* env = std::getenv("ACME_CLOUD_TOKEN")) o.token = env;
  }
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  const Options opt = parse(argc, argv);

  // Signals are taken by one thread with sigwait; every other thread, including
  // httplib's pool, inherits the blocked mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  acme::Server app(opt.seed, opt.token);
  httplib::Server http;
  app.install(http);

  int port = opt.port;
  if (port == 0) {
    port = http.bind_to_any_port(opt.host);
    if (port < 0) port = 0;
  } else if (!http.bind_to_port(opt.host, port)) {
    port = 0;
  }
  if (port <= 0) {
    std::fprintf(stderr, "acme_cloud: cannot bind %s:%d\n", opt.host.c_str(), opt.port);
    return 1;
  }

  std::atomic<bool> signalled{false};
  std::atomic<bool> listen_returned{false};
  std::thread waiter([&] {
    int sig = 0;
    sigwait(&signals, &sig);
    if (!signalled.exchange(true))
      std::fprintf(stderr, "acme-cloud: %s, shutting down\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
    app.shutdown();
    // httplib's stop() does nothing until listen has started: a signal that
    // arrives just after the bind must wait for it.
    while (!listen_returned && !http.is_running())
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    http.stop();
  });

  std::cout << "acme-cloud listening on " << opt.host << ":" << port << std::endl;
  std::fprintf(stderr, "acme-cloud: seed %llu, auth %s\n",
               static_cast<unsigned long long>(opt.seed),
               opt.token.empty() ? "off" : "bearer token");

  const bool ok = http.listen_after_bind();
  listen_returned = true;
  if (!signalled.exchange(true)) pthread_kill(waiter.native_handle(), SIGTERM);
  waiter.join();
  return ok ? 0 : 1;
}
