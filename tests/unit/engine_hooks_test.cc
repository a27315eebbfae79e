// The engine's side of the connector hooks: inspect() may refuse a call or
// raise its effect; a kNeedsPerson error asks a person and retries with the
// answer; begin_session/end_session bracket every run.
#include <gtest/gtest.h>

#include <functional>

#include "ergon/approver.h"
#include "ergon/engine.h"
#include "support/process.h"

namespace ergon {
namespace {

class ScriptedConnector final : public Connector {
 public:
  ScriptedConnector() {
    Json schema = {{"type", "object"}};
    actions_.push_back(
        {"web.press", "presses a button", schema, Effect::kWrite, {}, "", "", false});
  }
  const std::string& name() const override { return name_; }
  const std::vector<ActionSpec>& actions() const override { return actions_; }
  Result<Json> observe() override { return Json::object(); }
  Result<Json> execute(const ActionCall& call) override {
    answers_seen.push_back(call.person_answer);
    if (on_execute) return on_execute(call);
    return Json{{"pressed", true}};
  }
  Result<Json> dry_run(const ActionCall&) override { return fail(ErrorCode::kNotFound, "none"); }
  Result<Json> inspect(const ActionCall& call) override {
    if (on_inspect) return on_inspect(call);
    return Json::object();
  }
  void begin_session(const std::string& session) override { hooks.push_back("begin " + session); }
  void end_session(const std::string& session, bool finished) override {
    hooks.push_back("end " + session + (finished ? " finished" : " waiting"));
  }

  std::function<Result<Json>(const ActionCall&)> on_execute;
  std::function<Result<Json>(const ActionCall&)> on_inspect;
  std::vector<std::string> answers_seen;
  std::vector<std::string> hooks;

 private:
  std::string name_ = "web";
  std::vector<ActionSpec> actions_;
};

class EngineHooksTest : public ::testing::Test {
 protected:
  void SetUp() override {
    workspace_.dir = dir_.path();
    PolicyRule permit;
    permit.actions = "web.*";
    workspace_.policy = Policy({permit});
    auto connector = std::make_unique<ScriptedConnector>();
    connector_ = connector.get();
    connectors_.add(std::move(connector));
    store_ = std::move(*open_sqlite_store(dir_.path() + "/ergon.db", clock_));
    guards_ = std::move(*make_guard_chain({}, workspace_.policy));
    vault_ = std::move(*Vault::open());
  }

  Engine engine(Approver& approver) {
    return Engine(EngineParts{&workspace_, &connectors_, store_.get(), &approver, &clock_, &guards_,
                              vault_.get()});
  }

  static Plan one_press() {
    Plan plan;
    plan.goal = "press the button";
    Step step;
    step.id = "press";
    step.action = "web.press";
    plan.steps.push_back(step);
    return plan;
  }

  testing::TempDir dir_;
  Workspace workspace_;
  FakeClock clock_;
  ConnectorSet connectors_;
  ScriptedConnector* connector_ = nullptr;
  std::unique_ptr<Store> store_;
  GuardChain guards_;
  std::unique_ptr<Vault> vault_;
};

TEST_F(EngineHooksTest, InspectRaisingTheEffectMakesTheCallAskForApproval) {
  connector_->on_inspect = [](const ActionCall&) -> Result<Json> {
    return Json{{"effect", "irreversible"}};
  };
  auto deny = make_deny_approver("nobody is here");
  auto report = engine(*deny).start(one_press(), "s-raise");
  ASSERT_TRUE(report) << report.error().message;
  EXPECT_EQ(report->status, SessionStatus::kAborted);
  EXPECT_NE(report->error.find("not approved"), std::string::npos) << report->error;
  EXPECT_TRUE(connector_->answers_seen.empty()) << "the call must not reach the connector";

  // The same call without the raised effect is a plain write: no approval.
  connector_->on_inspect = nullptr;
  auto again = engine(*deny).start(one_press(), "s-plain");
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(again->status, SessionStatus::kDone) << again->error;
  EXPECT_EQ(connector_->answers_seen.size(), 1u);
}

TEST_F(EngineHooksTest, InspectRefusalIsJournaledAsTheConnectorsGuardDecision) {
  connector_->on_inspect = [](const ActionCall&) -> Result<Json> {
    return fail(ErrorCode::kDenied,
                "navigation to http://evil.example is outside the allowed origins");
  };
  auto approver = make_auto_approver();
  auto report = engine(*approver).start(one_press(), "s-refused");
  ASSERT_TRUE(report) << report.error().message;
  EXPECT_EQ(report->status, SessionStatus::kAborted);
  EXPECT_EQ(report->denials, 1);
  EXPECT_TRUE(connector_->answers_seen.empty());
  bool found = false;
  auto events = store_->events("s-refused");
  ASSERT_TRUE(events);
  for (const Event& e : *events) {
    if (e.type != event::kGuardDecision) continue;
    const Json& d = e.data["decisions"][0];
    EXPECT_EQ(d["guard"], "web");
    EXPECT_EQ(d["verdict"], "deny");
    EXPECT_NE(d["reason"].get<std::string>().find("allowed origins"), std::string::npos);
    found = true;
  }
  EXPECT_TRUE(found);
}

TEST_F(EngineHooksTest, NeedsPersonWaitsThenRetriesWithTheAnswer) {
  connector_->on_execute = [](const ActionCall& call) -> Result<Json> {
    if (call.person_answer != "done") {
      return fail(ErrorCode::kNeedsPerson,
                  "a CAPTCHA is on the page: solve it, then answer 'done'");
    }
    return Json{{"pressed", true}};
  };
  auto approver = make_auto_approver();  // cannot answer questions
  auto report = engine(*approver).start(one_press(), "s-captcha");
  ASSERT_TRUE(report) << report.error().message;
  ASSERT_EQ(report->status, SessionStatus::kWaiting) << report->error;
  ASSERT_EQ(report->questions.size(), 1u);
  EXPECT_EQ(report->questions[0].slot, "person:press");
  EXPECT_NE(report->questions[0].text.find("CAPTCHA"), std::string::npos);

  auto resumed = engine(*approver).resume("s-captcha", Json{{"person:press", "done"}});
  ASSERT_TRUE(resumed) << resumed.error().message;
  EXPECT_EQ(resumed->status, SessionStatus::kDone) << resumed->error;
  EXPECT_EQ(connector_->answers_seen, (std::vector<std::string>{"", "done"}));
  EXPECT_EQ(connector_->hooks,
            (std::vector<std::string>{"begin s-captcha", "end s-captcha waiting", "begin s-captcha",
                                      "end s-captcha finished"}));
  EXPECT_TRUE(verify_session(*store_, "s-captcha"));
}

// Answers every question with `answer`; denies every approval.
class AnsweringApprover final : public Approver {
 public:
  explicit AnsweringApprover(std::string answer) : answer_(std::move(answer)) {}
  Result<ApprovalDecision> approve(const ApprovalRequest& request) override {
    asked.push_back(request.action + " " + to_string(request.effect));
    return ApprovalDecision{ApprovalAnswer::kNo, "test", "not this time"};
  }
  Result<std::string> answer(const QuestionRequest&) override { return answer_; }
  std::vector<std::string> asked;

 private:
  std::string answer_;
};

TEST_F(EngineHooksTest, APersonsAnswerIsInspectedAndGuardedAgainBeforeTheCallIsSent) {
  // The element a person picks submits a form: the call becomes irreversible
  // and must be approved — it is not, so the click never happens.
  connector_->on_inspect = [](const ActionCall& call) -> Result<Json> {
    if (call.person_answer == "2") return Json{{"effect", "irreversible"}};
    return Json::object();
  };
  connector_->on_execute = [](const ActionCall& call) -> Result<Json> {
    if (call.person_answer.empty()) {
      return fail(ErrorCode::kNeedsPerson, "which button? 1) Save 2) Submit");
    }
    return Json{{"pressed", call.person_answer}};
  };
  AnsweringApprover person("2");
  auto report = engine(person).start(one_press(), "s-picked");
  ASSERT_TRUE(report) << report.error().message;
  EXPECT_EQ(report->status, SessionStatus::kAborted);
  EXPECT_NE(report->error.find("not approved"), std::string::npos) << report->error;
  EXPECT_EQ(person.asked, (std::vector<std::string>{"web.press irreversible"}));
  EXPECT_EQ(connector_->answers_seen, (std::vector<std::string>{""}))
      << "only the first attempt, which asked, reached the connector";
}

TEST_F(EngineHooksTest, NeedsPersonAnswerAbortStopsTheSession) {
  connector_->on_execute = [](const ActionCall&) -> Result<Json> {
    return fail(ErrorCode::kNeedsPerson, "the portal asks to sign in again");
  };
  auto approver = make_auto_approver();
  auto report = engine(*approver).start(one_press(), "s-abort");
  ASSERT_TRUE(report);
  ASSERT_EQ(report->status, SessionStatus::kWaiting);
  auto resumed = engine(*approver).resume("s-abort", Json{{"person:press", "abort"}});
  ASSERT_TRUE(resumed) << resumed.error().message;
  EXPECT_EQ(resumed->status, SessionStatus::kAborted);
  EXPECT_NE(resumed->error.find("abort"), std::string::npos) << resumed->error;
}

}  // namespace
}  // namespace ergon
