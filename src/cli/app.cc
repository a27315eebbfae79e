#include "cli/app.h"

#include <unistd.h>

#include <iostream>

#include "cli/console.h"

namespace ergon::cli {

Result<std::unique_ptr<Session>> open_store(const std::string& dir) {
  auto session = std::make_unique<Session>();
  auto workspace = load_workspace(dir);
  if (!workspace) return fail(workspace.error());
  session->workspace = std::move(*workspace);
  auto store = open_sqlite_store(session->workspace.store_path, session->clock);
  if (!store) return fail(store.error());
  session->store = std::move(*store);
  return session;
}

namespace {

std::unique_ptr<Approver> pick_approver(const ApprovalChoice& choice, const Workspace& workspace) {
  std::string mode = choice.yes ? "auto" : choice.approver;
  if (mode.empty()) {
    if (isatty(STDIN_FILENO)) {
      mode = workspace.approvals == "none" ? "none" : "terminal";
    } else if (workspace.approvals == "auto") {
      mode = "auto";
    } else {
      return make_deny_approver("no terminal to ask and --yes not given");
    }
  }
  if (mode == "auto") return make_auto_approver();
  if (mode == "none") return make_deny_approver("approvals are off (approver: none)");
  return make_terminal_approver(std::cin, std::cout);
}

}  // namespace

Result<std::unique_ptr<Session>> open_session(const std::string& dir, const ApprovalChoice& choice,
                                              bool verbose) {
  auto opened = open_store(dir);
  if (!opened) return opened;
  Session& s = **opened;
  auto vault = Vault::open(s.workspace.vault_file);
  if (!vault) return fail(vault.error());
  s.vault = std::move(*vault);
  auto connectors = build_connectors(s.workspace, *s.vault);
  if (!connectors) return fail(connectors.error());
  s.connectors = std::move(*connectors);
  auto guards = make_guard_chain(s.workspace.guards, s.workspace.policy);
  if (!guards) return fail(guards.error());
  s.guards = std::move(*guards);
  s.approver = pick_approver(choice, s.workspace);
  if (s.workspace.model) {
    auto model = make_openai_client(*s.workspace.model, s.clock, *s.vault);
    if (!model) return fail(model.error().with_context("ergon.yaml: model: "));
    s.model = std::move(*model);
  }
  s.engine = std::make_unique<Engine>(EngineParts{&s.workspace, &s.connectors, s.store.get(),
                                                  s.approver.get(), &s.clock, &s.guards,
                                                  s.vault.get(), s.model.get()});
  if (verbose) s.engine->on_event([](const Event& e) { print_event(std::cout, e); });
  return opened;
}

int exit_code_for(const SessionReport& report) {
  switch (report.status) {
    case SessionStatus::kDone: return kExitOk;
    case SessionStatus::kWaiting: return kExitWaiting;
    default: return kExitFailed;
  }
}

int report_error(const Error& error) {
  std::cerr << "ergon: " << error.message << "\n";
  return ergon::exit_code_for(error);
}

}  // namespace ergon::cli
