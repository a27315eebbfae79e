// The mcp connector against real MCP servers over stdio: a scripted one
// (tests/mcp/paged_server.mjs) for the protocol's corners, and the reference
// servers from the npm registry (tests/mcp/node_modules, installed by
// scripts/setup) for real tools, through the engine where approval matters.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <thread>

#include "ergon/approver.h"
#include "ergon/engine.h"
#include "ergon/mcp.h"
#include "ergon/workspace.h"
#include "support/process.h"

namespace ergon {
namespace {

namespace fs = std::filesystem;

std::string node_modules() {
  return testing::source_path("tests/mcp/node_modules/@modelcontextprotocol");
}
std::string filesystem_server() {
  return node_modules() + "/server-filesystem/dist/index.js";
}
std::string everything_server() {
  return node_modules() + "/server-everything/dist/index.js";
}

#define SKIP_WITHOUT_SERVERS()                                                        \
  if (!fs::exists(filesystem_server()) || !fs::exists(everything_server())) {         \
    GTEST_SKIP() << "tests/mcp/node_modules is missing — run scripts/setup (npm ci)"; \
  }

class McpConnectorTest : public ::testing::Test {
 protected:
  void SetUp() override { vault_ = std::move(*Vault::open()); }

  ConnectorConfig config(const std::string& name, Json settings) {
    ConnectorConfig config;
    config.name = name;
    config.kind = "mcp";
    settings["kind"] = "mcp";
    config.settings = std::move(settings);
    return config;
  }

  // The scripted server, with extra arguments (--version V, --page N).
  Result<std::unique_ptr<Connector>> paged(Json extra = Json::object(),
                                           std::vector<std::string> args = {}) {
    Json command = {"node", testing::source_path("tests/mcp/paged_server.mjs")};
    for (const std::string& arg : args) command.push_back(arg);
    Json settings = {{"command", command}};
    for (const auto& [key, value] : extra.items()) settings[key] = value;
    McpOptions options;
    options.log_file = dir_.file("paged.log");
    options.on_progress = [this](const std::string& action, const Json& progress) {
      progress_.push_back(action + " " + progress["progress"].dump());
    };
    return make_mcp_connector(config("srv", settings), *vault_, options);
  }

  static const ActionSpec* spec(const Connector& connector, const std::string& name) {
    for (const ActionSpec& spec : connector.actions()) {
      if (spec.name == name) return &spec;
    }
    return nullptr;
  }

  static Result<Json> call(Connector& connector, const std::string& action, Json args = {}) {
    ActionCall call;
    call.action = action;
    call.args = args.is_null() ? Json::object() : args;
    return connector.execute(call);
  }

  testing::TempDir dir_;
  std::unique_ptr<Vault> vault_;
  std::vector<std::string> progress_;
};

TEST_F(McpConnectorTest, FollowsEveryPageOfToolsAndNegotiatesTheLatestVersion) {
  auto connector = paged();
  ASSERT_TRUE(connector) << connector.error().message;
  EXPECT_EQ((*connector)->actions().size(), 11u) << "2 tools a page: every page is followed";
  EXPECT_EQ(mcp_server_info(**connector)["protocolVersion"], "2025-11-25");
  EXPECT_EQ(mcp_server_info(**connector)["serverInfo"]["name"], "paged");
  const ActionSpec* echo = spec(**connector, "srv.echo");
  ASSERT_NE(echo, nullptr);
  EXPECT_EQ(echo->description, "says the text back");
  EXPECT_EQ(echo->params_schema["required"], Json::array({"text"}));
  ASSERT_NE(spec(**connector, "srv.bad_name_x"), nullptr) << "'bad.name/x' maps to bad_name_x";
  auto odd = call(**connector, "srv.bad_name_x");
  ASSERT_TRUE(odd) << odd.error().message;
  EXPECT_EQ((*odd)["text"], "odd");

  auto said = call(**connector, "srv.echo", {{"text", "hello"}});
  ASSERT_TRUE(said) << said.error().message;
  EXPECT_EQ((*said)["text"], "hello");
  EXPECT_EQ((*said)["content"][0]["type"], "text");
}

TEST_F(McpConnectorTest, PagesOfOneToolAreFollowedToo) {
  auto connector = paged({}, {"--page", "1"});
  ASSERT_TRUE(connector) << connector.error().message;
  EXPECT_EQ((*connector)->actions().size(), 11u);
}

TEST_F(McpConnectorTest, AcceptsAnEarlierVersionTheServerAnswersWith) {
  auto connector = paged({}, {"--version", "2024-11-05"});
  ASSERT_TRUE(connector) << connector.error().message;
  EXPECT_EQ(mcp_server_info(**connector)["protocolVersion"], "2024-11-05");
}

TEST_F(McpConnectorTest, RefusesAVersionItDoesNotSpeak) {
  auto connector = paged({}, {"--version", "1999-01-01"});
  ASSERT_FALSE(connector);
  EXPECT_EQ(connector.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_NE(connector.error().message.find("'1999-01-01'"), std::string::npos)
      << connector.error().message;
  EXPECT_NE(connector.error().message.find("2025-11-25"), std::string::npos);
}

TEST_F(McpConnectorTest, AnUntrustedServersToolsAreAtLeastWrite) {
  auto connector = paged();
  ASSERT_TRUE(connector) << connector.error().message;
  EXPECT_EQ(spec(**connector, "srv.echo")->effect, Effect::kWrite) << "readOnlyHint is ignored";
  EXPECT_EQ(spec(**connector, "srv.remove")->effect, Effect::kIrreversible)
      << "destructiveHint only raises the risk, so it counts";
  EXPECT_EQ(spec(**connector, "srv.fail")->effect, Effect::kWrite);
  EXPECT_EQ(spec(**connector, "srv.ping_me")->effect, Effect::kWrite);
}

TEST_F(McpConnectorTest, ATrustedServersAnnotationsCountAndTheWorkspaceOverrideWins) {
  auto connector =
      paged({{"trusted", true}, {"effects", {{"pid", "irreversible"}, {"bad.name/x", "read"}}}});
  ASSERT_TRUE(connector) << connector.error().message;
  EXPECT_EQ(spec(**connector, "srv.echo")->effect, Effect::kRead);
  EXPECT_EQ(spec(**connector, "srv.remove")->effect, Effect::kIrreversible);
  EXPECT_EQ(spec(**connector, "srv.fail")->effect, Effect::kIrreversible)
      << "no annotations: the spec's default destructiveHint is true";
  EXPECT_EQ(spec(**connector, "srv.ping_me")->effect, Effect::kWrite) << "destructiveHint: false";
  EXPECT_EQ(spec(**connector, "srv.pid")->effect, Effect::kIrreversible);
  EXPECT_EQ(spec(**connector, "srv.bad_name_x")->effect, Effect::kRead);

  auto typo = paged({{"effects", {{"remvoe", "read"}}}});
  ASSERT_FALSE(typo);
  EXPECT_EQ(typo.error().code, ErrorCode::kInvalidInput);
  EXPECT_NE(typo.error().message.find("did you mean 'remove'"), std::string::npos)
      << typo.error().message;
}

TEST_F(McpConnectorTest, ToolErrorsAndProtocolErrorsAreErrorsWithCodes) {
  auto connector = paged();
  ASSERT_TRUE(connector) << connector.error().message;
  auto failed = call(**connector, "srv.fail");
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_NE(failed.error().message.find("the disk is full"), std::string::npos);
  auto rejected = call(**connector, "srv.rpc_error");
  ASSERT_FALSE(rejected);
  EXPECT_EQ(rejected.error().code, ErrorCode::kInvalidInput);
  EXPECT_NE(rejected.error().message.find("id is required"), std::string::npos);
  auto unknown = call(**connector, "srv.nothing");
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code, ErrorCode::kNotFound);
  ActionCall dry;
  dry.action = "srv.remove";
  EXPECT_EQ((*connector)->dry_run(dry).error().code, ErrorCode::kNotFound);
  auto observed = (*connector)->observe();
  ASSERT_TRUE(observed);
  EXPECT_EQ(*observed, Json::object());
}

TEST_F(McpConnectorTest, AServerThatExitsIsUnavailableThenStartedAgain) {
  auto connector = paged();
  ASSERT_TRUE(connector) << connector.error().message;
  auto first = call(**connector, "srv.pid");
  ASSERT_TRUE(first) << first.error().message;
  auto gone = call(**connector, "srv.exit");
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(gone.error().message.find("exited with status 3"), std::string::npos)
      << gone.error().message;
  auto second = call(**connector, "srv.pid");
  ASSERT_TRUE(second) << second.error().message;
  EXPECT_NE((*first)["text"], (*second)["text"]) << "a new server process answers";
}

TEST_F(McpConnectorTest, ATimeoutCancelsTheRequest) {
  auto connector = paged({{"timeout_ms", 300}});
  ASSERT_TRUE(connector) << connector.error().message;
  auto hung = call(**connector, "srv.hang");
  ASSERT_FALSE(hung);
  EXPECT_EQ(hung.error().code, ErrorCode::kTimeout);
  EXPECT_NE(hung.error().message.find("timeout_ms"), std::string::npos);
  // The server reads its stdin in order: by the next call it has the notice.
  auto cancelled = call(**connector, "srv.cancelled");
  ASSERT_TRUE(cancelled) << cancelled.error().message;
  Json ids = Json::parse((*cancelled)["text"].get<std::string>());
  ASSERT_EQ(ids.size(), 1u) << ids;
  EXPECT_TRUE(ids[0].is_number_integer());
}

TEST_F(McpConnectorTest, ProgressIsPassedOnAndServerPingsAreAnswered) {
  auto connector = paged();
  ASSERT_TRUE(connector) << connector.error().message;
  auto done = call(**connector, "srv.progress");
  ASSERT_TRUE(done) << done.error().message;
  EXPECT_EQ((*done)["text"], "done");
  EXPECT_EQ(progress_, (std::vector<std::string>{"srv.progress 1", "srv.progress 2"}));
  auto pong = call(**connector, "srv.ping_me");
  ASSERT_TRUE(pong) << pong.error().message;
  EXPECT_EQ((*pong)["text"], "pong ok");
}

TEST_F(McpConnectorTest, CallsFromManyThreadsAreSentOneAtATime) {
  auto connector = paged();
  ASSERT_TRUE(connector) << connector.error().message;
  std::vector<std::string> said(8);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < said.size(); ++i) {
    threads.emplace_back([&, i] {
      auto result = call(**connector, "srv.echo", {{"text", "t" + std::to_string(i)}});
      said[i] = result ? (*result)["text"].get<std::string>() : result.error().message;
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (size_t i = 0; i < said.size(); ++i) EXPECT_EQ(said[i], "t" + std::to_string(i));
}

TEST_F(McpConnectorTest, AProgramThatDoesNotExistIsAClearError) {
  auto connector = make_mcp_connector(
      config("nope", {{"command", {"ergon-no-such-mcp-server", "--stdio"}}}), *vault_);
  ASSERT_FALSE(connector);
  EXPECT_EQ(connector.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(connector.error().message.find("cannot start 'ergon-no-such-mcp-server'"),
            std::string::npos)
      << connector.error().message;
}

TEST_F(McpConnectorTest, SettingsAreChecked) {
  EXPECT_TRUE(check_mcp_settings({{"command", {"node", "x.js"}}, {"args", {"--a"}}}));
  EXPECT_TRUE(
      check_mcp_settings({{"command", "node"}, {"env", {{"A", "1"}, {"B", {{"secret", "S"}}}}}}));
  auto message = [](const Json& settings) {
    auto ok = check_mcp_settings(settings);
    return ok ? std::string() : ok.error().message;
  };
  EXPECT_EQ(message(Json::object()).rfind("/command: missing", 0), 0u);
  EXPECT_EQ(message({{"command", Json::array()}}).rfind("/command:", 0), 0u);
  EXPECT_EQ(message({{"command", "node"}, {"timeout_ms", "10"}}).rfind("/timeout_ms:", 0), 0u);
  EXPECT_EQ(message({{"command", "node"}, {"trusted", "yes"}}).rfind("/trusted:", 0), 0u);
  EXPECT_EQ(message({{"command", "node"}, {"effects", {{"t", "delete"}}}}).rfind("/effects/t:", 0),
            0u);
  EXPECT_EQ(message({{"command", "node"}, {"env", {{"1A", "x"}}}}).rfind("/env/1A:", 0), 0u);
  EXPECT_NE(message({{"command", "node"}, {"comand", "x"}}).find("did you mean 'command'"),
            std::string::npos);
}

// ---------------------------------------------------------------------------
// A careless server (tests/mcp/odd_server.mjs): wrong types in its answers are
// errors naming the server and the field, never a crash; and what it inherits
// from ergon.

class McpOddServerTest : public McpConnectorTest {
 protected:
  Result<std::unique_ptr<Connector>> odd(Json extra = Json::object(),
                                         std::vector<std::string> args = {}) {
    Json command = {"node", testing::source_path("tests/mcp/odd_server.mjs")};
    for (const std::string& arg : args) command.push_back(arg);
    Json settings = {{"command", command}};
    for (const auto& [key, value] : extra.items()) settings[key] = value;
    McpOptions options;
    options.log_file = dir_.file("odd.log");
    return make_mcp_connector(config("odd", settings), *vault_, options);
  }
};

TEST_F(McpOddServerTest, AServerThatStopsReadingCannotBlockErgon) {
  auto connector = odd({{"trusted", true}, {"timeout_ms", 300}});
  ASSERT_TRUE(connector) << connector.error().message;
  auto deaf = call(**connector, "odd.deaf");
  ASSERT_FALSE(deaf);
  EXPECT_EQ(deaf.error().code, ErrorCode::kTimeout) << deaf.error().message;
  // Far more than a pipe holds: the write waits for room until the deadline,
  // then gives up on the server rather than hang the worker.
  auto big = call(**connector, "odd.env", {{"padding", std::string(4 << 20, 'x')}});
  ASSERT_FALSE(big);
  EXPECT_EQ(big.error().code, ErrorCode::kUnavailable) << big.error().message;
  EXPECT_NE(big.error().message.find("does not read its stdin"), std::string::npos)
      << big.error().message;
  // It is started again on the next call.
  auto again = call(**connector, "odd.fds");
  EXPECT_TRUE(again) << again.error().message;
}

TEST_F(McpOddServerTest, FieldsOfTheWrongTypeAreErrorsNotCrashes) {
  auto connector = odd({{"trusted", true}});
  ASSERT_TRUE(connector) << connector.error().message;
  EXPECT_TRUE(mcp_server_info(**connector)["serverInfo"].is_string());
  const ActionSpec* null_error = spec(**connector, "odd.null_error");
  ASSERT_NE(null_error, nullptr);
  EXPECT_EQ(null_error->description, "isError is null") << "a numeric description is ignored";
  EXPECT_EQ(null_error->effect, Effect::kIrreversible) << "annotations that are not an object";
  EXPECT_EQ(spec(**connector, "odd.string_error")->description, "");
  EXPECT_EQ(spec(**connector, "odd.odd_content")->effect, Effect::kIrreversible)
      << "hints that are not booleans";
  EXPECT_NE(testing::read_file(dir_.file("odd.log")).find("ignored its description"),
            std::string::npos);

  for (const char* tool : {"odd.null_error", "odd.string_error"}) {
    auto answered = call(**connector, tool);
    ASSERT_FALSE(answered) << tool;
    EXPECT_EQ(answered.error().code, ErrorCode::kInvalidInput) << answered.error().message;
    EXPECT_NE(answered.error().message.find("MCP server 'odd'"), std::string::npos)
        << answered.error().message;
    EXPECT_NE(answered.error().message.find("isError"), std::string::npos)
        << answered.error().message;
  }
  auto parts = call(**connector, "odd.odd_content");
  ASSERT_TRUE(parts) << parts.error().message;
  EXPECT_EQ((*parts)["text"], "fine") << "only text parts with text count";
}

TEST_F(McpOddServerTest, AProtocolVersionThatIsNotAStringIsAnError) {
  auto connector = odd({}, {"--bad-version"});
  ASSERT_FALSE(connector);
  EXPECT_EQ(connector.error().code, ErrorCode::kInvalidInput);
  EXPECT_NE(connector.error().message.find("MCP server 'odd'"), std::string::npos)
      << connector.error().message;
  EXPECT_NE(connector.error().message.find("protocolVersion 20251125"), std::string::npos)
      << connector.error().message;
}

TEST_F(McpOddServerTest, TheServerSeesOnlySafeVariablesAndItsOwnEnv) {
  // What ergon serve's environment holds: model keys, its token, vault entries.
  const std::vector<std::string> secrets = {"ERGON_TOKEN", "OPENAI_API_KEY",
                                            "ERGON_TEST_VAULT_SECRET", "npm_config__authToken"};
  for (const std::string& name : secrets) setenv(name.c_str(), "s3cret-value", 1);
  setenv("ERGON_TEST_PASSED_ON", "from-the-vault", 1);
  auto connector = odd({{"env",
                         {{"LOG_LEVEL", "debug"},
                          {"PASSED", {{"secret", "ERGON_TEST_PASSED_ON"}}},
                          {"PATH", "/usr/local/bin:/usr/bin:/bin"}}}});
  for (const std::string& name : secrets) unsetenv(name.c_str());
  unsetenv("ERGON_TEST_PASSED_ON");
  ASSERT_TRUE(connector) << connector.error().message;
  auto got = call(**connector, "odd.env");
  ASSERT_TRUE(got) << got.error().message;
  Json env = Json::parse((*got)["text"].get<std::string>());
  for (const std::string& name : secrets) EXPECT_FALSE(env.contains(name)) << name;
  EXPECT_EQ(env.dump().find("s3cret-value"), std::string::npos) << env.dump(2);
  EXPECT_EQ(env["LOG_LEVEL"], "debug");
  EXPECT_EQ(env["PASSED"], "from-the-vault") << "a variable is passed on by naming it in env";
  EXPECT_EQ(env["PATH"], "/usr/local/bin:/usr/bin:/bin") << "env: replaces an inherited one";
  if (getenv("HOME") != nullptr) {
    EXPECT_EQ(env["HOME"], getenv("HOME"));
  }
}

TEST_F(McpOddServerTest, TheServerInheritsNoFileDescriptorOfErgons) {
  // As a listening socket of ergon serve, or a file a library opened without
  // O_CLOEXEC.
  std::string marker = dir_.file("ergon-private-file");
  int fd = ::open(marker.c_str(), O_CREAT | O_WRONLY, 0600);
  ASSERT_GE(fd, 3);
  auto connector = odd();
  ::close(fd);
  ASSERT_TRUE(connector) << connector.error().message;
  auto got = call(**connector, "odd.fds");
  ASSERT_TRUE(got) << got.error().message;
  Json fds = Json::parse((*got)["text"].get<std::string>());
  for (const char* standard : {"0", "1", "2"}) EXPECT_TRUE(fds.contains(standard)) << fds.dump(2);
  EXPECT_FALSE(fds.contains(std::to_string(fd)) &&
               fds[std::to_string(fd)].get<std::string>() == marker)
      << fds.dump(2);
  EXPECT_EQ(fds.dump().find("ergon-private-file"), std::string::npos) << fds.dump(2);
}

TEST(McpEffect, AnnotationsMapToEffects) {
  Json read_only = {{"readOnlyHint", true}};
  Json destructive = {{"readOnlyHint", false}, {"destructiveHint", true}};
  EXPECT_EQ(mcp_tool_effect(read_only, true), Effect::kRead);
  EXPECT_EQ(mcp_tool_effect(read_only, false), Effect::kWrite);
  EXPECT_EQ(mcp_tool_effect(destructive, true), Effect::kIrreversible);
  EXPECT_EQ(mcp_tool_effect(destructive, false), Effect::kIrreversible);
  // The spec's defaults: readOnlyHint false, destructiveHint true.
  EXPECT_EQ(mcp_tool_effect(Json::object(), true), Effect::kIrreversible);
  EXPECT_EQ(mcp_tool_effect({{"readOnlyHint", false}}, true), Effect::kIrreversible);
  EXPECT_EQ(mcp_tool_effect({{"destructiveHint", false}}, true), Effect::kWrite);
  EXPECT_EQ(mcp_tool_effect({{"destructiveHint", "no"}}, true), Effect::kIrreversible)
      << "a hint that is not a boolean is no hint";
  EXPECT_EQ(mcp_tool_effect(Json::object(), false), Effect::kWrite);
  EXPECT_EQ(mcp_tool_effect({{"destructiveHint", false}}, false), Effect::kWrite);
  EXPECT_EQ(mcp_action_name("read_file"), "read_file");
  EXPECT_EQ(mcp_action_name("a.b/c d"), "a_b_c_d");
  EXPECT_EQ(mcp_action_name("2fa"), "_2fa");
}

// ---------------------------------------------------------------------------
// The reference servers from the npm registry.

TEST_F(McpConnectorTest, TheFilesystemServerReadsListsAndWritesFiles) {
  SKIP_WITHOUT_SERVERS();
  std::string root = fs::canonical(dir_.path()).string() + "/files";
  fs::create_directories(root);
  testing::write_file(root + "/note.txt", "hello from ergon\n");
  McpOptions options;
  options.log_file = dir_.file("fs.log");
  auto connector = make_mcp_connector(
      config("fs", {{"command", {"node", filesystem_server(), root}}, {"trusted", true}}), *vault_,
      options);
  ASSERT_TRUE(connector) << connector.error().message;
  EXPECT_EQ(mcp_server_info(**connector)["protocolVersion"], "2025-11-25");
  ASSERT_NE(spec(**connector, "fs.read_text_file"), nullptr);
  EXPECT_EQ(spec(**connector, "fs.read_text_file")->effect, Effect::kRead);
  EXPECT_EQ(spec(**connector, "fs.write_file")->effect, Effect::kIrreversible);
  EXPECT_EQ(spec(**connector, "fs.create_directory")->effect, Effect::kWrite);

  auto read = call(**connector, "fs.read_text_file", {{"path", root + "/note.txt"}});
  ASSERT_TRUE(read) << read.error().message;
  EXPECT_EQ((*read)["text"], "hello from ergon\n");
  auto wrote = call(**connector, "fs.write_file", {{"path", root + "/new.txt"}, {"content", "x1"}});
  ASSERT_TRUE(wrote) << wrote.error().message;
  EXPECT_EQ(testing::read_file(root + "/new.txt"), "x1");
  auto listed = call(**connector, "fs.list_directory", {{"path", root}});
  ASSERT_TRUE(listed) << listed.error().message;
  std::string text = (*listed)["text"];
  EXPECT_NE(text.find("[FILE] note.txt"), std::string::npos) << text;
  EXPECT_NE(text.find("[FILE] new.txt"), std::string::npos) << text;

  auto outside = call(**connector, "fs.read_text_file", {{"path", "/etc/hostname"}});
  ASSERT_FALSE(outside);
  EXPECT_EQ(outside.error().code, ErrorCode::kFailedPrecondition) << outside.error().message;
  EXPECT_NE(outside.error().message.find("ccess denied"), std::string::npos)
      << outside.error().message;
}

TEST_F(McpConnectorTest, TheEverythingServerListsAllItsToolsAndReportsProgress) {
  SKIP_WITHOUT_SERVERS();
  McpOptions options;
  options.log_file = dir_.file("everything.log");
  options.on_progress = [this](const std::string& action, const Json& progress) {
    progress_.push_back(action + " " + progress["progress"].dump());
  };
  auto connector = make_mcp_connector(
      config("ev", {{"command", {"node", everything_server(), "stdio"}}}), *vault_, options);
  ASSERT_TRUE(connector) << connector.error().message;
  EXPECT_GE((*connector)->actions().size(), 10u);
  auto echoed = call(**connector, "ev.echo", {{"message", "hi"}});
  ASSERT_TRUE(echoed) << echoed.error().message;
  EXPECT_NE((*echoed)["text"].get<std::string>().find("hi"), std::string::npos);
  auto done =
      call(**connector, "ev.trigger-long-running-operation", {{"duration", 0.2}, {"steps", 2}});
  ASSERT_TRUE(done) << done.error().message;
  EXPECT_EQ(progress_, (std::vector<std::string>{"ev.trigger-long-running-operation 1",
                                                 "ev.trigger-long-running-operation 2"}));
}

// A destructive tool of a real server goes through ergon's approval.
class McpEngineTest : public McpConnectorTest {
 protected:
  Status build(bool trusted) {
    root_ = fs::canonical(dir_.path()).string() + "/files";
    fs::create_directories(root_);
    testing::write_file(root_ + "/plan.txt", "v1");
    workspace_.dir = dir_.path();
    PolicyRule permit;
    permit.actions = "fs.*";
    workspace_.policy = Policy({permit});
    auto connector = make_mcp_connector(
        config("fs", {{"command", {"node", filesystem_server(), root_}}, {"trusted", trusted}}),
        *vault_, {});
    if (!connector) return fail(connector.error());
    connectors_.add(std::move(*connector));
    store_ = std::move(*open_sqlite_store(dir_.path() + "/ergon.db", clock_));
    guards_ = std::move(*make_guard_chain({}, workspace_.policy));
    return {};
  }

  Engine engine(Approver& approver) {
    return Engine(EngineParts{&workspace_, &connectors_, store_.get(), &approver, &clock_, &guards_,
                              vault_.get()});
  }

  Plan overwrite() const {
    Plan plan;
    plan.goal = "overwrite the plan";
    Step step;
    step.id = "write";
    step.action = "fs.write_file";
    step.with = {{"path", root_ + "/plan.txt"}, {"content", "v2"}};
    plan.steps.push_back(step);
    return plan;
  }

  std::string root_;
  Workspace workspace_;
  FakeClock clock_;
  ConnectorSet connectors_;
  std::unique_ptr<Store> store_;
  GuardChain guards_;
};

TEST_F(McpEngineTest, ADestructiveToolNeedsApprovalEvenFromAnUntrustedServer) {
  SKIP_WITHOUT_SERVERS();
  ASSERT_TRUE(build(false));
  auto deny = make_deny_approver("not today");
  auto denied = engine(*deny).start(overwrite(), "s-deny");
  ASSERT_TRUE(denied) << denied.error().message;
  EXPECT_EQ(denied->status, SessionStatus::kAborted);
  EXPECT_NE(denied->error.find("not approved"), std::string::npos) << denied->error;
  EXPECT_EQ(testing::read_file(root_ + "/plan.txt"), "v1") << "the tool must not run";

  auto approve = make_auto_approver();
  auto done = engine(*approve).start(overwrite(), "s-approve");
  ASSERT_TRUE(done) << done.error().message;
  EXPECT_EQ(done->status, SessionStatus::kDone) << done->error;
  EXPECT_EQ(testing::read_file(root_ + "/plan.txt"), "v2");
  EXPECT_TRUE(verify_session(*store_, "s-approve"));
}

TEST_F(McpEngineTest, AToolTheServerDoesNotHaveFailsWhenTheStepRuns) {
  SKIP_WITHOUT_SERVERS();
  ASSERT_TRUE(build(true));
  Plan plan = overwrite();
  plan.steps[0].action = "fs.shred_file";
  auto approve = make_auto_approver();
  auto report = engine(*approve).start(plan, "s-unknown");
  std::string error = report ? report->error : report.error().message;
  if (report) {
    EXPECT_NE(report->status, SessionStatus::kDone);
  }
  EXPECT_NE(error.find("fs.shred_file"), std::string::npos) << error;
  EXPECT_EQ(testing::read_file(root_ + "/plan.txt"), "v1");
}

// ---------------------------------------------------------------------------
// ergon.yaml

TEST_F(McpConnectorTest, AWorkspaceWithAnMcpConnectorLoadsAndBuilds) {
  SKIP_WITHOUT_SERVERS();
  std::string ws = dir_.path() + "/ws";
  fs::create_directories(ws + "/skills");
  fs::create_directories(ws + "/files");
  testing::write_file(ws + "/ergon.yaml",
                      "connectors:\n"
                      "  fs:\n"
                      "    kind: mcp\n"
                      "    command: [node, " +
                          filesystem_server() +
                          ", files]\n"
                          "    trusted: true\n"
                          "    timeout_ms: 10000\n"
                          "    effects: { create_directory: irreversible }\n");
  testing::write_file(ws + "/policy.yaml", "rules:\n  - permit: fs.*\n");
  testing::write_file(ws + "/skills/mkdir.yaml",
                      "name: make_folder\n"
                      "description: makes a folder\n"
                      "examples: [make a folder]\n"
                      "steps:\n"
                      "  - id: make\n"
                      "    do: fs.create_directory\n"
                      "    with: { path: files/made }\n");
  auto workspace = load_workspace(ws);
  ASSERT_TRUE(workspace) << workspace.error().message;
  EXPECT_TRUE(workspace->action_names().empty()) << "tools are known once the server runs";
  EXPECT_TRUE(workspace->action_known_at_run_time("fs.create_directory"));
  EXPECT_FALSE(workspace->action_known_at_run_time("other.create_directory"));
  auto connectors = build_connectors(*workspace, *vault_);
  ASSERT_TRUE(connectors) << connectors.error().message;
  auto found = connectors->find("fs.create_directory");
  ASSERT_TRUE(found) << found.error().message;
  EXPECT_EQ(found->second->effect, Effect::kIrreversible);
  EXPECT_TRUE(fs::exists(ws + "/.ergon/mcp/fs.log")) << "the server's stderr is kept";
}

TEST_F(McpConnectorTest, BadMcpSettingsInErgonYamlNameFileAndLine) {
  std::string ws = dir_.path() + "/bad";
  fs::create_directories(ws);
  auto error_for = [&](const std::string& yaml) {
    testing::write_file(ws + "/ergon.yaml", yaml);
    auto workspace = load_workspace(ws);
    return workspace ? std::string() : workspace.error().message;
  };
  std::string missing = error_for("connectors:\n  fs:\n    kind: mcp\n    trusted: true\n");
  EXPECT_NE(missing.find("ergon.yaml:2"), std::string::npos) << missing;
  EXPECT_NE(missing.find("command"), std::string::npos) << missing;
  std::string timeout = error_for(
      "connectors:\n  fs:\n    kind: mcp\n    command: [node, s.js]\n    timeout_ms: soon\n");
  EXPECT_NE(timeout.find("ergon.yaml:5"), std::string::npos) << timeout;
  EXPECT_NE(timeout.find("timeout_ms"), std::string::npos) << timeout;
  std::string actions =
      error_for("connectors:\n  fs:\n    kind: mcp\n    command: [node, s.js]\n    actions: {}\n");
  EXPECT_NE(actions.find("ergon.yaml:5"), std::string::npos) << actions;
  EXPECT_NE(actions.find("remove `actions`"), std::string::npos) << actions;
}

}  // namespace
}  // namespace ergon
