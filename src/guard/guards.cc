// The four built-in guards: schema, policy, intent and approval.

// Without exceptions valijson calls abort() on an invalid schema; with them the
// schema guard turns the error into a Deny. Every translation unit that includes
// valijson must agree on this (one definition rule).
#ifndef VALIJSON_USE_EXCEPTIONS
#define VALIJSON_USE_EXCEPTIONS 1
#endif

#include <algorithm>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <valijson/adapters/nlohmann_json_adapter.hpp>
#include <valijson/schema.hpp>
#include <valijson/schema_parser.hpp>
#include <valijson/validation_results.hpp>
#include <valijson/validator.hpp>
#include <vector>

#include "ergon/guard.h"

namespace ergon {

namespace {

Decision allow(const std::string& guard, std::string reason) {
  return Decision{Verdict::kAllow, guard, std::move(reason), nullptr};
}
Decision deny(const std::string& guard, std::string reason) {
  return Decision{Verdict::kDeny, guard, std::move(reason), nullptr};
}

// ---------------------------------------------------------------------------
// schema

// A parsed schema, or why it could not be parsed. Immutable once cached.
struct CompiledSchema {
  Json source;                               // the JSON Schema it was parsed from
  std::unique_ptr<valijson::Schema> schema;  // null when `error` is set
  std::string error;
};

bool starts_with(const std::string& text, std::string_view prefix) {
  return text.compare(0, prefix.size(), prefix) == 0;
}

// The text between the last pair of single quotes, e.g. the property name in
// "Missing required property 'id'."; empty when there is none.
std::string last_quoted(const std::string& text) {
  auto close = text.rfind('\'');
  if (close == std::string::npos || close == 0) return "";
  auto open = text.rfind('\'', close - 1);
  if (open == std::string::npos) return "";
  return text.substr(open + 1, close - open - 1);
}

// valijson's context ["<root>", "[tags]", "[1]"] as "args/tags/1".
std::string args_path(const std::vector<std::string>& context) {
  std::string path = "args";
  for (const std::string& part : context) {
    if (part == "<root>") continue;
    path += '/';
    if (part.size() >= 2 && part.front() == '[' && part.back() == ']') {
      path += part.substr(1, part.size() - 2);
    } else {
      path += part;
    }
  }
  return path;
}

// One line per failing value: "args/id: missing required property". valijson
// also reports every enclosing object and array as failed; those wrappers add
// nothing the leaf errors do not already say, so they are dropped.
std::vector<std::string> describe(const valijson::ValidationResults& results) {
  std::vector<std::string> lines;
  std::set<std::string> seen;
  for (const auto& error : results) {
    const std::string& text = error.description;
    if (starts_with(text, "Failed to validate against schema associated with property") ||
        starts_with(text, "Failed to validate item #")) {
      continue;
    }
    std::string path = args_path(error.context);
    std::string what;
    if (starts_with(text, "Missing required property")) {
      path += "/" + last_quoted(text);
      what = "missing required property";
    } else if (starts_with(text, "Object contains a property that could not be validated")) {
      path += "/" + last_quoted(text);
      what = "property not allowed by the schema";
    } else {
      what = text;
      if (!what.empty() && what.back() == '.') what.pop_back();
      if (!what.empty() && what[0] >= 'A' && what[0] <= 'Z')
        what[0] = static_cast<char>(what[0] - 'A' + 'a');
    }
    std::string line = path + ": " + what;
    if (seen.insert(line).second) lines.push_back(std::move(line));
  }
  return lines;
}

// Compiles each distinct schema once. check() is safe to call from several
// threads: compiled schemas are immutable and shared; the cache is locked.
class SchemaGuard final : public Guard {
 public:
  const std::string& name() const override { return name_; }

  Decision check(const ActionCall& call, GuardContext& context) override {
    if (context.spec == nullptr) {
      return deny(name_, "no action spec for " + call.action +
                             ": its arguments cannot be validated (is the action declared?)");
    }
    std::shared_ptr<const CompiledSchema> compiled =
        compile(call.action, context.spec->params_schema);
    if (compiled->schema == nullptr) {
      return deny(name_, "the parameter schema of " + call.action + " is invalid: " +
                             compiled->error + " — fix `params` of the action in ergon.yaml");
    }
    valijson::ValidationResults results;
    try {
      valijson::Validator validator;
      valijson::adapters::NlohmannJsonAdapter target(call.args);
      // Valid arguments, the common case, need no error report: only a failure
      // is validated again to collect one.
      if (validator.validate(*compiled->schema, target, nullptr)) {
        return allow(name_, "arguments match the parameter schema of " + call.action);
      }
      validator.validate(*compiled->schema, target, &results);
    } catch (const std::exception& e) {
      return deny(name_, "validating the arguments of " + call.action + " failed: " + e.what());
    }
    std::vector<std::string> lines = describe(results);
    std::string reason = "arguments of " + call.action + " do not match its parameter schema: ";
    if (lines.empty()) {
      reason += "args: rejected by the schema";
    } else {
      for (size_t i = 0; i < lines.size(); ++i) reason += (i == 0 ? "" : "; ") + lines[i];
    }
    return deny(name_, std::move(reason));
  }

 private:
  std::shared_ptr<const CompiledSchema> compile(const std::string& action, const Json& schema) {
    {
      std::lock_guard lock(mu_);
      if (auto cached = find(action, schema)) return cached;
    }
    // Parsed outside the lock; when two threads race, both parse and the first stored wins.
    auto compiled = std::make_shared<CompiledSchema>();
    compiled->source = schema;
    try {
      auto parsed = std::make_unique<valijson::Schema>();
      valijson::SchemaParser parser;
      valijson::adapters::NlohmannJsonAdapter adapter(schema);
      parser.populateSchema(adapter, *parsed);
      compiled->schema = std::move(parsed);
    } catch (const std::exception& e) {
      compiled->error = e.what();
      if (!compiled->error.empty() && compiled->error.back() == '.') compiled->error.pop_back();
    }
    std::lock_guard lock(mu_);
    if (auto cached = find(action, schema)) return cached;
    auto& kept = cache_[action];
    if (kept.size() >= kSchemasPerAction) kept.erase(kept.begin());
    kept.push_back(compiled);
    return compiled;
  }

  // The cached compilation of `schema` for `action`, or null. Requires mu_.
  std::shared_ptr<const CompiledSchema> find(const std::string& action, const Json& schema) const {
    auto it = cache_.find(action);
    if (it == cache_.end()) return nullptr;
    for (const auto& compiled : it->second) {
      if (compiled->source == schema) return compiled;
    }
    return nullptr;
  }

  // An action has one schema unless its connector changes it; a few are kept.
  static constexpr size_t kSchemasPerAction = 8;
  const std::string name_ = "schema";
  std::mutex mu_;
  // Guarded by mu_: by action, the schemas it was last checked against.
  std::map<std::string, std::vector<std::shared_ptr<const CompiledSchema>>> cache_;
};

// ---------------------------------------------------------------------------
// policy

class PolicyGuard final : public Guard {
 public:
  explicit PolicyGuard(const Policy& policy) : policy_(policy) {}
  const std::string& name() const override { return name_; }

  Decision check(const ActionCall& call, GuardContext& context) override {
    if (context.sandbox == nullptr || context.usage == nullptr) {
      // An engine bug, not a user error; deny rather than skip the policy.
      return deny(name_,
                  "the guard context for " + call.action +
                      " has no sandbox or usage, so policy cannot be evaluated (engine bug)");
    }
    // Only `when` predicates and budget sums read the input: build it (copying
    // the arguments and slots) only for an action such a rule applies to.
    static const Json kUnread = Json::object();
    Json input;
    if (reads_input(call.action)) {
      Json roles = Json::array();
      for (const std::string& role : context.principal.roles) roles.push_back(role);
      input = {{"args", call.args},
               {"session", {{"id", context.session}}},
               {"principal", {{"id", context.principal.id}, {"roles", std::move(roles)}}},
               {"slots", context.slots != nullptr ? *context.slots : Json::object()}};
    }
    context.policy = policy_.evaluate(call.action, input.is_null() ? kUnread : input,
                                      *context.usage, *context.sandbox);
    if (!context.policy.allowed) return deny(name_, context.policy.reason);
    return allow(name_, context.policy.reason);
  }

 private:
  bool reads_input(const std::string& action) const {
    for (const PolicyRule& rule : policy_.rules()) {
      if ((!rule.when.empty() || rule.budget) && glob_match(rule.actions, action)) return true;
    }
    return false;
  }

  const std::string name_ = "policy";
  const Policy& policy_;
};

// What a person asked to approve the call should see: its dry run, when the
// connector has one (null otherwise). A failing preview is shown, not turned
// into a Deny.
Json preview(const GuardContext& context) {
  if (!context.dry_run) return nullptr;
  try {
    Result<Json> preview = context.dry_run();
    return preview ? *preview : Json{{"error", preview.error().message}};
  } catch (const std::exception& e) {
    return Json{{"error", std::string("dry run threw: ") + e.what()}};
  }
}

// ---------------------------------------------------------------------------
// intent

// JSON pointers under /args where the two argument objects differ.
std::vector<std::string> differing_paths(const Json& expected, const Json& actual) {
  std::vector<std::string> paths;
  std::set<std::string> seen;
  for (const Json& op : Json::diff(expected, actual)) {
    std::string path = "/args" + op.value("path", std::string());
    if (seen.insert(path).second) paths.push_back(std::move(path));
  }
  return paths;
}

class IntentGuard final : public Guard {
 public:
  const std::string& name() const override { return name_; }

  Decision check(const ActionCall& call, GuardContext& context) override {
    if (context.agent != nullptr) return check_proposed(call, context);
    const Json& expected = context.expected;
    if (expected.is_null()) {
      return deny(name_, call.action + " is not part of the approved plan");
    }
    auto action = expected.find("action");
    if (!expected.is_object() || action == expected.end() || !action->is_string()) {
      return deny(name_, "the approved plan's call for " + call.action +
                             " is malformed (expected {action, args}; engine bug)");
    }
    if (*action != call.action) {
      return deny(name_, call.action + " is not in the approved plan (at this point it derives " +
                             action->get<std::string>() + ")");
    }
    static const Json kNoArgs = Json::object();
    auto args = expected.find("args");
    const Json& expected_args = args != expected.end() ? *args : kNoArgs;
    if (expected_args != call.args) {
      std::vector<std::string> paths = differing_paths(expected_args, call.args);
      std::string reason = "arguments of " + call.action + " differ from what the plan derives: ";
      constexpr size_t kShown = 5;
      for (size_t i = 0; i < paths.size() && i < kShown; ++i) {
        reason += (i == 0 ? "" : ", ") + paths[i];
      }
      if (paths.size() > kShown) {
        reason += " and " + std::to_string(paths.size() - kShown) + " more";
      }
      return deny(name_, std::move(reason));
    }
    std::string where = "in the approved plan";
    if (context.step != nullptr) {
      where += ": step " + context.step->id;
    } else if (expected.contains("step") && expected["step"].is_string()) {
      where += ": step " + expected["step"].get<std::string>();
    }
    return allow(name_, std::move(where));
  }

 private:
  // A call a model proposed during an agent step: the approved plan covers
  // reads and the actions the step was approved to use; anything else, and
  // every irreversible action, goes to a person (never to --yes).
  Decision check_proposed(const ActionCall& call, GuardContext& context) {
    const AgentTask& task = *context.agent;
    std::string step = context.step != nullptr ? " in agent step " + context.step->id : "";
    Effect effect = context.spec != nullptr ? context.spec->effect : Effect::kIrreversible;
    std::string ask_reason;
    if (effect == Effect::kIrreversible) {
      ask_reason = "the model proposed " + call.action + step +
                   ", an irreversible action no plan approved; only a person can approve it";
    } else if (effect == Effect::kRead) {
      return allow(name_, "a read the model chose" + step);
    } else if (std::find(task.allow.begin(), task.allow.end(), call.action) != task.allow.end()) {
      return allow(name_, call.action + " is approved for the model to use" + step);
    } else {
      ask_reason = "the model proposed " + call.action + step +
                   ", which the approved plan does not allow it to use; only a person can "
                   "approve it";
    }
    Decision decision{Verdict::kAsk, name_, std::move(ask_reason), preview(context), true};
    context.preview = decision.preview;
    return decision;
  }

  const std::string name_ = "intent";
};

// ---------------------------------------------------------------------------
// approval

class ApprovalGuard final : public Guard {
 public:
  const std::string& name() const override { return name_; }

  Decision check(const ActionCall& call, GuardContext& context) override {
    // An action without a spec is treated as irreversible: fail closed.
    Effect effect = context.spec != nullptr ? context.spec->effect : Effect::kIrreversible;
    const PolicyVerdict& policy = context.policy;
    std::string ask_reason;
    if (effect == Effect::kIrreversible) {
      if (policy.allowed && policy.auto_approve) {
        return allow(name_, "auto-approved by policy within limits");
      }
      ask_reason = "irreversible action needs a person's approval";
    } else if (policy.require_approval) {
      ask_reason = "policy requires a person's approval for " + call.action;
    } else {
      return allow(name_,
                   std::string(to_string(effect)) + " action; policy does not require approval");
    }

    Decision decision{Verdict::kAsk, name_, std::move(ask_reason), preview(context)};
    context.preview = decision.preview;
    return decision;
  }

 private:
  const std::string name_ = "approval";
};

}  // namespace

std::unique_ptr<Guard> make_schema_guard() {
  return std::make_unique<SchemaGuard>();
}
std::unique_ptr<Guard> make_policy_guard(const Policy& policy) {
  return std::make_unique<PolicyGuard>(policy);
}
std::unique_ptr<Guard> make_intent_guard() {
  return std::make_unique<IntentGuard>();
}
std::unique_ptr<Guard> make_approval_guard() {
  return std::make_unique<ApprovalGuard>();
}

}  // namespace ergon
