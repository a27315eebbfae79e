// ergon call ACTION --arg NAME=VALUE ...: one action, carried out as a
// one-step session through the engine (guards, policy, approvals, journal and
// idempotency as for any plan), and, with --demo, appended to an API
// demonstration once it succeeded.
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <set>

#include "cli/commands.h"
#include "ergon/learn.h"

namespace ergon::cli {
namespace {

constexpr const char* kStepId = "call";

struct CallOptions {
  std::string action;
  std::vector<std::string> args;  // NAME=VALUE
  std::string args_json;          // a JSON object
  std::string demo;               // API demonstration to append to
  bool json = false;
  ApprovalChoice choice;
};

// A --arg value: JSON when it parses as JSON (3, true, ["a"], {"k": 1},
// "quoted"), the text itself otherwise (i-2a3b4c, web-prod-1).
Json arg_value(const std::string& text) {
  Json parsed = Json::parse(text, nullptr, false);
  if (parsed.is_discarded()) return Json(text);
  return parsed;
}

Result<Json> parse_args(const CallOptions& options) {
  Json args = Json::object();
  std::string from_json_option;
  if (!options.args_json.empty()) {
    args = Json::parse(options.args_json, nullptr, false);
    if (args.is_discarded() || !args.is_object()) {
      return fail(ErrorCode::kInvalidInput,
                  "--args: expected a JSON object of arguments, e.g. --args '{\"id\": "
                  "\"i-2a3b4c\", \"env\": \"dev\"}'");
    }
    from_json_option = " (already given in --args)";
  }
  std::set<std::string> seen;
  for (const std::string& pair : options.args) {
    auto eq = pair.find('=');
    if (eq == std::string::npos || eq == 0) {
      return fail(
          ErrorCode::kInvalidInput,
          "--arg '" + pair + "': expected NAME=VALUE, e.g. --arg id=i-2a3b4c or --arg count=2");
    }
    std::string name = pair.substr(0, eq);
    if (!seen.insert(name).second) {
      return fail(ErrorCode::kInvalidInput,
                  "--arg " + name +
                      " is given twice — give each argument once (a list is one JSON "
                      "value: --arg " +
                      name + "='[\"a\", \"b\"]')");
    }
    if (args.contains(name)) {
      return fail(ErrorCode::kInvalidInput, "--arg " + name + " is given twice" + from_json_option +
                                                " — give each argument once");
    }
    args[name] = arg_value(pair.substr(eq + 1));
  }
  return args;
}

// The action must be declared by the workspace; otherwise a "did you mean"
// with what there is.
Status check_action(const Workspace& workspace, const std::string& action) {
  // An mcp connector's tools are checked when the call runs.
  if (workspace.action_known_at_run_time(action)) return {};
  std::vector<std::string> known = workspace.action_names();
  if (std::find(known.begin(), known.end(), action) != known.end()) return {};
  std::sort(known.begin(), known.end());
  std::string message = "unknown action '" + action + "'";
  std::string guess = closest_spelling(action, known);
  if (guess.empty() && action.find('.') == std::string::npos) {
    // A bare name ("stop_instance"): the one connector action with that name.
    std::vector<std::string> same;
    for (const std::string& name : known) {
      if (name.ends_with("." + action)) same.push_back(name);
    }
    if (same.size() == 1) guess = same.front();
  }
  if (!guess.empty()) message += " — did you mean " + guess + "?";
  if (known.empty()) {
    message += "; the workspace (" + workspace.dir + "/ergon.yaml) declares no actions";
  } else {
    message += "\n  actions of this workspace:";
    for (const std::string& name : known) message += "\n    " + name;
  }
  return fail(ErrorCode::kInvalidInput, message);
}

// Argument values are data, never templates: a "${" in a value is escaped so
// the engine passes it through as written.
Json literal(const Json& value) {
  if (value.is_string()) {
    const std::string& text = value.get_ref<const std::string&>();
    std::string out;
    for (size_t i = 0; i < text.size(); ++i) {
      if (text.compare(i, 2, "${") == 0) out += '$';
      out += text[i];
    }
    return out;
  }
  if (value.is_array() || value.is_object()) {
    Json out = value;
    for (auto& item : out) item = literal(item);
    return out;
  }
  return value;
}

Plan one_step_plan(const std::string& action, const Json& args) {
  Plan plan;
  plan.goal = "call " + action;
  Step step;
  step.id = kStepId;
  step.action = action;
  step.with = literal(args);
  step.description = "ergon call " + action;
  plan.steps.push_back(std::move(step));
  return plan;
}

std::string record_hint() {
  return "make one with: ergon record --api --name ID \"what the task is, values included\"";
}

// The demonstration --demo names, checked before anything runs.
Result<Demonstration> load_api_demo(const std::string& dir, const std::string& id) {
  auto demo = load_demonstration(dir, id);
  if (!demo) {
    if (demo.error().code == ErrorCode::kNotFound) {
      return fail(ErrorCode::kInvalidInput, "--demo " + id + ": no such demonstration in " +
                                                demonstrations_dir(dir) + " — " + record_hint());
    }
    return fail(demo.error().with_context("--demo " + id + ": "));
  }
  if (demo->kind != "api") {
    return fail(ErrorCode::kInvalidInput,
                "--demo " + id + ": " + demo->file + " is a " + demo->kind +
                    " demonstration; `ergon call` appends only to API demonstrations — " +
                    record_hint());
  }
  return demo;
}

// Holds an exclusive lock on a directory while alive, so concurrent
// `ergon call --demo` runs append one after the other instead of losing steps.
class DirLock {
 public:
  explicit DirLock(const std::string& dir) : fd_(::open(dir.c_str(), O_RDONLY | O_DIRECTORY)) {
    if (fd_ >= 0) locked_ = ::flock(fd_, LOCK_EX) == 0;
  }
  ~DirLock() {
    if (fd_ >= 0) ::close(fd_);  // releases the lock
  }
  DirLock(const DirLock&) = delete;
  DirLock& operator=(const DirLock&) = delete;
  bool locked() const { return locked_; }

 private:
  int fd_ = -1;
  bool locked_ = false;
};

// Load (again, under the lock), append, save atomically. Returns the number of
// steps the demonstration now has.
Result<size_t> append_step(const std::string& dir, const std::string& id, DemoStep step) {
  DirLock lock(demonstrations_dir(dir));
  if (!lock.locked()) {
    return fail(ErrorCode::kInternal,
                "cannot lock " + demonstrations_dir(dir) + " to append to demonstration " + id);
  }
  auto demo = load_api_demo(dir, id);
  if (!demo) return fail(demo.error());
  demo->steps.push_back(std::move(step));
  if (auto s = save_demonstration(dir, *demo); !s) return fail(s.error());
  return demo->steps.size();
}

int cmd_call(const GlobalOptions& global, const CallOptions& options) {
  auto args = parse_args(options);
  if (!args) return report_error(args.error());
  auto session = open_session(global.workspace, options.choice, false);
  if (!session) return report_error(session.error());
  Session& s = **session;
  if (auto ok = check_action(s.workspace, options.action); !ok) return report_error(ok.error());
  if (!options.demo.empty()) {
    auto demo = load_api_demo(s.workspace.dir, options.demo);
    if (!demo) return report_error(demo.error());
  }

  auto report = s.engine->start(one_step_plan(options.action, *args));
  if (!report) return report_error(report.error());
  const Json& step = report->steps.contains(kStepId) ? report->steps[kStepId] : Json();
  const bool done = report->status == SessionStatus::kDone && step.is_object() &&
                    step.value("state", "") == "done";
  Json result = done ? s.vault->redact(step.value("result", Json())) : Json();

  size_t demo_steps = 0;
  std::string demo_error;
  if (done && !options.demo.empty()) {
    DemoStep demo_step;
    demo_step.action = options.action;
    demo_step.with = *args;
    demo_step.result = result;
    auto appended = append_step(s.workspace.dir, options.demo, std::move(demo_step));
    if (appended) {
      demo_steps = *appended;
    } else {
      demo_error = appended.error().message;
    }
  }

  if (options.json) {
    Json out = {{"session", report->session},
                {"action", options.action},
                {"args", *args},
                {"status", to_string(report->status)},
                {"result", result},
                {"error", report->error}};
    if (!options.demo.empty()) {
      out["demo"] = {{"id", options.demo}, {"appended", demo_steps > 0}};
      if (demo_steps > 0) out["demo"]["step"] = demo_steps;
      if (!demo_error.empty()) out["demo"]["error"] = demo_error;
    }
    std::cout << out.dump(2) << "\n";
  } else if (done) {
    std::cout << result.dump(2) << "\n";
  }

  if (done) {
    std::cerr << "ergon call: " << options.action << " done (session " << report->session << ")\n";
  } else {
    std::cerr << "ergon call: " << options.action << " was not done: session " << report->session
              << " " << to_string(report->status);
    if (!report->error.empty()) std::cerr << " — " << report->error;
    std::cerr << "\n";
    for (const Question& q : report->questions) {
      std::cerr << "  waiting for: " << q.slot << " — " << q.text << "\n";
    }
    if (report->status == SessionStatus::kWaiting) {
      std::cerr << "  continue with: ergon resume " << report->session << "\n";
    }
    if (!options.demo.empty()) {
      std::cerr << "  not appended to demonstration " << options.demo
                << ": only successful calls are recorded\n";
    }
  }
  if (demo_steps > 0) {
    std::cerr << "  appended as step " << demo_steps << " of demonstration " << options.demo
              << "\n";
  }
  if (!demo_error.empty()) {
    std::cerr << "ergon: the call succeeded but was not appended to demonstration " << options.demo
              << ": " << demo_error << "\n";
    return kExitFailed;
  }
  if (done) return kExitOk;
  return report->status == SessionStatus::kDone ? kExitFailed : exit_code_for(*report);
}

}  // namespace

void register_call(CLI::App& app, Commands& commands) {
  auto options = std::make_shared<CallOptions>();
  auto* call = app.add_subcommand(
      "call", "carry out one action (guarded, journaled); --demo records it into a demonstration");
  call->add_option("action", options->action, "the action, e.g. cloud.list_instances")->required();
  call->add_option("--arg", options->args,
                   "an argument NAME=VALUE (VALUE as JSON when it is JSON: 3, true, [\"a\"]; "
                   "else text); repeat for more")
      ->allow_extra_args(false);
  call->add_option("--args", options->args_json, "the arguments as one JSON object");
  call->add_option("--demo", options->demo,
                   "append the call, once it succeeded, to this API demonstration "
                   "(ergon record --api makes one)");
  call->add_flag("--json", options->json,
                 "print {session, action, args, status, result, error} as JSON");
  add_approval_options(call, options->choice);
  const GlobalOptions* global = commands.global;
  commands.add(call, [options, global] { return cmd_call(*global, *options); });
}

}  // namespace ergon::cli
