#include "ergon/http_connector.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "ergon/workspace.h"
#include "support/process.h"

namespace ergon {
namespace {

constexpr char kToken[] = "s3cr3t-t0ken-value";

// What the server saw of one request.
struct Seen {
  std::string method;
  std::string target;  // raw path and query, as sent
  std::string body;
  httplib::Headers headers;
  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
  bool has_header(const std::string& name) const { return headers.count(name) > 0; }
};

// A real HTTP server on 127.0.0.1, port 0, answering by path:
//   /status/N  -> HTTP N with a body that quotes the Authorization header
//   /slow      -> waits until the test ends (or 5 s), then 200
//   /text      -> 200 text/plain
//   /empty     -> 204
//   otherwise  -> 200 {"ok": true, "auth": <Authorization header>}
class TestServer {
 public:
  TestServer() {
    auto handler = [this](const httplib::Request& req, httplib::Response& res) {
      handle(req, res);
    };
    server_.Get(".*", handler);
    server_.Post(".*", handler);
    server_.Put(".*", handler);
    server_.Patch(".*", handler);
    server_.Delete(".*", handler);
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~TestServer() {
    {
      std::lock_guard lock(mu_);
      released_ = true;
    }
    cv_.notify_all();
    server_.stop();
    thread_.join();
  }

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  Seen last() const {
    std::lock_guard lock(mu_);
    return seen_.empty() ? Seen{} : seen_.back();
  }
  size_t count() const {
    std::lock_guard lock(mu_);
    return seen_.size();
  }

 private:
  void handle(const httplib::Request& req, httplib::Response& res) {
    std::string auth = req.get_header_value("Authorization");
    {
      std::lock_guard lock(mu_);
      seen_.push_back({req.method, req.target, req.body, req.headers});
    }
    if (req.path.starts_with("/status/")) {
      res.status = std::stoi(req.path.substr(8));
      if (res.status == 400) {
        res.set_content(R"({"error": "size must be positive"})", "application/json");
      } else if (res.status == 404) {
        res.set_content("no such instance", "text/plain");
      } else {
        res.set_content("busy, try later (you sent " + auth + ")", "text/plain");
      }
    } else if (req.path == "/slow") {
      std::unique_lock lock(mu_);
      cv_.wait_for(lock, std::chrono::seconds(5), [this] { return released_; });
      res.set_content("{}", "application/json");
    } else if (req.path == "/text") {
      res.set_content("hello, not json", "text/plain");
    } else if (req.path == "/empty") {
      res.status = 204;
    } else {
      res.set_content(Json({{"ok", true}, {"auth", auth}}).dump(), "application/json");
    }
  }

  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool released_ = false;   // guarded by mu_
  std::vector<Seen> seen_;  // guarded by mu_
};

DeclaredAction declare(const std::string& name, Json binding, Effect effect = Effect::kWrite,
                       Json params = Json::object()) {
  DeclaredAction action;
  action.spec.name = name;
  action.spec.effect = effect;
  action.spec.params_schema = std::move(params);
  action.binding = std::move(binding);
  return action;
}

ConnectorConfig cloud_config(const std::string& base_url) {
  ConnectorConfig config;
  config.name = "cloud";
  config.kind = "http";
  config.settings = {{"kind", "http"},
                     {"base_url", base_url},
                     {"auth", {{"bearer", "ERGON_TEST_TOKEN"}}},
                     {"timeout_ms", 5000},
                     {"headers", {{"X-Client", "ergon"}}}};
  config.actions = {
      declare("cloud.stop_instance", {{"method", "POST"},
                                      {"path", "/v1/instances/{id}/stop"},
                                      {"query", {"window", "tags"}},
                                      {"dry_run", {{"query", {{"dry_run", "true"}}}}}}),
      declare("get_bill", {{"method", "GET"}, {"path", "/v1/bill"}, {"query", {{"w", "window"}}}},
              Effect::kRead),
      declare("cloud.resize",
              {{"method", "patch"},
               {"path", "/v1/instances/{id}"},
               {"body", {{"count", "size"}}},
               {"headers", {{"X-Client", "ergon-resize"}}},
               {"dry_run", {{"method", "GET"}, {"path", "/v1/instances/{id}/preview"}}}}),
      declare("cloud.delete", {{"method", "DELETE"}, {"path", "/v1/instances/{id}"}},
              Effect::kIrreversible),
      declare("cloud.status", {{"method", "POST"}, {"path", "/status/{code}"}}),
      declare("cloud.slow", {{"method", "GET"}, {"path", "/slow"}}, Effect::kRead),
      declare("cloud.text", {{"method", "GET"}, {"path", "/text"}}, Effect::kRead),
      declare("cloud.empty", {{"method", "DELETE"}, {"path", "/empty"}}),
  };
  return config;
}

class HttpConnectorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto vault = Vault::open();
    ASSERT_TRUE(vault) << vault.error().message;
    vault_ = std::move(*vault);
    vault_->put("ERGON_TEST_TOKEN", kToken);
    connector_ = make(cloud_config(server_.url()));
  }

  std::unique_ptr<Connector> make(const ConnectorConfig& config) {
    auto connector = make_http_connector(config, *vault_);
    EXPECT_TRUE(connector) << connector.error().message;
    return connector ? std::move(*connector) : nullptr;
  }

  Result<Json> call(const std::string& action, Json args, const std::string& key = "") {
    return connector_->execute(ActionCall{action, std::move(args), key});
  }

  TestServer server_;
  std::unique_ptr<Vault> vault_;
  std::unique_ptr<Connector> connector_;
};

TEST_F(HttpConnectorTest, ActionsAreFullyQualified) {
  ASSERT_NE(connector_, nullptr);
  EXPECT_EQ(connector_->name(), "cloud");
  std::vector<std::string> names;
  for (const ActionSpec& spec : connector_->actions()) names.push_back(spec.name);
  EXPECT_EQ(names[0], "cloud.stop_instance");
  EXPECT_EQ(names[1], "cloud.get_bill");
  EXPECT_TRUE(connector_->actions()[0].supports_dry_run);
  EXPECT_FALSE(connector_->actions()[1].supports_dry_run);
  EXPECT_EQ(connector_->actions()[3].effect, Effect::kIrreversible);
  auto seen = connector_->observe();
  ASSERT_TRUE(seen);
  EXPECT_EQ(*seen, Json({{"base_url", server_.url()}}));
}

TEST_F(HttpConnectorTest, PathArgumentsAreUrlEncoded) {
  auto result = call("cloud.stop_instance", {{"id", "i 1/ä?x&y"}});
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(server_.last().method, "POST");
  EXPECT_EQ(server_.last().target, "/v1/instances/i%201%2F%C3%A4%3Fx%26y/stop");

  // Numbers fill a path too; a missing argument or a climbing "..", never.
  ASSERT_TRUE(call("cloud.delete", {{"id", 42}}));
  EXPECT_EQ(server_.last().target, "/v1/instances/42");
  auto missing = call("cloud.stop_instance", Json::object());
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ErrorCode::kInvalidInput);
  EXPECT_NE(missing.error().message.find("POST /v1/instances/{id}/stop: argument 'id'"),
            std::string::npos)
      << missing.error().message;
  auto climbing = call("cloud.delete", {{"id", ".."}});
  ASSERT_FALSE(climbing);
  EXPECT_EQ(climbing.error().code, ErrorCode::kInvalidInput);
}

TEST_F(HttpConnectorTest, QueryAndBodyFollowTheBindingAndItsDefaults) {
  // POST: query names go to the query, the path argument to the path, the rest to the body.
  auto stop =
      call("cloud.stop_instance",
           {{"id", "i-1"}, {"window", "7 d"}, {"tags", {"a", "b"}}, {"size", 3}, {"note", "x"}});
  ASSERT_TRUE(stop) << stop.error().message;
  Seen seen = server_.last();
  EXPECT_EQ(seen.target, "/v1/instances/i-1/stop?window=7%20d&tags=a&tags=b");
  EXPECT_EQ(Json::parse(seen.body), Json({{"size", 3}, {"note", "x"}}));
  EXPECT_EQ(seen.header("Content-Type"), "application/json");

  // GET: a map wire_name: arg_name; no body by default.
  ASSERT_TRUE(call("cloud.get_bill", {{"window", "30d"}, {"other", 1}}));
  seen = server_.last();
  EXPECT_EQ(seen.method, "GET");
  EXPECT_EQ(seen.target, "/v1/bill?w=30d");
  EXPECT_EQ(seen.body, "");

  // An explicit body map; method names are case-insensitive in the binding.
  ASSERT_TRUE(call("cloud.resize", {{"id", "i-2"}, {"size", 8}, {"ignored", true}}));
  seen = server_.last();
  EXPECT_EQ(seen.method, "PATCH");
  EXPECT_EQ(seen.target, "/v1/instances/i-2");
  EXPECT_EQ(Json::parse(seen.body), Json({{"count", 8}}));
  // Action headers override the connector's.
  EXPECT_EQ(seen.header("X-Client"), "ergon-resize");

  // DELETE: no body by default.
  ASSERT_TRUE(call("cloud.delete", {{"id", "i-3"}, {"reason", "old"}}));
  EXPECT_EQ(server_.last().method, "DELETE");
  EXPECT_EQ(server_.last().body, "");
}

TEST_F(HttpConnectorTest, BearerTokenIsSentButNeverLeaks) {
  auto ok = call("cloud.get_bill", Json::object());
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_EQ(server_.last().header("Authorization"), std::string("Bearer ") + kToken);
  EXPECT_EQ(server_.last().header("X-Client"), "ergon");
  EXPECT_EQ(server_.last().header("Accept"), "application/json");
  // The server echoes the header; the result holds no secret.
  EXPECT_EQ((*ok)["auth"], "Bearer ***");

  // The server quotes the header in its error; the message holds no secret.
  auto failed = call("cloud.status", {{"code", 503}});
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().message.find(kToken), std::string::npos) << failed.error().message;
  EXPECT_NE(failed.error().message.find("Bearer ***"), std::string::npos);
}

TEST_F(HttpConnectorTest, BasicAuthIsSentAndRedacted) {
  vault_->put("ERGON_TEST_USER", "alice");
  vault_->put("ERGON_TEST_PASSWORD", "pw-secret-1");
  ConnectorConfig config = cloud_config(server_.url());
  config.settings["auth"] = {
      {"basic", {{"user", "ERGON_TEST_USER"}, {"password", "ERGON_TEST_PASSWORD"}}}};
  auto connector = make(config);
  ASSERT_NE(connector, nullptr);
  auto ok = connector->execute({"cloud.get_bill", Json::object(), ""});
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_EQ(server_.last().header("Authorization"), "Basic YWxpY2U6cHctc2VjcmV0LTE=");
  EXPECT_EQ((*ok)["auth"], "Basic ***");
  auto failed = connector->execute({"cloud.status", {{"code", 401}}, ""});
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().code, ErrorCode::kDenied);
  EXPECT_EQ(failed.error().message.find("YWxpY2U6cHctc2VjcmV0LTE="), std::string::npos);
}

TEST_F(HttpConnectorTest, MissingSecretFailsNamingIt) {
  ConnectorConfig config = cloud_config(server_.url());
  config.settings["auth"] = {{"bearer", "ERGON_TEST_NO_SUCH_SECRET"}};
  auto connector = make_http_connector(config, *vault_);
  ASSERT_FALSE(connector);
  EXPECT_EQ(connector.error().code, ErrorCode::kNotFound);
  EXPECT_NE(connector.error().message.find("ERGON_TEST_NO_SUCH_SECRET"), std::string::npos);
  EXPECT_NE(connector.error().message.find("auth.bearer"), std::string::npos);
}

TEST_F(HttpConnectorTest, IdempotencyKeyHeader) {
  ASSERT_TRUE(call("cloud.stop_instance", {{"id", "i-1"}}, "s-1:i-1"));
  EXPECT_EQ(server_.last().header("Idempotency-Key"), "s-1:i-1");
  ASSERT_TRUE(call("cloud.stop_instance", {{"id", "i-1"}}));
  EXPECT_FALSE(server_.last().has_header("Idempotency-Key"));
  auto split = call("cloud.stop_instance", {{"id", "i-1"}}, "a\r\nX-Evil: 1");
  ASSERT_FALSE(split);
  EXPECT_EQ(split.error().code, ErrorCode::kInvalidInput);
}

TEST_F(HttpConnectorTest, DryRunUsesTheBindingOverrides) {
  auto preview =
      connector_->dry_run({"cloud.stop_instance", {{"id", "i-1"}, {"window", "1h"}}, "s-1:i-1"});
  ASSERT_TRUE(preview) << preview.error().message;
  Seen seen = server_.last();
  EXPECT_EQ(seen.method, "POST");
  EXPECT_EQ(seen.target, "/v1/instances/i-1/stop?window=1h&dry_run=true");
  // A preview must not claim the idempotency key of the real call.
  EXPECT_FALSE(seen.has_header("Idempotency-Key"));

  ASSERT_TRUE(connector_->dry_run({"cloud.resize", {{"id", "i-2"}, {"size", 4}}, ""}));
  EXPECT_EQ(server_.last().method, "GET");
  EXPECT_EQ(server_.last().target, "/v1/instances/i-2/preview");

  size_t before = server_.count();
  auto none = connector_->dry_run({"cloud.get_bill", Json::object(), ""});
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().code, ErrorCode::kNotFound);
  EXPECT_EQ(none.error().message, "cloud.get_bill has no dry run");
  EXPECT_EQ(server_.count(), before);
}

TEST_F(HttpConnectorTest, RetryableStatuses) {
  auto busy = call("cloud.status", {{"code", 503}});
  ASSERT_FALSE(busy);
  EXPECT_EQ(busy.error().code, ErrorCode::kUnavailable);
  EXPECT_TRUE(busy.error().retryable());
  EXPECT_EQ(busy.error().message,
            "POST /status/503: HTTP 503: busy, try later (you sent Bearer ***)");

  auto limited = call("cloud.status", {{"code", 429}});
  ASSERT_FALSE(limited);
  EXPECT_EQ(limited.error().code, ErrorCode::kUnavailable);
  EXPECT_TRUE(limited.error().retryable());
}

TEST_F(HttpConnectorTest, ClientErrorsAreNotRetryable) {
  auto bad = call("cloud.status", {{"code", 400}});
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_FALSE(bad.error().retryable());
  EXPECT_EQ(bad.error().message, "POST /status/400: HTTP 400: size must be positive");

  auto missing = call("cloud.status", {{"code", 404}});
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
  EXPECT_EQ(missing.error().message, "POST /status/404: HTTP 404: no such instance");

  auto forbidden = call("cloud.status", {{"code", 403}});
  ASSERT_FALSE(forbidden);
  EXPECT_EQ(forbidden.error().code, ErrorCode::kDenied);
  EXPECT_FALSE(forbidden.error().retryable());

  auto conflict = call("cloud.status", {{"code", 409}});
  ASSERT_FALSE(conflict);
  EXPECT_EQ(conflict.error().code, ErrorCode::kFailedPrecondition);
}

TEST_F(HttpConnectorTest, SlowServerTimesOut) {
  ConnectorConfig config = cloud_config(server_.url());
  config.settings["timeout_ms"] = 300;
  auto connector = make(config);
  ASSERT_NE(connector, nullptr);
  auto start = std::chrono::steady_clock::now();
  auto slow = connector->execute({"cloud.slow", Json::object(), ""});
  auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(slow);
  EXPECT_EQ(slow.error().code, ErrorCode::kTimeout);
  EXPECT_TRUE(slow.error().retryable());
  EXPECT_TRUE(slow.error().message.starts_with("GET /slow: no answer from " + server_.url() +
                                               " within 300 ms"))
      << slow.error().message;
  EXPECT_LT(elapsed, std::chrono::seconds(3));
}

// A port nothing listens on: bound, then closed again.
int closed_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  socklen_t length = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &length);
  ::close(fd);
  return ntohs(addr.sin_port);
}

TEST_F(HttpConnectorTest, ConnectionRefusedIsRetryable) {
  std::string url = "http://127.0.0.1:" + std::to_string(closed_port());
  auto connector = make(cloud_config(url));
  ASSERT_NE(connector, nullptr);
  auto refused = connector->execute({"cloud.get_bill", Json::object(), ""});
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kUnavailable);
  EXPECT_TRUE(refused.error().retryable());
  EXPECT_TRUE(refused.error().message.starts_with("GET /v1/bill: cannot reach " + url))
      << refused.error().message;
}

TEST_F(HttpConnectorTest, NonJsonAndEmptyBodies) {
  auto text = call("cloud.text", Json::object());
  ASSERT_TRUE(text) << text.error().message;
  EXPECT_EQ(*text, Json({{"text", "hello, not json"}}));
  auto empty = call("cloud.empty", Json::object());
  ASSERT_TRUE(empty) << empty.error().message;
  EXPECT_EQ(*empty, Json::object());
}

TEST_F(HttpConnectorTest, UnknownActionAndBadArguments) {
  auto unknown = call("cloud.reboot", Json::object());
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code, ErrorCode::kNotFound);
  EXPECT_NE(unknown.error().message.find("'cloud.reboot'"), std::string::npos);
  auto not_object = call("cloud.get_bill", Json::array());
  ASSERT_FALSE(not_object);
  EXPECT_EQ(not_object.error().code, ErrorCode::kInvalidInput);
}

TEST_F(HttpConnectorTest, BaseUrlEnvWinsOverBaseUrl) {
  ConnectorConfig config = cloud_config("http://127.0.0.1:" + std::to_string(closed_port()));
  config.settings["base_url_env"] = "ERGON_HTTP_CONNECTOR_TEST_URL";
  ::setenv("ERGON_HTTP_CONNECTOR_TEST_URL", server_.url().c_str(), 1);
  auto connector = make(config);
  ::unsetenv("ERGON_HTTP_CONNECTOR_TEST_URL");
  ASSERT_NE(connector, nullptr);
  EXPECT_TRUE(connector->execute({"cloud.get_bill", Json::object(), ""}));

  // Unset and without base_url: an error that says what to export.
  config.settings.erase("base_url");
  auto missing = make_http_connector(config, *vault_);
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("export ERGON_HTTP_CONNECTOR_TEST_URL"),
            std::string::npos);
}

TEST_F(HttpConnectorTest, InvalidBindingIsRejected) {
  ConnectorConfig config = cloud_config(server_.url());
  config.actions.push_back(declare("cloud.bad", {{"method", "FETCH"}, {"path", "/x"}}));
  auto connector = make_http_connector(config, *vault_);
  ASSERT_FALSE(connector);
  EXPECT_EQ(connector.error().code, ErrorCode::kInvalidInput);
  EXPECT_NE(connector.error().message.find("connector 'cloud' action 'cloud.bad': /method: "),
            std::string::npos)
      << connector.error().message;
}

TEST_F(HttpConnectorTest, ConcurrentCallsAreSafe) {
  std::atomic<int> failures = 0;
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 10; ++i) {
        auto result = call("cloud.stop_instance", {{"id", "i-" + std::to_string(t)}},
                           "k-" + std::to_string(t) + "-" + std::to_string(i));
        if (!result) ++failures;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(failures, 0);
  EXPECT_EQ(server_.count(), 60u);
}

// ---------------------------------------------------------------------------
// The workspace builds its connectors from ergon.yaml.

TEST_F(HttpConnectorTest, BuildConnectorsFromAWorkspace) {
  testing::TempDir dir;
  testing::write_file(dir.file("ergon.yaml"), R"(connectors:
  cloud:
    kind: http
    base_url: )" + server_.url() + R"(
    auth: { bearer: ERGON_TEST_TOKEN }
    actions:
      stop_instance:
        method: POST
        path: /v1/instances/{id}/stop
        effect: write
)");
  auto ws = load_workspace(dir.path());
  ASSERT_TRUE(ws) << ws.error().message;
  auto set = build_connectors(*ws, *vault_);
  ASSERT_TRUE(set) << set.error().message;
  auto found = set->find("cloud.stop_instance");
  ASSERT_TRUE(found) << found.error().message;
  auto result = found->first->execute({"cloud.stop_instance", {{"id", "i-9"}}, ""});
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(server_.last().target, "/v1/instances/i-9/stop");

  Workspace other = *ws;
  other.connectors[0].kind = "shell";
  auto unsupported = build_connectors(other, *vault_);
  ASSERT_FALSE(unsupported);
  EXPECT_NE(unsupported.error().message.find(
                "unsupported connector kind 'shell' (available: http, browser, mcp)"),
            std::string::npos);
}

}  // namespace
}  // namespace ergon
