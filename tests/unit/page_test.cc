#include "connect/browser/page.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "support/process.h"

namespace ergon::browser {
namespace {

using namespace std::chrono_literals;
using ergon::testing::TempDir;

// Pages for the tests, served on 127.0.0.1, port 0. Pages may navigate
// within 127.0.0.1; "localhost" on the same port is a foreign origin.
class SiteServer {
 public:
  SiteServer() {
    server_.Get(".*", [this](const httplib::Request& req, httplib::Response& res) {
      if (req.path == "/submitted") {
        res.set_content("<title>Submitted</title><p id=q>" + req.get_param_value("user") + "</p>",
                        "text/html");
        return;
      }
      if (req.path == "/login") {
        res.set_header("Set-Cookie", "sid=abc123; Path=/; Max-Age=3600; HttpOnly");
        res.headers.emplace("Set-Cookie", "theme=dark; Path=/");
        res.set_content("<title>Logged in</title>", "text/html");
        return;
      }
      if (req.path == "/whoami") {
        res.set_content("<title>Who</title><p id=c>" + req.get_header_value("Cookie") + "</p>",
                        "text/html");
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
    });
    // stop() waits for open connections, idle ones (Chromium preconnects)
    // included, to time out.
    server_.set_keep_alive_timeout(1);
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(1ms);
  }
  ~SiteServer() {
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

 private:
  httplib::Server server_;
  std::mutex mu_;
  std::map<std::string, std::string> pages_;
  int port_ = 0;
  std::thread thread_;
};

constexpr char kFormPage[] = R"HTML(<title>Form</title>
<form action="/submitted" method="get">
  <label>User <input id="user" name="user" value="old"></label>
  <input id="password" name="password" type="password" value="s3cret">
  <input id="remember" name="remember" type="checkbox" checked>
  <select id="plan" name="plan">
    <option value="free">Free plan</option>
    <option value="pro">Pro plan</option>
  </select>
  <input id="fixed" name="fixed" readonly value="x">
  <input id="when" name="when" type="date">
  <button id="send" type="submit">Send</button>
</form>
<p id="outside">outside</p>
<script>
  window.events = [];
  for (const type of ['input', 'change']) {
    user.addEventListener(type, e => events.push(type + ':' + e.isTrusted));
    plan.addEventListener(type, e => events.push('plan-' + type));
  }
</script>)HTML";

constexpr char kButtonsPage[] = R"HTML(<title>Buttons</title>
<style>
  @keyframes slide { from { margin-left: 0 } to { margin-left: 300px } }
  #mover { animation: slide 600ms linear forwards; }
  #spinner { animation: slide 1s linear infinite alternate; }
</style>
<div><button id="go" onclick="document.body.dataset.clicked = String(event.isTrusted)">Go</button></div>
<div><button id="off" disabled>Off</button></div>
<div><fieldset disabled><button id="fenced">Fenced</button></fieldset></div>
<div><button id="hidden" style="display:none">Hidden</button></div>
<div><button id="mover" onclick="document.body.dataset.clicked = 'mover'">Mover</button></div>
<div><button id="spinner">Spinner</button></div>
<div><button id="alert" onclick="alert('hello there'); document.body.dataset.after = 'yes'">Alert</button></div>
<div><a id="away" href="FOREIGN">Away</a></div>
<div style="height: 3000px">tall</div>
<button id="far" onclick="document.body.dataset.clicked = 'far'">Far</button>)HTML";

constexpr char kCoveredPage[] = R"HTML(<title>Covered</title>
<button id="under">Under</button>
<div id="overlay" class="modal dark"
     style="position: fixed; inset: 0; background: rgba(0, 0, 0, .3)">Accept cookies</div>)HTML";

// One browser and one site for the suite; a fresh tab per test.
class PageTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    site_ = new SiteServer();
    site_->page("/form", kFormPage);
    std::string buttons = kButtonsPage;
    buttons.replace(buttons.find("FOREIGN"), 7, site_->foreign_url("/elsewhere"));
    site_->page("/buttons", buttons);
    site_->page("/covered", kCoveredPage);
    browser_ = launch(dir_->file("profile")).release();
  }
  static void TearDownTestSuite() {
    delete browser_;
    browser_ = nullptr;
    delete site_;
    site_ = nullptr;
    delete dir_;
    dir_ = nullptr;
  }

  static std::unique_ptr<Chromium> launch(const std::string& profile) {
    ChromiumOptions options;
    options.profile_dir = profile;
    auto browser = Chromium::launch(options);
    EXPECT_TRUE(browser.has_value()) << browser.error().message;
    return browser ? std::move(*browser) : nullptr;
  }

  static std::unique_ptr<Page> open_page(Chromium& browser) {
    auto page = Page::open(
        browser,  // Any port of 127.0.0.1 is allowed; "localhost" is not.
        [](const std::string& url) { return url.starts_with("http://127.0.0.1:"); },
        // Confirm dialogs are accepted unless they ask to be rejected.
        [](const Dialog& dialog) { return dialog.message.find("reject") == std::string::npos; });
    EXPECT_TRUE(page.has_value()) << page.error().message;
    return page ? std::move(*page) : nullptr;
  }

  void SetUp() override {
    ASSERT_NE(browser_, nullptr);
    page_ = open_page(*browser_);
    ASSERT_NE(page_, nullptr);
  }
  void TearDown() override { page_.reset(); }

  void go(const std::string& path) {
    auto went = page_->navigate(site_->url(path), 10s);
    ASSERT_TRUE(went.has_value()) << went.error().message;
  }

  // The element a selector finds, as an observation would describe it.
  PageElement element(const std::string& selector) {
    const std::string& session = page_->session();
    auto document = browser_->call("DOM.getDocument", {{"depth", 0}}, session);
    EXPECT_TRUE(document.has_value());
    if (!document) return {};
    auto node = browser_->call("DOM.querySelector",
                               {{"nodeId", (*document)["root"]["nodeId"]}, {"selector", selector}},
                               session);
    EXPECT_TRUE(node.has_value() && (*node)["nodeId"] != 0) << selector;
    if (!node) return {};
    auto described = browser_->call("DOM.describeNode", {{"nodeId", (*node)["nodeId"]}}, session);
    EXPECT_TRUE(described.has_value());
    if (!described) return {};
    PageElement found;
    found.backend_node_id = (*described)["node"]["backendNodeId"].get<int64_t>();
    found.session = session;
    found.fp.tag = (*described)["node"]["localName"].get<std::string>();
    found.fp.id = selector;
    return found;
  }

  Json eval(const std::string& expression) {
    auto value = page_->evaluate(expression);
    EXPECT_TRUE(value.has_value()) << expression << ": " << value.error().message;
    return value ? *value : Json();
  }

  static TempDir* dir_;
  static SiteServer* site_;
  static Chromium* browser_;
  std::unique_ptr<Page> page_;
};
TempDir* PageTest::dir_ = nullptr;
SiteServer* PageTest::site_ = nullptr;
Chromium* PageTest::browser_ = nullptr;

TEST_F(PageTest, NavigateWaitsForLoadAndReportsLocation) {
  go("/form");
  auto where = page_->location();
  ASSERT_TRUE(where.has_value()) << where.error().message;
  EXPECT_EQ(where->first, site_->url("/form"));
  EXPECT_EQ(where->second, "Form");
  // The load event has fired: the page's script ran.
  EXPECT_EQ(eval("Array.isArray(window.events)"), true);

  // A fragment is a same-document navigation: it returns at once.
  auto fragment = page_->navigate(site_->url("/form#plan"), 10s);
  ASSERT_TRUE(fragment.has_value()) << fragment.error().message;
  EXPECT_EQ(page_->location()->first, site_->url("/form#plan"));
}

TEST_F(PageTest, ObservedElementsCanBeActedOn) {
  go("/form");
  auto snapshot = page_->observe();
  ASSERT_TRUE(snapshot.has_value()) << snapshot.error().message;
  EXPECT_EQ(snapshot->url, site_->url("/form"));
  EXPECT_EQ(snapshot->title, "Form");
  auto user = std::find_if(snapshot->elements.begin(), snapshot->elements.end(),
                           [](const PageElement& e) { return e.fp.id == "user"; });
  ASSERT_NE(user, snapshot->elements.end());
  auto point = page_->actionable(*user, true, 5s);
  ASSERT_TRUE(point.has_value()) << point.error().message;
  ASSERT_TRUE(page_->type_into(*user, *point, "observed").has_value());
  EXPECT_EQ(eval("user.value"), "observed");
}

TEST_F(PageTest, NavigateToAClosedPortIsUnavailable) {
  int sock = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(sock, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  socklen_t length = sizeof addr;
  ::getsockname(sock, reinterpret_cast<sockaddr*>(&addr), &length);
  ::close(sock);  // nothing listens there now
  std::string url = "http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port)) + "/";

  auto went = page_->navigate(url, 10s);
  ASSERT_FALSE(went.has_value());
  EXPECT_EQ(went.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(went.error().message.find("ERR_CONNECTION_REFUSED"), std::string::npos)
      << went.error().message;
  EXPECT_EQ(page_->take_blocked_navigation(), "");
}

TEST_F(PageTest, NavigationToAnotherOriginIsDeniedAndRecorded) {
  go("/form");
  std::string foreign = site_->foreign_url("/form");
  auto went = page_->navigate(foreign, 10s);
  ASSERT_FALSE(went.has_value());
  EXPECT_EQ(went.error().code, ErrorCode::kDenied);
  EXPECT_EQ(went.error().message, "navigation to " + foreign + " refused: origin not allowed");
  EXPECT_EQ(page_->take_blocked_navigation(), foreign);
  EXPECT_EQ(page_->take_blocked_navigation(), "");  // taken
}

TEST_F(PageTest, LinkToAnotherOriginIsBlockedAndRecorded) {
  go("/buttons");
  auto link = element("#away");
  auto point = page_->actionable(link, false, 5s);
  ASSERT_TRUE(point.has_value()) << point.error().message;
  ASSERT_TRUE(page_->click_at(*point).has_value());
  // The refusal happens on the page's worker once Chromium pauses the request.
  std::string blocked;
  for (auto end = std::chrono::steady_clock::now() + 5s;
       blocked.empty() && std::chrono::steady_clock::now() < end;
       std::this_thread::sleep_for(20ms)) {
    blocked = page_->take_blocked_navigation();
  }
  EXPECT_EQ(blocked, site_->foreign_url("/elsewhere"));
}

TEST_F(PageTest, ClickDispatchesTrustedInput) {
  go("/buttons");
  auto go_button = element("#go");
  auto point = page_->actionable(go_button, false, 5s);
  ASSERT_TRUE(point.has_value()) << point.error().message;
  ASSERT_TRUE(page_->click_at(*point).has_value());
  EXPECT_EQ(eval("document.body.dataset.clicked"), "true");
}

TEST_F(PageTest, ActionableScrollsAFarElementIntoView) {
  go("/buttons");
  auto far = element("#far");
  auto point = page_->actionable(far, false, 5s);
  ASSERT_TRUE(point.has_value()) << point.error().message;
  EXPECT_GT(eval("window.scrollY").get<double>(), 0);
  EXPECT_LT(point->y, 900);
  ASSERT_TRUE(page_->click_at(*point).has_value());
  EXPECT_EQ(eval("document.body.dataset.clicked"), "far");
}

TEST_F(PageTest, CoveredElementNamesWhatCoversIt) {
  go("/covered");
  auto under = element("#under");
  auto point = page_->actionable(under, false, 300ms);
  ASSERT_FALSE(point.has_value());
  EXPECT_EQ(point.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_NE(point.error().message.find("covered by <div#overlay.modal.dark 'Accept cookies'>"),
            std::string::npos)
      << point.error().message;
}

TEST_F(PageTest, DisabledAndHiddenElementsAreNotActionable) {
  go("/buttons");
  auto off = page_->actionable(element("#off"), false, 200ms);
  ASSERT_FALSE(off.has_value());
  EXPECT_EQ(off.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_NE(off.error().message.find("not enabled"), std::string::npos) << off.error().message;

  auto fenced = page_->actionable(element("#fenced"), false, 200ms);
  ASSERT_FALSE(fenced.has_value());
  EXPECT_NE(fenced.error().message.find("not enabled"), std::string::npos)
      << fenced.error().message;

  auto hidden = page_->actionable(element("#hidden"), false, 200ms);
  ASSERT_FALSE(hidden.has_value());
  EXPECT_NE(hidden.error().message.find("not visible"), std::string::npos)
      << hidden.error().message;
}

TEST_F(PageTest, MovingElementBecomesActionableOnceItStops) {
  go("/buttons");
  auto mover = element("#mover");
  auto point = page_->actionable(mover, false, 5s);
  ASSERT_TRUE(point.has_value()) << point.error().message;
  // The point is the centre of where it came to rest.
  Json box = eval(
      "(() => { const r = document.getElementById('mover').getBoundingClientRect();"
      " return [r.x + r.width / 2, r.y + r.height / 2, getComputedStyle(mover).marginLeft]; })()");
  EXPECT_EQ(box[2], "300px");
  EXPECT_NEAR(point->x, box[0].get<double>(), 1.0);
  EXPECT_NEAR(point->y, box[1].get<double>(), 1.0);
  ASSERT_TRUE(page_->click_at(*point).has_value());
  EXPECT_EQ(eval("document.body.dataset.clicked"), "mover");

  auto spinner = page_->actionable(element("#spinner"), false, 300ms);
  ASSERT_FALSE(spinner.has_value());
  EXPECT_NE(spinner.error().message.find("not stable"), std::string::npos)
      << spinner.error().message;
}

TEST_F(PageTest, ElementThatLeftThePageIsNotFound) {
  go("/buttons");
  auto go_button = element("#go");
  eval("document.getElementById('go').remove(), true");
  eval("window.gc ? gc() : 0");
  auto point = page_->actionable(go_button, false, 300ms);
  ASSERT_FALSE(point.has_value());
  // A removed node may still resolve until collected: either way not actionable.
  EXPECT_TRUE(point.error().code == ErrorCode::kNotFound ||
              point.error().message.find("not attached") != std::string::npos)
      << point.error().message;
}

TEST_F(PageTest, TypeIntoReplacesTheValueAndFiresInputAndChange) {
  go("/form");
  auto user = element("#user");
  auto point = page_->actionable(user, true, 5s);
  ASSERT_TRUE(point.has_value()) << point.error().message;
  ASSERT_TRUE(page_->type_into(user, *point, "new value").has_value());
  EXPECT_EQ(eval("user.value"), "new value");
  EXPECT_EQ(eval("document.activeElement.id"), "user");
  Json events = eval("events");
  EXPECT_NE(std::find(events.begin(), events.end(), "input:true"), events.end()) << events;
  EXPECT_EQ(std::count(events.begin(), events.end(), "change:true"), 1) << events;

  // Empty text clears the field.
  ASSERT_TRUE(page_->type_into(user, *point, "").has_value());
  EXPECT_EQ(eval("user.value"), "");
}

// A date field takes its value as a picker would set it; a value the field
// rejects is an error naming what the field holds, not a silent no-op.
TEST_F(PageTest, TypeIntoADateFieldSetsItsValue) {
  go("/form");
  auto when = element("#when");
  auto point = page_->actionable(when, true, 5s);
  ASSERT_TRUE(point.has_value()) << point.error().message;
  ASSERT_TRUE(page_->type_into(when, *point, "2027-03-04").has_value());
  EXPECT_EQ(eval("document.getElementById('when').value"), "2027-03-04");
  auto bad = page_->type_into(when, *point, "next week");
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().code, ErrorCode::kInvalidInput);
  EXPECT_NE(bad.error().message.find("YYYY-MM-DD"), std::string::npos) << bad.error().message;
}

TEST_F(PageTest, ReadonlyFieldIsNotEditable) {
  go("/form");
  auto fixed = page_->actionable(element("#fixed"), true, 200ms);
  ASSERT_FALSE(fixed.has_value());
  EXPECT_NE(fixed.error().message.find("not editable"), std::string::npos) << fixed.error().message;
  // Clicking it is still fine.
  EXPECT_TRUE(page_->actionable(element("#fixed"), false, 2s).has_value());
}

TEST_F(PageTest, PressEnterSubmitsTheForm) {
  go("/form");
  auto user = element("#user");
  auto point = page_->actionable(user, true, 5s);
  ASSERT_TRUE(point.has_value()) << point.error().message;
  ASSERT_TRUE(page_->type_into(user, *point, "ann lee").has_value());
  std::string session = page_->session();
  auto loaded = browser_->expect([&](const CdpEvent& event) {
    return event.method == "Page.loadEventFired" && event.session == session;
  });
  ASSERT_TRUE(page_->press("Enter").has_value());
  ASSERT_TRUE(loaded->wait(10s).has_value());
  auto where = page_->location();
  ASSERT_TRUE(where.has_value());
  EXPECT_NE(where->first.find("/submitted?user=ann+lee"), std::string::npos) << where->first;
  EXPECT_EQ(where->second, "Submitted");
  EXPECT_EQ(eval("document.getElementById('q').textContent"), "ann lee");
}

TEST_F(PageTest, PressTypesCharactersAndEditingKeys) {
  go("/form");
  auto user = element("#user");
  auto point = page_->actionable(user, true, 5s);
  ASSERT_TRUE(point.has_value()) << point.error().message;
  ASSERT_TRUE(page_->type_into(user, *point, "ab").has_value());
  ASSERT_TRUE(page_->press("c").has_value());
  ASSERT_TRUE(page_->press("Shift+d").has_value());
  ASSERT_TRUE(page_->press(".").has_value());
  ASSERT_TRUE(page_->press("Backspace").has_value());
  ASSERT_TRUE(page_->press("ArrowLeft").has_value());
  ASSERT_TRUE(page_->press("x").has_value());
  EXPECT_EQ(eval("user.value"), "abcxD");
  ASSERT_TRUE(page_->press("Tab").has_value());
  EXPECT_EQ(eval("document.activeElement.id"), "password");

  auto unknown = page_->press("Hyper");
  ASSERT_FALSE(unknown.has_value());
  EXPECT_EQ(unknown.error().code, ErrorCode::kInvalidInput);
}

TEST_F(PageTest, SelectOptionByLabelOrValue) {
  go("/form");
  auto plan = element("#plan");
  auto by_label = page_->select_option(plan, "Pro plan");
  ASSERT_TRUE(by_label.has_value()) << by_label.error().message;
  EXPECT_EQ(*by_label, "Pro plan");
  EXPECT_EQ(eval("plan.value"), "pro");
  Json events = eval("events");
  EXPECT_NE(std::find(events.begin(), events.end(), "plan-input"), events.end()) << events;
  EXPECT_NE(std::find(events.begin(), events.end(), "plan-change"), events.end()) << events;

  auto by_value = page_->select_option(plan, "free");
  ASSERT_TRUE(by_value.has_value()) << by_value.error().message;
  EXPECT_EQ(*by_value, "Free plan");
  EXPECT_EQ(eval("plan.value"), "free");

  auto missing = page_->select_option(plan, "Gold plan");
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
  EXPECT_NE(missing.error().message.find("'Free plan', 'Pro plan'"), std::string::npos)
      << missing.error().message;

  auto not_select = page_->select_option(element("#user"), "x");
  ASSERT_FALSE(not_select.has_value());
  EXPECT_EQ(not_select.error().code, ErrorCode::kInvalidInput);
}

TEST_F(PageTest, FormValuesHidePasswords) {
  go("/form");
  auto values = page_->form_values(element("#send"));
  ASSERT_TRUE(values.has_value()) << values.error().message;
  EXPECT_EQ(*values, (Json{{"user", "old"},
                           {"password", "[hidden]"},
                           {"remember", true},
                           {"plan", "free"},
                           {"fixed", "x"},
                           {"when", ""}}));
  EXPECT_EQ(values->dump().find("s3cret"), std::string::npos);

  auto outside = page_->form_values(element("#outside"));
  ASSERT_TRUE(outside.has_value()) << outside.error().message;
  EXPECT_EQ(*outside, Json::object());
}

TEST_F(PageTest, DialogsAreAnsweredPerHandler) {
  go("/buttons");
  auto alert_button = element("#alert");
  auto point = page_->actionable(alert_button, false, 5s);
  ASSERT_TRUE(point.has_value()) << point.error().message;
  ASSERT_TRUE(page_->click_at(*point).has_value());
  // The click returns once the alert was answered and the handler went on.
  EXPECT_EQ(eval("document.body.dataset.after"), "yes");
  auto alert = page_->take_dialog();
  ASSERT_TRUE(alert.has_value());
  EXPECT_EQ(alert->type, "alert");
  EXPECT_EQ(alert->message, "hello there");
  EXPECT_FALSE(page_->take_dialog().has_value());

  EXPECT_EQ(eval("confirm('please accept me')"), true);
  auto accepted = page_->take_dialog();
  ASSERT_TRUE(accepted.has_value());
  EXPECT_EQ(accepted->type, "confirm");
  EXPECT_EQ(eval("confirm('please reject me')"), false);
  EXPECT_EQ(page_->take_dialog()->message, "please reject me");
}

TEST_F(PageTest, ScrollByMovesTheViewport) {
  go("/buttons");
  ASSERT_TRUE(page_->scroll_by(0, 600).has_value());
  double scrolled = 0;
  for (auto end = std::chrono::steady_clock::now() + 5s;
       scrolled == 0 && std::chrono::steady_clock::now() < end; std::this_thread::sleep_for(20ms)) {
    scrolled = eval("window.scrollY").get<double>();
  }
  EXPECT_GT(scrolled, 0);
}

TEST_F(PageTest, ScreenshotWritesAPng) {
  go("/buttons");
  TempDir out;
  std::string path = out.file("shots/page.png");
  ASSERT_TRUE(page_->screenshot(path).has_value());
  std::string png = ergon::testing::read_file(path);
  ASSERT_GT(png.size(), 100u);
  EXPECT_EQ(png.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
}

TEST_F(PageTest, EvaluateReportsExceptions) {
  go("/form");
  EXPECT_EQ(eval("1 + 2"), 3);
  EXPECT_EQ(eval("Promise.resolve('later')"), "later");
  auto thrown = page_->evaluate("(() => { throw new Error('boom'); })()");
  ASSERT_FALSE(thrown.has_value());
  EXPECT_EQ(thrown.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_NE(thrown.error().message.find("boom"), std::string::npos) << thrown.error().message;
}

TEST_F(PageTest, CookiesCarryASessionIntoAnotherBrowser) {
  go("/login");
  auto cookies = page_->cookies();
  ASSERT_TRUE(cookies.has_value()) << cookies.error().message;
  auto named = [&](const std::string& name) {
    return std::find_if(cookies->begin(), cookies->end(),
                        [&](const Json& c) { return c["name"] == name; });
  };
  ASSERT_NE(named("sid"), cookies->end()) << *cookies;
  ASSERT_NE(named("theme"), cookies->end()) << *cookies;

  TempDir other_dir;
  auto other = launch(other_dir.file("profile"));
  ASSERT_NE(other, nullptr);
  auto other_page = open_page(*other);
  ASSERT_NE(other_page, nullptr);
  ASSERT_TRUE(other_page->set_cookies(*cookies).has_value());
  ASSERT_TRUE(other_page->navigate(site_->url("/whoami"), 10s).has_value());
  auto seen = other_page->evaluate("document.getElementById('c').textContent");
  ASSERT_TRUE(seen.has_value()) << seen.error().message;
  std::string header = seen->get<std::string>();
  EXPECT_NE(header.find("sid=abc123"), std::string::npos) << header;
  EXPECT_NE(header.find("theme=dark"), std::string::npos) << header;

  auto bad = other_page->set_cookies(Json::object());
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().code, ErrorCode::kInvalidInput);
}

}  // namespace
}  // namespace ergon::browser
