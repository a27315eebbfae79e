// care-portal: the HTTP face of the CarePoint provider portal.
//
// Serves the portal's pages in one of two layouts (v1, and the v2 redesign of
// the same pages), its static assets, two test pages (/_test/big,
// /_test/dialogs) and /_control (test control: faults, a state dump, the
// request log, reset). One mutex guards the model, the sessions, the faults
// and the logs; httplib serves requests on a thread pool.
#pragma once

#include <httplib.h>

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "portal.h"
#include "site.h"

namespace care {

class Server {
 public:
  // `layout` is "v1" or "v2"; `password` is dr.lee's.
  Server(Site site, std::string layout, std::uint64_t seed, std::string password);

  // Registers the handlers on `http`.
  void install(httplib::Server& http);

 private:
  struct Answer {
    int status = 200;
    std::string body;
    std::string content_type = "text/html; charset=utf-8";
    std::vector<std::pair<std::string, std::string>> headers;
    std::string page;  // the template shown, "" for anything else
  };
  // A request, parsed once.
  struct Visit {
    const httplib::Request& req;
    std::map<std::string, std::string> query;
    std::map<std::string, std::string> form;  // url-encoded body fields
    std::map<std::string, std::string> cookies;
    std::string user;            // the signed-in user, "" when none
    bool stale_session = false;  // a session cookie that is no longer valid
    bool post() const { return req.method == "POST"; }
    std::string field(const std::string& name) const;  // form, then query; "" when absent
  };

  void handle(const httplib::Request& req, httplib::Response& res);
  Answer route(Visit& v);
  Answer route_control(const Visit& v);

  Answer login(const Visit& v);
  Answer logout(const Visit& v);
  Answer consent(const Visit& v);
  Answer dashboard(const Visit& v);
  Answer preauth_new(const Visit& v);
  Answer preauth_view(const Visit& v, const std::string& id);
  Answer facilities(const Visit& v);
  Answer schedule(const Visit& v);
  Answer appointments(const Visit& v);
  Answer appointment_view(const Visit& v, const std::string& id);
  Answer appointment_cancel(const Visit& v, const std::string& id);
  Answer big_page(const Visit& v);
  Answer asset(const Visit& v);

  // A page of the current layout inside its shell (header, navigation,
  // consent banner).
  Answer page(const Visit& v, const std::string& name, const std::string& title, json context,
              int status = 200);
  Answer not_found(const Visit& v, const std::string& message, int status = 404);
  static Answer redirect(const std::string& location, int status = 303);
  static Answer json_answer(int status, const json& body);

  std::string consent_cookie() const;
  std::string vendor() const;
  void reset_locked(std::uint64_t seed);

  std::mutex mu_;
  const Site site_;
  const std::uint64_t start_seed_;  // what a reset without a seed goes back to
  const std::string start_layout_;
  const std::string password_;
  // Guarded by mu_:
  std::string layout_;
  std::uint64_t seed_;
  Portal portal_;
  std::map<std::string, std::string> sessions_;  // token -> user
  int logins_ = 0;
  int failed_logins_ = 0;
  int expirations_ = 0;
  json consent_;  // {status, analytics, marketing, vendor}
  bool captcha_ = false;
  int captcha_shown_ = 0;
  int captcha_solved_ = 0;
  bool overlay_ = false;
  bool inject_ = false;
  std::map<std::string, int> pages_;  // template name -> times shown
  std::vector<json> calls_;
  int next_call_ = 1;
};

}  // namespace care
