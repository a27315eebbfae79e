// The HTTP API against a real Server on port 0, the cloud-cost example
// workspace and its acme-cloud service: sessions, approvals bound to the
// exact action, token roles, four eyes, server-sent events, metrics, restart.
#include "ergon/serve.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "ergon/json.h"
#include "ergon/plan.h"
#include "support/model_standin.h"
#include "support/serve_workspace.h"

namespace ergon {
namespace {

constexpr const char* kCloudToken = "serve-test-token-3c9e";

struct Sse {
  int64_t id = 0;
  std::string type;
  Json data;
};

// Parses complete "id/event/data" blocks off the front of `buffer`.
std::vector<Sse> parse_sse(std::string& buffer) {
  std::vector<Sse> out;
  size_t end;
  while ((end = buffer.find("\n\n")) != std::string::npos) {
    std::string block = buffer.substr(0, end);
    buffer.erase(0, end + 2);
    Sse e;
    size_t pos = 0;
    while (pos < block.size()) {
      size_t nl = block.find('\n', pos);
      std::string line = block.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
      pos = nl == std::string::npos ? block.size() : nl + 1;
      if (line.starts_with("id: ")) e.id = std::stoll(line.substr(4));
      if (line.starts_with("event: ")) e.type = line.substr(7);
      if (line.starts_with("data: ")) e.data = Json::parse(line.substr(6));
    }
    out.push_back(std::move(e));
  }
  return out;
}

class ServeTest : public testing::ServeWorkspaceTest {
 protected:
  ServeTest() : ServeWorkspaceTest(kCloudToken) {}

  // A session of the skill without its target: it waits for the answer.
  std::string waiting_session() const {
    auto r = post("alice", "/v1/sessions",
                  {{"goal", "Cut our monthly cloud spend without touching production"}});
    EXPECT_TRUE(r);
    if (!r || r->status != 201) return "";
    std::string id = Json::parse(r->body)["id"];
    return finishes(id, "waiting") ? id : "";
  }

  // Starts a session of one read (the bill): nobody is asked anything.
  std::string run_reads() const {
    Plan reads;
    reads.goal = "look at the bill";
    Step bill;
    bill.id = "bill";
    bill.action = "cloud.get_bill";
    reads.steps.push_back(bill);
    auto r = post("alice", "/v1/sessions", {{"plan", to_json(reads)}});
    EXPECT_TRUE(r);
    if (!r) return "";
    EXPECT_EQ(r->status, 201) << r->body;
    return Json::parse(r->body).value("id", std::string());
  }

  // The one pending approval of `session` once it is asked.
  Json pending_approval(const std::string& session) const {
    Json found;
    bool ok = eventually([&] {
      Json list = api_get("vic", "/v1/approvals");
      for (const Json& a : list["approvals"]) {
        if (a["session"] == session) found = a;
      }
      return found.is_object();
    });
    EXPECT_TRUE(ok) << "no approval for " << session << ": "
                    << api_get("vic", "/v1/sessions/" + session).dump();
    return found;
  }

  std::string status(const std::string& session) const {
    return api_get("vic", "/v1/sessions/" + session).value("status", std::string());
  }

  bool finishes(const std::string& session, const std::string& expected = "done") const {
    return eventually([&] {
      Json s = api_get("vic", "/v1/sessions/" + session);
      return s.value("status", std::string()) == expected && !s.value("busy", true);
    });
  }

  httplib::Result decide(const std::string& who, const Json& approval,
                         const std::string& decision = "approve",
                         const std::string& hash = "") const {
    return post(who, "/v1/approvals/" + approval["id"].get<std::string>(),
                {{"decision", decision},
                 {"reason", "checked the reservation"},
                 {"hash", hash.empty() ? approval["hash"].get<std::string>() : hash}});
  }
};

TEST_F(ServeTest, ApprovingTheShownActionFinishesTheSession) {
  start_server();
  std::string id = create("alice");
  ASSERT_FALSE(id.empty());
  Json approval = pending_approval(id);
  ASSERT_TRUE(approval.is_object());
  EXPECT_EQ(approval["action"], "cloud.purchase_reservation");
  EXPECT_EQ(approval["effect"], "irreversible");
  EXPECT_EQ(approval["step"], "reserve");
  // The hash is of the exact action shown.
  EXPECT_EQ(approval["hash"], sha256_hex(canonical_json({{"session", id},
                                                         {"step", approval["step"]},
                                                         {"action", approval["action"]},
                                                         {"args", approval["args"]}})));
  Json session = api_get("vic", "/v1/sessions/" + id);
  EXPECT_EQ(session["status"], "running");
  ASSERT_EQ(session["approvals"].size(), 1u);
  EXPECT_EQ(session["steps"]["stop"]["state"], "done");

  // An altered action: 409, and it is still pending.
  Json altered = approval;
  altered["args"]["count"] = 99;
  std::string altered_hash = sha256_hex(canonical_json({{"session", id},
                                                        {"step", "reserve"},
                                                        {"action", altered["action"]},
                                                        {"args", altered["args"]}}));
  auto r = decide("bob", approval, "approve", altered_hash);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 409) << r->body;
  EXPECT_EQ(api_get("vic", "/v1/approvals")["approvals"].size(), 1u);

  // An operator cannot approve.
  r = decide("alice", approval);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 403) << r->body;
  EXPECT_EQ(api_get("vic", "/v1/approvals")["approvals"].size(), 1u);

  r = decide("bob", approval);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  ASSERT_TRUE(finishes(id)) << api_get("vic", "/v1/sessions/" + id).dump();
  EXPECT_EQ(api_get("vic", "/v1/approvals")["approvals"].size(), 0u);
  Json done = api_get("vic", "/v1/sessions/" + id);
  EXPECT_EQ(done["report"]["approvals_granted"], 1);
  // The live metrics, counted from the journal, agree with the report.
  EXPECT_EQ(done["metrics"]["actions"], done["report"]["actions"]) << done.dump();
  EXPECT_EQ(done["metrics"]["approvals_asked"], 1);
  EXPECT_EQ(done["metrics"]["approvals_granted"], 1);
  EXPECT_EQ(done["metrics"]["denials"], 0);
  EXPECT_EQ(done["metrics"]["events"], done["events"]);
  EXPECT_GE(done["metrics"]["duration_ms"].get<int64_t>(), 0);

  // The decision is journaled with who and why, and the chain verifies.
  expect_one_approval(id, "bob", "checked the reservation");
}

// With a model configured, a goal no skill fits is planned by the model, and
// nothing runs until someone posts the plan back.
TEST_F(ServeTest, AGoalNoSkillFitsIsPlannedByTheModelAndRunsOnlyWhenPostedBack) {
  testing::ModelStandIn model({kCloudToken});
  testing::ModelReply reply;
  reply.content = R"({"steps": [{"id": "bill", "do": "cloud.get_bill"}]})";
  model.add(reply);
  std::ofstream(workspace_ + "/ergon.yaml", std::ios::app)
      << "\nmodel:\n  base_url: " << model.base_url() << "\n  model: stand-in\n"
      << "  max_retries: 0\n";
  start_server();

  auto planned = post("alice", "/v1/sessions", {{"goal", "Show me this month's invoice total"}});
  ASSERT_TRUE(planned);
  ASSERT_EQ(planned->status, 200) << planned->body;
  Json answer = Json::parse(planned->body);
  EXPECT_EQ(answer["planner"], "model");
  ASSERT_EQ(answer["plan"]["steps"].size(), 1u) << answer.dump();
  EXPECT_TRUE(api_get("vic", "/v1/sessions")["sessions"].empty())
      << "nothing runs before the plan is posted";

  auto run = post("alice", "/v1/sessions", {{"plan", answer["plan"]}});
  ASSERT_TRUE(run);
  ASSERT_EQ(run->status, 201) << run->body;
  EXPECT_TRUE(finishes(Json::parse(run->body)["id"]));
  EXPECT_EQ(model.requests().size(), 1u);
  EXPECT_TRUE(model.leaks().empty());
}

TEST_F(ServeTest, TokensAndRoles) {
  start_server();
  auto r = client("").Get("/v1/sessions");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);
  httplib::Client forged("127.0.0.1", server_->port());
  forged.set_bearer_token_auth("ergon_not-a-token");
  r = forged.Get("/v1/approvals");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);
  r = post("vic", "/v1/sessions", {{"goal", kGoal}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 403) << r->body;
  r = client("vic").Get("/metrics");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  r = post("alice", "/v1/sessions", {{"goal", "paint the office green"}});
  ASSERT_TRUE(r);
  EXPECT_GE(r->status, 400) << r->body;  // no skill fits: a clear error, no session
  r = post("alice", "/v1/sessions", {{"neither", 1}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  // Tokens are stored hashed only.
  std::string file = testing::read_file(default_tokens_path(workspace_));
  EXPECT_EQ(file.find(secrets_["bob"]), std::string::npos);
  EXPECT_NE(file.find(sha256_hex(secrets_["bob"])), std::string::npos);
}

TEST_F(ServeTest, FourEyesKeepsTheCreatorFromApprovingItsIrreversibleAction) {
  start_server(/*four_eyes=*/true);
  std::string id = create("carol");  // an admin may create and approve, but not both here
  Json approval = pending_approval(id);
  ASSERT_TRUE(approval.is_object());
  auto r = decide("carol", approval);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 403) << r->body;
  EXPECT_NE(r->body.find("four eyes"), std::string::npos);
  r = decide("bob", approval);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  EXPECT_TRUE(finishes(id));
}

TEST_F(ServeTest, FourEyesCanBeThePolicysRule) {
  {
    std::ifstream in(workspace_ + "/policy.yaml");
    std::stringstream text;
    text << in.rdbuf();
    std::ofstream(workspace_ + "/policy.yaml") << "four_eyes: true\n" << text.str();
  }
  start_server();
  std::string id = create("carol");
  Json approval = pending_approval(id);
  ASSERT_TRUE(approval.is_object());
  EXPECT_EQ(approval["four_eyes"], true);
  EXPECT_EQ(approval["creator"], "carol");
  EXPECT_EQ(approval["goal"], kGoal);
  auto r = decide("carol", approval);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 403) << r->body;
  r = decide("bob", approval);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  EXPECT_TRUE(finishes(id));
}

TEST_F(ServeTest, WithoutFourEyesTheCreatorMayApprove) {
  start_server();
  std::string id = create("carol");
  Json approval = pending_approval(id);
  ASSERT_TRUE(approval.is_object());
  EXPECT_EQ(approval["four_eyes"], false);
  auto r = decide("carol", approval);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  EXPECT_TRUE(finishes(id));
}

TEST_F(ServeTest, TheConsoleLogsInWithACookieAndEveryPostNeedsItsCsrfToken) {
  start_server();
  httplib::Client c("127.0.0.1", server_->port());
  auto page = c.Get("/console/");
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 200);
  EXPECT_NE(page->get_header_value("Content-Type").find("text/html"), std::string::npos);
  std::string csp = page->get_header_value("Content-Security-Policy");
  EXPECT_NE(csp.find("default-src 'none'"), std::string::npos) << csp;
  EXPECT_NE(csp.find("script-src 'self'"), std::string::npos) << csp;
  EXPECT_EQ(csp.find("unsafe"), std::string::npos) << csp;
  EXPECT_EQ(c.Get("/console/nothing-here.js")->status, 404);
  EXPECT_EQ(c.Get("/")->status, 302);

  auto r = c.Post("/v1/login", Json{{"token", "not-a-token"}}.dump(), "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);
  EXPECT_FALSE(r->has_header("Set-Cookie"));
  r = c.Post("/v1/login", Json{{"token", secrets_["bob"]}}.dump(), "application/json");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  Json login = Json::parse(r->body);
  EXPECT_EQ(login["name"], "bob");
  EXPECT_EQ(login["role"], "approver");
  std::string set_cookie = r->get_header_value("Set-Cookie");
  EXPECT_NE(set_cookie.find("HttpOnly"), std::string::npos) << set_cookie;
  EXPECT_NE(set_cookie.find("SameSite=Strict"), std::string::npos) << set_cookie;
  std::string cookie = set_cookie.substr(0, set_cookie.find(';'));
  EXPECT_EQ(r->body.find(secrets_["bob"]), std::string::npos);

  std::string id = create("alice");
  Json approval = pending_approval(id);
  ASSERT_TRUE(approval.is_object());
  httplib::Headers with_cookie = {{"Cookie", cookie}};
  auto who = c.Get("/v1/whoami", with_cookie);
  ASSERT_TRUE(who);
  ASSERT_EQ(who->status, 200) << who->body;
  EXPECT_EQ(Json::parse(who->body)["csrf"], login["csrf"]);
  EXPECT_EQ(c.Get("/v1/approvals", with_cookie)->status, 200);

  std::string path = "/v1/approvals/" + approval["id"].get<std::string>();
  std::string body =
      Json{{"decision", "approve"}, {"reason", "ok"}, {"hash", approval["hash"]}}.dump();
  // No CSRF token, a wrong one, or another site's page: refused.
  r = c.Post(path, with_cookie, body, "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 403) << r->body;
  EXPECT_NE(r->body.find("CSRF"), std::string::npos);
  r = c.Post(path, {{"Cookie", cookie}, {"X-CSRF-Token", "0000"}}, body, "application/json");
  EXPECT_EQ(r->status, 403);
  httplib::Headers csrf = {{"Cookie", cookie}, {"X-CSRF-Token", login["csrf"]}};
  httplib::Headers foreign = csrf;
  foreign.emplace("Origin", "http://evil.example");
  EXPECT_EQ(c.Post(path, foreign, body, "application/json")->status, 403);
  EXPECT_EQ(api_get("vic", "/v1/approvals")["approvals"].size(), 1u);
  // The same host through a TLS proxy is this server: past the checks (the
  // approval id is unknown).
  httplib::Headers proxied = csrf;
  proxied.emplace("Origin", "https://127.0.0.1:" + std::to_string(server_->port()));
  EXPECT_EQ(c.Post("/v1/approvals/a-unknown", proxied, body, "application/json")->status, 404);
  r = c.Post(path, csrf, body, "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  EXPECT_TRUE(finishes(id));

  EXPECT_EQ(c.Post("/v1/logout", csrf, "", "application/json")->status, 200);
  EXPECT_EQ(c.Get("/v1/whoami", with_cookie)->status, 401);
}

TEST_F(ServeTest, ATokenAddedWhileServingWorksAtOnce) {
  start_server();
  auto secret = add_token(default_tokens_path(workspace_), "dave", Role::kViewer, 0);
  ASSERT_TRUE(secret) << secret.error().message;
  // The file's time may not move within its clock's resolution; a new
  // write does.
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  httplib::Client c("127.0.0.1", server_->port());
  c.set_bearer_token_auth(*secret);
  auto r = c.Get("/v1/sessions");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
}

TEST_F(ServeTest, CancellingAWaitingSessionEndsItThroughTheEngine) {
  start_server();
  std::string id = waiting_session();
  ASSERT_FALSE(id.empty());
  Json session = api_get("vic", "/v1/sessions/" + id);
  ASSERT_EQ(session["questions"].size(), 1u) << session.dump();
  auto r = post("alice", "/v1/sessions/" + id + "/cancel", Json::object());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 202) << r->body;
  ASSERT_TRUE(finishes(id, "aborted"));
  session = api_get("vic", "/v1/sessions/" + id);
  EXPECT_EQ(session["error"], "cancelled by alice") << session.dump();
  Json audit = api_get("vic", "/v1/sessions/" + id + "/audit");
  EXPECT_EQ(audit["chain"]["ok"], true);
  EXPECT_EQ(audit["events"].back()["type"], "session_ended");
  // The journal says who the session acts for: the token that created it.
  EXPECT_EQ(audit["events"][0]["type"], "session_started");
  EXPECT_EQ(audit["events"][0]["data"]["principal"], "alice");
  EXPECT_EQ(audit["events"][0]["data"]["roles"], Json::array({"operator"}));
  r = post("alice", "/v1/sessions/" + id + "/cancel", Json::object());
  EXPECT_EQ(r->status, 409);
}

TEST_F(ServeTest, APlanQueuedBehindABusyWorkerSurvivesARestart) {
  ServerOptions options;
  options.workspace_dir = workspace_;
  options.workers = 1;
  server_ = std::make_unique<Server>(options);
  ASSERT_TRUE(server_->start());
  std::string first = create("alice");
  ASSERT_TRUE(pending_approval(first).is_object());  // the one worker waits on it
  std::string second = create("alice");
  EXPECT_EQ(status(second), "queued");
  server_->stop();

  server_ = std::make_unique<Server>(options);
  ASSERT_TRUE(server_->start());
  Json approval = pending_approval(first);
  ASSERT_TRUE(approval.is_object());
  ASSERT_EQ(decide("bob", approval)->status, 200);
  ASSERT_TRUE(finishes(first));
  // The second one was not lost: it runs now, and asks for its own
  // approvals (as many reservations as its pick chose). It may fail its
  // check: the first session already cut the fleet.
  EXPECT_TRUE(pending_approval(second).is_object());
  EXPECT_TRUE(eventually([&] {
    Json list = api_get("vic", "/v1/approvals");
    for (const Json& a : list["approvals"]) {
      if (a["session"] == second) decide("bob", a);
    }
    Json s = api_get("vic", "/v1/sessions/" + second);
    std::string state = s.value("status", std::string());
    return !s.value("busy", true) && (state == "done" || state == "failed" || state == "aborted");
  })) << api_get("vic", "/v1/sessions/" + second).dump();
  EXPECT_EQ(api_get("vic", "/v1/sessions/" + second)["goal"], kGoal)
      << api_get("vic", "/v1/sessions/" + second).dump();
}

TEST_F(ServeTest, ASessionMayNameItsWorkspaceButOnlyTheOneServed) {
  start_server();
  auto r = post("alice", "/v1/sessions", {{"goal", kGoal}, {"workspace", "/somewhere/else"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400) << r->body;
  EXPECT_NE(r->body.find("this server serves"), std::string::npos) << r->body;
  EXPECT_TRUE(api_get("vic", "/v1/sessions")["sessions"].empty());
  for (const std::string& name :
       {workspace_, std::filesystem::path(workspace_).filename().string()}) {
    r = post("alice", "/v1/sessions", {{"goal", kGoal}, {"workspace", name}});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 201) << name << ": " << r->body;
  }
}

TEST_F(ServeTest, APolicyDenialShowsInTheSessionsMetricsAndStats) {
  start_server();
  Plan plan;
  plan.goal = "stop a production instance";
  Step stop;
  stop.id = "stop";
  stop.action = "cloud.stop_instance";
  stop.with = {{"id", "i-0a1b2c"}, {"env", "prod"}};
  plan.steps.push_back(stop);
  auto r = post("alice", "/v1/sessions", {{"plan", to_json(plan)}});
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 201) << r->body;
  std::string id = Json::parse(r->body)["id"];
  ASSERT_TRUE(eventually([&] {
    Json s = api_get("vic", "/v1/sessions/" + id);
    return !s.value("busy", true) && s.value("status", std::string()) != "running";
  }));
  Json session = api_get("vic", "/v1/sessions/" + id);
  EXPECT_NE(session["status"], "done");
  EXPECT_EQ(session["metrics"]["denials"], 1) << session.dump();
  EXPECT_EQ(session["metrics"]["actions"], 0);
  EXPECT_NE(session.value("error", std::string()).find("production"), std::string::npos)
      << session.dump();
  Json stats = api_get("vic", "/v1/stats");
  ASSERT_EQ(stats["errors"].size(), 1u) << stats.dump();
  EXPECT_EQ(stats["errors"][0]["session"], id);
  EXPECT_EQ(stats["zero_intervention"], 0);
}

TEST_F(ServeTest, TwoAnswersAtOnceResumeTheSessionOnce) {
  start_server();
  std::string id = waiting_session();
  ASSERT_FALSE(id.empty());
  // Only what it asked can be answered.
  for (const Json& bad : {Json{{"instance", "i-0a1b2c"}}, Json{{"target_pct", Json::array()}}}) {
    auto answer = post("alice", "/v1/sessions/" + id + "/answers", bad);
    ASSERT_TRUE(answer);
    EXPECT_EQ(answer->status, 400) << bad.dump() << ": " << answer->body;
  }
  EXPECT_EQ(status(id), "waiting");
  std::vector<int> statuses(4, 0);
  std::vector<std::thread> people;
  for (size_t i = 0; i < statuses.size(); ++i) {
    people.emplace_back([&, i] {
      auto answer = post("alice", "/v1/sessions/" + id + "/answers", {{"target_pct", "15%"}});
      statuses[i] = answer ? answer->status : -1;
    });
  }
  for (auto& t : people) t.join();
  EXPECT_EQ(std::count(statuses.begin(), statuses.end(), 202), 1);
  EXPECT_EQ(std::count(statuses.begin(), statuses.end(), 409), 3);
  ASSERT_TRUE(pending_approval(id).is_object());
  Json audit = api_get("vic", "/v1/sessions/" + id + "/audit");
  int answers = 0;
  for (const Json& e : audit["events"]) answers += e["type"] == "answer" ? 1 : 0;
  EXPECT_EQ(answers, 1);
}

TEST_F(ServeTest, ADecisionOfTheWrongTypeIsABadRequest) {
  start_server();
  std::string id = create("alice");
  Json approval = pending_approval(id);
  ASSERT_TRUE(approval.is_object());
  for (const Json& body : {Json{{"decision", 1}, {"hash", approval["hash"]}},
                           Json{{"decision", "approve"}, {"reason", nullptr}, {"hash", "x"}},
                           Json{{"decision", "approve"}, {"hash", 7}}, Json::array()}) {
    auto d = post("bob", "/v1/approvals/" + approval["id"].get<std::string>(), body);
    ASSERT_TRUE(d);
    EXPECT_EQ(d->status, 400) << body.dump() << ": " << d->body;
  }
  EXPECT_EQ(api_get("vic", "/v1/approvals")["approvals"].size(), 1u);
}

TEST_F(ServeTest, OneWorkspaceHasOneServer) {
  start_server();
  ServerOptions options;
  options.workspace_dir = workspace_;
  Server second(options);
  auto started = second.start();
  ASSERT_FALSE(started);
  EXPECT_NE(started.error().message.find("another ergon serve"), std::string::npos)
      << started.error().message;
  server_->stop();
  EXPECT_TRUE(second.start()) << "the lock goes with the server that held it";
}

TEST_F(ServeTest, EventStreamsCannotTakeEveryHttpThread) {
  start_server();
  std::string id = create("alice");
  ASSERT_TRUE(pending_approval(id).is_object());  // its stream stays open
  std::atomic<int> open = 0;
  std::vector<std::thread> watchers;
  for (int i = 0; i < 24; ++i) {
    watchers.emplace_back([&] {
      auto c = client("vic");
      bool counted = false;
      c.Get(("/v1/sessions/" + id + "/events").c_str(), [&](const char*, size_t) {
        if (!counted) ++open;
        counted = true;
        return true;
      });
    });
  }
  ASSERT_TRUE(eventually([&] { return open == 24; }));
  auto r = client("vic").Get(("/v1/sessions/" + id + "/events").c_str());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503) << r->body;
  // The API still answers, and a person can still approve.
  Json approval = pending_approval(id);
  ASSERT_EQ(decide("bob", approval)->status, 200);
  for (auto& t : watchers) t.join();  // the streams end with the session
  EXPECT_TRUE(finishes(id));
  r = client("vic").Get(("/v1/sessions/" + id + "/events").c_str());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << "a closed stream gives its place back";
}

TEST_F(ServeTest, TheSessionListFiltersAndPages) {
  start_server();
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) {
    ids.push_back(run_reads());
    ASSERT_TRUE(finishes(ids.back()));
  }
  Json page = api_get("vic", "/v1/sessions?limit=2");
  ASSERT_EQ(page["sessions"].size(), 2u) << page.dump();
  EXPECT_EQ(page["total"], 3);
  Json rest = api_get("vic", "/v1/sessions?limit=2&offset=2");
  ASSERT_EQ(rest["sessions"].size(), 1u);
  std::set<std::string> seen;
  for (const Json& list : {page, rest}) {
    for (const Json& row : list["sessions"]) seen.insert(row["id"].get<std::string>());
  }
  EXPECT_EQ(seen, std::set<std::string>(ids.begin(), ids.end()));
  EXPECT_EQ(api_get("vic", "/v1/sessions?status=done,failed")["total"], 3);
  EXPECT_EQ(api_get("vic", "/v1/sessions?status=waiting")["sessions"].size(), 0u);
  for (const char* bad :
       {"/v1/sessions?status=finished", "/v1/sessions?limit=-1", "/v1/sessions?offset=ten"}) {
    auto r = client("vic").Get(bad);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400) << bad << ": " << r->body;
  }
}

TEST_F(ServeTest, StatsCountWhatRanWithoutAPerson) {
  start_server();
  Json empty = api_get("vic", "/v1/stats");
  EXPECT_EQ(empty["finished"], 0);
  EXPECT_EQ(empty["approvals_per_task"], 0.0);
  std::string id = create("alice");
  Json approval = pending_approval(id);
  ASSERT_TRUE(approval.is_object());
  ASSERT_EQ(decide("bob", approval)->status, 200);
  ASSERT_TRUE(finishes(id));
  // A plan of reads alone needs nobody.
  std::string quiet = run_reads();
  ASSERT_TRUE(finishes(quiet));
  Json stats = api_get("vic", "/v1/stats");
  EXPECT_EQ(stats["finished"], 2);
  EXPECT_EQ(stats["by_status"]["done"], 2);
  EXPECT_EQ(stats["zero_intervention"], 1);
  EXPECT_EQ(stats["approvals"], 1);
  EXPECT_DOUBLE_EQ(stats["approvals_per_task"].get<double>(), 0.5);
  EXPECT_TRUE(stats["errors"].empty());
}

TEST_F(ServeTest, EventsStreamIsResumableWithLastEventId) {
  start_server();
  std::string id = create("alice");
  Json approval = pending_approval(id);
  ASSERT_TRUE(approval.is_object());
  int64_t journaled = api_get("vic", "/v1/sessions/" + id)["events"].get<int64_t>();
  ASSERT_GT(journaled, 0);

  // Read what is there so far, then hang up (the stream stays open while
  // the session waits for the approval).
  std::string buffer;
  std::vector<Sse> first;
  auto c = client("vic");
  c.Get(("/v1/sessions/" + id + "/events").c_str(), [&](const char* data, size_t size) {
    buffer.append(data, size);
    for (Sse& e : parse_sse(buffer)) first.push_back(std::move(e));
    return static_cast<int64_t>(first.size()) < journaled;
  });
  ASSERT_EQ(static_cast<int64_t>(first.size()), journaled);
  for (size_t i = 0; i < first.size(); ++i) EXPECT_EQ(first[i].id, static_cast<int64_t>(i + 1));
  EXPECT_EQ(first.front().type, "session_started");
  EXPECT_EQ(first.front().data["hash"].get<std::string>().size(), 64u);

  auto r = decide("bob", approval);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200);

  // Reconnect where we left off: only the later events, until the session ends.
  std::vector<Sse> later;
  buffer.clear();
  httplib::Headers headers = {{"Last-Event-ID", std::to_string(first.back().id)}};
  auto streamed = c.Get(("/v1/sessions/" + id + "/events").c_str(), headers,
                        [&](const char* data, size_t size) {
                          buffer.append(data, size);
                          for (Sse& e : parse_sse(buffer)) later.push_back(std::move(e));
                          return true;
                        });
  ASSERT_TRUE(streamed);
  ASSERT_FALSE(later.empty());
  EXPECT_EQ(later.front().id, first.back().id + 1);
  EXPECT_EQ(later.front().type, "approval");
  EXPECT_EQ(later.back().type, "session_ended");
  for (size_t i = 1; i < later.size(); ++i) EXPECT_EQ(later[i].id, later[i - 1].id + 1);
  EXPECT_EQ(status(id), "done");
}

TEST_F(ServeTest, MetricsFollowTheEngine) {
  start_server();
  std::string id = create("alice");
  Json approval = pending_approval(id);
  ASSERT_TRUE(approval.is_object());
  auto text = [&] {
    auto r = client("vic").Get("/metrics");
    EXPECT_TRUE(r);
    return r ? r->body : std::string();
  };
  std::string waiting = text();
  EXPECT_NE(waiting.find("ergon_approvals_pending 1\n"), std::string::npos) << waiting;
  EXPECT_NE(waiting.find("ergon_sessions{state=\"running\"} 1\n"), std::string::npos) << waiting;
  ASSERT_EQ(decide("bob", approval)->status, 200);
  ASSERT_TRUE(finishes(id));
  std::string done = text();
  for (const char* series :
       {"ergon_sessions{state=\"done\"} 1\n", "ergon_approvals_pending 0\n",
        "ergon_guard_decisions_total{verdict=\"ask\"} 1\n", "ergon_approval_wait_seconds_count 1\n",
        "ergon_action_latency_seconds_bucket{le=\"+Inf\"}",
        "ergon_model_tokens_total{kind=\"prompt\"} 0\n", "ergon_steps_total{state=\"done\"}"}) {
    EXPECT_NE(done.find(series), std::string::npos) << series << "\n" << done;
  }
  // Every step of the session was counted, and every action's latency.
  Json report = api_get("vic", "/v1/sessions/" + id)["report"];
  std::string actions =
      "ergon_action_latency_seconds_count " + std::to_string(report["actions"].get<int>()) + "\n";
  EXPECT_NE(done.find(actions), std::string::npos) << actions << done;
  EXPECT_EQ(done.find("ergon_guard_decisions_total{verdict=\"allow\"} 0\n"), std::string::npos);
}

TEST_F(ServeTest, APendingApprovalSurvivesARestart) {
  start_server();
  std::string id = create("alice");
  Json approval = pending_approval(id);
  ASSERT_TRUE(approval.is_object());
  server_->stop();
  server_.reset();

  start_server();
  Json again = pending_approval(id);
  ASSERT_TRUE(again.is_object());
  EXPECT_EQ(again["hash"], approval["hash"]);  // the same action, asked again
  // The first server's approval id is gone with it.
  auto stale = decide("bob", approval);
  ASSERT_TRUE(stale);
  EXPECT_EQ(stale->status, 404);
  auto r = decide("bob", again);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  ASSERT_TRUE(finishes(id)) << api_get("vic", "/v1/sessions/" + id).dump();
  // Bought once, steps before the approval not repeated.
  Json reservations = CloudWorkspaceTest::get("/v1/reservations");
  EXPECT_EQ(reservations["reservations"].size(), 1u) << reservations.dump();
  Json audit = api_get("vic", "/v1/sessions/" + id + "/audit");
  EXPECT_TRUE(audit["chain"]["ok"].get<bool>());
  int stops = 0;
  for (const Json& e : audit["events"]) {
    if (e["type"] == "action_started" && e["data"]["action"] == "cloud.stop_instance") ++stops;
  }
  Json report = api_get("vic", "/v1/sessions/" + id)["report"];
  EXPECT_GT(stops, 0);
  EXPECT_EQ(report["steps"]["stop"]["state"], "done");
}

TEST_F(ServeTest, CancelDeniesThePendingApprovalAndCompensates) {
  start_server();
  std::string id = create("alice");
  Json approval = pending_approval(id);
  ASSERT_TRUE(approval.is_object());
  auto r = post("vic", "/v1/sessions/" + id + "/cancel", Json::object());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 403);
  r = post("alice", "/v1/sessions/" + id + "/cancel", Json::object());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 202) << r->body;
  ASSERT_TRUE(finishes(id, "aborted")) << api_get("vic", "/v1/sessions/" + id).dump();
  Json audit = api_get("vic", "/v1/sessions/" + id + "/audit");
  bool denied = false, compensated = false;
  for (const Json& e : audit["events"]) {
    if (e["type"] == "approval") {
      denied = !e["data"]["approved"].get<bool>() && e["data"]["by"] == "alice";
    }
    if (e["type"] == "compensation") compensated = true;
  }
  EXPECT_TRUE(denied);
  EXPECT_TRUE(compensated);
}

TEST_F(ServeTest, RequestsOverTheSizeLimitAreRefused) {
  start_server();
  Json body = {{"goal", std::string(2 << 20, 'x')}};
  auto r = post("alice", "/v1/sessions", body);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
}

}  // namespace
}  // namespace ergon
