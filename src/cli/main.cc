// The ergon command: a thin layer over the library.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <fstream>
#include <iostream>
#include <sstream>

#include "cli/app.h"
#include "cli/commands.h"
#include "cli/console.h"
#include "ergon/planner.h"
#include "ergon/serve.h"

namespace ergon::cli {
namespace {

// "name=value" pairs from --slot into a JSON object of strings (parsed later
// against each slot's type).
Result<Json> parse_slot_args(const std::vector<std::string>& pairs) {
  Json slots = Json::object();
  for (const std::string& pair : pairs) {
    auto eq = pair.find('=');
    if (eq == std::string::npos || eq == 0) {
      return fail(ErrorCode::kInvalidInput,
                  "--slot '" + pair + "': expected NAME=VALUE, e.g. --slot target_pct=15%");
    }
    slots[pair.substr(0, eq)] = pair.substr(eq + 1);
  }
  return slots;
}

Result<Plan> load_plan_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) return fail(ErrorCode::kInvalidInput, path + ": cannot open the plan file");
  std::stringstream text;
  text << in.rdbuf();
  Json json = Json::parse(text.str(), nullptr, false);
  if (json.is_discarded()) {
    return fail(ErrorCode::kInvalidInput,
                path + ": not valid JSON (a plan file is JSON as printed by `ergon plan --json`)");
  }
  auto plan = plan_from_json(json);
  if (!plan) return fail(plan.error().with_context(path + ": "));
  return plan;
}

// A plan, and the model calls that made it (journaled with it).
struct Planned {
  Plan plan;
  Json model_calls = Json::array();
};

// What planning a goal may use: the workspace, its vault (the model's
// requests are redacted with it) and its model, when one is configured.
struct Planning {
  const Workspace& workspace;
  const Vault& vault;
  ModelClient* model;  // null: skills only
  const Clock& clock;
};

// The goal planned by the workspace's skills ("tomorrow" is today's
// tomorrow); with `skill`, by that skill without ranking. When no skill fits
// (or the skill planner is unsure and nobody at a terminal confirms its
// guess), the model plans, if the workspace has one.
Result<Planned> make_plan(const Planning& s, const std::string& goal, const Json& slots,
                          const std::string& skill) {
  SkillPlanner planner(s.workspace.skills, SkillPlannerOptions{}, &s.clock);
  auto planned = [](Result<Plan> plan) -> Result<Planned> {
    if (!plan) return fail(plan.error());
    return Planned{std::move(*plan)};
  };
  if (!skill.empty()) return planned(planner.plan_with_skill(skill, goal, slots));
  auto plan = planner.plan(goal, slots);
  if (plan) return planned(std::move(plan));
  ErrorCode code = plan.error().code;
  // "Did you mean …?" — asked here when a person is at the terminal.
  if (code == ErrorCode::kNeedsPerson && isatty(STDIN_FILENO)) {
    std::vector<SkillMatch> ranked = planner.rank(goal);
    if (!ranked.empty()) {
      std::cout << plan.error().message << " [y/N] " << std::flush;
      std::string answer;
      if (std::getline(std::cin, answer) && (answer == "y" || answer == "yes")) {
        return planned(planner.plan_with_skill(ranked.front().skill, goal, slots));
      }
    }
  }
  if (!s.model || (code != ErrorCode::kNotFound && code != ErrorCode::kNeedsPerson)) {
    return fail(plan.error());
  }
  std::cerr << "No skill fits for sure (" << plan.error().message << ").\nAsking the model "
            << s.model->config().model << " to plan.\n";
  ModelPlanner model_planner(*s.model, model_planner_input(s.workspace, s.vault));
  auto made = model_planner.plan(goal, slots);
  if (ModelUsage usage = model_planner.usage(); usage.prompt_tokens + usage.completion_tokens > 0) {
    std::cerr << model_usage_line(usage) << "\n";
  }
  if (!made) return fail(made.error());
  return Planned{std::move(*made), model_planner.calls()};
}

// A plan a language model made runs only once a person has approved it:
// at the terminal, or with --yes when none of its steps is irreversible.
Status approve_plan(const Plan& plan, const Session& s, const ApprovalChoice& choice) {
  if (plan.planner != "model") return {};
  std::string irreversible;
  for (const Step& step : plan.steps) {
    if (step.kind != StepKind::kAction) continue;
    auto found = s.connectors.find(step.action);
    if (found && found->second->effect == Effect::kIrreversible) {
      irreversible += (irreversible.empty() ? "" : ", ") + step.id + " (" + step.action + ")";
    }
  }
  if ((choice.yes || choice.approver == "auto") && irreversible.empty()) {
    std::cerr << "The model's plan has no irreversible step: approved by --yes.\n";
    return {};
  }
  if (isatty(STDIN_FILENO) && choice.approver != "none") {
    std::cerr << "A language model made this plan"
              << (irreversible.empty() ? "" : "; irreversible steps: " + irreversible)
              << ". Run it? [y/N] " << std::flush;
    std::string answer;
    if (std::getline(std::cin, answer) && (answer == "y" || answer == "yes")) return {};
    return fail(ErrorCode::kDenied, "the plan was not approved; nothing was done");
  }
  if (!irreversible.empty()) {
    return fail(ErrorCode::kNeedsPerson,
                "a language model made this plan and it has irreversible steps (" + irreversible +
                    "): approve it at a terminal, or review it (ergon plan --json GOAL > "
                    "plan.json) and run it with: ergon run --plan plan.json");
  }
  return fail(ErrorCode::kNeedsPerson,
              "a language model made this plan and nobody approved it: run at a terminal, or "
              "add --yes (it has no irreversible step)");
}

// Plans without acting: needs neither the connectors nor their secrets.
int cmd_plan(const std::string& dir, const std::string& goal, const std::string& skill,
             const std::vector<std::string>& slot_args, bool json) {
  auto workspace = load_workspace(dir);
  if (!workspace) return report_error(workspace.error());
  auto vault = Vault::open(workspace->vault_file);
  if (!vault) return report_error(vault.error());
  SystemClock clock;
  std::unique_ptr<ModelClient> model;
  if (workspace->model) {
    auto client = make_openai_client(*workspace->model, clock, **vault);
    if (!client) return report_error(client.error().with_context("ergon.yaml: model: "));
    model = std::move(*client);
  }
  auto slots = parse_slot_args(slot_args);
  if (!slots) return report_error(slots.error());
  auto planned = make_plan({*workspace, **vault, model.get(), clock}, goal, *slots, skill);
  if (!planned) return report_error(planned.error());
  const Plan& plan = planned->plan;
  if (auto ok = validate_plan(plan, workspace->known_actions(plan)); !ok) {
    return report_error(ok.error());
  }
  if (json) {
    std::cout << to_json(plan).dump(2) << "\n";
  } else {
    print_plan(std::cout, plan, *workspace);
  }
  return kExitOk;
}

int finish_session(Result<SessionReport> report, bool json) {
  if (!report) return report_error(report.error());
  if (json) {
    std::cout << to_json(*report).dump(2) << "\n";
  } else {
    print_report(std::cout, *report);
  }
  return exit_code_for(*report);
}

int cmd_run(const std::string& dir, const std::string& goal, const std::string& skill,
            const std::string& plan_file, const std::vector<std::string>& slot_args,
            const ApprovalChoice& choice, const std::string& session_id, bool json) {
  if (goal.empty() == plan_file.empty()) {
    std::cerr << "ergon run: give either a goal or --plan FILE\n";
    return kExitUsage;
  }
  auto session = open_session(dir, choice, !json);
  if (!session) return report_error(session.error());
  Session& s = **session;
  auto slots = parse_slot_args(slot_args);
  if (!slots) return report_error(slots.error());
  Result<Planned> planned = Planned{};
  if (plan_file.empty()) {
    planned = make_plan({s.workspace, *s.vault, s.model.get(), s.clock}, goal, *slots, skill);
  } else if (auto plan = load_plan_file(plan_file)) {
    planned->plan = std::move(*plan);
  } else {
    planned = fail(plan.error());
  }
  if (!planned) return report_error(planned.error());
  if (!json) print_plan(std::cout, planned->plan, s.workspace);
  if (plan_file.empty()) {
    if (auto ok = approve_plan(planned->plan, s, choice); !ok) return report_error(ok.error());
  }
  return finish_session(s.engine->start(planned->plan, session_id, planned->model_calls), json);
}

int cmd_resume(const std::string& dir, const std::string& id,
               const std::vector<std::string>& slot_args, const ApprovalChoice& choice, bool json) {
  auto session = open_session(dir, choice, !json);
  if (!session) return report_error(session.error());
  if (workspace_served((*session)->workspace.store_path)) {
    return report_error(
        Error{ErrorCode::kFailedPrecondition,
              "ergon serve is serving " + (*session)->workspace.dir +
                  ": it runs and resumes its sessions; answer through its API (POST /v1/sessions/" +
                  id + "/answers) or its console, or stop it first"});
  }
  auto slots = parse_slot_args(slot_args);
  if (!slots) return report_error(slots.error());
  if (!json) std::cout << "Resuming " << id << "\n";
  return finish_session((*session)->engine->resume(id, *slots), json);
}

int cmd_sessions(const std::string& dir, bool json) {
  auto session = open_store(dir);
  if (!session) return report_error(session.error());
  auto list = (*session)->store->sessions();
  if (!list) return report_error(list.error());
  if (json) {
    Json out = Json::array();
    for (const SessionInfo& i : *list) {
      out.push_back({{"id", i.id},
                     {"goal", i.goal},
                     {"status", to_string(i.status)},
                     {"created", format_time(i.created_ms)},
                     {"events", i.events}});
    }
    std::cout << out.dump(2) << "\n";
    return kExitOk;
  }
  if (list->empty()) std::cout << "no sessions yet in " << (*session)->workspace.dir << "\n";
  for (const SessionInfo& i : *list) {
    std::cout << i.id << "  " << format_time(i.created_ms) << "  " << to_string(i.status) << "  "
              << i.events << " events  \"" << i.goal << "\"\n";
  }
  return kExitOk;
}

int cmd_show(const std::string& dir, const std::string& id, bool json) {
  auto session = open_store(dir);
  if (!session) return report_error(session.error());
  auto info = (*session)->store->session(id);
  if (!info) return report_error(info.error());
  auto events = (*session)->store->events(id);
  if (!events) return report_error(events.error());
  if (json) {
    Json out = Json::array();
    for (const Event& e : *events) {
      Json row = e.body();
      row["hash"] = e.hash;
      row["prev_hash"] = e.prev_hash;
      out.push_back(row);
    }
    std::cout << out.dump(2) << "\n";
  } else {
    print_timeline(std::cout, *info, *events);
  }
  return kExitOk;
}

int cmd_audit_verify(const std::string& dir, const std::string& id) {
  auto session = open_store(dir);
  if (!session) return report_error(session.error());
  Store& store = *(*session)->store;
  auto info = store.session(id);
  if (!info) return report_error(info.error());
  if (auto s = verify_session(store, id); !s) {
    std::cout << "audit FAILED for " << id << ": " << s.error().message << "\n";
    return kExitFailed;
  }
  auto refreshed = store.session(id);
  std::cout << "audit ok: " << id << " — " << refreshed->events << " events, chain intact, head "
            << refreshed->head << "\n";
  return kExitOk;
}

}  // namespace

void add_approval_options(CLI::App* command, ApprovalChoice& choice) {
  command->add_flag("-y,--yes", choice.yes, "approve every action the policy allows");
  command->add_option("--approver", choice.approver, "terminal | auto | none")
      ->check(CLI::IsMember({"terminal", "auto", "none"}));
}

}  // namespace ergon::cli

int main(int argc, char** argv) {
  using namespace ergon::cli;
  CLI::App app{"ergon — a Large Action Model engine: goals become guarded, journaled actions"};
  app.set_version_flag("--version", std::string("ergon ") + ERGON_VERSION);
  app.require_subcommand(1);
  GlobalOptions global;
  std::string& workspace = global.workspace;
  app.add_option("-w,--workspace", workspace, "workspace directory (ergon.yaml)");

  std::string goal, plan_file, session_id, skill;
  std::vector<std::string> slots;
  bool json = false;
  double target = 15;
  ApprovalChoice choice;
  auto add_approval = [&](CLI::App* cmd) { add_approval_options(cmd, choice); };

  auto* plan = app.add_subcommand("plan", "interpret a goal into a task graph (does not act)");
  plan->add_option("goal", goal, "the goal in plain words")->required();
  plan->add_option("--slot", slots, "give a slot value: NAME=VALUE");
  plan->add_option("--skill", skill, "plan with this skill (no matching)");
  plan->add_flag("--json", json, "print the plan as JSON (see docs/plan.schema.json)");

  auto* run = app.add_subcommand("run", "plan a goal (or load --plan) and carry it out");
  run->add_option("goal", goal, "the goal in plain words");
  run->add_option("--plan", plan_file, "run this plan (JSON) instead of planning a goal");
  run->add_option("--slot", slots, "give a slot value: NAME=VALUE");
  run->add_option("--skill", skill, "plan with this skill (no matching)");
  run->add_option("--session", session_id, "session id to use (default: generated)");
  run->add_flag("--json", json, "print the report as JSON");
  add_approval(run);

  auto* resume = app.add_subcommand("resume", "continue a session from its journal");
  resume->add_option("session", session_id, "session id")->required();
  resume->add_option("--slot", slots, "answer an open question: NAME=VALUE");
  resume->add_flag("--json", json, "print the report as JSON");
  add_approval(resume);

  auto* sessions = app.add_subcommand("sessions", "list the workspace's sessions");
  sessions->add_flag("--json", json, "print as JSON");

  auto* show = app.add_subcommand("show", "a session's timeline from its journal");
  show->add_option("session", session_id, "session id")->required();
  show->add_flag("--json", json, "print the events as JSON");

  auto* audit = app.add_subcommand("audit", "audit the journal");
  audit->require_subcommand(1);
  auto* verify = audit->add_subcommand("verify", "recompute a session's hash chain");
  verify->add_option("session", session_id, "session id")->required();

  auto* demo = app.add_subcommand(
      "demo", "run an example against its sample system: cloud (default) or care");
  std::string example = "cloud";
  std::string layout = "v1";
  demo->add_option("example", example,
                   "cloud: cut the cloud bill (HTTP API); care: book an MRI on a web portal")
      ->check(CLI::IsMember({"cloud", "care"}));
  demo->add_option("--target", target, "cloud: percent the monthly bill should drop")
      ->check(CLI::Range(1.0, 90.0));
  demo->add_option("--layout", layout, "care: the portal's layout, v1 or v2 (the redesign)")
      ->check(CLI::IsMember({"v1", "v2"}));
  add_approval(demo);

  Commands commands;
  commands.global = &global;
  register_record(app, commands);
  register_call(app, commands);
  register_skills(app, commands);
  register_train(app, commands);
  register_serve(app, commands);
  register_mcp(app, commands);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : kExitUsage;
  }

  global.workspace_given = app.get_option("--workspace")->count() > 0;
  for (auto& [command, handler] : commands.handlers) {
    if (*command) return handler();
  }
  if (*plan) return cmd_plan(workspace, goal, skill, slots, json);
  if (*run) return cmd_run(workspace, goal, skill, plan_file, slots, choice, session_id, json);
  if (*resume) return cmd_resume(workspace, session_id, slots, choice, json);
  if (*sessions) return cmd_sessions(workspace, json);
  if (*show) return cmd_show(workspace, session_id, json);
  if (*verify) return cmd_audit_verify(workspace, session_id);
  if (*demo) {
    std::string dir = global.workspace_given ? workspace : "";
    if (example == "care") return run_care_demo(dir, choice, layout);
    return run_demo(dir, choice, target);
  }
  return kExitUsage;
}
