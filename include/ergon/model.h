// A language model behind an OpenAI-compatible chat-completions endpoint
// (llama.cpp's server, vLLM, Ollama, a hosted API). ergon uses one, when
// ergon.yaml configures it, to plan goals no skill covers and to choose the
// next action in agent mode. The model only ever proposes: every plan it makes
// is validated and every action it picks passes the guard chain.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ergon/clock.h"
#include "ergon/json.h"
#include "ergon/result.h"
#include "ergon/vault.h"

namespace ergon {

// What one call costs: per 1,000 tokens, in the workspace's currency.
struct ModelPrices {
  double prompt_per_1k = 0;
  double completion_per_1k = 0;
  std::string currency = "USD";
};

// `model:` in ergon.yaml (docs/model.md).
struct ModelConfig {
  std::string kind = "openai";   // the only kind: the OpenAI chat-completions protocol
  std::string base_url;          // up to and including /v1: "http://127.0.0.1:8080/v1"
  std::string model;             // the "model" field of each request
  std::string api_key_env;       // environment variable holding the key; "" sends none
  int timeout_ms = 120000;       // per attempt, connect + answer
  int max_retries = 3;           // after the first attempt, on 429, 5xx and connection errors
  int initial_backoff_ms = 500;  // doubled per retry, at most max_backoff_ms; a
  int max_backoff_ms = 8000;     // Retry-After header (seconds) wins when longer
  double temperature = 0;
  int max_tokens = 0;        // 0: the server's default
  int repair_rounds = 2;     // model planner: corrections after an invalid plan
  int agent_max_steps = 30;  // agent mode: default budget of an agent step
  ModelPrices prices;
};

// Parses the `model:` object of ergon.yaml. Errors are kInvalidInput
// "<json pointer relative to the object>: what is wrong — what to do"
// ("/base_url: ..."); unknown fields are errors naming the closest known one.
Result<ModelConfig> model_config_from_json(const Json& json);

struct ToolCall {
  std::string id;
  std::string name;
  std::string arguments;  // JSON text, exactly as the model sent it (may be invalid)
};

struct ChatMessage {
  std::string role;  // system | user | assistant | tool
  std::string content;
  std::vector<ToolCall> tool_calls;  // assistant
  std::string tool_call_id;          // tool
};

// Constrains the answer to a JSON Schema. Sent in the nested form
// {"type": "json_schema", "json_schema": {"name", "schema", "strict"}}:
// llama.cpp silently ignores the flat one.
struct ResponseFormat {
  std::string name;
  Json schema;
  bool strict = true;
};

struct ToolSpec {
  std::string name;
  std::string description;
  Json parameters = Json::object();  // JSON Schema
};

struct ChatRequest {
  std::vector<ChatMessage> messages;
  std::optional<ResponseFormat> response_format;
  std::vector<ToolSpec> tools;
  std::string tool_choice;  // "", "auto", "none", "required"
  std::string purpose;      // for the journal: "plan", "repair", "agent", ...
};

// Accounting of one call, or a sum of calls.
struct ModelUsage {
  int64_t calls = 0;
  int64_t attempts = 0;  // HTTP requests, retries included
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
  int64_t latency_ms = 0;  // wall time of the call, retries and backoff included
  double cost = 0;         // tokens priced by ModelPrices

  ModelUsage& operator+=(const ModelUsage& other);
};
// {calls, attempts, prompt_tokens, completion_tokens, latency_ms, cost}
Json to_json(const ModelUsage& usage);
ModelUsage usage_from_json(const Json& json);  // missing fields read as 0

struct ChatResponse {
  ChatMessage message;  // the first choice's message
  std::string finish_reason;
  std::string model;  // as the server named it
  ModelUsage usage;   // this call
};

// The body sent for `request` (model, messages, response_format, tools,
// temperature, max_tokens), exactly as the client posts it.
Json chat_request_body(const ChatRequest& request, const ModelConfig& config);
// Parses a chat-completions answer. kInvalidInput naming what is missing when
// the body is not one (no choices, no message ...).
Result<ChatResponse> parse_chat_response(const Json& body);

class ModelClient {
 public:
  virtual ~ModelClient() = default;
  // One chat completion. Errors: kUnavailable/kTimeout after the retries are
  // spent (the message names the endpoint, the last status and what to check),
  // kInvalidInput when the server's answer is not a chat completion, kDenied
  // on 401/403 (naming the api_key_env variable).
  virtual Result<ChatResponse> chat(const ChatRequest& request) = 0;
  virtual const ModelConfig& config() const = 0;
};

// The libcurl client. POSTs to base_url + "/chat/completions"; the key from
// api_key_env goes in "Authorization: Bearer". Every request body passes
// through vault.redact() before it leaves the process, so no secret the vault
// has handed out can reach the model. `clock` times calls and sleeps between
// retries; both must outlive the client. Thread-safe.
Result<std::unique_ptr<ModelClient>> make_openai_client(const ModelConfig& config, Clock& clock,
                                                        const Vault& vault);

}  // namespace ergon
