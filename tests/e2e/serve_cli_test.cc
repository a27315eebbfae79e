// End to end: the `ergon serve` command — tokens made on the command line,
// the server started on a free port, a session run through its API, a clean
// stop on SIGTERM, and one server per workspace.
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>
#include <sys/stat.h>

#include <regex>

#include "ergon/json.h"
#include "support/cloud_workspace.h"
#include "support/process.h"

namespace ergon {
namespace {

using testing::bin;
using testing::RunResult;

constexpr const char* kToken = "serve-cli-test-token-51d0";

class ServeCliTest : public testing::CloudWorkspaceTest {
 protected:
  ServeCliTest() : CloudWorkspaceTest(kToken) {}

  RunResult ergon(std::vector<std::string> args) const {
    args.insert(args.begin(), {bin("ergon"), "-w", workspace_});
    return testing::run(args, cloud_options());
  }

  // `ergon serve token add NAME --role ROLE`: the secret it prints.
  std::string add_token(const std::string& name, const std::string& role) const {
    RunResult r = ergon({"serve", "token", "add", name, "--role", role});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    std::string secret = r.out.substr(0, r.out.find('\n'));
    EXPECT_GE(secret.size(), 32u) << r.out;
    return secret;
  }

  // Starts `ergon serve --port 0`; its URL once it listens.
  std::string serve(std::unique_ptr<testing::Child>& child) const {
    child = std::make_unique<testing::Child>(
        std::vector<std::string>{bin("ergon"), "-w", workspace_, "serve", "--port", "0"},
        cloud_options());
    std::string line = child->wait_for_line("listening on");
    std::smatch m;
    EXPECT_TRUE(std::regex_search(line, m, std::regex("http://[0-9.]+:[0-9]+"))) << line;
    return m.empty() ? "" : m.str(0);
  }
};

TEST_F(ServeCliTest, TokensAreMadeOnceAndKeptHashed) {
  std::string secret = add_token("alice", "operator");
  std::string file = workspace_ + "/.ergon/tokens.json";
  std::string text = testing::read_file(file);
  EXPECT_EQ(text.find(secret), std::string::npos) << "only its hash is kept";
  EXPECT_NE(text.find("\"alice\""), std::string::npos);
  struct stat info {};
  ASSERT_EQ(::stat(file.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600);

  RunResult bad = ergon({"serve", "token", "add", "bob", "--role", "boss"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("boss"), std::string::npos) << bad.err;
  EXPECT_NE(bad.err.find("approver"), std::string::npos) << bad.err;
}

TEST_F(ServeCliTest, ServesRunsASessionAndStopsOnSigterm) {
  std::string alice = add_token("alice", "operator");
  std::unique_ptr<testing::Child> server;
  std::string url = serve(server);
  ASSERT_FALSE(url.empty());

  httplib::Client c(url);
  auto page = c.Get("/console/");
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 200);
  EXPECT_EQ(c.Get("/v1/sessions")->status, 401);

  c.set_bearer_token_auth(alice);
  Json plan = {{"goal", "look at the bill"},
               {"steps", Json::array({{{"id", "bill"}, {"do", "cloud.get_bill"}}})}};
  auto created = c.Post("/v1/sessions", Json{{"plan", plan}}.dump(), "application/json");
  ASSERT_TRUE(created);
  ASSERT_EQ(created->status, 201) << created->body;
  std::string id = Json::parse(created->body)["id"];
  Json session = Json::object();
  for (int i = 0; i < 500 && session.value("status", "") != "done"; ++i) {
    auto got = c.Get(("/v1/sessions/" + id).c_str());
    ASSERT_TRUE(got);
    session = Json::parse(got->body);
    if (session.value("status", "") != "done") usleep(20'000);
  }
  EXPECT_EQ(session["status"], "done") << session.dump();

  // A second server on the same workspace is refused while this one runs.
  RunResult second = ergon({"serve", "--port", "0"});
  EXPECT_NE(second.exit_code, 0);
  EXPECT_NE(second.err.find("another ergon serve"), std::string::npos) << second.err;

  // Nor does the command line resume the server's sessions behind its back.
  RunResult resumed = ergon({"resume", id});
  EXPECT_NE(resumed.exit_code, 0);
  EXPECT_NE(resumed.err.find("ergon serve is serving"), std::string::npos) << resumed.err;

  server->kill(SIGTERM);
  RunResult stopped = server->wait();
  EXPECT_EQ(stopped.exit_code, 0) << stopped.err;
  EXPECT_NE(stopped.out.find("stopping"), std::string::npos) << stopped.out;

  resumed = ergon({"resume", id});
  EXPECT_EQ(resumed.err.find("ergon serve is serving"), std::string::npos) << resumed.err;
  EXPECT_NE(resumed.err.find("already ended"), std::string::npos) << resumed.err;

  // The journal the server wrote is the workspace's: the CLI reads it.
  RunResult verify = ergon({"audit", "verify", id});
  EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;
}

}  // namespace
}  // namespace ergon
