#include "support/model_standin.h"

#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <fstream>
#include <mutex>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace ergon::testing {
namespace {

constexpr const char* kServedModel = "ergon-standin";

// ceil(chars / 4): the usual rule of thumb for English text.
int estimate_tokens(size_t chars) {
  return static_cast<int>((chars + 3) / 4);
}

size_t message_chars(const Json& body) {
  size_t chars = 0;
  if (!body.is_object() || !body.contains("messages") || !body["messages"].is_array()) return 0;
  for (const Json& message : body["messages"]) {
    if (!message.is_object()) continue;
    auto content = message.find("content");
    if (content != message.end()) {
      chars += content->is_string() ? content->get_ref<const std::string&>().size()
                                    : (content->is_null() ? 0 : content->dump().size());
    }
    if (auto calls = message.find("tool_calls"); calls != message.end()) {
      chars += calls->dump().size();
    }
  }
  return chars;
}

// The content of the last message whose role is "user" ("" when none).
std::string last_user_content(const Json& body) {
  if (!body.is_object() || !body.contains("messages") || !body["messages"].is_array()) return "";
  const Json& messages = body["messages"];
  for (auto it = messages.rbegin(); it != messages.rend(); ++it) {
    if (!it->is_object() || it->value("role", Json()) != "user") continue;
    auto content = it->find("content");
    if (content == it->end() || content->is_null()) return "";
    return content->is_string() ? content->get<std::string>() : content->dump();
  }
  return "";
}

const char* error_type(int status) {
  switch (status) {
    case 400: return "invalid_request_error";
    case 401: return "authentication_error";
    case 403: return "permission_error";
    case 404: return "not_found_error";
    case 429: return "rate_limit_error";
    default: return status >= 500 ? "server_error" : "invalid_request_error";
  }
}

void collect_strings(const Json& value, std::vector<std::string>& out) {
  if (value.is_string()) {
    out.push_back(value.get<std::string>());
  } else if (value.is_object()) {
    for (const auto& [key, element] : value.items()) {
      out.push_back(key);
      collect_strings(element, out);
    }
  } else if (value.is_array()) {
    for (const Json& element : value) collect_strings(element, out);
  }
}

// The texts a model would read in `user`: the message itself and, for each of
// its lines that is a JSON string (an observation is quoted as one), that
// string unescaped.
std::vector<std::string> readable_texts(const std::string& user) {
  std::vector<std::string> texts = {user};
  std::istringstream lines(user);
  for (std::string line; std::getline(lines, line);) {
    if (line.size() < 2 || line.front() != '"') continue;
    Json quoted = Json::parse(line, nullptr, false);
    if (!quoted.is_discarded() && quoted.is_string()) texts.push_back(quoted.get<std::string>());
  }
  return texts;
}

// The index N of the first line "[N] <role> 'LABEL'..." in `texts` (of that
// role when `role` is not empty); -1 when none.
int element_index(const std::vector<std::string>& texts, const std::string& role,
                  const std::string& label) {
  std::string quoted = "'";
  for (char c : label) {
    if (c == '\'' || c == '\\') quoted += '\\';  // as the observation escapes them
    quoted += c;
  }
  quoted += '\'';
  for (const std::string& text : texts) {
    std::istringstream lines(text);
    for (std::string line; std::getline(lines, line);) {
      if (line.size() < 4 || line[0] != '[') continue;
      size_t close = line.find("] ");
      if (close == std::string::npos || close == 1) continue;
      std::string digits = line.substr(1, close - 1);
      if (!std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; }))
        continue;
      size_t role_end = line.find(' ', close + 2);
      if (role_end == std::string::npos) continue;
      if (!role.empty() && line.compare(close + 2, role_end - close - 2, role) != 0) continue;
      if (line.compare(role_end + 1, quoted.size(), quoted) == 0) return std::stoi(digits);
    }
  }
  return -1;
}

// Replaces each "{{element:LABEL}}" (any role) or "{{element@ROLE:LABEL}}" in
// `content` by the index of the element labelled LABEL in the observation of
// `user`; the first unresolved reference is named in `unresolved`.
std::string resolve_element_refs(const std::string& content, const std::string& user,
                                 std::string& unresolved) {
  static const std::string kOpen = "{{element";
  if (content.find(kOpen) == std::string::npos) return content;
  const std::vector<std::string> texts = readable_texts(user);
  std::string out;
  size_t at = 0;
  for (size_t open = content.find(kOpen); open != std::string::npos;
       open = content.find(kOpen, at)) {
    size_t close = content.find("}}", open + kOpen.size());
    if (close == std::string::npos) break;
    std::string inner = content.substr(open + kOpen.size(), close - open - kOpen.size());
    std::string role;
    if (inner.starts_with("@") && inner.find(':') != std::string::npos) {
      role = inner.substr(1, inner.find(':') - 1);
      inner = inner.substr(inner.find(':'));
    }
    if (!inner.starts_with(":")) {  // not a reference: kept as written
      out += content.substr(at, close + 2 - at);
      at = close + 2;
      continue;
    }
    int index = element_index(texts, role, inner.substr(1));
    if (index < 0) {
      unresolved = content.substr(open, close + 2 - open);
      return content;
    }
    out += content.substr(at, open - at) + std::to_string(index);
    at = close + 2;
  }
  return out + content.substr(at);
}

}  // namespace

struct ModelStandIn::Impl {
  std::vector<std::string> secrets;  // constant after construction
  httplib::Server server;
  std::thread thread;
  int port = 0;
  std::atomic<bool> listen_ended = false;

  mutable std::mutex mu;
  std::condition_variable stopping_cv;
  bool stopping = false;           // guarded by mu
  std::deque<ModelReply> replies;  // guarded by mu
  std::vector<Json> bodies;        // guarded by mu
  std::vector<std::string> raw;    // guarded by mu
  std::vector<std::string> auths;  // guarded by mu
  int64_t next_id = 1;             // guarded by mu

  void answer(const httplib::Request& request, httplib::Response& response) {
    Json body = Json::parse(request.body, nullptr, false);
    if (body.is_discarded()) body = Json(request.body);
    const std::string user = last_user_content(body);

    std::optional<ModelReply> reply;
    int64_t id = 0;
    {
      std::lock_guard lock(mu);
      bodies.push_back(body);
      raw.push_back(request.body);
      auths.push_back(request.get_header_value("Authorization"));
      for (auto it = replies.begin(); it != replies.end(); ++it) {
        if (!it->when.empty() && user.find(it->when) == std::string::npos) continue;
        reply = std::move(*it);
        replies.erase(it);
        break;
      }
      id = next_id++;
    }
    if (!reply) {
      response.status = 500;
      Json error = {
          {"error", {{"message", "stand-in: no recorded answer"}, {"type", "server_error"}}}};
      response.set_content(error.dump(), "application/json");
      return;
    }
    if (reply->delay_ms > 0) {
      std::unique_lock lock(mu);
      stopping_cv.wait_for(lock, std::chrono::milliseconds(reply->delay_ms),
                           [&] { return stopping; });
    }
    response.status = reply->status;
    if (reply->retry_after_s >= 0) {
      response.set_header("Retry-After", std::to_string(reply->retry_after_s));
    }
    if (!reply->raw_body.empty()) {
      response.set_content(reply->raw_body, "application/json");
      return;
    }
    if (reply->status != 200) {
      std::string message = reply->content.empty()
                                ? "stand-in: status " + std::to_string(reply->status)
                                : reply->content;
      Json error = {{"error", {{"message", message}, {"type", error_type(reply->status)}}}};
      response.set_content(error.dump(), "application/json");
      return;
    }
    std::string unresolved;
    reply->content = resolve_element_refs(reply->content, user, unresolved);
    if (!unresolved.empty()) {
      response.status = 500;
      Json error = {{"error",
                     {{"message", "stand-in: element reference " + unresolved +
                                      " matches no element of the request's observation"},
                      {"type", "server_error"}}}};
      response.set_content(error.dump(), "application/json");
      return;
    }
    Json message = {{"role", "assistant"}};
    const bool has_calls = !reply->tool_calls.is_null();
    message["content"] =
        (has_calls && reply->content.empty()) ? Json(nullptr) : Json(reply->content);
    if (has_calls) message["tool_calls"] = reply->tool_calls;
    int prompt =
        reply->prompt_tokens >= 0 ? reply->prompt_tokens : estimate_tokens(message_chars(body));
    int completion = reply->completion_tokens >= 0
                         ? reply->completion_tokens
                         : estimate_tokens(reply->content.size() +
                                           (has_calls ? reply->tool_calls.dump().size() : 0));
    std::string model = kServedModel;
    if (body.is_object() && body.contains("model") && body["model"].is_string()) {
      model = body["model"].get<std::string>();
    }
    Json completion_body = {
        {"id", "chatcmpl-standin-" + std::to_string(id)},
        {"object", "chat.completion"},
        {"created", 1700000000 + id},
        {"model", model},
        {"choices",
         Json::array(
             {{{"index", 0}, {"message", message}, {"finish_reason", reply->finish_reason}}})},
        {"usage",
         {{"prompt_tokens", prompt},
          {"completion_tokens", completion},
          {"total_tokens", prompt + completion}}}};
    response.set_content(completion_body.dump(), "application/json");
  }
};

ModelStandIn::ModelStandIn(std::vector<std::string> secrets) : impl_(std::make_unique<Impl>()) {
  impl_->secrets = std::move(secrets);
  Impl* impl = impl_.get();
  impl->server.Post("/v1/chat/completions",
                    [impl](const httplib::Request& request, httplib::Response& response) {
                      impl->answer(request, response);
                    });
  impl->server.Get("/v1/models", [](const httplib::Request&, httplib::Response& response) {
    Json list = {{"object", "list"},
                 {"data", Json::array({{{"id", kServedModel},
                                        {"object", "model"},
                                        {"created", 1700000000},
                                        {"owned_by", "ergon"}}})}};
    response.set_content(list.dump(), "application/json");
  });
  impl->port = impl->server.bind_to_any_port("127.0.0.1");
  if (impl->port <= 0) throw std::runtime_error("model stand-in: cannot bind 127.0.0.1");
  impl->thread = std::thread([impl] {
    impl->server.listen_after_bind();
    impl->listen_ended = true;
  });
  // stop() only takes effect once listen() runs: wait for it (microseconds).
  while (!impl->server.is_running() && !impl->listen_ended) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

ModelStandIn::~ModelStandIn() {
  {
    std::lock_guard lock(impl_->mu);
    impl_->stopping = true;
  }
  impl_->stopping_cv.notify_all();
  impl_->server.stop();
  impl_->thread.join();
}

void ModelStandIn::add(ModelReply reply) {
  std::lock_guard lock(impl_->mu);
  impl_->replies.push_back(std::move(reply));
}

void ModelStandIn::add_fixture(const std::string& path) {
  for (ModelReply& reply : load_model_fixture(path)) add(std::move(reply));
}

std::string ModelStandIn::base_url() const {
  return "http://127.0.0.1:" + std::to_string(impl_->port) + "/v1";
}

int ModelStandIn::port() const {
  return impl_->port;
}

std::vector<Json> ModelStandIn::requests() const {
  std::lock_guard lock(impl_->mu);
  return impl_->bodies;
}

std::vector<std::string> ModelStandIn::authorizations() const {
  std::lock_guard lock(impl_->mu);
  return impl_->auths;
}

size_t ModelStandIn::remaining() const {
  std::lock_guard lock(impl_->mu);
  return impl_->replies.size();
}

std::vector<std::string> ModelStandIn::leaks() const {
  std::lock_guard lock(impl_->mu);
  std::vector<std::string> out;
  for (size_t i = 0; i < impl_->raw.size(); ++i) {
    std::vector<std::string> texts = {impl_->raw[i]};
    Json parsed = Json::parse(impl_->raw[i], nullptr, false);
    if (!parsed.is_discarded()) collect_strings(parsed, texts);
    for (size_t k = 0; k < impl_->secrets.size(); ++k) {
      const std::string& secret = impl_->secrets[k];
      if (secret.empty()) continue;
      for (const std::string& text : texts) {
        if (text.find(secret) != std::string::npos) {
          out.push_back("request " + std::to_string(i + 1) + " contains secret #" +
                        std::to_string(k + 1));
          break;
        }
      }
    }
  }
  return out;
}

std::vector<ModelReply> load_model_fixture(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("model fixture " + path + ": cannot read the file");
  std::stringstream text;
  text << in.rdbuf();
  Json json = Json::parse(text.str(), nullptr, false);
  if (json.is_discarded() || !json.is_array()) {
    throw std::runtime_error("model fixture " + path + ": expected a JSON array of answers");
  }
  static const std::vector<std::string> kFields = {
      "content",           "content_json", "tool_calls", "finish_reason", "prompt_tokens",
      "completion_tokens", "status",       "raw_body",   "retry_after_s", "when",
      "delay_ms"};
  std::vector<ModelReply> replies;
  for (size_t i = 0; i < json.size(); ++i) {
    const Json& entry = json[i];
    const std::string where = "model fixture " + path + ": entry " + std::to_string(i);
    if (!entry.is_object()) throw std::runtime_error(where + ": expected an object");
    for (const auto& [key, value] : entry.items()) {
      if (std::find(kFields.begin(), kFields.end(), key) == kFields.end()) {
        std::string all;
        for (const std::string& name : kFields) all += (all.empty() ? "" : ", ") + name;
        throw std::runtime_error(where + ": unknown field '" + key + "' — use " + all);
      }
    }
    ModelReply reply;
    try {
      if (entry.contains("content") && entry.contains("content_json")) {
        throw std::runtime_error("give content or content_json, not both");
      }
      if (entry.contains("content")) reply.content = entry["content"].get<std::string>();
      if (entry.contains("content_json")) reply.content = entry["content_json"].dump();
      if (entry.contains("tool_calls")) reply.tool_calls = entry["tool_calls"];
      reply.finish_reason = entry.value("finish_reason", reply.finish_reason);
      reply.prompt_tokens = entry.value("prompt_tokens", reply.prompt_tokens);
      reply.completion_tokens = entry.value("completion_tokens", reply.completion_tokens);
      reply.status = entry.value("status", reply.status);
      reply.raw_body = entry.value("raw_body", reply.raw_body);
      reply.retry_after_s = entry.value("retry_after_s", reply.retry_after_s);
      reply.when = entry.value("when", reply.when);
      reply.delay_ms = entry.value("delay_ms", reply.delay_ms);
    } catch (const std::exception& e) {
      throw std::runtime_error(where + ": " + e.what());
    }
    replies.push_back(std::move(reply));
  }
  return replies;
}

}  // namespace ergon::testing
