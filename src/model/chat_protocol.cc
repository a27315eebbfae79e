// The OpenAI chat-completions wire format: the request body ergon posts and
// the answer it reads back. Kept apart from the transport so both directions
// can be tested (and fuzzed) without a server.
#include <string>

#include "core/internal/yaml_json.h"
#include "ergon/model.h"

namespace ergon {
namespace {

using internal::type_name;

Json message_json(const ChatMessage& message) {
  Json out = {{"role", message.role}};
  if (!message.tool_calls.empty()) {
    // OpenAI: content may be null on an assistant message that calls tools.
    out["content"] = message.content.empty() ? Json(nullptr) : Json(message.content);
    Json calls = Json::array();
    for (const ToolCall& call : message.tool_calls) {
      calls.push_back({{"id", call.id},
                       {"type", "function"},
                       {"function", {{"name", call.name}, {"arguments", call.arguments}}}});
    }
    out["tool_calls"] = std::move(calls);
  } else {
    out["content"] = message.content;
  }
  if (!message.tool_call_id.empty()) out["tool_call_id"] = message.tool_call_id;
  return out;
}

std::unexpected<Error> invalid(const std::string& what) {
  return fail(ErrorCode::kInvalidInput, "not a chat completion: " + what);
}

// A message's content: a string, null, or (some servers) a list of parts
// [{"type": "text", "text": ...}] whose texts are joined.
Result<std::string> content_text(const Json& content, const std::string& at) {
  if (content.is_null()) return std::string();
  if (content.is_string()) return content.get<std::string>();
  if (content.is_array()) {
    std::string text;
    for (const Json& part : content) {
      if (part.is_object() && part.contains("text") && part["text"].is_string()) {
        text += part["text"].get<std::string>();
      }
    }
    return text;
  }
  return invalid(at + " is " + type_name(content) + ", expected text");
}

int64_t token_count(const Json& usage, const char* key) {
  auto it = usage.find(key);
  return it != usage.end() && it->is_number() ? it->get<int64_t>() : 0;
}

}  // namespace

Json chat_request_body(const ChatRequest& request, const ModelConfig& config) {
  Json body = {{"model", config.model}, {"stream", false}};
  Json messages = Json::array();
  for (const ChatMessage& message : request.messages) messages.push_back(message_json(message));
  body["messages"] = std::move(messages);
  body["temperature"] = config.temperature;
  if (config.max_tokens > 0) body["max_tokens"] = config.max_tokens;
  if (request.response_format) {
    body["response_format"] = {{"type", "json_schema"},
                               {"json_schema",
                                {{"name", request.response_format->name},
                                 {"schema", request.response_format->schema},
                                 {"strict", request.response_format->strict}}}};
  }
  if (!request.tools.empty()) {
    Json tools = Json::array();
    for (const ToolSpec& tool : request.tools) {
      tools.push_back({{"type", "function"},
                       {"function",
                        {{"name", tool.name},
                         {"description", tool.description},
                         {"parameters", tool.parameters}}}});
    }
    body["tools"] = std::move(tools);
  }
  if (!request.tool_choice.empty()) body["tool_choice"] = request.tool_choice;
  return body;
}

Result<ChatResponse> parse_chat_response(const Json& body) {
  if (!body.is_object()) return invalid("the answer is " + type_name(body) + ", not an object");
  if (auto error = body.find("error"); error != body.end() && !error->is_null()) {
    std::string text =
        error->is_object() && error->contains("message") && (*error)["message"].is_string()
            ? (*error)["message"].get<std::string>()
            : error->dump();
    return fail(ErrorCode::kInvalidInput, "the model server answered an error: " + text);
  }
  auto choices = body.find("choices");
  if (choices == body.end() || !choices->is_array() || choices->empty()) {
    return invalid("no choices");
  }
  const Json& choice = choices->front();
  if (!choice.is_object()) return invalid("/choices/0 is " + type_name(choice));
  auto message = choice.find("message");
  if (message == choice.end() || !message->is_object()) {
    return invalid("/choices/0 has no message");
  }

  ChatResponse response;
  auto role = message->find("role");
  response.message.role =
      role != message->end() && role->is_string() ? role->get<std::string>() : "assistant";
  if (auto content = message->find("content"); content != message->end()) {
    auto text = content_text(*content, "/choices/0/message/content");
    if (!text) return fail(text.error());
    response.message.content = std::move(*text);
  }
  if (auto calls = message->find("tool_calls"); calls != message->end() && !calls->is_null()) {
    if (!calls->is_array()) return invalid("/choices/0/message/tool_calls is not a list");
    for (size_t i = 0; i < calls->size(); ++i) {
      const Json& call = (*calls)[i];
      std::string at = "/choices/0/message/tool_calls/" + std::to_string(i);
      if (!call.is_object()) return invalid(at + " is " + type_name(call));
      auto function = call.find("function");
      if (function == call.end() || !function->is_object()) return invalid(at + " has no function");
      auto name = function->find("name");
      if (name == function->end() || !name->is_string()) {
        return invalid(at + "/function has no name");
      }
      ToolCall tool_call;
      if (auto id = call.find("id"); id != call.end() && id->is_string()) {
        tool_call.id = id->get<std::string>();
      }
      tool_call.name = name->get<std::string>();
      // Arguments are JSON text; a server that sends an object gets it as text.
      if (auto arguments = function->find("arguments"); arguments != function->end()) {
        tool_call.arguments =
            arguments->is_string() ? arguments->get<std::string>() : arguments->dump();
      }
      response.message.tool_calls.push_back(std::move(tool_call));
    }
  }
  if (auto reason = choice.find("finish_reason"); reason != choice.end() && reason->is_string()) {
    response.finish_reason = reason->get<std::string>();
  }
  if (auto model = body.find("model"); model != body.end() && model->is_string()) {
    response.model = model->get<std::string>();
  }
  response.usage.calls = 1;
  response.usage.attempts = 1;
  if (auto usage = body.find("usage"); usage != body.end() && usage->is_object()) {
    response.usage.prompt_tokens = token_count(*usage, "prompt_tokens");
    response.usage.completion_tokens = token_count(*usage, "completion_tokens");
  }
  return response;
}

}  // namespace ergon
