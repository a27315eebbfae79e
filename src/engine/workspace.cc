#include "ergon/workspace.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <map>
#include <set>
#include <system_error>

#include "core/internal/yaml_json.h"
#include "ergon/browser.h"
#include "ergon/expression.h"
#include "ergon/http_connector.h"
#include "ergon/mcp.h"

namespace ergon {

namespace {

namespace fs = std::filesystem;
using internal::pointer_append;
using internal::type_name;
using internal::YamlDocument;

const std::vector<std::string> kWorkspaceFields = {"store", "approvals",  "guards",
                                                   "vault", "connectors", "model"};
const std::vector<std::string> kApprovalModes = {"terminal", "auto", "none"};
const std::vector<std::string> kGuardNames = {"schema", "policy", "intent", "approval"};
const std::vector<std::string> kMandatoryGuards = {"policy", "approval"};
const std::vector<std::string> kConnectorKinds = {"http", "browser", "mcp"};
const std::vector<std::string> kSpecFields = {"description", "params",          "effect",
                                              "compensate",  "idempotency_key", "expect"};
const std::vector<std::string> kCompensateFields = {"action", "with"};
const std::vector<std::string> kRuleFields = {"permit",           "forbid",       "when",  "reason",
                                              "require_approval", "auto_approve", "limits"};
const std::vector<std::string> kLimitFields = {"calls", "budget"};
const std::vector<std::string> kBudgetFields = {"sum", "max"};
const std::vector<std::string> kSkillFields = {"name", "description", "examples", "slots", "steps"};

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& item : items) out += (out.empty() ? "" : ", ") + item;
  return out;
}

bool contains(const std::vector<std::string>& items, const std::string& item) {
  return std::find(items.begin(), items.end(), item) != items.end();
}

// Connector and action names: they become "<connector>.<action>".
bool is_name(const std::string& text) {
  if (text.empty()) return false;
  auto first = static_cast<unsigned char>(text[0]);
  if (!std::isalpha(first) && first != '_') return false;
  return std::all_of(text.begin(), text.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return std::isalnum(u) || u == '_' || u == '-';
  });
}

// Whether `action` names a connector in `connectors`, whose actions are known
// only at run time (Workspace::action_known_at_run_time).
bool of_connectors(const std::vector<std::string>& connectors, const std::string& action) {
  auto dot = action.find('.');
  return dot != std::string::npos && contains(connectors, action.substr(0, dot));
}

// One workspace file: turns JSON pointers into "file:line: field: " prefixes.
class Source {
 public:
  explicit Source(const YamlDocument& doc) : doc_(doc) {}

  const Json& root() const { return doc_.value; }
  const std::string& file() const { return doc_.file; }
  // Keys of the mapping at `pointer` in file order, so the first problem
  // reported is the first in the file and declarations keep their order.
  std::vector<std::string> keys(const std::string& pointer, const Json& object) const {
    return doc_.keys(pointer, object);
  }
  SourceLoc loc(const std::string& pointer) const { return {doc_.file, doc_.line(pointer)}; }

  std::unexpected<Error> error(const std::string& pointer, const std::string& what) const {
    return doc_.error(pointer, what);
  }

  // A nested parser's error, "<pointer>: text" relative to the value at `base`.
  std::unexpected<Error> nested(const std::string& base, const Error& nested) const {
    auto [pointer, text] = internal::split_pointer_message(nested.message);
    return error(base + pointer, text);
  }

  Status check_fields(const Json& object, const std::string& pointer,
                      const std::vector<std::string>& known) const {
    return doc_.check_fields(object, pointer, known, closest_spelling);
  }

  // An optional string field ("" when absent); required when `if_missing`
  // (what to write instead) is given.
  Result<std::string> string_at(const Json& object, const std::string& pointer,
                                const std::string& key, const std::string& if_missing = "") const {
    std::string at = pointer_append(pointer, key);
    auto it = object.find(key);
    if (it == object.end()) {
      if (!if_missing.empty()) return error(at, "missing — " + if_missing);
      return std::string();
    }
    if (!it->is_string() || it->get<std::string>().empty()) {
      return error(at, "expected a non-empty string, got " +
                           (it->is_string() ? std::string("an empty one") : type_name(*it)));
    }
    return it->get<std::string>();
  }

  Result<bool> bool_at(const Json& object, const std::string& pointer,
                       const std::string& key) const {
    auto it = object.find(key);
    if (it == object.end()) return false;
    if (!it->is_boolean()) {
      return error(pointer_append(pointer, key), "expected true or false, got " + type_name(*it));
    }
    return it->get<bool>();
  }

  Status object_at(const Json& value, const std::string& pointer, const std::string& what) const {
    if (value.is_object()) return {};
    return error(pointer, "expected " + what + ", got " + type_name(value));
  }

  // Syntax of a Lua expression (or statement chunk) found at `pointer`.
  Status lua(Sandbox& sandbox, const std::string& pointer, const std::string& code,
             bool is_chunk) const {
    if (code.empty()) return {};
    auto ok = sandbox.check(code, is_chunk);
    if (!ok) return error(pointer, ok.error().message + " — fix the Lua");
    return {};
  }

  // Every "${ lua }" template in the strings of `value`, each error at its own pointer.
  Status templates(Sandbox& sandbox, const std::string& pointer, const Json& value) const {
    if (value.is_string()) {
      if (!has_template(value.get<std::string>())) return {};
      auto ok = sandbox.check_templates(value);
      if (!ok) return error(pointer, ok.error().message + " — fix the template");
      return {};
    }
    if (value.is_array()) {
      for (size_t i = 0; i < value.size(); ++i) {
        if (auto ok = templates(sandbox, pointer_append(pointer, i), value[i]); !ok) return ok;
      }
    } else if (value.is_object()) {
      for (const std::string& key : keys(pointer, value)) {
        if (auto ok = templates(sandbox, pointer_append(pointer, key), value[key]); !ok) return ok;
      }
    }
    return {};
  }

 private:
  const YamlDocument& doc_;
};

std::string resolve(const fs::path& dir, const std::string& path) {
  fs::path p(path);
  if (p.is_relative()) p = dir / p;
  return p.lexically_normal().string();
}

// ---------------------------------------------------------------------------
// ergon.yaml

Result<DeclaredAction> parse_action(const Source& src, Sandbox& sandbox,
                                    const std::string& connector, const std::string& name,
                                    const Json& json, const std::string& pointer) {
  if (!is_name(name)) {
    return src.error(pointer, "'" + name +
                                  "' is not a valid action name — use letters, digits, '_' and "
                                  "'-', starting with a letter");
  }
  if (auto ok = src.object_at(json, pointer, "an action (a mapping with method, path, effect...)");
      !ok) {
    return fail(ok.error());
  }
  std::vector<std::string> known = kSpecFields;
  for (const std::string& field : http_binding_fields()) known.push_back(field);
  if (auto ok = src.check_fields(json, pointer, known); !ok) return fail(ok.error());

  DeclaredAction action;
  ActionSpec& spec = action.spec;
  spec.name = connector + "." + name;
  action.loc = src.loc(pointer);

  auto description = src.string_at(json, pointer, "description");
  if (!description) return fail(description.error());
  spec.description = *description;

  spec.params_schema = Json{{"type", "object"}};
  if (auto it = json.find("params"); it != json.end()) {
    std::string at = pointer_append(pointer, "params");
    if (auto ok = src.object_at(*it, at, "a JSON Schema of the arguments object"); !ok) {
      return fail(ok.error());
    }
    if (it->contains("type") && (*it)["type"] != "object") {
      return src.error(pointer_append(at, "type"),
                       "the arguments are always an object — use type: object");
    }
    if (it->contains("properties") && !(*it)["properties"].is_object()) {
      return src.error(pointer_append(at, "properties"),
                       "expected a mapping of argument name to schema");
    }
    if (it->contains("required")) {
      const Json& required = (*it)["required"];
      std::string required_at = pointer_append(at, "required");
      if (!required.is_array()) return src.error(required_at, "expected a list of argument names");
      for (size_t i = 0; i < required.size(); ++i) {
        if (!required[i].is_string()) {
          return src.error(pointer_append(required_at, i), "expected an argument name");
        }
        if (it->contains("properties") && !(*it)["properties"].contains(required[i])) {
          return src.error(pointer_append(required_at, i),
                           "'" + required[i].get<std::string>() +
                               "' is required but not declared under properties — declare it");
        }
      }
    }
    spec.params_schema = *it;
  }

  auto effect_text = src.string_at(json, pointer, "effect");
  if (!effect_text) return fail(effect_text.error());
  if (effect_text->empty()) {
    return src.error(pointer_append(pointer, "effect"),
                     "missing — say what the action does to the world: read, write or "
                     "irreversible");
  }
  auto effect = parse_effect(*effect_text);
  if (!effect) {
    std::string hint = closest_spelling(*effect_text, {"read", "write", "irreversible"});
    return src.error(pointer_append(pointer, "effect"),
                     "unknown effect '" + *effect_text + "'" +
                         (hint.empty() ? "" : "; did you mean '" + hint + "'?") +
                         " — use read, write or irreversible");
  }
  spec.effect = *effect;

  if (auto it = json.find("compensate"); it != json.end()) {
    std::string at = pointer_append(pointer, "compensate");
    if (auto ok = src.object_at(*it, at, "{ action: <connector>.<action>, with: {...} }"); !ok) {
      return fail(ok.error());
    }
    if (auto ok = src.check_fields(*it, at, kCompensateFields); !ok) return fail(ok.error());
    if (spec.effect != Effect::kWrite) {
      return src.error(at, spec.effect == Effect::kRead
                               ? "a read action changes nothing, so there is nothing to "
                                 "compensate — remove compensate"
                               : "an irreversible action cannot be compensated — remove "
                                 "compensate, or set effect: write if it can be undone");
    }
    auto target = src.string_at(*it, at, "action",
                                "name the action that undoes this one, e.g. cloud.start_instance");
    if (!target) return fail(target.error());
    Compensation compensation;
    // Within a connector the connector's own name may be left out.
    compensation.action =
        target->find('.') == std::string::npos ? connector + "." + *target : *target;
    if (it->contains("with")) {
      std::string with_at = pointer_append(at, "with");
      if (auto ok = src.object_at((*it)["with"], with_at, "a mapping of argument templates"); !ok) {
        return fail(ok.error());
      }
      if (auto ok = src.templates(sandbox, with_at, (*it)["with"]); !ok) return fail(ok.error());
      compensation.with = (*it)["with"];
    }
    spec.compensate = std::move(compensation);
  }

  auto expect = src.string_at(json, pointer, "expect");
  if (!expect) return fail(expect.error());
  if (auto ok = src.lua(sandbox, pointer_append(pointer, "expect"), *expect, false); !ok) {
    return fail(ok.error());
  }
  spec.expect = *expect;

  auto key = src.string_at(json, pointer, "idempotency_key");
  if (!key) return fail(key.error());
  if (auto ok = src.templates(sandbox, pointer_append(pointer, "idempotency_key"), Json(*key));
      !ok) {
    return fail(ok.error());
  }
  spec.idempotency_key = *key;

  for (const std::string& field : http_binding_fields()) {
    if (json.contains(field)) action.binding[field] = json[field];
  }
  if (auto ok = check_http_binding(action.binding, spec.params_schema); !ok) {
    return src.nested(pointer, ok.error());
  }
  action.binding["method"] = [&] {
    std::string method = action.binding["method"].get<std::string>();
    for (char& c : method) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return method;
  }();
  spec.supports_dry_run = action.binding.contains("dry_run");
  return action;
}

Result<ConnectorConfig> parse_connector(const Source& src, Sandbox& sandbox,
                                        const std::string& name, const Json& json,
                                        const std::string& pointer) {
  if (!is_name(name)) {
    return src.error(pointer, "'" + name +
                                  "' is not a valid connector name — use letters, digits, '_' "
                                  "and '-', starting with a letter");
  }
  if (auto ok = src.object_at(json, pointer, "a connector (a mapping with kind, actions...)");
      !ok) {
    return fail(ok.error());
  }
  ConnectorConfig config;
  config.name = name;
  config.loc = src.loc(pointer);
  auto kind = src.string_at(json, pointer, "kind", "set kind: http");
  if (!kind) return fail(kind.error());
  if (!contains(kConnectorKinds, *kind)) {
    return src.error(
        pointer_append(pointer, "kind"),
        "unsupported connector kind '" + *kind + "' (available: " + join(kConnectorKinds) + ")");
  }
  config.kind = *kind;
  for (const auto& [key, value] : json.items()) {
    if (key != "actions") config.settings[key] = value;
  }
  auto actions = json.find("actions");
  if (config.kind == "browser") {
    if (actions != json.end()) {
      return src.error(pointer_append(pointer, "actions"),
                       "a browser connector's actions are built in (navigate, click, fill, ...) — "
                       "remove `actions`");
    }
    if (auto ok = check_browser_settings(config.settings); !ok) {
      return src.nested(pointer, ok.error());
    }
    for (ActionSpec& spec : browser_actions(name)) {
      config.actions.push_back({std::move(spec), Json::object(), config.loc});
    }
    return config;
  }
  if (config.kind == "mcp") {
    // Its actions are the server's tools, known once it runs (build_connectors).
    if (actions != json.end()) {
      return src.error(pointer_append(pointer, "actions"),
                       "an mcp connector's actions are its server's tools — remove `actions` "
                       "(set a tool's effect under `effects`)");
    }
    if (auto ok = check_mcp_settings(config.settings); !ok) return src.nested(pointer, ok.error());
    return config;
  }
  if (auto ok = check_http_settings(config.settings); !ok) return src.nested(pointer, ok.error());

  if (actions == json.end() || actions->is_null()) return config;
  std::string at = pointer_append(pointer, "actions");
  if (auto ok = src.object_at(*actions, at, "a mapping of action name to action"); !ok) {
    return fail(ok.error());
  }
  for (const std::string& action_name : src.keys(at, *actions)) {
    auto action = parse_action(src, sandbox, name, action_name, (*actions)[action_name],
                               pointer_append(at, action_name));
    if (!action) return fail(action.error());
    config.actions.push_back(std::move(*action));
  }
  return config;
}

Status parse_main(const Source& src, Sandbox& sandbox, const fs::path& dir, Workspace& ws) {
  const Json& root = src.root();
  if (root.is_null()) return {};
  if (!root.is_object()) {
    return src.error("", "expected a mapping of settings (" + join(kWorkspaceFields) + "), got " +
                             type_name(root));
  }
  if (auto ok = src.check_fields(root, "", kWorkspaceFields); !ok) return ok;

  auto store = src.string_at(root, "", "store");
  if (!store) return fail(store.error());
  if (!store->empty()) ws.store_path = resolve(dir, *store);

  auto approvals = src.string_at(root, "", "approvals");
  if (!approvals) return fail(approvals.error());
  if (!approvals->empty()) {
    if (!contains(kApprovalModes, *approvals)) {
      std::string hint = closest_spelling(*approvals, kApprovalModes);
      return src.error("/approvals", "unknown approvals mode '" + *approvals + "'" +
                                         (hint.empty() ? "" : "; did you mean '" + hint + "'?") +
                                         " — use terminal, auto or none");
    }
    ws.approvals = *approvals;
  }

  if (auto it = root.find("guards"); it != root.end()) {
    if (!it->is_array()) {
      return src.error("/guards",
                       "expected a list of guard names, e.g. [" + join(kGuardNames) + "]");
    }
    std::vector<std::string> guards;
    for (size_t i = 0; i < it->size(); ++i) {
      std::string at = pointer_append("/guards", i);
      const Json& guard = (*it)[i];
      if (!guard.is_string()) return src.error(at, "expected a guard name");
      std::string name = guard.get<std::string>();
      if (!contains(kGuardNames, name)) {
        std::string hint = closest_spelling(name, kGuardNames);
        return src.error(at, "unknown guard '" + name + "'" +
                                 (hint.empty() ? "" : "; did you mean '" + hint + "'?") +
                                 " — use " + join(kGuardNames));
      }
      if (contains(guards, name)) {
        return src.error(at, "guard '" + name + "' is listed twice — list each guard once");
      }
      guards.push_back(name);
    }
    for (const std::string& mandatory : kMandatoryGuards) {
      if (!contains(guards, mandatory)) {
        return src.error("/guards", "the " + mandatory + " guard is mandatory — add '" + mandatory +
                                        "' to the list");
      }
    }
    ws.guards = std::move(guards);
  }

  if (auto it = root.find("vault"); it != root.end()) {
    if (auto ok = src.object_at(*it, "/vault", "{ file: secrets.env }"); !ok) return ok;
    if (auto ok = src.check_fields(*it, "/vault", {"file"}); !ok) return ok;
    auto file = src.string_at(*it, "/vault", "file");
    if (!file) return fail(file.error());
    if (!file->empty()) {
      ws.vault_file = resolve(dir, *file);
      std::error_code ec;
      if (!fs::is_regular_file(ws.vault_file, ec)) {
        return src.error("/vault/file", "no such file " + ws.vault_file +
                                            " — create it (NAME=value lines) or remove vault.file");
      }
    }
  }

  if (auto it = root.find("model"); it != root.end() && !it->is_null()) {
    if (auto ok = src.object_at(*it, "/model", "{ kind: openai, base_url: ..., model: ... }");
        !ok) {
      return ok;
    }
    auto model = model_config_from_json(*it);
    if (!model) return src.nested("/model", model.error());
    ws.model = std::move(*model);
  }

  if (auto it = root.find("connectors"); it != root.end() && !it->is_null()) {
    if (auto ok = src.object_at(*it, "/connectors", "a mapping of connector name to connector");
        !ok) {
      return ok;
    }
    for (const std::string& name : src.keys("/connectors", *it)) {
      auto config =
          parse_connector(src, sandbox, name, (*it)[name], pointer_append("/connectors", name));
      if (!config) return fail(config.error());
      ws.connectors.push_back(std::move(*config));
    }
  }

  // Compensations name actions of any connector, so they are checked once all are known.
  std::vector<std::string> names = ws.action_names();
  for (const ConnectorConfig& connector : ws.connectors) {
    for (const DeclaredAction& action : connector.actions) {
      if (!action.spec.compensate || contains(names, action.spec.compensate->action)) continue;
      auto short_name = split_action_name(action.spec.name);
      std::string at = pointer_append(
          pointer_append(pointer_append(pointer_append("/connectors", connector.name), "actions"),
                         short_name ? short_name->second : action.spec.name),
          "compensate");
      std::string hint = closest_spelling(action.spec.compensate->action, names);
      return src.error(pointer_append(at, "action"),
                       "unknown action '" + action.spec.compensate->action + "'" +
                           (hint.empty() ? "" : "; did you mean '" + hint + "'?") +
                           " — a compensation must be an action declared in ergon.yaml");
    }
  }
  return {};
}

// ---------------------------------------------------------------------------
// policy.yaml

Result<PolicyRule> parse_rule(const Source& src, Sandbox& sandbox, const Json& json,
                              const std::string& pointer) {
  if (auto ok = src.object_at(json, pointer, "a rule (permit: <glob> or forbid: <glob>, ...)");
      !ok) {
    return fail(ok.error());
  }
  if (auto ok = src.check_fields(json, pointer, kRuleFields); !ok) return fail(ok.error());
  PolicyRule rule;
  rule.loc = src.loc(pointer);
  bool permit = json.contains("permit");
  bool forbid = json.contains("forbid");
  if (permit && forbid) {
    return src.error(pointer,
                     "has both permit and forbid — a rule either permits or forbids; "
                     "split it into two rules");
  }
  if (!permit && !forbid) {
    return src.error(pointer,
                     "has neither permit nor forbid — add permit: <glob> or "
                     "forbid: <glob>, e.g. permit: \"cloud.*\"");
  }
  rule.kind = permit ? PolicyRule::Kind::kPermit : PolicyRule::Kind::kForbid;
  auto actions = src.string_at(json, pointer, permit ? "permit" : "forbid");
  if (!actions) return fail(actions.error());
  rule.actions = *actions;

  auto when = src.string_at(json, pointer, "when");
  if (!when) return fail(when.error());
  if (auto ok = src.lua(sandbox, pointer_append(pointer, "when"), *when, false); !ok) {
    return fail(ok.error());
  }
  rule.when = *when;

  auto reason = src.string_at(json, pointer, "reason");
  if (!reason) return fail(reason.error());
  rule.reason = *reason;

  for (auto [key, field] : {std::pair{"require_approval", &rule.require_approval},
                            std::pair{"auto_approve", &rule.auto_approve}}) {
    auto value = src.bool_at(json, pointer, key);
    if (!value) return fail(value.error());
    if (forbid && json.contains(key)) {
      return src.error(pointer_append(pointer, key),
                       "only a permit rule can say how approval works — remove it");
    }
    *field = *value;
  }
  if (rule.require_approval && rule.auto_approve) {
    return src.error(pointer_append(pointer, "auto_approve"),
                     "contradicts require_approval: true in the same rule — keep one");
  }

  if (auto it = json.find("limits"); it != json.end()) {
    std::string at = pointer_append(pointer, "limits");
    if (forbid) return src.error(at, "only a permit rule has limits — remove them");
    if (auto ok = src.object_at(*it, at, "{ calls: N, budget: { sum: <lua>, max: N } }"); !ok) {
      return fail(ok.error());
    }
    if (auto ok = src.check_fields(*it, at, kLimitFields); !ok) return fail(ok.error());
    if (auto calls = it->find("calls"); calls != it->end()) {
      if (!calls->is_number_integer() || calls->get<int64_t>() < 0 ||
          calls->get<int64_t>() > 1'000'000'000) {
        return src.error(pointer_append(at, "calls"),
                         "expected a whole number of calls per session, e.g. 3");
      }
      rule.max_calls = calls->get<int>();
    }
    if (auto budget = it->find("budget"); budget != it->end()) {
      std::string budget_at = pointer_append(at, "budget");
      if (auto ok = src.object_at(*budget, budget_at,
                                  "{ sum: \"args.count * args.unit_price\", max: 10000 }");
          !ok) {
        return fail(ok.error());
      }
      if (auto ok = src.check_fields(*budget, budget_at, kBudgetFields); !ok) {
        return fail(ok.error());
      }
      auto sum = src.string_at(
          *budget, budget_at, "sum",
          "give the Lua amount each call spends, e.g. sum: \"args.count * args.unit_price\"");
      if (!sum) return fail(sum.error());
      if (auto ok = src.lua(sandbox, pointer_append(budget_at, "sum"), *sum, false); !ok) {
        return fail(ok.error());
      }
      auto max = budget->find("max");
      if (max == budget->end() || !max->is_number() || max->get<double>() < 0) {
        return src.error(pointer_append(budget_at, "max"),
                         "expected the most the session may spend, a number >= 0");
      }
      rule.budget = BudgetLimit{*sum, max->get<double>()};
    }
  }
  return rule;
}

Result<Policy> parse_policy(const Source& src, Sandbox& sandbox) {
  const Json& root = src.root();
  if (root.is_null()) return Policy();
  // The rules may stand alone as a list, or under `rules:` beside `four_eyes:`.
  std::string pointer;
  const Json* list = &root;
  bool four_eyes = false;
  if (root.is_object()) {
    if (auto ok = src.check_fields(root, "", {"rules", "four_eyes"}); !ok) return fail(ok.error());
    auto eyes = src.bool_at(root, "", "four_eyes");
    if (!eyes) return fail(eyes.error());
    four_eyes = *eyes;
    pointer = "/rules";
    auto it = root.find("rules");
    if (it == root.end() || it->is_null()) {
      Policy policy;
      policy.set_four_eyes(four_eyes);
      return policy;
    }
    list = &*it;
  }
  if (!list->is_array()) {
    return src.error(pointer, "expected a list of rules under rules:, got " + type_name(*list));
  }
  std::vector<PolicyRule> rules;
  for (size_t i = 0; i < list->size(); ++i) {
    auto rule = parse_rule(src, sandbox, (*list)[i], pointer_append(pointer, i));
    if (!rule) return fail(rule.error());
    rules.push_back(std::move(*rule));
  }
  Policy policy(std::move(rules));
  policy.set_four_eyes(four_eyes);
  return policy;
}

// Every rule must match some action: a misspelt `forbid` would otherwise
// silently forbid nothing.
Status check_rules_match(const Source& src, const std::vector<PolicyRule>& rules,
                         const std::vector<std::string>& actions,
                         const std::vector<std::string>& runtime_connectors) {
  const Json& root = src.root();
  std::string base = root.is_object() ? "/rules" : "";
  for (size_t i = 0; i < rules.size(); ++i) {
    const PolicyRule& rule = rules[i];
    bool matched = std::any_of(actions.begin(), actions.end(), [&](const std::string& action) {
      return glob_match(rule.actions, action);
    });
    // A rule on a connector whose actions are known only at run time matches
    // when its connector part does ("fs.*", "fs.read_*", "*").
    std::string connector_part = rule.actions.substr(0, rule.actions.find('.'));
    matched = matched || std::any_of(runtime_connectors.begin(), runtime_connectors.end(),
                                     [&](const std::string& connector) {
                                       return glob_match(connector_part, connector);
                                     });
    if (matched) continue;
    std::string key = rule.kind == PolicyRule::Kind::kPermit ? "permit" : "forbid";
    std::string hint = closest_spelling(rule.actions, actions);
    return src.error(pointer_append(pointer_append(base, i), key),
                     "'" + rule.actions + "' matches no action in this workspace" +
                         (hint.empty() ? "" : "; did you mean '" + hint + "'?") +
                         " — name actions as <connector>.<action> (globs allowed)");
  }
  return {};
}

// ---------------------------------------------------------------------------
// skills/*.yaml

// The step whose id a plan-level error names first ("step 'pick' ..."); -1 when none.
int step_named_in(const std::string& message, const std::vector<Step>& steps) {
  int best = -1;
  size_t best_at = std::string::npos;
  for (size_t i = 0; i < steps.size(); ++i) {
    size_t at = message.find("'" + steps[i].id + "'");
    if (at < best_at) {
      best_at = at;
      best = static_cast<int>(i);
    }
  }
  return best;
}

Result<Skill> parse_skill(const Source& src, Sandbox& sandbox,
                          const std::vector<std::string>* known_actions,
                          const std::vector<std::string>& runtime_connectors = {}) {
  const Json& root = src.root();
  if (!root.is_object()) {
    return src.error("", "expected a skill (a mapping with name, examples, slots, steps), got " +
                             type_name(root));
  }
  if (auto ok = src.check_fields(root, "", kSkillFields); !ok) return fail(ok.error());
  Skill skill;
  skill.loc = src.loc("");
  auto name = src.string_at(root, "", "name",
                            "give the skill a unique name, e.g. name: reduce-cloud-spend");
  if (!name) return fail(name.error());
  skill.name = *name;
  auto description = src.string_at(root, "", "description");
  if (!description) return fail(description.error());
  skill.description = *description;

  if (auto it = root.find("slots"); it != root.end() && !it->is_null()) {
    if (auto ok = src.object_at(*it, "/slots", "a mapping of slot name to slot"); !ok) {
      return fail(ok.error());
    }
    for (const std::string& slot_name : src.keys("/slots", *it)) {
      auto slot = slot_from_json(slot_name, (*it)[slot_name]);
      if (!slot) return src.nested(pointer_append("/slots", slot_name), slot.error());
      skill.slots.push_back(std::move(*slot));
    }
  }
  std::vector<std::string> slot_names;
  for (const SlotSpec& slot : skill.slots) slot_names.push_back(slot.name);

  if (auto it = root.find("examples"); it != root.end() && !it->is_null()) {
    if (!it->is_array()) {
      return src.error("/examples", "expected a list of phrasings, e.g. - cut spend by {pct}");
    }
    for (size_t i = 0; i < it->size(); ++i) {
      std::string at = pointer_append("/examples", i);
      const Json& example = (*it)[i];
      if (!example.is_string()) return src.error(at, "expected a phrasing (a string)");
      const std::string& text = example.get_ref<const std::string&>();
      for (size_t open = text.find('{'); open != std::string::npos;
           open = text.find('{', open + 1)) {
        size_t close = text.find('}', open);
        if (close == std::string::npos) break;
        std::string slot = text.substr(open + 1, close - open - 1);
        if (!contains(slot_names, slot)) {
          std::string hint = closest_spelling(slot, slot_names);
          return src.error(at, "{" + slot + "} names no slot of this skill" +
                                   (hint.empty() ? "" : "; did you mean {" + hint + "}?") +
                                   " — declare it under slots");
        }
      }
      skill.examples.push_back(text);
    }
  }

  auto steps = root.find("steps");
  if (steps == root.end() || !steps->is_array() || steps->empty()) {
    return src.error("/steps", "expected a non-empty list of steps — a skill does something");
  }
  std::map<std::string, size_t> ids;
  for (size_t i = 0; i < steps->size(); ++i) {
    std::string at = pointer_append("/steps", i);
    auto step = step_from_json((*steps)[i]);
    if (!step) return src.nested(at, step.error());
    step->loc = src.loc(at);
    if (auto [first, inserted] = ids.emplace(step->id, i); !inserted) {
      return src.error(pointer_append(at, "id"),
                       "step id '" + step->id + "' is already used at line " +
                           std::to_string(skill.steps[first->second].loc.line) +
                           " — give each step a unique id");
    }
    const Json& json = (*steps)[i];
    for (auto [key, code, is_chunk] :
         {std::tuple{"when", &step->when, false}, std::tuple{"for_each", &step->for_each, false},
          std::tuple{"expect", &step->expect, false},
          std::tuple{"compute", &step->compute, true}}) {
      if (auto ok = src.lua(sandbox, pointer_append(at, key), *code, is_chunk); !ok) {
        return fail(ok.error());
      }
    }
    if (json.contains("with")) {
      if (auto ok = src.templates(sandbox, pointer_append(at, "with"), json["with"]); !ok) {
        return fail(ok.error());
      }
    }
    if (json.contains("ask")) {
      if (auto ok = src.templates(sandbox, pointer_append(at, "ask"), json["ask"]); !ok) {
        return fail(ok.error());
      }
    }
    if (step->kind == StepKind::kAction && known_actions != nullptr &&
        !contains(*known_actions, step->action) &&
        !of_connectors(runtime_connectors, step->action)) {
      std::string hint = closest_spelling(step->action, *known_actions);
      return src.error(pointer_append(at, "do"),
                       "unknown action '" + step->action + "'" +
                           (hint.empty() ? "" : "; did you mean '" + hint + "'?") +
                           " — use an action declared under connectors in ergon.yaml");
    }
    skill.steps.push_back(std::move(*step));
  }
  for (size_t i = 0; i < skill.steps.size(); ++i) {
    const Step& step = skill.steps[i];
    for (size_t j = 0; j < step.needs.size(); ++j) {
      if (ids.contains(step.needs[j])) continue;
      std::vector<std::string> names;
      for (const Step& other : skill.steps) names.push_back(other.id);
      std::string hint = closest_spelling(step.needs[j], names);
      return src.error(pointer_append(pointer_append(pointer_append("/steps", i), "needs"), j),
                       "no step '" + step.needs[j] + "' in this skill" +
                           (hint.empty() ? "" : "; did you mean '" + hint + "'?") +
                           " — list ids of steps in this skill");
    }
  }

  // The rest of the plan-level checks (cycles, slots) on the plan this skill
  // makes before any slot is known: defaults filled, required slots asked for.
  Plan plan;
  plan.skill = skill.name;
  plan.slot_specs = skill.slots;
  for (const SlotSpec& slot : skill.slots) {
    if (slot.default_value) {
      plan.slots[slot.name] = *slot.default_value;
    } else if (slot.required) {
      plan.questions.push_back({slot.name, slot.question});
    }
  }
  plan.steps = skill.steps;
  for (Step& step : plan.steps) step.loc = {};  // this file names the place itself
  std::vector<std::string> known = known_actions ? *known_actions : std::vector<std::string>{};
  for (const Step& step : plan.steps) {
    if (!known.empty() && of_connectors(runtime_connectors, step.action)) {
      known.push_back(step.action);
    }
  }
  if (auto ok = validate_plan(plan, known); !ok) {
    int step = step_named_in(ok.error().message, plan.steps);
    return src.error(step < 0 ? "/steps" : pointer_append("/steps", static_cast<size_t>(step)),
                     ok.error().message);
  }
  return skill;
}

Result<YamlDocument> load_file(const fs::path& path, const std::string& label) {
  return internal::load_yaml_file(path, label);
}

}  // namespace

const Skill* Workspace::skill(const std::string& name) const {
  for (const Skill& s : skills) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

std::vector<std::string> secret_names(const Workspace& workspace, const Vault& vault) {
  std::vector<std::string> listed = vault.names();
  std::set<std::string> names(listed.begin(), listed.end());
  auto collect = [&](const Json& with) {
    if (auto it = with.find("secret"); it != with.end() && it->is_string()) names.insert(*it);
  };
  for (const Skill& skill : workspace.skills) {
    for (const Step& step : skill.steps) collect(step.with);
  }
  for (const ConnectorConfig& connector : workspace.connectors) {
    for (const DeclaredAction& action : connector.actions) collect(action.binding);
  }
  return {names.begin(), names.end()};
}

bool Workspace::action_known_at_run_time(const std::string& action) const {
  auto dot = action.find('.');
  if (dot == std::string::npos) return false;
  std::string name = action.substr(0, dot);
  return std::any_of(connectors.begin(), connectors.end(), [&](const ConnectorConfig& connector) {
    return connector.name == name && connector.kind == "mcp";
  });
}

std::vector<std::string> Workspace::known_actions(const Plan& plan) const {
  std::vector<std::string> names = action_names();
  for (const Step& step : plan.steps) {
    if (step.kind == StepKind::kAction && action_known_at_run_time(step.action)) {
      names.push_back(step.action);
    }
  }
  return names;
}

std::vector<std::string> Workspace::action_names() const {
  std::vector<std::string> names;
  for (const ConnectorConfig& connector : connectors) {
    for (const DeclaredAction& action : connector.actions) names.push_back(action.spec.name);
  }
  return names;
}

Result<Workspace> load_workspace(const std::string& dir_text) {
  std::error_code ec;
  fs::path dir = fs::absolute(dir_text.empty() ? "." : dir_text, ec).lexically_normal();
  if (ec) return fail(ErrorCode::kInvalidInput, "cannot resolve " + dir_text + ": " + ec.message());
  if (dir.has_relative_path() && !dir.has_filename()) dir = dir.parent_path();  // drop trailing '/'
  if (!fs::is_regular_file(dir / "ergon.yaml", ec)) {
    return fail(ErrorCode::kInvalidInput,
                "no ergon.yaml in " + dir.string() + " — is this a workspace?");
  }

  Workspace ws;
  ws.dir = dir.string();
  ws.guards = kGuardNames;
  ws.store_path = (dir / ".ergon" / "ergon.db").string();
  Sandbox sandbox;

  auto main = load_file(dir / "ergon.yaml", "ergon.yaml");
  if (!main) return fail(main.error());
  if (auto ok = parse_main(Source(*main), sandbox, dir, ws); !ok) return fail(ok.error());
  const std::vector<std::string> actions = ws.action_names();
  std::vector<std::string> runtime_connectors;
  for (const ConnectorConfig& connector : ws.connectors) {
    if (connector.kind == "mcp") runtime_connectors.push_back(connector.name);
  }

  if (fs::exists(dir / "policy.yaml", ec)) {
    auto doc = load_file(dir / "policy.yaml", "policy.yaml");
    if (!doc) return fail(doc.error());
    Source src(*doc);
    auto policy = parse_policy(src, sandbox);
    if (!policy) return fail(policy.error());
    if (auto ok = check_rules_match(src, policy->rules(), actions, runtime_connectors); !ok) {
      return fail(ok.error());
    }
    ws.policy = std::move(*policy);
  }

  fs::path skills_dir = dir / "skills";
  if (fs::is_directory(skills_dir, ec)) {
    std::vector<fs::path> files;
    for (const auto& entry : fs::directory_iterator(skills_dir, ec)) {
      const fs::path& path = entry.path();
      std::string ext = path.extension().string();
      if (path.filename().string().starts_with(".")) continue;
      if ((ext == ".yaml" || ext == ".yml") && entry.is_regular_file(ec)) files.push_back(path);
    }
    if (ec) {
      return fail(ErrorCode::kInvalidInput,
                  "cannot list " + skills_dir.string() + ": " + ec.message());
    }
    std::sort(files.begin(), files.end());
    for (const fs::path& path : files) {
      std::string label = "skills/" + path.filename().string();
      auto doc = load_file(path, label);
      if (!doc) return fail(doc.error());
      Source src(*doc);
      auto skill = parse_skill(src, sandbox, &actions, runtime_connectors);
      if (!skill) return fail(skill.error());
      if (const Skill* other = ws.skill(skill->name)) {
        return src.error("/name", "duplicate skill '" + skill->name + "' (also in " +
                                      other->loc.file +
                                      ") — skill names must be unique; "
                                      "rename one");
      }
      ws.skills.push_back(std::move(*skill));
    }
  }
  return ws;
}

Result<Skill> load_skill_file(const std::string& path) {
  auto doc = load_file(path, path);
  if (!doc) return fail(doc.error());
  Sandbox sandbox;
  return parse_skill(Source(*doc), sandbox, nullptr);
}

Result<Policy> load_policy_file(const std::string& path) {
  auto doc = load_file(path, path);
  if (!doc) return fail(doc.error());
  Sandbox sandbox;
  return parse_policy(Source(*doc), sandbox);
}

Result<ConnectorSet> build_connectors(const Workspace& workspace, const Vault& vault) {
  ConnectorSet set;
  for (const ConnectorConfig& config : workspace.connectors) {
    Result<std::unique_ptr<Connector>> connector = fail(ErrorCode::kInternal, "");
    if (config.kind == "http") {
      connector = make_http_connector(config, vault);
    } else if (config.kind == "browser") {
      connector = make_browser_connector(config, vault,
                                         (fs::path(workspace.dir) / ".ergon" / "browser").string());
    } else if (config.kind == "mcp") {
      // The server's stderr goes to .ergon/mcp/<name>.log.
      McpOptions options;
      options.base_dir = workspace.dir;
      std::error_code ec;
      fs::path logs = fs::path(workspace.dir) / ".ergon" / "mcp";
      fs::create_directories(logs, ec);
      if (!ec) options.log_file = (logs / (config.name + ".log")).string();
      connector = make_mcp_connector(config, vault, options);
    } else {
      std::string where = config.loc.str().empty() ? "" : config.loc.str() + ": ";
      return fail(ErrorCode::kInvalidInput, where + "connector '" + config.name +
                                                "': unsupported connector kind '" + config.kind +
                                                "' (available: " + join(kConnectorKinds) + ")");
    }
    if (!connector) return fail(connector.error());
    set.add(std::move(*connector));
  }
  return set;
}

}  // namespace ergon
