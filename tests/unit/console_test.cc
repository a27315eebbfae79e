// The web console in a real headless Chromium: Playwright scripts
// (tests/console/*.mjs, run with node) sign in with a token, read the pending
// approval of a cloud-cost session and approve it, or find Approve disabled,
// against a real Server on port 0. The API then confirms what the page did.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <sstream>

#include "ergon/json.h"
#include "support/process.h"
#include "support/serve_workspace.h"

namespace ergon {
namespace {

constexpr const char* kCloudToken = "console-test-token-7b21";

// The first executable `name` on $PATH; "" when there is none.
std::string find_on_path(const std::string& name) {
  const char* path = getenv("PATH");
  std::stringstream dirs(path ? path : "");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    if (dir.empty()) continue;
    std::string candidate = dir + "/" + name;
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

class ConsoleTest : public testing::ServeWorkspaceTest {
 protected:
  ConsoleTest() : ServeWorkspaceTest(kCloudToken) {}

  // Waits until the session's approval is pending, so the page finds it.
  bool asks_approval(const std::string& session) const {
    return eventually([&] {
      Json list = api_get("vic", "/v1/approvals");
      for (const Json& a : list["approvals"]) {
        if (a["session"] == session) return true;
      }
      return false;
    });
  }

  // Runs tests/console/SCRIPT with node: BASE_URL then `args`.
  testing::RunResult run_script(const std::string& script,
                                const std::vector<std::string>& args) const {
    std::string node = find_on_path("node");
    if (node.empty()) {
      ADD_FAILURE() << "node is not on PATH: run scripts/setup (it installs Node.js)";
      return {};
    }
    std::string dir = testing::source_path("tests/console");
    if (!std::filesystem::exists(dir + "/node_modules/playwright-core/package.json")) {
      ADD_FAILURE() << dir << "/node_modules has no playwright-core: run scripts/setup "
                    << "(it runs npm ci in tests/console)";
      return {};
    }
    std::vector<std::string> argv = {node, dir + "/" + script, server_->url()};
    argv.insert(argv.end(), args.begin(), args.end());
    testing::RunOptions options;
    options.timeout = std::chrono::seconds(180);
    return testing::run(argv, options);
  }
};

TEST_F(ConsoleTest, AnApproverApprovesInTheConsoleAndWatchesTheSessionFinish) {
  start_server();
  std::string id = create("alice");
  ASSERT_FALSE(id.empty());
  ASSERT_TRUE(asks_approval(id)) << api_get("vic", "/v1/sessions/" + id).dump();

  auto result = run_script("approve.mjs", {secrets_["bob"], id});
  EXPECT_EQ(result.exit_code, 0) << "stdout:\n" << result.out << "\nstderr:\n" << result.err;

  Json session = api_get("vic", "/v1/sessions/" + id);
  EXPECT_EQ(session["status"], "done") << session.dump();
  EXPECT_EQ(session["report"]["approvals_granted"], 1) << session.dump();
  // The decision was bob's, with the reason typed into the card.
  expect_one_approval(id, "bob", "checked in the console");
}

TEST_F(ConsoleTest, AViewerSeesTheApprovalButCannotApprove) {
  start_server();
  std::string id = create("alice");
  ASSERT_FALSE(id.empty());
  ASSERT_TRUE(asks_approval(id));

  auto result = run_script("cannot_approve.mjs", {secrets_["vic"], id, "approver role"});
  EXPECT_EQ(result.exit_code, 0) << "stdout:\n" << result.out << "\nstderr:\n" << result.err;

  Json session = api_get("vic", "/v1/sessions/" + id);
  EXPECT_EQ(session["approvals"].size(), 1u) << session.dump();
  EXPECT_NE(session["status"], "done");
}

TEST_F(ConsoleTest, UnderFourEyesTheCreatorCannotApproveItsOwnSession) {
  start_server(/*four_eyes=*/true);
  std::string id = create("carol");  // an admin: may approve, but not what it created
  ASSERT_FALSE(id.empty());
  ASSERT_TRUE(asks_approval(id));

  auto result = run_script("cannot_approve.mjs", {secrets_["carol"], id, "Four eyes"});
  EXPECT_EQ(result.exit_code, 0) << "stdout:\n" << result.out << "\nstderr:\n" << result.err;
  EXPECT_EQ(api_get("vic", "/v1/sessions/" + id)["approvals"].size(), 1u);

  // Another approver may.
  result = run_script("approve.mjs", {secrets_["bob"], id});
  EXPECT_EQ(result.exit_code, 0) << "stdout:\n" << result.out << "\nstderr:\n" << result.err;
  EXPECT_EQ(api_get("vic", "/v1/sessions/" + id)["status"], "done");
}

TEST_F(ConsoleTest, AStaleDecisionIsRefusedThenADenialAbortsAndUndoesTheSession) {
  start_server();
  double bill_before = get("/v1/bill").value("projected_monthly", -1.0);
  std::string id = create("alice");
  ASSERT_FALSE(id.empty());
  ASSERT_TRUE(asks_approval(id)) << api_get("vic", "/v1/sessions/" + id).dump();

  const std::string reason = "not this quarter: the reservation is too large";
  auto result = run_script("deny_and_stale.mjs", {secrets_["bob"], id, reason});
  EXPECT_EQ(result.exit_code, 0) << "stdout:\n" << result.out << "\nstderr:\n" << result.err;

  ASSERT_TRUE(eventually([&] {
    Json s = api_get("vic", "/v1/sessions/" + id);
    return s.value("status", std::string()) == "aborted" && !s.value("busy", true);
  })) << api_get("vic", "/v1/sessions/" + id).dump();
  // One decision, the denial (the refused stale approve left no trace), and
  // what the session had changed undone.
  Json audit = api_get("vic", "/v1/sessions/" + id + "/audit");
  EXPECT_TRUE(audit["chain"]["ok"].get<bool>()) << audit["chain"].dump();
  int approvals = 0, compensations = 0;
  for (const Json& e : audit["events"]) {
    if (e["type"] == "compensation") {
      ++compensations;
      EXPECT_TRUE(e["data"]["ok"].get<bool>()) << e.dump();
    }
    if (e["type"] != "approval") continue;
    ++approvals;
    EXPECT_FALSE(e["data"]["approved"].get<bool>()) << e.dump();
    EXPECT_EQ(e["data"]["by"], "bob") << e.dump();
    EXPECT_EQ(e["data"]["reason"], reason) << e.dump();
  }
  EXPECT_EQ(approvals, 1) << audit.dump();
  EXPECT_GT(compensations, 0) << audit.dump();
  EXPECT_TRUE(get("/v1/reservations")["reservations"].empty());
  EXPECT_NEAR(get("/v1/bill").value("projected_monthly", -2.0), bill_before, 0.01);
  EXPECT_TRUE(api_get("vic", "/v1/approvals")["approvals"].empty());
}

TEST_F(ConsoleTest, AnOperatorStartsAnswersAndCancelsASessionInTheConsole) {
  start_server();
  auto result = run_script("start_and_cancel.mjs", {secrets_["alice"], "cut cloud spend", "15%"});
  ASSERT_EQ(result.exit_code, 0) << "stdout:\n" << result.out << "\nstderr:\n" << result.err;
  std::string id;
  std::stringstream lines(result.out);
  for (std::string line; std::getline(lines, line);) {
    if (line.starts_with("{")) id = Json::parse(line, nullptr, false).value("session", "");
  }
  ASSERT_FALSE(id.empty()) << result.out;

  Json session = api_get("vic", "/v1/sessions/" + id);
  EXPECT_EQ(session["status"], "aborted") << session.dump();
  EXPECT_EQ(session["creator"], "alice");
  Json audit = api_get("vic", "/v1/sessions/" + id + "/audit");
  bool answered = false, denied = false;
  for (const Json& e : audit["events"]) {
    if (e["type"] == "answer") answered = e["data"]["slot"] == "target_pct";
    if (e["type"] == "approval") {
      denied = !e["data"]["approved"].get<bool>() && e["data"]["by"] == "alice";
    }
  }
  EXPECT_TRUE(answered) << audit.dump();
  EXPECT_TRUE(denied) << audit.dump();
}

}  // namespace
}  // namespace ergon
