#include <algorithm>
#include <cctype>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <utility>

#include "connect/mcp/stdio.h"
#include "ergon/mcp.h"
#include "ergon/plan.h"

namespace ergon {

namespace {

using internal::SpawnSpec;
using internal::StdioProcess;
using SteadyClock = std::chrono::steady_clock;

constexpr long kDefaultTimeoutMs = 30'000;
constexpr long kMaxTimeoutMs = 3'600'000;
// Starting a server (npx may fetch a package first) and listing its tools get
// at least this long.
constexpr long kStartTimeoutMs = 60'000;
// Progress notifications extend a call's deadline, up to this many timeouts.
constexpr long kProgressExtensions = 10;
constexpr int kMaxPages = 1000;
constexpr size_t kErrorTextChars = 500;

const std::vector<std::string> kSettingsFields = {"kind", "command",    "args",    "env",
                                                  "cwd",  "timeout_ms", "trusted", "effects"};
const std::vector<std::string> kVersions = {"2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"};

std::unexpected<Error> invalid(const std::string& pointer, const std::string& what) {
  return fail(ErrorCode::kInvalidInput, pointer + ": " + what);
}

bool is_env_name(const std::string& text) {
  if (text.empty() || std::isdigit(static_cast<unsigned char>(text[0]))) return false;
  return std::all_of(text.begin(), text.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
  });
}

std::string clip(std::string text) {
  if (text.size() > kErrorTextChars) text = text.substr(0, kErrorTextChars) + "…";
  return text;
}

std::string dump(const Json& json) {
  return json.dump(-1, ' ', false, Json::error_handler_t::replace);
}

// The argv: `command` as a list, or a string, then `args`.
std::vector<std::string> command_line(const Json& settings) {
  std::vector<std::string> argv;
  const Json& command = settings["command"];
  if (command.is_string()) {
    argv.push_back(command.get<std::string>());
  } else {
    for (const Json& part : command) argv.push_back(part.get<std::string>());
  }
  if (auto it = settings.find("args"); it != settings.end() && it->is_array()) {
    for (const Json& part : *it) argv.push_back(part.get<std::string>());
  }
  return argv;
}

// The text parts of a tools/call result's content, joined by newlines.
std::string content_text(const Json& result) {
  std::string text;
  auto content = result.find("content");
  if (content == result.end() || !content->is_array()) return text;
  for (const Json& part : *content) {
    if (!part.is_object() || !part.contains("type") || part["type"] != "text") continue;
    auto it = part.find("text");
    if (it == part.end() || !it->is_string()) continue;
    if (!text.empty()) text += "\n";
    text += it->get<std::string>();
  }
  return text;
}

// `object[key]` when it is a string; "" when it is missing or null; nullopt
// when it is something else (a server's malformed answer).
std::optional<std::string> string_field(const Json& object, const char* key) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return std::string();
  if (!it->is_string()) return std::nullopt;
  return it->get<std::string>();
}

// A JSON-RPC error object as an Error: the request was wrong (kInvalidInput),
// named a method or tool the server does not have (kNotFound), or the server
// failed (kFailedPrecondition).
Error rpc_error(const std::string& what, const Json& error) {
  long code = error.is_object() && error.contains("code") && error["code"].is_number_integer()
                  ? error["code"].get<long>()
                  : 0;
  std::string message =
      error.is_object() && error.contains("message") && error["message"].is_string()
          ? error["message"].get<std::string>()
          : dump(error);
  std::string lowered = message;
  for (char& c : lowered) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  ErrorCode mapped = ErrorCode::kFailedPrecondition;
  if (code == -32601 || lowered.find("not found") != std::string::npos) {
    mapped = ErrorCode::kNotFound;
  } else if (code == -32700 || code == -32600 || code == -32602) {
    mapped = ErrorCode::kInvalidInput;
  }
  return Error{mapped,
               what + ": the server answered error " + std::to_string(code) + ": " + clip(message)};
}

struct Tool {
  std::string name;  // as the server knows it
  ActionSpec spec;
};

// One MCP server as a connector. Constant after construction but for the
// process, which is guarded by mu_: calls are sent one at a time.
class McpConnector final : public Connector {
 public:
  McpConnector(std::string name, SpawnSpec spawn, long timeout_ms, McpOptions options)
      : name_(std::move(name)),
        spawn_(std::move(spawn)),
        timeout_ms_(timeout_ms),
        options_(std::move(options)) {}

  ~McpConnector() override {
    std::lock_guard lock(mu_);
    process_.reset();
  }

  const std::string& name() const override { return name_; }
  const std::vector<ActionSpec>& actions() const override { return specs_; }
  Result<Json> observe() override { return Json::object(); }

  Result<Json> dry_run(const ActionCall& call) override {
    return fail(ErrorCode::kNotFound,
                call.action + ": MCP tools have no dry run — the call can only be made");
  }

  Result<Json> execute(const ActionCall& call) override {
    // The server's answers are checked field by field; this is the last line
    // should a check be missing: a malformed answer is an error, not a crash.
    try {
      return execute_checked(call);
    } catch (const Json::exception& e) {
      return fail(ErrorCode::kInvalidInput, call.action + ": MCP server '" + name_ +
                                                "' sent a malformed answer (" + e.what() + ")");
    }
  }

  // Starts the server and lists its tools; `trusted` and `effects` decide
  // effects (mcp_tool_effect, the workspace's override wins).
  Status load_tools(bool trusted, const Json& effects) {
    try {
      return load_tools_checked(trusted, effects);
    } catch (const Json::exception& e) {
      return fail(ErrorCode::kInvalidInput,
                  "MCP server '" + name_ + "' sent a malformed answer (" + e.what() + ")");
    }
  }

  Json server_info() const {
    std::lock_guard lock(mu_);
    return server_info_;
  }

 private:
  Result<Json> execute_checked(const ActionCall& call) {
    auto tool = tool_names_.find(call.action);
    if (tool == tool_names_.end()) {
      return fail(ErrorCode::kNotFound, "connector '" + name_ + "' has no action '" + call.action +
                                            "' — its tools are listed at start");
    }
    std::lock_guard lock(mu_);
    if (auto ok = connect_locked(); !ok) return fail(ok.error().with_context(call.action + ": "));
    Json params = {{"name", tool->second},
                   {"arguments", call.args.is_object() ? call.args : Json::object()}};
    auto result = request_locked("tools/call", std::move(params), call.action, timeout_ms_);
    if (!result) return fail(result.error());
    if (!result->is_object()) {
      return fail(ErrorCode::kInvalidInput,
                  call.action + ": the server's result is not an object: " + clip(dump(*result)));
    }
    std::string text = content_text(*result);
    auto is_error = result->find("isError");
    if (is_error != result->end() && !is_error->is_boolean()) {
      return fail(ErrorCode::kInvalidInput,
                  call.action + ": MCP server '" + name_ + "' answered tools/call with isError " +
                      clip(dump(*is_error)) +
                      ", which must be true or false — the tool may or may not have run; "
                      "check the server's log and report it to the server's authors");
    }
    if (is_error != result->end() && is_error->get<bool>()) {
      return fail(ErrorCode::kFailedPrecondition,
                  call.action + ": the tool reported an error: " +
                      clip(text.empty() ? dump(result->value("content", Json::array())) : text));
    }
    Json out = *result;
    out.erase("_meta");
    out.erase("isError");
    out["text"] = text;
    return out;
  }

  Status load_tools_checked(bool trusted, const Json& effects) {
    std::lock_guard lock(mu_);
    if (auto ok = connect_locked(); !ok) return ok;
    Json cursor;
    std::set<std::string> seen_cursors;
    std::vector<Json> listed;
    for (int page = 0;; ++page) {
      if (page == kMaxPages) {
        return fail(ErrorCode::kInvalidInput,
                    "tools/list did not end after " + std::to_string(kMaxPages) + " pages");
      }
      Json params = Json::object();
      if (!cursor.is_null()) params["cursor"] = cursor;
      auto result = request_locked("tools/list", std::move(params), "", start_timeout_ms());
      if (!result) return fail(result.error());
      if (!result->is_object() || !result->contains("tools") || !(*result)["tools"].is_array()) {
        return fail(ErrorCode::kInvalidInput,
                    "tools/list answered without a tools list: " + clip(dump(*result)));
      }
      for (const Json& tool : (*result)["tools"]) listed.push_back(tool);
      auto next = result->find("nextCursor");
      if (next == result->end() || next->is_null()) break;
      if (!next->is_string() || !seen_cursors.insert(next->get<std::string>()).second) {
        return fail(
            ErrorCode::kInvalidInput,
            "tools/list gave a nextCursor it gave before (or not a string): " + clip(dump(*next)));
      }
      cursor = *next;
    }

    std::set<std::string> used_effects;
    for (const Json& tool : listed) {
      if (!tool.is_object() || !tool.contains("name") || !tool["name"].is_string()) {
        note("skipped a tool without a name: " + clip(dump(tool)));
        continue;
      }
      std::string tool_name = tool["name"].get<std::string>();
      std::string action = mcp_action_name(tool_name);
      if (action.empty() || tool_names_.contains(name_ + "." + action)) {
        note("skipped tool '" + tool_name + "': its action name '" + action +
             "' is empty or taken by another tool");
        continue;
      }
      ActionSpec spec;
      spec.name = name_ + "." + action;
      for (const char* field : {"description", "title"}) {
        auto text = string_field(tool, field);
        if (!text) {
          note("tool '" + tool_name + "': ignored its " + field +
               ", which is not a string: " + clip(dump(tool[field])));
        } else if (spec.description.empty()) {
          spec.description = *text;
        }
      }
      auto schema = tool.find("inputSchema");
      spec.params_schema =
          schema != tool.end() && schema->is_object() ? *schema : Json{{"type", "object"}};
      spec.params_schema.erase("$schema");
      Json annotations = tool.value("annotations", Json::object());
      if (!annotations.is_object()) {
        note("tool '" + tool_name +
             "': ignored its annotations, which are not an object: " + clip(dump(annotations)));
        annotations = Json::object();
      }
      spec.effect = mcp_tool_effect(annotations, trusted);
      for (const std::string& key : {tool_name, action}) {
        if (!effects.is_object() || !effects.contains(key)) continue;
        spec.effect = *parse_effect(effects[key].get<std::string>());
        used_effects.insert(key);
      }
      tool_names_[spec.name] = tool_name;
      specs_.push_back(std::move(spec));
    }
    if (effects.is_object()) {
      std::vector<std::string> names;
      for (const auto& [action, tool] : tool_names_) names.push_back(tool);
      for (const auto& [key, value] : effects.items()) {
        if (used_effects.contains(key)) continue;
        std::string hint = closest_spelling(key, names);
        return invalid("/effects/" + key,
                       "the server has no tool '" + key + "'" +
                           (hint.empty() ? "" : "; did you mean '" + hint + "'?") +
                           " — name tools as the server lists them");
      }
    }
    return {};
  }

  // Starts the server and initializes it, unless it runs.
  Status connect_locked() {
    if (process_) return {};
    auto process = StdioProcess::start(spawn_);
    if (!process) return fail(process.error());
    process_ = std::move(*process);
    Json params = {{"protocolVersion", kVersions.front()},
                   {"capabilities", Json::object()},
                   {"clientInfo", {{"name", "ergon"}, {"version", "0.1"}}}};
    auto result = request_locked("initialize", std::move(params), "", start_timeout_ms());
    if (!result) {
      if (process_) process_->stop();  // never left half-initialized
      process_.reset();
      return fail(result.error());
    }
    std::optional<std::string> version_field =
        result->is_object() ? string_field(*result, "protocolVersion") : std::string();
    if (!version_field) {
      Json given = (*result)["protocolVersion"];
      process_->stop();
      process_.reset();
      return fail(ErrorCode::kInvalidInput,
                  "MCP server '" + name_ + "' answered initialize with protocolVersion " +
                      clip(dump(given)) + ", which must be a string such as \"" +
                      kVersions.front() + "\"");
    }
    std::string version = *version_field;
    if (std::find(kVersions.begin(), kVersions.end(), version) == kVersions.end()) {
      process_->stop();
      process_.reset();
      std::string versions;
      for (const std::string& v : kVersions) versions += (versions.empty() ? "" : ", ") + v;
      return fail(ErrorCode::kFailedPrecondition,
                  "the server speaks MCP protocol version '" + version +
                      "', which ergon does not (it speaks " + versions +
                      ") — use a version of the server that supports one of these");
    }
    server_info_ = {{"protocolVersion", version},
                    {"serverInfo", result->value("serverInfo", Json::object())},
                    {"capabilities", result->value("capabilities", Json::object())}};
    if (auto ok = send_locked({{"jsonrpc", "2.0"}, {"method", "notifications/initialized"}}); !ok) {
      return ok;
    }
    return {};
  }

  Status send_locked(const Json& message) {
    auto ok = process_->write_line(dump(message),
                                   SteadyClock::now() + std::chrono::milliseconds(timeout_ms_));
    if (!ok) return fail(died_locked(ok.error().message));
    return {};
  }

  // The server is gone: forget it (the next call starts it again).
  Error died_locked(const std::string& what) {
    std::string ended = process_ ? process_->stop() : "";
    process_.reset();
    return Error{ErrorCode::kUnavailable,
                 "MCP server '" + name_ + "' is gone (" + what +
                     (ended.empty() ? "" : "; it " + ended) +
                     ") — it is started again on the next call" +
                     (spawn_.log_file.empty() ? "" : "; its stderr is in " + spawn_.log_file)};
  }

  // Sends one request and waits for its answer, answering the server's own
  // requests (ping) and passing on progress meanwhile. `action` names the call
  // for progress; empty for protocol requests.
  Result<Json> request_locked(const std::string& method, Json params, const std::string& action,
                              long timeout_ms) {
    long id = next_id_++;
    std::string token = "ergon-" + std::to_string(id);
    if (!action.empty()) params["_meta"] = {{"progressToken", token}};
    Json request = {{"jsonrpc", "2.0"}, {"id", id}, {"method", method}, {"params", params}};
    if (auto ok = send_locked(request); !ok) return fail(ok.error());
    auto start = SteadyClock::now();
    auto timeout = std::chrono::milliseconds(timeout_ms);
    auto deadline = start + timeout;
    auto last_deadline = start + timeout * kProgressExtensions;
    while (true) {
      auto line = process_->read_line(deadline);
      if (!line) {
        if (line.error().code == ErrorCode::kTimeout) {
          return timed_out_locked(method, action.empty() ? method : action, id, timeout_ms);
        }
        return fail(died_locked(line.error().message));
      }
      Json message = Json::parse(*line, nullptr, false);
      if (message.is_discarded() || !message.is_object()) {
        note("ignored a line that is not a JSON-RPC message: " + clip(*line));
        continue;
      }
      auto method_it = message.find("method");
      if (method_it != message.end() && method_it->is_string()) {
        if (message.contains("id")) {
          // A request from the server: ergon offers no client features but ping.
          Json answer = {{"jsonrpc", "2.0"}, {"id", message["id"]}};
          if (*method_it == "ping") {
            answer["result"] = Json::object();
          } else {
            answer["error"] = {{"code", -32601},
                               {"message", "ergon does not support " + method_it->dump()}};
          }
          if (auto ok = send_locked(answer); !ok) return fail(ok.error());
        } else if (*method_it == "notifications/progress" && !action.empty()) {
          const Json progress = message.value("params", Json::object());
          if (progress.is_object() && progress.value("progressToken", Json()) == token) {
            deadline = std::min(last_deadline, SteadyClock::now() + timeout);
            if (options_.on_progress) options_.on_progress(action, progress);
          }
        }
        continue;
      }
      auto id_it = message.find("id");
      if (id_it == message.end() || *id_it != id) continue;  // a late answer to a cancelled call
      std::string what = action.empty() ? method : action;
      if (message.contains("error")) return fail(rpc_error(what, message["error"]));
      if (!message.contains("result")) {
        return fail(ErrorCode::kInvalidInput,
                    what + ": an answer without result or error: " + clip(*line));
      }
      return message["result"];
    }
  }

  // No answer in time: the request is cancelled (initialize never is: the
  // server is stopped instead).
  std::unexpected<Error> timed_out_locked(const std::string& method, const std::string& what,
                                          long id, long timeout_ms) {
    Error error{ErrorCode::kTimeout, what + ": no answer within " + std::to_string(timeout_ms) +
                                         " ms — raise timeout_ms if the tool is slow"};
    if (method == "initialize") {
      process_->stop();
      process_.reset();
      return fail(error);
    }
    Json cancel = {{"jsonrpc", "2.0"},
                   {"method", "notifications/cancelled"},
                   {"params",
                    {{"requestId", id},
                     {"reason", "ergon gave up after " + std::to_string(timeout_ms) + " ms"}}}};
    if (auto ok = send_locked(cancel); !ok) return fail(ok.error());
    return fail(error);
  }

  long start_timeout_ms() const { return std::max(timeout_ms_, kStartTimeoutMs); }

  // A line for the server's log, where its own stderr goes.
  void note(const std::string& text) const {
    if (spawn_.log_file.empty()) return;
    std::ofstream(spawn_.log_file, std::ios::app) << "ergon: " << name_ << ": " << text << "\n";
  }

  // Constant after construction (load_tools runs before the connector is shared).
  std::string name_;
  SpawnSpec spawn_;
  long timeout_ms_;
  McpOptions options_;
  std::vector<ActionSpec> specs_;
  std::map<std::string, std::string> tool_names_;  // action name -> tool name

  mutable std::mutex mu_;
  std::unique_ptr<StdioProcess> process_;  // guarded by mu_; null until started or once dead
  long next_id_ = 1;                       // guarded by mu_
  Json server_info_ = Json::object();      // guarded by mu_
};

}  // namespace

const std::vector<std::string>& mcp_protocol_versions() {
  return kVersions;
}

Effect mcp_tool_effect(const Json& annotations, bool trusted) {
  auto hint = [&](const char* key) {
    return annotations.is_object() && annotations.contains(key) && annotations[key].is_boolean() &&
           annotations[key].get<bool>();
  };
  auto said_false = [&](const char* key) {
    return annotations.is_object() && annotations.contains(key) && annotations[key].is_boolean() &&
           !annotations[key].get<bool>();
  };
  if (hint("destructiveHint")) return Effect::kIrreversible;
  if (!trusted) return Effect::kWrite;  // its claims can only raise the effect
  if (hint("readOnlyHint")) return Effect::kRead;
  // The spec's default: a tool that may write may destroy, unless it says not.
  return said_false("destructiveHint") ? Effect::kWrite : Effect::kIrreversible;
}

std::string mcp_action_name(const std::string& tool) {
  if (tool.empty()) return "";
  std::string name = tool;
  for (char& c : name) {
    auto u = static_cast<unsigned char>(c);
    if (!std::isalnum(u) && c != '_' && c != '-') c = '_';
  }
  if (!std::isalpha(static_cast<unsigned char>(name[0])) && name[0] != '_') name = "_" + name;
  return name;
}

Status check_mcp_settings(const Json& settings) {
  if (!settings.is_object()) return invalid("", "an mcp connector must be a mapping");
  for (const auto& [key, value] : settings.items()) {
    if (std::find(kSettingsFields.begin(), kSettingsFields.end(), key) != kSettingsFields.end()) {
      continue;
    }
    std::string hint = closest_spelling(key, kSettingsFields);
    return invalid("/" + key, "unknown field" +
                                  (hint.empty() ? "" : " — did you mean '" + hint + "'?") +
                                  " (an mcp connector's tools come from its server: no `actions`)");
  }
  if (settings.contains("kind") && settings["kind"] != "mcp") {
    return invalid("/kind", "this is not an mcp connector");
  }
  auto string_list = [](const Json& value) {
    return value.is_array() && std::all_of(value.begin(), value.end(),
                                           [](const Json& part) { return part.is_string(); });
  };
  auto command = settings.find("command");
  if (command == settings.end()) {
    return invalid("/command",
                   "missing — set the server's command line, e.g. "
                   "[npx, -y, @modelcontextprotocol/server-filesystem, ./files]");
  }
  bool command_ok =
      (command->is_string() && !command->get<std::string>().empty()) ||
      (string_list(*command) && !command->empty() && !(*command)[0].get<std::string>().empty());
  if (!command_ok) {
    return invalid("/command",
                   "must be a program or a list of strings (program first), e.g. "
                   "[node, server.js, --verbose]; no shell is used");
  }
  if (settings.contains("args") && !string_list(settings["args"])) {
    return invalid("/args", "must be a list of strings, added after command");
  }
  if (settings.contains("env")) {
    const Json& env = settings["env"];
    if (!env.is_object()) {
      return invalid("/env",
                     "must be a mapping of variable name to value, e.g. { LOG_LEVEL: debug }");
    }
    for (const auto& [key, value] : env.items()) {
      if (!is_env_name(key)) return invalid("/env/" + key, "not a valid environment variable name");
      bool secret = value.is_object() && value.size() == 1 && value.contains("secret") &&
                    value["secret"].is_string() && !value["secret"].get<std::string>().empty();
      if (!value.is_string() && !value.is_number() && !value.is_boolean() && !secret) {
        return invalid(
            "/env/" + key,
            "must be a string, a number, a boolean or { secret: NAME } (from the vault)");
      }
    }
  }
  if (settings.contains("cwd") &&
      (!settings["cwd"].is_string() || settings["cwd"].get<std::string>().empty())) {
    return invalid("/cwd", "must be a directory (relative to the workspace)");
  }
  if (settings.contains("timeout_ms")) {
    const Json& timeout = settings["timeout_ms"];
    if (!timeout.is_number_integer() || timeout.get<long>() <= 0 ||
        timeout.get<long>() > kMaxTimeoutMs) {
      return invalid("/timeout_ms", "must be a whole number of milliseconds between 1 and " +
                                        std::to_string(kMaxTimeoutMs) + " (default " +
                                        std::to_string(kDefaultTimeoutMs) + ")");
    }
  }
  if (settings.contains("trusted") && !settings["trusted"].is_boolean()) {
    return invalid("/trusted",
                   "must be true or false (default false: tool annotations are hints "
                   "from the server and can only raise an effect)");
  }
  if (settings.contains("effects")) {
    const Json& effects = settings["effects"];
    if (!effects.is_object()) {
      return invalid("/effects", "must be a mapping of tool name to read, write or irreversible");
    }
    for (const auto& [key, value] : effects.items()) {
      if (!value.is_string() || !parse_effect(value.get<std::string>())) {
        return invalid("/effects/" + key, "must be read, write or irreversible");
      }
    }
  }
  return {};
}

Json mcp_server_info(const Connector& connector) {
  auto* mcp = dynamic_cast<const McpConnector*>(&connector);
  if (mcp == nullptr) return Json::object();
  return mcp->server_info();
}

Result<std::unique_ptr<Connector>> make_mcp_connector(const ConnectorConfig& config,
                                                      const Vault& vault,
                                                      const McpOptions& options) {
  std::string where = config.loc.str().empty() ? "" : config.loc.str() + ": ";
  std::string label = where + "connector '" + config.name + "': ";
  if (auto ok = check_mcp_settings(config.settings); !ok) {
    return fail(ok.error().with_context(label));
  }
  const Json& settings = config.settings;
  SpawnSpec spawn;
  spawn.argv = command_line(settings);
  spawn.log_file = options.log_file;
  if (settings.contains("cwd")) {
    std::string cwd = settings["cwd"].get<std::string>();
    spawn.cwd =
        cwd.starts_with("/") || options.base_dir.empty() ? cwd : options.base_dir + "/" + cwd;
  } else {
    spawn.cwd = options.base_dir;
  }
  if (auto env = settings.find("env"); env != settings.end()) {
    for (const auto& [key, value] : env->items()) {
      if (value.is_object()) {
        auto secret = vault.get(value["secret"].get<std::string>());
        if (!secret) return fail(secret.error().with_context(label + "env " + key + ": "));
        spawn.env[key] = *secret;
      } else {
        spawn.env[key] = value.is_string() ? value.get<std::string>() : value.dump();
      }
    }
  }
  long timeout_ms = settings.value("timeout_ms", kDefaultTimeoutMs);
  auto connector =
      std::make_unique<McpConnector>(config.name, std::move(spawn), timeout_ms, options);
  if (auto ok = connector->load_tools(settings.value("trusted", false),
                                      settings.value("effects", Json::object()));
      !ok) {
    return fail(ok.error().with_context(label));
  }
  return std::unique_ptr<Connector>(std::move(connector));
}

}  // namespace ergon
