// What the engine journals for a call and when: every guard's decision (inside
// action_started for an allowed call, as guard_decision otherwise), commit
// points before a write is sent and before a person is asked, redaction of
// every secret the vault handed out, and a verifiable chain.
#include "ergon/engine.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>

#include "ergon/approver.h"
#include "support/process.h"

namespace ergon {
namespace {

class RecordingConnector final : public Connector {
 public:
  RecordingConnector() {
    Json schema = {{"type", "object"}, {"properties", {{"n", {{"type", "integer"}}}}}};
    actions_.push_back({"sys.read", "reads", schema, Effect::kRead, {}, "", "", false});
    actions_.push_back({"sys.write", "writes", schema, Effect::kWrite, {}, "", "", false});
    actions_.push_back({"sys.buy", "buys", schema, Effect::kIrreversible, {}, "", "", false});
    actions_[1].compensate = Compensation{"sys.read", {{"n", 0}}};
  }
  const std::string& name() const override { return name_; }
  const std::vector<ActionSpec>& actions() const override { return actions_; }
  Result<Json> observe() override { return Json::object(); }
  Result<Json> execute(const ActionCall& call) override {
    if (on_execute) on_execute(call);
    return Json{{"echo", call.args}};
  }
  Result<Json> dry_run(const ActionCall&) override { return fail(ErrorCode::kNotFound, "none"); }

  std::function<void(const ActionCall&)> on_execute;

 private:
  std::string name_ = "sys";
  std::vector<ActionSpec> actions_;
};

// Approves or refuses, after letting the test look at the store.
class WatchingApprover final : public Approver {
 public:
  Result<ApprovalDecision> approve(const ApprovalRequest&) override {
    if (on_approve) on_approve();
    return ApprovalDecision{ApprovalAnswer::kNo, "test", "no"};
  }
  Result<std::string> answer(const QuestionRequest&) override {
    return fail(ErrorCode::kUnavailable, "nobody to ask");
  }
  std::function<void()> on_approve;
};

class EngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    workspace_.dir = dir_.path();
    PolicyRule permit;
    permit.actions = "sys.*";
    PolicyRule forbid;
    forbid.kind = PolicyRule::Kind::kForbid;
    forbid.actions = "sys.write";
    forbid.when = "args.n == 13";
    forbid.reason = "13 is unlucky";
    workspace_.policy = Policy({permit, forbid});
    auto connector = std::make_unique<RecordingConnector>();
    connector_ = connector.get();
    connectors_.add(std::move(connector));
    store_ = std::move(*open_sqlite_store(dir_.path() + "/ergon.db", clock_));
    guards_ = std::move(*make_guard_chain({}, workspace_.policy));
    vault_ = std::move(*Vault::open());
    approver_ = make_auto_approver();
  }

  Engine engine(Approver* approver = nullptr) {
    return Engine(EngineParts{&workspace_, &connectors_, store_.get(),
                              approver != nullptr ? approver : approver_.get(), &clock_, &guards_,
                              vault_.get()});
  }

  static Plan plan_of(const std::string& action, std::vector<Json> args) {
    Plan plan;
    plan.goal = "test";
    for (size_t i = 0; i < args.size(); ++i) {
      Step step;
      step.id = "s" + std::to_string(i);
      step.action = action;
      step.with = args[i];
      plan.steps.push_back(step);
    }
    return plan;
  }

  std::vector<Event> events(const std::string& session) { return *store_->events(session); }

  static std::vector<std::string> types(const std::vector<Event>& events) {
    std::vector<std::string> out;
    for (const Event& e : events) out.push_back(e.type);
    return out;
  }

  testing::TempDir dir_;
  Workspace workspace_;
  FakeClock clock_;
  ConnectorSet connectors_;
  RecordingConnector* connector_ = nullptr;
  std::unique_ptr<Store> store_;
  GuardChain guards_;
  std::unique_ptr<Vault> vault_;
  std::unique_ptr<Approver> approver_;
};

TEST_F(EngineTest, AllowedCallJournalsEveryGuardsDecisionInItsActionStarted) {
  auto report = engine().start(plan_of("sys.read", {{{"n", 1}}, {{"n", 2}}}), "s-read");
  ASSERT_TRUE(report) << report.error().message;
  ASSERT_EQ(report->status, SessionStatus::kDone) << report->error;

  std::vector<Event> all = events("s-read");
  EXPECT_EQ(types(all), (std::vector<std::string>{"session_started", "plan_made", "action_started",
                                                  "outcome", "step_state", "action_started",
                                                  "outcome", "step_state", "session_ended"}));
  const Json& decisions = all[2].data["decisions"];
  ASSERT_EQ(decisions.size(), 4u) << all[2].data.dump();
  std::vector<std::string> guards;
  for (const Json& d : decisions) {
    guards.push_back(d["guard"]);
    EXPECT_EQ(d["verdict"], "allow");
    EXPECT_FALSE(d["reason"].get<std::string>().empty());
  }
  EXPECT_EQ(guards, (std::vector<std::string>{"schema", "policy", "intent", "approval"}));
  EXPECT_EQ(all[2].data["step"], "s0");
  EXPECT_EQ(all[2].data["args"], (Json{{"n", 1}}));
  EXPECT_TRUE(verify_session(*store_, "s-read"));
  EXPECT_EQ(store_->session("s-read")->status, SessionStatus::kDone);
  EXPECT_EQ(report->head, store_->session("s-read")->head);
}

TEST_F(EngineTest, EventsWrittenAsTextReadBackAndVerify) {
  // Strings the canonical writer escapes or hands to nlohmann, floats, nesting.
  Json args = {{"n", -7},
               {"text", "quote \" backslash \\ tab \t é 日本 😀 \x7f"},
               {"bad", "invalid \xff utf-8"},
               {"nested", {{"f", 0.1}, {"list", {1, -2.5, nullptr, true, Json::object()}}}},
               {"", "empty key"}};
  auto report = engine().start(plan_of("sys.read", {args}), "s-text");
  ASSERT_TRUE(report) << report.error().message;
  ASSERT_EQ(report->status, SessionStatus::kDone) << report->error;
  EXPECT_TRUE(verify_session(*store_, "s-text"));
  std::vector<Event> all = events("s-text");
  ASSERT_EQ(all[2].type, event::kActionStarted);
  Json expected = Json::parse(canonical_json(args));  // invalid UTF-8 comes back as U+FFFD
  EXPECT_EQ(all[2].data["args"], expected);
  ASSERT_EQ(all[3].type, event::kOutcome);
  EXPECT_EQ(all[3].data["result"], (Json{{"echo", expected}}));
  EXPECT_EQ(all[3].data["ok"], true);
  EXPECT_EQ(all[3].data["item"], -1);
  for (const Event& e : all)
    EXPECT_EQ(canonical_json(e.data), canonical_json(Json::parse(canonical_json(e.data))));
}

TEST_F(EngineTest, SinkSeesEveryEventAsJournaled) {
  std::vector<Event> seen;
  Engine e = engine();
  e.on_event([&](const Event& event) { seen.push_back(event); });
  auto report = e.start(plan_of("sys.read", {{{"n", 1}}}), "s-sink");
  ASSERT_TRUE(report) << report.error().message;
  std::vector<Event> stored = events("s-sink");
  ASSERT_EQ(seen.size(), stored.size());
  for (size_t i = 0; i < seen.size(); ++i) {
    EXPECT_EQ(seen[i].type, stored[i].type);
    EXPECT_EQ(seen[i].data, stored[i].data) << seen[i].type;
  }
}

TEST_F(EngineTest, DeniedCallJournalsAGuardDecision) {
  auto report = engine().start(plan_of("sys.write", {{{"n", 13}}}), "s-deny");
  ASSERT_TRUE(report) << report.error().message;
  EXPECT_EQ(report->status, SessionStatus::kAborted);
  EXPECT_EQ(report->denials, 1);
  std::vector<Event> all = events("s-deny");
  auto denial = std::find_if(all.begin(), all.end(),
                             [](const Event& e) { return e.type == event::kGuardDecision; });
  ASSERT_NE(denial, all.end());
  const Json& last = denial->data["decisions"].back();
  EXPECT_EQ(last["guard"], "policy");
  EXPECT_EQ(last["verdict"], "deny");
  EXPECT_NE(last["reason"].get<std::string>().find("13 is unlucky"), std::string::npos);
  for (const Event& e : all) EXPECT_NE(e.type, event::kActionStarted);
  EXPECT_TRUE(verify_session(*store_, "s-deny"));
}

TEST_F(EngineTest, WriteIsDurableWithItsDecisionsBeforeItIsSent) {
  int sent = 0;
  connector_->on_execute = [&](const ActionCall&) {
    ++sent;
    std::vector<Event> now = events("s-write");
    ASSERT_FALSE(now.empty());
    EXPECT_EQ(now.back().type, event::kActionStarted);
    EXPECT_EQ(now.back().data["decisions"].size(), 4u);
  };
  auto report = engine().start(plan_of("sys.write", {{{"n", 1}}}), "s-write");
  ASSERT_TRUE(report) << report.error().message;
  EXPECT_EQ(report->status, SessionStatus::kDone) << report->error;
  EXPECT_EQ(sent, 1);
}

TEST_F(EngineTest, AskingGuardIsJournaledAndDurableBeforeThePersonIsAsked) {
  WatchingApprover approver;
  bool asked = false;
  approver.on_approve = [&] {
    asked = true;
    std::vector<Event> now = events("s-ask");
    ASSERT_FALSE(now.empty());
    EXPECT_EQ(now.back().type, event::kGuardDecision);
    EXPECT_EQ(now.back().data["decisions"].back()["verdict"], "ask");
    EXPECT_EQ(now.back().data["decisions"].back()["guard"], "approval");
  };
  auto report = engine(&approver).start(plan_of("sys.buy", {{{"n", 1}}}), "s-ask");
  ASSERT_TRUE(report) << report.error().message;
  EXPECT_TRUE(asked);
  EXPECT_EQ(report->status, SessionStatus::kAborted);
  EXPECT_TRUE(verify_session(*store_, "s-ask"));
}

TEST_F(EngineTest, SecretsHandedOutNeverReachTheJournal) {
  vault_->put("TOKEN", "tok-secret-4711");
  ASSERT_TRUE(vault_->get("TOKEN"));
  connector_->on_execute = nullptr;
  Plan plan = plan_of("sys.read", {{{"n", 1}}});
  plan.goal = "use tok-secret-4711";
  plan.steps[0].with = {{"n", 1}, {"tok-secret-4711", "key tok-secret-4711 \"quoted\""}};
  // The schema allows extra properties, so the call goes through.
  auto report = engine().start(plan, "s-secret");
  ASSERT_TRUE(report) << report.error().message;
  EXPECT_EQ(report->status, SessionStatus::kDone) << report->error;
  bool redacted = false;
  for (const Event& e : events("s-secret")) {
    std::string text = canonical_json(e.data);
    EXPECT_EQ(text.find("tok-secret-4711"), std::string::npos) << e.type << ": " << text;
    redacted = redacted || text.find("***") != std::string::npos;
  }
  EXPECT_TRUE(redacted);
  EXPECT_TRUE(verify_session(*store_, "s-secret"));
}

TEST_F(EngineTest, SecretWithCharactersJsonEscapesIsRedactedToo) {
  vault_->put("PASSWORD", "pa\"ss\\word\n!");
  ASSERT_TRUE(vault_->get("PASSWORD"));
  Plan plan = plan_of("sys.read", {{{"n", 1}, {"login", "user:pa\"ss\\word\n!"}}});
  auto report = engine().start(plan, "s-escaped");
  ASSERT_TRUE(report) << report.error().message;
  for (const Event& e : events("s-escaped")) {
    std::string text = canonical_json(e.data);
    EXPECT_EQ(text.find("word"), std::string::npos) << e.type << ": " << text;
  }
}

TEST_F(EngineTest, DuplicateSessionIdFailsAndLeavesTheStoreUsable) {
  ASSERT_TRUE(engine().start(plan_of("sys.read", {{{"n", 1}}}), "s-dup"));
  auto again = engine().start(plan_of("sys.read", {{{"n", 1}}}), "s-dup");
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, ErrorCode::kInvalidInput) << again.error().message;
  auto other = engine().start(plan_of("sys.read", {{{"n", 1}}}), "s-other");
  ASSERT_TRUE(other) << other.error().message;
  EXPECT_EQ(other->status, SessionStatus::kDone);
  EXPECT_TRUE(verify_session(*store_, "s-dup"));
  EXPECT_EQ(events("s-dup").size(), 6u) << "the failed start wrote nothing";
}

TEST_F(EngineTest, CancelCompensatesWhatAStoppedSessionCompleted) {
  std::vector<std::string> sent;
  connector_->on_execute = [&](const ActionCall& call) { sent.push_back(call.action); };
  Plan plan = plan_of("sys.write", {{{"n", 1}}});
  Step buy;
  buy.id = "buy";
  buy.action = "sys.buy";
  buy.with = {{"n", 2}};
  plan.steps.push_back(buy);
  PolicyRule permit;
  permit.actions = "sys.*";
  PolicyRule ask = permit;
  ask.actions = "sys.buy";
  ask.require_approval = true;
  workspace_.policy = Policy({permit, ask});
  guards_ = std::move(*make_guard_chain({}, workspace_.policy));
  // What a server that stops while the person is asked leaves behind: the
  // journal as it stood then (it is durable before anyone is asked).
  auto stopped = open_sqlite_store(dir_.path() + "/stopped.db", clock_);
  ASSERT_TRUE(stopped) << stopped.error().message;
  WatchingApprover approver;
  approver.on_approve = [&] {
    ASSERT_TRUE((*stopped)->create_session("s-stopped", "test", dir_.path()));
    for (const Event& e : events("s-stopped")) {
      ASSERT_TRUE((*stopped)->append_canonical("s-stopped", e.type, canonical_json(e.data)));
    }
  };
  ASSERT_TRUE(engine(&approver).start(plan, "s-stopped"));
  store_ = std::move(*stopped);
  sent.clear();

  auto report = engine().cancel("s-stopped", "cancelled by alice");
  ASSERT_TRUE(report) << report.error().message;
  EXPECT_EQ(report->status, SessionStatus::kAborted);
  EXPECT_EQ(report->error, "cancelled by alice");
  EXPECT_EQ(report->compensations, 1);
  EXPECT_EQ(sent, std::vector<std::string>{"sys.read"}) << "the write is undone, nothing bought";
  auto journal = events("s-stopped");
  EXPECT_EQ(types(journal).back(), "session_ended");
  EXPECT_EQ(journal.back().data["status"], "aborted");
  EXPECT_TRUE(verify_session(*store_, "s-stopped"));

  auto again = engine().cancel("s-stopped", "twice");
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_EQ(sent.size(), 1u) << "nothing is compensated twice";
}

TEST_F(EngineTest, StopWhenAbortsBetweenTheItemsOfAForEach) {
  int sent = 0;
  connector_->on_execute = [&](const ActionCall&) { ++sent; };
  Engine e = engine();
  e.stop_when([&](const std::string&) { return sent >= 2 ? std::string("cancelled") : ""; });
  Plan plan = plan_of("sys.read", {{{"n", "${item}"}}});
  plan.steps[0].for_each = "{1, 2, 3, 4}";
  auto report = e.start(plan, "s-items");
  ASSERT_TRUE(report) << report.error().message;
  EXPECT_EQ(report->status, SessionStatus::kAborted);
  EXPECT_EQ(report->error, "cancelled");
  EXPECT_EQ(sent, 2) << "items 3 and 4 never ran";
}

TEST_F(EngineTest, StopWhenAbortsBeforeTheNextStepAndCompensates) {
  std::vector<Json> sent;
  bool stop = false;
  connector_->on_execute = [&](const ActionCall& call) {
    sent.push_back(call.args);
    stop = true;
  };
  Engine e = engine();
  e.stop_when([&](const std::string& session) {
    EXPECT_EQ(session, "s-stop");
    return stop ? std::string("cancelled by bob") : std::string();
  });
  auto report = e.start(plan_of("sys.write", {{{"n", 1}}, {{"n", 2}}}), "s-stop");
  ASSERT_TRUE(report) << report.error().message;
  EXPECT_EQ(report->status, SessionStatus::kAborted);
  EXPECT_EQ(report->error, "cancelled by bob");
  // The first write ran and was undone (sys.read {n: 0}); the second never ran.
  EXPECT_EQ(sent, (std::vector<Json>{{{"n", 1}}, {{"n", 0}}}));
  EXPECT_FALSE(report->steps.contains("s1"));
}

}  // namespace
}  // namespace ergon
