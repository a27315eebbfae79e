// ergon mcp: the workspace's skills as the tools of a Model Context Protocol
// server spoken to over stdio (newline-delimited JSON-RPC 2.0). Calling a tool
// runs a guarded, journaled session of that skill; approvals go through
// ergon's own approvers (the workspace's `approvals:`), never through the
// calling agent. stdout carries only the protocol; logs go to stderr.
#include <httplib.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <iostream>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "cli/commands.h"
#include "cli/console.h"
#include "ergon/planner.h"

#ifndef ERGON_VERSION
#define ERGON_VERSION "dev"
#endif

namespace ergon::cli {
namespace {

// The protocol versions ergon serves, newest first; the first is offered when
// the client asks for one ergon does not know.
const std::vector<std::string>& served_versions() {
  static const std::vector<std::string> versions = {"2025-11-25", "2025-06-18", "2025-03-26",
                                                    "2024-11-05"};
  return versions;
}

// JSON-RPC 2.0 error codes.
constexpr int kParseError = -32700;
constexpr int kInvalidRequest = -32600;
constexpr int kMethodNotFound = -32601;
constexpr int kInvalidParams = -32602;
constexpr int kInternalError = -32603;

// ---- tool descriptions -----------------------------------------------------

Json slot_schema(const SlotSpec& slot) {
  Json schema = Json::object();
  switch (slot.type) {
    case SlotType::kNumber:
    case SlotType::kPercent:
    case SlotType::kMoney: schema["type"] = "number"; break;
    case SlotType::kDate:
      schema["type"] = "string";
      schema["format"] = "date";
      break;
    case SlotType::kEnum:
      schema["type"] = "string";
      schema["enum"] = slot.choices;
      break;
    default: schema["type"] = "string"; break;
  }
  std::string description = !slot.description.empty() ? slot.description : slot.question;
  if (slot.type == SlotType::kPercent) {
    description += std::string(description.empty() ? "" : " ") + "(a percentage: 15 means 15%)";
  } else if (slot.type == SlotType::kMoney) {
    description += std::string(description.empty() ? "" : " ") + "(an amount of money)";
  }
  if (!description.empty()) schema["description"] = description;
  if (slot.default_value) schema["default"] = *slot.default_value;
  return schema;
}

Json input_schema(const Skill& skill) {
  Json properties = Json::object();
  Json required = Json::array();
  for (const SlotSpec& slot : skill.slots) {
    properties[slot.name] = slot_schema(slot);
    if (slot.required && !slot.default_value) required.push_back(slot.name);
  }
  Json schema = {{"type", "object"}, {"properties", properties}};
  if (!required.empty()) schema["required"] = required;
  schema["additionalProperties"] = false;
  return schema;
}

// The effect of a declared action; nullopt when it is known only at run time
// (an mcp connector's tools) or not declared at all.
std::optional<Effect> declared_effect(const Workspace& workspace, const std::string& action) {
  for (const ConnectorConfig& connector : workspace.connectors) {
    for (const DeclaredAction& declared : connector.actions) {
      if (declared.spec.name == action) return declared.spec.effect;
    }
  }
  return std::nullopt;
}

// What a skill's steps may do to the world, for the tool's annotations.
struct SkillEffects {
  bool acts = false;          // has an action or agent step
  bool writes = false;        // some step may change the world
  bool irreversible = false;  // some step may change it for good (or nobody can tell)
};

void add_effect(SkillEffects& effects, std::optional<Effect> effect) {
  effects.acts = true;
  if (!effect) {  // unknown until the connector runs: assume the worst
    effects.writes = effects.irreversible = true;
  } else if (*effect == Effect::kIrreversible) {
    effects.writes = effects.irreversible = true;
  } else if (*effect == Effect::kWrite) {
    effects.writes = true;
  }
}

SkillEffects skill_effects(const Workspace& workspace, const Skill& skill) {
  SkillEffects effects;
  for (const Step& step : skill.steps) {
    if (step.kind == StepKind::kAction) {
      add_effect(effects, declared_effect(workspace, step.action));
    } else if (step.kind == StepKind::kAgent) {
      // The model may propose any action of the connector it works on; a
      // browser's or an mcp server's actions are known only when it runs.
      bool known = false;
      for (const ConnectorConfig& connector : workspace.connectors) {
        if (connector.name != step.agent.connector) continue;
        if (connector.kind == "mcp" || connector.kind == "browser") break;
        for (const DeclaredAction& declared : connector.actions) {
          add_effect(effects, declared.spec.effect);
          known = true;
        }
      }
      if (!known) add_effect(effects, std::nullopt);
    }
  }
  return effects;
}

Json tool_annotations(const Workspace& workspace, const Skill& skill) {
  SkillEffects effects = skill_effects(workspace, skill);
  Json annotations = {{"title", skill.name}};
  annotations["readOnlyHint"] = !effects.writes;
  if (effects.writes) {
    annotations["destructiveHint"] = effects.irreversible;
    annotations["idempotentHint"] = false;
  }
  annotations["openWorldHint"] = effects.acts;
  return annotations;
}

Json tool_list(const Workspace& workspace) {
  Json tools = Json::array();
  for (const Skill& skill : workspace.skills) {
    Json tool = {{"name", skill.name}};
    std::string description = skill.description;
    while (!description.empty() && std::isspace(static_cast<unsigned char>(description.back()))) {
      description.pop_back();
    }
    tool["description"] = description;
    tool["inputSchema"] = input_schema(skill);
    tool["annotations"] = tool_annotations(workspace, skill);
    tools.push_back(std::move(tool));
  }
  return tools;
}

// ---- calling a tool ---------------------------------------------------------

Json tool_error(const std::string& text) {
  return {{"content", Json::array({{{"type", "text"}, {"text", text}}})}, {"isError", true}};
}

// The arguments as slot values, parsed like a person's answers; an error
// message the caller can act on when one does not fit.
Result<Json> slots_from_arguments(const Skill& skill, const Json& arguments, int64_t now_ms) {
  Json slots = Json::object();
  for (const auto& [name, value] : arguments.items()) {
    auto slot = std::find_if(skill.slots.begin(), skill.slots.end(),
                             [&](const SlotSpec& s) { return s.name == name; });
    if (slot == skill.slots.end()) {
      std::string names;
      for (const SlotSpec& s : skill.slots) names += (names.empty() ? "" : ", ") + s.name;
      return fail(ErrorCode::kInvalidInput,
                  "unknown argument '" + name + "': " + skill.name + " takes " +
                      (names.empty() ? std::string("no arguments") : names));
    }
    bool numeric = slot->type == SlotType::kNumber || slot->type == SlotType::kPercent ||
                   slot->type == SlotType::kMoney;
    if (value.is_number() && numeric) {
      slots[name] = value;
      continue;
    }
    std::string text;
    if (value.is_string()) {
      text = value.get<std::string>();
    } else if (value.is_number()) {
      text = value.dump();
    } else {
      return fail(ErrorCode::kInvalidInput, "argument '" + name + "': expected a " +
                                                (numeric ? "number" : "string") + ", got " +
                                                value.type_name());
    }
    auto parsed = parse_slot_value(*slot, text, now_ms);
    if (!parsed) return fail(parsed.error().with_context("argument '" + name + "': "));
    slots[name] = std::move(*parsed);
  }
  return slots;
}

std::string report_text(const SessionReport& report) {
  std::ostringstream out;
  print_report(out, report);
  return out.str();
}

// ---- the server ----------------------------------------------------------

// Where tool calls run: here, or as sessions of a running `ergon serve`
// (whose approvals queue and console then decide what needs a person).
struct ServeTarget {
  std::string url;    // empty: run here
  std::string token;  // from $ERGON_TOKEN
};

// `key` of a JSON object when it is a string; `fallback` otherwise.
std::string text_field(const Json& object, const char* key, const std::string& fallback = "") {
  if (!object.is_object()) return fallback;
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : fallback;
}

// The server: one thread reads stdin, another (serve's caller) handles the
// requests in order. While a tools/call runs — it may wait for a person in
// ergon serve's approvals queue — the reader answers `ping` at once and takes
// `notifications/cancelled` for it. Writes to stdout go through one mutex.
class McpServer {
 public:
  McpServer(Session& session, int out_fd, ServeTarget serve)
      : s_(session), out_fd_(out_fd), serve_(std::move(serve)) {}

  // Serves until stdin closes and every request read has been handled.
  int serve() {
    std::thread reader([this] { read_stdin(); });
    while (true) {
      Json message;
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [&] { return !queue_.empty() || eof_; });
        if (queue_.empty()) break;
        message = std::move(queue_.front().message);
        queue_.pop_front();
        // From now on a cancellation of this request is for the call in flight.
        in_flight_ = message.is_object() && message.contains("id") ? message["id"] : Json();
        cancelled_ = false;
      }
      handle(message);
      std::lock_guard lock(mu_);
      in_flight_ = nullptr;
      cancelled_ = false;
    }
    reader.join();
    return kExitOk;
  }

  // Why the tool call in flight should stop ("" while it should not): for the
  // engine's stop_when, from its thread.
  std::string cancel_reason() {
    std::lock_guard lock(mu_);
    return cancelled_ ? "cancelled by the MCP client (notifications/cancelled)" : "";
  }

 private:
  // A message read and waiting its turn; `message` is discarded when the line
  // was not JSON.
  struct Queued {
    Json message;
  };

  void read_stdin() {
    std::string line;
    while (std::getline(std::cin, line)) {
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      Json message = Json::parse(line, nullptr, false);
      if (take_at_once(message)) continue;
      std::lock_guard lock(mu_);
      queue_.push_back({std::move(message)});
      cv_.notify_all();
    }
    std::lock_guard lock(mu_);
    eof_ = true;
    cv_.notify_all();
  }

  static bool valid_id(const Json& id) { return id.is_string() || id.is_number(); }

  // Handles on the reader's thread what cannot wait for the call in flight:
  // a ping during a call, and cancellation. False: queue it.
  bool take_at_once(const Json& message) {
    if (!message.is_object() || !message.contains("jsonrpc") || message["jsonrpc"] != "2.0" ||
        !message.contains("method") || !message["method"].is_string()) {
      return false;
    }
    const Json& method = message["method"];
    if (method == "notifications/cancelled" && !message.contains("id")) {
      const Json params = message.value("params", Json::object());
      if (!params.is_object() || !params.contains("requestId")) return true;
      const Json& request = params["requestId"];
      std::lock_guard lock(mu_);
      if (!in_flight_.is_null() && request == in_flight_) {
        std::cerr << "ergon mcp: the client cancelled request " << request.dump() << " ("
                  << text_field(params, "reason", "no reason given") << ")\n";
        cancelled_ = true;
        cv_.notify_all();
      } else {
        // Not started yet: it never will be, and gets no answer.
        std::erase_if(queue_, [&](const Queued& queued) {
          return queued.message.is_object() && queued.message.contains("id") &&
                 queued.message["id"] == request;
        });
      }
      return true;
    }
    if (method == "ping" && message.contains("id") && valid_id(message["id"])) {
      std::unique_lock lock(mu_);
      if (!in_call_) return false;  // answered in turn
      lock.unlock();
      send_result(message["id"], Json::object());
      return true;
    }
    return false;
  }

  // One message off the queue. A message that is not what JSON-RPC allows
  // gets a JSON-RPC error, whatever its fields hold.
  void handle(const Json& message) {
    Json id = nullptr;
    try {
      if (message.is_discarded()) {
        send_error(nullptr, kParseError, "parse error: a message is one line of JSON");
        return;
      }
      if (message.is_array()) {  // batches were removed in 2025-06-18
        send_error(nullptr, kInvalidRequest, "invalid request: JSON-RPC batches are not supported");
        return;
      }
      if (message.is_object() && message.contains("id") && valid_id(message["id"])) {
        id = message["id"];
      }
      bool well_formed = message.is_object() && message.contains("jsonrpc") &&
                         message["jsonrpc"] == "2.0" && message.contains("method") &&
                         message["method"].is_string();
      if (!well_formed) {
        if (message.is_object() && !message.contains("method") &&
            (message.contains("result") || message.contains("error"))) {
          return;  // a response to a request we never send
        }
        send_error(id, kInvalidRequest,
                   "invalid request: expected {\"jsonrpc\": \"2.0\", \"method\": ...}");
        return;
      }
      const std::string method = message["method"].get<std::string>();
      if (!message.contains("id")) {
        if (method == "notifications/initialized") initialized_ = true;
        return;  // notifications get no answer; unknown ones are ignored
      }
      if (!valid_id(message["id"])) {
        send_error(nullptr, kInvalidRequest, "invalid request: id must be a string or a number");
        return;
      }
      const Json params = message.contains("params") ? message["params"] : Json::object();
      if (!params.is_object()) {
        send_error(id, kInvalidParams, "invalid params: params must be an object");
        return;
      }
      if (method == "initialize") {
        initialize(id, params);
      } else if (method == "ping") {
        send_result(id, Json::object());
      } else if (method == "tools/list") {
        send_result(id, {{"tools", tool_list(s_.workspace)}});
      } else if (method == "tools/call") {
        set_in_call(true);
        call_tool(id, params);
        set_in_call(false);
      } else {
        send_error(id, kMethodNotFound, "method not found: " + method);
      }
    } catch (const std::exception& e) {
      set_in_call(false);
      send_error(id, kInternalError, std::string("internal error: ") + e.what());
    }
  }

  void set_in_call(bool in_call) {
    std::lock_guard lock(mu_);
    in_call_ = in_call;
  }
  bool cancelled() {
    std::lock_guard lock(mu_);
    return cancelled_;
  }
  // Waits up to `wait`, or until the call in flight is cancelled: whether it was.
  bool wait_for_cancel(std::chrono::milliseconds wait) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, wait, [&] { return cancelled_; });
  }
  // The call's answer, unless the client cancelled it: a cancelled request
  // gets none.
  void answer_call(const Json& id, const Json& result) {
    if (cancelled()) {
      std::cerr << "ergon mcp: request " << id.dump() << " was cancelled: no answer is sent\n";
      return;
    }
    send_result(id, result);
  }

  void initialize(const Json& id, const Json& params) {
    if (!params.contains("protocolVersion") || !params["protocolVersion"].is_string()) {
      send_error(id, kInvalidParams, "invalid params: initialize needs protocolVersion (a string)");
      return;
    }
    const std::string asked = params["protocolVersion"].get<std::string>();
    const auto& versions = served_versions();
    std::string version =
        std::find(versions.begin(), versions.end(), asked) != versions.end() ? asked : versions[0];
    std::cerr << "ergon mcp: client asked for protocol " << asked << ", serving " << version
              << "\n";
    Json result = {
        {"protocolVersion", version},
        {"capabilities", {{"tools", {{"listChanged", false}}}}},
        {"serverInfo", {{"name", "ergon"}, {"version", ERGON_VERSION}}},
        {"instructions",
         "Each tool runs one of this workspace's skills as a guarded, journaled ergon session. "
         "Actions that need a person's approval are approved through ergon's own approvers "
         "(ergon serve), never by the calling agent."},
    };
    send_result(id, result);
  }

  void call_tool(const Json& id, const Json& params) {
    if (!params.contains("name") || !params["name"].is_string()) {
      send_error(id, kInvalidParams, "invalid params: tools/call needs name (a string)");
      return;
    }
    const std::string name = params["name"].get<std::string>();
    const Skill* skill = s_.workspace.skill(name);
    if (skill == nullptr) {
      send_error(id, kInvalidParams, "unknown tool: " + name);
      return;
    }
    Json arguments = params.contains("arguments") ? params["arguments"] : Json::object();
    if (arguments.is_null()) arguments = Json::object();
    if (!arguments.is_object()) {
      send_error(id, kInvalidParams, "invalid params: arguments must be an object");
      return;
    }
    auto slots = slots_from_arguments(*skill, arguments, s_.clock.now_ms());
    if (!slots) {
      send_result(id, tool_error(slots.error().message));
      return;
    }
    Plan plan = plan_from_skill(*skill, name + " " + arguments.dump(), *slots);
    if (!plan.ready()) {
      std::string text = "missing arguments:";
      for (const Question& q : plan.questions) text += "\n  " + q.slot + " — " + q.text;
      send_result(id, tool_error(text));
      return;
    }
    if (!serve_.url.empty()) {
      Json progress;
      if (auto meta = params.find("_meta"); meta != params.end() && meta->is_object()) {
        progress = meta->value("progressToken", Json());
        if (!progress.is_string() && !progress.is_number()) progress = nullptr;
      }
      auto result = run_on_server(plan, progress);
      if (result) answer_call(id, *result);
      return;
    }
    std::cerr << "ergon mcp: running skill " << name << "\n";
    auto report = s_.engine->start(plan);  // stops at the next step once cancelled
    if (!report) {
      answer_call(id, tool_error("ergon: " + report.error().message));
      return;
    }
    Json result = {
        {"content", Json::array({{{"type", "text"}, {"text", report_text(*report)}}})},
        {"structuredContent", to_json(*report)},
        {"isError", report->status != SessionStatus::kDone},
    };
    answer_call(id, result);
  }

  // Posts the plan to `ergon serve` and waits for the session to end there.
  // While a person is asked in its approvals queue, a caller that sent a
  // progressToken hears so (and its request timeout can restart). When the
  // caller cancels, the session is cancelled there and nullopt returned.
  std::optional<Json> run_on_server(const Plan& plan, const Json& progress_token) {
    httplib::Client client(serve_.url);
    client.set_bearer_token_auth(serve_.token);
    client.set_connection_timeout(10, 0);
    client.set_read_timeout(60, 0);
    auto where = [&](const std::string& path) { return serve_.url + path; };
    auto created =
        client.Post("/v1/sessions", Json{{"plan", to_json(plan)}}.dump(), "application/json");
    if (!created) {
      return tool_error("ergon: cannot reach ergon serve at " + serve_.url + " (" +
                        httplib::to_string(created.error()) + ")");
    }
    Json body = Json::parse(created->body, nullptr, false);
    const std::string session = text_field(body, "id");
    if (created->status != 201 || session.empty()) {
      return tool_error("ergon serve refused the session (" + std::to_string(created->status) +
                        "): " + text_field(body, "error", created->body));
    }
    std::cerr << "ergon mcp: session " << session << " runs at " << serve_.url << "\n";
    std::string announced;
    int progress = 0;
    while (true) {
      if (cancelled()) {
        auto cancel =
            client.Post(("/v1/sessions/" + session + "/cancel").c_str(), "{}", "application/json");
        std::cerr << "ergon mcp: cancelling session " << session << " at " << serve_.url << ": "
                  << (cancel ? std::to_string(cancel->status) + " " + cancel->body
                             : httplib::to_string(cancel.error()))
                  << "\n";
        return std::nullopt;
      }
      auto got = client.Get(("/v1/sessions/" + session).c_str());
      if (!got || got->status != 200) {
        return tool_error("ergon: lost session " + session + " at " + where("") +
                          (got ? ": " + got->body : ""));
      }
      Json state = Json::parse(got->body, nullptr, false);
      if (!state.is_object()) state = Json::object();
      std::string status = text_field(state, "status");
      bool busy = !state.contains("busy") || state["busy"] != false;
      if (!busy && status != "running" && status != "queued") {
        Json report = state.value("report", Json::object());
        if (!report.is_object()) report = Json::object();
        report["session"] = session;
        report["status"] = status;
        std::string text = "Session " + session + " at " + serve_.url + ": " + status;
        if (std::string error = text_field(state, "error"); !error.empty()) text += " — " + error;
        if (status == "waiting") {
          text += "\nIt waits for answers: POST " + where("/v1/sessions/" + session + "/answers");
        }
        return Json{{"content", Json::array({{{"type", "text"}, {"text", text}}})},
                    {"structuredContent", report},
                    {"isError", status != "done"}};
      }
      std::string asking;
      if (auto approvals = state.find("approvals");
          approvals != state.end() && approvals->is_array()) {
        for (const Json& approval : *approvals) {
          asking = "waiting for a person to approve " + text_field(approval, "action") +
                   " in ergon serve's approvals queue (" + where("/console/") + ")";
        }
      }
      if (!asking.empty() && asking != announced && !progress_token.is_null()) {
        send(
            {{"jsonrpc", "2.0"},
             {"method", "notifications/progress"},
             {"params",
              {{"progressToken", progress_token}, {"progress", ++progress}, {"message", asking}}}});
      }
      announced = asking;
      wait_for_cancel(std::chrono::milliseconds(200));
    }
  }

  void send_result(const Json& id, const Json& result) {
    send({{"jsonrpc", "2.0"}, {"id", id}, {"result", result}});
  }
  void send_error(const Json& id, int code, const std::string& message) {
    send({{"jsonrpc", "2.0"}, {"id", id}, {"error", {{"code", code}, {"message", message}}}});
  }
  // One message, one line; lines from the two threads never interleave.
  void send(const Json& message) {
    std::string text = message.dump(-1, ' ', false, Json::error_handler_t::replace) + "\n";
    std::lock_guard lock(out_mu_);
    size_t written = 0;
    while (written < text.size()) {
      ssize_t n = ::write(out_fd_, text.data() + written, text.size() - written);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return;  // the client went away; stdin will close too
      written += static_cast<size_t>(n);
    }
  }

  // Constant after construction.
  Session& s_;
  int out_fd_;
  ServeTarget serve_;

  bool initialized_ = false;  // the handling thread's

  std::mutex mu_;
  std::condition_variable cv_;  // a message queued, stdin closed, or the call cancelled
  std::deque<Queued> queue_;    // guarded by mu_
  bool eof_ = false;            // guarded by mu_
  bool in_call_ = false;        // guarded by mu_: the request being handled is a tools/call
  Json in_flight_;              // guarded by mu_: the id of the request being handled
  bool cancelled_ = false;      // guarded by mu_: the client cancelled that request

  std::mutex out_mu_;  // one writer at a time on out_fd_
};

// Approvals under stdio: stdin is the protocol, so the terminal cannot be
// asked. `approvals: auto` approves what policy lets through; anything else
// denies, pointing at ergon's own approvers.
std::unique_ptr<Approver> mcp_approver(const Workspace& workspace) {
  if (workspace.approvals == "auto") return make_auto_approver();
  return make_deny_approver(
      "nobody can be asked over stdio: start `ergon serve` and run `ergon mcp --serve URL`, "
      "so a person approves in its console, or set `approvals: auto` in ergon.yaml to let "
      "policy decide; the calling agent never approves");
}

int run_mcp(const std::string& dir, const std::string& serve_url) {
  ServeTarget serve{serve_url, ""};
  if (!serve.url.empty()) {
    if (!serve.url.starts_with("http://") && !serve.url.starts_with("https://")) {
      return report_error(Error{ErrorCode::kInvalidInput,
                                "--serve: expected the URL ergon serve printed, e.g. "
                                "http://127.0.0.1:8080; got '" +
                                    serve.url + "'"});
    }
    while (serve.url.ends_with('/')) serve.url.pop_back();
    const char* token = std::getenv("ERGON_TOKEN");
    if (token == nullptr || *token == '\0') {
      return report_error(Error{ErrorCode::kInvalidInput,
                                "--serve needs an operator token in $ERGON_TOKEN (make one with "
                                "`ergon serve token add NAME --role operator`)"});
    }
    serve.token = token;
  }
  // The protocol owns the real stdout; anything else that writes to stdout
  // (library code, connectors) lands on stderr instead.
  int out_fd = ::dup(STDOUT_FILENO);
  if (out_fd < 0 || ::dup2(STDERR_FILENO, STDOUT_FILENO) < 0) {
    std::cerr << "ergon: mcp: cannot set up stdout for the protocol\n";
    return kExitFailed;
  }
  ApprovalChoice choice;
  choice.approver = "none";  // replaced below, once the workspace is known
  auto opened = open_session(dir, choice, false);
  if (!opened) return report_error(opened.error());
  Session& s = **opened;
  s.engine.reset();
  s.approver = mcp_approver(s.workspace);
  s.engine = std::make_unique<Engine>(EngineParts{&s.workspace, &s.connectors, s.store.get(),
                                                  s.approver.get(), &s.clock, &s.guards,
                                                  s.vault.get(), s.model.get()});
  s.engine->on_event([](const Event& e) { print_event(std::cerr, e); });
  std::cerr << "ergon mcp: serving " << s.workspace.skills.size() << " skill(s) of "
            << s.workspace.dir << " on stdio\n";
  McpServer server(s, out_fd, serve);
  s.engine->stop_when([&server](const std::string&) { return server.cancel_reason(); });
  int code = server.serve();
  ::close(out_fd);
  return code;
}

}  // namespace

void register_mcp(CLI::App& app, Commands& commands) {
  auto* mcp = app.add_subcommand(
      "mcp", "serve the workspace's skills as MCP tools over stdio (for agents and IDEs)");
  auto serve_url = std::make_shared<std::string>();
  mcp->add_option("--serve", *serve_url,
                  "run tool calls as sessions of this ergon serve (its approvals queue "
                  "decides); the token comes from $ERGON_TOKEN");
  commands.add(mcp,
               [&commands, serve_url] { return run_mcp(commands.global->workspace, *serve_url); });
}

}  // namespace ergon::cli
