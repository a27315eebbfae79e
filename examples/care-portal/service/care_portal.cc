// care-portal: "CarePoint", the sample insurer/provider web portal the
// care-portal example drives in a real browser.
//
//   care_portal [--host 127.0.0.1] [--port 0] [--layout v1|v2] [--seed N] [--site DIR]
//
// Binds (port 0 = any free port), prints "care-portal listening on HOST:PORT"
// on stdout, logs every request on stderr, and exits cleanly on SIGTERM or
// SIGINT. See ../README.md for the pages and the /_control API.
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
#include <thread>

#include "server.h"
#include "site.h"

#ifndef CARE_PORTAL_SITE_DIR
#define CARE_PORTAL_SITE_DIR "site"
#endif

namespace {

constexpr const char* kUsage =
    "usage: care_portal [--host HOST] [--port PORT] [--layout v1|v2] [--seed N] [--site DIR]\n"
    "\n"
    "  --host HOST      address to bind (default 127.0.0.1)\n"
    "  --port PORT      port to bind; 0 picks a free port (default 0)\n"
    "  --layout v1|v2   v1 is the portal as first recorded; v2 is its redesign: the same pages\n"
    "                   and data with renamed ids and classes, moved fields, reworded labels\n"
    "                   and another consent banner (default v1)\n"
    "  --seed N         changes authorisation and confirmation numbers and which slots are\n"
    "                   free (default 0)\n"
    "  --site DIR       the pages and assets (default: the source tree's\n"
    "                   examples/care-portal/service/site)\n"
    "\n"
    "dr.lee's password is $CARE_PORTAL_PASSWORD, or correct-horse when that is unset.\n";

[[noreturn]] void usage_error(const std::string& message) {
  std::fprintf(stderr, "care_portal: %s\n%s", message.c_str(), kUsage);
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
  std::string layout = "v1";
  std::uint64_t seed = 0;
  std::string site = CARE_PORTAL_SITE_DIR;
};

Options parse(int argc, char** argv) {
  Options o;
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
    } else if (arg == "--host" || arg == "--port" || arg == "--layout" || arg == "--seed" ||
               arg == "--site") {
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
    } else if (arg == "--layout") {
      if (value != "v1" && value != "v2")
        usage_error("--layout must be v1 or v2, got '" + value + "'");
      o.layout = value;
    } else if (arg == "--seed") {
      o.seed = parse_number(arg, value, UINT64_MAX);
    } else if (arg == "--site") {
      if (value.empty()) usage_error("--site needs a directory");
      o.site = value;
    } else {
      usage_error("unknown argument '" + arg + "'");
    }
  }
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  const Options opt = parse(argc, argv);

  std::string error;
  std::optional<care::Site> site = care::Site::load(opt.site, &error);
  if (!site) {
    std::fprintf(stderr, "care_portal: %s\n", error.c_str());
    return 1;
  }
  const char* env_password = std::getenv("CARE_PORTAL_PASSWORD");
  const std::string password =
      env_password != nullptr && *env_password != '\0' ? env_password : "correct-horse";

  // Signals are taken by one thread with sigwait; every other thread, including
  // httplib's pool, inherits the blocked mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  care::Server app(std::move(*site), opt.layout, opt.seed, password);
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
    std::fprintf(stderr, "care_portal: cannot bind %s:%d\n", opt.host.c_str(), opt.port);
    return 1;
  }

  std::atomic<bool> signalled{false};
  std::atomic<bool> listen_returned{false};
  std::thread waiter([&] {
    int sig = 0;
    sigwait(&signals, &sig);
    if (!signalled.exchange(true))
      std::fprintf(stderr, "care-portal: %s, shutting down\n",
                   sig == SIGINT ? "SIGINT" : "SIGTERM");
    // httplib's stop() does nothing until listen has started: a signal that
    // arrives just after the bind must wait for it.
    while (!listen_returned && !http.is_running())
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    http.stop();
  });

  std::cout << "care-portal listening on " << opt.host << ":" << port << std::endl;
  std::fprintf(stderr, "care-portal: layout %s, seed %llu, site %s\n", opt.layout.c_str(),
               static_cast<unsigned long long>(opt.seed), opt.site.c_str());

  const bool ok = http.listen_after_bind();
  listen_returned = true;
  if (!signalled.exchange(true)) pthread_kill(waiter.native_handle(), SIGTERM);
  waiter.join();
  return ok ? 0 : 1;
}
