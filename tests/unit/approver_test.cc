#include "ergon/approver.h"

#include <gtest/gtest.h>

#include <sstream>
#include <string>

namespace ergon {
namespace {

ApprovalRequest stop_request() {
  ApprovalRequest request;
  request.session = "s1";
  request.step = "stop";
  request.action = "cloud.stop_instance";
  request.effect = Effect::kIrreversible;
  request.args = {{"id", "i-42"}, {"env", "dev"}};
  request.reason = "irreversible action needs a person's approval";
  return request;
}

size_t count(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

struct Terminal {
  explicit Terminal(const std::string& input)
      : in(input), approver(make_terminal_approver(in, out)) {}
  std::istringstream in;
  std::ostringstream out;
  std::unique_ptr<Approver> approver;
};

TEST(TerminalApprover, PrintsTheRequestAndAcceptsYes) {
  Terminal terminal("y\n");
  ApprovalRequest request = stop_request();
  request.preview = {{"would_stop", "i-42"}};
  auto decision = terminal.approver->approve(request);
  ASSERT_TRUE(decision);
  EXPECT_EQ(decision->answer, ApprovalAnswer::kYes);
  EXPECT_TRUE(decision->approved());
  EXPECT_EQ(decision->by, "terminal");
  const std::string shown = terminal.out.str();
  EXPECT_NE(shown.find("stop"), std::string::npos);
  EXPECT_NE(shown.find("cloud.stop_instance"), std::string::npos);
  EXPECT_NE(shown.find("irreversible"), std::string::npos);
  EXPECT_NE(shown.find("irreversible action needs a person's approval"), std::string::npos);
  EXPECT_NE(shown.find("\"id\": \"i-42\""), std::string::npos) << shown;  // pretty-printed
  EXPECT_NE(shown.find("preview"), std::string::npos);
  EXPECT_NE(shown.find("would_stop"), std::string::npos);
  EXPECT_NE(shown.find("Approve? [y]es / [n]o / [a]ll cloud.stop_instance this session: "),
            std::string::npos);
}

TEST(TerminalApprover, OmitsPreviewWhenNull) {
  Terminal terminal("yes\n");
  auto decision = terminal.approver->approve(stop_request());
  ASSERT_TRUE(decision);
  EXPECT_EQ(decision->answer, ApprovalAnswer::kYes);
  EXPECT_EQ(terminal.out.str().find("preview"), std::string::npos);
}

TEST(TerminalApprover, InvalidUtf8InArgumentsIsShownNotThrownOver) {
  Terminal terminal("y\n");
  ApprovalRequest request = stop_request();
  request.args["note"] = std::string("bad \xff byte");
  auto decision = terminal.approver->approve(request);
  ASSERT_TRUE(decision);
  EXPECT_EQ(decision->answer, ApprovalAnswer::kYes);
  EXPECT_NE(terminal.out.str().find("\"note\""), std::string::npos);
}

TEST(TerminalApprover, No) {
  Terminal terminal("n\n");
  auto decision = terminal.approver->approve(stop_request());
  ASSERT_TRUE(decision);
  EXPECT_EQ(decision->answer, ApprovalAnswer::kNo);
  EXPECT_FALSE(decision->approved());
  EXPECT_EQ(decision->by, "terminal");
}

TEST(TerminalApprover, AllMeansYesToAll) {
  Terminal terminal("  ALL \n");
  auto decision = terminal.approver->approve(stop_request());
  ASSERT_TRUE(decision);
  EXPECT_EQ(decision->answer, ApprovalAnswer::kYesToAll);
  EXPECT_TRUE(decision->approved());
}

TEST(TerminalApprover, GarbageRepromptsThenYes) {
  Terminal terminal("maybe\ny\n");
  auto decision = terminal.approver->approve(stop_request());
  ASSERT_TRUE(decision);
  EXPECT_EQ(decision->answer, ApprovalAnswer::kYes);
  EXPECT_EQ(count(terminal.out.str(), "Approve? "), 2u);
}

TEST(TerminalApprover, GivesUpAsNoAfterThreeUnclearAnswers) {
  Terminal terminal("maybe\nsure\nok\ny\n");
  auto decision = terminal.approver->approve(stop_request());
  ASSERT_TRUE(decision);
  EXPECT_EQ(decision->answer, ApprovalAnswer::kNo);
  EXPECT_EQ(count(terminal.out.str(), "Approve? "), 3u);
}

TEST(TerminalApprover, ClosedInputIsNo) {
  Terminal terminal("");
  auto decision = terminal.approver->approve(stop_request());
  ASSERT_TRUE(decision);
  EXPECT_EQ(decision->answer, ApprovalAnswer::kNo);
  EXPECT_EQ(decision->reason, "no answer (input closed)");
}

TEST(TerminalApprover, AnswersAQuestion) {
  Terminal terminal("  15%  \n");
  QuestionRequest question{"s1", "target_pct", "By how much should monthly spend drop?", {}};
  auto answer = terminal.approver->answer(question);
  ASSERT_TRUE(answer) << answer.error().message;
  EXPECT_EQ(*answer, "15%");
  EXPECT_NE(terminal.out.str().find("By how much should monthly spend drop?"), std::string::npos);
}

TEST(TerminalApprover, QuestionShowsChoicesAndReturnsTheCanonicalOne) {
  Terminal terminal("paris\nBerlin\n");
  QuestionRequest question{"s1", "city", "Which office?", {"Berlin", "Lisbon"}};
  auto answer = terminal.approver->answer(question);
  ASSERT_TRUE(answer) << answer.error().message;
  EXPECT_EQ(*answer, "Berlin");
  EXPECT_NE(terminal.out.str().find("Berlin, Lisbon"), std::string::npos);
}

TEST(TerminalApprover, QuestionWithClosedInputIsUnavailable) {
  Terminal terminal("");
  auto answer = terminal.approver->answer({"s1", "account", "Which account?", {}});
  ASSERT_FALSE(answer);
  EXPECT_EQ(answer.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(answer.error().message.find("--slot account="), std::string::npos);
}

TEST(AutoApprover, NeverApprovesWhatOnlyAPersonMay) {
  auto approver = make_auto_approver();
  ApprovalRequest request = stop_request();
  request.needs_person = true;
  auto decision = approver->approve(request);
  ASSERT_TRUE(decision);
  EXPECT_FALSE(decision->approved());
  EXPECT_EQ(decision->by, "--yes");
  EXPECT_NE(decision->reason.find("only a person"), std::string::npos) << decision->reason;
}

TEST(TerminalApprover, AModelsUnplannedActionIsApprovedOneAtATime) {
  ApprovalRequest request = stop_request();
  request.needs_person = true;
  Terminal all("a\nall\nn\n");
  auto decision = all.approver->approve(request);
  ASSERT_TRUE(decision);
  EXPECT_EQ(decision->answer, ApprovalAnswer::kNo);
  EXPECT_NE(all.out.str().find("not in the plan you approved"), std::string::npos) << all.out.str();
  EXPECT_EQ(count(all.out.str(), "Please answer y or n."), 2u) << all.out.str();

  Terminal yes("y\n");
  auto approved = yes.approver->approve(request);
  ASSERT_TRUE(approved);
  EXPECT_EQ(approved->answer, ApprovalAnswer::kYes);
}

TEST(AutoApprover, ApprovesAndCannotAnswer) {
  auto approver = make_auto_approver();
  auto decision = approver->approve(stop_request());
  ASSERT_TRUE(decision);
  EXPECT_EQ(decision->answer, ApprovalAnswer::kYes);
  EXPECT_EQ(decision->by, "--yes");
  auto answer = approver->answer({"s1", "target_pct", "By how much?", {}});
  ASSERT_FALSE(answer);
  EXPECT_EQ(answer.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(answer.error().message.find(
                "no person to answer: run without --yes in a terminal or give the value with "
                "--slot"),
            std::string::npos)
      << answer.error().message;
}

TEST(DenyApprover, DeniesWithItsReason) {
  auto approver = make_deny_approver("approvals are 'none' in ergon.yaml");
  auto decision = approver->approve(stop_request());
  ASSERT_TRUE(decision);
  EXPECT_EQ(decision->answer, ApprovalAnswer::kNo);
  EXPECT_EQ(decision->by, "none");
  EXPECT_EQ(decision->reason, "approvals are 'none' in ergon.yaml");
  auto answer = approver->answer({"s1", "", "Which account?", {}});
  ASSERT_FALSE(answer);
  EXPECT_EQ(answer.error().code, ErrorCode::kUnavailable);
}

}  // namespace
}  // namespace ergon
