// care-portal: the HTTP face of the CarePoint provider portal.
#include "server.h"

#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <exception>
#include <optional>
#include <random>
#include <string_view>

namespace care {
namespace {

constexpr const char* kSessionCookie = "cp_session";
constexpr const char* kUser = "dr.lee";
constexpr const char* kUserDisplay = "Dr. Alex Lee";
constexpr int kMaxBigPage = 100000;

std::vector<std::string> split_path(const std::string& path) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while (i < path.size()) {
    std::size_t j = path.find('/', i);
    if (j == std::string::npos) j = path.size();
    if (j > i) out.push_back(path.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string url_decode(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%' && i + 2 < s.size() && hex_digit(s[i + 1]) >= 0 &&
               hex_digit(s[i + 2]) >= 0) {
      out += static_cast<char>(hex_digit(s[i + 1]) * 16 + hex_digit(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

std::string url_encode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || c == '/') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

// "a=1&b=two" -> {a: 1, b: two}; a repeated key keeps its last value.
std::map<std::string, std::string> parse_pairs(std::string_view text) {
  std::map<std::string, std::string> out;
  while (!text.empty()) {
    std::size_t amp = text.find('&');
    std::string_view pair = text.substr(0, amp);
    text = amp == std::string_view::npos ? std::string_view() : text.substr(amp + 1);
    if (pair.empty()) continue;
    std::size_t eq = pair.find('=');
    out[url_decode(pair.substr(0, eq))] =
        eq == std::string_view::npos ? std::string() : url_decode(pair.substr(eq + 1));
  }
  return out;
}

std::map<std::string, std::string> parse_cookies(const std::string& header) {
  std::map<std::string, std::string> out;
  std::size_t i = 0;
  while (i < header.size()) {
    std::size_t end = header.find(';', i);
    if (end == std::string::npos) end = header.size();
    std::string_view item = std::string_view(header).substr(i, end - i);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    std::size_t eq = item.find('=');
    if (eq != std::string_view::npos)
      out[std::string(item.substr(0, eq))] = std::string(item.substr(eq + 1));
    i = end + 1;
  }
  return out;
}

std::string today_plus(int days) {
  using namespace std::chrono;
  const year_month_day d{floor<std::chrono::days>(system_clock::now()) + std::chrono::days{days}};
  char text[16];
  std::snprintf(text, sizeof text, "%04d-%02u-%02u", static_cast<int>(d.year()),
                static_cast<unsigned>(d.month()), static_cast<unsigned>(d.day()));
  return text;
}

std::string new_token() {
  static std::mt19937_64 rng{std::random_device{}()};
  char text[40];
  std::snprintf(text, sizeof text, "%016llx%016llx", static_cast<unsigned long long>(rng()),
                static_cast<unsigned long long>(rng()));
  return text;
}

// A redirect target from a form: a path on this site, else the dashboard.
std::string local_path(const std::string& target) {
  if (target.empty() || target[0] != '/' || target.starts_with("//") ||
      target.find('\\') != std::string::npos || target.find("://") != std::string::npos)
    return "/dashboard";
  return target;
}

std::optional<bool> switch_value(const std::map<std::string, std::string>& query) {
  auto it = query.find("on");
  if (it == query.end()) return std::nullopt;
  const std::string& v = it->second;
  if (v == "1" || v == "true" || v == "yes" || v == "on") return true;
  if (v == "0" || v == "false" || v == "no" || v == "off") return false;
  return std::nullopt;
}

std::string content_type_of(const std::string& path) {
  if (path.ends_with(".css")) return "text/css; charset=utf-8";
  if (path.ends_with(".js")) return "text/javascript; charset=utf-8";
  if (path.ends_with(".svg")) return "image/svg+xml";
  return "application/octet-stream";
}

std::string distance_text(double miles) {
  char text[16];
  std::snprintf(text, sizeof text, "%.1f", miles);
  return text;
}

std::string urgency_label(const std::string& urgency) {
  return urgency == "urgent" ? "Urgent" : "Routine";
}

json facility_json(const Facility& f) {
  return json{{"id", f.id},
              {"name", f.name},
              {"address", f.address},
              {"in_network", f.in_network},
              {"network", f.in_network ? "In-network" : "Out-of-network"},
              {"scanner", f.scanner}};
}

json appointment_context(const Appointment& a) {
  json j = to_json(a);
  const Procedure* p = Portal::procedure(a.cpt);
  j["cpt_label"] = p ? p->label : "";
  if (const Facility* f = Portal::facility(a.facility_id)) j["facility_detail"] = facility_json(*f);
  j["confirmed"] = a.status == "Confirmed";
  return j;
}

}  // namespace

std::string Server::Visit::field(const std::string& name) const {
  if (auto it = form.find(name); it != form.end()) return it->second;
  if (auto it = query.find(name); it != query.end()) return it->second;
  return "";
}

Server::Server(Site site, std::string layout, std::uint64_t seed, std::string password)
    : site_(std::move(site)),
      start_seed_(seed),
      start_layout_(layout),
      password_(std::move(password)),
      layout_(std::move(layout)),
      seed_(seed),
      portal_(seed) {
  reset_locked(seed);
}

void Server::reset_locked(std::uint64_t seed) {
  seed_ = seed;
  portal_ = Portal(seed);
  sessions_.clear();
  logins_ = failed_logins_ = expirations_ = 0;
  consent_ = json{{"status", "unanswered"},
                  {"analytics", false},
                  {"marketing", false},
                  {"vendor", nullptr},
                  {"answers", 0}};
  captcha_ = overlay_ = inject_ = false;
  captcha_shown_ = captcha_solved_ = 0;
  pages_.clear();
  calls_.clear();
  next_call_ = 1;
}

std::string Server::consent_cookie() const {
  return layout_ == "v2" ? "consenthub_prefs" : "cookiewall_consent";
}

std::string Server::vendor() const {
  return layout_ == "v2" ? "ConsentHub" : "CookieWall";
}

void Server::install(httplib::Server& http) {
  auto h = [this](const httplib::Request& req, httplib::Response& res) { handle(req, res); };
  http.Get(".*", h);
  http.Post(".*", h);
  http.Put(".*", h);
  http.Patch(".*", h);
  http.Delete(".*", h);
  // httplib answers 400 to a POST with neither Content-Length nor
  // Transfer-Encoding (as `curl -X POST` sends); HTTP says its body is empty.
  http.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    const bool may_have_body = req.method == "POST" || req.method == "PUT" || req.method == "PATCH";
    if (!may_have_body || req.has_header("Content-Length") || req.has_header("Transfer-Encoding"))
      return httplib::Server::HandlerResponse::Unhandled;
    handle(req, res);
    return httplib::Server::HandlerResponse::Handled;
  });
  http.set_payload_max_length(1 << 20);
  // An idle keep-alive connection holds a pool thread until it times out, and
  // shutdown waits for it: keep that short.
  http.set_keep_alive_timeout(1);
  // httplib's default is SO_REUSEPORT, which lets a second server bind a port
  // that is in use; a busy port must be an error.
  http.set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
}

void Server::handle(const httplib::Request& req, httplib::Response& res) {
  const auto started = std::chrono::steady_clock::now();
  Visit v{req, {}, {}, {}, {}, false};
  if (std::size_t qm = req.target.find('?'); qm != std::string::npos)
    v.query = parse_pairs(std::string_view(req.target).substr(qm + 1));
  if (req.get_header_value("Content-Type").starts_with("application/x-www-form-urlencoded"))
    v.form = parse_pairs(req.body);
  v.cookies = parse_cookies(req.get_header_value("Cookie"));

  Answer a;
  {
    std::lock_guard lock(mu_);
    if (auto it = v.cookies.find(kSessionCookie); it != v.cookies.end()) {
      auto session = sessions_.find(it->second);
      if (session != sessions_.end()) {
        v.user = session->second;
      } else {
        v.stale_session = !it->second.empty();
      }
    }
    try {
      a = route(v);
    } catch (const std::exception& e) {
      a = json_answer(500, json{{"error", "internal"}, {"message", e.what()}});
    }
    if (!a.page.empty()) ++pages_[a.page];
    const bool logged = !req.path.starts_with("/_control/") && !req.path.starts_with("/static/") &&
                        req.path != "/favicon.ico";
    if (logged) {
      json form = json::object();
      for (const auto& [k, val] : v.form) form[k] = k == "password" ? "[redacted]" : val;
      calls_.push_back(json{{"seq", next_call_++},
                            {"method", req.method},
                            {"path", req.path},
                            {"query", v.query},
                            {"form", std::move(form)},
                            {"status", a.status},
                            {"page", a.page.empty() ? json(nullptr) : json(a.page)},
                            {"user", v.user.empty() ? json(nullptr) : json(v.user)}});
    }
  }

  res.status = a.status;
  for (const auto& [k, val] : a.headers) res.set_header(k, val);
  res.set_content(a.body, a.content_type);
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
  const std::string& target = req.target.empty() ? req.path : req.target;
  std::fprintf(stderr, "care-portal: %s %s -> %d (%.1f ms)\n", req.method.c_str(), target.c_str(),
               a.status, ms);
}

Server::Answer Server::redirect(const std::string& location, int status) {
  Answer a;
  a.status = status;
  a.headers.emplace_back("Location", location);
  a.content_type = "text/plain; charset=utf-8";
  a.body = "See " + location + "\n";
  return a;
}

Server::Answer Server::json_answer(int status, const json& body) {
  Answer a;
  a.status = status;
  a.body = body.dump();
  a.content_type = "application/json";
  return a;
}

Server::Answer Server::page(const Visit& v, const std::string& name, const std::string& title,
                            json context, int status) {
  context["title"] = title;
  context["layout"] = layout_;
  context["logged_in"] = !v.user.empty();
  context["user_display"] = v.user.empty() ? "" : kUserDisplay;
  context["consent_needed"] = !v.cookies.contains(consent_cookie());
  context["return_to"] = v.req.target.empty() ? v.req.path : v.req.target;
  context["nav"] = json{{name, true}};
  Answer a;
  a.status = status;
  a.page = name;
  context["content"] = site_.render(layout_, name, context);
  a.body = site_.render(layout_, "layout", context);
  return a;
}

Server::Answer Server::not_found(const Visit& v, const std::string& message, int status) {
  return page(v, "not_found", status == 404 ? "Page not found" : "Not allowed",
              json{{"message", message}, {"status", status}}, status);
}

Server::Answer Server::route(Visit& v) {
  const std::string& p = v.req.path;
  const std::string& m = v.req.method;
  const bool get = m == "GET" || m == "HEAD";
  const std::vector<std::string> seg = split_path(p);
  auto wrong_method = [&] { return not_found(v, m + " is not allowed on " + p + ".", 405); };

  if (p.starts_with("/_control/")) return route_control(v);
  if (p == "/healthz") return json_answer(200, json{{"service", "care-portal"}, {"ok", true}});
  if (p.starts_with("/static/")) return get ? asset(v) : wrong_method();
  if (p == "/favicon.ico") {
    Answer a;
    a.status = 204;
    a.content_type = "image/x-icon";
    return a;
  }
  if (p == "/_test/big") return get ? big_page(v) : wrong_method();
  if (p == "/_test/dialogs") {
    if (!get) return wrong_method();
    Answer a;
    a.page = "dialogs";
    a.body = site_.render(layout_, "dialogs", json::object());
    return a;
  }
  if (p == "/consent") return v.post() ? consent(v) : wrong_method();
  if (p == "/login") return get || v.post() ? login(v) : wrong_method();
  if (p == "/logout") {
    if (v.post()) return logout(v);
    if (!get) return wrong_method();
    if (v.user.empty()) return redirect("/login", 302);
    return page(v, "logout", "Sign out", json::object());
  }
  if (p == "/") return redirect(v.user.empty() ? "/login" : "/dashboard", 302);

  const bool members_only =
      !seg.empty() && (seg[0] == "dashboard" || seg[0] == "preauth" || seg[0] == "facilities" ||
                       seg[0] == "schedule" || seg[0] == "appointments");
  if (!members_only) return not_found(v, "There is no page at " + p + ".");
  if (v.user.empty()) {
    std::string to = "/login?next=" + url_encode(v.req.target.empty() ? p : v.req.target);
    if (v.stale_session) to += "&expired=1";
    return redirect(to, v.post() ? 303 : 302);
  }

  const std::size_t n = seg.size();
  if (seg[0] == "dashboard" && n == 1) return get ? dashboard(v) : wrong_method();
  if (seg[0] == "preauth" && n == 2 && seg[1] == "new")
    return get || v.post() ? preauth_new(v) : wrong_method();
  if (seg[0] == "preauth" && n == 2) return get ? preauth_view(v, seg[1]) : wrong_method();
  if (seg[0] == "preauth" && n == 1) return redirect("/preauth/new", 302);
  if (seg[0] == "facilities" && n == 1) return get ? facilities(v) : wrong_method();
  if (seg[0] == "schedule" && n == 1) return get || v.post() ? schedule(v) : wrong_method();
  if (seg[0] == "appointments" && n == 1) return get ? appointments(v) : wrong_method();
  if (seg[0] == "appointments" && n == 2) return get ? appointment_view(v, seg[1]) : wrong_method();
  if (seg[0] == "appointments" && n == 3 && seg[2] == "cancel")
    return v.post() ? appointment_cancel(v, seg[1]) : wrong_method();
  return not_found(v, "There is no page at " + p + ".");
}

Server::Answer Server::login(const Visit& v) {
  const std::string next = local_path(v.field("next"));
  if (!v.post()) {
    if (!v.user.empty()) return redirect(next, 302);
    json ctx{{"next", v.field("next")}, {"username", ""}};
    if (v.query.contains("expired") || v.stale_session)
      ctx["notice"] = "Your session has expired. Please sign in again.";
    if (v.query.contains("signed_out")) ctx["notice"] = "You have signed out.";
    return page(v, "login", "Sign in", std::move(ctx));
  }
  const std::string username = v.field("username");
  const std::string password = v.field("password");
  if (username != kUser || password != password_ || password.empty()) {
    ++failed_logins_;
    return page(v, "login", "Sign in",
                json{{"next", v.field("next")},
                     {"username", username},
                     {"error", "The username or password is incorrect."}},
                422);
  }
  ++logins_;
  const std::string token = new_token();
  sessions_[token] = username;
  Answer a = redirect(next);
  a.headers.emplace_back(
      "Set-Cookie", std::string(kSessionCookie) + "=" + token + "; Path=/; HttpOnly; SameSite=Lax");
  return a;
}

Server::Answer Server::logout(const Visit& v) {
  if (auto it = v.cookies.find(kSessionCookie); it != v.cookies.end()) sessions_.erase(it->second);
  Answer a = redirect("/login?signed_out=1");
  a.headers.emplace_back(
      "Set-Cookie", std::string(kSessionCookie) + "=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax");
  return a;
}

// The banner's answer. Each vendor names its buttons differently; all come
// down to given (everything), rejected (necessary cookies only) or custom.
Server::Answer Server::consent(const Visit& v) {
  const std::string choice = v.field("choice");
  std::string status;
  bool analytics = false, marketing = false;
  if (choice == "accept_all" || choice == "allow_all") {
    status = "given";
    analytics = marketing = true;
  } else if (choice == "reject_all" || choice == "necessary") {
    status = "rejected";
  } else if (choice == "custom") {
    analytics = !v.field("analytics").empty();
    marketing = !v.field("marketing").empty();
    status = analytics || marketing ? "custom" : "rejected";
  } else {
    return json_answer(400, json{{"error", "invalid_choice"},
                                 {"message",
                                  "choice must be accept_all, reject_all, allow_all, "
                                  "necessary or custom"}});
  }
  consent_["status"] = status;
  consent_["analytics"] = analytics;
  consent_["marketing"] = marketing;
  consent_["vendor"] = vendor();
  consent_["answers"] = consent_["answers"].get<int>() + 1;
  const std::string cookie = consent_cookie() + "=" + status + (analytics ? ".a" : "") +
                             (marketing ? ".m" : "") + "; Path=/; Max-Age=31536000; SameSite=Lax";
  Answer a;
  if (v.req.get_header_value("Accept").find("application/json") != std::string::npos) {
    a = json_answer(200, json{{"consent", status}});
  } else {
    a = redirect(local_path(v.field("return_to")));
  }
  a.headers.emplace_back("Set-Cookie", cookie);
  return a;
}

Server::Answer Server::dashboard(const Visit& v) {
  int confirmed = 0;
  for (const Appointment& a : portal_.appointments()) confirmed += a.status == "Confirmed";
  json recent = json::array();
  for (auto it = portal_.preauths().rbegin(); it != portal_.preauths().rend() && recent.size() < 5;
       ++it) {
    json p = to_json(*it);
    const Procedure* proc = Portal::procedure(it->form.cpt);
    p["cpt_label"] = proc ? proc->label : "";
    recent.push_back(std::move(p));
  }
  return page(v, "dashboard", "Dashboard",
              json{{"preauth_count", portal_.preauths().size()},
                   {"appointment_count", confirmed},
                   {"recent", std::move(recent)}});
}

Server::Answer Server::preauth_new(const Visit& v) {
  PreauthForm form;
  form.urgency = "routine";
  std::vector<std::string> errors;
  if (v.post()) {
    form.patient_name = v.field("patient_name");
    form.member_id = v.field("member_id");
    form.dob = v.field("dob");
    form.cpt = v.field("cpt");
    form.diagnosis = v.field("diagnosis");
    form.notes = v.field("notes");
    form.urgency = v.field("urgency");
    form.attested = !v.field("attest").empty();
    Portal::Filed filed = portal_.file_preauth(form);
    if (filed.errors.empty()) {
      return redirect("/preauth/" + std::to_string(filed.preauth->id) +
                      (filed.existing ? "?existing=1" : ""));
    }
    errors = std::move(filed.errors);
  }
  json procedures = json::array();
  for (const Procedure& p : Portal::procedures())
    procedures.push_back(json{{"cpt", p.cpt}, {"label", p.label}, {"selected", p.cpt == form.cpt}});
  return page(v, "preauth_new", "New pre-authorisation",
              json{{"patient_name", form.patient_name},
                   {"member_id", form.member_id},
                   {"dob", form.dob},
                   {"diagnosis", form.diagnosis},
                   {"notes", form.notes},
                   {"procedures", std::move(procedures)},
                   {"no_procedure", form.cpt.empty() || !Portal::procedure(form.cpt)},
                   {"urgency_routine", form.urgency == "routine"},
                   {"urgency_urgent", form.urgency == "urgent"},
                   {"attested", form.attested},
                   {"errors", errors}},
              errors.empty() ? 200 : 422);
}

Server::Answer Server::preauth_view(const Visit& v, const std::string& id) {
  std::optional<Preauth> p;
  if (!id.empty() && id.find_first_not_of("0123456789") == std::string::npos && id.size() < 9)
    p = portal_.preauth(std::stoi(id));
  if (!p) return not_found(v, "There is no pre-authorisation " + id + ".");
  json ctx = to_json(*p);
  const Procedure* proc = Portal::procedure(p->form.cpt);
  ctx["cpt_label"] = proc ? proc->label : "";
  ctx["urgency_label"] = urgency_label(p->form.urgency);
  ctx["approved"] = p->status == "Approved";
  if (v.query.contains("existing"))
    ctx["notice"] = "An identical request is already on file; this is its authorisation.";
  return page(v, "preauth", "Pre-authorisation " + p->number, std::move(ctx));
}

Server::Answer Server::facilities(const Visit& v) {
  const std::string q = v.field("q");
  const bool in_network_only = !v.field("in_network").empty();
  const std::string auth = v.field("auth");
  json ctx{{"q", q},
           {"in_network", in_network_only},
           {"auth", auth},
           {"searched", false},
           {"inject", inject_}};
  if (!q.empty()) {
    Portal::Search s = portal_.search(q, in_network_only);
    if (!s.error.empty()) {
      ctx["error"] = s.error;
    } else {
      json rows = json::array();
      for (const SearchResult& r : s.results) {
        json row = facility_json(*r.facility);
        row["distance"] = distance_text(r.distance);
        row["net_class"] = r.facility->in_network ? "in" : "out";
        row["sponsored"] = r.facility->sponsored;
        row["website"] = r.facility->website;
        row["auth"] = auth;
        rows.push_back(std::move(row));
      }
      ctx["searched"] = true;
      ctx["place"] = s.place->label();
      ctx["count"] = rows.size();
      ctx["results"] = std::move(rows);
    }
  }
  return page(v, "facilities", "Find a facility", std::move(ctx));
}

Server::Answer Server::schedule(const Visit& v) {
  if (captcha_) {
    ++captcha_shown_;
    return page(v, "captcha", "Security check", json{{"return_to", v.req.target}});
  }
  const std::string facility_id = v.field("facility");
  const Facility* f = Portal::facility(facility_id);
  if (f == nullptr) {
    return not_found(
        v, facility_id.empty()
               ? "Choose a facility first: search for one and select it."
               : "There is no facility " + facility_id + " — search for one and select it.");
  }
  const std::string auth = v.field("auth");
  std::string date = v.field("date");
  if (date.empty()) date = today_plus(1);

  std::vector<std::string> errors;
  int status = 200;
  if (v.post()) {
    Portal::Booking b = portal_.book(facility_id, auth, date, v.field("slot"), today_plus(0));
    if (b.appointment) return redirect("/appointments/" + std::to_string(b.appointment->id));
    errors.push_back(b.error);
    status = b.status;
  } else if (!auth.empty() && !portal_.preauth_by_number(auth)) {
    errors.push_back("Pre-authorisation " + auth + " was not found — check the number.");
  } else if (auth.empty()) {
    errors.push_back("An MRI needs a pre-authorisation: enter its number (PA-…) before booking.");
  }
  json slots = json::array();
  if (!valid_date(date)) {
    if (!v.post()) errors.push_back("Choose a date (YYYY-MM-DD).");
  } else {
    for (const Slot& s : portal_.slots(facility_id, date)) {
      std::string key = s.time;
      key.erase(std::remove(key.begin(), key.end(), ':'), key.end());
      slots.push_back(json{{"time", s.time},
                           {"key", key},
                           {"scanner", s.scanner},
                           {"status", s.status},
                           {"available", s.status == "Available"},
                           {"selected", s.status == "Available" && v.field("slot") == s.time}});
    }
  }
  return page(v, "schedule", "Schedule an MRI",
              json{{"facility", facility_json(*f)},
                   {"auth", auth},
                   {"date", date},
                   {"slots", std::move(slots)},
                   {"errors", errors},
                   {"overlay", overlay_}},
              status);
}

Server::Answer Server::appointments(const Visit& v) {
  json list = json::array();
  for (const Appointment& a : portal_.appointments()) list.push_back(appointment_context(a));
  json ctx{{"appointments", std::move(list)}};
  if (auto it = v.query.find("cancelled"); it != v.query.end())
    ctx["notice"] = "Appointment " + it->second + " was cancelled.";
  return page(v, "appointments", "Appointments", std::move(ctx));
}

Server::Answer Server::appointment_view(const Visit& v, const std::string& id) {
  std::optional<Appointment> a;
  if (!id.empty() && id.find_first_not_of("0123456789") == std::string::npos && id.size() < 9)
    a = portal_.appointment(std::stoi(id));
  if (!a) return not_found(v, "There is no appointment " + id + ".");
  return page(v, "appointment",
              a->status == "Confirmed" ? "Appointment confirmed" : "Appointment cancelled",
              appointment_context(*a));
}

Server::Answer Server::appointment_cancel(const Visit& v, const std::string& id) {
  std::optional<Appointment> a;
  if (!id.empty() && id.find_first_not_of("0123456789") == std::string::npos && id.size() < 9)
    a = portal_.appointment(std::stoi(id));
  if (!a) return not_found(v, "There is no appointment " + id + ".");
  const std::string error = portal_.cancel(a->id);
  if (!error.empty()) return not_found(v, error, 409);
  return redirect("/appointments?cancelled=" + a->confirmation);
}

Server::Answer Server::big_page(const Visit& v) {
  int n = 1000;
  if (auto it = v.query.find("n"); it != v.query.end()) {
    const std::string& text = it->second;
    if (text.empty() || text.size() > 6 ||
        text.find_first_not_of("0123456789") != std::string::npos ||
        std::stoi(text) > kMaxBigPage) {
      return json_answer(
          400, json{{"error", "invalid_argument"},
                    {"message", "n must be an integer in 0.." + std::to_string(kMaxBigPage)}});
    }
    n = std::stoi(text);
  }
  // Element i is an input, a select, a button or a link (i mod 4), four to a row.
  static const char* const kKinds[] = {"input", "select", "button", "link"};
  json rows = json::array();
  for (int i = 0; i < n; ++i) {
    if (i % 4 == 0) rows.push_back(json{{"row", i / 4 + 1}});
    rows.back()[kKinds[i % 4]] = json{{"i", i + 1}};
  }
  Answer a;
  a.page = "big";
  a.body = site_.render(layout_, "big", json{{"n", n}, {"rows", std::move(rows)}});
  return a;
}

Server::Answer Server::asset(const Visit& v) {
  const std::string path = v.req.path.substr(std::string_view("/static/").size());
  const std::string* body = path.find("..") == std::string::npos ? site_.asset(path) : nullptr;
  if (body == nullptr) {
    Answer a;
    a.status = 404;
    a.content_type = "text/plain; charset=utf-8";
    a.body = "no asset " + path + "\n";
    return a;
  }
  Answer a;
  a.body = *body;
  a.content_type = content_type_of(path);
  a.headers.emplace_back("Cache-Control", "no-cache");
  return a;
}

Server::Answer Server::route_control(const Visit& v) {
  const std::string& m = v.req.method;
  const std::string& p = v.req.path;
  auto not_allowed = [&] {
    return json_answer(
        405, json{{"error", "method_not_allowed"}, {"message", m + " is not allowed on " + p}});
  };
  auto toggle = [&](bool& flag, const char* name) {
    if (m != "POST") return not_allowed();
    std::optional<bool> on = switch_value(v.query);
    if (!on)
      return json_answer(400, json{{"error", "invalid_argument"},
                                   {"message", std::string("say ") + p + "?on=1 or ?on=0"}});
    flag = *on;
    return json_answer(200, json{{name, flag}});
  };

  if (p == "/_control/state") {
    if (m != "GET") return not_allowed();
    json s = portal_.dump();
    s["layout"] = layout_;
    s["seed"] = seed_;
    s["logins"] = logins_;
    s["failed_logins"] = failed_logins_;
    s["sessions"] = sessions_.size();
    s["expirations"] = expirations_;
    s["consent"] = consent_;
    s["captcha"] = json{{"on", captcha_}, {"shown", captcha_shown_}, {"solved", captcha_solved_}};
    s["overlay"] = overlay_;
    s["inject"] = inject_;
    s["pages"] = pages_;
    s["calls"] = calls_.size();
    return json_answer(200, s);
  }
  if (p == "/_control/slots") {
    if (m != "GET") return not_allowed();
    auto facility = v.query.find("facility");
    auto date = v.query.find("date");
    if (facility == v.query.end() || date == v.query.end())
      return json_answer(
          400, json{{"error", "invalid_argument"},
                    {"message", "say /_control/slots?facility=FAC-1058&date=2027-03-04"}});
    json out = json::array();
    for (const Slot& s : portal_.slots(facility->second, date->second))
      out.push_back(json{{"time", s.time}, {"status", s.status}});
    return json_answer(200, json{{"slots", out}});
  }
  if (p == "/_control/calls") {
    if (m != "GET") return not_allowed();
    return json_answer(200, json{{"calls", calls_}});
  }
  if (p == "/_control/reset") {
    if (m != "POST") return not_allowed();
    json b = v.req.body.empty() ? json::object() : json::parse(v.req.body, nullptr, false);
    if (b.is_discarded() || !b.is_object())
      return json_answer(400, json{{"error", "invalid_json"},
                                   {"message", "the body must be empty or a JSON object"}});
    std::uint64_t seed = start_seed_;
    if (b.contains("seed")) {
      if (!b["seed"].is_number_unsigned())
        return json_answer(400, json{{"error", "invalid_argument"},
                                     {"message", "'seed' must be a non-negative integer"}});
      seed = b["seed"].get<std::uint64_t>();
    }
    std::string layout = start_layout_;
    if (b.contains("layout")) {
      if (b["layout"] != "v1" && b["layout"] != "v2")
        return json_answer(400, json{{"error", "invalid_argument"},
                                     {"message", "'layout' must be \"v1\" or \"v2\""}});
      layout = b["layout"].get<std::string>();
    }
    layout_ = layout;
    reset_locked(seed);
    return json_answer(200, json{{"reset", true}, {"seed", seed_}, {"layout", layout_}});
  }
  if (p == "/_control/layout") {
    if (m != "POST") return not_allowed();
    auto it = v.query.find("v");
    if (it == v.query.end() || (it->second != "v1" && it->second != "v2"))
      return json_answer(400, json{{"error", "invalid_argument"},
                                   {"message", "say /_control/layout?v=v1 or ?v=v2"}});
    layout_ = it->second;
    return json_answer(200, json{{"layout", layout_}});
  }
  if (p == "/_control/captcha") return toggle(captcha_, "captcha");
  if (p == "/_control/captcha/solve") {
    if (m != "POST") return not_allowed();
    const bool was_on = captcha_;
    captcha_ = false;
    if (was_on) ++captcha_solved_;
    return json_answer(200, json{{"captcha", false}, {"solved", was_on}});
  }
  if (p == "/_control/overlay") return toggle(overlay_, "overlay");
  if (p == "/_control/inject") return toggle(inject_, "inject");
  if (p == "/_control/session/expire") {
    if (m != "POST") return not_allowed();
    const std::size_t n = sessions_.size();
    sessions_.clear();
    ++expirations_;
    return json_answer(200, json{{"expired", n}});
  }
  return json_answer(404, json{{"error", "not_found"}, {"message", "no endpoint " + m + " " + p}});
}

}  // namespace care
