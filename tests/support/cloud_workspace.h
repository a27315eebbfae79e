// Test support for end-to-end tests of the cloud-cost example: each test gets
// its own copy of examples/cloud-cost (without its .ergon state) and its own
// acme-cloud service on a free port that accepts one bearer token.
// Header-only: it uses cpp-httplib, which the test binaries link and the
// support library does not.
#pragma once

#include <gtest/gtest.h>
#include <httplib.h>

#include <filesystem>
#include <string>
#include <utility>

#include "ergon/json.h"
#include "support/process.h"

namespace ergon::testing {

class CloudWorkspaceTest : public ::testing::Test {
 protected:
  explicit CloudWorkspaceTest(std::string token)
      : token_(std::move(token)), cloud_({"--token", token_}) {
    workspace_ = dir_.file("ws");
    copy_tree(source_path("examples/cloud-cost"), workspace_);
    std::filesystem::remove_all(workspace_ + "/.ergon");
  }

  // What ergon needs to reach the service: ACME_CLOUD_URL and ACME_CLOUD_TOKEN.
  RunOptions cloud_options() const {
    RunOptions o;
    o.env = {{"ACME_CLOUD_URL", cloud_.url()}, {"ACME_CLOUD_TOKEN", token_}};
    return o;
  }

  // GET `path` from the service, with the token; null (and a test failure)
  // when the request cannot be made.
  Json get(const std::string& path) const {
    httplib::Client client(cloud_.url());
    client.set_bearer_token_auth(token_);
    auto response = client.Get(path.c_str());
    EXPECT_TRUE(response) << path;
    if (!response) return Json();
    return Json::parse(response->body);
  }

  const std::string token_;
  TempDir dir_;
  AcmeCloud cloud_;
  std::string workspace_;
};

}  // namespace ergon::testing
