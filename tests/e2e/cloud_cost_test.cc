// End to end: the real ergon binary against the real acme-cloud sample service,
// with a real SQLite journal. Each test runs in its own copy of the example
// workspace and its own service on a free port.
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>
#include <sqlite3.h>

#include <filesystem>
#include <map>
#include <regex>
#include <thread>

#include "ergon/json.h"
#include "support/cloud_workspace.h"
#include "support/process.h"

namespace ergon {
namespace {

using testing::bin;
using testing::Child;
using testing::RunOptions;
using testing::RunResult;

constexpr const char* kGoal = "Cut our monthly cloud spend by 15% without touching production";
constexpr const char* kToken = "test-token-5f1d2c9a";

class CloudCostTest : public testing::CloudWorkspaceTest {
 protected:
  CloudCostTest() : CloudWorkspaceTest(kToken) {}

  RunOptions options(const std::string& input = "") const {
    RunOptions o = cloud_options();
    o.input = input;
    return o;
  }

  RunResult ergon(std::vector<std::string> args, const std::string& input = "") const {
    args.insert(args.begin(), {bin("ergon"), "-w", workspace_});
    return testing::run(args, options(input));
  }

  void post(const std::string& path, const Json& body) const {
    httplib::Client client(cloud_.url());
    auto response = client.Post(path.c_str(), body.dump(), "application/json");
    ASSERT_TRUE(response);
    ASSERT_LT(response->status, 300) << response->body;
  }

  double bill() const { return get("/v1/bill")["projected_monthly"].get<double>(); }

  // id -> "size/state" of every instance of the given env ("" for all).
  std::map<std::string, std::string> instances(const std::string& env = "") const {
    std::map<std::string, std::string> out;
    Json list = get("/v1/instances");
    for (const Json& i : list["instances"]) {
      if (env.empty() || i["tags"]["env"] == env) {
        out[i["id"].get<std::string>()] =
            i["size"].get<std::string>() + "/" + i["state"].get<std::string>();
      }
    }
    return out;
  }

  // Non-GET requests the service received, in order.
  std::vector<Json> calls() const {
    std::vector<Json> out;
    Json log = get("/_control/calls");
    for (const Json& c : log["calls"]) out.push_back(c);
    return out;
  }

  static std::string session_of(const std::string& output) {
    std::smatch m;
    std::regex re("Session (s-[0-9a-f]+)");
    return std::regex_search(output, m, re) ? m[1].str() : "";
  }

  std::string write_plan(const Json& steps) const {
    Json plan = {{"goal", "hand-written plan"}, {"steps", steps}};
    std::string path = dir_.file("plan.json");
    testing::write_file(path, plan.dump(2));
    return path;
  }
};

TEST_F(CloudCostTest, HappyPathMeetsTargetWithoutTouchingProduction) {
  double before = bill();
  auto prod_before = instances("prod");
  RunResult r = ergon({"run", "--yes", kGoal});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find(": done"), std::string::npos) << r.out;
  double after = bill();
  EXPECT_LE(after, before * 0.85 + 0.01) << before << " -> " << after;
  EXPECT_EQ(instances("prod"), prod_before);
  // The irreversible purchase happened once, approved, with an idempotency key.
  Json reservations = get("/v1/reservations")["reservations"];
  EXPECT_GE(reservations.size(), 1u);
  std::string session = session_of(r.out);
  ASSERT_FALSE(session.empty()) << r.out;
  RunResult audit = ergon({"audit", "verify", session});
  EXPECT_EQ(audit.exit_code, 0) << audit.out << audit.err;
  RunResult show = ergon({"show", session});
  EXPECT_EQ(show.exit_code, 0);
  EXPECT_NE(show.out.find("intent"), std::string::npos) << show.out;
  EXPECT_NE(show.out.find("done"), std::string::npos);
  // The bearer token never reaches the journal or the output.
  EXPECT_EQ(r.out.find(kToken), std::string::npos);
  EXPECT_EQ(show.out.find(kToken), std::string::npos);
  RunResult raw = ergon({"show", "--json", session});
  EXPECT_EQ(raw.out.find(kToken), std::string::npos);
}

TEST_F(CloudCostTest, TenPercentNeedsNoIrreversibleAction) {
  RunResult r = ergon({"run", "--yes", "reduce cloud costs by 10%"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_TRUE(get("/v1/reservations")["reservations"].empty());
}

TEST_F(CloudCostTest, MissingSlotBecomesAQuestionThenResumes) {
  RunResult plan = ergon({"plan", "Cut our cloud spend without touching production"});
  ASSERT_EQ(plan.exit_code, 0) << plan.err;
  EXPECT_NE(plan.out.find("By how much should monthly spend drop"), std::string::npos) << plan.out;

  RunResult run = ergon({"run", "--yes", "Cut our cloud spend without touching production"});
  EXPECT_EQ(run.exit_code, 3) << run.out << run.err;  // waiting for a person
  EXPECT_TRUE(calls().empty()) << "nothing may happen before the question is answered";
  std::string session = session_of(run.out);
  ASSERT_FALSE(session.empty()) << run.out;

  RunResult resumed = ergon({"resume", session, "--yes", "--slot", "target_pct=15%"});
  EXPECT_EQ(resumed.exit_code, 0) << resumed.out << resumed.err;
}

TEST_F(CloudCostTest, PlanAnswersQuestionFromTerminalInput) {
  RunResult r = ergon({"run", "--approver", "terminal", "Cut our cloud spend"}, "12%\ny\n");
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("By how much"), std::string::npos);
}

TEST_F(CloudCostTest, PolicyForbidsTouchingProduction) {
  auto prod = instances("prod");
  ASSERT_FALSE(prod.empty());
  std::string id = prod.begin()->first;
  std::string plan = write_plan(Json::array({{{"id", "stop_prod"},
                                              {"do", "cloud.stop_instance"},
                                              {"with", {{"id", id}, {"env", "prod"}}}}}));
  RunResult r = ergon({"run", "--yes", "--plan", plan});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("policy guard denied cloud.stop_instance"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("production instances are never touched"), std::string::npos) << r.out;
  EXPECT_EQ(instances("prod"), prod);
  EXPECT_TRUE(calls().empty());
}

TEST_F(CloudCostTest, DeniedApprovalLeavesNothingHalfDone) {
  auto before = instances();
  double bill_before = bill();
  // No terminal and no --yes: the reservation's approval is denied.
  RunResult r = ergon({"run", kGoal});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("aborted"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("no terminal to ask"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("[undo]"), std::string::npos) << r.out;
  EXPECT_EQ(instances(), before);
  EXPECT_NEAR(bill(), bill_before, 0.01);
  EXPECT_TRUE(get("/v1/reservations")["reservations"].empty());
}

TEST_F(CloudCostTest, TerminalApprovalNoAborts) {
  auto before = instances();
  RunResult r = ergon({"run", "--approver", "terminal", kGoal}, "n\n");
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("Approve?"), std::string::npos) << r.out;
  EXPECT_EQ(instances(), before);
}

TEST_F(CloudCostTest, ServiceUnavailableIsRetried) {
  post("/_control/faults",
       {{"method", "POST"}, {"path_prefix", "/v1/instances"}, {"status", 503}, {"count", 1}});
  RunResult r = ergon({"run", "--yes", kGoal});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  std::vector<Json> log = calls();
  ASSERT_GE(log.size(), 2u);
  EXPECT_EQ(log[0]["status"], 503);
  EXPECT_EQ(log[1]["path"], log[0]["path"]) << "the same call is sent again";
  EXPECT_EQ(log[1]["status"], 200);
  EXPECT_NE(r.out.find("retries 1"), std::string::npos) << r.out;
}

TEST_F(CloudCostTest, BadRequestIsNotRetriedAndExplained) {
  // Valid for the schema, refused by the service: resizing across families.
  Json list = get("/v1/instances");
  Json target;
  for (const Json& i : list["instances"]) {
    if (i["tags"]["env"] != "prod" && i["size"].get<std::string>().starts_with("m5.")) target = i;
  }
  ASSERT_TRUE(target.is_object());
  std::string plan = write_plan(Json::array({{{"id", "grow"},
                                              {"do", "cloud.resize_instance"},
                                              {"on_fail", "retry"},
                                              {"with",
                                               {{"id", target["id"]},
                                                {"env", target["tags"]["env"]},
                                                {"size", "c5.large"},
                                                {"from_size", target["size"]}}}}}));
  RunResult r = ergon({"run", "--yes", "--plan", plan});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("HTTP 400"), std::string::npos) << r.out;
  std::vector<Json> log = calls();
  ASSERT_EQ(log.size(), 1u) << "a 400 is never retried";
  EXPECT_EQ(log[0]["status"], 400);
}

TEST_F(CloudCostTest, TamperedJournalFailsAudit) {
  RunResult r = ergon({"run", "--yes", "reduce cloud costs by 10%"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  std::string session = session_of(r.out);
  ASSERT_EQ(ergon({"audit", "verify", session}).exit_code, 0);

  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((workspace_ + "/.ergon/ergon.db").c_str(), &db), SQLITE_OK);
  // Event 5 is a step's event whatever its type: every one names its step.
  std::string sql =
      "UPDATE events SET data = replace(data, '\"step\"', '\"stop\"') WHERE session = '" + session +
      "' AND seq = 5";
  ASSERT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);

  RunResult audit = ergon({"audit", "verify", session});
  EXPECT_EQ(audit.exit_code, 1) << audit.out;
  EXPECT_NE(audit.out.find("event 5"), std::string::npos) << audit.out;
}

TEST_F(CloudCostTest, KilledDuringIrreversibleActionResumesWithoutRepeating) {
  // The reservation requests (the dry run for the approval preview, then the
  // purchase) hang long enough for the test to kill ergon during the purchase;
  // the service still carries the purchase out.
  post("/_control/faults", {{"method", "POST"},
                            {"path_prefix", "/v1/reservations"},
                            {"delay_ms", 2000},
                            {"status", 0},
                            {"count", 2}});
  Child run({bin("ergon"), "-w", workspace_, "run", "--yes", kGoal}, options());
  bool purchase_sent = false;
  for (int i = 0; i < 400 && !purchase_sent; ++i) {
    for (const Json& c : calls()) {
      if (c["path"] == "/v1/reservations" && !c["query"].contains("dry_run")) purchase_sent = true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_TRUE(purchase_sent) << "the reservation was never requested";
  run.kill(SIGKILL);
  run.wait();
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));  // the service finishes the request

  RunResult list = ergon({"sessions"});
  std::smatch m;
  ASSERT_TRUE(std::regex_search(list.out, m, std::regex("(s-[0-9a-f]+)")));
  RunResult resumed = ergon({"resume", m[1].str(), "--yes"});
  EXPECT_EQ(resumed.exit_code, 0) << resumed.out << resumed.err;

  EXPECT_EQ(get("/v1/reservations")["reservations"].size(), 1u) << "reserved exactly once";
  std::map<std::string, int> stops;
  for (const Json& c : calls()) {
    std::string path = c["path"];
    if (path.ends_with("/stop")) ++stops[path];
  }
  for (const auto& [path, count] : stops) EXPECT_EQ(count, 1) << path << " sent twice";
  EXPECT_EQ(ergon({"audit", "verify", m[1].str()}).exit_code, 0);
}

TEST_F(CloudCostTest, KilledDuringWriteWithoutKeyAsksAPerson) {
  post("/_control/faults", {{"method", "POST"},
                            {"path_prefix", "/v1/instances"},
                            {"delay_ms", 4000},
                            {"status", 0},
                            {"count", 1}});
  Child run({bin("ergon"), "-w", workspace_, "run", "--yes", kGoal}, options());
  bool seen = false;
  for (int i = 0; i < 300 && !seen; ++i) {
    seen = !calls().empty();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_TRUE(seen);
  run.kill(SIGKILL);
  run.wait();
  std::this_thread::sleep_for(std::chrono::milliseconds(4500));

  RunResult list = ergon({"sessions"});
  std::smatch m;
  ASSERT_TRUE(std::regex_search(list.out, m, std::regex("(s-[0-9a-f]+)")));
  std::string session = m[1].str();
  RunResult waiting = ergon({"resume", session, "--yes"});
  EXPECT_EQ(waiting.exit_code, 3) << waiting.out << waiting.err;
  EXPECT_NE(waiting.out.find("may or may not have happened"), std::string::npos) << waiting.out;
  size_t sent = calls().size();

  RunResult resumed = ergon({"resume", session, "--yes", "--slot", "recover:stop:0=happened"});
  EXPECT_EQ(resumed.exit_code, 0) << resumed.out << resumed.err;
  std::map<std::string, int> stops;
  for (const Json& c : calls()) {
    std::string path = c["path"];
    if (path.ends_with("/stop")) ++stops[path];
  }
  for (const auto& [path, count] : stops) EXPECT_EQ(count, 1) << path << " sent twice";
  EXPECT_GT(calls().size(), sent);
}

TEST_F(CloudCostTest, DemoRunsAndVerifies) {
  RunResult r = ergon({"demo", "--yes"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("MET"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("production instances unchanged: yes"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace ergon
