// End to end: `ergon call` runs one action through the engine against the real
// acme-cloud service and records successful calls into an API demonstration;
// a demonstration made that way becomes a skill that does the task again for
// other values (ergon issue 4, the cloud-cost example).
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <regex>

#include "ergon/json.h"
#include "ergon/learn.h"
#include "support/cloud_workspace.h"
#include "support/process.h"

namespace ergon {
namespace {

using testing::bin;
using testing::RunResult;

constexpr const char* kToken = "learn-token-7c41e0b2";

class LearnCloudTest : public testing::CloudWorkspaceTest {
 protected:
  LearnCloudTest() : CloudWorkspaceTest(kToken) {
    std::filesystem::remove_all(workspace_ + "/demonstrations");
    std::filesystem::remove_all(workspace_ + "/skills/drafts");
  }

  // Runs ergon with stdin a pipe (no terminal: approvals need --yes).
  RunResult ergon(std::vector<std::string> args) const {
    args.insert(args.begin(), {bin("ergon"), "-w", workspace_});
    return testing::run(args, cloud_options());
  }

  // The service's own view of its instances, by name.
  std::map<std::string, Json> instances_by_name() const {
    std::map<std::string, Json> out;
    Json list = get("/v1/instances");  // kept alive: the loop walks into it
    for (const Json& i : list["instances"]) {
      out[i["name"].get<std::string>()] = i;
    }
    return out;
  }

  // name -> state, from the service.
  std::map<std::string, std::string> states() const {
    std::map<std::string, std::string> out;
    for (const auto& [name, i] : instances_by_name()) out[name] = i["state"].get<std::string>();
    return out;
  }

  // Names of running dev instances whose cpu_p95 is under 5% (idle), from the
  // service's data, in id order.
  std::vector<std::string> idle_dev_instances() const {
    std::map<std::string, double> p95;
    Json metrics = get("/v1/metrics");
    for (const Json& m : metrics["metrics"]) {
      p95[m["instance"].get<std::string>()] = m["cpu_p95"].get<double>();
    }
    std::vector<std::string> out;
    Json list = get("/v1/instances");
    for (const Json& i : list["instances"]) {
      std::string id = i["id"].get<std::string>();
      if (i["tags"]["env"] == "dev" && i["state"] == "running" && p95.count(id) && p95[id] < 5) {
        out.push_back(i["name"].get<std::string>());
      }
    }
    return out;
  }

  // Non-GET requests the service received.
  size_t writes() const { return get("/_control/calls")["calls"].size(); }

  // An empty API demonstration, written through the library (as
  // `ergon record --api` does).
  void make_demo(const std::string& id, const std::string& kind = "api") const {
    Demonstration demo;
    demo.id = id;
    demo.instruction = "a task done by hand";
    demo.kind = kind;
    if (kind == "browser") {
      demo.connector = "portal";
      demo.start_url = "http://127.0.0.1:9/";
    }
    demo.recorded = "2026-01-01T00:00:00Z";
    ASSERT_TRUE(save_demonstration(workspace_, demo));
  }

  Demonstration demo(const std::string& id) const {
    auto loaded = load_demonstration(workspace_, id);
    EXPECT_TRUE(loaded) << loaded.error().message;
    return loaded ? *loaded : Demonstration{};
  }

  static Json parse(const std::string& text) {
    Json json = Json::parse(text, nullptr, false);
    EXPECT_FALSE(json.is_discarded()) << "not JSON: " << text;
    return json;
  }

  static bool has(const std::string& text, const std::string& needle) {
    return text.find(needle) != std::string::npos;
  }
};

TEST_F(LearnCloudTest, CallReadActionPrintsItsResult) {
  RunResult r = ergon({"call", "cloud.list_instances"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  Json result = parse(r.out);
  ASSERT_TRUE(result.contains("instances")) << r.out;
  EXPECT_EQ(result["instances"].size(), instances_by_name().size());

  // A typed argument reaches the service as given: only dev instances.
  r = ergon({"call", "cloud.list_instances", "--arg", "env=dev"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  result = parse(r.out);
  ASSERT_FALSE(result["instances"].empty());
  for (const Json& i : result["instances"]) EXPECT_EQ(i["tags"]["env"], "dev") << i;

  // --json: the session, its status and the result; the session is journaled
  // and its audit chain holds; the token never shows.
  std::string id = instances_by_name().begin()->second["id"].get<std::string>();
  r = ergon({"call", "cloud.get_instance", "--args", Json{{"id", id}}.dump(), "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  Json out = parse(r.out);
  EXPECT_EQ(out["status"], "done");
  EXPECT_EQ(out["action"], "cloud.get_instance");
  EXPECT_EQ(out["result"]["id"], id);
  std::string session = out["session"].get<std::string>();
  RunResult audit = ergon({"audit", "verify", session});
  EXPECT_EQ(audit.exit_code, 0) << audit.out << audit.err;
  RunResult show = ergon({"show", "--json", session});
  EXPECT_TRUE(has(show.out, "cloud.get_instance")) << show.out;
  EXPECT_FALSE(has(show.out + r.out + r.err, kToken));
}

TEST_F(LearnCloudTest, JsonArgumentValuesKeepTheirType) {
  // count=1 and term_months=12 must arrive as integers for the schema to pass.
  RunResult r = ergon({"call", "cloud.purchase_reservation", "--arg", "size=t3.small", "--arg",
                       "count=1", "--arg", "term_months=12", "--yes"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(parse(r.out)["count"], 1);
  Json reservations = get("/v1/reservations")["reservations"];
  ASSERT_EQ(reservations.size(), 1u);
  EXPECT_EQ(reservations[0]["size"], "t3.small");
  EXPECT_EQ(reservations[0]["term_months"], 12);
}

TEST_F(LearnCloudTest, SuccessfulCallsAreAppendedInOrder) {
  make_demo("look");
  RunResult r = ergon({"call", "cloud.get_bill", "--demo", "look"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_TRUE(has(r.err, "appended as step 1 of demonstration look")) << r.err;
  r = ergon({"call", "cloud.list_instances", "--arg", "state=stopped", "--demo", "look", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  Json out = parse(r.out);
  EXPECT_EQ(out["demo"]["appended"], true);
  EXPECT_EQ(out["demo"]["step"], 2);

  Demonstration look = demo("look");
  ASSERT_EQ(look.steps.size(), 2u);
  EXPECT_EQ(look.instruction, "a task done by hand");
  EXPECT_EQ(look.steps[0].action, "cloud.get_bill");
  EXPECT_EQ(look.steps[0].with, Json::object());
  EXPECT_EQ(look.steps[0].result["projected_monthly"], get("/v1/bill")["projected_monthly"]);
  EXPECT_EQ(look.steps[1].action, "cloud.list_instances");
  EXPECT_EQ(look.steps[1].with, (Json{{"state", "stopped"}}));
  EXPECT_EQ(look.steps[1].result, out["result"]);
  EXPECT_FALSE(has(testing::read_file(look.file), kToken));
}

TEST_F(LearnCloudTest, IrreversibleCallWithoutApprovalIsNotDoneNorRecorded) {
  make_demo("buy");
  RunResult r = ergon({"call", "cloud.purchase_reservation", "--arg", "size=m5.large", "--arg",
                       "count=1", "--arg", "term_months=12", "--demo", "buy"});
  EXPECT_NE(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.exit_code, 2) << "not a usage error: " << r.err;
  EXPECT_TRUE(get("/v1/reservations")["reservations"].empty());
  EXPECT_TRUE(has(r.err, "not appended")) << r.err;
  EXPECT_TRUE(demo("buy").steps.empty());
}

TEST_F(LearnCloudTest, PolicyDeniedCallIsNotDoneNorRecorded) {
  make_demo("prod");
  auto before = states();
  Json prod;
  for (const auto& [name, i] : instances_by_name()) {
    if (i["tags"]["env"] == "prod" && i["state"] == "running") prod = i;
  }
  ASSERT_TRUE(prod.is_object());
  RunResult r =
      ergon({"call", "cloud.stop_instance", "--arg", "id=" + prod["id"].get<std::string>(), "--arg",
             "env=prod", "--demo", "prod", "--yes"});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_TRUE(has(r.err, "policy")) << r.err;
  EXPECT_EQ(states(), before);
  EXPECT_TRUE(demo("prod").steps.empty());
}

TEST_F(LearnCloudTest, ArgumentValuesAreNeverTemplates) {
  // Evaluated, '${"dev"}' would be "dev" and pass; as data it is not an env.
  RunResult r = ergon({"call", "cloud.list_instances", "--arg", "env=${\"dev\"}"});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_TRUE(r.out.empty()) << r.out;
}

TEST_F(LearnCloudTest, SchemaErrorsComeFromTheEngine) {
  RunResult r = ergon({"call", "cloud.get_instance", "--arg", "id=not-an-id"});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_TRUE(has(r.err, "id")) << r.err;
  r = ergon({"call", "cloud.stop_instance", "--arg", "id=i-000000"});  // env missing
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_TRUE(has(r.err, "env")) << r.err;
  EXPECT_EQ(writes(), 0u);
}

TEST_F(LearnCloudTest, UsageErrorsExitTwoAndDoNothing) {
  auto before = states();
  std::string id = instances_by_name().at(idle_dev_instances().at(0))["id"].get<std::string>();

  RunResult r = ergon({"call", "cloud.get_instance", "--arg", "id"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_TRUE(has(r.err, "NAME=VALUE")) << r.err;

  r = ergon({"call", "cloud.get_instance", "--arg", "id=" + id, "--arg", "id=i-000000"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_TRUE(has(r.err, "--arg id is given twice")) << r.err;

  r = ergon({"call", "cloud.get_instance", "--args", R"({"id": "x"})", "--arg", "id=y"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_TRUE(has(r.err, "twice")) << r.err;

  r = ergon({"call", "cloud.list_instances", "--args", "[1, 2]"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_TRUE(has(r.err, "--args: expected a JSON object")) << r.err;

  r = ergon({"call", "cloud.stop_instanse", "--arg", "id=" + id, "--arg", "env=dev", "--yes"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_TRUE(has(r.err, "unknown action 'cloud.stop_instanse'")) << r.err;
  EXPECT_TRUE(has(r.err, "did you mean cloud.stop_instance?")) << r.err;
  EXPECT_TRUE(has(r.err, "cloud.list_instances")) << "lists the actions: " << r.err;

  r = ergon({"call", "cloud.stop_instance", "--arg", "id=" + id, "--arg", "env=dev", "--demo",
             "nothing-here", "--yes"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_TRUE(has(r.err, "--demo nothing-here")) << r.err;
  EXPECT_TRUE(has(r.err, "ergon record --api")) << r.err;

  make_demo("clicks", "browser");
  r = ergon({"call", "cloud.stop_instance", "--arg", "id=" + id, "--arg", "env=dev", "--demo",
             "clicks", "--yes"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_TRUE(has(r.err, "browser demonstration")) << r.err;
  EXPECT_TRUE(has(r.err, "ergon record --api")) << r.err;
  EXPECT_TRUE(demo("clicks").steps.empty());

  r = ergon({"call"});
  EXPECT_EQ(r.exit_code, 2) << r.err;

  EXPECT_EQ(writes(), 0u) << "a usage error may not reach the service";
  EXPECT_EQ(states(), before);
}

// The whole teach flow of the cloud-cost README: record an API demonstration
// with `ergon call`, induce a skill from it, accept it, and the skill stops
// another instance by its name.
TEST_F(LearnCloudTest, DemonstrationByCallsBecomesASkill) {
  std::vector<std::string> idle = idle_dev_instances();
  ASSERT_GE(idle.size(), 2u) << "the fleet needs two idle dev instances";
  const std::string taught = idle[0], other = idle[1];
  std::string taught_id = instances_by_name().at(taught)["id"].get<std::string>();

  RunResult r = ergon({"record", "--api", "--name", "stop-idle",
                       "stop the idle dev instance " + taught + " to save money"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(demo("stop-idle").kind, "api");

  r = ergon({"call", "cloud.list_instances", "--demo", "stop-idle"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  r = ergon({"call", "cloud.stop_instance", "--arg", "id=" + taught_id, "--arg", "env=dev",
             "--demo", "stop-idle", "--yes"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(states().at(taught), "stopped");

  Demonstration recorded = demo("stop-idle");
  ASSERT_EQ(recorded.steps.size(), 2u);
  EXPECT_EQ(recorded.steps[0].action, "cloud.list_instances");
  EXPECT_TRUE(recorded.steps[0].result.contains("instances"));
  EXPECT_EQ(recorded.steps[1].action, "cloud.stop_instance");
  EXPECT_EQ(recorded.steps[1].with, (Json{{"id", taught_id}, {"env", "dev"}}));
  EXPECT_EQ(recorded.steps[1].result["state"], "stopped");
  EXPECT_FALSE(has(testing::read_file(recorded.file), kToken));

  r = ergon({"skills", "induce", "stop-idle-instance", "stop-idle"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  r = ergon({"skills", "accept", "stop-idle-instance"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;

  const std::string goal = "stop the idle dev instance " + other;
  r = ergon({"plan", "--json", goal});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(parse(r.out)["skill"], "stop-idle-instance") << r.out;

  auto before = states();
  r = ergon({"run", goal, "--yes"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  auto after = states();
  EXPECT_EQ(after.at(other), "stopped") << r.out;
  // Nothing else changed: the skill found the instance by its name.
  after[other] = before.at(other);
  EXPECT_EQ(after, before);

  // The skill runs under the policy: a production instance, idle or not, is
  // never stopped (its env must come from the service, not from the demo).
  std::string prod;
  for (const auto& [name, i] : instances_by_name()) {
    if (i["tags"]["env"] == "prod" && i["state"] == "running") prod = name;
  }
  ASSERT_FALSE(prod.empty());
  before = states();
  r = ergon({"run", "stop the idle dev instance " + prod, "--yes"});
  EXPECT_NE(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(states(), before) << r.out;
}

}  // namespace
}  // namespace ergon
