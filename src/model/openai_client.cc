// The libcurl client of an OpenAI-compatible chat-completions endpoint.
#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "ergon/model.h"

namespace ergon {
namespace {

constexpr size_t kMaxAnswerBytes = size_t{64} << 20;
// A Retry-After longer than this (a quota reset, say) ends the retries: waiting
// hours inside one call helps nobody.
constexpr int64_t kMaxRetryAfterMs = 300'000;
constexpr size_t kQuotedBodyChars = 300;

void init_curl_once() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct CurlDeleter {
  void operator()(CURL* curl) const { curl_easy_cleanup(curl); }
};
struct SlistDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};

size_t collect_body(char* data, size_t size, size_t count, void* user) {
  auto* body = static_cast<std::string*>(user);
  size_t bytes = size * count;
  if (body->size() + bytes > kMaxAnswerBytes) return 0;  // curl reports CURLE_WRITE_ERROR
  body->append(data, bytes);
  return bytes;
}

// Keeps the Retry-After header's value, in seconds (-1 when absent or a date).
size_t collect_header(char* data, size_t size, size_t count, void* user) {
  auto* retry_after_s = static_cast<int64_t*>(user);
  size_t bytes = size * count;
  std::string line(data, bytes);
  constexpr std::string_view kName = "retry-after:";
  if (line.size() > kName.size()) {
    std::string head = line.substr(0, kName.size());
    std::transform(head.begin(), head.end(), head.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (head == kName) {
      std::string value = line.substr(kName.size());
      size_t begin = value.find_first_not_of(" \t");
      size_t end = value.find_last_not_of(" \t\r\n");
      value = begin == std::string::npos ? "" : value.substr(begin, end - begin + 1);
      bool digits = !value.empty() && value.size() < 10 &&
                    std::all_of(value.begin(), value.end(),
                                [](unsigned char c) { return std::isdigit(c) != 0; });
      *retry_after_s = digits ? std::stoll(value) : -1;
    }
  }
  return bytes;
}

// What one HTTP attempt gave.
struct Attempt {
  CURLcode code = CURLE_OK;
  std::string curl_error;
  long status = 0;
  std::string body;
  int64_t retry_after_s = -1;
};

bool retryable_status(long status) {
  return status == 408 || status == 429 || status == 500 || status == 502 || status == 503 ||
         status == 504;
}

bool retryable_transport(CURLcode code) {
  switch (code) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM: return true;
    default: return false;
  }
}

// The server's own words from an error body: OpenAI {"error": {"message"}},
// Ollama {"error": "..."}, vLLM {"message"} or {"detail"}; else the body, cut.
std::string server_message(const std::string& body) {
  Json json = Json::parse(body, nullptr, false);
  if (json.is_object()) {
    if (auto error = json.find("error"); error != json.end()) {
      if (error->is_string()) return error->get<std::string>();
      if (error->is_object() && error->contains("message") && (*error)["message"].is_string()) {
        return (*error)["message"].get<std::string>();
      }
    }
    for (const char* key : {"message", "detail"}) {
      if (auto it = json.find(key); it != json.end()) {
        return it->is_string() ? it->get<std::string>() : it->dump();
      }
    }
  }
  std::string text = body.substr(0, kQuotedBodyChars);
  for (char& c : text) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  if (body.size() > kQuotedBodyChars) text += "...";
  return text.empty() ? "(empty body)" : text;
}

// Thread-safe: every call runs on its own curl handle and only reads members.
class OpenAiClient final : public ModelClient {
 public:
  OpenAiClient(ModelConfig config, Clock& clock, const Vault& vault)
      : config_(std::move(config)),
        url_(config_.base_url + "/chat/completions"),
        clock_(clock),
        vault_(vault) {}

  const ModelConfig& config() const override { return config_; }

  Result<ChatResponse> chat(const ChatRequest& request) override {
    const int64_t start = clock_.now_ms();
    std::string authorization;
    if (!config_.api_key_env.empty()) {
      const char* key = std::getenv(config_.api_key_env.c_str());
      if (key == nullptr || *key == '\0') {
        return fail(ErrorCode::kInvalidInput, "set " + config_.api_key_env +
                                                  " to the API key (model.api_key_env in "
                                                  "ergon.yaml)");
      }
      authorization = std::string("Authorization: Bearer ") + key;
    }
    // No secret the vault handed out leaves the process.
    const std::string body = vault_.redact(chat_request_body(request, config_))
                                 .dump(-1, ' ', false, Json::error_handler_t::replace);

    Attempt last;
    int attempts = 0;
    for (int retry = 0;; ++retry) {
      ++attempts;
      last = perform(body, authorization);
      if (last.code == CURLE_OK && last.status >= 200 && last.status < 300) {
        return answer(last, attempts, start);
      }
      bool again =
          last.code == CURLE_OK ? retryable_status(last.status) : retryable_transport(last.code);
      if (!again) return fail(final_error(last, attempts));
      if (retry >= config_.max_retries) break;
      int64_t wait_ms = backoff_ms(retry);
      if (last.retry_after_s >= 0) {
        int64_t asked = last.retry_after_s * 1000;
        if (asked > kMaxRetryAfterMs) {
          return fail(ErrorCode::kUnavailable,
                      where(last, attempts) + "; it asks to retry after " +
                          std::to_string(last.retry_after_s) +
                          " s — a quota or rate limit is exhausted: try again later or check "
                          "the account's limits");
        }
        wait_ms = std::max(wait_ms, asked);
      }
      clock_.sleep_for(std::chrono::milliseconds(wait_ms));
    }
    return fail(final_error(last, attempts));
  }

 private:
  int64_t backoff_ms(int retry) const {
    int64_t wait = config_.initial_backoff_ms;
    for (int i = 0; i < retry && wait < config_.max_backoff_ms; ++i) wait *= 2;
    return std::min<int64_t>(wait, config_.max_backoff_ms);
  }

  Attempt perform(const std::string& body, const std::string& authorization) const {
    Attempt attempt;
    init_curl_once();
    std::unique_ptr<CURL, CurlDeleter> curl(curl_easy_init());
    if (!curl) {
      attempt.code = CURLE_FAILED_INIT;
      attempt.curl_error = "cannot create a curl handle";
      return attempt;
    }
    std::unique_ptr<curl_slist, SlistDeleter> headers;
    std::vector<std::string> lines = {"Content-Type: application/json", "Accept: application/json",
                                      // Without this curl waits for "100 Continue" on large bodies.
                                      "Expect:"};
    if (!authorization.empty()) lines.push_back(authorization);
    for (const std::string& line : lines) {
      curl_slist* head = curl_slist_append(headers.get(), line.c_str());
      if (head == nullptr) {
        attempt.code = CURLE_OUT_OF_MEMORY;
        attempt.curl_error = "out of memory";
        return attempt;
      }
      (void)headers.release();
      headers.reset(head);
    }
    char error_buffer[CURL_ERROR_SIZE] = {};
    CURL* h = curl.get();
    const long timeout_ms = config_.timeout_ms;
    curl_easy_setopt(h, CURLOPT_URL, url_.c_str());
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers.get());
    curl_easy_setopt(h, CURLOPT_USERAGENT, "ergon/" ERGON_VERSION);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &attempt.body);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, collect_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &attempt.retry_after_s);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, error_buffer);
    attempt.code = curl_easy_perform(h);
    if (attempt.code != CURLE_OK) {
      attempt.curl_error =
          error_buffer[0] != '\0' ? error_buffer : curl_easy_strerror(attempt.code);
      return attempt;
    }
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &attempt.status);
    return attempt;
  }

  Result<ChatResponse> answer(const Attempt& attempt, int attempts, int64_t start) const {
    Json json = Json::parse(attempt.body, nullptr, false);
    if (json.is_discarded()) {
      return fail(ErrorCode::kInvalidInput,
                  "the model server at " + url_ + " answered " + std::to_string(attempt.status) +
                      " with something that is not JSON: " + server_message(attempt.body) +
                      " — check that model.base_url is the server's OpenAI-compatible endpoint "
                      "(it usually ends in /v1)");
    }
    auto response = parse_chat_response(json);
    if (!response) {
      return fail(response.error().with_context("the model server at " + url_ + " answered " +
                                                std::to_string(attempt.status) + ": "));
    }
    ModelUsage& usage = response->usage;
    usage.calls = 1;
    usage.attempts = attempts;
    usage.latency_ms = clock_.now_ms() - start;
    usage.cost =
        static_cast<double>(usage.prompt_tokens) / 1000.0 * config_.prices.prompt_per_1k +
        static_cast<double>(usage.completion_tokens) / 1000.0 * config_.prices.completion_per_1k;
    return response;
  }

  // "the model server at URL answered 503 (message) after 4 attempts"
  std::string where(const Attempt& attempt, int attempts) const {
    std::string text = "the model server at " + url_;
    if (attempt.code != CURLE_OK) {
      text += attempt.code == CURLE_OPERATION_TIMEDOUT
                  ? " did not answer within " + std::to_string(config_.timeout_ms) + " ms"
                  : " could not be reached (" + attempt.curl_error + ")";
    } else {
      text +=
          " answered " + std::to_string(attempt.status) + " (" + server_message(attempt.body) + ")";
    }
    if (attempts > 1) text += " after " + std::to_string(attempts) + " attempts";
    return text;
  }

  Error final_error(const Attempt& attempt, int attempts) const {
    std::string what = where(attempt, attempts);
    if (attempt.code != CURLE_OK) {
      switch (attempt.code) {
        case CURLE_OPERATION_TIMEDOUT:
          return {ErrorCode::kTimeout,
                  what +
                      " — the model is slow or stuck: raise model.timeout_ms in ergon.yaml, "
                      "use a smaller model, or check the server's load"};
        case CURLE_URL_MALFORMAT:
        case CURLE_UNSUPPORTED_PROTOCOL:
          return {ErrorCode::kInvalidInput, what + " — fix model.base_url in ergon.yaml"};
        case CURLE_PEER_FAILED_VERIFICATION:
        case CURLE_SSL_CONNECT_ERROR:
        case CURLE_SSL_CERTPROBLEM:
          return {ErrorCode::kFailedPrecondition,
                  what + " — TLS failed: check model.base_url and the server's certificate"};
        case CURLE_WRITE_ERROR:
          return {ErrorCode::kInvalidInput, what + " — the answer is larger than " +
                                                std::to_string(kMaxAnswerBytes >> 20) +
                                                " MiB: check model.base_url and model.max_tokens"};
        default:
          return {ErrorCode::kUnavailable, what + " — is the model server running at " +
                                               config_.base_url +
                                               "? Start it or fix model.base_url in ergon.yaml"};
      }
    }
    const long status = attempt.status;
    if (status == 401 || status == 403) {
      std::string key =
          config_.api_key_env.empty()
              ? " — the server wants an API key: set model.api_key_env in ergon.yaml to the "
                "environment variable that holds it"
              : " — check the API key in " + config_.api_key_env +
                    " (model.api_key_env) and that it may use model '" + config_.model + "'";
      return {ErrorCode::kDenied, what + key};
    }
    if (status == 404) {
      return {ErrorCode::kInvalidInput,
              what +
                  " — check model.base_url (the OpenAI-compatible endpoint, usually ending "
                  "in /v1) and model.model ('" +
                  config_.model + "': GET " + config_.base_url + "/models lists what it serves)"};
    }
    if (status == 429) {
      return {ErrorCode::kUnavailable,
              what +
                  " — rate limited: try again later, or raise model.max_retries / "
                  "model.max_backoff_ms"};
    }
    if (status >= 500) {
      return {ErrorCode::kUnavailable,
              what + " — the model server failed: check its log; ergon retried " +
                  std::to_string(attempts - 1) + " times (model.max_retries)"};
    }
    if (status >= 400) {
      return {ErrorCode::kInvalidInput,
              what + " — the server rejected the request: check model.model ('" + config_.model +
                  "'), model.max_tokens and that the server supports JSON-schema output and "
                  "tools"};
    }
    return {ErrorCode::kUnavailable,
            what + " — not a chat-completions answer: check model.base_url in ergon.yaml"};
  }

  // Constant after construction.
  const ModelConfig config_;
  const std::string url_;
  Clock& clock_;
  const Vault& vault_;
};

}  // namespace

Result<std::unique_ptr<ModelClient>> make_openai_client(const ModelConfig& config, Clock& clock,
                                                        const Vault& vault) {
  if (config.kind != "openai") {
    return fail(ErrorCode::kInvalidInput,
                "model kind '" + config.kind + "' is not supported — use openai");
  }
  if (!config.base_url.starts_with("http://") && !config.base_url.starts_with("https://")) {
    return fail(ErrorCode::kInvalidInput, "model.base_url '" + config.base_url +
                                              "' is not an http:// or https:// URL — set it "
                                              "in ergon.yaml, e.g. http://127.0.0.1:8080/v1");
  }
  if (config.model.empty()) {
    return fail(ErrorCode::kInvalidInput,
                "model.model is empty — set it to the model name the server serves");
  }
  if (config.timeout_ms <= 0 || config.max_retries < 0 || config.initial_backoff_ms < 0 ||
      config.max_backoff_ms < 0) {
    return fail(ErrorCode::kInvalidInput,
                "model.timeout_ms must be positive and max_retries, initial_backoff_ms, "
                "max_backoff_ms not negative");
  }
  ModelConfig copy = config;
  while (copy.base_url.ends_with('/')) copy.base_url.pop_back();
  return std::unique_ptr<ModelClient>(
      std::make_unique<OpenAiClient>(std::move(copy), clock, vault));
}

}  // namespace ergon
