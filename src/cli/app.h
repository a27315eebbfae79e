// Shared plumbing of the ergon subcommands: opening a workspace with its
// store, connectors, guards and approver, and running a session.
#pragma once

#include <memory>
#include <string>

#include "ergon/approver.h"
#include "ergon/clock.h"
#include "ergon/connector.h"
#include "ergon/engine.h"
#include "ergon/guard.h"
#include "ergon/journal.h"
#include "ergon/model.h"
#include "ergon/vault.h"
#include "ergon/workspace.h"

namespace ergon::cli {

// How a person is reached for approvals: --yes, --approver, or the terminal
// when there is one.
struct ApprovalChoice {
  bool yes = false;
  std::string approver;  // "", terminal, auto, none
};

// A workspace opened for running sessions. Members are built in order and
// destroyed in reverse.
struct Session {
  Workspace workspace;
  SystemClock clock;
  std::unique_ptr<Vault> vault;
  std::unique_ptr<Store> store;
  ConnectorSet connectors;
  GuardChain guards;
  std::unique_ptr<Approver> approver;
  std::unique_ptr<ModelClient> model;  // when ergon.yaml configures one
  std::unique_ptr<Engine> engine;
};

// Loads the workspace and everything needed to run it.
Result<std::unique_ptr<Session>> open_session(const std::string& dir, const ApprovalChoice& choice,
                                              bool verbose);
// Only the workspace and its store (for sessions, show, audit).
Result<std::unique_ptr<Session>> open_store(const std::string& dir);

// Exit codes of the ergon command.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;   // the session failed or was aborted
inline constexpr int kExitUsage = 2;    // bad input: arguments or files
inline constexpr int kExitWaiting = 3;  // the session waits for a person
int exit_code_for(const SessionReport& report);
// Prints "ergon: <message>" to stderr and returns the exit code for the error.
int report_error(const Error& error);

int run_demo(const std::string& workspace_dir, const ApprovalChoice& choice, double target_pct);
// `ergon demo care`: the care-portal example on its sample portal, in Chromium.
int run_care_demo(const std::string& workspace_dir, const ApprovalChoice& choice,
                  const std::string& layout);

}  // namespace ergon::cli
