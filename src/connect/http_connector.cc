#include "ergon/http_connector.h"

#include <curl/curl.h>
#include <openssl/evp.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <utility>

#include "ergon/plan.h"

namespace ergon {

namespace {

using Headers = std::vector<std::pair<std::string, std::string>>;

constexpr long kDefaultTimeoutMs = 30'000;
constexpr long kMaxTimeoutMs = 3'600'000;
constexpr long kMaxConnectTimeoutMs = 10'000;
constexpr size_t kMaxResponseBytes = 16 << 20;
constexpr size_t kErrorTextChars = 200;

const std::vector<std::string> kSettingsFields = {"kind", "base_url",   "base_url_env",
                                                  "auth", "timeout_ms", "headers"};
const std::vector<std::string> kBindingFields = {"method", "path",    "query",
                                                 "body",   "dry_run", "headers"};
const std::vector<std::string> kDryRunFields = {"method", "path", "query", "headers"};
const std::vector<std::string> kMethods = {"GET", "POST", "PUT", "PATCH", "DELETE"};

std::string upper(std::string text) {
  for (char& c : text) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return text;
}

std::string lower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

std::unexpected<Error> invalid(const std::string& pointer, const std::string& what) {
  return fail(ErrorCode::kInvalidInput, pointer + ": " + what);
}

std::string unknown_field(const std::string& key, const std::vector<std::string>& known) {
  std::string hint = closest_spelling(key, known);
  if (!hint.empty()) return "unknown field — did you mean '" + hint + "'?";
  std::string list;
  for (const std::string& name : known) list += (list.empty() ? "" : ", ") + name;
  return "unknown field — use one of " + list;
}

Status check_fields(const Json& object, const std::string& pointer,
                    const std::vector<std::string>& known) {
  for (const auto& [key, value] : object.items()) {
    if (std::find(known.begin(), known.end(), key) == known.end()) {
      return invalid(pointer + "/" + key, unknown_field(key, known));
    }
  }
  return {};
}

// RFC 7230 token characters.
bool is_header_name(const std::string& name) {
  if (name.empty()) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) ||
           std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
  });
}

bool has_line_break(std::string_view text) {
  return text.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos;
}

bool is_env_name(const std::string& name) {
  if (name.empty() || std::isdigit(static_cast<unsigned char>(name[0]))) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
  });
}

bool is_http_url(const std::string& url) {
  for (std::string_view scheme : {"http://", "https://"}) {
    if (url.size() > scheme.size() && lower(url.substr(0, scheme.size())) == scheme) return true;
  }
  return false;
}

// A scalar header or query value as text; nullopt for arrays, objects and null.
std::optional<std::string> scalar_text(const Json& value) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_boolean()) return value.get<bool>() ? "true" : "false";
  if (value.is_number()) return value.dump();
  return std::nullopt;
}

Status check_headers(const Json& headers, const std::string& pointer) {
  if (!headers.is_object()) {
    return invalid(pointer, "must be a mapping of header name to value, e.g. { X-Client: ergon }");
  }
  for (const auto& [name, value] : headers.items()) {
    std::string at = pointer + "/" + name;
    if (!is_header_name(name)) return invalid(at, "'" + name + "' is not a valid header name");
    if (lower(name) == "authorization") {
      return invalid(at,
                     "credentials do not belong in headers — use auth: { bearer: SECRET_NAME } "
                     "so the secret stays in the vault");
    }
    auto text = scalar_text(value);
    if (!text) return invalid(at, "a header value must be a string, number or boolean");
    if (has_line_break(*text)) return invalid(at, "a header value may not contain line breaks");
  }
  return {};
}

// A path template split into literal text and {argument} names.
struct PathPart {
  bool is_arg = false;
  std::string text;
};

Result<std::vector<PathPart>> parse_path(const std::string& path) {
  std::vector<PathPart> parts;
  std::string literal;
  for (size_t i = 0; i < path.size(); ++i) {
    char c = path[i];
    if (c == '}') {
      return fail(ErrorCode::kInvalidInput, "'" + path + "' has a '}' without '{' — write {name}");
    }
    if (c != '{') {
      literal += c;
      continue;
    }
    size_t close = path.find('}', i + 1);
    if (close == std::string::npos) {
      return fail(ErrorCode::kInvalidInput, "'" + path + "' has a '{' without '}' — write {name}");
    }
    std::string name = path.substr(i + 1, close - i - 1);
    if (name.empty() || name.find('{') != std::string::npos) {
      return fail(ErrorCode::kInvalidInput,
                  "'" + path + "' has an empty or nested placeholder — write {name}");
    }
    if (!literal.empty()) parts.push_back({false, std::move(literal)});
    literal.clear();
    parts.push_back({true, std::move(name)});
    i = close;
  }
  if (!literal.empty()) parts.push_back({false, std::move(literal)});
  return parts;
}

// {wire name, argument name} pairs of a `query` or `body` mapping (a list of
// argument names, or a map wire_name: arg_name).
std::vector<std::pair<std::string, std::string>> arg_mapping(const Json& mapping) {
  std::vector<std::pair<std::string, std::string>> out;
  if (mapping.is_array()) {
    for (const Json& name : mapping) {
      out.emplace_back(name.get<std::string>(), name.get<std::string>());
    }
  } else if (mapping.is_object()) {
    for (const auto& [wire, arg] : mapping.items()) out.emplace_back(wire, arg.get<std::string>());
  }
  return out;
}

Status check_arg_name(const std::string& arg, const std::string& pointer, const Json& properties,
                      const std::string& where) {
  if (properties.is_object() && !properties.empty() && !properties.contains(arg)) {
    std::vector<std::string> names;
    for (const auto& [name, schema] : properties.items()) names.push_back(name);
    std::string hint = closest_spelling(arg, names);
    return invalid(pointer, "argument '" + arg + "' in " + where + " is not a parameter" +
                                (hint.empty() ? " — declare it under params.properties"
                                              : " — did you mean '" + hint + "'?"));
  }
  return {};
}

Status check_arg_mapping(const Json& mapping, const std::string& pointer, const Json& properties) {
  std::string what = pointer.substr(1);
  if (mapping.is_array()) {
    for (size_t i = 0; i < mapping.size(); ++i) {
      std::string at = pointer + "/" + std::to_string(i);
      if (!mapping[i].is_string() || mapping[i].get<std::string>().empty()) {
        return invalid(at, "must be an argument name");
      }
      if (auto ok = check_arg_name(mapping[i], at, properties, what); !ok) return ok;
    }
    return {};
  }
  if (mapping.is_object()) {
    for (const auto& [wire, arg] : mapping.items()) {
      std::string at = pointer + "/" + wire;
      if (!arg.is_string() || arg.get<std::string>().empty()) {
        return invalid(at, "must be an argument name (the map is wire_name: arg_name)");
      }
      if (auto ok = check_arg_name(arg, at, properties, what); !ok) return ok;
    }
    return {};
  }
  return invalid(pointer,
                 "must be a list of argument names or a map wire_name: arg_name, e.g. [window]");
}

Status check_method(const Json& method, const std::string& pointer) {
  if (!method.is_string() || std::find(kMethods.begin(), kMethods.end(),
                                       upper(method.get<std::string>())) == kMethods.end()) {
    return invalid(pointer,
                   "unknown method " + method.dump() + " — use GET, POST, PUT, PATCH or DELETE");
  }
  return {};
}

Status check_path(const Json& path, const std::string& pointer, const Json& properties) {
  if (!path.is_string() || !path.get<std::string>().starts_with("/")) {
    return invalid(pointer, "must be a string starting with '/', e.g. /v1/instances/{id}/stop");
  }
  const std::string& text = path.get_ref<const std::string&>();
  if (text.find_first_of("?#") != std::string::npos) {
    return invalid(pointer,
                   "'" + text + "' has a '?' or '#' — declare query parameters under query");
  }
  auto parts = parse_path(text);
  if (!parts) return invalid(pointer, parts.error().message);
  for (const PathPart& part : *parts) {
    if (!part.is_arg) continue;
    if (auto ok = check_arg_name(part.text, pointer, properties, "path"); !ok) return ok;
  }
  return {};
}

std::string url_encode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : text) {
    auto byte = static_cast<unsigned char>(c);
    if (std::isalnum(byte) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += c;
    } else {
      out += '%';
      out += kHex[byte >> 4];
      out += kHex[byte & 0xf];
    }
  }
  return out;
}

std::string base64(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  int length = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                               reinterpret_cast<const unsigned char*>(bytes.data()),
                               static_cast<int>(bytes.size()));
  out.resize(static_cast<size_t>(length));
  return out;
}

// Replaces invalid UTF-8 with U+FFFD, so text from a server can always be
// serialised into JSON (journal, HTTP API) later.
std::string valid_utf8(const std::string& text) {
  return Json::parse(Json(text).dump(-1, ' ', false, Json::error_handler_t::replace))
      .get<std::string>();
}

// At most `limit` bytes, not splitting a UTF-8 sequence.
std::string truncate(const std::string& text, size_t limit) {
  if (text.size() <= limit) return text;
  size_t end = limit;
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  return text.substr(0, end) + "…";
}

// The server's own words about an error: a JSON body's error/message/detail
// field when there is one, else the body itself.
std::string server_error_text(const std::string& body) {
  Json json = Json::parse(body, nullptr, false);
  if (json.is_object()) {
    for (const char* key : {"error", "message", "detail", "error_description"}) {
      auto it = json.find(key);
      if (it == json.end()) continue;
      if (it->is_string()) return it->get<std::string>();
      if (it->is_object() && it->contains("message") && (*it)["message"].is_string()) {
        return (*it)["message"].get<std::string>();
      }
    }
  }
  std::string text = body;
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
  return text;
}

struct HttpAction {
  ActionSpec spec;
  std::string method;  // upper case
  std::string path;    // template
  Json query;          // null, list or map
  Json body;           // null: the default rule
  Json dry_run;        // null: the action has no dry run
  Headers headers;
};

struct Request {
  std::string method;
  std::string target;  // path and query, as named in messages
  std::string label;   // "POST /v1/instances/i-1/stop"
  std::optional<std::string> body;
  Headers headers;
};

void set_header(Headers& headers, const std::string& name, const std::string& value) {
  for (auto& [key, existing] : headers) {
    if (lower(key) == lower(name)) {
      existing = value;
      return;
    }
  }
  headers.emplace_back(name, value);
}

void append_query(std::string& query, const std::string& name, const Json& value) {
  if (value.is_null()) return;
  if (value.is_array()) {
    for (const Json& element : value) append_query(query, name, element);
    return;
  }
  std::string text = value.is_object() ? value.dump() : *scalar_text(value);
  query += (query.empty() ? "" : "&") + url_encode(name) + "=" + url_encode(text);
}

void init_curl_once() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

size_t collect_body(char* data, size_t size, size_t count, void* user) {
  auto* body = static_cast<std::string*>(user);
  size_t bytes = size * count;
  if (body->size() + bytes > kMaxResponseBytes) return 0;  // curl reports CURLE_WRITE_ERROR
  body->append(data, bytes);
  return bytes;
}

struct CurlDeleter {
  void operator()(CURL* curl) const { curl_easy_cleanup(curl); }
};
struct SlistDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};

// Every call builds its request from constant members and runs on its own curl
// easy handle, so execute() and dry_run() need no lock.
class HttpConnector final : public Connector {
 public:
  HttpConnector(std::string name, std::string base_url, long timeout_ms, Headers headers,
                std::string derived_secret, std::vector<HttpAction> actions, const Vault& vault)
      : name_(std::move(name)),
        base_url_(std::move(base_url)),
        timeout_ms_(timeout_ms),
        headers_(std::move(headers)),
        derived_secret_(std::move(derived_secret)),
        actions_(std::move(actions)),
        vault_(vault) {
    for (const HttpAction& action : actions_) specs_.push_back(action.spec);
  }

  const std::string& name() const override { return name_; }
  const std::vector<ActionSpec>& actions() const override { return specs_; }

  Result<Json> observe() override { return Json{{"base_url", redact(base_url_)}}; }

  Result<Json> execute(const ActionCall& call) override {
    auto action = find(call.action);
    if (!action) return fail(action.error());
    auto request = build(**action, call, /*dry=*/false);
    if (!request) return fail(request.error());
    return perform(*request);
  }

  Result<Json> dry_run(const ActionCall& call) override {
    auto action = find(call.action);
    if (!action) return fail(action.error());
    if ((*action)->dry_run.is_null()) {
      return fail(ErrorCode::kNotFound, (*action)->spec.name + " has no dry run");
    }
    auto request = build(**action, call, /*dry=*/true);
    if (!request) return fail(request.error());
    return perform(*request);
  }

 private:
  Result<const HttpAction*> find(const std::string& action) const {
    for (const HttpAction& candidate : actions_) {
      if (candidate.spec.name == action || candidate.spec.name == name_ + "." + action) {
        return &candidate;
      }
    }
    return fail(ErrorCode::kNotFound, "connector '" + name_ + "' has no action '" + action +
                                          "' — declare it under connectors." + name_ +
                                          ".actions in ergon.yaml");
  }

  Result<Request> build(const HttpAction& action, const ActionCall& call, bool dry) const {
    const Json args = call.args.is_null() ? Json::object() : call.args;
    std::string method = action.method;
    std::string path_template = action.path;
    if (dry && action.dry_run.contains("method")) {
      method = upper(action.dry_run["method"].get<std::string>());
    }
    if (dry && action.dry_run.contains("path")) {
      path_template = action.dry_run["path"].get<std::string>();
    }
    std::string label = method + " " + path_template;
    if (!args.is_object()) {
      return fail(ErrorCode::kInvalidInput,
                  redact(label + ": the arguments of " + action.spec.name + " must be an object"));
    }

    std::set<std::string> used;
    std::string path;
    auto parts = parse_path(path_template);
    if (!parts) return fail(ErrorCode::kInvalidInput, label + ": " + parts.error().message);
    for (const PathPart& part : *parts) {
      if (!part.is_arg) {
        path += part.text;
        continue;
      }
      used.insert(part.text);
      auto it = args.find(part.text);
      std::optional<std::string> text;
      if (it != args.end()) text = scalar_text(*it);
      if (!text || text->empty()) {
        return fail(ErrorCode::kInvalidInput,
                    label + ": argument '" + part.text +
                        "' must be a non-empty string or number, because the path needs it");
      }
      // curl resolves dot segments, so "..' would climb out of the declared path.
      if (*text == "." || *text == "..") {
        return fail(ErrorCode::kInvalidInput,
                    label + ": argument '" + part.text + "' may not be '.' or '..' in a path");
      }
      path += url_encode(*text);
    }

    std::string query;
    for (const auto& [wire, arg] : arg_mapping(action.query)) {
      used.insert(arg);
      if (auto it = args.find(arg); it != args.end()) append_query(query, wire, *it);
    }
    if (dry && action.dry_run.contains("query")) {
      for (const auto& [name, value] : action.dry_run["query"].items()) {
        append_query(query, name, value);
      }
    }

    std::optional<std::string> body;
    if (method == "GET") {
      // A GET never carries a body (many servers and proxies reject one), also
      // when a dry run turns another method into a GET.
    } else if (!action.body.is_null()) {
      auto mapping = arg_mapping(action.body);
      if (!mapping.empty()) {
        Json object = Json::object();
        for (const auto& [wire, arg] : mapping) {
          if (auto it = args.find(arg); it != args.end()) object[wire] = *it;
        }
        body = object.dump();
      }
    } else if (method == "POST" || method == "PUT" || method == "PATCH") {
      Json object = Json::object();
      for (const auto& [name, value] : args.items()) {
        if (!used.contains(name)) object[name] = value;
      }
      body = object.dump();
    }

    Request request;
    request.method = method;
    request.target = path + (query.empty() ? "" : "?" + query);
    request.label = redact(method + " " + path);
    request.body = std::move(body);
    request.headers = headers_;
    for (const auto& [name, value] : action.headers) set_header(request.headers, name, value);
    if (dry && action.dry_run.contains("headers")) {
      for (const auto& [name, value] : action.dry_run["headers"].items()) {
        set_header(request.headers, name, *scalar_text(value));
      }
    }
    set_header(request.headers, "Accept", "application/json");
    if (request.body) set_header(request.headers, "Content-Type", "application/json");
    // A preview must not claim the key: a server that caches by Idempotency-Key
    // would otherwise answer the real call with the preview.
    if (!dry && !call.idempotency_key.empty()) {
      if (has_line_break(call.idempotency_key)) {
        return fail(ErrorCode::kInvalidInput,
                    request.label + ": the idempotency key contains a line break");
      }
      set_header(request.headers, "Idempotency-Key", call.idempotency_key);
    }
    return request;
  }

  Result<Json> perform(const Request& request) const {
    init_curl_once();
    std::unique_ptr<CURL, CurlDeleter> curl(curl_easy_init());
    if (!curl) return fail(ErrorCode::kInternal, request.label + ": cannot create a curl handle");
    std::unique_ptr<curl_slist, SlistDeleter> headers;
    std::vector<std::string> lines;
    for (const auto& [name, value] : request.headers) lines.push_back(name + ": " + value);
    // Without this curl waits for "100 Continue" before sending large bodies.
    lines.push_back("Expect:");
    for (const std::string& line : lines) {
      // curl_slist_append returns the list's head, or null leaving the list intact.
      curl_slist* head = curl_slist_append(headers.get(), line.c_str());
      if (head == nullptr) return fail(ErrorCode::kInternal, request.label + ": out of memory");
      (void)headers.release();
      headers.reset(head);
    }

    std::string url = base_url_ + request.target;
    std::string response;
    char error_buffer[CURL_ERROR_SIZE] = {};
    CURL* h = curl.get();
    curl_easy_setopt(h, CURLOPT_URL, url.c_str());
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms_);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, std::min(timeout_ms_, kMaxConnectTimeoutMs));
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers.get());
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &response);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, error_buffer);
    if (request.method == "GET") {
      curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    } else {
      curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, request.method.c_str());
    }
    if (request.body) {
      curl_easy_setopt(h, CURLOPT_POSTFIELDS, request.body->c_str());
      curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
                       static_cast<curl_off_t>(request.body->size()));
    } else if (request.method == "POST") {
      curl_easy_setopt(h, CURLOPT_POSTFIELDS, "");
      curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(0));
    }

    CURLcode code = curl_easy_perform(h);
    if (code != CURLE_OK) return transport_error(request, code, error_buffer);

    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    if (status >= 200 && status < 300) return redact(parse_body(response));
    return status_error(request, status, response);
  }

  Error transport_error_value(const Request& request, CURLcode code, const char* detail) const {
    std::string why = detail[0] != '\0' ? detail : curl_easy_strerror(code);
    switch (code) {
      case CURLE_OPERATION_TIMEDOUT:
        return {ErrorCode::kTimeout,
                redact(request.label + ": no answer from " + base_url_ + " within " +
                       std::to_string(timeout_ms_) +
                       " ms — the service is slow or stuck; retry later or raise timeout_ms")};
      case CURLE_COULDNT_CONNECT:
      case CURLE_COULDNT_RESOLVE_HOST:
      case CURLE_COULDNT_RESOLVE_PROXY:
      case CURLE_SEND_ERROR:
      case CURLE_RECV_ERROR:
      case CURLE_GOT_NOTHING:
      case CURLE_PARTIAL_FILE:
        return {ErrorCode::kUnavailable, redact(request.label + ": cannot reach " + base_url_ +
                                                ": " + why + " — is the service running?")};
      case CURLE_WRITE_ERROR:
        return {ErrorCode::kFailedPrecondition,
                redact(request.label + ": the response is larger than " +
                       std::to_string(kMaxResponseBytes >> 20) + " MiB")};
      case CURLE_URL_MALFORMAT:
      case CURLE_UNSUPPORTED_PROTOCOL:
        return {ErrorCode::kInvalidInput,
                redact(request.label + ": invalid URL " + base_url_ + ": " + why +
                       " — fix base_url of connector '" + name_ + "'")};
      case CURLE_PEER_FAILED_VERIFICATION:
      case CURLE_SSL_CONNECT_ERROR:
      case CURLE_SSL_CERTPROBLEM:
        return {ErrorCode::kFailedPrecondition,
                redact(request.label + ": TLS with " + base_url_ + " failed: " + why)};
      default: return {ErrorCode::kUnavailable, redact(request.label + ": " + why)};
    }
  }

  std::unexpected<Error> transport_error(const Request& request, CURLcode code,
                                         const char* detail) const {
    return fail(transport_error_value(request, code, detail));
  }

  std::unexpected<Error> status_error(const Request& request, long status,
                                      const std::string& body) const {
    std::string text = valid_utf8(truncate(server_error_text(body), kErrorTextChars));
    std::string message = request.label + ": HTTP " + std::to_string(status);
    if (!text.empty()) message += ": " + text;
    message = redact(message);
    if (status == 429 || status >= 500) return fail(ErrorCode::kUnavailable, message);
    if (status == 401 || status == 403) return fail(ErrorCode::kDenied, message);
    if (status == 404) return fail(ErrorCode::kNotFound, message);
    if (status >= 300 && status < 400) {
      return fail(ErrorCode::kFailedPrecondition,
                  message + " (redirects are not followed — point base_url at the final address)");
    }
    return fail(ErrorCode::kFailedPrecondition, message);
  }

  static Json parse_body(const std::string& body) {
    if (body.find_first_not_of(" \t\r\n") == std::string::npos) return Json::object();
    Json json = Json::parse(body, nullptr, false);
    if (json.is_discarded()) return Json{{"text", valid_utf8(body)}};
    return json;
  }

  std::string redact(std::string text) const {
    text = vault_.redact(std::move(text));
    if (derived_secret_.empty()) return text;
    for (size_t at = text.find(derived_secret_); at != std::string::npos;
         at = text.find(derived_secret_, at + 3)) {
      text.replace(at, derived_secret_.size(), "***");
    }
    return text;
  }

  Json redact(const Json& value) const {
    if (value.is_string()) return redact(value.get<std::string>());
    if (value.is_array()) {
      Json out = Json::array();
      for (const Json& element : value) out.push_back(redact(element));
      return out;
    }
    if (value.is_object()) {
      Json out = Json::object();
      for (const auto& [key, element] : value.items()) out[redact(key)] = redact(element);
      return out;
    }
    return value;
  }

  // Constant after construction.
  std::string name_;
  std::string base_url_;  // without a trailing '/'
  long timeout_ms_;
  Headers headers_;             // connector headers, with Authorization
  std::string derived_secret_;  // the basic-auth token: not a vault value, redacted here
  std::vector<HttpAction> actions_;
  std::vector<ActionSpec> specs_;
  const Vault& vault_;
};

// Assumes check_headers passed.
Headers header_list(const Json& headers) {
  Headers out;
  if (headers.is_null()) return out;
  for (const auto& [name, value] : headers.items()) out.emplace_back(name, *scalar_text(value));
  return out;
}

}  // namespace

const std::vector<std::string>& http_binding_fields() {
  return kBindingFields;
}

Status check_http_settings(const Json& settings) {
  if (!settings.is_object()) return invalid("", "an http connector must be a mapping");
  if (auto ok = check_fields(settings, "", kSettingsFields); !ok) return ok;
  if (settings.contains("kind") && settings["kind"] != "http") {
    return invalid("/kind", "this is not an http connector");
  }
  bool has_url = settings.contains("base_url");
  if (has_url && (!settings["base_url"].is_string() ||
                  !is_http_url(settings["base_url"].get<std::string>()))) {
    return invalid("/base_url", "must be an http:// or https:// URL, e.g. http://127.0.0.1:8080");
  }
  if (settings.contains("base_url_env")) {
    const Json& env = settings["base_url_env"];
    if (!env.is_string() || !is_env_name(env.get<std::string>())) {
      return invalid("/base_url_env", "must name an environment variable, e.g. ACME_CLOUD_URL");
    }
  } else if (!has_url) {
    return invalid("/base_url", "missing — set base_url (or base_url_env) to the service's URL");
  }
  if (settings.contains("auth")) {
    const Json& auth = settings["auth"];
    if (!auth.is_object() || auth.size() != 1) {
      return invalid("/auth",
                     "must be { bearer: SECRET } or { basic: { user: SECRET, password: SECRET } }");
    }
    if (auto ok = check_fields(auth, "/auth", {"bearer", "basic"}); !ok) return ok;
    if (auth.contains("bearer") &&
        (!auth["bearer"].is_string() || auth["bearer"].get<std::string>().empty())) {
      return invalid("/auth/bearer", "must name a vault secret, e.g. ACME_CLOUD_TOKEN");
    }
    if (auth.contains("basic")) {
      const Json& basic = auth["basic"];
      if (!basic.is_object()) {
        return invalid("/auth/basic", "must be { user: SECRET, password: SECRET }");
      }
      if (auto ok = check_fields(basic, "/auth/basic", {"user", "password"}); !ok) return ok;
      for (const char* key : {"user", "password"}) {
        if (!basic.contains(key) || !basic[key].is_string() ||
            basic[key].get<std::string>().empty()) {
          return invalid(std::string("/auth/basic/") + key, "must name a vault secret");
        }
      }
    }
  }
  if (settings.contains("timeout_ms")) {
    const Json& timeout = settings["timeout_ms"];
    if (!timeout.is_number_integer() || timeout.get<long>() < 1 ||
        timeout.get<long>() > kMaxTimeoutMs) {
      return invalid("/timeout_ms", "must be a whole number of milliseconds from 1 to " +
                                        std::to_string(kMaxTimeoutMs));
    }
  }
  if (settings.contains("headers")) return check_headers(settings["headers"], "/headers");
  return {};
}

Status check_http_binding(const Json& binding, const Json& params_schema) {
  if (!binding.is_object()) return invalid("", "an http action must be a mapping");
  if (auto ok = check_fields(binding, "", kBindingFields); !ok) return ok;
  Json properties = params_schema.is_object() ? params_schema.value("properties", Json::object())
                                              : Json::object();
  if (!binding.contains("method")) {
    return invalid("/method", "missing — set GET, POST, PUT, PATCH or DELETE");
  }
  if (auto ok = check_method(binding["method"], "/method"); !ok) return ok;
  if (!binding.contains("path")) {
    return invalid("/path", "missing — set the request path, e.g. /v1/instances/{id}");
  }
  if (auto ok = check_path(binding["path"], "/path", properties); !ok) return ok;
  for (const char* key : {"query", "body"}) {
    if (!binding.contains(key)) continue;
    if (auto ok = check_arg_mapping(binding[key], std::string("/") + key, properties); !ok) {
      return ok;
    }
  }
  if (binding.contains("headers")) {
    if (auto ok = check_headers(binding["headers"], "/headers"); !ok) return ok;
  }
  if (binding.contains("dry_run")) {
    const Json& dry = binding["dry_run"];
    if (!dry.is_object() || dry.empty()) {
      return invalid("/dry_run",
                     "must say how to ask for a preview, e.g. { query: { dry_run: \"true\" } }");
    }
    if (auto ok = check_fields(dry, "/dry_run", kDryRunFields); !ok) return ok;
    if (dry.contains("method")) {
      if (auto ok = check_method(dry["method"], "/dry_run/method"); !ok) return ok;
    }
    if (dry.contains("path")) {
      if (auto ok = check_path(dry["path"], "/dry_run/path", properties); !ok) return ok;
    }
    if (dry.contains("query")) {
      if (!dry["query"].is_object()) {
        return invalid("/dry_run/query", "must map query names to fixed values");
      }
      for (const auto& [name, value] : dry["query"].items()) {
        if (!scalar_text(value)) {
          return invalid("/dry_run/query/" + name, "must be a string, number or boolean");
        }
      }
    }
    if (dry.contains("headers")) {
      if (auto ok = check_headers(dry["headers"], "/dry_run/headers"); !ok) return ok;
    }
  }
  return {};
}

Result<std::unique_ptr<Connector>> make_http_connector(const ConnectorConfig& config,
                                                       const Vault& vault) {
  const std::string where = "connector '" + config.name + "'";
  auto located = [&](const Error& error, const std::string& action = "") {
    std::string context = where;
    if (!action.empty()) context += " action '" + action + "'";
    if (!config.loc.file.empty()) context = config.loc.str() + ": " + context;
    return fail(error.code, context + ": " + error.message);
  };
  if (auto ok = check_http_settings(config.settings); !ok) return located(ok.error());
  const Json& settings = config.settings;

  std::string base_url = settings.value("base_url", "");
  if (settings.contains("base_url_env")) {
    std::string env_name = settings["base_url_env"].get<std::string>();
    const char* env = std::getenv(env_name.c_str());
    if (env != nullptr && *env != '\0') {
      if (!is_http_url(env)) {
        return fail(ErrorCode::kInvalidInput,
                    where + ": $" + env_name + " must be an http:// or https:// URL");
      }
      base_url = env;
    } else if (base_url.empty()) {
      return fail(ErrorCode::kInvalidInput,
                  where + ": base_url_env names " + env_name +
                      ", which is not set, and there is no base_url — export " + env_name +
                      " or set base_url");
    }
  }
  while (!base_url.empty() && base_url.back() == '/') base_url.pop_back();

  Headers headers = header_list(settings.value("headers", Json(nullptr)));
  std::string derived_secret;
  if (settings.contains("auth")) {
    const Json& auth = settings["auth"];
    if (auth.contains("bearer")) {
      auto token = vault.get(auth["bearer"].get<std::string>());
      if (!token) return located(token.error().with_context("auth.bearer: "));
      set_header(headers, "Authorization", "Bearer " + *token);
    } else {
      auto user = vault.get(auth["basic"]["user"].get<std::string>());
      if (!user) return located(user.error().with_context("auth.basic.user: "));
      auto password = vault.get(auth["basic"]["password"].get<std::string>());
      if (!password) return located(password.error().with_context("auth.basic.password: "));
      derived_secret = base64(*user + ":" + *password);
      set_header(headers, "Authorization", "Basic " + derived_secret);
    }
    for (const auto& [name, value] : headers) {
      if (has_line_break(value)) {
        return fail(ErrorCode::kInvalidInput,
                    where + ": an auth secret contains a line break — fix it in the vault");
      }
    }
  }

  std::vector<HttpAction> actions;
  std::set<std::string> names;
  for (const DeclaredAction& declared : config.actions) {
    HttpAction action;
    action.spec = declared.spec;
    if (!action.spec.name.starts_with(config.name + ".")) {
      action.spec.name = config.name + "." + action.spec.name;
    }
    if (!names.insert(action.spec.name).second) {
      return fail(ErrorCode::kInvalidInput,
                  where + ": action " + action.spec.name + " is declared twice — keep one");
    }
    if (auto ok = check_http_binding(declared.binding, declared.spec.params_schema); !ok) {
      return located(ok.error(), action.spec.name);
    }
    const Json& binding = declared.binding;
    action.method = upper(binding["method"].get<std::string>());
    action.path = binding["path"].get<std::string>();
    action.query = binding.value("query", Json(nullptr));
    action.body = binding.value("body", Json(nullptr));
    action.dry_run = binding.value("dry_run", Json(nullptr));
    action.spec.supports_dry_run = !action.dry_run.is_null();
    action.headers = header_list(binding.value("headers", Json(nullptr)));
    actions.push_back(std::move(action));
  }
  long timeout_ms = settings.value("timeout_ms", kDefaultTimeoutMs);
  return std::make_unique<HttpConnector>(config.name, std::move(base_url), timeout_ms,
                                         std::move(headers), std::move(derived_secret),
                                         std::move(actions), vault);
}

}  // namespace ergon
