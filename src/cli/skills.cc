// ergon skills: the workspace's skills and the drafts learned from
// demonstrations.
//   ergon skills list                       accepted skills and drafts, one line each
//   ergon skills show NAME                  a skill's YAML (the draft first when both exist)
//   ergon skills induce NAME DEMO_ID...     learn a draft from demonstrations
//   ergon skills accept NAME                check a draft and make it a skill
//   ergon skills save SESSION [--name N]    keep a finished session's plan (a model's) as a skill
// Drafts live in skills/drafts/, which load_workspace does not read: the
// planner never plans with a skill a person has not accepted.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <system_error>
#include <vector>

#include "cli/app.h"
#include "cli/commands.h"
#include "core/internal/yaml_json.h"
#include "ergon/clock.h"
#include "ergon/learn.h"

namespace ergon::cli {
namespace {

namespace fs = std::filesystem;

struct SkillsArgs {
  std::string name;
  std::string session;
  std::vector<std::string> demos;
  std::string description;
  bool force = false;
};

int usage_error(const std::string& message) {
  std::cerr << "ergon: " << message << "\n";
  return kExitUsage;
}

// Errors of these commands are the person's to fix: exit 2, except a bug.
int report(const Error& error) {
  std::cerr << "ergon: " << error.message << "\n";
  return error.code == ErrorCode::kInternal ? kExitFailed : kExitUsage;
}

Result<fs::path> workspace_root(const std::string& dir) {
  std::error_code ec;
  fs::path root = fs::absolute(dir.empty() ? "." : dir, ec).lexically_normal();
  if (ec || !fs::is_regular_file(root / "ergon.yaml", ec)) {
    return fail(ErrorCode::kInvalidInput,
                "no ergon.yaml in " + root.string() + " — is this a workspace? (use -w DIR)");
  }
  return root;
}

bool valid_name(const std::string& name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
  });
}

// One skill file found on disk.
struct SkillFile {
  fs::path path;
  std::string label;  // workspace-relative, for messages
  bool draft = false;
  Result<Skill> skill = fail(ErrorCode::kInternal, "");
};

std::vector<SkillFile> skill_files(const fs::path& root, const fs::path& dir, bool draft) {
  std::vector<SkillFile> out;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return out;
  std::vector<fs::path> paths;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    std::string ext = entry.path().extension().string();
    if (entry.path().filename().string().starts_with(".")) continue;
    if ((ext == ".yaml" || ext == ".yml") && entry.is_regular_file(ec)) {
      paths.push_back(entry.path());
    }
  }
  std::sort(paths.begin(), paths.end());
  for (const fs::path& path : paths) {
    SkillFile file;
    file.path = path;
    file.label = fs::relative(path, root, ec).string();
    file.draft = draft;
    file.skill = load_skill_file(path.string());
    out.push_back(std::move(file));
  }
  return out;
}

// The skill called `name` among `files`: by its name, else by its file stem.
const SkillFile* find_skill(const std::vector<SkillFile>& files, const std::string& name) {
  for (const SkillFile& file : files) {
    if (file.skill && file.skill->name == name) return &file;
  }
  for (const SkillFile& file : files) {
    if (file.path.stem().string() == name) return &file;
  }
  return nullptr;
}

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string first_line(const std::string& text, size_t max = 70) {
  std::string line = text.substr(0, text.find('\n'));
  if (line.size() > max) line = line.substr(0, max - 3) + "...";
  return line;
}

// "2026-12-03T07:00:00Z" -> ms since the epoch; 0 when it is not such a time.
int64_t parse_utc(const std::string& text) {
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
  if (std::sscanf(text.c_str(), "%d-%d-%dT%d:%d:%d", &y, &mo, &d, &h, &mi, &s) < 3) return 0;
  if (mo < 1 || mo > 12 || d < 1 || d > 31) return 0;
  // Days from civil (Howard Hinnant's algorithm).
  y -= mo <= 2;
  const int era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (mo + (mo > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  const int64_t days = int64_t{era} * 146097 + static_cast<int64_t>(doe) - 719468;
  return ((days * 24 + h) * 60 + mi) * 60000 + int64_t{s} * 1000;
}

int cmd_list(const std::string& dir) {
  auto root = workspace_root(dir);
  if (!root) return report(root.error());
  auto accepted = skill_files(*root, *root / "skills", false);
  auto drafts = skill_files(*root, skill_drafts_dir(root->string()), true);
  if (accepted.empty() && drafts.empty()) {
    std::cout << "no skills yet — write skills/NAME.yaml, or learn one: ergon record, then "
                 "ergon skills induce NAME DEMO_ID\n";
    return kExitOk;
  }
  size_t width = 4;
  for (const auto* list : {&accepted, &drafts}) {
    for (const SkillFile& file : *list) {
      std::string name = file.skill ? file.skill->name : file.path.stem().string();
      width = std::max(width, name.size());
    }
  }
  for (const auto* list : {&accepted, &drafts}) {
    for (const SkillFile& file : *list) {
      std::string name = file.skill ? file.skill->name : file.path.stem().string();
      std::string state = file.draft ? "draft   " : "accepted";
      std::string what;
      if (!file.skill) {
        what = "INVALID: " + first_line(file.skill.error().message, 100);
      } else {
        what = std::to_string(file.skill->steps.size()) + " steps, " +
               std::to_string(file.skill->slots.size()) + " slots — " +
               first_line(file.skill->description, 60);
      }
      std::cout << name << std::string(width + 2 - name.size(), ' ') << state << "  " << what
                << "  (" << file.label << ")\n";
    }
  }
  return kExitOk;
}

int cmd_show(const std::string& dir, const std::string& name) {
  auto root = workspace_root(dir);
  if (!root) return report(root.error());
  auto accepted = skill_files(*root, *root / "skills", false);
  auto drafts = skill_files(*root, skill_drafts_dir(root->string()), true);
  const SkillFile* draft = find_skill(drafts, name);
  const SkillFile* skill = find_skill(accepted, name);
  if (draft == nullptr && skill == nullptr) {
    std::vector<std::string> names;
    for (const auto* list : {&accepted, &drafts}) {
      for (const SkillFile& file : *list) {
        names.push_back(file.skill ? file.skill->name : file.path.stem().string());
      }
    }
    std::string hint = closest_spelling(name, names);
    return usage_error("no skill or draft '" + name + "'" +
                       (hint.empty() ? "" : "; did you mean '" + hint + "'?") +
                       " — ergon skills list shows them all");
  }
  const SkillFile* shown = draft ? draft : skill;
  if (draft) {
    std::cout << "# DRAFT " << draft->label << " — not used for planning until accepted: ergon "
              << "skills accept " << name << "\n";
    if (skill) std::cout << "# (an accepted skill of this name is in " << skill->label << ")\n";
  } else {
    std::cout << "# ACCEPTED " << skill->label << "\n";
  }
  if (!shown->skill)
    std::cout << "# INVALID: " << first_line(shown->skill.error().message, 200) << "\n";
  std::cout << read_text(shown->path);
  return kExitOk;
}

int cmd_induce(const std::string& dir, const SkillsArgs& args) {
  auto root = workspace_root(dir);
  if (!root) return report(root.error());
  if (!valid_name(args.name)) {
    return usage_error("'" + args.name +
                       "' is not a valid skill name — use lower-case letters, digits and '-', "
                       "e.g. book-mri");
  }
  auto accepted = skill_files(*root, *root / "skills", false);
  if (const SkillFile* existing = find_skill(accepted, args.name); existing && !args.force) {
    return usage_error("skill '" + args.name + "' is already accepted (" + existing->label +
                       ") — pick another name, or pass --force to draft a replacement");
  }
  std::vector<Demonstration> demos;
  for (const std::string& id : args.demos) {
    auto demo = load_demonstration(root->string(), id);
    if (!demo) return report(demo.error());
    demos.push_back(std::move(*demo));
  }
  InduceOptions options;
  options.name = args.name;
  options.description = args.description;
  options.now_ms = parse_utc(demos.front().recorded);
  if (options.now_ms == 0) options.now_ms = SystemClock().now_ms();
  auto induced = induce_skill(demos, options);
  if (!induced) return report(induced.error());

  std::string ids;
  for (const std::string& id : args.demos) ids += (ids.empty() ? "" : ", ") + id;
  std::vector<std::string> notes = {
      "Draft skill '" + args.name + "', learned from " + ids + ". Review it, then accept it:",
      "  ergon skills accept " + args.name, "What induction inferred:"};
  for (const std::string& note : induced->notes) notes.push_back("- " + note);
  const std::string yaml = skill_to_yaml(induced->skill, notes);
  const fs::path path = fs::path(skill_drafts_dir(root->string())) / (args.name + ".yaml");
  if (auto ok = internal::write_file_atomically(path, yaml); !ok) return report(ok.error());
  std::cout << yaml << "\n";

  // Actions the workspace does not have would fail at accept: say so now.
  if (auto workspace = load_workspace(root->string())) {
    std::vector<std::string> actions = workspace->action_names();
    for (const Step& step : induced->skill.steps) {
      if (step.kind == StepKind::kAction && !workspace->action_known_at_run_time(step.action) &&
          std::find(actions.begin(), actions.end(), step.action) == actions.end()) {
        std::cerr << "ergon: warning: step " << step.id << " calls " << step.action
                  << ", which this workspace's ergon.yaml does not declare\n";
      }
    }
  }
  std::cerr << "wrote " << fs::relative(path, *root).string() << " — review it, then: ergon "
            << "skills accept " << args.name << "\n";
  return kExitOk;
}

// Writes skills/NAME.yaml (replacing `existing`, a file of the same skill
// under another name, when given) and checks the workspace still loads;
// otherwise puts everything back as it was.
Status install(const fs::path& root, const std::string& name, const std::string& text,
               const SkillFile* existing) {
  std::error_code ec;
  const fs::path target = root / "skills" / (name + ".yaml");
  // Keep what is replaced until the workspace loads with the new skill.
  std::string previous_target = fs::exists(target, ec) ? read_text(target) : "";
  std::string previous_other;
  if (existing && existing->path != target) previous_other = read_text(existing->path);
  if (auto ok = internal::write_file_atomically(target, text); !ok) return ok;
  if (existing && existing->path != target) fs::remove(existing->path, ec);
  auto check = load_workspace(root.string());
  if (!check) {
    // Put everything back as it was.
    if (previous_target.empty()) {
      fs::remove(target, ec);
    } else {
      (void)internal::write_file_atomically(target, previous_target);
    }
    if (!previous_other.empty())
      (void)internal::write_file_atomically(existing->path, previous_other);
    return fail(check.error().with_context("the workspace does not load with skill '" + name +
                                           "', so it was not saved: "));
  }
  return {};
}

int cmd_accept(const std::string& dir, const SkillsArgs& args) {
  auto root = workspace_root(dir);
  if (!root) return report(root.error());
  if (!valid_name(args.name)) {
    return usage_error("'" + args.name + "' is not a valid skill name");
  }
  const fs::path draft = fs::path(skill_drafts_dir(root->string())) / (args.name + ".yaml");
  std::error_code ec;
  if (!fs::is_regular_file(draft, ec)) {
    return usage_error("no draft '" + args.name + "' (skills/drafts/" + args.name +
                       ".yaml) — make one with: ergon skills induce " + args.name + " DEMO_ID");
  }
  auto skill = load_skill_file(draft.string());
  if (!skill) return report(skill.error());
  if (skill->name != args.name) {
    return usage_error("skills/drafts/" + args.name + ".yaml names the skill '" + skill->name +
                       "' — make its name: " + args.name + ", or accept it as " + skill->name);
  }
  auto workspace = load_workspace(root->string());
  if (!workspace) return report(workspace.error());
  Plan plan = plan_from_skill(*skill, "", Json::object());
  if (auto ok = validate_plan(plan, workspace->known_actions(plan)); !ok) {
    return usage_error("skills/drafts/" + args.name + ".yaml: " + ok.error().message +
                       " — edit the draft, or declare the action in ergon.yaml");
  }
  auto accepted = skill_files(*root, *root / "skills", false);
  const SkillFile* existing = find_skill(accepted, args.name);
  if (existing && !args.force) {
    return usage_error("skill '" + args.name + "' is already accepted (" + existing->label +
                       ") — pass --force to replace it with the draft");
  }
  // The draft's header ("Draft skill ..., review it, then accept it") is done with.
  std::string text = read_text(draft);
  std::string kept;
  for (size_t at = 0; at < text.size();) {
    size_t end = text.find('\n', at);
    std::string line = text.substr(at, end == std::string::npos ? std::string::npos : end - at + 1);
    at = end == std::string::npos ? text.size() : end + 1;
    if (line.starts_with("# Draft skill '") || line.starts_with("#   ergon skills accept "))
      continue;
    kept += line;
  }
  if (auto ok = install(*root, args.name, kept, existing); !ok) return report(ok.error());
  fs::remove(draft, ec);
  std::cout << "accepted " << args.name << ": skills/" << args.name << ".yaml ("
            << skill->steps.size() << " steps, " << skill->slots.size()
            << " slots); the planner uses it from now on\n";
  return kExitOk;
}

// "Stop the idle dev instances in eu-west" -> "stop-the-idle-dev"
std::string name_from_goal(const std::string& goal) {
  std::string name;
  int words = 0;
  bool gap = false;
  for (char c : goal) {
    auto u = static_cast<unsigned char>(c);
    if (std::isalpha(u)) {
      if (gap && !name.empty()) {
        if (++words == 4) break;
        name += '-';
      }
      name += static_cast<char>(std::tolower(u));
      gap = false;
    } else {
      gap = true;
    }
  }
  return name.empty() ? "saved-plan" : name;
}

int cmd_save(const std::string& dir, const SkillsArgs& args) {
  auto root = workspace_root(dir);
  if (!root) return report(root.error());
  auto opened = open_store(root->string());
  if (!opened) return report(opened.error());
  Store& store = *(*opened)->store;
  auto info = store.session(args.session);
  if (!info) return report(info.error());
  if (info->status != SessionStatus::kDone) {
    return usage_error("session " + args.session + " is " + to_string(info->status) +
                       ": only a plan that ran to the end is saved as a skill");
  }
  auto events = store.events(args.session);
  if (!events) return report(events.error());
  if (auto ok = verify_chain(*events); !ok) {
    return report(ok.error().with_context("session " + args.session + "'s journal: "));
  }
  std::optional<Plan> plan;
  for (const Event& e : *events) {
    if (e.type != event::kPlanMade) continue;
    auto parsed = plan_from_json(e.data.value("plan", Json()));
    if (!parsed) return report(parsed.error().with_context("journal: plan_made: "));
    plan = std::move(*parsed);
  }
  if (!plan) return usage_error("session " + args.session + " has no plan in its journal");
  std::string name = args.name.empty() ? name_from_goal(plan->goal) : args.name;
  if (!valid_name(name)) {
    return usage_error("'" + name +
                       "' is not a valid skill name — use lower-case letters, digits and '-'");
  }
  auto accepted = skill_files(*root, *root / "skills", false);
  const SkillFile* existing = find_skill(accepted, name);
  if (existing && !args.force) {
    return usage_error("skill '" + name + "' already exists (" + existing->label +
                       ") — pick another with --name, or pass --force to replace it");
  }
  auto skill = skill_from_plan(*plan, name);
  if (!skill) return report(skill.error().with_context("session " + args.session + ": "));
  std::vector<std::string> notes = {
      "Saved from session " + args.session + " (" +
      (plan->planner.empty() ? "a plan file" : "planned by the " + plan->planner) +
      "), which ran to the end."};
  if (auto ok = install(*root, name, skill_to_yaml(*skill, notes), existing); !ok) {
    return report(ok.error());
  }
  std::cout << "saved " << name << ": skills/" << name << ".yaml (" << skill->steps.size()
            << " steps, " << skill->slots.size() << " slots, example \"" << skill->examples.front()
            << "\"); the planner uses it from now on, no model needed\n";
  return kExitOk;
}

}  // namespace

void register_skills(CLI::App& app, Commands& commands) {
  auto args = std::make_shared<SkillsArgs>();
  CLI::App* skills = app.add_subcommand(
      "skills", "the workspace's skills, and drafts learned from demonstrations");
  skills->require_subcommand(1);
  CLI::App* list = skills->add_subcommand("list", "accepted skills and drafts, one line each");
  CLI::App* show =
      skills->add_subcommand("show", "print a skill's YAML (the draft when there is one)");
  show->add_option("name", args->name, "skill name")->required();
  CLI::App* induce =
      skills->add_subcommand("induce", "learn a draft skill from one or more demonstrations");
  induce->add_option("name", args->name, "name of the new skill, e.g. book-mri")->required();
  induce->add_option("demos", args->demos, "demonstration ids (demonstrations/ID.yaml)")
      ->required();
  induce->add_option("--description", args->description, "what the skill does");
  induce->add_flag("--force", args->force, "draft even when a skill of this name is accepted");
  CLI::App* accept =
      skills->add_subcommand("accept", "check a draft against the workspace and make it a skill");
  accept->add_option("name", args->name, "draft name (skills/drafts/NAME.yaml)")->required();
  accept->add_flag("--force", args->force, "replace an accepted skill of the same name");
  CLI::App* save = skills->add_subcommand(
      "save", "keep the plan of a finished session (e.g. one a model made) as a skill");
  save->add_option("session", args->session, "session id (ergon sessions)")->required();
  save->add_option("--name", args->name, "skill name (default: from the goal's first words)");
  save->add_flag("--force", args->force, "replace a skill of the same name");

  const Commands* all = &commands;
  commands.add(skills, [=] {
    const std::string& dir = all->global->workspace;
    if (*list) return cmd_list(dir);
    if (*show) return cmd_show(dir, args->name);
    if (*induce) return cmd_induce(dir, *args);
    if (*accept) return cmd_accept(dir, *args);
    if (*save) return cmd_save(dir, *args);
    return kExitUsage;
  });
}

}  // namespace ergon::cli
