// Subcommands that live in their own files register themselves here: each
// adds its CLI11 subcommand (with its options, bound to storage it owns) and a
// handler run when that subcommand was given. main.cc calls every register_*
// before parsing and runs the handler of the subcommand that was parsed.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "cli/app.h"

namespace ergon::cli {

// What every subcommand may read once parsing is done.
struct GlobalOptions {
  std::string workspace = ".";
  bool workspace_given = false;  // -w/--workspace was on the command line
};

struct Commands {
  std::vector<std::pair<CLI::App*, std::function<int()>>> handlers;
  const GlobalOptions* global = nullptr;

  void add(CLI::App* command, std::function<int()> handler) {
    handlers.emplace_back(command, std::move(handler));
  }
};

// `-y/--yes` and `--approver` on `command`, stored in `choice`.
void add_approval_options(CLI::App* command, ApprovalChoice& choice);

// ergon record: a demonstration in a browser, or an API demonstration
// (src/cli/record.cc).
void register_record(CLI::App& app, Commands& commands);
// ergon call ACTION --arg k=v [--demo ID]: one guarded, journaled action,
// optionally appended to an API demonstration (src/cli/call.cc).
void register_call(CLI::App& app, Commands& commands);
// ergon skills list | show NAME | induce NAME DEMO... | accept NAME
// (src/cli/skills.cc).
void register_skills(CLI::App& app, Commands& commands);
// ergon train: learn grounding weights from the recorded pages (src/cli/train.cc).
void register_train(CLI::App& app, Commands& commands);
// ergon serve [--listen HOST] [--port N] [--workers N]; ergon serve token add
// NAME --role ROLE (src/cli/serve.cc).
void register_serve(CLI::App& app, Commands& commands);
// ergon mcp: the workspace's skills as MCP tools over stdio
// (src/cli/mcp_server.cc).
void register_mcp(CLI::App& app, Commands& commands);

}  // namespace ergon::cli
