// The built-in approvers: a terminal, "yes" (--yes) and none.

#include <cctype>
#include <istream>
#include <ostream>

#include "ergon/approver.h"

namespace ergon {

namespace {

// Prompts for an unrecognised answer before giving up.
constexpr int kMaxTries = 3;

std::string trim_lower(const std::string& text) {
  size_t begin = 0, end = text.size();
  while (begin < end && std::isspace(static_cast<unsigned char>(text[begin]))) ++begin;
  while (end > begin && std::isspace(static_cast<unsigned char>(text[end - 1]))) --end;
  std::string out = text.substr(begin, end - begin);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string trim(const std::string& text) {
  size_t begin = 0, end = text.size();
  while (begin < end && std::isspace(static_cast<unsigned char>(text[begin]))) ++begin;
  while (end > begin && std::isspace(static_cast<unsigned char>(text[end - 1]))) --end;
  return text.substr(begin, end - begin);
}

// Pretty JSON; invalid UTF-8 is replaced rather than thrown over.
std::string pretty(const Json& value) {
  return value.dump(2, ' ', false, Json::error_handler_t::replace);
}

// Each line of `text` indented by `indent`.
std::string indented(const std::string& text, const std::string& indent) {
  std::string out = indent;
  for (char c : text) {
    out += c;
    if (c == '\n') out += indent;
  }
  return out;
}

std::string slot_hint(const QuestionRequest& request) {
  return "--slot " + (request.slot.empty() ? std::string("NAME") : request.slot) + "=VALUE";
}

class TerminalApprover final : public Approver {
 public:
  TerminalApprover(std::istream& in, std::ostream& out) : in_(in), out_(out) {}

  Result<ApprovalDecision> approve(const ApprovalRequest& request) override {
    out_ << "\n── approval needed ──────────────────────────────\n";
    if (!request.step.empty()) out_ << "step:    " << request.step << "\n";
    out_ << "action:  " << request.action << "\n";
    out_ << "effect:  " << to_string(request.effect) << "\n";
    if (!request.reason.empty()) out_ << "reason:  " << request.reason << "\n";
    if (request.needs_person) {
      out_ << "NOTE:    a language model proposed this; it is not in the plan you approved\n";
    }
    out_ << "args:\n" << indented(pretty(request.args), "  ") << "\n";
    if (!request.preview.is_null()) {
      out_ << "preview:\n" << indented(pretty(request.preview), "  ") << "\n";
    }
    for (int attempt = 1; attempt <= kMaxTries; ++attempt) {
      if (request.needs_person) {
        out_ << "Approve? [y]es / [n]o: ";
      } else {
        out_ << "Approve? [y]es / [n]o / [a]ll " << request.action << " this session: ";
      }
      out_.flush();
      std::string line;
      if (!std::getline(in_, line)) {
        out_ << "\n";
        return ApprovalDecision{ApprovalAnswer::kNo, "terminal", "no answer (input closed)"};
      }
      std::string answer = trim_lower(line);
      if (answer == "y" || answer == "yes") {
        return ApprovalDecision{ApprovalAnswer::kYes, "terminal", "approved at the terminal"};
      }
      if (answer == "n" || answer == "no") {
        return ApprovalDecision{ApprovalAnswer::kNo, "terminal", "declined at the terminal"};
      }
      // A model's unplanned action is approved one at a time.
      if ((answer == "a" || answer == "all") && !request.needs_person) {
        return ApprovalDecision{
            ApprovalAnswer::kYesToAll, "terminal",
            "approved at the terminal for every " + request.action + " this session"};
      }
      out_ << (request.needs_person ? "Please answer y or n.\n" : "Please answer y, n or a.\n");
    }
    return ApprovalDecision{ApprovalAnswer::kNo, "terminal",
                            "no clear answer after " + std::to_string(kMaxTries) + " tries"};
  }

  Result<std::string> answer(const QuestionRequest& request) override {
    out_ << "\n" << request.text << "\n";
    if (!request.choices.empty()) {
      out_ << "choices:";
      for (size_t i = 0; i < request.choices.size(); ++i) {
        out_ << (i == 0 ? " " : ", ") << request.choices[i];
      }
      out_ << "\n";
    }
    for (int attempt = 1; attempt <= kMaxTries; ++attempt) {
      out_ << "> ";
      out_.flush();
      std::string line;
      if (!std::getline(in_, line)) {
        out_ << "\n";
        return fail(ErrorCode::kUnavailable, "no answer to \"" + request.text +
                                                 "\" (input closed): give the value with " +
                                                 slot_hint(request));
      }
      std::string answer = trim(line);
      if (request.choices.empty()) {
        if (!answer.empty()) return answer;
        out_ << "Please type an answer.\n";
        continue;
      }
      // A choice matches case-insensitively; the canonical spelling is returned.
      for (const std::string& choice : request.choices) {
        if (trim_lower(choice) == trim_lower(answer)) return choice;
      }
      out_ << "Please answer one of the choices.\n";
    }
    return fail(ErrorCode::kInvalidInput, "no valid answer to \"" + request.text + "\" after " +
                                              std::to_string(kMaxTries) +
                                              " tries: give the value with " + slot_hint(request));
  }

 private:
  std::istream& in_;
  std::ostream& out_;
};

class AutoApprover final : public Approver {
 public:
  Result<ApprovalDecision> approve(const ApprovalRequest& request) override {
    if (request.needs_person) {
      return ApprovalDecision{ApprovalAnswer::kNo, "--yes",
                              "--yes does not cover " + request.action +
                                  ": a language model proposed it outside the approved plan, and "
                                  "only a person at a terminal can approve that"};
    }
    return ApprovalDecision{ApprovalAnswer::kYes, "--yes",
                            "approved by --yes: " + request.action + " is within policy"};
  }
  Result<std::string> answer(const QuestionRequest& request) override {
    return fail(ErrorCode::kUnavailable,
                "no person to answer: run without --yes in a terminal or give the value with " +
                    slot_hint(request) + " (question: \"" + request.text + "\")");
  }
};

class DenyApprover final : public Approver {
 public:
  explicit DenyApprover(std::string reason)
      : reason_(reason.empty() ? "approvals are off (approvals: none), so nobody can approve"
                               : std::move(reason)) {}
  Result<ApprovalDecision> approve(const ApprovalRequest&) override {
    return ApprovalDecision{ApprovalAnswer::kNo, "none", reason_};
  }
  Result<std::string> answer(const QuestionRequest& request) override {
    return fail(ErrorCode::kUnavailable,
                "no person to answer: approvals are off; give the value with " +
                    slot_hint(request) + " (question: \"" + request.text + "\")");
  }

 private:
  std::string reason_;
};

}  // namespace

std::unique_ptr<Approver> make_terminal_approver(std::istream& in, std::ostream& out) {
  return std::make_unique<TerminalApprover>(in, out);
}
std::unique_ptr<Approver> make_auto_approver() {
  return std::make_unique<AutoApprover>();
}
std::unique_ptr<Approver> make_deny_approver(std::string reason) {
  return std::make_unique<DenyApprover>(std::move(reason));
}

}  // namespace ergon
