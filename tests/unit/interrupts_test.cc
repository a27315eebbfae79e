#include "connect/browser/interrupts.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "connect/browser/page.h"
#include "ergon/cdp.h"
#include "support/process.h"

namespace ergon::browser {
namespace {

using namespace std::chrono_literals;
using testing::TempDir;
using testing::write_file;

// ---------------------------------------------------------------------------
// Rule files

TEST(ConsentRuleFile, ParsesEveryKindOfStep) {
  TempDir dir;
  write_file(dir.file("acme.yaml"),
             "# Acme's own CMP\n"
             "name: acme-consent\n"
             "detect:\n"
             "  - exists: \"#acme-cmp\"\n"
             "  - visible: \"#acme-cmp .panel\"\n"
             "  - text: We value your privacy\n"
             "opt_out:\n"
             "  - { click: \"#acme-cmp .reject\" }\n"
             "  - { click_text: \"Save choices\" }\n"
             "  - { wait_gone: \"#acme-cmp\" }\n");
  auto rule = load_consent_rule(dir.file("acme.yaml"));
  ASSERT_TRUE(rule.has_value()) << rule.error().message;
  EXPECT_EQ(rule->name, "acme-consent");
  EXPECT_EQ(rule->file, dir.file("acme.yaml"));
  ASSERT_EQ(rule->detect.size(), 3u);
  EXPECT_EQ(rule->detect[0].exists, "#acme-cmp");
  EXPECT_EQ(rule->detect[1].visible, "#acme-cmp .panel");
  EXPECT_EQ(rule->detect[2].text, "We value your privacy");
  ASSERT_EQ(rule->opt_out.size(), 3u);
  EXPECT_EQ(rule->opt_out[0].click, "#acme-cmp .reject");
  EXPECT_EQ(rule->opt_out[1].click_text, "Save choices");
  EXPECT_EQ(rule->opt_out[2].wait_gone, "#acme-cmp");
}

TEST(ConsentRuleFile, UnknownFieldNamesFileAndLine) {
  TempDir dir;
  write_file(dir.file("x.yaml"),
             "name: x\n"
             "detect: [ { exists: \"#x\" } ]\n"
             "opt_out: [ { click: \"#x .no\" } ]\n"
             "prehide: \"#x\"\n");
  auto rule = load_consent_rule(dir.file("x.yaml"));
  ASSERT_FALSE(rule.has_value());
  EXPECT_EQ(rule.error().code, ErrorCode::kInvalidInput);
  EXPECT_NE(rule.error().message.find(dir.file("x.yaml") + ":4: prehide: unknown field"),
            std::string::npos)
      << rule.error().message;
}

TEST(ConsentRuleFile, MisspelledStepSuggestsTheRightOne) {
  TempDir dir;
  write_file(dir.file("x.yaml"),
             "name: x\n"
             "detect:\n"
             "  - exists: \"#x\"\n"
             "  - visibel: \"#x\"\n"
             "opt_out: [ { click: \"#x .no\" } ]\n");
  auto rule = load_consent_rule(dir.file("x.yaml"));
  ASSERT_FALSE(rule.has_value());
  EXPECT_NE(rule.error().message.find(":4: detect[1].visibel: unknown step — did you mean "
                                      "'visible'?"),
            std::string::npos)
      << rule.error().message;
}

TEST(ConsentRuleFile, MissingDetectNamesFileAndLine) {
  TempDir dir;
  write_file(dir.file("y.yaml"),
             "name: y\n"
             "opt_out:\n"
             "  - click: \"#y .reject\"\n");
  auto rule = load_consent_rule(dir.file("y.yaml"));
  ASSERT_FALSE(rule.has_value());
  EXPECT_EQ(rule.error().code, ErrorCode::kInvalidInput);
  EXPECT_NE(rule.error().message.find(dir.file("y.yaml") + ":1: detect: missing"),
            std::string::npos)
      << rule.error().message;
}

TEST(ConsentRuleFile, OptOutStepInDetectIsRejected) {
  TempDir dir;
  write_file(dir.file("z.yaml"),
             "name: z\n"
             "detect:\n"
             "  - click: \"#z\"\n"
             "opt_out:\n"
             "  - click: \"#z .reject\"\n");
  auto rule = load_consent_rule(dir.file("z.yaml"));
  ASSERT_FALSE(rule.has_value());
  EXPECT_NE(rule.error().message.find(":3: detect[0].click: not a detect step"), std::string::npos)
      << rule.error().message;
}

TEST(ConsentRuleFile, TwoChecksInOneStepAreRejected) {
  TempDir dir;
  write_file(dir.file("w.yaml"),
             "name: w\n"
             "detect:\n"
             "  - { exists: \"#w\", visible: \"#w\" }\n"
             "opt_out: [ { click: \"#w .reject\" } ]\n");
  auto rule = load_consent_rule(dir.file("w.yaml"));
  ASSERT_FALSE(rule.has_value());
  EXPECT_NE(rule.error().message.find(":3: detect[0]: expected one mapping with exactly one of"),
            std::string::npos)
      << rule.error().message;
}

TEST(ConsentRuleFile, YamlSyntaxErrorNamesTheFile) {
  TempDir dir;
  write_file(dir.file("bad.yaml"), "name: [unclosed\n");
  auto rule = load_consent_rule(dir.file("bad.yaml"));
  ASSERT_FALSE(rule.has_value());
  EXPECT_NE(rule.error().message.find(dir.file("bad.yaml") + ":"), std::string::npos)
      << rule.error().message;
}

TEST(ConsentRuleDirectory, LoadsYamlFilesInNameOrder) {
  TempDir dir;
  const std::string rule = "detect: [ { exists: \"#a\" } ]\nopt_out: [ { click: \"#a b\" } ]\n";
  write_file(dir.file("b.yaml"), "name: second\n" + rule);
  write_file(dir.file("a.yaml"), "name: first\n" + rule);
  write_file(dir.file("notes.txt"), "not a rule");
  auto rules = load_consent_rules(dir.path());
  ASSERT_TRUE(rules.has_value()) << rules.error().message;
  ASSERT_EQ(rules->size(), 2u);
  EXPECT_EQ((*rules)[0].name, "first");
  EXPECT_EQ((*rules)[1].name, "second");

  auto missing = load_consent_rules(dir.file("nowhere"));
  ASSERT_TRUE(missing.has_value());
  EXPECT_TRUE(missing->empty());
}

TEST(ConsentRuleDirectory, DuplicateNamesAreAnError) {
  TempDir dir;
  const std::string rule =
      "name: same\ndetect: [ { exists: \"#a\" } ]\nopt_out: [ { click: "
      "\"#a b\" } ]\n";
  write_file(dir.file("a.yaml"), rule);
  write_file(dir.file("b.yaml"), rule);
  auto rules = load_consent_rules(dir.path());
  ASSERT_FALSE(rules.has_value());
  EXPECT_NE(rules.error().message.find("'same' is also the name of"), std::string::npos)
      << rules.error().message;
}

TEST(BuiltinConsentRules, EveryFileLoadsAndTheVendorsAreThere) {
  // Loading the directory strictly catches a broken built-in file, which
  // builtin_consent_rules() would skip.
  auto strict = load_consent_rules(ERGON_SOURCE_DIR "/share/consent");
  ASSERT_TRUE(strict.has_value()) << strict.error().message;
  const auto& builtin = builtin_consent_rules();
  ASSERT_EQ(builtin.size(), strict->size());
  EXPECT_EQ(&builtin, &builtin_consent_rules());  // loaded once
  std::vector<std::string> names;
  for (const ConsentRule& rule : builtin) {
    names.push_back(rule.name);
    EXPECT_FALSE(rule.detect.empty()) << rule.name;
    EXPECT_FALSE(rule.opt_out.empty()) << rule.name;
  }
  for (const char* vendor : {"onetrust", "cookiebot", "didomi", "quantcast", "trustarc"}) {
    EXPECT_NE(std::find(names.begin(), names.end(), vendor), names.end()) << vendor;
  }
}

TEST(InterruptReport, ToJson) {
  InterruptReport report;
  report.handled.push_back("consent banner dismissed (opt-out) by rule 'x'");
  EXPECT_EQ(report.to_json(),
            Json({{"handled", {"consent banner dismissed (opt-out) by rule 'x'"}}}));
}

// ---------------------------------------------------------------------------
// In a real browser

// Every page records the clicks it receives and whether they were trusted
// (real input events, not element.click()).
const char* kRecorder = R"(<script>
window.clicks = [];
document.addEventListener('click', (e) => {
  const el = e.target.closest('button, a');
  if (el) window.clicks.push({id: el.id, trusted: e.isTrusted});
}, true);
function hideOnClick(buttonId, bannerId, delayMs) {
  document.getElementById(buttonId).addEventListener('click', () =>
    setTimeout(() => { document.getElementById(bannerId).style.display = 'none'; }, delayMs));
}
</script>
<style>.banner { position: fixed; left: 0; right: 0; bottom: 0; padding: 24px;
                 background: #eee; border-top: 1px solid #999; }</style>
)";

const std::map<std::string, std::string>& pages() {
  static const std::map<std::string, std::string> pages = {
      {"/plain", R"(<title>Plain</title>
<h1>Orders</h1><button id="new">New order</button>
<footer class="privacy-footer"><a id="policy" href="#">Cookie policy</a></footer>)"},

      // OneTrust's markup: the banner fades out a little after a choice.
      {"/onetrust", R"(<title>OneTrust</title><h1>News</h1>
<div id="onetrust-banner-sdk" class="banner">
  <p>We use cookies to improve your experience and for marketing.</p>
  <button id="onetrust-pc-btn-handler">Cookie Settings</button>
  <button id="onetrust-reject-all-handler">Reject All</button>
  <button id="onetrust-accept-btn-handler">Accept All Cookies</button>
</div>
<script>
hideOnClick('onetrust-reject-all-handler', 'onetrust-banner-sdk', 300);
hideOnClick('onetrust-accept-btn-handler', 'onetrust-banner-sdk', 300);
</script>)"},

      // A vendor no rule knows.
      {"/unknown-vendor", R"(<title>Shop</title><h1>Shop</h1>
<div id="zx-notice" class="zx-privacy-prompt banner" role="dialog" aria-label="Your choices">
  <p>This shop uses cookies for analytics and personalised ads.</p>
  <button id="allow">Allow all</button>
  <button id="necessary">Only necessary</button>
</div>
<script>
hideOnClick('allow', 'zx-notice', 0);
hideOnClick('necessary', 'zx-notice', 0);
</script>)"},

      {"/accept-only", R"(<title>Blog</title><h1>Blog</h1>
<div id="cookie-notice" class="banner">
  <p>By using this site you agree to our use of cookies.</p>
  <button id="accept">Accept</button>
</div>
<script>hideOnClick('accept', 'cookie-notice', 0);</script>)"},

      // A workspace rule with two panels: reject opens the choices, save closes.
      {"/acme", R"(<title>Acme</title><h1>Acme</h1>
<div id="acme-cmp" class="banner">
  <p>Acme and its partners process your data.</p>
  <button id="acme-accept">Accept all</button>
  <button id="acme-reject" class="reject">Manage</button>
  <div id="acme-choices" style="display:none">
    <button id="acme-save">Save choices</button>
  </div>
</div>
<script>
document.getElementById('acme-reject').addEventListener('click', () => setTimeout(() => {
  document.getElementById('acme-choices').style.display = 'block'; }, 200));
hideOnClick('acme-save', 'acme-cmp', 0);
</script>)"},

      // A banner whose markup changed since its rule was written.
      {"/redesigned", R"(<title>Redesigned</title>
<div id="rd-cmp" class="banner"><p>We and our partners use cookies.</p>
  <button id="rd-accept">Accept all</button><button id="rd-reject">Reject all</button></div>
<script>hideOnClick('rd-reject', 'rd-cmp', 0); hideOnClick('rd-accept', 'rd-cmp', 0);</script>)"},

      // Its opt-out button does nothing.
      {"/stubborn", R"(<title>Stubborn</title>
<div id="stubborn-cmp" class="banner"><p>Cookies!</p><button id="save">Save</button></div>)"},

      // A reCAPTCHA-like widget (served locally) and a cookie banner.
      {"/captcha", R"(<title>Sign up</title><h1>Sign up</h1>
<form><div class="g-recaptcha" data-sitekey="test-key">
  <iframe src="/recaptcha/api2/anchor?k=test-key" title="reCAPTCHA" width="304" height="78"
          style="border:0"></iframe>
</div></form>
<div id="onetrust-banner-sdk" class="banner"><p>We use cookies.</p>
  <button id="onetrust-reject-all-handler">Reject All</button></div>)"},
      {"/recaptcha/api2/anchor", R"(<label><input type="checkbox"> I'm not a robot</label>)"},

      {"/interstitial", R"(<title>Just a moment</title>
<h1>Verify you are a human by completing the action below.</h1>)"},

      {"/login", R"(<title>Sign in</title><h1>Sign in</h1>
<form><label>User <input id="user" name="user"></label>
<label>Password <input id="pass" name="pass" type="password"></label>
<button id="signin">Sign in</button></form>)"},
  };
  return pages;
}

// Serves pages() on 127.0.0.1, port 0.
class PageServer {
 public:
  PageServer() {
    for (const auto& [path, html] : pages()) {
      const std::string body = path.starts_with("/recaptcha") ? html : kRecorder + html;
      server_.Get(path, [body](const httplib::Request&, httplib::Response& res) {
        res.set_content(body, "text/html");
      });
    }
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

class InterruptsInBrowser : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    server_ = new PageServer();
    ChromiumOptions options;
    options.profile_dir = dir_->file("profile");
    auto browser = Chromium::launch(options);
    ASSERT_TRUE(browser.has_value()) << browser.error().message;
    browser_ = browser->release();
  }
  static void TearDownTestSuite() {
    delete browser_;
    browser_ = nullptr;
    delete server_;
    server_ = nullptr;
    delete dir_;
    dir_ = nullptr;
  }

  void SetUp() override {
    ASSERT_NE(browser_, nullptr);
    auto page = Page::open(
        *browser_, [](const std::string&) { return true; }, [](const Dialog&) { return false; });
    ASSERT_TRUE(page.has_value()) << page.error().message;
    page_ = std::move(*page);
  }

  // Opens `path` and runs the handlers as an action would.
  Result<InterruptReport> visit(const std::string& path, Interrupts& interrupts,
                                const ActionContext& context = {"click", false}) {
    auto loaded = page_->navigate(server_->url(path), 10s);
    EXPECT_TRUE(loaded.has_value()) << loaded.error().message;
    auto snapshot = page_->observe();
    EXPECT_TRUE(snapshot.has_value()) << snapshot.error().message;
    if (!snapshot) return fail(snapshot.error());
    return interrupts.handle(*page_, *snapshot, context);
  }

  // The clicks the page received: [{id, trusted}].
  Json clicks() {
    auto value = page_->evaluate("window.clicks");
    EXPECT_TRUE(value.has_value()) << value.error().message;
    return value ? *value : Json();
  }

  bool shown(const std::string& id) {
    auto value = page_->evaluate("getComputedStyle(document.getElementById('" + id +
                                 "')).display !== 'none'");
    EXPECT_TRUE(value.has_value()) << value.error().message;
    return value && *value == true;
  }

  static Json trusted(const std::vector<std::string>& ids) {
    Json out = Json::array();
    for (const std::string& id : ids) out.push_back({{"id", id}, {"trusted", true}});
    return out;
  }

  static TempDir* dir_;
  static PageServer* server_;
  static Chromium* browser_;
  std::unique_ptr<Page> page_;
};

TempDir* InterruptsInBrowser::dir_ = nullptr;
PageServer* InterruptsInBrowser::server_ = nullptr;
Chromium* InterruptsInBrowser::browser_ = nullptr;

TEST_F(InterruptsInBrowser, QuietPageIsLeftAsItIs) {
  Interrupts interrupts(builtin_consent_rules());
  auto report = visit("/plain", interrupts);
  ASSERT_TRUE(report.has_value()) << report.error().message;
  EXPECT_TRUE(report->handled.empty()) << report->to_json().dump();
  EXPECT_EQ(clicks(), Json::array());
}

TEST_F(InterruptsInBrowser, OneTrustBannerIsDeclinedByItsRule) {
  Interrupts interrupts(builtin_consent_rules());
  auto report = visit("/onetrust", interrupts);
  ASSERT_TRUE(report.has_value()) << report.error().message;
  EXPECT_EQ(report->handled,
            std::vector<std::string>{"consent banner dismissed (opt-out) by rule 'onetrust'"});
  EXPECT_EQ(clicks(), trusted({"onetrust-reject-all-handler"}));
  EXPECT_FALSE(shown("onetrust-banner-sdk"));

  // Once gone, the next action finds nothing to do.
  auto snapshot = page_->observe();
  ASSERT_TRUE(snapshot.has_value()) << snapshot.error().message;
  auto again = interrupts.handle(*page_, *snapshot, {"click", false});
  ASSERT_TRUE(again.has_value()) << again.error().message;
  EXPECT_TRUE(again->handled.empty()) << again->to_json().dump();
}

TEST_F(InterruptsInBrowser, UnknownVendorIsDeclinedByTheTextFallback) {
  Interrupts interrupts(builtin_consent_rules());
  auto report = visit("/unknown-vendor", interrupts);
  ASSERT_TRUE(report.has_value()) << report.error().message;
  EXPECT_EQ(report->handled,
            std::vector<std::string>{"consent banner dismissed (opt-out) by text fallback "
                                     "'Only necessary'"});
  EXPECT_EQ(clicks(), trusted({"necessary"}));
  EXPECT_FALSE(shown("zx-notice"));
}

TEST_F(InterruptsInBrowser, BannerThatOnlyAcceptsIsLeftAlone) {
  Interrupts interrupts(builtin_consent_rules());
  auto report = visit("/accept-only", interrupts);
  ASSERT_TRUE(report.has_value()) << report.error().message;
  ASSERT_EQ(report->handled.size(), 1u) << report->to_json().dump();
  EXPECT_NE(report->handled[0].find("left alone"), std::string::npos) << report->handled[0];
  EXPECT_NE(report->handled[0].find("'Accept'"), std::string::npos) << report->handled[0];
  EXPECT_EQ(clicks(), Json::array());
  EXPECT_TRUE(shown("cookie-notice"));
}

TEST_F(InterruptsInBrowser, WorkspaceRuleRunsItsStepsInOrder) {
  TempDir dir;
  write_file(dir.file("acme.yaml"),
             "name: acme-consent\n"
             "detect: [ { visible: \"#acme-cmp\" } ]\n"
             "opt_out:\n"
             "  - { click: \"#acme-cmp .reject\" }\n"
             "  - { click_text: \"save CHOICES\" }\n"
             "  - { wait_gone: \"#acme-cmp\" }\n");
  auto rules = load_consent_rules(dir.path());
  ASSERT_TRUE(rules.has_value()) << rules.error().message;
  rules->insert(rules->end(), builtin_consent_rules().begin(), builtin_consent_rules().end());
  Interrupts interrupts(std::move(*rules));
  auto report = visit("/acme", interrupts);
  ASSERT_TRUE(report.has_value()) << report.error().message;
  EXPECT_EQ(report->handled,
            std::vector<std::string>{"consent banner dismissed (opt-out) by rule 'acme-consent'"});
  EXPECT_EQ(clicks(), trusted({"acme-reject", "acme-save"}));
  EXPECT_FALSE(shown("acme-cmp"));
}

TEST_F(InterruptsInBrowser, BannerThatStaysAfterItsRuleIsAnErrorNamingTheRule) {
  TempDir dir;
  write_file(dir.file("stubborn.yaml"),
             "name: stubborn\n"
             "detect: [ { visible: \"#stubborn-cmp\" } ]\n"
             "opt_out: [ { click: \"#stubborn-cmp #save\" } ]\n");
  auto rules = load_consent_rules(dir.path());
  ASSERT_TRUE(rules.has_value()) << rules.error().message;
  Interrupts interrupts(std::move(*rules));
  auto report = visit("/stubborn", interrupts);
  ASSERT_FALSE(report.has_value());
  EXPECT_EQ(report.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_NE(report.error().message.find("consent rule 'stubborn'"), std::string::npos)
      << report.error().message;
  EXPECT_EQ(clicks(), trusted({"save"}));
}

TEST_F(InterruptsInBrowser, RuleThatNoLongerFitsFallsBackToTheText) {
  TempDir dir;
  write_file(dir.file("rd.yaml"),
             "name: redesigned\n"
             "detect: [ { visible: \"#rd-cmp\" } ]\n"
             "opt_out: [ { click: \"#rd-cmp .old-reject-button\" } ]\n");
  auto rules = load_consent_rules(dir.path());
  ASSERT_TRUE(rules.has_value()) << rules.error().message;
  Interrupts interrupts(std::move(*rules));
  auto report = visit("/redesigned", interrupts);
  ASSERT_TRUE(report.has_value()) << report.error().message;
  ASSERT_EQ(report->handled.size(), 2u) << report->to_json().dump();
  EXPECT_NE(report->handled[0].find("consent rule 'redesigned'"), std::string::npos)
      << report->handled[0];
  EXPECT_NE(report->handled[0].find("no visible element"), std::string::npos) << report->handled[0];
  EXPECT_EQ(report->handled[1], "consent banner dismissed (opt-out) by text fallback 'Reject all'");
  EXPECT_EQ(clicks(), trusted({"rd-reject"}));
}

TEST_F(InterruptsInBrowser, CaptchaNeedsAPersonAndNothingIsClicked) {
  Interrupts interrupts(builtin_consent_rules());
  auto report = visit("/captcha", interrupts);
  ASSERT_FALSE(report.has_value());
  EXPECT_EQ(report.error().code, ErrorCode::kNeedsPerson);
  const std::string& message = report.error().message;
  EXPECT_NE(message.find("a CAPTCHA is on " + server_->url("/captcha")), std::string::npos)
      << message;
  EXPECT_NE(message.find("reCAPTCHA"), std::string::npos) << message;
  EXPECT_NE(message.find("answer 'done'"), std::string::npos) << message;
  EXPECT_EQ(clicks(), Json::array());
}

TEST_F(InterruptsInBrowser, HumanCheckTextNeedsAPerson) {
  Interrupts interrupts(builtin_consent_rules());
  auto report = visit("/interstitial", interrupts);
  ASSERT_FALSE(report.has_value());
  EXPECT_EQ(report.error().code, ErrorCode::kNeedsPerson);
  EXPECT_NE(report.error().message.find("CAPTCHA"), std::string::npos) << report.error().message;
  EXPECT_NE(report.error().message.find("verify you are a human"), std::string::npos)
      << report.error().message;
}

TEST_F(InterruptsInBrowser, UnexpectedPasswordFieldIsALoginWall) {
  Interrupts interrupts(builtin_consent_rules());
  auto report = visit("/login", interrupts);
  ASSERT_FALSE(report.has_value());
  EXPECT_EQ(report.error().code, ErrorCode::kNeedsPerson);
  EXPECT_EQ(report.error().message, server_->url("/login") +
                                        " asks to sign in again: sign in, then answer 'done' "
                                        "(or 'abort')");
}

TEST_F(InterruptsInBrowser, PasswordFieldIsFineWhenTheStepSignsIn) {
  Interrupts interrupts(builtin_consent_rules());
  auto report = visit("/login", interrupts, {"fill", true});
  ASSERT_TRUE(report.has_value()) << report.error().message;
  EXPECT_TRUE(report->handled.empty()) << report->to_json().dump();
  EXPECT_EQ(clicks(), Json::array());
}

}  // namespace
}  // namespace ergon::browser
