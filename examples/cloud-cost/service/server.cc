// acme-cloud: the HTTP face of the sample cloud provider.
#include "server.h"

#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <exception>
#include <optional>
#include <string_view>
#include <thread>
#include <utility>

namespace acme {
namespace {

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

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
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

// The query parameters of the request line only: httplib also merges a
// form-encoded body into req.params, which must not count as a query.
json query_object(const httplib::Request& req) {
  json q = json::object();
  std::string_view target = req.target;
  std::size_t qm = target.find('?');
  if (qm == std::string_view::npos) return q;
  std::string_view rest = target.substr(qm + 1);
  if (std::size_t hash = rest.find('#'); hash != std::string_view::npos)
    rest = rest.substr(0, hash);
  while (!rest.empty()) {
    std::size_t amp = rest.find('&');
    std::string_view pair = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
    if (pair.empty()) continue;
    std::size_t eq = pair.find('=');
    std::string key = url_decode(pair.substr(0, eq));
    q[key] = eq == std::string_view::npos ? std::string() : url_decode(pair.substr(eq + 1));
  }
  return q;
}

std::optional<std::string> param(const json& query, const char* name) {
  if (!query.contains(name)) return std::nullopt;
  return query[name].get<std::string>();
}

bool flag(const json& query, const char* name) {
  auto v = param(query, name);
  return v && (*v == "true" || *v == "1" || *v == "yes");
}

// The request body as JSON; null when empty, a string when it is not JSON.
json body_value(const std::string& body) {
  if (body.empty()) return nullptr;
  json j = json::parse(body, nullptr, false);
  if (j.is_discarded()) return body;
  return j;
}

int as_int(const json& j, const char* field, int fallback) {
  if (!j.contains(field) || j[field].is_null()) return fallback;
  if (!j[field].is_number())
    throw std::invalid_argument(std::string("'") + field + "' must be a number");
  return j[field].get<int>();
}

json fault_json(const Fault& f) {
  return json{{"id", f.id},
              {"method", f.method.empty() ? "*" : f.method},
              {"path_prefix", f.path_prefix},
              {"status", f.status},
              {"count", f.remaining},
              {"delay_ms", f.delay_ms},
              {"body", f.body},
              {"headers", f.headers}};
}

json call_json(const Call& c) {
  return json{{"seq", c.seq},      {"method", c.method}, {"path", c.path},
              {"query", c.query},  {"body", c.body},     {"idempotency_key", c.idempotency_key},
              {"status", c.status}};
}

}  // namespace

Server::Server(std::uint64_t seed, std::string token)
    : start_seed_(seed), seed_(seed), token_(std::move(token)), cloud_(seed) {}

Server::Answer Server::json_answer(const Reply& reply) {
  Answer a;
  a.status = reply.status;
  a.body = reply.body.dump();
  return a;
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

void Server::shutdown() {
  std::lock_guard lock(mu_);
  stopping_ = true;
  wake_.notify_all();
}

bool Server::authorized(const httplib::Request& req) const {
  if (token_.empty()) return true;
  const std::string h = req.get_header_value("Authorization");
  if (h.size() < 7 || !iequals(std::string_view(h).substr(0, 7), "Bearer ")) return false;
  std::string_view given = std::string_view(h).substr(7);
  // Compare without an early exit.
  unsigned diff = given.size() == token_.size() ? 0 : 1;
  for (std::size_t i = 0; i < token_.size(); ++i)
    diff |= static_cast<unsigned char>(token_[i]) ^
            static_cast<unsigned char>(i < given.size() ? given[i] : 0);
  return diff == 0;
}

void Server::handle(const httplib::Request& req, httplib::Response& res) {
  const auto started = std::chrono::steady_clock::now();
  Answer a;
  try {
    if (req.path == "/v1" || req.path.starts_with("/v1/")) {
      a = handle_v1(req);
    } else if (req.path.starts_with("/_control/")) {
      a = route_control(req);
    } else if (req.path == "/" || req.path == "/healthz") {
      a.body = json{{"service", "acme-cloud"}, {"ok", true}}.dump();
    } else {
      a = json_answer(error(404, "not_found", "no endpoint " + req.path));
    }
  } catch (const std::exception& e) {
    a = json_answer(error(500, "internal", e.what()));
  }
  res.status = a.status;
  for (const auto& [k, v] : a.headers) res.set_header(k, v);
  res.set_content(a.body, a.content_type);

  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
  const std::string& target = req.target.empty() ? req.path : req.target;
  std::fprintf(stderr, "acme-cloud: %s %s -> %d (%.1f ms)\n", req.method.c_str(), target.c_str(),
               a.status, ms);
}

Server::Answer Server::handle_v1(const httplib::Request& req) {
  const bool mutating = req.method != "GET" && req.method != "HEAD";
  int seq = 0;
  std::uint64_t generation = 0;
  std::optional<Fault> fault;
  {
    std::lock_guard lock(mu_);
    generation = generation_;
    if (mutating) {
      Call c;
      c.seq = seq = next_call_++;
      c.method = req.method;
      c.path = req.path;
      c.query = query_object(req);
      c.body = body_value(req.body);
      c.idempotency_key = req.has_header("Idempotency-Key")
                              ? json(req.get_header_value("Idempotency-Key"))
                              : json(nullptr);
      calls_.push_back(std::move(c));
    }
    for (auto it = faults_.begin(); it != faults_.end(); ++it) {
      if (!it->method.empty() && it->method != "*" && !iequals(it->method, req.method)) continue;
      if (!req.path.starts_with(it->path_prefix)) continue;
      fault = *it;
      if (--it->remaining <= 0) faults_.erase(it);
      break;
    }
  }

  Answer a;
  if (fault && fault->delay_ms > 0) {
    std::unique_lock lock(mu_);
    wake_.wait_for(lock, std::chrono::milliseconds(fault->delay_ms), [&] { return stopping_; });
  }
  if (fault && fault->status > 0) {
    a.status = fault->status;
    a.body = fault->body.empty() ? error(fault->status, "fault_injected",
                                         "injected fault #" + std::to_string(fault->id))
                                       .body.dump()
                                 : fault->body;
    if (json::parse(a.body, nullptr, false).is_discarded()) a.content_type = "text/plain";
    a.headers = fault->headers;
  } else if (!authorized(req)) {
    a = json_answer(error(401, "unauthorized", "missing or invalid bearer token"));
    a.headers["WWW-Authenticate"] = "Bearer realm=\"acme-cloud\"";
  } else {
    a = route_v1(req);
  }

  if (mutating) {
    std::lock_guard lock(mu_);
    if (generation == generation_) {
      for (auto it = calls_.rbegin(); it != calls_.rend(); ++it) {
        if (it->seq != seq) continue;
        it->status = a.status;
        break;
      }
    }
  }
  return a;
}

Server::Answer Server::route_v1(const httplib::Request& req) {
  const std::vector<std::string> seg = split_path(req.path);  // seg[0] == "v1"
  const std::string& m = req.method;
  const bool get = m == "GET" || m == "HEAD";
  const bool post = m == "POST";
  const json query = query_object(req);
  const bool dry_run = flag(query, "dry_run");
  const std::size_t n = seg.size();
  auto not_allowed = [&]() {
    return json_answer(error(405, "method_not_allowed", m + " is not allowed on " + req.path));
  };

  std::lock_guard lock(mu_);
  if (n >= 2 && seg[1] == "instances") {
    if (n == 2) {
      if (!get) return not_allowed();
      return json_answer(cloud_.list_instances(param(query, "env"), param(query, "state")));
    }
    const std::string& id = seg[2];
    if (n == 3) {
      if (!get) return not_allowed();
      return json_answer(cloud_.get_instance(id));
    }
    if (n == 4 && (seg[3] == "stop" || seg[3] == "start" || seg[3] == "resize")) {
      if (!post) return not_allowed();
      if (seg[3] == "stop") return json_answer(cloud_.stop(id, dry_run));
      if (seg[3] == "start") return json_answer(cloud_.start(id, dry_run));
      json body = req.body.empty() ? json(nullptr) : json::parse(req.body, nullptr, false);
      if (body.is_discarded())
        return json_answer(error(400, "invalid_json", "the request body is not valid JSON"));
      return json_answer(cloud_.resize(id, body, dry_run));
    }
  } else if (n == 2 && seg[1] == "metrics") {
    if (!get) return not_allowed();
    return json_answer(cloud_.metrics(param(query, "instance")));
  } else if (n == 2 && seg[1] == "sizes") {
    if (!get) return not_allowed();
    return json_answer(cloud_.sizes());
  } else if (n == 2 && seg[1] == "bill") {
    if (!get) return not_allowed();
    return json_answer(cloud_.bill());
  } else if (n >= 2 && n <= 3 && seg[1] == "reservations") {
    if (n == 3) {
      if (!get) return not_allowed();
      return json_answer(cloud_.get_reservation(seg[2]));
    }
    if (get) return json_answer(cloud_.list_reservations());
    if (!post) return not_allowed();
    json body = req.body.empty() ? json(nullptr) : json::parse(req.body, nullptr, false);
    if (body.is_discarded())
      return json_answer(error(400, "invalid_json", "the request body is not valid JSON"));
    std::optional<std::string> key;
    if (req.has_header("Idempotency-Key")) key = req.get_header_value("Idempotency-Key");
    Answer a = json_answer(cloud_.reserve(body, key, dry_run));
    if (!dry_run && key && a.status == 200) a.headers["Idempotent-Replayed"] = "true";
    return a;
  }
  return json_answer(error(404, "not_found", "no endpoint " + m + " " + req.path));
}

Server::Answer Server::route_control(const httplib::Request& req) {
  const std::string& m = req.method;
  const std::string& p = req.path;
  auto not_allowed = [&]() {
    return json_answer(error(405, "method_not_allowed", m + " is not allowed on " + p));
  };
  std::lock_guard lock(mu_);

  if (p == "/_control/faults") {
    if (m == "GET") {
      json out = json::array();
      for (const Fault& f : faults_) out.push_back(fault_json(f));
      return json_answer(Reply{200, json{{"faults", std::move(out)}}});
    }
    if (m == "DELETE") {
      std::size_t n = faults_.size();
      faults_.clear();
      return json_answer(Reply{200, json{{"cleared", n}}});
    }
    if (m != "POST") return not_allowed();
    json b = json::parse(req.body, nullptr, false);
    if (b.is_discarded() || !b.is_object())
      return json_answer(error(400, "invalid_json", "the body must be a JSON object"));
    Fault f;
    try {
      if (b.contains("method") && !b["method"].is_null()) f.method = b["method"].get<std::string>();
      f.path_prefix = b.value("path_prefix", std::string("/v1"));
      f.status = as_int(b, "status", 503);
      f.remaining = as_int(b, "count", 1);
      f.delay_ms = as_int(b, "delay_ms", 0);
      if (b.contains("body") && !b["body"].is_null())
        f.body = b["body"].is_string() ? b["body"].get<std::string>() : b["body"].dump();
      if (b.contains("headers") && b["headers"].is_object())
        for (const auto& [k, v] : b["headers"].items())
          f.headers[k] = v.is_string() ? v.get<std::string>() : v.dump();
    } catch (const std::exception& e) {
      return json_answer(error(400, "invalid_argument", e.what()));
    }
    if (f.status != 0 && (f.status < 100 || f.status > 599))
      return json_answer(error(400, "invalid_argument", "'status' must be 0 or 100..599"));
    if (f.remaining < 1)
      return json_answer(error(400, "invalid_argument", "'count' must be at least 1"));
    if (f.delay_ms < 0 || f.delay_ms > 600000)
      return json_answer(error(400, "invalid_argument", "'delay_ms' must be in 0..600000"));
    f.id = next_fault_++;
    faults_.push_back(f);
    return json_answer(Reply{201, fault_json(f)});
  }
  if (p == "/_control/calls") {
    if (m != "GET") return not_allowed();
    json out = json::array();
    for (const Call& c : calls_) out.push_back(call_json(c));
    return json_answer(Reply{200, json{{"calls", std::move(out)}}});
  }
  if (p == "/_control/state") {
    if (m != "GET") return not_allowed();
    json s = cloud_.dump();
    json faults = json::array();
    for (const Fault& f : faults_) faults.push_back(fault_json(f));
    s["faults"] = std::move(faults);
    s["calls"] = calls_.size();
    return json_answer(Reply{200, s});
  }
  if (p == "/_control/reset") {
    if (m != "POST") return not_allowed();
    json b = body_value(req.body);
    std::uint64_t seed = start_seed_;
    if (b.is_object() && b.contains("seed")) {
      if (!b["seed"].is_number_unsigned())
        return json_answer(error(400, "invalid_argument", "'seed' must be a non-negative integer"));
      seed = b["seed"].get<std::uint64_t>();
    }
    seed_ = seed;
    cloud_ = Cloud(seed_);
    faults_.clear();
    calls_.clear();
    next_call_ = 1;
    next_fault_ = 1;
    ++generation_;
    return json_answer(Reply{200, json{{"reset", true}, {"seed", seed_}}});
  }
  return json_answer(error(404, "not_found", "no endpoint " + m + " " + p));
}

}  // namespace acme
