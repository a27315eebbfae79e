// The browser connector (make_browser_connector) against pages served by a
// local HTTP server on port 0, driving a real headless Chromium. Each test
// builds its own connector (one browser) with its state in a fresh TempDir.
#include <dirent.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "ergon/browser.h"
#include "ergon/learn.h"
#include "ergon/vault.h"
#include "support/process.h"

namespace ergon {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using testing::TempDir;

// One request as the server saw it.
struct Seen {
  std::string method;
  std::string path;
  std::map<std::string, std::string> params;  // query and form fields
  std::string cookie;                         // the Cookie header
};

// Pages for the tests on 127.0.0.1, port 0, and a log of every request.
// "localhost" on the same port is another origin.
class SiteServer {
 public:
  SiteServer() {
    auto handle = [this](const httplib::Request& req, httplib::Response& res) {
      Seen seen{req.method, req.path, {}, req.get_header_value("Cookie")};
      for (const auto& [key, value] : req.params) seen.params[key] = value;
      {
        std::lock_guard lock(mu_);
        log_.push_back(seen);
        cv_.notify_all();
      }
      if (req.path == "/slow") {
        // Answered only once the test says so (or after 10 s).
        std::unique_lock lock(mu_);
        cv_.wait_for(lock, 10s, [this] { return released_; });
        res.set_content("<title>Slow</title>", "text/html");
        return;
      }
      if (req.path == "/login") {
        // A session cookie (no Max-Age): the browser profile does not keep it.
        res.set_header("Set-Cookie", "sid=" + token_ + "; Path=/; HttpOnly");
        res.set_content("<title>Signed in</title><p>Welcome back</p>", "text/html");
        return;
      }
      if (req.path == "/whoami") {
        res.set_content("<title>Who am I</title><p id=c>cookie: " + seen.cookie + "</p>",
                        "text/html");
        return;
      }
      if (req.path == "/clicked" || req.path == "/signed-in") {
        std::string which = req.has_param("which") ? req.get_param_value("which") : "";
        res.set_content("<title>Done " + which + "</title><p>Thanks</p>", "text/html");
        return;
      }
      std::lock_guard lock(mu_);
      auto page = pages_.find(req.path);
      if (page == pages_.end()) {
        res.status = 404;
        res.set_content("<title>Not found</title>", "text/html");
        return;
      }
      res.set_content(page->second, "text/html");
    };
    server_.Get(".*", handle);
    server_.Post(".*", handle);
    // stop() waits for idle keep-alive connections (Chromium preconnects).
    server_.set_keep_alive_timeout(1);
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(1ms);
  }
  ~SiteServer() {
    release();
    server_.stop();
    thread_.join();
  }

  void page(const std::string& path, const std::string& html) {
    std::lock_guard lock(mu_);
    pages_[path] = html;
  }
  std::string origin() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::string url(const std::string& path) const { return origin() + path; }
  std::string foreign_url(const std::string& path) const {
    return "http://localhost:" + std::to_string(port_) + path;
  }
  const std::string& token() const { return token_; }

  // Waits until a request for `path` arrived; false on timeout.
  bool await_request(const std::string& path, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] {
      for (const Seen& s : log_) {
        if (s.path == path) return true;
      }
      return false;
    });
  }
  // Lets held /slow requests finish.
  void release() {
    std::lock_guard lock(mu_);
    released_ = true;
    cv_.notify_all();
  }

  std::vector<Seen> requests(const std::string& path) const {
    std::lock_guard lock(mu_);
    std::vector<Seen> out;
    for (const Seen& s : log_) {
      if (s.path == path) out.push_back(s);
    }
    return out;
  }

 private:
  httplib::Server server_;
  mutable std::mutex mu_;
  std::condition_variable cv_;                // a request arrived, or release()
  bool released_ = false;                     // guarded by mu_
  std::map<std::string, std::string> pages_;  // guarded by mu_
  std::vector<Seen> log_;                     // guarded by mu_
  std::string token_ = "tok" + std::to_string(std::random_device{}());
  int port_ = 0;
  std::thread thread_;
};

// A form with a submit button, a plain link and a "Delete" button outside it.
constexpr char kInspectPage[] = R"HTML(<title>Inspect</title>
<form action="/clicked" method="get">
  <label for="q">Query</label> <input id="q" name="q">
  <button id="go">Go</button>
</form>
<p><a id="other" href="/other">Other page</a></p>
<p><button id="del" type="button" onclick="this.textContent = 'Gone'">Delete</button></p>)HTML";

constexpr char kSignInPage[] = R"HTML(<title>Sign in</title>
<form action="/signed-in" method="post">
  <label for="user">Username</label> <input id="user" name="user">
  <label for="pw">Password</label> <input id="pw" name="pw" type="password">
  <button type="submit">Sign in</button>
</form>)HTML";

// The page as a skill was recorded on it: "Save draft", #save-btn.
constexpr char kDraftTarget[] =
    R"({"role": "button", "name": "Save draft", "tag": "button", "id": "save-btn",
        "classes": "btn primary"})";

// The redesign: the same button renamed and relabelled.
constexpr char kDraftsV2[] = R"HTML(<title>Drafts</title>
<main>
  <p>Your draft is ready.</p>
  <form action="/clicked"><input type="hidden" name="which" value="renamed">
    <button id="store-btn" class="btn primary">Save the draft</button></form>
  <form action="/clicked"><input type="hidden" name="which" value="discard">
    <button id="discard-btn" class="btn">Discard</button></form>
</main>)HTML";

// The redesign plus, after it, a button exactly as the skill recorded it: the
// stored (healed) fingerprint finds the renamed one, the original the decoy.
constexpr char kDraftsV3[] = R"HTML(<title>Drafts</title>
<main>
  <p>Your draft is ready.</p>
  <form action="/clicked"><input type="hidden" name="which" value="renamed">
    <button id="store-btn" class="btn primary">Save the draft</button></form>
  <form action="/clicked"><input type="hidden" name="which" value="discard">
    <button id="discard-btn" class="btn">Discard</button></form>
  <form action="/clicked"><input type="hidden" name="which" value="decoy">
    <button id="save-btn" class="btn primary">Save draft</button></form>
</main>)HTML";

constexpr char kTwinsPage[] = R"HTML(<title>Twins</title>
<form action="/clicked"><input type="hidden" name="which" value="first"><button>Choose</button></form>
<form action="/clicked"><input type="hidden" name="which" value="second"><button>Choose</button></form>)HTML";

// "Go" by its label is the first button, by its id the second.
constexpr char kRenamedPage[] = R"HTML(<title>Renamed</title>
<form action="/clicked"><input type="hidden" name="which" value="first"><button id="other">Go</button></form>
<form action="/clicked"><input type="hidden" name="which" value="second"><button id="go">Start</button></form>)HTML";

constexpr char kTablePage[] = R"HTML(<title>Stock</title>
<h1>Stock</h1>
<p>Two items in stock</p>
<table>
  <thead><tr><th>Item</th><th>Qty</th></tr></thead>
  <tbody><tr><td>Bolt</td><td>12</td></tr><tr><td>Nut</td><td>7</td></tr></tbody>
</table>)HTML";

constexpr char kDialogPage[] = R"HTML(<title>Dialog</title>
<button id="show" onclick="alert('Saved to the outbox'); document.title = 'after alert'">Show alert</button>)HTML";

constexpr char kNotePage[] = R"HTML(<title>Note</title>
<label for="note">Note</label> <input id="note" name="note">)HTML";

std::string random_secret() {
  std::mt19937_64 random(std::random_device{}());
  std::ostringstream out;
  out << "pw" << std::hex << random() << random();
  return out.str();
}

class BrowserConnectorTest : public ::testing::Test {
 protected:
  BrowserConnectorTest() {
    auto vault = Vault::open();
    EXPECT_TRUE(vault.has_value());
    if (vault) vault_ = std::move(*vault);
  }

  // <temp>/ws/.ergon/browser, as a workspace would have it.
  std::string state_dir() const { return dir_.file("ws/.ergon/browser"); }

  std::unique_ptr<Connector> make(const Json& extra = Json::object()) {
    ConnectorConfig config;
    config.name = "web";
    config.kind = "browser";
    config.settings = {{"kind", "browser"}, {"base_url", site_.origin()}, {"timeout_ms", 3000}};
    config.settings.update(extra);
    auto made = make_browser_connector(config, *vault_, state_dir());
    EXPECT_TRUE(made.has_value()) << made.error().message;
    return made ? std::move(*made) : nullptr;
  }

  static Result<Json> call(Connector& connector, const std::string& action, const Json& args,
                           const std::string& person_answer = "") {
    return connector.execute(ActionCall{"web." + action, args, "", person_answer});
  }
  static Result<Json> inspect(Connector& connector, const std::string& action, const Json& args) {
    return connector.inspect(ActionCall{"web." + action, args, "", ""});
  }

  // Navigates and fails the test when that does not work.
  void go(Connector& connector, const std::string& path) {
    auto went = call(connector, "navigate", {{"url", path}});
    ASSERT_TRUE(went.has_value()) << path << ": " << went.error().message;
  }

  // The `which` of every /clicked request, in order.
  std::vector<std::string> clicked() const {
    std::vector<std::string> out;
    for (const Seen& s : site_.requests("/clicked"))
      out.push_back(s.params.count("which") ? s.params.at("which") : "");
    return out;
  }

  TempDir dir_;
  SiteServer site_;
  std::unique_ptr<Vault> vault_;
};

// ---------------------------------------------------------------------------
// inspect

TEST_F(BrowserConnectorTest, InspectClassifiesClicksAndRefusesForeignNavigation) {
  site_.page("/inspect", kInspectPage);
  auto web = make();
  ASSERT_NE(web, nullptr);
  go(*web, "/inspect");

  auto submit = inspect(*web, "click", {{"target", "Go"}});
  ASSERT_TRUE(submit.has_value()) << submit.error().message;
  EXPECT_EQ(*submit, (Json{{"effect", "irreversible"}})) << "a form's submit button";

  auto link = inspect(*web, "click", {{"target", "Other page"}});
  ASSERT_TRUE(link.has_value()) << link.error().message;
  EXPECT_EQ(*link, Json::object()) << "a plain link";

  auto remove = inspect(*web, "click", {{"target", {{"role", "button"}, {"name", "Delete"}}}});
  ASSERT_TRUE(remove.has_value()) << remove.error().message;
  EXPECT_EQ(*remove, (Json{{"effect", "irreversible"}})) << "a button reading Delete";

  auto overridden = inspect(*web, "click", {{"target", "Go"}, {"effect", "write"}});
  ASSERT_TRUE(overridden.has_value()) << overridden.error().message;
  EXPECT_EQ(*overridden, (Json{{"effect", "write"}})) << "the skill's effect wins";

  auto foreign = inspect(*web, "navigate", {{"url", site_.foreign_url("/x")}});
  ASSERT_FALSE(foreign.has_value());
  EXPECT_EQ(foreign.error().code, ErrorCode::kDenied);
  EXPECT_NE(foreign.error().message.find(site_.origin()), std::string::npos)
      << "names the allowed origins: " << foreign.error().message;

  auto relative = inspect(*web, "navigate", {{"url", "/other"}});
  EXPECT_TRUE(relative.has_value()) << relative.error().message;

  // Inspecting changed nothing: no click reached the server.
  EXPECT_TRUE(site_.requests("/clicked").empty());
}

// ---------------------------------------------------------------------------
// fill with a secret

TEST_F(BrowserConnectorTest, SecretReachesThePageButNothingElse) {
  site_.page("/signin", kSignInPage);
  std::string secret = random_secret();
  vault_->put("SITE_PASSWORD", secret);
  auto web = make();
  ASSERT_NE(web, nullptr);
  go(*web, "/signin");

  auto user = call(*web, "fill",
                   {{"target", {{"role", "textbox"}, {"name", "Username"}}}, {"value", "dr.lee"}});
  ASSERT_TRUE(user.has_value()) << user.error().message;
  auto typed = call(*web, "fill",
                    {{"target", {{"tag", "input"}, {"type", "password"}, {"name_attr", "pw"}}},
                     {"secret", "SITE_PASSWORD"}});
  ASSERT_TRUE(typed.has_value()) << typed.error().message;
  EXPECT_EQ(typed->value("value", ""), "[secret SITE_PASSWORD]") << *typed;
  EXPECT_EQ(typed->dump().find(secret), std::string::npos) << *typed;

  auto seen = web->observe();
  ASSERT_TRUE(seen.has_value()) << seen.error().message;
  EXPECT_EQ(seen->dump().find(secret), std::string::npos) << "observe() shows the secret";

  auto sent = call(*web, "click", {{"target", {{"role", "button"}, {"name", "Sign in"}}}});
  ASSERT_TRUE(sent.has_value()) << sent.error().message;
  EXPECT_EQ(sent->dump().find(secret), std::string::npos) << *sent;
  auto posts = site_.requests("/signed-in");
  ASSERT_EQ(posts.size(), 1u);
  EXPECT_EQ(posts[0].method, "POST");
  EXPECT_EQ(posts[0].params["pw"], secret) << "the page received the secret";
  EXPECT_EQ(posts[0].params["user"], "dr.lee");
}

// ---------------------------------------------------------------------------
// grounding

TEST_F(BrowserConnectorTest, RenamedElementIsHealedAndTheFingerprintRemembered) {
  site_.page("/v2", kDraftsV2);
  site_.page("/v3", kDraftsV3);
  Json target = Json::parse(kDraftTarget);
  std::string store = state_dir() + "/fingerprints.json";
  {
    auto web = make();
    ASSERT_NE(web, nullptr);
    go(*web, "/v2");
    auto clicked_v2 = call(*web, "click", {{"target", target}});
    ASSERT_TRUE(clicked_v2.has_value()) << clicked_v2.error().message;
    EXPECT_EQ(clicked_v2->value("healed", false), true) << *clicked_v2;
    EXPECT_EQ(clicked_v2->value("fingerprint", Json()).value("id", ""), "store-btn") << *clicked_v2;
    ASSERT_TRUE(fs::exists(store)) << store;
    Json stored = Json::parse(testing::read_file(store), nullptr, false);
    ASSERT_TRUE(stored.is_object());
    ASSERT_EQ(stored.size(), 1u) << stored;
    EXPECT_EQ(stored.begin()->value("id", ""), "store-btn") << stored;
  }
  EXPECT_EQ(clicked(), std::vector<std::string>{"renamed"});

  // A new process of the same workspace: the stored fingerprint is tried
  // first, so the renamed button wins over one that matches the recording.
  auto web = make();
  ASSERT_NE(web, nullptr);
  go(*web, "/v3");
  auto clicked_v3 = call(*web, "click", {{"target", target}});
  ASSERT_TRUE(clicked_v3.has_value()) << clicked_v3.error().message;
  EXPECT_EQ(clicked_v3->value("healed", false), true) << *clicked_v3;
  EXPECT_EQ(clicked(), (std::vector<std::string>{"renamed", "renamed"}));
}

TEST_F(BrowserConnectorTest, AmbiguousTargetAsksAPersonAndTakesTheAnswer) {
  site_.page("/twins", kTwinsPage);
  auto web = make({{"timeout_ms", 1000}});
  ASSERT_NE(web, nullptr);
  go(*web, "/twins");
  auto asked = call(*web, "click", {{"target", "Choose"}});
  ASSERT_FALSE(asked.has_value());
  EXPECT_EQ(asked.error().code, ErrorCode::kNeedsPerson) << asked.error().message;
  EXPECT_NE(asked.error().message.find("1)"), std::string::npos) << asked.error().message;
  EXPECT_NE(asked.error().message.find("2)"), std::string::npos) << asked.error().message;
  EXPECT_TRUE(clicked().empty()) << "nothing was clicked while in doubt";

  auto answered = call(*web, "click", {{"target", "Choose"}}, "2");
  ASSERT_TRUE(answered.has_value()) << answered.error().message;
  EXPECT_EQ(clicked(), std::vector<std::string>{"second"});
}

// A person's pick is a real labelled pair: one line in picks.jsonl with the
// skill's target as written, every candidate scored and the one picked.
TEST_F(BrowserConnectorTest, PersonsPickIsKeptAsARealLabelledPair) {
  site_.page("/twins", kTwinsPage);
  auto web = make({{"timeout_ms", 1000}});
  ASSERT_NE(web, nullptr);
  go(*web, "/twins");
  const Json target = {{"text", "Choose"}, {"tag", "button"}};
  ASSERT_FALSE(call(*web, "click", {{"target", target}}).has_value());
  EXPECT_FALSE(fs::exists(state_dir() + "/picks.jsonl")) << "no pick, no line";

  auto answered = call(*web, "click", {{"target", target}}, "2");
  ASSERT_TRUE(answered.has_value()) << answered.error().message;
  ASSERT_EQ(clicked(), std::vector<std::string>{"second"});

  EXPECT_EQ(picks_path(dir_.file("ws")), state_dir() + "/picks.jsonl");
  std::ifstream in(state_dir() + "/picks.jsonl");
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  ASSERT_EQ(lines.size(), 1u);
  const Json pick = Json::parse(lines[0]);
  EXPECT_EQ(pick["target"], target) << "the target as the skill names it";
  EXPECT_NE(pick.value("url", "").find("/twins"), std::string::npos) << pick;
  ASSERT_TRUE(pick["elements"].is_array());
  const Json& elements = pick["elements"];
  ASSERT_GE(elements.size(), 2u) << pick;
  const int picked = pick.value("picked", -1);
  ASSERT_GE(picked, 0);
  ASSERT_LT(picked, static_cast<int>(elements.size()));
  // The twins differ only in where they are: the second is the lower one.
  double lowest = -1;
  int lowest_button = -1;
  for (size_t i = 0; i < elements.size(); ++i) {
    if (elements[i].value("text", "") != "Choose") continue;
    if (elements[i].value("y", -1.0) > lowest) {
      lowest = elements[i].value("y", -1.0);
      lowest_button = static_cast<int>(i);
    }
  }
  EXPECT_EQ(picked, lowest_button) << pick;

  auto pairs = training_pairs(dir_.file("ws"));
  ASSERT_TRUE(pairs.has_value()) << pairs.error().message;
  ASSERT_EQ(pairs->size(), 1u);
  EXPECT_EQ((*pairs)[0].answer, picked);
}

// The workspace's learned grounding model is what the connector grounds with:
// the published weights trust the label, a model that learned to trust ids
// picks the other button.
TEST_F(BrowserConnectorTest, LearnedGroundingModelIsUsedWhenPresent) {
  site_.page("/renamed", kRenamedPage);
  const Json target = {{"name", "Go"}, {"id", "go"}};
  {
    auto web = make();
    ASSERT_NE(web, nullptr);
    go(*web, "/renamed");
    auto found = call(*web, "click", {{"target", target}, {"effect", "read"}});
    ASSERT_TRUE(found.has_value()) << found.error().message;
    EXPECT_EQ(clicked(), std::vector<std::string>{"first"});
  }
  // What the first connector healed would be used first: forget it.
  std::filesystem::remove(state_dir() + "/fingerprints.json");
  GroundingModel model;
  model.options.weights.name = 0.5;
  model.options.weights.id = 3;
  ASSERT_TRUE(save_grounding_model(dir_.file("ws"), model).has_value());
  auto web = make();
  ASSERT_NE(web, nullptr);
  go(*web, "/renamed");
  auto found = call(*web, "click", {{"target", target}, {"effect", "read"}});
  ASSERT_TRUE(found.has_value()) << found.error().message;
  EXPECT_EQ(clicked(), (std::vector<std::string>{"first", "second"}));
}

// ---------------------------------------------------------------------------
// reading

TEST_F(BrowserConnectorTest, ExtractReadsTablesAndTextAndWaitForTimesOut) {
  site_.page("/table", kTablePage);
  auto web = make();
  ASSERT_NE(web, nullptr);
  go(*web, "/table");

  auto table = call(*web, "extract", {{"kind", "table"}});
  ASSERT_TRUE(table.has_value()) << table.error().message;
  Json expected = Json::array({{{"Item", "Bolt"}, {"Qty", "12"}}, {{"Item", "Nut"}, {"Qty", "7"}}});
  EXPECT_EQ(table->value("rows", Json()), expected) << *table;

  auto text = call(*web, "extract", {{"kind", "text"}});
  ASSERT_TRUE(text.has_value()) << text.error().message;
  EXPECT_NE(text->value("text", "").find("Two items in stock"), std::string::npos) << *text;

  auto waited = call(*web, "wait_for", {{"text", "out of stock"}, {"timeout_ms", 300}});
  ASSERT_FALSE(waited.has_value());
  EXPECT_EQ(waited.error().code, ErrorCode::kFailedPrecondition) << waited.error().message;
  EXPECT_NE(waited.error().message.find("out of stock"), std::string::npos)
      << waited.error().message;

  auto found = call(*web, "wait_for", {{"text", "Two items"}, {"timeout_ms", 300}});
  EXPECT_TRUE(found.has_value()) << found.error().message;
}

TEST_F(BrowserConnectorTest, DialogIsDismissedAndReported) {
  site_.page("/dialog", kDialogPage);
  auto web = make();
  ASSERT_NE(web, nullptr);
  go(*web, "/dialog");
  auto clicked_alert = call(*web, "click", {{"target", "Show alert"}});
  ASSERT_TRUE(clicked_alert.has_value()) << clicked_alert.error().message;
  Json dialog = clicked_alert->value("dialog", Json());
  EXPECT_EQ(dialog.value("type", ""), "alert") << *clicked_alert;
  EXPECT_EQ(dialog.value("message", ""), "Saved to the outbox") << *clicked_alert;
  EXPECT_EQ(dialog.value("answered", ""), "dismiss") << *clicked_alert;
  // The page went on after the alert.
  auto after = call(*web, "extract", {{"kind", "text"}});
  ASSERT_TRUE(after.has_value()) << after.error().message;
  EXPECT_EQ(after->value("title", ""), "after alert") << *after;
}

// ---------------------------------------------------------------------------
// session state

TEST_F(BrowserConnectorTest, WaitingSessionKeepsItsPageAndCookieForTheNextProcess) {
  const std::string session = "s-state";
  std::string session_dir = state_dir() + "/sessions/" + session;
  std::string state_file = session_dir + "/state.json";
  {
    auto web = make();
    ASSERT_NE(web, nullptr);
    web->begin_session(session);
    go(*web, "/login");
    go(*web, "/whoami");
    web->end_session(session, false);
  }
  ASSERT_TRUE(fs::exists(state_file)) << state_file;
  struct stat info {};
  ASSERT_EQ(::stat(state_file.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600u) << "cookies are credentials";
  EXPECT_NE(testing::read_file(state_file).find(site_.url("/whoami")), std::string::npos)
      << testing::read_file(state_file);
  size_t visits = site_.requests("/whoami").size();

  auto web = make();
  ASSERT_NE(web, nullptr);
  web->begin_session(session);
  auto page = call(*web, "extract", {{"kind", "text"}});
  ASSERT_TRUE(page.has_value()) << page.error().message;
  EXPECT_EQ(page->value("url", ""), site_.url("/whoami")) << *page;
  auto whoami = site_.requests("/whoami");
  ASSERT_EQ(whoami.size(), visits + 1) << "the page is loaded again";
  EXPECT_NE(whoami.back().cookie.find("sid=" + site_.token()), std::string::npos)
      << "the restored page was requested with the cookie: '" << whoami.back().cookie << "'";
  EXPECT_EQ(site_.requests("/login").size(), 1u);

  web->end_session(session, true);
  EXPECT_FALSE(fs::exists(session_dir)) << "a finished session leaves nothing behind";
}

// ---------------------------------------------------------------------------
// a crashed browser

TEST_F(BrowserConnectorTest, CrashedBrowserIsRestartedWithThePageAndWhatWasTyped) {
  site_.page("/note", kNotePage);
  auto web = make();
  ASSERT_NE(web, nullptr);
  go(*web, "/note");
  Json note = {{"tag", "input"}, {"name_attr", "note"}};
  auto typed = call(*web, "fill", {{"target", note}, {"value", "typed before the crash"}});
  ASSERT_TRUE(typed.has_value()) << typed.error().message;
  size_t loads = site_.requests("/note").size();

  // The browser dies while a read is in flight: a navigation the server
  // holds until the test has killed the browser.
  Result<Json> failed = fail(ErrorCode::kInternal, "not run");
  std::thread reader([&] { failed = call(*web, "navigate", {{"url", "/slow"}}); });
  bool arrived = site_.await_request("/slow", 10s);
  int killed = arrived ? testing::kill_processes_mentioning(state_dir()) : 0;
  site_.release();
  reader.join();
  ASSERT_TRUE(arrived) << "the navigation never reached the server";
  ASSERT_GT(killed, 0) << "no chromium under " << state_dir();
  ASSERT_FALSE(failed.has_value()) << "the read succeeded on a dead browser: " << *failed;
  EXPECT_EQ(failed.error().code, ErrorCode::kUnavailable) << failed.error().message;
  EXPECT_TRUE(failed.error().retryable());
  EXPECT_NE(failed.error().message.find("browser"), std::string::npos) << failed.error().message;

  // The next read runs in a fresh browser on the restored page, the field
  // filled again.
  auto again = call(*web, "extract", {{"target", note}, {"kind", "text"}});
  ASSERT_TRUE(again.has_value()) << again.error().message;
  EXPECT_EQ(again->value("url", site_.url("/note")), site_.url("/note")) << *again;
  EXPECT_EQ(again->value("value", ""), "typed before the crash") << *again;
  EXPECT_EQ(site_.requests("/note").size(), loads + 1) << "the page was loaded again";

  // A second crash, this time between actions: the restarted browser's page
  // is restored just as well (the next read may fail once, retryably).
  ASSERT_GT(testing::kill_processes_mentioning(state_dir()), 0)
      << "no chromium under " << state_dir();
  auto after_second = call(*web, "extract", {{"target", note}, {"kind", "text"}});
  if (!after_second) {
    EXPECT_EQ(after_second.error().code, ErrorCode::kUnavailable) << after_second.error().message;
    after_second = call(*web, "extract", {{"target", note}, {"kind", "text"}});
  }
  ASSERT_TRUE(after_second.has_value()) << after_second.error().message;
  EXPECT_EQ(after_second->value("value", ""), "typed before the crash")
      << "what was typed is lost after a second restart: " << *after_second;
  EXPECT_EQ(site_.requests("/note").size(), loads + 2) << "the page was loaded again";
}

}  // namespace
}  // namespace ergon
