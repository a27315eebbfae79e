// ergon record: a person does a task once and ergon keeps it as a
// demonstration — in a browser (src/learn/recorder.h), or as an empty API
// demonstration that `ergon call ... --demo ID` fills one call at a time.
#include <poll.h>
#include <unistd.h>

#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>

#include "cli/commands.h"
#include "ergon/clock.h"
#include "ergon/learn.h"
#include "ergon/vault.h"
#include "ergon/workspace.h"
#include "learn/recorder.h"

namespace ergon::cli {
namespace {

struct RecordArgs {
  std::string instruction;
  std::string workspace;
  std::string start_url;
  std::string connector;
  std::string name;
  std::string person;
  std::string secret;
  bool headless = false;
  bool api = false;
};

int usage(const std::string& message) {
  std::cerr << "ergon record: " << message << "\n";
  return kExitUsage;
}

// The workspace of this command: `ergon record -w W` or `ergon -w W record`.
std::string workspace_dir(const RecordArgs& args, const GlobalOptions& global) {
  return args.workspace.empty() ? global.workspace : args.workspace;
}

int record_api(const RecordArgs& args, const std::string& dir) {
  auto workspace = load_workspace(dir);
  if (!workspace) return report_error(workspace.error());
  Demonstration demo;
  demo.id = new_demonstration_id(workspace->dir, args.name);
  demo.instruction = args.instruction;
  demo.kind = "api";
  demo.recorded = format_time(SystemClock().now_ms());
  if (auto saved = save_demonstration(workspace->dir, demo); !saved) {
    return report_error(saved.error());
  }
  std::cout << "Recording API demonstration " << demo.id << ": \"" << demo.instruction << "\"\n"
            << "Add each call in order with\n"
            << "  ergon call ACTION --arg k=v --demo " << demo.id << "\n"
            << "then turn it into a skill with\n"
            << "  ergon skills induce NAME " << demo.id << "\n";
  return kExitOk;
}

// True once the person pressed Enter on the terminal. Never blocks; a closed
// stdin only leaves closing the window.
bool enter_pressed() {
  static bool closed = false;
  pollfd fd{STDIN_FILENO, POLLIN, 0};
  while (!closed && ::poll(&fd, 1, 0) > 0) {
    char c = 0;
    if (::read(STDIN_FILENO, &c, 1) <= 0) {
      closed = true;
      break;
    }
    if (c == '\n') return true;
  }
  return false;
}

int record_browser(const RecordArgs& args, const std::string& dir) {
  const char* display = std::getenv("DISPLAY");
  const bool has_display = display != nullptr && *display != '\0';
  const bool headless = args.headless || !has_display;
  if (headless && args.person.empty()) {
    return usage(
        std::string(args.headless ? "--headless" : "there is no display (DISPLAY is unset)") +
        ": nobody can do the task in a browser without a window — give --person FILE "
        "(a scripted person, see docs/learning.md) or run where DISPLAY is set, "
        "without --headless");
  }
  auto workspace = load_workspace(dir);
  if (!workspace) return report_error(workspace.error());
  auto vault = Vault::open(workspace->vault_file);
  if (!vault) return report_error(vault.error());
  auto connector = learn::recording_connector(*workspace, args.connector);
  if (!connector) return report_error(connector.error());

  learn::RecordOptions options;
  options.instruction = args.instruction;
  options.connector = (*connector)->name;
  options.start_url = args.start_url;
  options.id = args.name;
  options.person_file = args.person;
  options.headless = headless;
  options.secret = args.secret;
  options.print = [](const std::string& line) { std::cout << line << "\n" << std::flush; };
  std::cout << "Recording \"" << args.instruction << "\" on " << (*connector)->name << " ("
            << learn::connector_base_url(**connector) << ") in " << (headless ? "a headless" : "a")
            << " Chromium" << (args.person.empty() ? "" : ", done by the person in " + args.person)
            << "\n";
  if (args.person.empty()) {
    options.done = enter_pressed;
    std::cout << "Do the task in the browser window; press Enter here when done\n" << std::flush;
  }
  auto recording = learn::record_demonstration(*workspace, **vault, options);
  if (!recording) return report_error(recording.error());

  const Demonstration& demo = recording->demo;
  std::cout << "\nRecorded " << demo.steps.size() << " step(s):\n";
  for (size_t i = 0; i < demo.steps.size(); ++i) {
    std::cout << "  " << (i + 1) << ". " << learn::describe_step(demo.steps[i]) << "\n";
  }
  for (const std::string& note : recording->notes) std::cout << "Note: " << note << "\n";
  std::cout << "Wrote " << recording->file << " (" << recording->pages << " page file(s) under "
            << demonstrations_dir(workspace->dir) << "/" << demo.id << "/pages)\n"
            << "Review or edit it, then turn it into a skill with\n"
            << "  ergon skills induce NAME " << demo.id << "\n";
  return kExitOk;
}

}  // namespace

void register_record(CLI::App& app, Commands& commands) {
  auto args = std::make_shared<RecordArgs>();
  CLI::App* record = app.add_subcommand(
      "record", "keep a demonstration of a task: done in a browser, or (--api) as ergon calls");
  record
      ->add_option("instruction", args->instruction,
                   "the task in plain words, with its values (\"book an MRI 72148 for ...\")")
      ->required();
  record->add_option("-w,--workspace", args->workspace, "workspace directory (ergon.yaml)");
  record->add_flag("--api", args->api,
                   "an API demonstration: no browser; add calls with `ergon call ... --demo ID`");
  record->add_option("--start-url", args->start_url,
                     "where the browser starts (default: the connector's base_url)");
  record->add_option("--connector", args->connector,
                     "the browser connector (default: the workspace's only one)");
  record->add_option("--name", args->name, "the demonstration's id (default: demo-N)");
  record->add_option("--person", args->person,
                     "a scripted person (YAML actions) does the task instead of you");
  record->add_flag("--headless", args->headless, "no window (needs --person)");
  record->add_option("--secret", args->secret,
                     "vault secret a typed password stands for (default: the one whose value "
                     "matches, else <CONNECTOR>_PASSWORD)");
  const GlobalOptions* global = commands.global;
  commands.add(record, [args, global, record]() {
    if (args->instruction.empty())
      return usage(
          "give the task in plain words, e.g. "
          "ergon record \"book an MRI 72148 for Jane Doe\"");
    const std::string dir = workspace_dir(*args, *global);
    if (args->api) {
      for (const char* option :
           {"--start-url", "--connector", "--person", "--headless", "--secret"}) {
        if (record->count(option) > 0) {
          return usage(std::string(option) + " is for browser demonstrations, not --api");
        }
      }
      return record_api(*args, dir);
    }
    return record_browser(*args, dir);
  });
}

}  // namespace ergon::cli
