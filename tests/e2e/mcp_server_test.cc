// End to end: `ergon mcp` serves the workspace's skills as MCP tools over
// stdio. The protocol itself is checked with raw JSON-RPC lines; the tools
// with the official MCP SDK client (tests/mcp-client/drive.mjs, installed by
// `npm ci --prefix tests/mcp-client`) against a copy of examples/cloud-cost
// and its acme-cloud service.
#include <gtest/gtest.h>
#include <httplib.h>
#include <stdlib.h>

#include <atomic>
#include <filesystem>
#include <map>
#include <regex>
#include <sstream>
#include <thread>

#include "ergon/json.h"
#include "ergon/serve.h"
#include "support/cloud_workspace.h"
#include "support/process.h"
#include "support/serve_workspace.h"

namespace ergon {
namespace {

using testing::bin;
using testing::RunOptions;
using testing::RunResult;

constexpr const char* kToken = "test-token-mcp-3b8e71";

// A skill that only reads, one that only makes reversible changes, and one
// with slots of every kind, next to the example's reduce-cloud-spend.
constexpr const char* kBillSkill = R"(name: show-bill
description: Show the projected monthly bill.
examples:
  - show the cloud bill
slots: {}
steps:
  - id: bill
    do: cloud.get_bill
)";

constexpr const char* kSlotsSkill = R"(name: resize-one
description: Resize one instance.
examples:
  - resize {instance} to {size}
slots:
  instance:
    type: code
    required: true
    question: Which instance?
  size:
    type: enum
    choices: [t3.small, t3.medium]
    required: true
    question: Which size?
  budget:
    type: money
    required: false
  when:
    type: date
    required: false
  note:
    type: string
    required: true
    default: resized by ergon
    description: why
steps:
  - id: resize
    do: cloud.resize_instance
    with:
      id: ${ slots.instance }
      size: ${ slots.size }
)";

class McpServerTest : public testing::CloudWorkspaceTest, protected testing::ServeApi {
 protected:
  McpServerTest() : CloudWorkspaceTest(kToken) {}

  // An ergon serve of the workspace, in this process, with an operator token
  // for the calling agent ("agent") and an approver's ("bob").
  void start_serve() {
    setenv("ACME_CLOUD_URL", cloud_.url().c_str(), 1);
    setenv("ACME_CLOUD_TOKEN", kToken, 1);
    add_tokens(workspace_, {{"agent", Role::kOperator}, {"bob", Role::kApprover}});
    ServerOptions options;
    options.workspace_dir = workspace_;
    server_ = std::make_unique<Server>(options);
    auto started = server_->start();
    ASSERT_TRUE(started) << started.error().message;
  }

  static std::string client_dir() { return testing::source_path("tests/mcp-client"); }
  static bool client_installed() {
    return std::filesystem::exists(client_dir() +
                                   "/node_modules/@modelcontextprotocol/sdk/package.json");
  }
  static std::string node() {
    for (const char* path : {"/usr/bin/node", "/usr/local/bin/node"}) {
      if (std::filesystem::exists(path)) return path;
    }
    return "";
  }

  void set_approvals(const std::string& mode) {
    std::string yaml = testing::read_file(workspace_ + "/ergon.yaml");
    yaml = std::regex_replace(yaml, std::regex("approvals: \\w+"), "approvals: " + mode);
    testing::write_file(workspace_ + "/ergon.yaml", yaml);
  }

  // Runs the SDK client: lists the tools and, with `tool`, calls it.
  Json drive(const std::string& tool = "", const Json& arguments = Json::object(),
             const std::map<std::string, std::string>& env = {}) {
    std::vector<std::string> argv = {node(), client_dir() + "/drive.mjs", bin("ergon"), workspace_};
    if (!tool.empty()) {
      argv.push_back(tool);
      argv.push_back(arguments.dump());
    }
    RunOptions options = cloud_options();
    options.env.insert(env.begin(), env.end());
    RunResult r = testing::run(argv, options);
    last_err_ = r.err;
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    Json out = Json::parse(r.out, nullptr, false);
    EXPECT_FALSE(out.is_discarded()) << r.out << r.err;
    if (out.is_discarded()) return Json::object();
    EXPECT_FALSE(out.contains("error")) << out.dump(2) << "\n" << r.err;
    return out;
  }

  // Raw JSON-RPC lines to `ergon mcp`; the answers, one JSON value per line.
  std::vector<Json> exchange(const std::vector<Json>& messages, const std::string& extra = "") {
    std::string input;
    for (const Json& m : messages) input += m.dump() + "\n";
    input += extra;
    RunOptions o = cloud_options();
    o.input = input;
    RunResult r = testing::run({bin("ergon"), "-w", workspace_, "mcp"}, o);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    std::vector<Json> answers;
    std::istringstream lines(r.out);
    for (std::string line; std::getline(lines, line);) {
      Json answer = Json::parse(line, nullptr, false);
      EXPECT_FALSE(answer.is_discarded()) << "stdout carries only the protocol: " << line;
      answers.push_back(answer);
    }
    return answers;
  }

  Json sessions() {
    RunResult r = testing::run({bin("ergon"), "-w", workspace_, "sessions", "--json"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return Json::parse(r.out, nullptr, false);
  }

  static const Json* find_tool(const Json& tools, const std::string& name) {
    for (const Json& t : tools) {
      if (t.value("name", "") == name) return &t;
    }
    return nullptr;
  }

  void require_client() {
    if (node().empty()) GTEST_SKIP() << "node is not installed";
    if (!client_installed()) {
      GTEST_SKIP() << "tests/mcp-client/node_modules is missing: run npm ci --prefix "
                      "tests/mcp-client (scripts/setup does)";
    }
  }

  std::string last_err_;
};

Json request(int id, const std::string& method, const Json& params = Json::object()) {
  return {{"jsonrpc", "2.0"}, {"id", id}, {"method", method}, {"params", params}};
}

TEST_F(McpServerTest, SpeaksJsonRpcAndNegotiatesTheVersion) {
  Json client_info = {{"name", "raw"}, {"version", "1"}};
  auto answers = exchange(
      {
          request(1, "initialize",
                  {{"protocolVersion", "2025-06-18"},
                   {"capabilities", Json::object()},
                   {"clientInfo", client_info}}),
          {{"jsonrpc", "2.0"}, {"method", "notifications/initialized"}},
          request(2, "initialize",
                  {{"protocolVersion", "1999-01-01"},
                   {"capabilities", Json::object()},
                   {"clientInfo", client_info}}),
          request(3, "ping"),
          request(4, "resources/list"),
          request(5, "tools/call", {{"arguments", Json::object()}}),
          request(6, "tools/call", {{"name", "no-such-skill"}}),
          request(7, "tools/call", {{"name", "reduce-cloud-spend"}, {"arguments", {{"bogus", 1}}}}),
          request(8, "tools/call",
                  {{"name", "reduce-cloud-spend"}, {"arguments", {{"target_pct", "lots"}}}}),
          request(9, "tools/call", {{"name", "reduce-cloud-spend"}}),
          request(10, "initialize", {{"capabilities", Json::object()}}),
      },
      "this is not json\n");
  ASSERT_EQ(answers.size(), 11u) << "one answer per request, none for the notification";

  EXPECT_EQ(answers[0]["id"], 1);
  EXPECT_EQ(answers[0]["result"]["protocolVersion"], "2025-06-18") << "a supported version is kept";
  EXPECT_EQ(answers[0]["result"]["serverInfo"]["name"], "ergon");
  EXPECT_TRUE(answers[0]["result"]["capabilities"].contains("tools"));
  EXPECT_EQ(answers[1]["result"]["protocolVersion"], "2025-11-25") << "else the latest";
  EXPECT_EQ(answers[2]["result"], Json::object()) << "ping";
  EXPECT_EQ(answers[3]["error"]["code"], -32601) << answers[3].dump();
  EXPECT_EQ(answers[4]["error"]["code"], -32602) << answers[4].dump();
  EXPECT_EQ(answers[5]["error"]["code"], -32602) << answers[5].dump();
  EXPECT_NE(answers[5]["error"]["message"].get<std::string>().find("no-such-skill"),
            std::string::npos);
  // Bad arguments are tool errors the caller can correct, and nothing runs.
  EXPECT_EQ(answers[6]["result"]["isError"], true) << answers[6].dump();
  EXPECT_NE(answers[6].dump().find("bogus"), std::string::npos) << answers[6].dump();
  EXPECT_EQ(answers[7]["result"]["isError"], true) << answers[7].dump();
  EXPECT_NE(answers[7].dump().find("target_pct"), std::string::npos) << answers[7].dump();
  EXPECT_EQ(answers[8]["result"]["isError"], true) << answers[8].dump();
  EXPECT_NE(answers[8].dump().find("target_pct"), std::string::npos) << answers[8].dump();
  EXPECT_EQ(answers[9]["error"]["code"], -32602) << answers[9].dump();
  EXPECT_EQ(answers[10]["error"]["code"], -32700) << answers[10].dump();
  EXPECT_TRUE(answers[10]["id"].is_null());
  EXPECT_TRUE(sessions().empty()) << "no session was started: " << sessions().dump();
}

// Regression (M2): a field of the wrong type in a client's message killed
// `ergon mcp` ({"jsonrpc": 2.0} threw before any check). Each bad message gets
// a JSON-RPC error and the server goes on.
TEST_F(McpServerTest, MessagesWithFieldsOfTheWrongTypeGetErrorsNotACrash) {
  std::vector<std::string> lines = {
      R"({"jsonrpc": 2.0, "id": 1, "method": "ping"})",
      R"({"jsonrpc": null, "id": 2, "method": "ping"})",
      R"({"jsonrpc": "2.0", "id": 3, "method": 5})",
      R"({"jsonrpc": "2.0", "id": {"nested": 1}, "method": "ping"})",
      R"({"jsonrpc": "2.0", "id": 5, "method": "initialize", "params": {"protocolVersion": 5}})",
      R"({"jsonrpc": "2.0", "id": 6, "method": "tools/call", "params": {"name": ["x"]}})",
      R"({"jsonrpc": "2.0", "id": 7, "method": "tools/call",)"
      R"( "params": {"name": "reduce-cloud-spend", "arguments": {"target_pct": [15]}, "_meta": 7}})",
      R"({"jsonrpc": "2.0", "id": 8, "method": "tools/call", "params": "reduce-cloud-spend"})",
      R"({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": "all of them"})",
      R"({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": [1]}})",
      R"({"jsonrpc": "2.0", "id": 9, "method": "ping"})",
      R"(42)",
      R"({"jsonrpc": "2.0", "id": 10, "method": "ping"})",
  };
  std::string input;
  for (const std::string& line : lines) input += line + "\n";
  auto answers = exchange({}, input);
  ASSERT_EQ(answers.size(), 11u) << "one answer per message but the two notifications";
  // A ping may be answered while a tools/call is handled: match answers by id.
  std::map<std::string, Json> by_id;
  std::vector<Json> without_id;
  for (const Json& answer : answers) {
    ASSERT_TRUE(answer.is_object()) << answer.dump();
    if (answer["id"].is_null()) {
      without_id.push_back(answer);
    } else {
      by_id[answer["id"].dump()] = answer;
    }
  }
  auto code = [](const Json& answer) {
    return answer.contains("error") ? answer["error"].value("code", 0) : 0;
  };
  for (int id : {1, 2, 3}) {
    EXPECT_EQ(code(by_id[std::to_string(id)]), -32600) << id << ": its id is still known";
  }
  ASSERT_EQ(without_id.size(), 2u) << "an id that is not a string or number is not echoed";
  EXPECT_EQ(code(without_id[0]), -32600) << without_id[0].dump();
  EXPECT_EQ(code(without_id[1]), -32600) << "42 is no request: " << without_id[1].dump();
  EXPECT_EQ(code(by_id["5"]), -32602) << by_id["5"].dump();
  EXPECT_EQ(code(by_id["6"]), -32602) << by_id["6"].dump();
  EXPECT_EQ(by_id["7"]["result"]["isError"], true) << by_id["7"].dump();
  EXPECT_NE(by_id["7"].dump().find("target_pct"), std::string::npos) << by_id["7"].dump();
  EXPECT_EQ(code(by_id["8"]), -32602) << by_id["8"].dump();
  EXPECT_EQ(by_id["9"]["result"], Json::object()) << "still serving";
  EXPECT_EQ(by_id["10"]["result"], Json::object());
  EXPECT_TRUE(sessions().empty()) << sessions().dump();
}

TEST_F(McpServerTest, ListsSkillsAsToolsWithSchemasAndAnnotations) {
  require_client();
  testing::write_file(workspace_ + "/skills/show-bill.yaml", kBillSkill);
  testing::write_file(workspace_ + "/skills/resize-one.yaml", kSlotsSkill);
  Json out = drive();
  EXPECT_EQ(out["server"]["name"], "ergon");
  ASSERT_TRUE(out["tools"].is_array()) << out.dump(2);
  EXPECT_EQ(out["tools"].size(), 3u) << out["tools"].dump(2);

  const Json* reduce = find_tool(out["tools"], "reduce-cloud-spend");
  ASSERT_NE(reduce, nullptr) << out["tools"].dump(2);
  EXPECT_NE((*reduce)["description"].get<std::string>().find("without touching production"),
            std::string::npos);
  const Json& schema = (*reduce)["inputSchema"];
  EXPECT_EQ(schema["type"], "object");
  EXPECT_EQ(schema["properties"]["target_pct"]["type"], "number");
  EXPECT_EQ(schema["required"], Json::array({"target_pct"}));
  // It buys reservations (irreversible): not read-only, destructive.
  EXPECT_EQ((*reduce)["annotations"]["readOnlyHint"], false);
  EXPECT_EQ((*reduce)["annotations"]["destructiveHint"], true);

  const Json* bill = find_tool(out["tools"], "show-bill");
  ASSERT_NE(bill, nullptr);
  EXPECT_EQ((*bill)["annotations"]["readOnlyHint"], true);
  EXPECT_FALSE((*bill)["inputSchema"].contains("required"));

  const Json* resize = find_tool(out["tools"], "resize-one");
  ASSERT_NE(resize, nullptr);
  EXPECT_EQ((*resize)["annotations"]["readOnlyHint"], false);
  EXPECT_EQ((*resize)["annotations"]["destructiveHint"], false) << "a resize can be undone";
  const Json& props = (*resize)["inputSchema"]["properties"];
  EXPECT_EQ(props["instance"]["type"], "string");
  EXPECT_EQ(props["size"]["enum"], Json::array({"t3.small", "t3.medium"}));
  EXPECT_EQ(props["budget"]["type"], "number");
  EXPECT_EQ(props["when"]["type"], "string");
  EXPECT_EQ(props["when"]["format"], "date");
  EXPECT_EQ(props["note"]["default"], "resized by ergon");
  EXPECT_EQ((*resize)["inputSchema"]["required"], Json::array({"instance", "size"}))
      << "required slots without a default";
}

TEST_F(McpServerTest, CallingASkillRunsAJournaledSessionWhoseApprovalTheCallerCannotGive) {
  require_client();
  // approvals: terminal, and the terminal is not there under stdio: the
  // reservation is denied by ergon, not approved by the calling agent.
  Json out = drive("reduce-cloud-spend", {{"target_pct", "15%"}});
  const Json& call = out["call"];
  ASSERT_TRUE(call.is_object()) << out.dump(2);
  EXPECT_EQ(call["isError"], true) << call.dump(2);
  const Json& report = call["structuredContent"];
  EXPECT_EQ(report["status"], "aborted") << report.dump(2);
  EXPECT_EQ(report["approvals_granted"], 0);
  EXPECT_NE(report.dump().find("ergon serve"), std::string::npos) << report.dump(2);
  EXPECT_EQ(report["slots"]["target_pct"], 15);
  ASSERT_EQ(call["content"].size(), 1u);
  EXPECT_EQ(call["content"][0]["type"], "text");
  std::string session = report["session"].get<std::string>();
  EXPECT_NE(call["content"][0]["text"].get<std::string>().find("Session " + session),
            std::string::npos);
  EXPECT_TRUE(get("/v1/reservations")["reservations"].empty());

  Json listed = sessions();
  ASSERT_EQ(listed.size(), 1u) << listed.dump(2);
  EXPECT_EQ(listed[0]["id"], session);
  RunResult verify = testing::run({bin("ergon"), "-w", workspace_, "audit", "verify", session});
  EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;
}

TEST_F(McpServerTest, WithAutoApprovalsTheSessionFinishes) {
  require_client();
  set_approvals("auto");
  double before = get("/v1/bill")["projected_monthly"].get<double>();
  Json out = drive("reduce-cloud-spend", {{"target_pct", 15}});
  const Json& call = out["call"];
  ASSERT_TRUE(call.is_object()) << out.dump(2);
  EXPECT_EQ(call["isError"], false) << call.dump(2) << last_err_;
  EXPECT_EQ(call["structuredContent"]["status"], "done");
  double after = get("/v1/bill")["projected_monthly"].get<double>();
  EXPECT_LE(after, before * 0.85 + 0.01);
  Json listed = sessions();
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0]["status"], "done");
}

TEST_F(McpServerTest, WithServeTheCallWaitsForAPersonInItsApprovalsQueue) {
  require_client();
  // ergon serve runs the session; a person approves there, not the agent.
  start_serve();

  std::atomic<bool> done = false;
  std::string approved_action;
  std::thread person([&] {
    auto c = client("bob");
    while (!done) {
      auto r = c.Get("/v1/approvals");
      Json list = r ? Json::parse(r->body, nullptr, false) : Json();
      if (list.is_object()) {
        for (const Json& a : list["approvals"]) {
          // A person takes a moment: long enough for ergon mcp, polling
          // every 200 ms, to see the approval pending and say so.
          std::this_thread::sleep_for(std::chrono::milliseconds(1500));
          approved_action = a.value("action", std::string());
          c.Post("/v1/approvals/" + a["id"].get<std::string>(),
                 Json{{"decision", "approve"}, {"reason", "seen"}, {"hash", a["hash"]}}.dump(),
                 "application/json");
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  });
  Json out = drive("reduce-cloud-spend", {{"target_pct", 15}},
                   {{"ERGON_MCP_SERVE", server_->url()}, {"ERGON_TOKEN", secrets_["agent"]}});
  done = true;
  person.join();
  const Json& call = out["call"];
  ASSERT_TRUE(call.is_object()) << out.dump(2);
  EXPECT_EQ(call["isError"], false) << call.dump(2) << last_err_;
  const Json& report = call["structuredContent"];
  EXPECT_EQ(report["status"], "done") << report.dump(2);
  EXPECT_GE(report["approvals_granted"].get<int>(), 1);
  EXPECT_EQ(approved_action, "cloud.purchase_reservation");
  // The caller heard why it waited.
  ASSERT_FALSE(out["progress"].empty()) << out.dump(2);
  EXPECT_NE(out["progress"][0]["message"].get<std::string>().find("cloud.purchase_reservation"),
            std::string::npos);
  // The session is ergon serve's, journaled as the agent's, approved by bob.
  auto c = client("bob");
  auto audit = c.Get("/v1/sessions/" + report["session"].get<std::string>() + "/audit");
  ASSERT_TRUE(audit);
  Json events = Json::parse(audit->body)["events"];
  EXPECT_EQ(events[0]["data"]["principal"], "agent");
  bool by_bob = false;
  for (const Json& e : events) {
    by_bob = by_bob || (e["type"] == "approval" && e["data"]["by"] == "bob");
  }
  EXPECT_TRUE(by_bob);
  server_->stop();
}

// Regression (M3): `ergon mcp` read stdin only between requests, so while a
// call waited for a person it answered no ping and missed the cancellation.
TEST_F(McpServerTest, WithServeAPendingCallAnswersPingsAndCanBeCancelled) {
  require_client();
  start_serve();

  // Nobody approves: the call waits in the queue until the client cancels it.
  RunOptions o = cloud_options();
  o.env["ERGON_TOKEN"] = secrets_["agent"];
  RunResult r =
      testing::run({node(), client_dir() + "/cancel.mjs", bin("ergon"), workspace_, server_->url(),
                    "reduce-cloud-spend", Json{{"target_pct", 15}}.dump()},
                   o);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  Json out = Json::parse(r.out, nullptr, false);
  ASSERT_TRUE(out.is_object()) << r.out << r.err;
  EXPECT_FALSE(out.contains("error")) << out.dump(2) << "\n" << r.err;
  EXPECT_TRUE(out["pong_while_pending"].get<bool>()) << out.dump(2);
  ASSERT_GE(out["steps"].size(), 1u) << out.dump(2);
  EXPECT_NE(out["steps"][0].get<std::string>().find("cloud.purchase_reservation"),
            std::string::npos)
      << out.dump(2);
  for (const Json& line : out["lines"]) {
    EXPECT_FALSE(line.contains("id") && line["id"] == 2)
        << "a cancelled request gets no answer: " << line.dump();
  }
  EXPECT_EQ(out["exit"]["code"], 0) << "stdin closed: ergon mcp ends " << out.dump(2) << r.err;

  // ergon serve's session was cancelled: aborted, nothing bought.
  auto c = client("agent");
  auto listed = c.Get("/v1/sessions");
  ASSERT_TRUE(listed);
  Json list = Json::parse(listed->body, nullptr, false);
  ASSERT_TRUE(list.is_object() && list["sessions"].is_array() && list["sessions"].size() == 1)
      << listed->body;
  std::string session = list["sessions"][0]["id"].get<std::string>();
  std::string status;
  for (int i = 0; i < 300 && status != "aborted"; ++i) {
    auto got = c.Get("/v1/sessions/" + session);
    ASSERT_TRUE(got);
    Json state = Json::parse(got->body, nullptr, false);
    status = state.value("status", std::string());
    if (status != "aborted") std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(status, "aborted");
  EXPECT_TRUE(get("/v1/reservations")["reservations"].empty());
  server_->stop();
}

TEST_F(McpServerTest, ServeWithoutATokenIsAUsageError) {
  RunOptions o = cloud_options();
  o.env["ERGON_TOKEN"] = "";
  RunResult r =
      testing::run({bin("ergon"), "-w", workspace_, "mcp", "--serve", "http://127.0.0.1:9"}, o);
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("ERGON_TOKEN"), std::string::npos) << r.err;
  r = testing::run({bin("ergon"), "-w", workspace_, "mcp", "--serve", "127.0.0.1:9"}, o);
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("--serve"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace ergon
