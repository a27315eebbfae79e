#include "ergon/workspace.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <string>

#include "core/internal/yaml_json.h"
#include "support/process.h"

namespace ergon {
namespace {

using testing::TempDir;
using testing::write_file;

// ---------------------------------------------------------------------------
// A valid workspace; the malformed cases below each break one thing in it.

const std::string kErgonYaml = R"(# the cloud-cost workspace
store: data/ergon.db
approvals: auto
guards: [schema, policy, intent, approval]
vault: { file: secrets.env }
connectors:
  cloud:
    kind: http
    base_url: http://127.0.0.1:9
    base_url_env: ERGON_WS_TEST_UNSET_URL
    auth: { bearer: ACME_CLOUD_TOKEN }
    timeout_ms: 2000
    headers: { X-Client: ergon }
    actions:
      get_bill:
        description: The monthly bill
        method: GET
        path: /v1/bill
        effect: read
      stop_instance:
        description: Stop a running instance
        method: post
        path: /v1/instances/{id}/stop
        params:
          type: object
          required: [id, env]
          properties:
            id: { type: string }
            env: { type: string }
            window: { type: string }
        query: [window]
        effect: write
        compensate:
          action: cloud.start_instance
          with: { id: "${args.id}", env: "${args.env}" }
        expect: "result.state == 'stopped'"
        dry_run: { query: { dry_run: "true" } }
        idempotency_key: "${session}:${args.id}"
      start_instance:
        method: POST
        path: /v1/instances/{id}/start
        body: { environment: env }
        effect: write
      purchase_reservation:
        method: POST
        path: /v1/reservations
        effect: irreversible
)";

const std::string kPolicyYaml = R"(rules:
  - permit: "cloud.*"
  - forbid: cloud.stop_instance
    when: args.env == "prod"
    reason: production instances are never touched
  - permit: cloud.purchase_reservation
    require_approval: true
    limits:
      calls: 3
      budget: { sum: "args.count * args.unit_price", max: 10000 }
)";

const std::string kSkillYaml = R"(name: reduce-cloud-spend
description: Reduce the monthly cloud bill without touching production
examples:
  - cut our monthly cloud spend by {target_pct}
slots:
  target_pct:
    type: percent
    required: true
    question: By how much should monthly spend drop?
steps:
  - id: bill
    do: cloud.get_bill
  - id: pick
    needs: [bill]
    compute: |
      local stop = {}
      return { stop = stop }
  - id: stop
    needs: [pick]
    for_each: steps.pick.result.stop
    do: cloud.stop_instance
    with: { id: "${item.id}", env: "${item.tags.env}" }
    when: slots.target_pct > 0
    on_fail: retry
    retry: { max_attempts: 4, initial_backoff_ms: 200, multiplier: 2, max_backoff_ms: 5000 }
  - id: confirm
    ask: Which account should be billed?
    slot: account
)";

using Files = std::map<std::string, std::string>;

Files valid_files() {
  return {{"ergon.yaml", kErgonYaml},
          {"policy.yaml", kPolicyYaml},
          {"skills/reduce.yaml", kSkillYaml},
          {"secrets.env", "ACME_CLOUD_TOKEN=t0ken-for-tests\n"}};
}

void write_files(const TempDir& dir, const Files& files) {
  for (const auto& [name, text] : files) write_file(dir.file(name), text);
}

// 1-based line of the first occurrence of `needle` in `text`.
int line_of(const std::string& text, const std::string& needle) {
  size_t at = text.find(needle);
  EXPECT_NE(at, std::string::npos) << "test bug: '" << needle << "' not in the file";
  return 1 + static_cast<int>(std::count(text.begin(), text.begin() + static_cast<long>(at), '\n'));
}

std::string replaced(std::string text, const std::string& from, const std::string& to) {
  size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << "test bug: '" << from << "' not in the file";
  if (at != std::string::npos) text.replace(at, from.size(), to);
  return text;
}

TEST(WorkspaceTest, LoadsAValidWorkspace) {
  TempDir dir;
  write_files(dir, valid_files());
  auto ws = load_workspace(dir.path() + "/");
  ASSERT_TRUE(ws) << ws.error().message;

  EXPECT_EQ(ws->dir, std::filesystem::path(dir.path()).lexically_normal().string());
  EXPECT_EQ(ws->store_path, dir.path() + "/data/ergon.db");
  EXPECT_EQ(ws->vault_file, dir.path() + "/secrets.env");
  EXPECT_EQ(ws->approvals, "auto");
  EXPECT_EQ(ws->guards, (std::vector<std::string>{"schema", "policy", "intent", "approval"}));

  ASSERT_EQ(ws->connectors.size(), 1u);
  const ConnectorConfig& cloud = ws->connectors[0];
  EXPECT_EQ(cloud.name, "cloud");
  EXPECT_EQ(cloud.kind, "http");
  EXPECT_EQ(cloud.loc.str(), "ergon.yaml:" + std::to_string(line_of(kErgonYaml, "  cloud:")));
  EXPECT_EQ(cloud.settings["base_url"], "http://127.0.0.1:9");
  EXPECT_EQ(cloud.settings["timeout_ms"], 2000);
  EXPECT_EQ(cloud.settings["auth"]["bearer"], "ACME_CLOUD_TOKEN");
  EXPECT_FALSE(cloud.settings.contains("actions"));

  EXPECT_EQ(ws->action_names(),
            (std::vector<std::string>{"cloud.get_bill", "cloud.stop_instance",
                                      "cloud.start_instance", "cloud.purchase_reservation"}));
  const DeclaredAction& stop = cloud.actions[1];
  EXPECT_EQ(stop.spec.name, "cloud.stop_instance");
  EXPECT_EQ(stop.spec.description, "Stop a running instance");
  EXPECT_EQ(stop.spec.effect, Effect::kWrite);
  EXPECT_EQ(stop.spec.params_schema["required"], Json({"id", "env"}));
  ASSERT_TRUE(stop.spec.compensate);
  EXPECT_EQ(stop.spec.compensate->action, "cloud.start_instance");
  EXPECT_EQ(stop.spec.compensate->with, Json({{"id", "${args.id}"}, {"env", "${args.env}"}}));
  EXPECT_EQ(stop.spec.expect, "result.state == 'stopped'");
  EXPECT_EQ(stop.spec.idempotency_key, "${session}:${args.id}");
  EXPECT_TRUE(stop.spec.supports_dry_run);
  EXPECT_EQ(stop.binding, Json::parse(R"({"method": "POST", "path": "/v1/instances/{id}/stop",
      "query": ["window"], "dry_run": {"query": {"dry_run": "true"}}})"));
  EXPECT_EQ(stop.loc.line, line_of(kErgonYaml, "stop_instance:"));
  EXPECT_EQ(cloud.actions[0].spec.effect, Effect::kRead);
  EXPECT_FALSE(cloud.actions[0].spec.supports_dry_run);
  EXPECT_EQ(cloud.actions[0].spec.params_schema, Json({{"type", "object"}}));
  EXPECT_EQ(cloud.actions[3].spec.effect, Effect::kIrreversible);

  const auto& rules = ws->policy.rules();
  ASSERT_EQ(rules.size(), 3u);
  EXPECT_EQ(rules[0].kind, PolicyRule::Kind::kPermit);
  EXPECT_EQ(rules[0].actions, "cloud.*");
  EXPECT_EQ(rules[1].kind, PolicyRule::Kind::kForbid);
  EXPECT_EQ(rules[1].when, "args.env == \"prod\"");
  EXPECT_EQ(rules[1].reason, "production instances are never touched");
  EXPECT_EQ(rules[1].loc.str(), "policy.yaml:3");
  EXPECT_TRUE(rules[2].require_approval);
  EXPECT_FALSE(rules[2].auto_approve);
  EXPECT_EQ(rules[2].max_calls, 3);
  ASSERT_TRUE(rules[2].budget);
  EXPECT_EQ(rules[2].budget->sum, "args.count * args.unit_price");
  EXPECT_EQ(rules[2].budget->max, 10000);
  EXPECT_FALSE(ws->policy.four_eyes());

  ASSERT_EQ(ws->skills.size(), 1u);
  const Skill* skill = ws->skill("reduce-cloud-spend");
  ASSERT_NE(skill, nullptr);
  EXPECT_EQ(ws->skill("nope"), nullptr);
  EXPECT_EQ(skill->loc.file, "skills/reduce.yaml");
  EXPECT_EQ(skill->examples,
            std::vector<std::string>{"cut our monthly cloud spend by {target_pct}"});
  ASSERT_EQ(skill->slots.size(), 1u);
  EXPECT_EQ(skill->slots[0].name, "target_pct");
  EXPECT_EQ(skill->slots[0].type, SlotType::kPercent);
  ASSERT_EQ(skill->steps.size(), 4u);
  const Step& stop_step = skill->steps[2];
  EXPECT_EQ(stop_step.id, "stop");
  EXPECT_EQ(stop_step.action, "cloud.stop_instance");
  EXPECT_EQ(stop_step.for_each, "steps.pick.result.stop");
  EXPECT_EQ(stop_step.with, Json({{"id", "${item.id}"}, {"env", "${item.tags.env}"}}));
  EXPECT_EQ(stop_step.on_fail, OnFail::kRetry);
  EXPECT_EQ(stop_step.retry.max_attempts, 4);
  EXPECT_EQ(stop_step.loc.str(),
            "skills/reduce.yaml:" + std::to_string(line_of(kSkillYaml, "- id: stop")));
  EXPECT_EQ(skill->steps[1].kind, StepKind::kCompute);
  EXPECT_EQ(skill->steps[1].compute, "local stop = {}\nreturn { stop = stop }\n");
  EXPECT_EQ(skill->steps[3].ask_slot, "account");
}

TEST(WorkspaceTest, DefaultsWhenOnlyErgonYamlExists) {
  TempDir dir;
  write_file(dir.file("ergon.yaml"), "connectors: {}\n");
  auto ws = load_workspace(dir.path());
  ASSERT_TRUE(ws) << ws.error().message;
  EXPECT_EQ(ws->store_path, dir.path() + "/.ergon/ergon.db");
  EXPECT_EQ(ws->approvals, "terminal");
  EXPECT_EQ(ws->guards, (std::vector<std::string>{"schema", "policy", "intent", "approval"}));
  EXPECT_TRUE(ws->vault_file.empty());
  EXPECT_TRUE(ws->policy.rules().empty());
  EXPECT_TRUE(ws->skills.empty());
}

TEST(WorkspaceTest, ReadsTheModelSection) {
  TempDir dir;
  write_file(dir.file("ergon.yaml"),
             "model:\n  kind: openai\n  base_url: http://127.0.0.1:8080/v1\n  model: qwen2.5\n"
             "  api_key_env: LLM_KEY\n  repair_rounds: 1\n"
             "  prices: { prompt_per_1k: 0.5, completion_per_1k: 1.5 }\n");
  auto ws = load_workspace(dir.path());
  ASSERT_TRUE(ws) << ws.error().message;
  ASSERT_TRUE(ws->model.has_value());
  EXPECT_EQ(ws->model->base_url, "http://127.0.0.1:8080/v1");
  EXPECT_EQ(ws->model->model, "qwen2.5");
  EXPECT_EQ(ws->model->api_key_env, "LLM_KEY");
  EXPECT_EQ(ws->model->repair_rounds, 1);
  EXPECT_DOUBLE_EQ(ws->model->prices.completion_per_1k, 1.5);

  // Without the section ergon plans offline, with skills only.
  write_file(dir.file("ergon.yaml"), "connectors: {}\n");
  auto offline = load_workspace(dir.path());
  ASSERT_TRUE(offline) << offline.error().message;
  EXPECT_FALSE(offline->model.has_value());
}

TEST(WorkspaceTest, AbsoluteStorePathIsKept) {
  TempDir dir;
  write_file(dir.file("ergon.yaml"), "store: /var/lib/ergon/x.db\n");
  auto ws = load_workspace(dir.path());
  ASSERT_TRUE(ws) << ws.error().message;
  EXPECT_EQ(ws->store_path, "/var/lib/ergon/x.db");
}

TEST(WorkspaceTest, MissingErgonYaml) {
  TempDir dir;
  auto ws = load_workspace(dir.path());
  ASSERT_FALSE(ws);
  EXPECT_EQ(ws.error().code, ErrorCode::kInvalidInput);
  EXPECT_EQ(ws.error().message, "no ergon.yaml in " + dir.path() + " — is this a workspace?");
}

// ---------------------------------------------------------------------------
// Malformed workspaces: each names file:line: field.

struct BadCase {
  std::string name;
  std::string file;  // which file is changed
  std::string from;  // replaced text ("" = the whole file becomes `to`)
  std::string to;
  std::string line_needle;  // the error's line is where this text is in the changed file
  std::string field;        // "" when the message names no field
  std::string text;         // must appear in the message after the field
};

std::ostream& operator<<(std::ostream& out, const BadCase& c) {
  return out << c.name;
}

class MalformedWorkspaceTest : public ::testing::TestWithParam<BadCase> {};

TEST_P(MalformedWorkspaceTest, NamesFileLineAndField) {
  const BadCase& c = GetParam();
  Files files = valid_files();
  std::string& changed = files[c.file];
  changed = c.from.empty() ? c.to : replaced(changed, c.from, c.to);
  TempDir dir;
  write_files(dir, files);

  auto ws = load_workspace(dir.path());
  ASSERT_FALSE(ws) << "loaded although " << c.name;
  EXPECT_EQ(ws.error().code, ErrorCode::kInvalidInput);
  RecordProperty("message", ws.error().message);
  std::string prefix = c.file + ":" + std::to_string(line_of(changed, c.line_needle)) + ":";
  if (!c.field.empty()) prefix += " " + c.field + ":";
  EXPECT_TRUE(ws.error().message.starts_with(prefix))
      << "want prefix: " << prefix << "\n got: " << ws.error().message;
  EXPECT_NE(ws.error().message.find(c.text, prefix.size()), std::string::npos)
      << "want: " << c.text << "\n got: " << ws.error().message;
}

INSTANTIATE_TEST_SUITE_P(
    Cases, MalformedWorkspaceTest,
    ::testing::Values(
        BadCase{"yaml_syntax", "ergon.yaml", "approvals: auto", "approvals: auto: yes",
                "approvals:", "", "fix the YAML syntax"},
        BadCase{"yaml_duplicate_key", "ergon.yaml", "approvals: auto",
                "approvals: auto\napprovals: none", "approvals: none", "",
                "duplicate key 'approvals'"},
        BadCase{"unknown_top_level_key", "ergon.yaml", "connectors:", "conectors:", "conectors:",
                "conectors", "unknown field — did you mean 'connectors'?"},
        BadCase{"unknown_approvals_mode", "ergon.yaml", "approvals: auto", "approvals: yes",
                "approvals:", "approvals", "unknown approvals mode 'yes'"},
        BadCase{"unknown_guard", "ergon.yaml", "intent, approval", "intnet, approval",
                "guards:", "guards[2]", "unknown guard 'intnet'; did you mean 'intent'?"},
        BadCase{"mandatory_guard_missing", "ergon.yaml", "intent, approval]", "intent]",
                "guards:", "guards", "the approval guard is mandatory"},
        BadCase{"missing_vault_file", "ergon.yaml", "file: secrets.env", "file: nope.env",
                "vault:", "vault.file", "no such file"},
        BadCase{"unsupported_connector_kind", "ergon.yaml", "kind: http", "kind: telnet",
                "kind: telnet", "connectors.cloud.kind",
                "unsupported connector kind 'telnet' (available: http, browser, mcp)"},
        BadCase{"browser_with_actions", "ergon.yaml", "kind: http", "kind: browser", "    actions:",
                "connectors.cloud.actions", "a browser connector's actions are built in"},
        BadCase{"missing_kind", "ergon.yaml", "    kind: http\n", "",
                "  cloud:", "connectors.cloud.kind", "missing — set kind: http"},
        BadCase{"bad_base_url", "ergon.yaml", "base_url: http://127.0.0.1:9",
                "base_url: ftp://127.0.0.1:9", "base_url:", "connectors.cloud.base_url",
                "http:// or https://"},
        BadCase{"unknown_connector_field", "ergon.yaml", "timeout_ms: 2000", "timeout: 2000",
                "timeout:", "connectors.cloud.timeout", "did you mean 'timeout_ms'?"},
        BadCase{"unknown_effect", "ergon.yaml", "effect: write\n        compensate",
                "effect: wirte\n        compensate", "effect: wirte",
                "connectors.cloud.actions.stop_instance.effect",
                "unknown effect 'wirte'; did you mean 'write'? — use read, write or irreversible"},
        BadCase{"missing_effect", "ergon.yaml", "        effect: irreversible\n", "",
                "purchase_reservation:", "connectors.cloud.actions.purchase_reservation.effect",
                "missing"},
        BadCase{"unknown_action_field", "ergon.yaml", "description: The monthly bill",
                "descripton: The monthly bill", "descripton:",
                "connectors.cloud.actions.get_bill.descripton", "did you mean 'description'?"},
        BadCase{"bad_method", "ergon.yaml", "method: GET", "method: FETCH", "method: FETCH",
                "connectors.cloud.actions.get_bill.method", "use GET, POST, PUT, PATCH or DELETE"},
        BadCase{"path_placeholder_not_a_param", "ergon.yaml", "/v1/instances/{id}/stop",
                "/v1/instances/{idd}/stop", "/v1/instances/{idd}/stop",
                "connectors.cloud.actions.stop_instance.path",
                "argument 'idd' in path is not a parameter — did you mean 'id'?"},
        BadCase{"compensate_unknown_action", "ergon.yaml", "action: cloud.start_instance",
                "action: cloud.strat_instance", "action: cloud.strat_instance",
                "connectors.cloud.actions.stop_instance.compensate.action",
                "unknown action 'cloud.strat_instance'; did you mean 'cloud.start_instance'?"},
        BadCase{"compensate_on_irreversible", "ergon.yaml", "        effect: irreversible\n",
                "        effect: irreversible\n        compensate: { action: get_bill }\n",
                "compensate: { action: get_bill }",
                "connectors.cloud.actions.purchase_reservation.compensate",
                "irreversible action cannot be compensated"},
        BadCase{"expect_lua_syntax", "ergon.yaml", "expect: \"result.state == 'stopped'\"",
                "expect: \"result.state === 'stopped'\"",
                "expect:", "connectors.cloud.actions.stop_instance.expect", "fix the Lua"},
        BadCase{"idempotency_key_template", "ergon.yaml", "\"${session}:${args.id}\"",
                "\"${session}:${args.id\"", "idempotency_key:",
                "connectors.cloud.actions.stop_instance.idempotency_key", "fix the template"},
        BadCase{"credentials_in_headers", "ergon.yaml", "{ X-Client: ergon }",
                "{ Authorization: Bearer abc }", "headers: { Authorization",
                "connectors.cloud.headers.Authorization", "use auth: { bearer: SECRET_NAME }"},
        BadCase{"rule_with_permit_and_forbid", "policy.yaml", "  - permit: \"cloud.*\"",
                "  - permit: \"cloud.*\"\n    forbid: cloud.stop_instance", "permit: \"cloud.*\"",
                "rules[0]", "has both permit and forbid"},
        BadCase{"rule_with_neither", "policy.yaml", "  - permit: \"cloud.*\"",
                "  - reason: nothing", "reason: nothing", "rules[0]",
                "has neither permit nor forbid"},
        BadCase{"rule_when_lua_syntax", "policy.yaml", "when: args.env == \"prod\"",
                "when: args.env = \"prod\"", "when:", "rules[1].when", "fix the Lua"},
        BadCase{"rule_budget_sum_lua_syntax", "policy.yaml", "args.count * args.unit_price",
                "args.count * * args.unit_price", "budget:", "rules[2].limits.budget.sum",
                "fix the Lua"},
        BadCase{"rule_limits_shape", "policy.yaml", "calls: 3", "calls: many",
                "calls:", "rules[2].limits.calls", "whole number"},
        BadCase{"forbid_with_limits", "policy.yaml",
                "reason: production instances are never touched",
                "reason: no\n    limits: { calls: 1 }", "limits:", "rules[1].limits",
                "only a permit rule has limits"},
        BadCase{"rule_matches_no_action", "policy.yaml", "forbid: cloud.stop_instance",
                "forbid: cloud.stop_instanse", "forbid:", "rules[1].forbid",
                "'cloud.stop_instanse' matches no action in this workspace; did you mean "
                "'cloud.stop_instance'?"},
        BadCase{"four_eyes_not_a_boolean", "policy.yaml",
                "rules:", "four_eyes: always\nrules:", "four_eyes:", "four_eyes", "true or false"},
        BadCase{"unknown_rule_field", "policy.yaml", "require_approval: true",
                "require_aproval: true", "require_aproval", "rules[2].require_aproval",
                "did you mean 'require_approval'?"},
        BadCase{"step_with_unknown_action", "skills/reduce.yaml", "do: cloud.stop_instance",
                "do: cloud.stop_instanse", "do: cloud.stop_instanse", "steps[2].do",
                "unknown action 'cloud.stop_instanse'; did you mean 'cloud.stop_instance'?"},
        BadCase{"bad_on_fail", "skills/reduce.yaml", "on_fail: retry", "on_fail: retyr",
                "on_fail: retyr", "steps[2].on_fail", "'retyr'"},
        BadCase{"when_lua_syntax", "skills/reduce.yaml", "when: slots.target_pct > 0",
                "when: slots.target_pct >", "when: slots", "steps[2].when", "fix the Lua"},
        BadCase{"compute_lua_syntax", "skills/reduce.yaml", "return { stop = stop }",
                "return { stop = stop", "compute: |", "steps[1].compute", "fix the Lua"},
        BadCase{"with_template_syntax", "skills/reduce.yaml", "env: \"${item.tags.env}\"",
                "env: \"${item.tags.}\"", "with:", "steps[2].with.env", "fix the template"},
        BadCase{"step_unknown_field", "skills/reduce.yaml", "needs: [bill]", "neds: [bill]",
                "neds:", "steps[1].neds", "did you mean 'needs'?"},
        BadCase{"step_needs_unknown_step", "skills/reduce.yaml", "needs: [pick]", "needs: [pik]",
                "needs: [pik]", "steps[2].needs[0]",
                "no step 'pik' in this skill; did you mean 'pick'?"},
        BadCase{"duplicate_step_id", "skills/reduce.yaml", "id: confirm", "id: bill",
                "- id: bill\n    ask", "steps[3].id", "step id 'bill' is already used at line 11"},
        BadCase{"needs_cycle", "skills/reduce.yaml", "  - id: bill\n",
                "  - id: bill\n    needs: [stop]\n", "- id: bill", "steps[0]", "cycle"},
        BadCase{"bad_slot_type", "skills/reduce.yaml", "type: percent", "type: percnt",
                "type: percnt", "slots.target_pct.type", "unknown slot type 'percnt'"},
        BadCase{"example_names_unknown_slot", "skills/reduce.yaml", "by {target_pct}",
                "by {target}", "by {target}", "examples[0]", "{target} names no slot"},
        BadCase{"skill_without_steps", "skills/reduce.yaml", "", "name: empty\n", "name: empty",
                "steps", "non-empty list of steps"},
        BadCase{"skill_yaml_syntax", "skills/reduce.yaml", "", "name: x\nsteps:\n  - id: a: b\n",
                "- id:", "", "fix the YAML syntax"},
        BadCase{"model_without_base_url", "ergon.yaml", "approvals: auto",
                "approvals: auto\nmodel:\n  kind: openai\n  model: qwen2.5",
                "model:", "model.base_url", "missing — set it"},
        BadCase{"model_misspelt_field", "ergon.yaml", "approvals: auto",
                "approvals: auto\nmodel:\n  base_url: http://127.0.0.1:8080/v1\n  model: m\n"
                "  temprature: 0",
                "temprature:", "model.temprature", "temperature"},
        BadCase{"model_not_a_mapping", "ergon.yaml", "approvals: auto",
                "approvals: auto\nmodel: llama", "model: llama", "model", "kind: openai"},
        BadCase{"duplicate_skill", "skills/zz.yaml", "", kSkillYaml, "name:", "name",
                "duplicate skill 'reduce-cloud-spend' (also in skills/reduce.yaml)"}),
    [](const ::testing::TestParamInfo<BadCase>& info) { return info.param.name; });

// ---------------------------------------------------------------------------
// Single files.

TEST(WorkspaceTest, LoadSkillFileNamesThePathGiven) {
  TempDir dir;
  write_file(dir.file("reduce.yaml"), kSkillYaml);
  auto skill = load_skill_file(dir.file("reduce.yaml"));
  ASSERT_TRUE(skill) << skill.error().message;
  EXPECT_EQ(skill->name, "reduce-cloud-spend");
  EXPECT_EQ(skill->steps[0].loc.file, dir.file("reduce.yaml"));

  // Without a workspace any well-formed action name is accepted.
  write_file(dir.file("other.yaml"), replaced(kSkillYaml, "cloud.get_bill", "crm.find"));
  EXPECT_TRUE(load_skill_file(dir.file("other.yaml")));

  write_file(dir.file("bad.yaml"), replaced(kSkillYaml, "on_fail: retry", "on_fail: 3"));
  auto bad = load_skill_file(dir.file("bad.yaml"));
  ASSERT_FALSE(bad);
  EXPECT_TRUE(bad.error().message.starts_with(dir.file("bad.yaml") + ":" +
                                              std::to_string(line_of(kSkillYaml, "on_fail")) +
                                              ": steps[2].on_fail: "))
      << bad.error().message;
}

TEST(WorkspaceTest, LoadPolicyFileAcceptsABareListOfRules) {
  TempDir dir;
  write_file(dir.file("policy.yaml"), "- permit: \"crm.*\"\n- forbid: crm.delete\n");
  auto policy = load_policy_file(dir.file("policy.yaml"));
  ASSERT_TRUE(policy) << policy.error().message;
  ASSERT_EQ(policy->rules().size(), 2u);
  EXPECT_EQ(policy->rules()[1].loc.line, 2);
  EXPECT_EQ(policy->rules()[1].kind, PolicyRule::Kind::kForbid);
}

// ---------------------------------------------------------------------------
// The YAML to JSON converter.

TEST(YamlJsonTest, PlainScalarsAreTypedQuotedOnesStayStrings) {
  auto doc = internal::parse_yaml(R"(
null_word: null
tilde: ~
empty:
yes_bool: true
no_bool: False
int: 42
negative: -7
hex: 0x1F
float: 1.5
exp: 1e3
trailing_dot: 1.
leading_dot: -.5
not_exp: 1e
octal: 0o17
zero_padded: 007
word: yes
quoted_int: "42"
single_quoted_bool: 'true'
quoted_null: "null"
block: |
  10
inf: .inf
list: [1, "2", three]
)",
                                  "t.yaml");
  ASSERT_TRUE(doc) << doc.error().message;
  const Json& v = doc->value;
  EXPECT_TRUE(v["null_word"].is_null());
  EXPECT_TRUE(v["tilde"].is_null());
  EXPECT_TRUE(v["empty"].is_null());
  EXPECT_EQ(v["yes_bool"], true);
  EXPECT_EQ(v["no_bool"], false);
  EXPECT_EQ(v["int"], 42);
  EXPECT_TRUE(v["int"].is_number_integer());
  EXPECT_EQ(v["negative"], -7);
  EXPECT_EQ(v["hex"], 31);
  EXPECT_EQ(v["float"], 1.5);
  EXPECT_EQ(v["exp"], 1000.0);
  EXPECT_EQ(v["trailing_dot"], 1.0);
  EXPECT_EQ(v["leading_dot"], -0.5);
  EXPECT_EQ(v["not_exp"], "1e");
  EXPECT_EQ(v["octal"], 15);
  EXPECT_EQ(v["zero_padded"], "007");
  EXPECT_EQ(v["word"], "yes");  // YAML 1.2: no yes/no booleans
  EXPECT_EQ(v["quoted_int"], "42");
  EXPECT_EQ(v["single_quoted_bool"], "true");
  EXPECT_EQ(v["quoted_null"], "null");
  EXPECT_EQ(v["block"], "10\n");
  EXPECT_EQ(v["inf"], ".inf");
  EXPECT_EQ(v["list"], Json({1, "2", "three"}));
}

TEST(YamlJsonTest, KeepsTheLineOfEveryPointer) {
  std::string text = "a:\n  b: 1\n  list:\n    - x\n    - { y: 2 }\n\"sl/ash\": 3\n";
  auto doc = internal::parse_yaml(text, "t.yaml");
  ASSERT_TRUE(doc) << doc.error().message;
  EXPECT_EQ(doc->line("/a"), 1);
  EXPECT_EQ(doc->line("/a/b"), 2);
  EXPECT_EQ(doc->line("/a/list"), 3);
  EXPECT_EQ(doc->line("/a/list/0"), 4);
  EXPECT_EQ(doc->line("/a/list/1/y"), 5);
  EXPECT_EQ(doc->line("/sl~1ash"), 6);
  // Unknown pointers fall back to their longest known prefix.
  EXPECT_EQ(doc->line("/a/list/1/missing/deeper"), 5);
  EXPECT_EQ(doc->line("/nowhere"), 1);
}

TEST(YamlJsonTest, FieldNamesAndPointerMessages) {
  Json root = Json::parse(R"({"steps": [{"with": {"id": 1}}], "m": {"2": true}})");
  EXPECT_EQ(internal::field_name(root, "/steps/0/with/id"), "steps[0].with.id");
  EXPECT_EQ(internal::field_name(root, "/m/2"), "m.2");
  EXPECT_EQ(internal::field_name(root, "/steps/0/missing"), "steps[0].missing");
  EXPECT_EQ(internal::field_name(root, ""), "");
  EXPECT_EQ(internal::split_pointer_message("/on_fail: bad: really"),
            (std::pair<std::string, std::string>{"/on_fail", "bad: really"}));
  EXPECT_EQ(internal::split_pointer_message(": whole value"),
            (std::pair<std::string, std::string>{"", "whole value"}));
  EXPECT_EQ(internal::split_pointer_message("no pointer"),
            (std::pair<std::string, std::string>{"", "no pointer"}));
  EXPECT_EQ(internal::pointer_append("/a", "x/~y"), "/a/x~1~0y");
}

TEST(YamlJsonTest, SyntaxErrorsNameLineAndColumn) {
  auto doc = internal::parse_yaml("a: 1\nb: x: y\n", "f.yaml");
  ASSERT_FALSE(doc);
  EXPECT_EQ(doc.error().code, ErrorCode::kInvalidInput);
  EXPECT_EQ(doc.error().message, "f.yaml:2:5: illegal map value — fix the YAML syntax");
}

TEST(YamlJsonTest, SelfReferentialAliasesStop) {
  auto doc = internal::parse_yaml("a: &x [1, *x]\n", "f.yaml");
  // yaml-cpp either rejects the alias or builds a cycle; neither may hang or crash.
  if (!doc) {
    EXPECT_EQ(doc.error().code, ErrorCode::kInvalidInput);
  }
}

TEST(YamlJsonTest, EmptyDocumentIsNull) {
  auto doc = internal::parse_yaml("# nothing\n", "f.yaml");
  ASSERT_TRUE(doc) << doc.error().message;
  EXPECT_TRUE(doc->value.is_null());
}

}  // namespace
}  // namespace ergon
