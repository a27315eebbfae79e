// `ergon serve` with a browser connector: the care-portal example's skill
// runs on a real Server on port 0 against the CarePoint portal in a real
// headless Chromium, and each irreversible click waits in the approvals queue
// with the browser's screenshot of the page it would change, served at
// GET /v1/approvals/{id}/screenshot.
#include <gtest/gtest.h>
#include <httplib.h>
#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <utility>

#include "ergon/json.h"
#include "ergon/serve.h"
#include "support/care_portal.h"
#include "support/process.h"
#include "support/serve_workspace.h"

namespace ergon {
namespace {

namespace fs = std::filesystem;

constexpr const char* kMember = "MBR-123456";
constexpr std::string_view kPngSignature("\x89PNG\r\n\x1a\n", 8);

class ServeBrowserTest : public ::testing::Test, protected testing::ServeApi {
 protected:
  ServeBrowserTest() : password_(testing::random_password()), date_(testing::days_from_today(7)) {
    workspace_ = dir_.file("ws");
    testing::copy_tree(testing::source_path("examples/care-portal"), workspace_);
    fs::remove_all(workspace_ + "/.ergon");
    add_tokens(workspace_,
               {{"alice", Role::kOperator}, {"bob", Role::kApprover}, {"vic", Role::kViewer}});
  }

  void SetUp() override {
    portal_ = std::make_unique<testing::CarePortal>(
        std::vector<std::string>{"--layout", "v1"},
        std::map<std::string, std::string>{{"CARE_PORTAL_PASSWORD", password_}});
    // The workspace's browser connector reads these through the vault
    // (environment); its ergon.yaml already asks for a headless Chromium.
    setenv("CARE_PORTAL_URL", portal_->url().c_str(), 1);
    setenv("CARE_PORTAL_PASSWORD", password_.c_str(), 1);
    ServerOptions options;
    options.workspace_dir = workspace_;
    options.workers = 1;
    server_ = std::make_unique<Server>(options);
    auto started = server_->start();
    ASSERT_TRUE(started) << started.error().message;
    ASSERT_GT(server_->port(), 0);
  }

  void TearDown() override {
    if (server_) server_->stop();  // closes the workers' browsers
  }

  // The session runs on a worker thread, driving a real browser.
  static bool eventually(const std::function<bool()>& ready) {
    return ServeApi::eventually(ready, std::chrono::seconds(90));
  }

  // The pending approval of `session` at `step`, once asked; null otherwise
  // (and a test failure).
  Json pending_approval(const std::string& session, const std::string& step) const {
    Json found;
    bool ok = eventually([&] {
      Json list = api_get("vic", "/v1/approvals");
      for (const Json& a : list["approvals"]) {
        if (a["session"] == session && a["step"] == step) found = a;
      }
      if (found.is_object()) return true;
      // A session that ended, or waits for answers, will not ask.
      auto r = client("vic").Get(("/v1/sessions/" + session).c_str());
      if (!r || r->status != 200) return false;
      Json s = Json::parse(r->body, nullptr, false);
      std::string status = s.is_object() ? s.value("status", std::string()) : "";
      return status != "running" && status != "queued" && !s.value("busy", true);
    });
    EXPECT_TRUE(ok && found.is_object())
        << "no approval for " << step << ": " << api_get("vic", "/v1/sessions/" + session).dump();
    return found;
  }

  httplib::Result approve(const Json& approval) const {
    return post(
        "bob", "/v1/approvals/" + approval["id"].get<std::string>(),
        {{"decision", "approve"}, {"reason", "checked the page"}, {"hash", approval["hash"]}});
  }

  // Checks that `approval` names its screenshot and that the route serves the
  // PNG the browser wrote.
  void expect_screenshot(const Json& approval) const {
    const std::string id = approval["id"].get<std::string>();
    const std::string url = "/v1/approvals/" + id + "/screenshot";
    ASSERT_TRUE(approval.contains("screenshot_url")) << approval.dump();
    EXPECT_EQ(approval["screenshot_url"], url);

    auto shot = client("vic").Get(url.c_str());
    ASSERT_TRUE(shot) << url;
    ASSERT_EQ(shot->status, 200) << shot->body;
    EXPECT_EQ(shot->get_header_value("Content-Type"), "image/png");
    ASSERT_GE(shot->body.size(), kPngSignature.size());
    EXPECT_EQ(std::string_view(shot->body).substr(0, kPngSignature.size()), kPngSignature);
    // A rendered page, not an empty image, and not something unbounded.
    EXPECT_GT(shot->body.size(), 2000u);
    EXPECT_LT(shot->body.size(), 20u << 20);
    // The bytes are the file the browser connector wrote for the preview.
    ASSERT_TRUE(approval["preview"]["screenshot"].is_string()) << approval.dump();
    EXPECT_EQ(shot->body, testing::read_file(approval["preview"]["screenshot"]));
  }

  testing::TempDir dir_;
  std::string password_;
  std::string date_;
  std::string workspace_;
  std::unique_ptr<testing::CarePortal> portal_;
};

TEST_F(ServeBrowserTest, ABrowserStepsApprovalCarriesTheBrowsersScreenshot) {
  auto created =
      post("alice", "/v1/sessions",
           {{"goal", "Get Jane Doe's lumbar spine MRI (CPT 72148, member " + std::string(kMember) +
                         ") pre-authorised and booked " + "in-network on " + date_},
            {"slots",
             {{"patient", "Jane Doe"},
              {"member_id", kMember},
              {"cpt_code", "72148"},
              {"preferred_date", date_}}}});
  ASSERT_TRUE(created);
  ASSERT_EQ(created->status, 201) << created->body;
  const std::string session = Json::parse(created->body).value("id", std::string());
  ASSERT_FALSE(session.empty()) << created->body;

  // Submitting the pre-authorisation is irreversible: it waits for a person,
  // with the page it would submit.
  Json submit = pending_approval(session, "submit");
  ASSERT_TRUE(submit.is_object());
  EXPECT_EQ(submit["action"], "portal.click");
  EXPECT_EQ(submit["effect"], "irreversible");
  expect_screenshot(submit);

  const std::string url = submit["screenshot_url"].get<std::string>();
  auto anonymous = client("").Get(url.c_str());
  ASSERT_TRUE(anonymous);
  EXPECT_EQ(anonymous->status, 401) << anonymous->body;
  EXPECT_EQ(anonymous->body.find(kPngSignature), std::string::npos);
  auto unknown = client("vic").Get("/v1/approvals/no-such-approval/screenshot");
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, 404) << unknown->body;

  auto r = approve(submit);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  // A decided approval has left the queue, and its screenshot with it.
  auto gone = client("vic").Get(url.c_str());
  ASSERT_TRUE(gone);
  EXPECT_EQ(gone->status, 404) << gone->body;

  // Confirming the appointment is the second irreversible click.
  Json confirm = pending_approval(session, "confirm");
  ASSERT_TRUE(confirm.is_object());
  EXPECT_NE(confirm["id"], submit["id"]);
  expect_screenshot(confirm);
  r = approve(confirm);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;

  ASSERT_TRUE(eventually([&] {
    Json s = api_get("vic", "/v1/sessions/" + session);
    return s.value("status", std::string()) == "done" && !s.value("busy", true);
  })) << api_get("vic", "/v1/sessions/" + session).dump();
  Json report = api_get("vic", "/v1/sessions/" + session)["report"];
  EXPECT_EQ(report["approvals_granted"], 2) << report.dump();
  Json booked = portal_->state().value("appointments", Json::array());
  ASSERT_EQ(booked.size(), 1u) << booked.dump();
  EXPECT_EQ(booked[0].value("member_id", ""), kMember);
  EXPECT_EQ(booked[0].value("date", ""), date_);
}

}  // namespace
}  // namespace ergon
