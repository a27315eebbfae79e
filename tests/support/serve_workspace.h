// Test support for tests of `ergon serve`: ServeApi calls a real Server's
// HTTP API as one of the workspace's token holders; ServeWorkspaceTest is a
// CloudWorkspaceTest (the cloud-cost example) with four tokens (alice the
// operator, bob the approver, carol the admin, vic the viewer) and a Server
// on port 0 started on demand.
// Header-only: it uses cpp-httplib, which the test binaries link and the
// support library does not.
#pragma once

#include <gtest/gtest.h>
#include <httplib.h>
#include <stdlib.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "ergon/json.h"
#include "ergon/serve.h"
#include "support/cloud_workspace.h"

namespace ergon::testing {

// A Server under test and its callers' tokens.
class ServeApi {
 protected:
  // Adds a token per name to the workspace's tokens file.
  void add_tokens(const std::string& workspace,
                  const std::vector<std::pair<std::string, Role>>& holders) {
    std::string tokens = default_tokens_path(workspace);
    for (const auto& [name, role] : holders) {
      auto secret = add_token(tokens, name, role, 0);
      EXPECT_TRUE(secret) << secret.error().message;
      if (secret) secrets_[name] = *secret;
    }
  }

  // A client of the server with `who`'s token; none when `who` is "".
  httplib::Client client(const std::string& who) const {
    httplib::Client c("127.0.0.1", server_->port());
    if (!who.empty()) c.set_bearer_token_auth(secrets_.at(who));
    c.set_read_timeout(30, 0);
    return c;
  }

  httplib::Result post(const std::string& who, const std::string& path, const Json& body) const {
    return client(who).Post(path.c_str(), body.dump(), "application/json");
  }

  // GET `path` as `who`, expecting 200; null (and a test failure) otherwise.
  Json api_get(const std::string& who, const std::string& path) const {
    auto r = client(who).Get(path.c_str());
    EXPECT_TRUE(r) << path;
    if (!r) return Json();
    EXPECT_EQ(r->status, 200) << path << ": " << r->body;
    return Json::parse(r->body, nullptr, false);
  }

  // Polls until `ready` holds (sessions run on worker threads) or `limit`
  // passes.
  static bool eventually(const std::function<bool()>& ready,
                         std::chrono::seconds limit = std::chrono::seconds(60)) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
      if (ready()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }

  std::map<std::string, std::string> secrets_;  // token name → secret
  std::unique_ptr<Server> server_;
};

class ServeWorkspaceTest : public CloudWorkspaceTest, protected ServeApi {
 protected:
  // The goal the cloud-cost example's skill fits.
  static constexpr const char* kGoal =
      "Cut our monthly cloud spend by 15% without touching production";

  explicit ServeWorkspaceTest(std::string cloud_token)
      : CloudWorkspaceTest(std::move(cloud_token)) {
    // The workspace's connector reads these through the vault (environment).
    setenv("ACME_CLOUD_URL", cloud_.url().c_str(), 1);
    setenv("ACME_CLOUD_TOKEN", token_.c_str(), 1);
    add_tokens(workspace_, {{"alice", Role::kOperator},
                            {"bob", Role::kApprover},
                            {"carol", Role::kAdmin},
                            {"vic", Role::kViewer}});
  }

  void start_server(bool four_eyes = false) {
    ServerOptions options;
    options.workspace_dir = workspace_;
    options.workers = 2;
    options.four_eyes = four_eyes;
    server_ = std::make_unique<Server>(options);
    auto started = server_->start();
    ASSERT_TRUE(started) << started.error().message;
    ASSERT_GT(server_->port(), 0);
  }

  // Creates a session for kGoal as `who`; its id, or "" (and a test failure).
  std::string create(const std::string& who) const {
    auto r = post(who, "/v1/sessions", {{"goal", kGoal}});
    EXPECT_TRUE(r);
    if (!r) return "";
    EXPECT_EQ(r->status, 201) << r->body;
    return Json::parse(r->body).value("id", std::string());
  }

  // The session's journal verifies and holds exactly one approval: granted
  // by `who`, with `reason`.
  void expect_one_approval(const std::string& session, const std::string& who,
                           const std::string& reason) const {
    Json audit = api_get("vic", "/v1/sessions/" + session + "/audit");
    EXPECT_TRUE(audit["chain"]["ok"].get<bool>()) << audit["chain"].dump();
    int approvals = 0;
    for (const Json& e : audit["events"]) {
      if (e["type"] != "approval") continue;
      ++approvals;
      EXPECT_EQ(e["data"]["by"], who);
      EXPECT_EQ(e["data"]["reason"], reason);
      EXPECT_TRUE(e["data"]["approved"].get<bool>());
    }
    EXPECT_EQ(approvals, 1);
  }
};

}  // namespace ergon::testing
