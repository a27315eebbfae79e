// The OpenAI-compatible model client against the model stand-in: a real local
// HTTP server speaking the chat-completions protocol.
#include <gtest/gtest.h>
#include <httplib.h>
#include <stdlib.h>

#include <memory>
#include <string>

#include "ergon/model.h"
#include "support/model_standin.h"
#include "support/process.h"

namespace ergon {
namespace {

using testing::ModelReply;
using testing::ModelStandIn;

ModelConfig config_for(const ModelStandIn& standin) {
  ModelConfig config;
  config.base_url = standin.base_url();
  config.model = "qwen2.5-7b-instruct";
  config.timeout_ms = 10000;
  config.max_retries = 3;
  config.initial_backoff_ms = 500;
  config.max_backoff_ms = 8000;
  return config;
}

ChatMessage message(const std::string& role, const std::string& content) {
  ChatMessage out;
  out.role = role;
  out.content = content;
  return out;
}

ChatMessage assistant_calls(std::vector<ToolCall> calls) {
  ChatMessage out;
  out.role = "assistant";
  out.tool_calls = std::move(calls);
  return out;
}

ChatMessage tool_result(const std::string& call_id, const std::string& content) {
  ChatMessage out = message("tool", content);
  out.tool_call_id = call_id;
  return out;
}

ChatRequest user_says(const std::string& text) {
  ChatRequest request;
  request.messages = {message("system", "You plan."), message("user", text)};
  return request;
}

std::unique_ptr<ModelClient> client_for(const ModelConfig& config, Clock& clock,
                                        const Vault& vault) {
  auto client = make_openai_client(config, clock, vault);
  EXPECT_TRUE(client.has_value()) << (client ? "" : client.error().message);
  return client ? std::move(*client) : nullptr;
}

ModelReply text_reply(const std::string& content, int prompt_tokens = -1,
                      int completion_tokens = -1) {
  ModelReply reply;
  reply.content = content;
  reply.prompt_tokens = prompt_tokens;
  reply.completion_tokens = completion_tokens;
  return reply;
}

ModelReply status_reply(int status, int retry_after_s = -1, const std::string& message = "") {
  ModelReply reply;
  reply.status = status;
  reply.retry_after_s = retry_after_s;
  reply.content = message;
  return reply;
}

class ModelClientTest : public ::testing::Test {
 protected:
  FakeClock clock_;
  Vault vault_;
};

TEST_F(ModelClientTest, PostsTheOpenAiRequestShape) {
  ModelStandIn standin;
  standin.add(text_reply(R"({"ok": true})"));
  ModelConfig config = config_for(standin);
  config.temperature = 0.2;
  config.max_tokens = 512;
  auto client = client_for(config, clock_, vault_);

  ChatRequest request = user_says("stop idle instances");
  request.messages.push_back(
      assistant_calls({{.id = "call_7", .name = "look", .arguments = "{}"}}));
  request.messages.push_back(tool_result("call_7", "{\"seen\": 1}"));
  request.response_format =
      ResponseFormat{.name = "plan", .schema = Json{{"type", "object"}}, .strict = true};
  request.tools.push_back(
      {.name = "browser_click",
       .description = "Click an element",
       .parameters = Json{{"type", "object"}, {"properties", {{"target", {{"type", "string"}}}}}}});
  request.tool_choice = "auto";
  auto response = client->chat(request);
  ASSERT_TRUE(response.has_value()) << response.error().message;

  ASSERT_EQ(standin.requests().size(), 1u);
  const Json body = standin.requests()[0];
  EXPECT_EQ(body, chat_request_body(request, config)) << "the client posts chat_request_body";
  EXPECT_EQ(body["model"], "qwen2.5-7b-instruct");
  EXPECT_DOUBLE_EQ(body["temperature"].get<double>(), 0.2);
  EXPECT_EQ(body["max_tokens"], 512);
  EXPECT_EQ(body["stream"], false);
  // The nested form: llama.cpp ignores {"type": "json_schema", "schema": ...}.
  EXPECT_EQ(body["response_format"]["type"], "json_schema");
  EXPECT_EQ(body["response_format"]["json_schema"]["name"], "plan");
  EXPECT_EQ(body["response_format"]["json_schema"]["schema"], Json({{"type", "object"}}));
  EXPECT_EQ(body["response_format"]["json_schema"]["strict"], true);
  EXPECT_FALSE(body["response_format"].contains("schema"));
  ASSERT_EQ(body["tools"].size(), 1u);
  EXPECT_EQ(body["tools"][0]["type"], "function");
  EXPECT_EQ(body["tools"][0]["function"]["name"], "browser_click");
  EXPECT_EQ(body["tools"][0]["function"]["description"], "Click an element");
  EXPECT_EQ(body["tools"][0]["function"]["parameters"]["properties"]["target"]["type"], "string");
  EXPECT_EQ(body["tool_choice"], "auto");
  ASSERT_EQ(body["messages"].size(), 4u);
  EXPECT_EQ(body["messages"][0], Json({{"role", "system"}, {"content", "You plan."}}));
  EXPECT_EQ(body["messages"][1]["content"], "stop idle instances");
  const Json& assistant = body["messages"][2];
  EXPECT_TRUE(assistant["content"].is_null());
  EXPECT_EQ(assistant["tool_calls"][0],
            Json({{"id", "call_7"},
                  {"type", "function"},
                  {"function", {{"name", "look"}, {"arguments", "{}"}}}}));
  EXPECT_EQ(body["messages"][3],
            Json({{"role", "tool"}, {"content", "{\"seen\": 1}"}, {"tool_call_id", "call_7"}}));
  EXPECT_EQ(standin.authorizations()[0], "") << "no api_key_env: no Authorization header";
}

TEST_F(ModelClientTest, LeavesOutUnsetOptionalFields) {
  ModelConfig config;
  config.model = "m";
  Json body = chat_request_body(user_says("hi"), config);
  EXPECT_FALSE(body.contains("max_tokens"));
  EXPECT_FALSE(body.contains("response_format"));
  EXPECT_FALSE(body.contains("tools"));
  EXPECT_FALSE(body.contains("tool_choice"));
  EXPECT_EQ(body["temperature"], 0.0);
}

TEST_F(ModelClientTest, ParsesContentToolCallsAndUsage) {
  ModelStandIn standin;
  ModelReply reply;
  reply.tool_calls = Json::array({{{"id", "call_1"},
                                   {"type", "function"},
                                   {"function", {{"name", "click"}, {"arguments", "{\"n\":1}"}}}},
                                  {{"id", "call_2"},
                                   {"type", "function"},
                                   {"function", {{"name", "type"}, {"arguments", "not json"}}}}});
  reply.finish_reason = "tool_calls";
  reply.prompt_tokens = 42;
  reply.completion_tokens = 7;
  standin.add(reply);
  standin.add(text_reply("plain answer"));
  auto client = client_for(config_for(standin), clock_, vault_);

  auto first = client->chat(user_says("go"));
  ASSERT_TRUE(first.has_value()) << first.error().message;
  EXPECT_EQ(first->message.role, "assistant");
  EXPECT_EQ(first->message.content, "") << "content is null when the model calls tools";
  ASSERT_EQ(first->message.tool_calls.size(), 2u);
  EXPECT_EQ(first->message.tool_calls[0].id, "call_1");
  EXPECT_EQ(first->message.tool_calls[0].name, "click");
  EXPECT_EQ(first->message.tool_calls[0].arguments, "{\"n\":1}");
  EXPECT_EQ(first->message.tool_calls[1].arguments, "not json") << "kept exactly as sent";
  EXPECT_EQ(first->finish_reason, "tool_calls");
  EXPECT_EQ(first->model, "qwen2.5-7b-instruct");
  EXPECT_EQ(first->usage.prompt_tokens, 42);
  EXPECT_EQ(first->usage.completion_tokens, 7);
  EXPECT_EQ(first->usage.calls, 1);
  EXPECT_EQ(first->usage.attempts, 1);

  auto second = client->chat(user_says("again"));
  ASSERT_TRUE(second.has_value()) << second.error().message;
  EXPECT_EQ(second->message.content, "plain answer");
  EXPECT_TRUE(second->message.tool_calls.empty());
  EXPECT_EQ(second->finish_reason, "stop");
  EXPECT_EQ(second->usage.completion_tokens, 3) << "ceil(12 chars / 4), counted by the stand-in";
}

TEST(ParseChatResponse, AcceptsWhatServersSend) {
  // No usage (some servers), content as a list of parts, arguments as an object.
  Json body = {
      {"choices",
       {{{"index", 0},
         {"message",
          {{"role", "assistant"},
           {"content", {{{"type", "text"}, {"text", "a"}}, {{"type", "text"}, {"text", "b"}}}},
           {"tool_calls",
            {{{"id", "c"}, {"function", {{"name", "f"}, {"arguments", {{"x", 1}}}}}}}}}},
         {"finish_reason", nullptr}}}}};
  auto response = parse_chat_response(body);
  ASSERT_TRUE(response.has_value()) << response.error().message;
  EXPECT_EQ(response->message.content, "ab");
  EXPECT_EQ(response->message.tool_calls[0].arguments, "{\"x\":1}");
  EXPECT_EQ(response->finish_reason, "");
  EXPECT_EQ(response->usage.prompt_tokens, 0);
  EXPECT_EQ(response->usage.completion_tokens, 0);
}

TEST(ParseChatResponse, NamesWhatIsMissing) {
  struct Case {
    Json body;
    std::string expected;
  };
  for (const Case& c : std::vector<Case>{
           {Json::array(), "not an object"},
           {Json::object(), "no choices"},
           {Json{{"choices", Json::array()}}, "no choices"},
           {Json{{"choices", {{{"index", 0}}}}}, "/choices/0 has no message"},
           {Json{{"choices", {{{"message", {{"content", 5}}}}}}}, "/choices/0/message/content"},
           {Json{{"choices", {{{"message", {{"tool_calls", {{{"id", "x"}}}}}}}}}},
            "/choices/0/message/tool_calls/0 has no function"},
           {Json{{"error", {{"message", "model not loaded"}}}}, "model not loaded"},
       }) {
    auto response = parse_chat_response(c.body);
    ASSERT_FALSE(response.has_value()) << c.body.dump();
    EXPECT_EQ(response.error().code, ErrorCode::kInvalidInput);
    EXPECT_NE(response.error().message.find(c.expected), std::string::npos)
        << response.error().message;
  }
}

TEST_F(ModelClientTest, RetriesA429AndHonoursRetryAfter) {
  ModelStandIn standin;
  standin.add(status_reply(429));
  standin.add(status_reply(429, /*retry_after_s=*/3));
  standin.add(status_reply(429, /*retry_after_s=*/0));
  standin.add(text_reply("done"));
  auto client = client_for(config_for(standin), clock_, vault_);

  auto response = client->chat(user_says("plan"));
  ASSERT_TRUE(response.has_value()) << response.error().message;
  EXPECT_EQ(response->message.content, "done");
  // Backoff 500, then max(1000, Retry-After 3 s), then max(2000, 0).
  EXPECT_EQ(clock_.slept_ms(), 500 + 3000 + 2000);
  EXPECT_EQ(response->usage.attempts, 4);
  EXPECT_EQ(response->usage.latency_ms, 5500) << "latency includes the backoff";
  EXPECT_EQ(standin.requests().size(), 4u);
  EXPECT_EQ(standin.requests()[0], standin.requests()[3]) << "the same body each attempt";
}

TEST_F(ModelClientTest, BackoffIsCappedByMaxBackoff) {
  ModelStandIn standin;
  for (int i = 0; i < 5; ++i) standin.add(status_reply(502));
  standin.add(text_reply("ok"));
  ModelConfig config = config_for(standin);
  config.max_retries = 5;
  config.initial_backoff_ms = 1000;
  config.max_backoff_ms = 3000;
  auto client = client_for(config, clock_, vault_);
  auto response = client->chat(user_says("plan"));
  ASSERT_TRUE(response.has_value()) << response.error().message;
  EXPECT_EQ(clock_.slept_ms(), 1000 + 2000 + 3000 + 3000 + 3000);
}

TEST_F(ModelClientTest, GivesUpAfterMaxRetriesOf503) {
  ModelStandIn standin;
  ModelConfig config = config_for(standin);
  for (int i = 0; i <= config.max_retries; ++i) standin.add(status_reply(503, -1, "loading model"));
  standin.add(text_reply("too late"));
  auto client = client_for(config, clock_, vault_);

  auto response = client->chat(user_says("plan"));
  ASSERT_FALSE(response.has_value());
  EXPECT_EQ(response.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(standin.requests().size(), 4u) << "1 attempt + max_retries 3";
  EXPECT_EQ(standin.remaining(), 1u);
  EXPECT_EQ(clock_.slept_ms(), 500 + 1000 + 2000);
  const std::string& message = response.error().message;
  EXPECT_NE(message.find(standin.base_url() + "/chat/completions"), std::string::npos) << message;
  EXPECT_NE(message.find("503 (loading model)"), std::string::npos) << message;
  EXPECT_NE(message.find("after 4 attempts"), std::string::npos) << message;
}

TEST_F(ModelClientTest, AHugeRetryAfterEndsTheRetries) {
  ModelStandIn standin;
  standin.add(status_reply(429, /*retry_after_s=*/86400, "daily quota exhausted"));
  auto client = client_for(config_for(standin), clock_, vault_);
  auto response = client->chat(user_says("plan"));
  ASSERT_FALSE(response.has_value());
  EXPECT_EQ(response.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(response.error().message.find("86400 s"), std::string::npos);
  EXPECT_EQ(clock_.slept_ms(), 0);
}

TEST_F(ModelClientTest, RejectedKeyIsDeniedNamingTheVariable) {
  ModelStandIn standin;
  standin.add(status_reply(401, -1, "Incorrect API key provided"));
  ModelConfig config = config_for(standin);
  config.api_key_env = "ERGON_TEST_MODEL_KEY";
  ASSERT_EQ(setenv("ERGON_TEST_MODEL_KEY", "sk-test-123", 1), 0);
  auto client = client_for(config, clock_, vault_);

  auto response = client->chat(user_says("plan"));
  unsetenv("ERGON_TEST_MODEL_KEY");
  ASSERT_FALSE(response.has_value());
  EXPECT_EQ(response.error().code, ErrorCode::kDenied);
  EXPECT_NE(response.error().message.find("ERGON_TEST_MODEL_KEY"), std::string::npos);
  EXPECT_NE(response.error().message.find("Incorrect API key provided"), std::string::npos);
  EXPECT_EQ(standin.requests().size(), 1u) << "a refused key is not retried";
  EXPECT_EQ(standin.authorizations()[0], "Bearer sk-test-123");
}

TEST_F(ModelClientTest, MissingKeyVariableIsInvalidInputBeforeAnyRequest) {
  ModelStandIn standin;
  standin.add(text_reply("unused"));
  ModelConfig config = config_for(standin);
  config.api_key_env = "ERGON_TEST_UNSET_KEY";
  unsetenv("ERGON_TEST_UNSET_KEY");
  auto client = client_for(config, clock_, vault_);
  auto response = client->chat(user_says("plan"));
  ASSERT_FALSE(response.has_value());
  EXPECT_EQ(response.error().code, ErrorCode::kInvalidInput);
  EXPECT_EQ(response.error().message,
            "set ERGON_TEST_UNSET_KEY to the API key (model.api_key_env in ergon.yaml)");
  EXPECT_TRUE(standin.requests().empty());
}

TEST_F(ModelClientTest, UnknownModelIsInvalidInputWithTheServersWords) {
  ModelStandIn standin;
  standin.add(status_reply(404, -1, "model 'qwen9' not found, try pulling it first"));
  auto client = client_for(config_for(standin), clock_, vault_);
  auto response = client->chat(user_says("plan"));
  ASSERT_FALSE(response.has_value());
  EXPECT_EQ(response.error().code, ErrorCode::kInvalidInput);
  EXPECT_NE(response.error().message.find("model 'qwen9' not found"), std::string::npos);
  EXPECT_NE(response.error().message.find("model.model"), std::string::npos);
  EXPECT_EQ(standin.requests().size(), 1u);

  standin.add(status_reply(400, -1, "response_format is not supported"));
  response = client->chat(user_says("plan"));
  ASSERT_FALSE(response.has_value());
  EXPECT_EQ(response.error().code, ErrorCode::kInvalidInput);
  EXPECT_NE(response.error().message.find("400 (response_format is not supported)"),
            std::string::npos)
      << response.error().message;
}

TEST_F(ModelClientTest, AnswerThatIsNotAChatCompletionIsInvalidInput) {
  ModelStandIn standin;
  ModelReply html;
  html.raw_body = "<html>It works!</html>";
  standin.add(html);
  ModelReply empty;
  empty.raw_body = R"({"id": "x", "choices": []})";
  standin.add(empty);
  auto client = client_for(config_for(standin), clock_, vault_);

  auto response = client->chat(user_says("plan"));
  ASSERT_FALSE(response.has_value());
  EXPECT_EQ(response.error().code, ErrorCode::kInvalidInput);
  EXPECT_NE(response.error().message.find("not JSON: <html>It works!</html>"), std::string::npos)
      << response.error().message;
  EXPECT_NE(response.error().message.find("/v1"), std::string::npos);

  response = client->chat(user_says("plan"));
  ASSERT_FALSE(response.has_value());
  EXPECT_EQ(response.error().code, ErrorCode::kInvalidInput);
  EXPECT_NE(response.error().message.find("no choices"), std::string::npos);
  EXPECT_EQ(standin.requests().size(), 2u) << "an invalid answer is not retried";
}

TEST_F(ModelClientTest, ConnectionRefusedIsUnavailableAfterRetries) {
  std::string base_url;
  {
    ModelStandIn closed;
    base_url = closed.base_url();
  }  // the port is closed now
  ModelConfig config;
  config.base_url = base_url;
  config.model = "m";
  config.max_retries = 2;
  config.initial_backoff_ms = 100;
  auto client = client_for(config, clock_, vault_);
  auto response = client->chat(user_says("plan"));
  ASSERT_FALSE(response.has_value());
  EXPECT_EQ(response.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(clock_.slept_ms(), 100 + 200) << "two retries with backoff";
  EXPECT_NE(response.error().message.find("could not be reached"), std::string::npos)
      << response.error().message;
  EXPECT_NE(response.error().message.find("after 3 attempts"), std::string::npos);
  EXPECT_NE(response.error().message.find("is the model server running"), std::string::npos);
}

TEST_F(ModelClientTest, SlowAnswerTimesOut) {
  ModelStandIn standin;
  ModelReply slow = text_reply("late");
  slow.delay_ms = 30000;  // the stand-in's destructor ends the wait
  standin.add(slow);
  ModelConfig config = config_for(standin);
  config.timeout_ms = 200;
  config.max_retries = 0;
  auto client = client_for(config, clock_, vault_);
  auto response = client->chat(user_says("plan"));
  ASSERT_FALSE(response.has_value());
  EXPECT_EQ(response.error().code, ErrorCode::kTimeout);
  EXPECT_NE(response.error().message.find("within 200 ms"), std::string::npos)
      << response.error().message;
  EXPECT_NE(response.error().message.find("model.timeout_ms"), std::string::npos);
}

TEST_F(ModelClientTest, AccountingAddsUpOverCalls) {
  ModelStandIn standin;
  standin.add(text_reply("a", 100, 50));
  standin.add(status_reply(503));
  standin.add(text_reply("b", 200, 10));
  standin.add(text_reply("c", 1000, 0));
  ModelConfig config = config_for(standin);
  config.prices = {.prompt_per_1k = 1.0, .completion_per_1k = 2.0, .currency = "EUR"};
  auto client = client_for(config, clock_, vault_);

  ModelUsage total;
  for (const char* goal : {"one", "two", "three"}) {
    auto response = client->chat(user_says(goal));
    ASSERT_TRUE(response.has_value()) << response.error().message;
    total += response->usage;
  }
  EXPECT_EQ(total.calls, 3);
  EXPECT_EQ(total.attempts, 4);
  EXPECT_EQ(total.prompt_tokens, 1300);
  EXPECT_EQ(total.completion_tokens, 60);
  EXPECT_DOUBLE_EQ(total.cost, 1.3 + 0.12);
  EXPECT_EQ(total.latency_ms, 500) << "FakeClock: only the backoff took time";

  Json json = to_json(total);
  EXPECT_EQ(json["attempts"], 4);
  EXPECT_DOUBLE_EQ(json["cost"].get<double>(), 1.42);
  ModelUsage back = usage_from_json(json);
  EXPECT_EQ(to_json(back), json);
  ModelUsage partial = usage_from_json(Json{{"calls", 2}});
  EXPECT_EQ(partial.calls, 2);
  EXPECT_EQ(partial.attempts, 0);
  EXPECT_EQ(partial.cost, 0);
}

TEST_F(ModelClientTest, SecretsNeverReachTheModel) {
  const std::string secret = "tok-4f9a-SECRET-c0ffee";
  ModelStandIn standin({secret});
  standin.add(text_reply("ok"));
  standin.add(text_reply("ok"));
  vault_.put("PORTAL_TOKEN", secret);
  auto client = client_for(config_for(standin), clock_, vault_);

  // Not handed out yet: nothing tells the vault it is a secret, and the
  // stand-in catches the leak (so the check below can fail).
  ASSERT_TRUE(client->chat(user_says("token is " + secret)).has_value());
  ASSERT_EQ(standin.leaks().size(), 1u);
  EXPECT_EQ(standin.leaks()[0], "request 1 contains secret #1");

  ASSERT_TRUE(vault_.get("PORTAL_TOKEN").has_value());
  ChatRequest request = user_says("log in with " + secret);
  request.messages.push_back(
      assistant_calls({{.id = "c", .name = "type", .arguments = "{\"text\":\"" + secret + "\"}"}}));
  request.messages.push_back(tool_result("c", "typed " + secret));
  ASSERT_TRUE(client->chat(request).has_value());
  EXPECT_EQ(standin.leaks().size(), 1u) << "the second request leaked nothing";
  const Json body = standin.requests()[1];
  EXPECT_EQ(body["messages"][1]["content"], "log in with ***");
  EXPECT_EQ(body["messages"][2]["tool_calls"][0]["function"]["arguments"], "{\"text\":\"***\"}");
  EXPECT_EQ(body["messages"][3]["content"], "typed ***");
}

TEST_F(ModelClientTest, AnswersFromAFixtureFile) {
  ModelStandIn standin;
  standin.add_fixture(testing::source_path("tests/data/model/client_plan.json"));
  EXPECT_EQ(standin.remaining(), 4u);
  auto client = client_for(config_for(standin), clock_, vault_);

  // `when` picks the answer: the weather reply waits for its question.
  auto weather = client->chat(user_says("what is the weather?"));
  ASSERT_TRUE(weather.has_value()) << weather.error().message;
  EXPECT_EQ(weather->message.content, "I cannot plan that.");

  auto plan = client->chat(user_says("stop idle instances"));
  ASSERT_TRUE(plan.has_value()) << plan.error().message;
  EXPECT_EQ(clock_.slept_ms(), 2000) << "503 with Retry-After: 2";
  Json content = Json::parse(plan->message.content);
  EXPECT_EQ(content["steps"][0]["do"], "cloud.list_instances");
  EXPECT_EQ(plan->usage.prompt_tokens, 120);
  EXPECT_EQ(plan->usage.attempts, 2);

  auto click = client->chat(user_says("book it"));
  ASSERT_TRUE(click.has_value()) << click.error().message;
  ASSERT_EQ(click->message.tool_calls.size(), 1u);
  EXPECT_EQ(click->message.tool_calls[0].name, "browser.click");
  EXPECT_EQ(Json::parse(click->message.tool_calls[0].arguments)["target"], "Book");
  EXPECT_EQ(standin.remaining(), 0u);

  auto none = client->chat(user_says("more"));
  ASSERT_FALSE(none.has_value());
  EXPECT_NE(none.error().message.find("stand-in: no recorded answer"), std::string::npos);
}

TEST(ModelStandInTest, FixtureErrorsNameTheFileAndEntry) {
  const std::string path = testing::source_path("tests/data/model/client_bad_field.json");
  try {
    testing::load_model_fixture(path);
    FAIL() << "expected an error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(path + ": entry 1: unknown field 'contnet'"),
              std::string::npos)
        << e.what();
  }
}

TEST(ModelStandInTest, ListsItsModel) {
  ModelStandIn standin;
  httplib::Client http("127.0.0.1", standin.port());
  auto reply = http.Get("/v1/models");
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, 200);
  Json list = Json::parse(reply->body);
  EXPECT_EQ(list["object"], "list");
  EXPECT_EQ(list["data"].size(), 1u);
}

TEST(ModelConfigTest, ReadsEveryField) {
  Json json = {
      {"kind", "openai"},
      {"base_url", "http://127.0.0.1:8080/v1/"},
      {"model", "qwen2.5-7b"},
      {"api_key_env", "OPENAI_API_KEY"},
      {"timeout_ms", 60000},
      {"max_retries", 5},
      {"initial_backoff_ms", 250},
      {"max_backoff_ms", 4000},
      {"temperature", 0.3},
      {"max_tokens", 1024},
      {"repair_rounds", 1},
      {"agent_max_steps", 12},
      {"prices", {{"prompt_per_1k", 0.5}, {"completion_per_1k", 1.5}, {"currency", "EUR"}}}};
  auto config = model_config_from_json(json);
  ASSERT_TRUE(config.has_value()) << config.error().message;
  EXPECT_EQ(config->base_url, "http://127.0.0.1:8080/v1") << "trailing slash dropped";
  EXPECT_EQ(config->model, "qwen2.5-7b");
  EXPECT_EQ(config->api_key_env, "OPENAI_API_KEY");
  EXPECT_EQ(config->timeout_ms, 60000);
  EXPECT_EQ(config->max_retries, 5);
  EXPECT_EQ(config->initial_backoff_ms, 250);
  EXPECT_EQ(config->max_backoff_ms, 4000);
  EXPECT_DOUBLE_EQ(config->temperature, 0.3);
  EXPECT_EQ(config->max_tokens, 1024);
  EXPECT_EQ(config->repair_rounds, 1);
  EXPECT_EQ(config->agent_max_steps, 12);
  EXPECT_DOUBLE_EQ(config->prices.prompt_per_1k, 0.5);
  EXPECT_DOUBLE_EQ(config->prices.completion_per_1k, 1.5);
  EXPECT_EQ(config->prices.currency, "EUR");

  auto defaults =
      model_config_from_json({{"base_url", "https://api.example.com/v1"}, {"model", "m"}});
  ASSERT_TRUE(defaults.has_value()) << defaults.error().message;
  EXPECT_EQ(defaults->kind, "openai");
  EXPECT_EQ(defaults->timeout_ms, 120000);
  EXPECT_EQ(defaults->max_retries, 3);
  EXPECT_EQ(defaults->prices.currency, "USD");
}

TEST(ModelConfigTest, ErrorsNameTheFieldAndWhatToDo) {
  const Json base = {{"base_url", "http://127.0.0.1:8080/v1"}, {"model", "m"}};
  struct Case {
    Json patch;  // merged into base; null values remove the key
    std::string expected;
  };
  for (const Case& c : std::vector<Case>{
           {{{"base_url", nullptr}}, "/base_url: missing — set it to"},
           {{{"model", nullptr}}, "/model: missing"},
           {{{"temprature", 0.5}}, "/temprature: unknown field — did you mean 'temperature'?"},
           {{{"kind", "anthropic"}}, "/kind: unknown kind 'anthropic' — use openai"},
           {{{"base_url", "127.0.0.1:8080/v1"}}, "/base_url: '127.0.0.1:8080/v1' is not an http"},
           {{{"base_url", "http://h/v1/chat/completions"}}, "stop before /chat/completions"},
           {{{"timeout_ms", "fast"}},
            "/timeout_ms: expected a whole number from 1 up, found a string"},
           {{{"max_retries", -1}}, "/max_retries: expected a whole number from 0 up, found -1"},
           {{{"max_tokens", 1.5}}, "/max_tokens: expected a whole number"},
           {{{"temperature", 3}}, "/temperature: expected a number from 0 to 2, found 3"},
           {{{"api_key_env", "sk-abc123"}}, "/api_key_env: 'sk-abc123' is not an environment"},
           {{{"prices", {{"prompt_per_1K", 1}}}},
            "/prices/prompt_per_1K: unknown field — did you mean 'prompt_per_1k'?"},
           {{{"prices", {{"completion_per_1k", -1}}}},
            "/prices/completion_per_1k: expected a price"},
           {{{"prices", 3}}, "/prices: expected a mapping"},
       }) {
    Json json = base;
    json.merge_patch(c.patch);
    for (const auto& [key, value] : c.patch.items()) {
      if (value.is_null()) json.erase(key);
    }
    auto config = model_config_from_json(json);
    ASSERT_FALSE(config.has_value()) << json.dump();
    EXPECT_EQ(config.error().code, ErrorCode::kInvalidInput);
    EXPECT_NE(config.error().message.find(c.expected), std::string::npos)
        << "got: " << config.error().message << "\nwanted: " << c.expected;
  }
  auto not_object = model_config_from_json(Json("http://x"));
  ASSERT_FALSE(not_object.has_value());
  EXPECT_NE(not_object.error().message.find("expected a mapping"), std::string::npos);
}

}  // namespace
}  // namespace ergon
