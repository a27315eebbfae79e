// `ergon record`: a scripted person does a task on the care portal in a real
// headless Chromium, and the demonstration holds what the page listeners
// captured — steps in order, full fingerprints, values, a vault reference
// instead of the password, the pages before and after. Plus the person's
// script parser and the command's usage errors.
#include "learn/recorder.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "ergon/learn.h"
#include "learn/person.h"
#include "support/care_portal.h"
#include "support/process.h"

namespace ergon {
namespace {

namespace fs = std::filesystem;
using testing::bin;
using testing::CarePortal;
using testing::RunOptions;
using testing::RunResult;
using testing::TempDir;

// dr.lee's password on the portal for these tests: distinctive, so finding it
// in a file cannot be a coincidence.
constexpr char kPassword[] = "Quartz-Plum-7731!vx";

std::string workspace_yaml(const std::string& base_url, const std::string& extra = "") {
  return "store: .ergon/ergon.db\n"
         "connectors:\n"
         "  portal:\n"
         "    kind: browser\n"
         "    base_url: " +
         base_url +
         "\n"
         "    headless: true\n"
         "    timeout_ms: 10000\n" +
         extra;
}

RunResult record(const std::vector<std::string>& args,
                 const std::map<std::string, std::string>& env = {}) {
  std::vector<std::string> argv = {bin("ergon"), "record"};
  argv.insert(argv.end(), args.begin(), args.end());
  RunOptions options;
  options.env = env;
  options.timeout = std::chrono::seconds(180);
  return testing::run(argv, options);
}

const Json& target_of(const DemoStep& step) {
  static const Json none;
  auto it = step.with.find("target");
  return it == step.with.end() ? none : *it;
}

std::string verb(const DemoStep& step) {
  return step.action.substr(step.action.rfind('.') + 1);
}

// Every file under `dir`, read whole.
std::vector<std::pair<std::string, std::string>> every_file(const std::string& dir) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    out.emplace_back(entry.path().string(), testing::read_file(entry.path().string()));
  }
  return out;
}

// ---------------------------------------------------------------------------
// The whole recording.

class RecordOnPortal : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    portal_ = new CarePortal({}, {{"CARE_PORTAL_PASSWORD", kPassword}});
  }
  static void TearDownTestSuite() {
    delete portal_;
    portal_ = nullptr;
  }
  void SetUp() override {
    portal_->reset();
    fs::copy(testing::source_path("examples/care-portal/consent"), ws_.file("consent"),
             fs::copy_options::recursive);
    testing::write_file(ws_.file("ergon.yaml"),
                        workspace_yaml(portal_->url(), "    consent_rules: consent\n"));
  }

  static CarePortal* portal_;
  TempDir ws_;
};
CarePortal* RecordOnPortal::portal_ = nullptr;

constexpr char kInstruction[] =
    "get an MRI 72148 pre-authorised for Jane Doe (MBR-123456), diagnosis M54.16, and find "
    "in-network facilities near 02139";

constexpr char kPerson[] = R"(# dr.lee files a pre-authorisation and looks for a facility
- click: Reject all
- type: dr.lee
  into: Username
- type_secret: CARE_PORTAL_PASSWORD
  into: Password
- press: Enter
- wait_for: Welcome
- click: New pre-authorisation
- type: Jane Doe
  into: Patient name
- type: MBR-123456
  into: Member ID
- select: "72148"
  in: Procedure (CPT)
- type: M54.16
  into: Diagnosis (ICD-10)
- check: I attest the information is accurate
- click: Submit request
- wait_for: Approved
- goto: /facilities
- type: "02139"
  into: ZIP code or city
- check: In-network only
- click: Search
- wait_for: Charles River Radiology
)";

TEST_F(RecordOnPortal, RecordsWhatThePersonDidWithFingerprintsPagesAndNoPassword) {
  testing::write_file(ws_.file("person.yaml"), kPerson);
  RunResult run = record({"-w", ws_.path(), "--person", ws_.file("person.yaml"), "--headless",
                          "--name", "mri-jane", kInstruction},
                         {{"CARE_PORTAL_PASSWORD", kPassword}});
  ASSERT_EQ(run.exit_code, 0) << run.out << run.err;
  EXPECT_NE(run.out.find("not recorded: click on 'Reject all' in a consent banner"),
            std::string::npos)
      << run.out;
  EXPECT_NE(run.out.find("ergon skills induce NAME mri-jane"), std::string::npos) << run.out;
  // The person really did it all: the portal has the request and the consent answer.
  Json state = portal_->state();
  ASSERT_EQ(state["preauths"].size(), 1u) << state.dump();
  EXPECT_EQ(state["preauths"][0]["cpt"], "72148");
  EXPECT_EQ(state["consent"]["status"], "rejected") << state.dump();

  auto demo = load_demonstration(ws_.path(), "mri-jane");
  ASSERT_TRUE(demo) << demo.error().message;
  EXPECT_EQ(demo->instruction, kInstruction);
  EXPECT_EQ(demo->kind, "browser");
  EXPECT_EQ(demo->connector, "portal");
  EXPECT_EQ(demo->start_url, "/");

  std::vector<std::string> verbs;
  for (const DemoStep& step : demo->steps) verbs.push_back(verb(step));
  const std::vector<std::string> expected = {"navigate", "fill",     "fill",   "press", "click",
                                             "fill",     "fill",     "select", "fill",  "check",
                                             "click",    "navigate", "fill",   "check", "click"};
  ASSERT_EQ(verbs, expected) << run.out;
  const auto& s = demo->steps;
  for (const DemoStep& step : s) EXPECT_EQ(step.action.rfind("portal.", 0), 0u) << step.action;

  // Navigations: the start, and the URL the person typed — relative to base_url.
  EXPECT_EQ(s[0].with, Json({{"url", "/"}}));
  EXPECT_EQ(s[0].url_after, portal_->url() + "/login");
  EXPECT_EQ(s[11].with, Json({{"url", "/facilities"}}));

  // Sign in: the username's value, the password as a vault reference, Enter in the field.
  EXPECT_EQ(s[1].with["value"], "dr.lee");
  const Json& user = target_of(s[1]);
  EXPECT_EQ(user["role"], "textbox");
  EXPECT_EQ(user["name"], "Username");
  EXPECT_EQ(user["name_attr"], "username");
  EXPECT_EQ(user["id"], "username");
  EXPECT_EQ(user["tag"], "input");
  EXPECT_EQ(user["type"], "text");
  EXPECT_EQ(user["neighbor_text"], "Username");
  EXPECT_FALSE(user.value("dom_path", "").empty());
  EXPECT_TRUE(user.contains("x") && user.contains("width")) << user.dump();

  EXPECT_EQ(s[2].with["secret"], "CARE_PORTAL_PASSWORD") << s[2].with.dump();
  EXPECT_FALSE(s[2].with.contains("value"));
  EXPECT_EQ(target_of(s[2])["name_attr"], "password");
  EXPECT_EQ(s[3].with["key"], "Enter");
  EXPECT_EQ(target_of(s[3])["name_attr"], "password");
  EXPECT_EQ(s[3].url_after, portal_->url() + "/dashboard") << s[3].url_after;

  // A link that navigates.
  EXPECT_EQ(target_of(s[4])["role"], "link");
  EXPECT_EQ(target_of(s[4])["name"], "New pre-authorisation");
  EXPECT_EQ(target_of(s[4])["href"], "/preauth/new");
  EXPECT_EQ(s[4].url_after, portal_->url() + "/preauth/new");

  // The form.
  EXPECT_EQ(s[5].with["value"], "Jane Doe");
  EXPECT_EQ(target_of(s[5])["name_attr"], "patient_name");
  EXPECT_EQ(s[6].with["value"], "MBR-123456");
  EXPECT_EQ(target_of(s[6])["placeholder"], "MBR-000000");
  EXPECT_EQ(s[7].with["option"], "72148");
  EXPECT_EQ(target_of(s[7])["role"], "combobox");
  EXPECT_EQ(target_of(s[7])["name_attr"], "cpt");
  EXPECT_EQ(s[8].with["value"], "M54.16");
  EXPECT_EQ(target_of(s[8])["name_attr"], "diagnosis");
  EXPECT_EQ(s[9].with["checked"], true);
  EXPECT_EQ(target_of(s[9])["role"], "checkbox");
  EXPECT_EQ(target_of(s[9])["name_attr"], "attest");
  EXPECT_EQ(target_of(s[10])["role"], "button");
  EXPECT_EQ(target_of(s[10])["name"], "Submit request");
  EXPECT_EQ(target_of(s[10])["id"], "submit-btn");
  EXPECT_NE(s[10].url_after.find("/preauth/"), std::string::npos);
  EXPECT_EQ(s[10].url_after.find("/preauth/new"), std::string::npos) << s[10].url_after;

  // The facility search.
  EXPECT_EQ(s[12].with["value"], "02139");
  EXPECT_EQ(target_of(s[12])["name_attr"], "q");
  EXPECT_EQ(target_of(s[13])["name_attr"], "in_network");
  EXPECT_EQ(s[13].with["checked"], true);
  EXPECT_EQ(target_of(s[14])["name"], "Search");
  EXPECT_NE(s[14].url_after.find("q=02139"), std::string::npos) << s[14].url_after;

  // No step acts on the consent banner.
  for (const DemoStep& step : s) {
    if (!target_of(step).is_object()) continue;
    EXPECT_EQ(target_of(step).value("id", "").rfind("cw-", 0), std::string::npos)
        << step.with.dump();
  }

  // Pages: each targeted step's page before holds its target at the index it names.
  for (size_t i = 0; i < s.size(); ++i) {
    SCOPED_TRACE("step " + std::to_string(i + 1));
    if (i > 0) {
      ASSERT_FALSE(s[i].page_before.empty());
      auto before = load_demo_page(ws_.path(), "mri-jane", s[i].page_before);
      ASSERT_TRUE(before) << before.error().message;
      if (s[i].with.contains("target")) {
        ASSERT_GE(before->target, 0);
        ASSERT_LT(before->target, static_cast<int>(before->elements.size()));
        const Fingerprint& fp = before->elements[static_cast<size_t>(before->target)];
        EXPECT_EQ(fp.dom_path, target_of(s[i])["dom_path"]);
        EXPECT_EQ(fp.name_attr, target_of(s[i]).value("name_attr", ""));
        EXPECT_EQ(fp.name, target_of(s[i]).value("name", ""));
      } else {
        EXPECT_EQ(before->target, -1);
      }
    }
  }
  // The last step of each look at the page has the page after it.
  auto after_login = load_demo_page(ws_.path(), "mri-jane", s[3].page_after);
  ASSERT_TRUE(after_login) << s[3].page_after;
  EXPECT_EQ(after_login->url, portal_->url() + "/dashboard");
  auto first = load_demo_page(ws_.path(), "mri-jane", s[0].page_after);
  ASSERT_TRUE(first);
  EXPECT_NE(first->url.find("/login"), std::string::npos);
  auto search_page = load_demo_page(ws_.path(), "mri-jane", s[14].page_after);
  ASSERT_TRUE(search_page);
  EXPECT_NE(search_page->url.find("/facilities"), std::string::npos);

  // The password is in no file of the workspace, and the vault name is printed.
  for (const auto& [path, text] : every_file(ws_.path())) {
    EXPECT_EQ(text.find(kPassword), std::string::npos) << path;
  }
  EXPECT_EQ(run.out.find(kPassword), std::string::npos);
  EXPECT_EQ(run.err.find(kPassword), std::string::npos);
  EXPECT_NE(run.out.find("secret: CARE_PORTAL_PASSWORD"), std::string::npos) << run.out;
}

TEST_F(RecordOnPortal, PasswordTheVaultDoesNotHoldGetsTheSecretNameGivenAndATodo) {
  // The person knows the password from a variable the vault is not asked about.
  testing::write_file(ws_.file("person.yaml"),
                      "- click: Reject all\n"
                      "- type: dr.lee\n  into: Username\n"
                      "- type_secret: MY_MEMORY\n  into: Password\n"
                      "- click: Sign in\n"
                      "- wait_for: Welcome\n");
  RunResult run = record({"-w", ws_.path(), "--person", ws_.file("person.yaml"), "--headless",
                          "--secret", "PORTAL_LOGIN", "sign in to the portal"},
                         {{"MY_MEMORY", kPassword}});
  ASSERT_EQ(run.exit_code, 0) << run.out << run.err;
  auto demo = load_demonstration(ws_.path(), "demo-1");
  ASSERT_TRUE(demo) << demo.error().message;
  ASSERT_EQ(demo->steps.size(), 4u) << run.out;
  EXPECT_EQ(demo->steps[2].with["secret"], "PORTAL_LOGIN");
  EXPECT_EQ(verb(demo->steps[3]), "click");
  EXPECT_EQ(target_of(demo->steps[3])["name"], "Sign in");
  EXPECT_NE(run.out.find("set PORTAL_LOGIN"), std::string::npos) << run.out;
  for (const auto& [path, text] : every_file(ws_.path())) {
    EXPECT_EQ(text.find(kPassword), std::string::npos) << path;
  }
}

TEST_F(RecordOnPortal, ConsentClicksAreLeftOutWithoutConsentRulesToo) {
  // No consent_rules: the banner is known by what it looks like.
  testing::write_file(ws_.file("ergon.yaml"), workspace_yaml(portal_->url()));
  testing::write_file(ws_.file("person.yaml"),
                      "- goto: /login\n"
                      "- click: Settings\n"
                      "- click: Reject all\n"
                      "- type: dr.lee\n  into: Username\n"
                      "- press: Tab\n");
  RunResult run = record({"-w", ws_.path(), "--person", ws_.file("person.yaml"), "--headless",
                          "--start-url", "/login", "sign in as dr.lee"});
  ASSERT_EQ(run.exit_code, 0) << run.out << run.err;
  EXPECT_NE(run.out.find("not recorded: click on 'Settings'"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("not recorded: click on 'Reject all'"), std::string::npos) << run.out;
  auto demo = load_demonstration(ws_.path(), "demo-1");
  ASSERT_TRUE(demo) << demo.error().message;
  std::vector<std::string> verbs;
  for (const DemoStep& step : demo->steps) verbs.push_back(verb(step));
  // navigate (start), navigate (the person's goto), the username flushed by Tab, Tab.
  EXPECT_EQ(verbs, (std::vector<std::string>{"navigate", "navigate", "fill", "press"})) << run.out;
  EXPECT_EQ(demo->start_url, "/login");
  EXPECT_EQ(demo->steps[2].with["value"], "dr.lee");
  EXPECT_EQ(demo->steps[3].with["key"], "Tab");
}

// ---------------------------------------------------------------------------
// The command line.

TEST(RecordCommand, ApiDemonstrationIsCreatedEmpty) {
  TempDir ws;
  testing::write_file(ws.file("ergon.yaml"), "store: .ergon/ergon.db\n");
  RunResult run = record({"-w", ws.path(), "--api", "--name", "Stop Idle", "stop idle web-dev-2"});
  ASSERT_EQ(run.exit_code, 0) << run.out << run.err;
  EXPECT_NE(run.out.find("stop-idle"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("ergon call ACTION --arg k=v --demo stop-idle"), std::string::npos)
      << run.out;
  auto demo = load_demonstration(ws.path(), "stop-idle");
  ASSERT_TRUE(demo) << demo.error().message;
  EXPECT_EQ(demo->kind, "api");
  EXPECT_EQ(demo->instruction, "stop idle web-dev-2");
  EXPECT_TRUE(demo->steps.empty());
}

TEST(RecordCommand, UsageErrorsExitTwo) {
  TempDir ws;
  testing::write_file(ws.file("ergon.yaml"), workspace_yaml("http://127.0.0.1:9"));
  testing::write_file(ws.file("bad.yaml"), "- click: Sign in\n- tpye: x\n  into: y\n");

  RunResult no_instruction = record({"-w", ws.path()});
  EXPECT_EQ(no_instruction.exit_code, 2) << no_instruction.err;

  RunResult headless = record({"-w", ws.path(), "--headless", "do it"});
  EXPECT_EQ(headless.exit_code, 2) << headless.err;
  EXPECT_NE(headless.err.find("--person FILE"), std::string::npos) << headless.err;

  RunResult no_display = record({"-w", ws.path(), "do it"}, {{"DISPLAY", ""}});
  EXPECT_EQ(no_display.exit_code, 2) << no_display.err;
  EXPECT_NE(no_display.err.find("DISPLAY"), std::string::npos) << no_display.err;

  RunResult bad_person =
      record({"-w", ws.path(), "--headless", "--person", ws.file("bad.yaml"), "do it"});
  EXPECT_EQ(bad_person.exit_code, 2) << bad_person.err;
  EXPECT_NE(bad_person.err.find("bad.yaml:2: [1].tpye: unknown action — did you mean 'type'?"),
            std::string::npos)
      << bad_person.err;

  RunResult api_with_person =
      record({"-w", ws.path(), "--api", "--person", ws.file("bad.yaml"), "do it"});
  EXPECT_EQ(api_with_person.exit_code, 2) << api_with_person.err;

  RunResult unknown_connector = record({"-w", ws.path(), "--headless", "--person",
                                        ws.file("bad.yaml"), "--connector", "nope", "do it"});
  EXPECT_EQ(unknown_connector.exit_code, 2) << unknown_connector.err;
  EXPECT_NE(unknown_connector.err.find("browser connectors: portal"), std::string::npos)
      << unknown_connector.err;

  TempDir none;
  testing::write_file(none.file("ergon.yaml"), "store: .ergon/ergon.db\n");
  RunResult no_browser = record({"-w", none.path(), "--headless", "--person", "x.yaml", "do it"});
  EXPECT_EQ(no_browser.exit_code, 2) << no_browser.err;
  EXPECT_NE(no_browser.err.find("has no browser connector"), std::string::npos) << no_browser.err;
}

// ---------------------------------------------------------------------------
// The person's script.

TEST(PersonScript, ParsesEveryAction) {
  auto script = learn::parse_person_script(R"(
- goto: /login
- click: Sign in
- type: dr.lee
  into: Username
- type_secret: PW
  into: Password
- select: 72148
  in: Procedure
- check: In-network only
- uncheck: Remember me
- press: Enter
- wait_for: Welcome
- click: Select
  in_row: Harbor MRI
)",
                                           "p.yaml");
  ASSERT_TRUE(script) << script.error().message;
  ASSERT_EQ(script->actions.size(), 10u);
  EXPECT_EQ(script->actions[9].field, "Harbor MRI");
  EXPECT_EQ(script->actions[9].describe(), "line 14: click 'Select' in the row of 'Harbor MRI'");
  using Kind = learn::PersonAction::Kind;
  EXPECT_EQ(script->actions[0].kind, Kind::kGoto);
  EXPECT_EQ(script->actions[2].field, "Username");
  EXPECT_EQ(script->actions[3].kind, Kind::kTypeSecret);
  EXPECT_EQ(script->actions[4].value, "72148");  // a number written plainly is still text
  EXPECT_EQ(script->actions[4].field, "Procedure");
  EXPECT_EQ(script->actions[6].kind, Kind::kUncheck);
  EXPECT_EQ(script->actions[3].line, 6);  // the text starts with a new line
  EXPECT_EQ(script->actions[3].describe(), "line 6: type_secret 'PW' into 'Password'");
}

TEST(PersonScript, ErrorsNameFileLineAndField) {
  auto message = [](const std::string& yaml) {
    auto script = learn::parse_person_script(yaml, "p.yaml");
    return script ? std::string("parsed") : script.error().message;
  };
  EXPECT_EQ(message("- type: x\n"),
            "p.yaml:1: [0].type: missing 'into': name the field by its "
            "label, placeholder or name, e.g.\n- type: dr.lee\n  into: "
            "Username");
  EXPECT_NE(message("- click: A\n- clik: B\n")
                .find("p.yaml:2: [1].clik: unknown action — did you "
                      "mean 'click'?"),
            std::string::npos);
  EXPECT_NE(message("- click: A\n  into: B\n").find("p.yaml:2: [0].into: unknown field"),
            std::string::npos);
  EXPECT_NE(message("click: A\n").find("p.yaml:1: expected a list of actions"), std::string::npos);
  EXPECT_NE(message("- click: A\n  press: Enter\n").find("one action per list item"),
            std::string::npos);
  EXPECT_NE(message("- click: ''\n").find("expected a non-empty text"), std::string::npos);
  EXPECT_NE(message("").find("empty"), std::string::npos);
}

TEST(RecorderUrls, RelativeOnTheBaseOriginOnly) {
  EXPECT_EQ(learn::relative_url("http://127.0.0.1:8090/preauth/new?x=1", "http://127.0.0.1:8090"),
            "/preauth/new?x=1");
  EXPECT_EQ(learn::relative_url("http://127.0.0.1:8090", "http://127.0.0.1:8090/app/"), "/");
  EXPECT_EQ(learn::relative_url("https://example.com:443/a", "https://EXAMPLE.com/"), "/a");
  EXPECT_EQ(learn::relative_url("http://other:1/a", "http://127.0.0.1:8090"), "http://other:1/a");
}

}  // namespace
}  // namespace ergon
