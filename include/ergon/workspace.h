// A workspace is a directory a user owns: ergon.yaml (connectors, approvals,
// store, guards), policy.yaml, skills/*.yaml. It is loaded and validated up
// front; every error names file, line and field.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ergon/action.h"
#include "ergon/connector.h"
#include "ergon/json.h"
#include "ergon/model.h"
#include "ergon/plan.h"
#include "ergon/policy.h"
#include "ergon/result.h"
#include "ergon/vault.h"

namespace ergon {

// An action as declared in ergon.yaml: its spec plus the connector-specific
// binding (for http: method, path, query, body, dry_run, headers).
struct DeclaredAction {
  ActionSpec spec;
  Json binding = Json::object();
  SourceLoc loc;
};

struct ConnectorConfig {
  std::string name;
  std::string kind;                // "http", later "browser", "shell", "mcp"
  Json settings = Json::object();  // everything but `actions`
  std::vector<DeclaredAction> actions;
  SourceLoc loc;
};

// A skill: a reusable, parameterised plan with example phrasings.
struct Skill {
  std::string name;
  std::string description;
  std::vector<std::string> examples;  // phrasings; "{slot}" marks where a slot value goes
  std::vector<SlotSpec> slots;
  std::vector<Step> steps;
  SourceLoc loc;
};

struct Workspace {
  std::string dir;  // absolute
  std::vector<ConnectorConfig> connectors;
  Policy policy;
  std::vector<Skill> skills;
  std::vector<std::string> guards;     // guard chain order
  std::string approvals = "terminal";  // terminal | auto | none
  std::string store_path;              // absolute; default <dir>/.ergon/ergon.db
  std::string vault_file;              // absolute or empty
  std::optional<ModelConfig> model;    // `model:`; none: ergon plans offline with skills only

  const Skill* skill(const std::string& name) const;
  std::vector<std::string> action_names() const;
  // True when `action` ("<connector>.<action>") belongs to a connector whose
  // actions are known only once it runs (an mcp connector: its server's
  // tools). action_names() cannot list them; loaders accept such names and
  // the engine checks them against the running connector (ConnectorSet::find).
  bool action_known_at_run_time(const std::string& action) const;
  // What validate_plan should take as known for `plan`: action_names(), plus
  // the plan's actions that are known only at run time.
  std::vector<std::string> known_actions(const Plan& plan) const;
};

// The names (never the values) of the secrets a model may refer to (a fill's
// `secret: NAME`): those the workspace's skills and actions use, and those in
// its vault file. Sorted, without repeats.
std::vector<std::string> secret_names(const Workspace& workspace, const Vault& vault);

// Loads and validates the workspace at `dir`. Errors are kInvalidInput with
// "file:line: field: what is wrong — what to do".
Result<Workspace> load_workspace(const std::string& dir);

// Parses one skill file (also used by `ergon plan --skill FILE`).
Result<Skill> load_skill_file(const std::string& path);
// Parses a policy file.
Result<Policy> load_policy_file(const std::string& path);

// Instantiates the workspace's connectors.
Result<ConnectorSet> build_connectors(const Workspace& workspace, const Vault& vault);

// Builds a runnable Plan from a skill and slot values (questions for the
// required slots still missing).
Plan plan_from_skill(const Skill& skill, const std::string& goal, const Json& slots);

}  // namespace ergon
