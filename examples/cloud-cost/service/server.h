// acme-cloud: the HTTP face of the sample cloud provider.
//
// Routes /v1 (the provider's API, optionally behind a bearer token) and
// /_control (test control: fault injection, the log of mutating calls, a state
// dump, reset). One mutex guards the model, the faults and the call log;
// httplib serves requests on a thread pool.
#pragma once

#include <httplib.h>

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "cloud.h"

namespace acme {

// A queued fault: the next `remaining` matching /v1 requests get `status` and
// `body` instead of normal handling, after sleeping `delay_ms`. Status 0 means
// "delay only": the request is then handled normally.
struct Fault {
  int id = 0;
  std::string method;       // "" or "*" = any
  std::string path_prefix;  // "/v1" = any /v1 request
  int status = 503;
  int remaining = 1;
  int delay_ms = 0;
  std::string body;  // sent as is; JSON content type when it parses as JSON
  std::map<std::string, std::string> headers;
};

// One non-GET /v1 request, as received.
struct Call {
  int seq = 0;
  std::string method;
  std::string path;
  json query;            // object of query parameters
  json body;             // parsed JSON, the raw text when it is not JSON, null when empty
  json idempotency_key;  // string or null
  json status;           // the status returned; null while the request is in flight
};

class Server {
 public:
  Server(std::uint64_t seed, std::string token);

  // Registers the handlers on `http`.
  void install(httplib::Server& http);
  // Wakes requests sleeping in an injected delay so that shutdown is prompt.
  void shutdown();

 private:
  struct Answer {
    int status = 200;
    std::string body;
    std::string content_type = "application/json";
    std::map<std::string, std::string> headers;
  };

  void handle(const httplib::Request& req, httplib::Response& res);
  Answer handle_v1(const httplib::Request& req);
  Answer route_v1(const httplib::Request& req);
  Answer route_control(const httplib::Request& req);
  bool authorized(const httplib::Request& req) const;
  static Answer json_answer(const Reply& reply);

  std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;
  const std::uint64_t start_seed_;  // what a reset without a seed goes back to
  std::uint64_t seed_;
  std::string token_;
  Cloud cloud_;
  std::deque<Fault> faults_;
  std::vector<Call> calls_;
  int next_call_ = 1;
  int next_fault_ = 1;
  std::uint64_t generation_ = 0;  // bumped by reset, so in-flight calls do not touch a new log
};

}  // namespace acme
