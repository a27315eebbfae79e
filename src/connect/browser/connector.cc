// The browser connector: built-in actions over one Chromium tab per session.
// See include/ergon/browser.h and docs/workspace.md, "Browser connectors".
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <regex>
#include <set>
#include <thread>
#include <utility>

#include "connect/browser/interrupts.h"
#include "connect/browser/page.h"
#include "ergon/browser.h"
#include "ergon/learn.h"

namespace ergon {
namespace {

namespace fs = std::filesystem;
using browser::Page;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

const std::vector<std::string> kSettings = {
    "kind",       "base_url",   "base_url_env", "allowed_origins", "headless",
    "executable", "timeout_ms", "dialogs",      "consent_rules",   "grounding"};

// ---------------------------------------------------------------------------
// Action specs

Json effect_param() {
  return {{"type", "string"}, {"enum", {"read", "write", "irreversible"}}};
}

Json target_param() {
  return {{"anyOf", Json::array({Json{{"type", "string"}, {"minLength", 1}},
                                 Json{{"type", "object"}, {"minProperties", 1}}})}};
}

ActionSpec spec(const std::string& connector, const std::string& action,
                const std::string& description, Effect effect, Json properties,
                std::vector<std::string> required) {
  properties["effect"] = effect_param();
  ActionSpec s;
  s.name = connector + "." + action;
  s.description = description;
  s.effect = effect;
  s.params_schema = {{"type", "object"},
                     {"properties", std::move(properties)},
                     {"required", std::move(required)},
                     {"additionalProperties", false}};
  return s;
}

// ---------------------------------------------------------------------------
// URLs and origins

struct Url {
  std::string scheme, host, rest;  // rest: path?query#fragment
  int port = 0;
};

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

std::optional<Url> parse_url(const std::string& text) {
  auto colon = text.find("://");
  if (colon == std::string::npos || colon == 0) return std::nullopt;
  Url url;
  url.scheme = lower(text.substr(0, colon));
  size_t start = colon + 3;
  size_t end = text.find_first_of("/?#", start);
  std::string authority =
      text.substr(start, end == std::string::npos ? std::string::npos : end - start);
  if (auto at = authority.rfind('@'); at != std::string::npos) authority = authority.substr(at + 1);
  if (authority.empty()) return std::nullopt;
  auto port_colon = authority.rfind(':');
  if (port_colon != std::string::npos && authority.find(']') == std::string::npos) {
    url.port = std::atoi(authority.substr(port_colon + 1).c_str());
    authority = authority.substr(0, port_colon);
  }
  url.host = lower(authority);
  if (url.port == 0) url.port = url.scheme == "https" ? 443 : url.scheme == "http" ? 80 : 0;
  url.rest = end == std::string::npos ? "/" : text.substr(end);
  return url;
}

std::string origin_of(const Url& url) {
  bool default_port =
      (url.scheme == "http" && url.port == 80) || (url.scheme == "https" && url.port == 443);
  return url.scheme + "://" + url.host + (default_port ? "" : ":" + std::to_string(url.port));
}

// ---------------------------------------------------------------------------
// Settings

struct Settings {
  std::string name;
  std::string base_url;
  std::set<std::string> allowed_origins;
  bool headless = true;
  std::string executable = "/usr/bin/chromium";
  milliseconds timeout{10000};
  bool accept_dialogs = false;
  std::string consent_rules;  // directory, absolute or relative to the workspace
  GroundingOptions grounding;
};

Status setting_error(const std::string& key, const std::string& what) {
  return fail(ErrorCode::kInvalidInput, "/" + key + ": " + what);
}

// ---------------------------------------------------------------------------
// Classifying clicks: what submits, pays, deletes, sends or confirms is
// irreversible unless the skill says otherwise.

const std::regex& risky_words() {
  static const std::regex words(
      R"(\b(submit|pay|purchase|buy|order|checkout|check out|delete|remove|erase|cancel|send|)"
      R"(confirm|book|reserve|transfer|approve|sign|place|finish|complete|publish|post|apply)\b)",
      std::regex::icase);
  return words;
}

bool in_form(const Fingerprint& fp) {
  return fp.dom_path.find("/form") != std::string::npos || fp.dom_path.rfind("form", 0) == 0;
}

bool submits(const Fingerprint& fp) {
  std::string type = lower(fp.type);
  if (fp.tag == "button") return in_form(fp) && (type.empty() || type == "submit");
  if (fp.tag == "input") return type == "submit" || type == "image";
  return false;
}

bool risky(const Fingerprint& fp) {
  for (const std::string* text : {&fp.name, &fp.text, &fp.aria_label}) {
    if (!text->empty() && std::regex_search(*text, risky_words())) return true;
  }
  return false;
}

std::string element_line(const PageElement& e) {
  std::string what = e.fp.role.empty() ? e.fp.tag : e.fp.role;
  std::string label = !e.fp.name.empty() ? e.fp.name : e.fp.text;
  if (label.size() > 60) label = label.substr(0, 57) + "...";
  return fmt::format("[{}] {} '{}'", e.index, what, label);
}

std::string target_text(const Json& target) {
  std::string text = target.is_string() ? target.get<std::string>() : target.dump();
  return text.size() > 160 ? text.substr(0, 157) + "..." : text;
}

// What kind of element an action may target.
enum class Want { kAny, kClickable, kEditable, kSelect, kCheckable };

bool wanted(const PageElement& e, Want want) {
  if (!e.visible) return false;
  switch (want) {
    case Want::kAny: return true;
    case Want::kClickable: return e.interactive;
    case Want::kEditable: return e.editable;
    case Want::kSelect:
      return e.fp.tag == "select" || e.fp.role == "combobox" || e.fp.role == "listbox";
    case Want::kCheckable: {
      std::string type = lower(e.fp.type);
      return type == "checkbox" || type == "radio" || e.fp.role == "checkbox" ||
             e.fp.role == "radio" || e.fp.role == "switch";
    }
  }
  return false;
}

Want want_for(const std::string& action) {
  if (action == "fill") return Want::kEditable;
  if (action == "select") return Want::kSelect;
  if (action == "check") return Want::kCheckable;
  if (action == "click" || action == "press") return Want::kClickable;
  return Want::kAny;
}

std::string json_string(const Json& value) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_null()) return "";
  return value.dump();
}

// ---------------------------------------------------------------------------

// Fingerprints healed on a changed page, keyed by the hash of the target as
// the skill wrote it; used first next time. One JSON file, rewritten whole.
class FingerprintStore {
 public:
  explicit FingerprintStore(std::string path) : path_(std::move(path)) {}

  std::optional<Fingerprint> get(const std::string& key) {
    load();
    auto it = entries_.find(key);
    if (it == entries_.end()) return std::nullopt;
    auto fp = fingerprint_from_json(*it);
    if (!fp) return std::nullopt;
    return *fp;
  }

  Status put(const std::string& key, const Fingerprint& fp) {
    load();
    entries_[key] = to_json(fp);
    std::error_code ec;
    fs::create_directories(fs::path(path_).parent_path(), ec);
    std::string tmp = path_ + ".tmp";
    {
      std::ofstream out(tmp, std::ios::trunc);
      out << entries_.dump(2) << "\n";
      if (!out) return fail(ErrorCode::kInternal, "cannot write " + tmp);
    }
    fs::rename(tmp, path_, ec);
    if (ec) return fail(ErrorCode::kInternal, "cannot write " + path_ + ": " + ec.message());
    return {};
  }

 private:
  void load() {
    if (loaded_) return;
    loaded_ = true;
    std::ifstream in(path_);
    if (!in) return;
    Json parsed = Json::parse(in, nullptr, false);
    if (parsed.is_object()) entries_ = std::move(parsed);
  }

  std::string path_;
  bool loaded_ = false;
  Json entries_ = Json::object();
};

// The element an action found, and how.
struct Grounded {
  PageElement element;
  bool healed = false;
  double score = 1;
};

// A call inspect() grounded, and where.
struct Inspected {
  std::string action;
  Json args;
  std::string person_answer;
  Grounded grounded;
};

class BrowserConnector final : public Connector {
 public:
  BrowserConnector(Settings settings, const Vault& vault, std::string state_dir,
                   std::vector<browser::ConsentRule> rules)
      : settings_(std::move(settings)),
        vault_(vault),
        state_dir_(std::move(state_dir)),
        specs_(browser_actions(settings_.name)),
        interrupts_(std::move(rules)),
        fingerprints_((fs::path(state_dir_) / "fingerprints.json").string()) {
    for (ActionSpec& s : specs_) {
      std::string action = s.name.substr(settings_.name.size() + 1);
      if (action == "click" || action == "press") s.supports_dry_run = true;
    }
  }

  ~BrowserConnector() override { close_browser(); }

  const std::string& name() const override { return settings_.name; }
  const std::vector<ActionSpec>& actions() const override { return specs_; }

  Result<Json> observe() override {
    std::lock_guard lock(mu_);
    inspected_.reset();
    if (auto s = ensure_page(); !s) return fail(s.error());
    auto snapshot = page_->observe();
    if (!snapshot) return fail(browser_failed(snapshot.error()));
    // Element i's fingerprint is targets[i]: what a step chosen from the list
    // (by a model in agent mode) gives as its target.
    Json targets = Json::array();
    for (const PageElement& e : snapshot->elements) targets.push_back(to_json(e.fp));
    return Json{{"url", snapshot->url},
                {"title", snapshot->title},
                {"elements", describe(*snapshot)},
                {"targets", std::move(targets)}};
  }

  Result<Json> execute(const ActionCall& call) override {
    std::lock_guard lock(mu_);
    inspected_.reset();
    auto result = run(call, false);
    if (!result) return fail(browser_failed(result.error()));
    return result;
  }

  Result<Json> dry_run(const ActionCall& call) override {
    std::lock_guard lock(mu_);
    std::optional<Inspected> inspected = std::exchange(inspected_, std::nullopt);
    std::string action = short_name(call.action);
    if (action != "click" && action != "press") {
      return fail(ErrorCode::kNotFound, call.action + " has no preview");
    }
    if (!call.args.contains("target")) return Json{{"action", call.action}};
    if (auto s = ensure_page(); !s) return fail(s.error());
    // The approval guard previews the call inspect() has just grounded.
    bool same = inspected && inspected->action == call.action && inspected->args == call.args &&
                inspected->person_answer == call.person_answer;
    auto grounded =
        same ? Result<Grounded>(std::move(inspected->grounded)) : find(call, want_for(action));
    if (!grounded) return fail(browser_failed(grounded.error()));
    Json preview = {{"element", element_line(grounded->element)}};
    if (auto loc = page_->location()) preview["url"] = loc->first;
    if (auto form = page_->form_values(grounded->element); form && !form->empty()) {
      preview["form"] = vault_.redact(*form);
    }
    std::string shot = next_screenshot_path("preview");
    if (page_->screenshot(shot)) preview["screenshot"] = shot;
    return preview;
  }

  Result<Json> inspect(const ActionCall& call) override {
    std::string action = short_name(call.action);
    if (action == "navigate") {
      std::string url = resolve(json_string(call.args.value("url", Json())));
      if (!allowed(url)) {
        return fail(
            ErrorCode::kDenied,
            "navigation to " + url + " is outside the allowed origins (" + join_origins() + ")");
      }
    }
    if (auto effect = call.args.find("effect"); effect != call.args.end() && effect->is_string()) {
      return Json{{"effect", *effect}};
    }
    if (action != "click" && !(action == "press" && call.args.contains("target"))) {
      return Json::object();
    }
    std::lock_guard lock(mu_);
    inspected_.reset();
    if (auto s = ensure_page(); !s) return fail(s.error());
    auto grounded = find(call, want_for(action));
    // Grounding problems surface when the action runs, with the person's help.
    if (!grounded) return Json::object();
    const Fingerprint& fp = grounded->element.fp;
    bool irreversible = action == "click"
                            ? submits(fp) || risky(fp)
                            : in_form(fp) && lower(call.args.value("key", "")) == "enter";
    if (!irreversible) return Json::object();
    inspected_ = Inspected{call.action, call.args, call.person_answer, std::move(*grounded)};
    return Json{{"effect", "irreversible"}};
  }

  void begin_session(const std::string& session) override {
    std::lock_guard lock(mu_);
    inspected_.reset();
    session_ = session;
    restore_ = Json();
    std::ifstream in(state_file());
    if (in) {
      Json state = Json::parse(in, nullptr, false);
      if (state.is_object()) restore_ = std::move(state);
    }
  }

  void end_session(const std::string& session, bool finished) override {
    std::lock_guard lock(mu_);
    inspected_.reset();
    if (session != session_) return;
    std::error_code ec;
    if (finished) {
      close_browser();
      fs::remove_all(session_dir(), ec);
    } else {
      save_state();
      close_browser();
    }
    session_.clear();
  }

 private:
  // -------------------------------------------------------------------------
  // The browser's life

  std::string session_dir() const {
    return (fs::path(state_dir_) / "sessions" / (session_.empty() ? "default" : session_)).string();
  }
  std::string state_file() const { return (fs::path(session_dir()) / "state.json").string(); }

  Status ensure_page() {
    if (browser_ && browser_->alive() && page_) return {};
    close_browser();
    ChromiumOptions options;
    options.executable = settings_.executable;
    options.headless = settings_.headless;
    options.profile_dir = (fs::path(session_dir()) / "profile").string();
    options.command_timeout = settings_.timeout;
    auto launched = Chromium::launch(options);
    if (!launched) return fail(launched.error());
    browser_ = std::move(*launched);
    bool accept = settings_.accept_dialogs;
    auto page = Page::open(
        *browser_, [this](const std::string& url) { return allowed(url); },
        [accept](const browser::Dialog&) { return accept; });
    if (!page) {
      close_browser();
      return fail(page.error());
    }
    page_ = std::move(*page);
    return restore();
  }

  // A fresh browser picks up where the last one stopped: cookies, the page,
  // and what was typed into it since it loaded.
  Status restore() {
    Json state = std::move(restore_);
    restore_ = Json();
    if (!state.is_object()) {
      if (!cookies_.is_array() || last_url_.empty()) return {};
      state = {{"cookies", cookies_}, {"url", last_url_}, {"typed", typed_}};
    }
    if (auto cookies = state.find("cookies"); cookies != state.end() && cookies->is_array()) {
      if (auto s = page_->set_cookies(*cookies); !s) return s;
      cookies_ = *cookies;
    }
    std::string url = state.value("url", "");
    if (url.empty() || url == "about:blank") return {};
    if (auto s = page_->navigate(url, settings_.timeout); !s) return s;
    last_url_ = url;
    typed_ = Json::array();
    for (const Json& call : state.value("typed", Json::array())) {
      ActionCall again{call.value("action", ""), call.value("args", Json::object()), ""};
      if (auto r = run(again, true); !r) {
        return fail(r.error().with_context("restoring the page after a browser restart: "));
      }
    }
    return {};
  }

  void save_state() {
    if (!page_ || !browser_ || !browser_->alive()) {
      if (last_url_.empty()) return;
    } else if (auto cookies = page_->cookies()) {
      cookies_ = *cookies;
    }
    std::error_code ec;
    fs::create_directories(session_dir(), ec);
    std::string path = state_file();
    Json state = {{"cookies", cookies_.is_array() ? cookies_ : Json::array()},
                  {"url", last_url_},
                  {"typed", typed_}};
    // Cookies are credentials: only the owner may read the file.
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return;
    std::string text = state.dump();
    ssize_t written = ::write(fd, text.data(), text.size());
    (void)written;
    ::close(fd);
  }

  void close_browser() {
    page_.reset();
    browser_.reset();
  }

  // A browser that died or stopped answering is dropped; the next attempt
  // starts a fresh one and restores the page. The error stays retryable.
  Error browser_failed(const Error& error) {
    if (error.code != ErrorCode::kUnavailable && error.code != ErrorCode::kTimeout) return error;
    if (browser_ && browser_->alive() && error.code == ErrorCode::kUnavailable) return error;
    std::string why =
        browser_ && !browser_->alive() ? browser_->exit_reason() : "no answer in time";
    if (browser_ && browser_->alive()) browser_->kill();
    close_browser();
    return {error.code,
            error.message + " (browser " + why + "; a fresh one starts on the next attempt)"};
  }

  // -------------------------------------------------------------------------
  // Actions

  static std::string short_name(const std::string& action) {
    auto dot = action.find('.');
    return dot == std::string::npos ? action : action.substr(dot + 1);
  }

  Result<Json> run(const ActionCall& call, bool replaying) {
    std::string action = short_name(call.action);
    if (auto s = ensure_page(); !s) return fail(s.error());
    unchanged_page_.reset();
    Json result = Json::object();
    if (action != "navigate" && action != "screenshot" && !replaying) {
      auto handled = clear_interrupts(call, action);
      if (!handled) return fail(handled.error());
      if (!handled->handled.empty()) result["interrupts"] = handled->to_json()["handled"];
    }
    Result<Json> done = fail(ErrorCode::kInvalidInput, "unknown browser action " + call.action);
    if (action == "navigate")
      done = navigate(call);
    else if (action == "click")
      done = click(call);
    else if (action == "fill")
      done = fill(call);
    else if (action == "select")
      done = select(call);
    else if (action == "check")
      done = check(call);
    else if (action == "press")
      done = press(call);
    else if (action == "scroll")
      done = scroll(call);
    else if (action == "wait_for")
      done = wait_for(call);
    else if (action == "extract")
      done = extract(call);
    else if (action == "screenshot")
      done = screenshot(call);
    unchanged_page_.reset();
    if (!done) return done;
    result.update(*done);
    if (auto dialog = page_->take_dialog()) {
      result["dialog"] = {{"type", dialog->type},
                          {"message", dialog->message},
                          {"answered", settings_.accept_dialogs ? "accept" : "dismiss"}};
    }
    if (auto s = after_action(call, action, result); !s) return fail(s.error());
    return result;
  }

  // Remembers where the page is, its cookies and what was typed into it, so
  // a restarted browser can restore it. navigate, click and press read the
  // location as their last step: their result's url is the page's.
  Status after_action(const ActionCall& call, const std::string& action, const Json& result) {
    std::string url;
    auto read = result.find("url");
    if ((action == "navigate" || action == "click" || action == "press") && read != result.end() &&
        read->is_string()) {
      url = read->get<std::string>();
    } else {
      auto loc = page_->location();
      if (!loc) return fail(loc.error());
      url = std::move(loc->first);
    }
    if (url != last_url_) {
      last_url_ = std::move(url);
      typed_ = Json::array();
    }
    if (action == "fill" || action == "select" || action == "check") {
      typed_.push_back({{"action", call.action}, {"args", call.args}});
    }
    if (action != "extract" && action != "wait_for" && action != "screenshot" &&
        action != "scroll") {
      if (auto cookies = page_->cookies()) cookies_ = *cookies;
    }
    return {};
  }

  Result<browser::InterruptReport> clear_interrupts(const ActionCall& call,
                                                    const std::string& action) {
    auto snapshot = page_->observe();
    if (!snapshot) return fail(snapshot.error());
    browser::ActionContext context{action, expects_login(call)};
    // A person said the way is clear ("done"): look again, but a CAPTCHA
    // still there stops the step again.
    auto report = interrupts_.handle(*page_, *snapshot, context);
    // The handlers only read a page they did nothing to: grounding may start
    // from the same observation instead of capturing it again.
    if (report && report->handled.empty()) unchanged_page_ = std::move(*snapshot);
    return report;
  }

  static bool expects_login(const ActionCall& call) {
    if (call.args.contains("secret")) return true;
    std::string target = lower(call.args.value("target", Json()).dump());
    for (const char* word :
         {"pass", "sign in", "log in", "login", "signin", "user", "email", "e-mail"}) {
      if (target.find(word) != std::string::npos) return true;
    }
    return false;
  }

  std::string resolve(const std::string& url) const {
    if (url.find("://") != std::string::npos || url.rfind("about:", 0) == 0) return url;
    std::string base = settings_.base_url;
    if (auto parsed = parse_url(base)) {
      if (!url.empty() && url[0] == '/') return origin_of(*parsed) + url;
    }
    if (!base.empty() && base.back() != '/') base += "/";
    return base + url;
  }

  bool allowed(const std::string& url) const {
    if (url == "about:blank") return true;
    auto parsed = parse_url(url);
    if (!parsed || (parsed->scheme != "http" && parsed->scheme != "https")) return false;
    return settings_.allowed_origins.contains(origin_of(*parsed));
  }

  std::string join_origins() const {
    std::string out;
    for (const std::string& o : settings_.allowed_origins) out += (out.empty() ? "" : ", ") + o;
    return out;
  }

  Result<Json> page_location() {
    auto loc = page_->location();
    if (!loc) return fail(loc.error());
    return Json{{"url", loc->first}, {"title", loc->second}};
  }

  Result<Json> navigate(const ActionCall& call) {
    std::string url = resolve(json_string(call.args.value("url", Json())));
    if (!allowed(url)) {
      return fail(ErrorCode::kDenied, "navigation to " + url + " is outside the allowed origins (" +
                                          join_origins() + ")");
    }
    if (auto s = page_->navigate(url, settings_.timeout); !s) return fail(s.error());
    return page_location();
  }

  // Waits for a navigation the last input may have started: up to 150 ms for
  // it to begin, then until its load event.
  Status settle(const std::function<Status()>& input) {
    std::string session = page_->session();
    auto started = browser_->expect([session](const CdpEvent& e) {
      return e.session == session && e.method == "Page.frameStartedLoading";
    });
    auto loaded = browser_->expect([session](const CdpEvent& e) {
      return e.session == session && e.method == "Page.loadEventFired";
    });
    if (auto s = input(); !s) return s;
    if (started->wait(milliseconds(150))) {
      if (auto l = loaded->wait(settings_.timeout); !l && l.error().code != ErrorCode::kTimeout) {
        return fail(l.error());
      }
    }
    if (std::string blocked = page_->take_blocked_navigation(); !blocked.empty()) {
      return fail(ErrorCode::kDenied, "the page tried to go to " + blocked +
                                          ", outside the allowed origins (" + join_origins() +
                                          "); refused");
    }
    return {};
  }

  Result<Page::Point> ready(const Grounded& g, bool editable) {
    auto point = page_->actionable(g.element, editable, settings_.timeout);
    if (!point) {
      return fail(point.error().with_context(element_line(g.element) + ": "));
    }
    return *point;
  }

  Json element_result(const Grounded& g) {
    Json out = {{"element", element_line(g.element)}};
    if (g.healed) {
      out["healed"] = true;
      out["fingerprint"] = to_json(g.element.fp);
    }
    return out;
  }

  Result<Json> click(const ActionCall& call) {
    auto g = find(call, Want::kClickable);
    if (!g) return fail(g.error());
    auto point = ready(*g, false);
    if (!point) return fail(point.error());
    if (auto s = settle([&] { return page_->click_at(*point); }); !s) return fail(s.error());
    auto out = page_location();
    if (!out) return out;
    out->update(element_result(*g));
    return out;
  }

  Result<Json> fill(const ActionCall& call) {
    std::string value;
    std::string shown;
    if (auto secret = call.args.find("secret"); secret != call.args.end()) {
      auto got = vault_.get(json_string(*secret));
      if (!got) return fail(got.error());
      value = *got;
      shown = "[secret " + json_string(*secret) + "]";
    } else if (auto v = call.args.find("value"); v != call.args.end()) {
      value = json_string(*v);
      shown = value;
    } else {
      return fail(ErrorCode::kInvalidInput, "fill needs `value` or `secret`");
    }
    auto g = find(call, Want::kEditable);
    if (!g) return fail(g.error());
    auto point = ready(*g, true);
    if (!point) return fail(point.error());
    if (auto s = page_->type_into(g->element, *point, value); !s) return fail(s.error());
    Json out = element_result(*g);
    out["value"] = shown;
    return out;
  }

  Result<Json> select(const ActionCall& call) {
    auto g = find(call, Want::kSelect);
    if (!g) return fail(g.error());
    if (auto point = ready(*g, false); !point) return fail(point.error());
    auto chosen = page_->select_option(g->element, json_string(call.args.value("option", Json())));
    if (!chosen) return fail(chosen.error());
    Json out = element_result(*g);
    out["value"] = *chosen;
    return out;
  }

  Result<Json> check(const ActionCall& call) {
    bool want = call.args.value("checked", true);
    auto g = find(call, Want::kCheckable);
    if (!g) return fail(g.error());
    if (g->element.checked != want) {
      auto point = ready(*g, false);
      if (!point) return fail(point.error());
      if (auto s = page_->click_at(*point); !s) return fail(s.error());
    }
    Json out = element_result(*g);
    out["checked"] = want;
    return out;
  }

  Result<Json> press(const ActionCall& call) {
    std::string key = json_string(call.args.value("key", Json()));
    if (key.empty()) return fail(ErrorCode::kInvalidInput, "press needs `key`");
    std::optional<Grounded> focused;
    if (call.args.contains("target")) {
      auto g = find(call, Want::kClickable);
      if (!g) return fail(g.error());
      auto point = ready(*g, false);
      if (!point) return fail(point.error());
      if (auto s = page_->click_at(*point); !s) return fail(s.error());
      focused = *g;
    }
    if (auto s = settle([&] { return page_->press(key); }); !s) return fail(s.error());
    auto out = page_location();
    if (!out) return out;
    if (focused) out->update(element_result(*focused));
    return out;
  }

  Result<Json> scroll(const ActionCall& call) {
    if (call.args.contains("target")) {
      auto g = find(call, Want::kAny);
      if (!g) return fail(g.error());
      if (auto point = ready(*g, false); !point) return fail(point.error());
      return element_result(*g);
    }
    double amount = call.args.value("amount", 600.0);
    std::string direction = call.args.value("direction", "down");
    if (auto s = page_->scroll_by(0, direction == "up" ? -amount : amount); !s)
      return fail(s.error());
    return Json::object();
  }

  Result<Json> wait_for(const ActionCall& call) {
    milliseconds timeout{
        call.args.value("timeout_ms", static_cast<int64_t>(settings_.timeout.count()))};
    auto deadline = Clock::now() + timeout;
    std::string text = lower(json_string(call.args.value("text", Json())));
    std::string url = json_string(call.args.value("url", Json()));
    const Json* target = call.args.contains("target") ? &call.args["target"] : nullptr;
    if (text.empty() && url.empty() && target == nullptr) {
      return fail(ErrorCode::kInvalidInput, "wait_for needs `text`, `target` or `url`");
    }
    std::string last;
    while (true) {
      auto snapshot = page_->observe();
      if (!snapshot) return fail(snapshot.error());
      bool ok = true;
      if (!text.empty()) ok = ok && lower(snapshot->text).find(text) != std::string::npos;
      if (!url.empty()) ok = ok && snapshot->url.find(url) != std::string::npos;
      if (target != nullptr && ok) {
        auto fp = target_fingerprint(*target);
        if (!fp) return fail(fp.error());
        ok = ground(*fp, candidates(*snapshot, Want::kAny).second, settings_.grounding).status ==
             GroundingResult::Status::kFound;
      }
      if (ok) return Json{{"url", snapshot->url}, {"title", snapshot->title}};
      last = snapshot->url;
      if (Clock::now() >= deadline) break;
      std::this_thread::sleep_for(milliseconds(100));
    }
    return fail(ErrorCode::kFailedPrecondition,
                fmt::format("waited {} ms on {} for {}", timeout.count(), last,
                            !text.empty()  ? "text '" + text + "'"
                            : !url.empty() ? "a URL containing '" + url + "'"
                                           : "target " + target_text(*target)));
  }

  Result<Json> extract(const ActionCall& call) {
    std::string kind = call.args.value("kind", "text");
    if (kind != "text" && kind != "table") {
      return fail(ErrorCode::kInvalidInput,
                  "extract kind must be text or table, not '" + kind + "'");
    }
    std::optional<Grounded> g;
    if (call.args.contains("target")) {
      auto found = find(call, Want::kAny);
      if (!found) return fail(found.error());
      g = *found;
    }
    if (kind == "text") {
      if (!g) {
        auto snapshot = page_->observe();
        if (!snapshot) return fail(snapshot.error());
        return Json{{"url", snapshot->url}, {"title", snapshot->title}, {"text", snapshot->text}};
      }
      Json out = element_result(*g);
      out["text"] = g->element.fp.text;
      if (!g->element.value.empty()) out["value"] = g->element.value;
      return out;
    }
    auto rows = table_rows(g ? &g->element : nullptr);
    if (!rows) return fail(rows.error());
    Json out = g ? element_result(*g) : Json::object();
    out["rows"] = *rows;
    return out;
  }

  // The rows of the table holding `element` (the page's largest table when
  // none), as objects keyed by the header cells; reading only.
  Result<Json> table_rows(const PageElement* element) {
    static const char* kRead = R"JS(function() {
      const el = this && this.nodeType === 1 ? this : null;
      let table = el ? (el.closest('table') || el.querySelector('table')) : null;
      if (!table) {
        let best = null;
        for (const t of document.querySelectorAll('table')) {
          if (!best || t.rows.length > best.rows.length) best = t;
        }
        table = best;
      }
      if (!table) return null;
      const clean = s => (s || '').replace(/\s+/g, ' ').trim();
      let headers = [];
      const head = table.tHead && table.tHead.rows.length ? table.tHead.rows[0] : null;
      const all = Array.from(table.rows);
      let body = all;
      if (head) { headers = Array.from(head.cells).map(c => clean(c.innerText)); body = all.filter(r => r.parentElement !== table.tHead); }
      else if (all.length && Array.from(all[0].cells).every(c => c.tagName === 'TH')) {
        headers = Array.from(all[0].cells).map(c => clean(c.innerText)); body = all.slice(1);
      }
      return body.map(r => {
        const row = {};
        Array.from(r.cells).forEach((c, i) => {
          let key = headers[i] || ('column ' + (i + 1));
          if (!key) key = 'column ' + (i + 1);
          row[key] = clean(c.innerText);
          const link = c.querySelector('a[href]');
          if (link) row[key + ' link'] = link.getAttribute('href');
        });
        return row;
      });
    })JS";
    std::string session = page_->session();
    std::string object_id;
    if (element != nullptr) {
      auto node = browser_->call("DOM.resolveNode", {{"backendNodeId", element->backend_node_id}},
                                 element->session.empty() ? session : element->session);
      if (!node) return fail(node.error());
      object_id = node->at("object").value("objectId", "");
    }
    Json params = {{"functionDeclaration", kRead}, {"returnByValue", true}};
    Result<Json> answer = fail(ErrorCode::kInternal, "");
    if (!object_id.empty()) {
      params["objectId"] = object_id;
      answer = browser_->call("Runtime.callFunctionOn", params,
                              element->session.empty() ? session : element->session);
    } else {
      answer = page_->evaluate(std::string("(") + kRead + ").call(null)");
      if (answer) answer = Json{{"result", {{"value", *answer}}}};
    }
    if (!answer) return fail(answer.error());
    Json value = answer->contains("result") ? (*answer)["result"].value("value", Json()) : Json();
    if (!value.is_array()) return fail(ErrorCode::kNotFound, "no table on the page to extract");
    return value;
  }

  Result<Json> screenshot(const ActionCall& call) {
    std::string path = next_screenshot_path(call.args.value("name", "shot"));
    if (auto s = page_->screenshot(path); !s) return fail(s.error());
    return Json{{"path", path}};
  }

  std::string next_screenshot_path(const std::string& name) {
    std::error_code ec;
    fs::path dir = fs::path(session_dir()) / "screens";
    fs::create_directories(dir, ec);
    std::string safe;
    for (char c : name) safe += std::isalnum(static_cast<unsigned char>(c)) || c == '-' ? c : '_';
    return (dir / fmt::format("{:03d}-{}.png", ++screenshots_, safe)).string();
  }

  // -------------------------------------------------------------------------
  // Grounding

  static Result<Fingerprint> target_fingerprint(const Json& target) {
    if (target.is_string()) {
      Fingerprint fp;
      fp.text = target.get<std::string>();
      return fp;
    }
    auto fp = fingerprint_from_json(target);
    if (!fp) return fail(fp.error().with_context("target: "));
    if (fp->empty()) return fail(ErrorCode::kInvalidInput, "target names no property");
    return fp;
  }

  static std::pair<std::vector<int>, std::vector<Fingerprint>> candidates(
      const PageSnapshot& snapshot, Want want) {
    std::pair<std::vector<int>, std::vector<Fingerprint>> out;
    for (const PageElement& e : snapshot.elements) {
      if (!wanted(e, want)) continue;
      out.first.push_back(e.index);
      out.second.push_back(e.fp);
    }
    return out;
  }

  // Finds the call's target on the page now. Waits a little for a page still
  // loading; a healed match is written back; an ambiguous or weak one asks a
  // person (kNeedsPerson), whose answer — a candidate's number — comes back in
  // the call's person_answer.
  Result<Grounded> find(const ActionCall& call, Want want) {
    auto target_json = call.args.find("target");
    if (target_json == call.args.end()) {
      return fail(ErrorCode::kInvalidInput, call.action + " needs a `target`");
    }
    auto original = target_fingerprint(*target_json);
    if (!original) return fail(original.error());
    std::string key = sha256_hex(canonical_json(*target_json));
    std::optional<Fingerprint> stored = fingerprints_.get(key);

    auto deadline = Clock::now() + std::min(settings_.timeout, milliseconds(3000));
    std::optional<PageSnapshot> seen = std::exchange(unchanged_page_, std::nullopt);
    while (true) {
      const bool reused = seen.has_value();
      Result<PageSnapshot> snapshot =
          reused ? Result<PageSnapshot>(std::move(*seen)) : page_->observe();
      seen.reset();
      if (!snapshot) return fail(snapshot.error());
      auto [indices, fps] = candidates(*snapshot, want);
      GroundingResult result;
      bool used_stored = false;
      if (stored) {
        result = ground(*stored, fps, settings_.grounding);
        used_stored = result.status == GroundingResult::Status::kFound;
      }
      if (!used_stored) result = ground(*original, fps, settings_.grounding);
      if (result.status == GroundingResult::Status::kFound) {
        Grounded g{snapshot->elements[indices[result.best()->index]], false, result.best()->score};
        // Healed relative to what the skill says: remember the page as it is.
        if (result.healed || used_stored) {
          g.healed = result.healed || used_stored;
          if (result.healed) {
            if (auto s = fingerprints_.put(key, g.element.fp); !s) return fail(s.error());
          }
        }
        return g;
      }
      if (!call.person_answer.empty() && !result.ranked.empty()) {
        int choice = std::atoi(call.person_answer.c_str());
        if (choice >= 1 && choice <= static_cast<int>(result.ranked.size())) {
          Grounded g{snapshot->elements[indices[result.ranked[choice - 1].index]], true,
                     result.ranked[choice - 1].score};
          if (auto s = fingerprints_.put(key, g.element.fp); !s) return fail(s.error());
          // A real labelled pair for `ergon train`: on this page, the skill's
          // target is this candidate. Once per pick, though inspect(),
          // dry_run() and execute() each ground the same answered call.
          LabelledPair pick{"", *original, std::move(fps), result.ranked[choice - 1].index,
                            snapshot->url};
          Json seen = Json::array();
          for (const Fingerprint& fp : pick.elements) seen.push_back(to_json(fp));
          std::string id = sha256_hex(canonical_json(Json{{"target", to_json(pick.target)},
                                                          {"url", pick.url},
                                                          {"picked", pick.answer},
                                                          {"elements", std::move(seen)}}));
          if (id != last_pick_) {
            const std::string file = (fs::path(state_dir_) / "picks.jsonl").string();
            if (auto s = append_labelled_pair(file, pick); !s) return fail(s.error());
            last_pick_ = std::move(id);
          }
          return g;
        }
      }
      // Not found on the handlers' observation: look at the page now.
      if (reused) continue;
      if (Clock::now() >= deadline) {
        if (result.ranked.empty()) {
          return fail(ErrorCode::kFailedPrecondition,
                      "nothing on " + snapshot->url + " can be " + target_text(*target_json));
        }
        std::string list;
        for (size_t i = 0; i < result.ranked.size(); ++i) {
          const PageElement& e = snapshot->elements[indices[result.ranked[i].index]];
          // The text beside it tells alike candidates apart ("Select" in
          // the row of "Harbor MRI").
          std::string near = e.fp.neighbor_text.size() > 40
                                 ? e.fp.neighbor_text.substr(0, 37) + "..."
                                 : e.fp.neighbor_text;
          list += fmt::format("{}{}) {}{} (score {:.2f})", i ? ", " : "", i + 1, element_line(e),
                              near.empty() ? "" : " near '" + near + "'", result.ranked[i].score);
        }
        const char* why = result.status == GroundingResult::Status::kAmbiguous
                              ? "matches several elements equally well"
                              : "matches nothing on the page well";
        return fail(ErrorCode::kNeedsPerson,
                    fmt::format("target {} {} on {}: {} — answer with the number of the right "
                                "element, or 'abort'",
                                target_text(*target_json), why, snapshot->url, list));
      }
      std::this_thread::sleep_for(milliseconds(100));
    }
  }

  Settings settings_;
  const Vault& vault_;
  std::string state_dir_;
  std::vector<ActionSpec> specs_;
  browser::Interrupts interrupts_;
  FingerprintStore fingerprints_;
  std::string last_pick_;  // the last pick appended to picks.jsonl (its key)

  std::mutex mu_;
  std::string session_;
  std::unique_ptr<Chromium> browser_;
  std::unique_ptr<Page> page_;
  // The interrupt handlers' observation of the current action's page, when
  // they did nothing to it: find()'s first look. Empty outside run().
  std::optional<PageSnapshot> unchanged_page_;
  // An irreversible call inspect() just grounded, for the approval preview
  // the guard chain asks for next: dry_run takes it; inspecting another click,
  // executing, observing and the session calls drop it.
  std::optional<Inspected> inspected_;
  Json restore_;  // state saved by an earlier process of this session
  Json cookies_;  // last known cookies (array), for a restart
  std::string last_url_;
  Json typed_ = Json::array();  // fill/select/check calls since last_url_ loaded
  int screenshots_ = 0;
};

}  // namespace

std::vector<ActionSpec> browser_actions(const std::string& c) {
  Json target = target_param();
  Json string = {{"type", "string"}};
  std::vector<ActionSpec> specs;
  specs.push_back(spec(c, "navigate", "Open a URL (relative to the base URL)", Effect::kRead,
                       {{"url", {{"type", "string"}, {"minLength", 1}}}}, {"url"}));
  specs.push_back(spec(c, "click", "Click an element (real mouse input)", Effect::kWrite,
                       {{"target", target}}, {"target"}));
  specs.push_back(
      spec(c, "fill", "Type a value, or a vault secret, into a field", Effect::kWrite,
           {{"target", target}, {"value", {{"type", {"string", "number"}}}}, {"secret", string}},
           {"target"}));
  specs.push_back(spec(
      c, "select", "Choose an option of a select by label or value", Effect::kWrite,
      {{"target", target}, {"option", {{"type", {"string", "number"}}}}}, {"target", "option"}));
  specs.push_back(spec(c, "check", "Tick or untick a checkbox or radio button", Effect::kWrite,
                       {{"target", target}, {"checked", {{"type", "boolean"}}}}, {"target"}));
  specs.push_back(spec(c, "press", "Press a key, optionally in an element", Effect::kWrite,
                       {{"key", {{"type", "string"}, {"minLength", 1}}}, {"target", target}},
                       {"key"}));
  specs.push_back(spec(c, "scroll", "Scroll an element into view, or the page", Effect::kRead,
                       {{"target", target},
                        {"direction", {{"type", "string"}, {"enum", {"up", "down"}}}},
                        {"amount", {{"type", "number"}}}},
                       {}));
  specs.push_back(spec(c, "wait_for", "Wait for text, an element or a URL", Effect::kRead,
                       {{"text", string},
                        {"target", target},
                        {"url", string},
                        {"timeout_ms", {{"type", "integer"}, {"minimum", 1}}}},
                       {}));
  specs.push_back(
      spec(c, "extract", "Read text or a table from the page", Effect::kRead,
           {{"target", target}, {"kind", {{"type", "string"}, {"enum", {"text", "table"}}}}}, {}));
  specs.push_back(
      spec(c, "screenshot", "Save a PNG of the viewport", Effect::kRead, {{"name", string}}, {}));
  // Typing the same value again, or ticking a box again, changes nothing more:
  // these may be re-sent after a crash.
  for (ActionSpec& s : specs) {
    std::string action = s.name.substr(c.size() + 1);
    if (action == "fill" || action == "select" || action == "check") {
      s.idempotency_key = "${session}:${step}:${item}";
    }
  }
  return specs;
}

Status check_browser_settings(const Json& settings) {
  for (const auto& [key, value] : settings.items()) {
    if (std::find(kSettings.begin(), kSettings.end(), key) == kSettings.end()) {
      return setting_error(key,
                           "unknown setting for a browser connector (known: base_url, "
                           "base_url_env, allowed_origins, headless, executable, timeout_ms, "
                           "dialogs, consent_rules, grounding)");
    }
  }
  for (const char* key : {"base_url", "base_url_env", "executable", "consent_rules"}) {
    if (settings.contains(key) && !settings[key].is_string()) {
      return setting_error(key, "must be a string");
    }
  }
  if (settings.contains("base_url") && !parse_url(settings["base_url"].get<std::string>())) {
    return setting_error("base_url", "must be an absolute http(s) URL like http://127.0.0.1:8090");
  }
  if (settings.contains("allowed_origins")) {
    const Json& list = settings["allowed_origins"];
    if (!list.is_array()) return setting_error("allowed_origins", "must be a list of origins");
    for (size_t i = 0; i < list.size(); ++i) {
      auto url = list[i].is_string() ? parse_url(list[i].get<std::string>()) : std::nullopt;
      if (!url || (url->rest != "/" && !url->rest.empty())) {
        return setting_error("allowed_origins/" + std::to_string(i),
                             "must be an origin like https://portal.example.com (scheme, host, "
                             "optional port; no path)");
      }
    }
  }
  if (settings.contains("headless") && !settings["headless"].is_boolean()) {
    return setting_error("headless", "must be true or false");
  }
  if (settings.contains("timeout_ms") &&
      (!settings["timeout_ms"].is_number_integer() || settings["timeout_ms"].get<int64_t>() <= 0)) {
    return setting_error("timeout_ms", "must be a positive whole number of milliseconds");
  }
  if (settings.contains("dialogs")) {
    const Json& d = settings["dialogs"];
    if (!d.is_string() || (d != "dismiss" && d != "accept")) {
      return setting_error("dialogs", "must be dismiss or accept");
    }
  }
  if (settings.contains("grounding")) {
    const Json& g = settings["grounding"];
    if (!g.is_object())
      return setting_error("grounding", "must be a mapping (min_score, min_margin)");
    for (const auto& [key, value] : g.items()) {
      if (key != "min_score" && key != "min_margin") {
        return setting_error("grounding/" + key, "unknown setting (known: min_score, min_margin)");
      }
      if (!value.is_number() || value.get<double>() < 0 || value.get<double>() > 1) {
        return setting_error("grounding/" + key, "must be a number between 0 and 1");
      }
    }
  }
  return {};
}

Result<std::unique_ptr<Connector>> make_browser_connector(const ConnectorConfig& config,
                                                          const Vault& vault,
                                                          const std::string& state_dir) {
  std::string where = config.loc.str().empty() ? "" : config.loc.str() + ": ";
  if (auto ok = check_browser_settings(config.settings); !ok) {
    return fail(ok.error().with_context(where + "connector '" + config.name + "': "));
  }
  const Json& s = config.settings;
  Settings settings;
  settings.name = config.name;
  settings.base_url = s.value("base_url", "");
  if (std::string env = s.value("base_url_env", ""); !env.empty()) {
    if (const char* value = std::getenv(env.c_str()); value != nullptr && *value != '\0') {
      settings.base_url = value;
    }
  }
  if (!settings.base_url.empty() && !parse_url(settings.base_url)) {
    return fail(ErrorCode::kInvalidInput, where + "connector '" + config.name + "': base URL '" +
                                              settings.base_url + "' is not an absolute URL");
  }
  for (const Json& origin : s.value("allowed_origins", Json::array())) {
    settings.allowed_origins.insert(origin_of(*parse_url(origin.get<std::string>())));
  }
  if (settings.allowed_origins.empty() && !settings.base_url.empty()) {
    settings.allowed_origins.insert(origin_of(*parse_url(settings.base_url)));
  }
  settings.headless = s.value("headless", true);
  settings.executable = s.value("executable", "/usr/bin/chromium");
  settings.timeout = milliseconds(s.value("timeout_ms", static_cast<int64_t>(10000)));
  settings.accept_dialogs = s.value("dialogs", "dismiss") == "accept";
  // The workspace's learned grounding model (`ergon train`), when the state
  // is a workspace's (<workspace>/.ergon/browser) and it has one: its weights
  // and thresholds; thresholds set in ergon.yaml still win.
  fs::path state = fs::path(state_dir).lexically_normal();
  if (!state.has_filename()) state = state.parent_path();  // "…/browser/"
  if (state.filename() == "browser" && state.parent_path().filename() == ".ergon") {
    auto model = load_grounding_model(state.parent_path().parent_path().string());
    if (!model) {
      return fail(model.error().with_context(where + "connector '" + config.name + "': "));
    }
    if (*model) settings.grounding = (*model)->options;
  }
  if (auto g = s.find("grounding"); g != s.end()) {
    settings.grounding.min_score = g->value("min_score", settings.grounding.min_score);
    settings.grounding.min_margin = g->value("min_margin", settings.grounding.min_margin);
  }
  std::vector<browser::ConsentRule> rules;
  if (std::string dir = s.value("consent_rules", ""); !dir.empty()) {
    fs::path path = fs::path(dir).is_absolute()
                        ? fs::path(dir)
                        : fs::path(state_dir).parent_path().parent_path() / dir;
    auto loaded = browser::load_consent_rules(path.string());
    if (!loaded) return fail(loaded.error());
    rules = std::move(*loaded);
  }
  for (const browser::ConsentRule& rule : browser::builtin_consent_rules()) rules.push_back(rule);
  return std::unique_ptr<Connector>(
      new BrowserConnector(std::move(settings), vault, state_dir, std::move(rules)));
}

}  // namespace ergon
