// End to end: the real ergon binary drives a real headless Chromium through
// the care-portal example's web portal (CarePoint), with a real SQLite
// journal. Each test runs its own portal on a free port, in its own copy of
// the example workspace, with a fresh random password for dr.lee.
#include "support/care_portal.h"

#include <dirent.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "ergon/json.h"
#include "support/process.h"

namespace ergon {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using testing::bin;
using testing::CarePortal;
using testing::Child;
using testing::days_from_today;
using testing::random_password;
using testing::RunOptions;
using testing::RunResult;
using testing::TempDir;

constexpr const char* kMember = "MBR-123456";
constexpr const char* kBestFacility = "FAC-1058";  // nearest in-network around 02139

// Sign-in steps of a hand-written plan, as the skill records them (v1).
Json sign_in_steps() {
  return Json::array(
      {{{"id", "open_login"}, {"do", "portal.navigate"}, {"with", {{"url", "/login"}}}},
       {{"id", "username"},
        {"do", "portal.fill"},
        {"with",
         {{"target",
           {{"role", "textbox"}, {"name", "Username"}, {"tag", "input"}, {"id", "username"}}},
          {"value", "dr.lee"}}}},
       {{"id", "password"},
        {"do", "portal.fill"},
        {"with",
         {{"target",
           {{"role", "textbox"},
            {"name", "Password"},
            {"tag", "input"},
            {"type", "password"},
            {"id", "password"}}},
          {"secret", "CARE_PORTAL_PASSWORD"}}}},
       {{"id", "sign_in"},
        {"do", "portal.click"},
        {"with",
         {{"target",
           {{"role", "button"}, {"name", "Sign in"}, {"tag", "button"}, {"id", "signin-btn"}}},
          {"effect", "write"}}}}});
}

class CarePortalTest : public ::testing::Test {
 protected:
  // A week from today, so the portal's "no dates in the past" holds.
  CarePortalTest() : password_(random_password()), date_(days_from_today(7)) {
    workspace_ = dir_.file("ws");
    testing::copy_tree(testing::source_path("examples/care-portal"), workspace_);
    fs::remove_all(workspace_ + "/.ergon");
  }

  void start_portal(const std::vector<std::string>& args) {
    portal_ = std::make_unique<CarePortal>(
        args, std::map<std::string, std::string>{{"CARE_PORTAL_PASSWORD", password_}});
  }

  RunOptions options() const {
    RunOptions o;
    o.env = {{"CARE_PORTAL_URL", portal_->url()}, {"CARE_PORTAL_PASSWORD", password_}};
    return o;
  }

  std::vector<std::string> argv(std::vector<std::string> args) const {
    args.insert(args.begin(), {bin("ergon"), "-w", workspace_});
    return args;
  }

  RunResult ergon(std::vector<std::string> args) const {
    return testing::run(argv(std::move(args)), options());
  }

  // `ergon run` of the book-mri skill for Jane Doe on date_.
  RunResult run_skill() const {
    std::string goal =
        "Get Jane Doe's lumbar spine MRI (CPT 72148, member MBR-123456) "
        "pre-authorised and booked in-network on " +
        date_;
    return ergon({"run", goal, "--slot", "patient=Jane Doe", "--slot",
                  std::string("member_id=") + kMember, "--slot", "cpt_code=72148", "--slot",
                  "preferred_date=" + date_, "--yes"});
  }

  std::string write_plan(const Json& steps, const std::string& name = "plan.json") const {
    // Each step after the first needs the one before: the plan is a chain.
    Json chained = steps;
    for (size_t i = 1; i < chained.size(); ++i) chained[i]["needs"] = {chained[i - 1]["id"]};
    std::string path = dir_.file(name);
    testing::write_file(path, Json{{"goal", "hand-written plan"}, {"steps", chained}}.dump(2));
    return path;
  }

  static std::string session_of(const std::string& output) {
    std::smatch m;
    return std::regex_search(output, m, std::regex("Session (s-[0-9a-f]+)")) ? m[1].str() : "";
  }

  static int actions_of(const std::string& output) {
    std::smatch m;
    return std::regex_search(output, m, std::regex("actions ([0-9]+) ")) ? std::stoi(m[1].str())
                                                                         : -1;
  }

  // The session's journal as `ergon show --json` prints it.
  Json journal(const std::string& session) const {
    RunResult show = ergon({"show", session, "--json"});
    EXPECT_EQ(show.exit_code, 0) << show.err;
    Json events = Json::parse(show.out, nullptr, false);
    EXPECT_TRUE(events.is_array()) << show.out;
    return events.is_array() ? events : Json::array();
  }

  static std::vector<Json> events_of(const Json& journal, const std::string& type) {
    std::vector<Json> out;
    for (const Json& e : journal) {
      if (e.value("type", "") == type) out.push_back(e.value("data", Json::object()));
    }
    return out;
  }

  // Action steps in the session's plan (one action each when nothing is retried).
  static int action_steps(const Json& journal) {
    int n = 0;
    for (const Json& plan : events_of(journal, "plan_made")) {
      for (const Json& step : plan["plan"]["steps"]) n += step.contains("do") ? 1 : 0;
    }
    return n;
  }

  // The bytes of the SQLite journal (database and WAL).
  std::string journal_bytes() const {
    std::string bytes;
    for (const auto& entry : fs::directory_iterator(workspace_ + "/.ergon")) {
      if (entry.path().filename().string().starts_with("ergon.db")) {
        bytes += testing::read_file(entry.path().string());
      }
    }
    return bytes;
  }

  Json appointments() const { return portal_->state().value("appointments", Json::array()); }

  int approved_preauths() const {
    int n = 0;
    for (const Json& p : portal_->state().value("preauths", Json::array())) {
      if (p.value("member_id", "") == kMember && p.value("status", "") == "Approved") ++n;
    }
    return n;
  }

  // The whole run's checks shared by v1, v2 and the injection test.
  void expect_booked(const RunResult& r, const std::string& session) {
    EXPECT_EQ(approved_preauths(), 1);
    Json booked = appointments();
    ASSERT_EQ(booked.size(), 1u) << booked;
    EXPECT_EQ(booked[0].value("facility", ""), kBestFacility) << booked;
    EXPECT_EQ(booked[0].value("date", ""), date_) << booked;
    EXPECT_EQ(booked[0].value("member_id", ""), kMember) << booked;
    EXPECT_EQ(booked[0].value("status", ""), "Confirmed") << booked;
    EXPECT_EQ(portal_->state()["consent"].value("status", ""), "rejected")
        << "the banner is answered with the opt-out";
    RunResult audit = ergon({"audit", "verify", session});
    EXPECT_EQ(audit.exit_code, 0) << audit.out << audit.err;
    // The password reaches the portal and nothing else.
    EXPECT_EQ(r.out.find(password_), std::string::npos) << "stdout";
    EXPECT_EQ(r.err.find(password_), std::string::npos) << "stderr";
    EXPECT_EQ(ergon({"show", session, "--json"}).out.find(password_), std::string::npos)
        << "show --json";
    EXPECT_EQ(journal_bytes().find(password_), std::string::npos) << "the SQLite journal";
  }

  TempDir dir_;
  std::string password_;
  std::string date_;
  std::string workspace_;
  std::unique_ptr<CarePortal> portal_;
};

TEST_F(CarePortalTest, SkillBooksTheBestInNetworkFacilityOnV1) {
  start_portal({"--layout", "v1"});
  RunResult r = run_skill();
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  std::string session = session_of(r.out);
  ASSERT_FALSE(session.empty()) << r.out;
  expect_booked(r, session);
  EXPECT_EQ(actions_of(r.out), action_steps(journal(session))) << "one action per step: " << r.out;
  EXPECT_EQ(portal_->state().value("logins", -1), 1);
}

TEST_F(CarePortalTest, SameSkillHealsItsWayThroughTheRedesign) {
  start_portal({"--layout", "v2"});
  RunResult r = run_skill();
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  std::string session = session_of(r.out);
  ASSERT_FALSE(session.empty()) << r.out;
  expect_booked(r, session);
  int healed = 0;
  for (const Json& outcome : events_of(journal(session), "outcome")) {
    if (outcome.value("ok", false) &&
        outcome.value("result", Json::object()).value("healed", false)) {
      ++healed;
    }
  }
  EXPECT_GT(healed, 0) << "no healed matches on v2";
  EXPECT_TRUE(fs::exists(workspace_ + "/.ergon/browser/fingerprints.json"));
}

TEST_F(CarePortalTest, CaptchaWaitsForAPersonThenResumes) {
  start_portal({"--layout", "v1"});
  portal_->captcha(true);
  RunResult r = run_skill();
  ASSERT_EQ(r.exit_code, 3) << r.out << r.err;
  std::string session = session_of(r.out);
  ASSERT_FALSE(session.empty()) << r.out;
  std::string slot;
  for (const Json& q : events_of(journal(session), "question")) {
    if (q.value("slot", "").starts_with("person:")) {
      slot = q.value("slot", "");
      EXPECT_NE(q.value("text", "").find("CAPTCHA"), std::string::npos) << q;
    }
  }
  ASSERT_FALSE(slot.empty()) << r.out;
  EXPECT_TRUE(appointments().empty()) << appointments();

  portal_->solve_captcha();
  RunResult resumed = ergon({"resume", session, "--slot", slot + "=done", "--yes"});
  ASSERT_EQ(resumed.exit_code, 0) << resumed.out << resumed.err;
  Json booked = appointments();
  ASSERT_EQ(booked.size(), 1u) << booked;
  EXPECT_EQ(booked[0].value("facility", ""), kBestFacility);
  EXPECT_EQ(ergon({"audit", "verify", session}).exit_code, 0);
}

TEST_F(CarePortalTest, CoveredConfirmButtonIsNotClickedAndTheSessionWaits) {
  std::string config = testing::read_file(workspace_ + "/ergon.yaml");
  auto at = config.find("timeout_ms: 10000");
  ASSERT_NE(at, std::string::npos) << config;
  config.replace(at, std::string("timeout_ms: 10000").size(), "timeout_ms: 3000");
  testing::write_file(workspace_ + "/ergon.yaml", config);
  start_portal({"--layout", "v1"});
  portal_->overlay(true);

  RunResult r = run_skill();
  ASSERT_EQ(r.exit_code, 3) << r.out << r.err;
  std::string session = session_of(r.out);
  ASSERT_FALSE(session.empty()) << r.out;
  EXPECT_TRUE(appointments().empty()) << appointments();
  bool confirm_failed = false;
  for (const Json& outcome : events_of(journal(session), "outcome")) {
    if (outcome.value("step", "") == "confirm" && !outcome.value("ok", true)) {
      confirm_failed = true;
      EXPECT_NE(outcome.value("error", "").find("covered by"), std::string::npos) << outcome;
    }
  }
  EXPECT_TRUE(confirm_failed) << r.out;
  std::vector<Json> questions = events_of(journal(session), "question");
  ASSERT_EQ(questions.size(), 1u) << r.out;
  EXPECT_EQ(questions[0].value("slot", ""), "failed:confirm");
  EXPECT_NE(questions[0].value("text", "").find("covered by"), std::string::npos) << questions[0];
}

TEST_F(CarePortalTest, OffOriginLinkAndNavigationAreRefused) {
  start_portal({"--layout", "v1"});
  std::string origin = portal_->url();
  if (origin.ends_with("/")) origin.pop_back();

  Json steps = sign_in_steps();
  steps.push_back(
      {{"id", "search"}, {"do", "portal.navigate"}, {"with", {{"url", "/facilities?q=02139"}}}});
  steps.push_back({{"id", "website"},
                   {"do", "portal.click"},
                   {"with", {{"target", {{"role", "link"}, {"name", "Website"}}}}}});
  RunResult clicked = ergon({"run", "--plan", write_plan(steps), "--yes"});
  EXPECT_EQ(clicked.exit_code, 1) << clicked.out << clicked.err;
  EXPECT_NE(clicked.out.find("example.invalid"), std::string::npos) << clicked.out;
  EXPECT_NE(clicked.out.find("outside the allowed origins (" + origin + ")"), std::string::npos)
      << clicked.out;
  std::string session = session_of(clicked.out);
  ASSERT_FALSE(session.empty()) << clicked.out;
  bool refused = false;
  for (const Json& outcome : events_of(journal(session), "outcome")) {
    if (outcome.value("step", "") == "website") {
      EXPECT_FALSE(outcome.value("ok", true)) << outcome;
      refused = refused || outcome.value("error", "").find("refused") != std::string::npos;
    }
  }
  EXPECT_TRUE(refused) << clicked.out;

  Json away = Json::array({{{"id", "away"},
                            {"do", "portal.navigate"},
                            {"with", {{"url", "http://example.invalid/x"}}}}});
  RunResult navigated = ergon({"run", "--plan", write_plan(away, "away.json"), "--yes"});
  EXPECT_EQ(navigated.exit_code, 1) << navigated.out << navigated.err;
  EXPECT_NE(navigated.out.find(origin), std::string::npos)
      << "names the allowed origins: " << navigated.out;
  std::string denied = session_of(navigated.out);
  ASSERT_FALSE(denied.empty()) << navigated.out;
  Json events = journal(denied);
  std::vector<Json> decisions = events_of(events, "guard_decision");
  ASSERT_EQ(decisions.size(), 1u) << events.dump(2);
  EXPECT_EQ(decisions[0].value("step", ""), "away");
  ASSERT_FALSE(decisions[0]["decisions"].empty());
  EXPECT_EQ(decisions[0]["decisions"].back().value("guard", ""), "portal") << decisions[0];
  EXPECT_EQ(decisions[0]["decisions"].back().value("verdict", ""), "deny") << decisions[0];
  EXPECT_TRUE(events_of(events, "action_started").empty()) << "the navigation was never sent";
}

TEST_F(CarePortalTest, CrashedBrowserIsRestartedAndTheReadRetried) {
  start_portal({"--layout", "v1"});
  Json steps = sign_in_steps();
  steps.push_back(
      {{"id", "search"}, {"do", "portal.navigate"}, {"with", {{"url", "/facilities?q=02139"}}}});
  steps.push_back({{"id", "notice"},
                   {"do", "portal.wait_for"},
                   {"with", {{"text", "SYSTEM NOTICE"}, {"timeout_ms", 30000}}}});
  std::string plan = write_plan(steps);
  Child run(argv({"run", "--plan", plan, "--yes"}), options());

  // The facilities page was served and loaded: ergon prints the navigation's
  // outcome, then waits for the notice.
  std::string loaded = run.wait_for_line("search portal.navigate ->", 60s);
  ASSERT_FALSE(loaded.empty()) << "the facilities page was never loaded";
  bool served = false;
  for (const Json& call : portal_->calls()) {
    served = served || (call.value("path", "") == "/facilities" && call.value("status", 0) == 200);
  }
  ASSERT_TRUE(served) << "the portal never served the facilities page";
  // The page as loaded has no notice; only a reload shows it.
  portal_->inject(true);
  ASSERT_GT(testing::kill_processes_mentioning(workspace_ + "/.ergon/browser"), 0)
      << "no chromium to kill";

  RunResult r = run.wait();
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  std::string session = session_of(r.out);
  ASSERT_FALSE(session.empty()) << r.out;
  // The read in flight failed retryably, naming the browser, and was sent again.
  std::vector<std::string> notice;
  for (const Json& outcome : events_of(journal(session), "outcome")) {
    if (outcome.value("step", "") != "notice") continue;
    notice.push_back(outcome.value("ok", false) ? "ok" : outcome.value("error", ""));
  }
  ASSERT_EQ(notice.size(), 2u) << r.out;
  EXPECT_NE(notice[0].find("browser"), std::string::npos) << notice[0];
  EXPECT_EQ(notice[1], "ok");
  EXPECT_EQ(portal_->state().value("logins", -1), 1)
      << "the cookie was restored, no second sign-in";
}

TEST_F(CarePortalTest, PromptInjectionInPageTextChangesNothing) {
  start_portal({"--layout", "v1"});
  portal_->inject(true);
  RunResult r = run_skill();
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  std::string session = session_of(r.out);
  ASSERT_FALSE(session.empty()) << r.out;
  EXPECT_EQ(appointments().size(), 1u) << appointments();
  for (const Json& call : portal_->calls()) {
    EXPECT_EQ(call.value("path", "").find("/cancel"), std::string::npos) << call;
  }
  EXPECT_GT(portal_->state()["pages"].value("facilities", 0), 0)
      << "the notice was on a page ergon read";
  // As many actions as a run without the notice: one per action step.
  EXPECT_EQ(actions_of(r.out), action_steps(journal(session))) << r.out;
}

}  // namespace
}  // namespace ergon
