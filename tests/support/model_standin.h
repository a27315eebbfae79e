// A stand-in for a language model: a local HTTP server (port 0) speaking the
// OpenAI chat-completions protocol (POST /v1/chat/completions) and answering
// from recorded fixtures, in order. It records every request body so tests can
// check what ergon sent — and that no secret ever reached the model.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "ergon/json.h"

namespace ergon::testing {

// One recorded answer.
struct ModelReply {
  // The assistant message's content (a JSON text for structured answers; any
  // text, even invalid JSON, is sent as given). Each "{{element:LABEL}}" in it
  // becomes the index N of the first line "[N] <role> 'LABEL'..." of the
  // observation in the request's last user message ("{{element@ROLE:LABEL}}":
  // of that role), as recorded answers cannot know element indices; an
  // unresolved reference answers 500 naming it.
  std::string content;
  Json tool_calls = nullptr;  // OpenAI tool_calls array, when the answer calls tools
  std::string finish_reason = "stop";
  // Reported usage; when negative, counted as ceil(chars / 4) of the request's
  // messages (prompt) and of the content (completion).
  int prompt_tokens = -1;
  int completion_tokens = -1;
  int status = 200;        // other than 200: the body is {"error": {"message": ...}}
  std::string raw_body;    // when set, sent verbatim instead of a chat completion
  int retry_after_s = -1;  // sets Retry-After on a 429/503
  // Only answers a request whose last user message contains this text; a reply
  // whose `when` does not match is skipped for that request, and kept.
  std::string when;
  // Waits this long before answering (to provoke client timeouts); the wait
  // ends early when the stand-in is destroyed.
  int delay_ms = 0;
};

// Fixture file: a JSON array of objects with the fields above
// ({"content": ..., "status": 503, "when": "...", "content_json": {...}}),
// where "content_json" is sent as its JSON text. Errors name the file and
// the entry.
std::vector<ModelReply> load_model_fixture(const std::string& path);

class ModelStandIn {
 public:
  // `secrets`: values that must never appear in a request; each request is
  // checked and the leaks counted.
  explicit ModelStandIn(std::vector<std::string> secrets = {});
  ~ModelStandIn();
  ModelStandIn(const ModelStandIn&) = delete;
  ModelStandIn& operator=(const ModelStandIn&) = delete;

  // Queues answers; each request takes the first queued answer whose `when`
  // matches. With none left, it answers 500 "stand-in: no recorded answer".
  void add(ModelReply reply);
  void add_fixture(const std::string& path);

  std::string base_url() const;  // "http://127.0.0.1:<port>/v1"
  int port() const;

  std::vector<Json> requests() const;  // bodies received, in order (thread-safe)
  // The Authorization header of each request, in order ("" when absent).
  std::vector<std::string> authorizations() const;
  size_t remaining() const;  // answers not used yet
  // Requests in which a secret appeared (raw body text checked, and again
  // after JSON unescaping), as "request N contains secret #k".
  std::vector<std::string> leaks() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ergon::testing
