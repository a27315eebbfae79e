#include "ergon/cdp.h"

#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>
#include <sys/wait.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "support/process.h"

namespace ergon {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;
using testing::TempDir;

// A page server on 127.0.0.1, port 0.
class PageServer {
 public:
  PageServer() {
    server_.Get("/hello", [](const httplib::Request&, httplib::Response& res) {
      res.set_content("<title>hello</title><p>hi</p>", "text/html");
    });
    // stop() waits for open connections, idle ones (Chromium preconnects)
    // included, to time out.
    server_.set_keep_alive_timeout(1);
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(1ms);
  }
  ~PageServer() {
    server_.stop();
    thread_.join();
  }
  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }

 private:
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
};

std::unique_ptr<Chromium> launch_in(const TempDir& dir, bool remove_profile = true) {
  ChromiumOptions options;
  options.profile_dir = dir.file("profile");
  options.remove_profile_on_close = remove_profile;
  auto browser = Chromium::launch(options);
  EXPECT_TRUE(browser.has_value()) << browser.error().message;
  return browser ? std::move(*browser) : nullptr;
}

// A tab attached with flatten:true; returns its session id.
std::string attach_tab(Chromium& browser) {
  auto target = browser.call("Target.createTarget", {{"url", "about:blank"}});
  EXPECT_TRUE(target.has_value()) << target.error().message;
  auto attached = browser.call("Target.attachToTarget",
                               {{"targetId", (*target)["targetId"]}, {"flatten", true}});
  EXPECT_TRUE(attached.has_value()) << attached.error().message;
  return (*attached)["sessionId"].get<std::string>();
}

// One browser shared by the tests that do not end it.
class CdpTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    browser_ = launch_in(*dir_).release();
  }
  static void TearDownTestSuite() {
    delete browser_;
    browser_ = nullptr;
    delete dir_;
    dir_ = nullptr;
  }
  void SetUp() override { ASSERT_NE(browser_, nullptr); }

  static TempDir* dir_;
  static Chromium* browser_;
};
TempDir* CdpTest::dir_ = nullptr;
Chromium* CdpTest::browser_ = nullptr;

TEST_F(CdpTest, LaunchAnswersBrowserGetVersion) {
  auto version = browser_->call("Browser.getVersion");
  ASSERT_TRUE(version.has_value()) << version.error().message;
  EXPECT_NE((*version)["product"].get<std::string>().find("Chrome"), std::string::npos);
  EXPECT_EQ((*version)["protocolVersion"], "1.3");
  EXPECT_TRUE(browser_->alive());
  EXPECT_GT(browser_->pid(), 0);
  EXPECT_EQ(browser_->exit_reason(), "");
  // The browser leads its own process group, so one signal reaches its helpers.
  EXPECT_EQ(getpgid(browser_->pid()), browser_->pid());
}

TEST_F(CdpTest, ErrorAnswerIsFailedPrecondition) {
  auto answer = browser_->call("No.suchMethod");
  ASSERT_FALSE(answer.has_value());
  EXPECT_EQ(answer.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_NE(answer.error().message.find("No.suchMethod"), std::string::npos)
      << answer.error().message;
}

TEST_F(CdpTest, CallWithoutAnswerTimesOutAndLaterCallsWork) {
  std::string session = attach_tab(*browser_);
  auto start = std::chrono::steady_clock::now();
  auto hung = browser_->call("Runtime.evaluate",
                             {{"expression", "new Promise(() => {})"}, {"awaitPromise", true}},
                             session, 200ms);
  auto took = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(hung.has_value());
  EXPECT_EQ(hung.error().code, ErrorCode::kTimeout);
  EXPECT_NE(hung.error().message.find("Runtime.evaluate"), std::string::npos);
  EXPECT_GE(took, 200ms);
  EXPECT_LT(took, 2s);

  auto two = browser_->call("Runtime.evaluate", {{"expression", "1 + 1"}}, session);
  ASSERT_TRUE(two.has_value()) << two.error().message;
  EXPECT_EQ((*two)["result"]["value"], 2);
}

TEST_F(CdpTest, ConcurrentCallsGetTheirOwnAnswers) {
  std::string session = attach_tab(*browser_);
  std::vector<std::future<bool>> results;
  for (int t = 0; t < 4; ++t) {
    results.push_back(std::async(std::launch::async, [&, t] {
      for (int i = 0; i < 20; ++i) {
        int n = t * 100 + i;
        auto answer =
            browser_->call("Runtime.evaluate", {{"expression", std::to_string(n)}}, session);
        if (!answer || (*answer)["result"]["value"] != n) return false;
      }
      return true;
    }));
  }
  for (auto& result : results) EXPECT_TRUE(result.get());
}

TEST_F(CdpTest, EventsReachSubscribersAndWaiters) {
  PageServer server;
  std::string session = attach_tab(*browser_);
  ASSERT_TRUE(browser_->call("Page.enable", Json::object(), session).has_value());

  std::mutex mu;
  std::vector<std::string> navigated;
  int id = browser_->subscribe([&](const CdpEvent& event) {
    if (event.method != "Page.frameNavigated" || event.session != session) return;
    std::lock_guard lock(mu);
    navigated.push_back(event.params["frame"]["url"].get<std::string>());
  });

  auto loaded = browser_->expect([&](const CdpEvent& event) {
    return event.method == "Page.loadEventFired" && event.session == session;
  });
  auto never = browser_->expect([](const CdpEvent& event) { return event.method == "No.such"; });
  auto nav = browser_->call("Page.navigate", {{"url", server.url("/hello")}}, session);
  ASSERT_TRUE(nav.has_value()) << nav.error().message;
  auto event = loaded->wait(10s);
  ASSERT_TRUE(event.has_value()) << event.error().message;
  EXPECT_EQ(event->session, session);
  EXPECT_TRUE(event->params.contains("timestamp"));
  {
    std::lock_guard lock(mu);
    ASSERT_EQ(navigated.size(), 1u);
    EXPECT_EQ(navigated[0], server.url("/hello"));
  }

  auto none = never->wait(50ms);
  ASSERT_FALSE(none.has_value());
  EXPECT_EQ(none.error().code, ErrorCode::kTimeout);

  // After unsubscribe the handler sees nothing more.
  browser_->unsubscribe(id);
  auto again = browser_->expect([&](const CdpEvent& event) {
    return event.method == "Page.loadEventFired" && event.session == session;
  });
  ASSERT_TRUE(browser_->call("Page.reload", Json::object(), session).has_value());
  ASSERT_TRUE(again->wait(10s).has_value());
  std::lock_guard lock(mu);
  EXPECT_EQ(navigated.size(), 1u);
}

TEST(ChromiumTest, MissingExecutableIsUnavailable) {
  TempDir dir;
  ChromiumOptions options;
  options.executable = dir.file("no-such-chromium");
  options.profile_dir = dir.file("profile");
  auto browser = Chromium::launch(options);
  ASSERT_FALSE(browser.has_value());
  EXPECT_EQ(browser.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(browser.error().message.find("no-such-chromium"), std::string::npos);
}

TEST(ChromiumTest, ExecutableThatIsNotChromiumFailsWithinTheLaunchTimeout) {
  TempDir dir;
  ChromiumOptions options;
  options.executable = "/bin/true";
  options.profile_dir = dir.file("profile");
  options.launch_timeout = 5s;
  auto start = std::chrono::steady_clock::now();
  auto browser = Chromium::launch(options);
  ASSERT_FALSE(browser.has_value());
  EXPECT_EQ(browser.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(browser.error().message.find("chromium exited: status 0"), std::string::npos)
      << browser.error().message;
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
}

TEST(ChromiumTest, KilledBrowserFailsPendingAndLaterCalls) {
  TempDir dir;
  auto browser = launch_in(dir);
  ASSERT_NE(browser, nullptr);
  std::string session = attach_tab(*browser);
  auto gone = browser->expect([](const CdpEvent& event) { return event.method == "No.such"; });

  auto pending = std::async(std::launch::async, [&] {
    return browser->call("Runtime.evaluate",
                         {{"expression", "new Promise(() => {})"}, {"awaitPromise", true}}, session,
                         30s);
  });
  // The call is in flight once Chromium has it; a short pause lets it leave.
  std::this_thread::sleep_for(100ms);
  pid_t pid = browser->pid();
  auto start = std::chrono::steady_clock::now();
  browser->kill();

  auto answer = pending.get();
  ASSERT_FALSE(answer.has_value());
  EXPECT_EQ(answer.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(answer.error().message.find("signal 9"), std::string::npos) << answer.error().message;
  EXPECT_LT(std::chrono::steady_clock::now() - start, 10s);

  EXPECT_FALSE(browser->alive());
  EXPECT_NE(browser->exit_reason().find("signal 9"), std::string::npos) << browser->exit_reason();
  auto later = browser->call("Browser.getVersion");
  ASSERT_FALSE(later.has_value());
  EXPECT_EQ(later.error().code, ErrorCode::kUnavailable);

  auto waited = gone->wait(5s);
  ASSERT_FALSE(waited.has_value());
  EXPECT_EQ(waited.error().code, ErrorCode::kUnavailable);
  auto after = browser->expect([](const CdpEvent&) { return true; })->wait(5s);
  ASSERT_FALSE(after.has_value());
  EXPECT_EQ(after.error().code, ErrorCode::kUnavailable);

  // Reaped: the pid is no longer our child.
  EXPECT_EQ(::waitpid(pid, nullptr, WNOHANG), -1);
  EXPECT_EQ(errno, ECHILD);
  browser.reset();  // the destructor of a dead browser returns at once
}

TEST(ChromiumTest, ProfileIsRemovedOnCloseWhenAsked) {
  TempDir dir;
  std::string profile = dir.file("profile");
  {
    auto browser = launch_in(dir);
    ASSERT_NE(browser, nullptr);
    EXPECT_TRUE(fs::is_directory(profile));
    pid_t pid = browser->pid();
    browser.reset();
    EXPECT_EQ(::waitpid(pid, nullptr, WNOHANG), -1);  // reaped
    EXPECT_EQ(errno, ECHILD);
  }
  EXPECT_FALSE(fs::exists(profile));

  {
    auto browser = launch_in(dir, /*remove_profile=*/false);
    ASSERT_NE(browser, nullptr);
    auto closed_at = std::chrono::steady_clock::now();
    browser.reset();
    EXPECT_LT(std::chrono::steady_clock::now() - closed_at, 6s);  // polite close, no SIGKILL wait
  }
  EXPECT_TRUE(fs::is_directory(profile));
}

}  // namespace
}  // namespace ergon
