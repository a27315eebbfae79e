// Test support: the care-portal example's web portal (CarePoint) as a child
// process, and small helpers for its /_control endpoints.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "ergon/json.h"
#include "support/process.h"

namespace ergon::testing {

// One HTTP exchange, as received.
struct HttpReply {
  int status = 0;  // 0 when the request could not be made
  std::string body;
  std::multimap<std::string, std::string> headers;  // names lower-cased
  std::string error;                                // why status is 0

  // The first value of a header, "" when absent; `name` in lower case.
  std::string header(const std::string& name) const;
  // The body parsed as JSON; discarded (is_discarded()) when it is not JSON.
  Json json() const;
};

// A minimal HTTP/1.1 client (one connection per request, Connection: close)
// for 127.0.0.1, with no dependency beyond the C library. `headers` are added
// as given ("Cookie", "Content-Type"...).
HttpReply http_request(int port, const std::string& method, const std::string& target,
                       const std::string& body = "",
                       const std::map<std::string, std::string>& headers = {});

// A fresh random password for dr.lee ("cp-" and hex digits), so finding it in
// a file cannot be a coincidence.
std::string random_password();

// The date `days` from today (UTC) as YYYY-MM-DD: the portal refuses dates in
// the past.
std::string days_from_today(int days);

// Starts care_portal on port 0 with `extra_args` (e.g. {"--layout", "v2"})
// and returns once it listens. Killed by the destructor. Not thread-safe.
class CarePortal {
 public:
  explicit CarePortal(const std::vector<std::string>& extra_args = {},
                      const std::map<std::string, std::string>& env = {});

  const std::string& url() const { return url_; }
  int port() const { return port_; }

  HttpReply get(const std::string& target) const;
  // POSTs `body` as JSON (empty body: no Content-Type).
  HttpReply post(const std::string& target, const std::string& body = "") const;

  // The control endpoints. Each throws std::runtime_error when the portal
  // answers anything but 200, so a broken fixture fails loudly.
  Json state() const;                                   // GET /_control/state
  Json calls() const;                                   // GET /_control/calls -> the "calls" array
  void reset(const Json& body = Json::object()) const;  // {seed?, layout?}
  void set_layout(const std::string& layout) const;     // "v1" | "v2", keeps the data
  void captcha(bool on) const;
  void solve_captcha() const;
  void overlay(bool on) const;
  void inject(bool on) const;
  void expire_sessions() const;

  // Sends `signal` and waits for the exit (for tests of clean shutdown).
  RunResult stop(int signal);

 private:
  Json control(const std::string& method, const std::string& target) const;

  Child child_;
  std::string url_;
  int port_ = 0;
};

}  // namespace ergon::testing
