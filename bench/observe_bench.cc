// How long observe_page() takes on a large page: a table whose rows each hold
// a text input, a checkbox, a button and a link (4 interactive elements per
// row; 1250 rows = 5,000). One Chromium serves every benchmark; the page comes
// from a loopback HTTP server on port 0. The parts are measured too: the two
// CDP commands alone, and describe().
//
//   build/bin/observe_bench --benchmark_repetitions=5
//
// The server is a few lines of POSIX sockets rather than cpp-httplib because
// bench targets link only ergon and Google Benchmark.
#include <arpa/inet.h>
#include <benchmark/benchmark.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>

#include "ergon/browser.h"
#include "ergon/cdp.h"

namespace {

using namespace std::chrono_literals;

std::string table_page(int rows) {
  std::string html =
      "<!doctype html><html><head><title>Inventory</title></head><body>"
      "<h1>Inventory</h1><table><thead><tr><th>Item</th><th>Qty</th><th>Pick</th><th>Save</th>"
      "<th>Open</th></tr></thead><tbody>";
  for (int i = 0; i < rows; ++i) {
    std::string n = std::to_string(i);
    html += "<tr><td>Item " + n + "</td><td><input name=\"qty" + n + "\" value=\"" + n +
            "\"></td><td><input type=\"checkbox\" name=\"pick" + n +
            "\"></td><td><button type=\"button\">Save " + n + "</button></td><td><a href=\"/item/" +
            n + "\">Open " + n + "</a></td></tr>";
  }
  return html + "</tbody></table></body></html>";
}

// Answers every request on 127.0.0.1:<port 0> with the table whose row count
// is the request path ("/1250"), then closes the connection.
class PageServer {
 public:
  PageServer() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = 0;
    socklen_t length = sizeof(address);
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
        ::listen(fd_, 16) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
      std::perror("observe_bench: page server");
      std::exit(1);
    }
    port_ = ntohs(address.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~PageServer() {
    stopping_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
  }
  std::string url(int rows) const {
    return "http://127.0.0.1:" + std::to_string(port_) + "/" + std::to_string(rows);
  }

 private:
  void serve() {
    while (!stopping_) {
      int client = ::accept(fd_, nullptr, nullptr);
      if (client < 0) continue;
      std::string request;
      char buffer[4096];
      while (request.find("\r\n\r\n") == std::string::npos) {
        ssize_t got = ::read(client, buffer, sizeof(buffer));
        if (got <= 0) break;
        request.append(buffer, static_cast<size_t>(got));
      }
      size_t path = request.find(' ');
      int rows = path == std::string::npos ? 0 : std::atoi(request.c_str() + path + 2);
      std::string body = rows > 0 ? table_page(rows) : "";
      std::string answer = std::string(rows > 0 ? "HTTP/1.1 200 OK" : "HTTP/1.1 404 Not Found") +
                           "\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: " +
                           std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
      for (size_t sent = 0; sent < answer.size();) {
        ssize_t wrote = ::write(client, answer.data() + sent, answer.size() - sent);
        if (wrote <= 0) break;
        sent += static_cast<size_t>(wrote);
      }
      ::close(client);
    }
  }

  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

// The browser, the server and one tab per row count, made on first use.
struct Setup {
  std::string profile;
  PageServer server;
  std::unique_ptr<ergon::Chromium> browser;
  std::string error;

  Setup() {
    char dir[] = "/tmp/ergon-observe-bench-XXXXXX";
    profile = ::mkdtemp(dir) != nullptr ? std::string(dir) + "/profile" : "";
    ergon::ChromiumOptions options;
    options.profile_dir = profile;
    options.command_timeout = std::chrono::milliseconds(60000);
    auto launched = ergon::Chromium::launch(options);
    if (launched)
      browser = std::move(*launched);
    else
      error = "chromium: " + launched.error().message;
  }
  ~Setup() {
    browser.reset();
    std::error_code ignored;
    std::filesystem::remove_all(std::filesystem::path(profile).parent_path(), ignored);
  }

  // A tab showing the table with `rows` rows; "" and `error` set on failure.
  std::string tab(int rows) {
    if (!browser) return "";
    auto failed = [this](const ergon::Error& e) {
      error = e.message;
      return std::string();
    };
    auto target = browser->call("Target.createTarget", {{"url", "about:blank"}});
    if (!target) return failed(target.error());
    auto attached = browser->call("Target.attachToTarget",
                                  {{"targetId", (*target)["targetId"]}, {"flatten", true}});
    if (!attached) return failed(attached.error());
    std::string session = (*attached)["sessionId"];
    auto enabled = browser->call("Page.enable", ergon::Json::object(), session);
    if (!enabled) return failed(enabled.error());
    auto loaded = browser->expect([session](const ergon::CdpEvent& e) {
      return e.session == session && e.method == "Page.loadEventFired";
    });
    auto sent = browser->call("Page.navigate", {{"url", server.url(rows)}}, session);
    if (!sent) return failed(sent.error());
    auto event = loaded->wait(60s);
    if (!event) return failed(event.error());
    return session;
  }
};

Setup& setup() {
  static Setup instance;
  return instance;
}

std::string session_for(benchmark::State& state) {
  std::string session = setup().tab(static_cast<int>(state.range(0)));
  if (session.empty()) state.SkipWithError(setup().error.c_str());
  return session;
}

void BM_ObservePage(benchmark::State& state) {
  std::string session = session_for(state);
  if (session.empty()) return;
  size_t elements = 0;
  for (auto _ : state) {
    auto snapshot = ergon::observe_page(*setup().browser, session);
    if (!snapshot) {
      state.SkipWithError(snapshot.error().message.c_str());
      return;
    }
    elements = snapshot->elements.size();
    benchmark::DoNotOptimize(snapshot);
  }
  state.counters["elements"] = static_cast<double>(elements);
}

// The two CDP commands observe_page sends, alone (browser work, transfer and
// JSON parsing in the CDP client).
void BM_CaptureSnapshotOnly(benchmark::State& state) {
  std::string session = session_for(state);
  if (session.empty()) return;
  ergon::Json params = {{"computedStyles",
                         {"display", "visibility", "opacity", "cursor", "border-left-width",
                          "border-top-width", "padding-left", "padding-top"}}};
  for (auto _ : state) {
    auto answer = setup().browser->call("DOMSnapshot.captureSnapshot", params, session);
    if (!answer) return state.SkipWithError(answer.error().message.c_str());
    benchmark::DoNotOptimize(answer);
  }
}

void BM_FullAXTreeOnly(benchmark::State& state) {
  std::string session = session_for(state);
  if (session.empty()) return;
  for (auto _ : state) {
    auto answer =
        setup().browser->call("Accessibility.getFullAXTree", ergon::Json::object(), session);
    if (!answer) return state.SkipWithError(answer.error().message.c_str());
    benchmark::DoNotOptimize(answer);
  }
}

void BM_Describe(benchmark::State& state) {
  std::string session = session_for(state);
  if (session.empty()) return;
  auto snapshot = ergon::observe_page(*setup().browser, session);
  if (!snapshot) return state.SkipWithError(snapshot.error().message.c_str());
  for (auto _ : state) {
    std::string text = ergon::describe(*snapshot);
    benchmark::DoNotOptimize(text);
  }
}

// 1250 rows: 5,000 interactive elements; 125 rows: a busy but ordinary page.
BENCHMARK(BM_ObservePage)->Arg(1250)->Arg(125)->Unit(benchmark::kMillisecond)->Iterations(5);
BENCHMARK(BM_CaptureSnapshotOnly)->Arg(1250)->Unit(benchmark::kMillisecond)->Iterations(5);
BENCHMARK(BM_FullAXTreeOnly)->Arg(1250)->Unit(benchmark::kMillisecond)->Iterations(5);
BENCHMARK(BM_Describe)->Arg(1250)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
