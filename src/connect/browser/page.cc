// A tab on a flattened CDP session. Event handlers run on Chromium's reader
// thread and must not call Chromium::call(): the work an event asks for
// (answering a paused navigation, a dialog) goes to the Page's worker thread.
#include "connect/browser/page.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

namespace ergon::browser {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// Objects resolved for an operation live in this group and are released
// together when the operation ends.
constexpr char kObjectGroup[] = "ergon-page";
constexpr milliseconds kCloseTimeout{2000};
constexpr milliseconds kMinCallTimeout{500};
constexpr size_t kRecentLoaders = 32;

milliseconds remaining(Clock::time_point deadline) {
  return std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
}

std::string quoted(const std::string& text) {
  return "'" + text + "'";
}

// "[3] button 'Save'" — how an element is named in messages.
std::string element_name(const PageElement& element) {
  std::string name = "[" + std::to_string(element.index) + "] ";
  name += element.fp.tag.empty() ? "element" : element.fp.tag;
  const std::string& label = !element.fp.name.empty() ? element.fp.name : element.fp.text;
  if (!label.empty()) name += " " + quoted(label.substr(0, 60));
  return name;
}

std::optional<std::string> base64_decode(const std::string& text) {
  static const std::array<int, 256> table = [] {
    std::array<int, 256> t{};
    t.fill(-1);
    const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (size_t i = 0; i < alphabet.size(); ++i) t[static_cast<unsigned char>(alphabet[i])] = i;
    return t;
  }();
  std::string out;
  out.reserve(text.size() / 4 * 3);
  int bits = 0;
  int collected = 0;
  for (char c : text) {
    if (c == '=') break;
    if (c == '\n' || c == '\r') continue;
    int value = table[static_cast<unsigned char>(c)];
    if (value < 0) return std::nullopt;
    bits = (bits << 6) | value;
    collected += 6;
    if (collected >= 8) {
      collected -= 8;
      out.push_back(static_cast<char>((bits >> collected) & 0xff));
    }
  }
  return out;
}

// The text of a Runtime exception, for messages.
std::string exception_text(const Json& details) {
  if (auto exception = details.find("exception"); exception != details.end()) {
    if (exception->contains("description")) return (*exception)["description"].get<std::string>();
    if (exception->contains("value")) return exception->at("value").dump();
  }
  return details.value("text", std::string("exception"));
}

// One key as Input.dispatchKeyEvent wants it.
struct KeyDefinition {
  std::string key;
  std::string code;
  int key_code = 0;
  std::string text;
};

std::optional<KeyDefinition> named_key(const std::string& name) {
  static const std::vector<KeyDefinition> keys = {
      {"Enter", "Enter", 13, "\r"},
      {"Tab", "Tab", 9, ""},
      {"Escape", "Escape", 27, ""},
      {"Backspace", "Backspace", 8, ""},
      {"Delete", "Delete", 46, ""},
      {"ArrowUp", "ArrowUp", 38, ""},
      {"ArrowDown", "ArrowDown", 40, ""},
      {"ArrowLeft", "ArrowLeft", 37, ""},
      {"ArrowRight", "ArrowRight", 39, ""},
      {"Home", "Home", 36, ""},
      {"End", "End", 35, ""},
      {"PageUp", "PageUp", 33, ""},
      {"PageDown", "PageDown", 34, ""},
      {"Space", "Space", 32, " "},
  };
  for (const auto& key : keys) {
    if (key.key == name) return key;
  }
  return std::nullopt;
}

// A single printable character (one UTF-8 code point).
std::optional<KeyDefinition> character_key(const std::string& text) {
  if (text.empty()) return std::nullopt;
  auto lead = static_cast<unsigned char>(text[0]);
  size_t length = lead < 0x80         ? 1
                  : lead >> 5 == 0x6  ? 2
                  : lead >> 4 == 0xe  ? 3
                  : lead >> 3 == 0x1e ? 4
                                      : 0;
  if (length == 0 || text.size() != length) return std::nullopt;
  if (length == 1 && (lead < 0x20 || lead == 0x7f)) return std::nullopt;
  KeyDefinition key{text, "", 0, text};
  if (length > 1) return key;
  char c = text[0];
  if (std::isalpha(static_cast<unsigned char>(c))) {
    char upper = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    key.code = std::string("Key") + upper;
    key.key_code = upper;
  } else if (std::isdigit(static_cast<unsigned char>(c))) {
    key.code = std::string("Digit") + c;
    key.key_code = c;
  } else {
    static const std::vector<std::tuple<char, const char*, int>> punctuation = {
        {' ', "Space", 32},        {'-', "Minus", 189},        {'=', "Equal", 187},
        {'[', "BracketLeft", 219}, {']', "BracketRight", 221}, {'\\', "Backslash", 220},
        {';', "Semicolon", 186},   {'\'', "Quote", 222},       {',', "Comma", 188},
        {'.', "Period", 190},      {'/', "Slash", 191},        {'`', "Backquote", 192},
    };
    for (const auto& [ch, code, key_code] : punctuation) {
      if (ch == c) {
        key.code = code;
        key.key_code = key_code;
      }
    }
  }
  return key;
}

// Reads the element's state for actionability; "" when every check passes.
constexpr char kStateCheck[] = R"JS(function(needEditable) {
  if (!this.isConnected) return 'not attached to the document';
  const el = this.nodeType === 1 ? this : this.parentElement;
  if (!el) return 'not an element';
  const style = getComputedStyle(el);
  const rect = el.getBoundingClientRect();
  const shown = el.checkVisibility ? el.checkVisibility() : style.display !== 'none';
  if (!shown || style.visibility !== 'visible' || rect.width <= 0 || rect.height <= 0)
    return 'not visible';
  const controls = ['BUTTON', 'INPUT', 'SELECT', 'TEXTAREA', 'OPTION', 'OPTGROUP', 'FIELDSET'];
  if (controls.includes(el.tagName) && el.matches(':disabled')) return 'not enabled (disabled)';
  if (el.closest('[aria-disabled="true"]')) return 'not enabled (aria-disabled)';
  if (needEditable) {
    const nonText = ['checkbox', 'radio', 'button', 'submit', 'reset', 'file', 'image',
                     'hidden', 'range', 'color'];
    const textControl = el.tagName === 'TEXTAREA' ||
                        (el.tagName === 'INPUT' && !nonText.includes(el.type));
    if (!textControl && !el.isContentEditable) return 'not editable (not a text field)';
    if (textControl && el.readOnly) return 'not editable (readonly)';
    if (el.getAttribute('aria-readonly') === 'true') return 'not editable (aria-readonly)';
  }
  return '';
})JS";

// True when the element's box is the same in three consecutive animation frames.
// A timer stands in for a frame the page does not render (a hidden tab).
constexpr char kStableCheck[] = R"JS(async function() {
  const el = this.nodeType === 1 ? this : this.parentElement;
  const frame = () => new Promise(resolve => {
    requestAnimationFrame(() => resolve());
    setTimeout(resolve, 100);
  });
  const same = (a, b) => a.x === b.x && a.y === b.y && a.width === b.width && a.height === b.height;
  // Three frames, not two: an element moving to and fro can be at the same
  // place in two frames either side of where it turns, never in three.
  await frame();
  const a = el.getBoundingClientRect();
  await frame();
  const b = el.getBoundingClientRect();
  if (!same(a, b)) return false;
  await frame();
  return same(b, el.getBoundingClientRect());
})JS";

// "" when `hit` is this element or inside it (across shadow roots), else what
// covers it: "covered by <div#id.class 'text'>".
constexpr char kHitCheck[] = R"JS(function(hit) {
  for (let n = hit; n; n = n.parentNode || n.host) if (n === this) return '';
  const h = hit.nodeType === 1 ? hit : hit.parentElement;
  if (!h) return 'covered by another node';
  let d = '<' + h.tagName.toLowerCase();
  if (h.id) d += '#' + h.id;
  if (typeof h.className === 'string' && h.className.trim())
    d += '.' + h.className.trim().split(/\s+/).join('.');
  const text = (h.innerText || h.textContent || '').replace(/\s+/g, ' ').trim().slice(0, 40);
  if (text) d += " '" + text + "'";
  return 'covered by ' + d + '>';
})JS";

constexpr char kSelectContent[] = R"JS(function() {
  if (document.activeElement !== this && !this.contains(document.activeElement)) this.focus();
  if (this.isContentEditable) {
    const range = document.createRange();
    range.selectNodeContents(this);
    const selection = getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  } else if (typeof this.select === 'function') {
    this.select();
  }
})JS";

// A blur and refocus makes the browser fire its own (trusted) change event
// for a value typed since focus, and leaves focus where the user had it.
constexpr char kCommitValue[] = R"JS(function() {
  if (!('value' in this) || document.activeElement !== this) return;
  this.blur();
  this.focus();
})JS";

// Inputs a person fills through a picker, not by typing (date, time, color,
// range…): the value is set as Playwright's fill does, with the input and
// change events a picker fires. Returns null for other elements, else "" when
// the value took, or what the field holds instead (the browser rejected it).
constexpr char kSetPickerValue[] = R"JS(function(value) {
  const picked = ['color', 'date', 'time', 'datetime-local', 'month', 'range', 'week'];
  if (this.tagName !== 'INPUT' || !picked.includes((this.type || '').toLowerCase())) return null;
  this.focus();
  this.value = value;
  this.dispatchEvent(new Event('input', {bubbles: true, composed: true}));
  this.dispatchEvent(new Event('change', {bubbles: true}));
  return this.value === value ? '' : 'a ' + this.type + ' field that holds "' + this.value + '"';
})JS";

constexpr char kSelectOption[] = R"JS(function(wanted) {
  if (this.tagName !== 'SELECT') return {error: 'not_select'};
  if (this.disabled) return {error: 'disabled'};
  const norm = s => (s || '').replace(/\s+/g, ' ').trim();
  const options = [...this.options];
  const option = options.find(o => norm(o.label) === norm(wanted) || norm(o.text) === norm(wanted)) ||
                 options.find(o => o.value === wanted);
  if (!option) return {missing: options.map(o => norm(o.label))};
  if (option.disabled) return {error: 'option_disabled', label: norm(option.label)};
  this.focus();
  if (this.multiple) options.forEach(o => { o.selected = o === option; });
  else this.value = option.value;
  this.dispatchEvent(new Event('input', {bubbles: true}));
  this.dispatchEvent(new Event('change', {bubbles: true}));
  return {label: norm(option.label), value: option.value};
})JS";

constexpr char kFormValues[] = R"JS(function() {
  const el = this.nodeType === 1 ? this : this.parentElement;
  const form = el && (el.form || el.closest('form'));
  if (!form) return {};
  const out = {};
  for (const field of form.elements) {
    if (!field.name) continue;
    const type = (field.type || '').toLowerCase();
    if (['submit', 'button', 'reset', 'image'].includes(type) || field.tagName === 'FIELDSET' ||
        field.tagName === 'OUTPUT' || field.tagName === 'OBJECT') continue;
    if (type === 'password') out[field.name] = '[hidden]';
    else if (type === 'checkbox') out[field.name] = field.checked;
    else if (type === 'radio') {
      if (field.checked) out[field.name] = field.value;
      else if (!(field.name in out)) out[field.name] = null;
    } else if (field.tagName === 'SELECT' && field.multiple)
      out[field.name] = [...field.selectedOptions].map(o => o.value);
    else out[field.name] = field.value;
  }
  return out;
})JS";

}  // namespace

class Page::Impl {
 public:
  Impl(Chromium& b, std::function<bool(const std::string&)> allow,
       std::function<bool(const Dialog&)> dialog)
      : browser(b), allow_navigation(std::move(allow)), on_dialog(std::move(dialog)) {}

  // Constant after open().
  Chromium& browser;
  std::function<bool(const std::string&)> allow_navigation;
  std::function<bool(const Dialog&)> on_dialog;
  std::string target_id;  // also the main frame's id
  std::string session;
  int subscription = 0;

  // The worker: runs what events ask for, in order.
  std::mutex work_mu;
  std::condition_variable work_cv;
  std::deque<std::function<void()>> work;  // guarded by work_mu
  bool stopping = false;                   // guarded by work_mu
  std::thread worker;

  // Page state fed by events.
  std::mutex mu;
  std::condition_variable cv;
  // The most recent main-frame documents (kRecentLoaders of each), by loaderId.
  std::deque<std::string> loaded;     // fired "load"
  std::deque<std::string> committed;  // committed, oldest first
  std::string blocked_url;
  std::optional<Dialog> dialog;

  static void remember(std::deque<std::string>& recent, std::string loader) {
    recent.push_back(std::move(loader));
    if (recent.size() > kRecentLoaders) recent.pop_front();
  }
  bool has_loaded(const std::string& loader) const {
    return std::find(loaded.begin(), loaded.end(), loader) != loaded.end();
  }

  void post(std::function<void()> task) {
    {
      std::lock_guard lock(work_mu);
      if (stopping) return;
      work.push_back(std::move(task));
    }
    work_cv.notify_one();
  }

  void run_worker() {
    while (true) {
      std::function<void()> task;
      {
        std::unique_lock lock(work_mu);
        work_cv.wait(lock, [&] { return stopping || !work.empty(); });
        if (stopping) return;
        task = std::move(work.front());
        work.pop_front();
      }
      task();
    }
  }

  void stop_worker() {
    {
      std::lock_guard lock(work_mu);
      stopping = true;
      work.clear();
    }
    work_cv.notify_all();
    if (worker.joinable()) worker.join();
  }

  // Runs on the reader thread: record, or hand to the worker.
  void on_event(const CdpEvent& event) {
    if (event.session != session) return;
    const Json& p = event.params;
    if (event.method == "Page.lifecycleEvent") {
      if (p.value("name", "") != "load" || p.value("frameId", "") != target_id) return;
      std::lock_guard lock(mu);
      remember(loaded, p.value("loaderId", ""));
      cv.notify_all();
    } else if (event.method == "Page.frameNavigated") {
      const Json& frame = p.value("frame", Json::object());
      if (frame.contains("parentId")) return;
      std::lock_guard lock(mu);
      remember(committed, frame.value("loaderId", ""));
      cv.notify_all();
    } else if (event.method == "Fetch.requestPaused") {
      post([this, p] { answer_paused_request(p); });
    } else if (event.method == "Page.javascriptDialogOpening") {
      post([this, p] { answer_dialog(p); });
    }
  }

  void answer_paused_request(const Json& p) {
    std::string request_id = p.value("requestId", "");
    const Json& request = p.value("request", Json::object());
    std::string url = request.value("url", "") + request.value("urlFragment", "");
    bool main_document =
        p.value("resourceType", "") == "Document" && p.value("frameId", "") == target_id;
    if (!main_document || !allow_navigation || allow_navigation(url)) {
      (void)browser.call("Fetch.continueRequest", {{"requestId", request_id}}, session);
      return;
    }
    {
      std::lock_guard lock(mu);
      blocked_url = url;
    }
    (void)browser.call("Fetch.failRequest",
                       {{"requestId", request_id}, {"errorReason", "BlockedByClient"}}, session);
  }

  void answer_dialog(const Json& p) {
    Dialog d{p.value("type", ""), p.value("message", ""), p.value("url", "")};
    // Without a handler: alerts and beforeunload are accepted, questions dismissed.
    bool accept = on_dialog ? on_dialog(d) : (d.type == "alert" || d.type == "beforeunload");
    {
      std::lock_guard lock(mu);
      dialog = d;
    }
    Json params = {{"accept", accept}};
    if (d.type == "prompt" && accept) params["promptText"] = p.value("defaultPrompt", "");
    (void)browser.call("Page.handleJavaScriptDialog", params, session);
  }

  milliseconds call_timeout(Clock::time_point deadline) const {
    return std::clamp(remaining(deadline), kMinCallTimeout, browser.options().command_timeout);
  }

  const std::string& session_of(const PageElement& element) const {
    return element.session.empty() ? session : element.session;
  }

  // Resolves a backend node to a JS object in our object group.
  Result<std::string> resolve(int64_t backend_node_id, const std::string& on_session,
                              milliseconds timeout) {
    auto node = browser.call("DOM.resolveNode",
                             {{"backendNodeId", backend_node_id}, {"objectGroup", kObjectGroup}},
                             on_session, timeout);
    if (!node) {
      if (node.error().code == ErrorCode::kFailedPrecondition) {
        return fail(ErrorCode::kNotFound, "node " + std::to_string(backend_node_id) +
                                              " is no longer on the page: observe again");
      }
      return fail(node.error());
    }
    return (*node)["object"].value("objectId", "");
  }

  Result<std::string> resolve(const PageElement& element, milliseconds timeout) {
    auto object = resolve(element.backend_node_id, session_of(element), timeout);
    if (!object && object.error().code == ErrorCode::kNotFound) {
      return fail(ErrorCode::kNotFound,
                  "element " + element_name(element) + " is no longer on the page: observe again");
    }
    return object;
  }

  // Runtime.callFunctionOn with values returned by value; a thrown exception
  // is kFailedPrecondition.
  Result<Json> call_on(const std::string& object_id, const std::string& function,
                       const Json& arguments, const std::string& on_session,
                       milliseconds timeout = milliseconds{0}, bool await_promise = false) {
    auto answer = browser.call("Runtime.callFunctionOn",
                               {{"objectId", object_id},
                                {"functionDeclaration", function},
                                {"arguments", arguments},
                                {"returnByValue", true},
                                {"awaitPromise", await_promise}},
                               on_session, timeout);
    if (!answer) return fail(answer.error());
    if (answer->contains("exceptionDetails")) {
      return fail(ErrorCode::kFailedPrecondition,
                  "page script failed: " + exception_text((*answer)["exceptionDetails"]));
    }
    return (*answer)["result"].value("value", Json());
  }

  void release_objects(const std::string& on_session) {
    (void)browser.call("Runtime.releaseObjectGroup", {{"objectGroup", kObjectGroup}}, on_session,
                       kCloseTimeout);
  }

  // One pass of the actionability checks: the click point, or an error whose
  // code is kFailedPrecondition when waiting may still help.
  Result<Point> check_once(const PageElement& element, bool need_editable,
                           Clock::time_point deadline) {
    const std::string& on = session_of(element);
    auto object = resolve(element, call_timeout(deadline));
    if (!object) return fail(object.error());

    auto state = call_on(*object, kStateCheck, Json::array({{{"value", need_editable}}}), on,
                         call_timeout(deadline));
    if (!state) return fail(state.error());
    if (state->is_string() && !state->get<std::string>().empty()) {
      return fail(ErrorCode::kFailedPrecondition, state->get<std::string>());
    }

    auto scrolled =
        browser.call("DOM.scrollIntoViewIfNeeded", {{"backendNodeId", element.backend_node_id}}, on,
                     call_timeout(deadline));
    if (!scrolled) {
      if (scrolled.error().code != ErrorCode::kFailedPrecondition) return fail(scrolled.error());
      return fail(ErrorCode::kFailedPrecondition, "not visible (" + scrolled.error().message + ")");
    }

    auto stable = call_on(*object, kStableCheck, Json::array(), on, call_timeout(deadline), true);
    if (!stable) return fail(stable.error());
    if (*stable != true) return fail(ErrorCode::kFailedPrecondition, "not stable (still moving)");

    auto quads = browser.call("DOM.getContentQuads", {{"backendNodeId", element.backend_node_id}},
                              on, call_timeout(deadline));
    if (!quads) {
      if (quads.error().code != ErrorCode::kFailedPrecondition) return fail(quads.error());
      return fail(ErrorCode::kFailedPrecondition, "not visible (" + quads.error().message + ")");
    }
    auto metrics =
        browser.call("Page.getLayoutMetrics", Json::object(), session, call_timeout(deadline));
    if (!metrics) return fail(metrics.error());
    const Json& viewport = (*metrics)["cssLayoutViewport"];
    double width = viewport.value("clientWidth", 0.0);
    double height = viewport.value("clientHeight", 0.0);
    double page_x = viewport.value("pageX", 0.0);
    double page_y = viewport.value("pageY", 0.0);

    std::optional<Point> point;
    for (const auto& quad : (*quads)["quads"]) {
      if (quad.size() != 8) continue;
      // Clip the quad's corners to the viewport, then take the centre.
      std::array<Point, 4> corners;
      for (size_t i = 0; i < 4; ++i) {
        corners[i] = {std::clamp(quad[2 * i].get<double>(), 0.0, width),
                      std::clamp(quad[2 * i + 1].get<double>(), 0.0, height)};
      }
      double area = 0;
      for (size_t i = 0; i < 4; ++i) {
        const Point& a = corners[i];
        const Point& b = corners[(i + 1) % 4];
        area += (a.x * b.y - b.x * a.y) / 2;
      }
      if (std::abs(area) <= 0.99) continue;
      Point centre;
      for (const auto& corner : corners) {
        centre.x += corner.x / 4;
        centre.y += corner.y / 4;
      }
      point = centre;
      break;
    }
    if (!point) return fail(ErrorCode::kFailedPrecondition, "not visible (outside the viewport)");

    // getNodeForLocation takes document coordinates: add the scroll offset.
    auto hit = browser.call("DOM.getNodeForLocation",
                            {{"x", static_cast<int>(std::floor(point->x + page_x))},
                             {"y", static_cast<int>(std::floor(point->y + page_y))},
                             {"includeUserAgentShadowDOM", false},
                             {"ignorePointerEventsNone", false}},
                            session, call_timeout(deadline));
    if (!hit) {
      if (hit.error().code != ErrorCode::kFailedPrecondition) return fail(hit.error());
      return fail(ErrorCode::kFailedPrecondition,
                  "nothing receives events at its centre (" + hit.error().message + ")");
    }
    int64_t hit_node = hit->value("backendNodeId", int64_t{0});
    if (hit_node == element.backend_node_id) return *point;
    auto hit_object = resolve(hit_node, on, call_timeout(deadline));
    if (!hit_object) {
      if (hit_object.error().code != ErrorCode::kNotFound) return fail(hit_object.error());
      return fail(ErrorCode::kFailedPrecondition, "covered by another element");
    }
    auto receives = call_on(*object, kHitCheck, Json::array({{{"objectId", *hit_object}}}), on,
                            call_timeout(deadline));
    if (!receives) {
      // The hit node lives in another frame's context: not ours.
      if (receives.error().code != ErrorCode::kFailedPrecondition) return fail(receives.error());
      return fail(ErrorCode::kFailedPrecondition, "covered by an element of another frame");
    }
    if (receives->is_string() && !receives->get<std::string>().empty()) {
      return fail(ErrorCode::kFailedPrecondition, receives->get<std::string>());
    }
    return *point;
  }

  Status dispatch_key(const KeyDefinition& key, int modifiers) {
    // Ctrl/Alt/Meta chords type nothing.
    bool types = !key.text.empty() && (modifiers & (1 | 2 | 4)) == 0;
    Json down = {{"type", types ? "keyDown" : "rawKeyDown"},
                 {"key", key.key},
                 {"code", key.code},
                 {"windowsVirtualKeyCode", key.key_code},
                 {"nativeVirtualKeyCode", key.key_code},
                 {"modifiers", modifiers}};
    if (types) {
      down["text"] = key.text;
      down["unmodifiedText"] = key.text;
    }
    if (auto sent = browser.call("Input.dispatchKeyEvent", down, session); !sent) {
      return fail(sent.error().with_context("key " + key.key + ": "));
    }
    Json up = {{"type", "keyUp"},
               {"key", key.key},
               {"code", key.code},
               {"windowsVirtualKeyCode", key.key_code},
               {"nativeVirtualKeyCode", key.key_code},
               {"modifiers", modifiers}};
    if (auto sent = browser.call("Input.dispatchKeyEvent", up, session); !sent) {
      return fail(sent.error().with_context("key " + key.key + ": "));
    }
    return {};
  }
};

Page::Page(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Page::~Page() {
  if (!impl_) return;
  if (impl_->subscription != 0) impl_->browser.unsubscribe(impl_->subscription);
  impl_->stop_worker();
  if (!impl_->target_id.empty() && impl_->browser.alive()) {
    (void)impl_->browser.call("Target.closeTarget", {{"targetId", impl_->target_id}}, "",
                              kCloseTimeout);
  }
}

Result<std::unique_ptr<Page>> Page::open(Chromium& browser,
                                         std::function<bool(const std::string& url)> allow,
                                         std::function<bool(const Dialog&)> on_dialog) {
  auto impl = std::make_unique<Impl>(browser, std::move(allow), std::move(on_dialog));
  Impl* raw = impl.get();
  std::unique_ptr<Page> page(new Page(std::move(impl)));

  auto target = browser.call("Target.createTarget", {{"url", "about:blank"}});
  if (!target) return fail(target.error().with_context("opening a tab: "));
  raw->target_id = (*target)["targetId"].get<std::string>();
  auto attached =
      browser.call("Target.attachToTarget", {{"targetId", raw->target_id}, {"flatten", true}});
  if (!attached) return fail(attached.error().with_context("attaching to the tab: "));
  raw->session = (*attached)["sessionId"].get<std::string>();

  raw->worker = std::thread([raw] { raw->run_worker(); });
  raw->subscription = browser.subscribe([raw](const CdpEvent& event) { raw->on_event(event); });

  const std::vector<std::pair<std::string, Json>> setup = {
      {"Page.enable", Json::object()},
      {"Runtime.enable", Json::object()},
      {"Network.enable", Json::object()},
      {"DOM.enable", Json::object()},
      {"Accessibility.enable", Json::object()},
      {"Page.setLifecycleEventsEnabled", {{"enabled", true}}},
      {"Target.setAutoAttach",
       {{"autoAttach", true}, {"waitForDebuggerOnStart", false}, {"flatten", true}}},
      {"Fetch.enable",
       {{"patterns",
         Json::array(
             {{{"urlPattern", "*"}, {"resourceType", "Document"}, {"requestStage", "Request"}}})}}},
  };
  for (const auto& [method, params] : setup) {
    if (auto done = browser.call(method, params, raw->session); !done) {
      return fail(done.error().with_context("setting up the tab (" + method + "): "));
    }
  }
  return page;
}

const std::string& Page::session() const {
  return impl_->session;
}
const std::string& Page::target_id() const {
  return impl_->target_id;
}

Status Page::navigate(const std::string& url, std::chrono::milliseconds timeout) {
  Impl& impl = *impl_;
  auto deadline = Clock::now() + timeout;
  auto answer = impl.browser.call("Page.navigate", {{"url", url}}, impl.session, timeout);
  if (!answer) return fail(answer.error().with_context("navigation to " + url + ": "));
  if (auto error = answer->value("errorText", ""); !error.empty()) {
    if (error.find("ERR_BLOCKED_BY_CLIENT") != std::string::npos) {
      std::lock_guard lock(impl.mu);
      std::string refused = impl.blocked_url.empty() ? url : impl.blocked_url;
      return fail(ErrorCode::kDenied, "navigation to " + refused + " refused: origin not allowed");
    }
    return fail(ErrorCode::kUnavailable, "navigation to " + url + " failed: " + error);
  }
  // No loaderId: a same-document navigation (a fragment), done already.
  std::string loader = answer->value("loaderId", "");
  if (loader.empty()) return {};

  std::unique_lock lock(impl.mu);
  bool done = impl.cv.wait_until(lock, deadline, [&] {
    if (impl.has_loaded(loader)) return true;
    // A client-side redirect replaced our document: wait for the one that won.
    auto ours = std::find(impl.committed.begin(), impl.committed.end(), loader);
    return ours != impl.committed.end() && impl.committed.back() != loader &&
           impl.has_loaded(impl.committed.back());
  });
  if (!done) {
    return fail(ErrorCode::kTimeout, "navigation to " + url +
                                         ": the page did not finish loading within " +
                                         std::to_string(timeout.count()) + " ms");
  }
  return {};
}

Result<std::pair<std::string, std::string>> Page::location() {
  auto where = evaluate("[location.href, document.title]");
  if (where && where->is_array() && where->size() == 2) {
    return std::make_pair((*where)[0].get<std::string>(), (*where)[1].get<std::string>());
  }
  // No live document (mid-navigation): the browser's view of the tab.
  auto info = impl_->browser.call("Target.getTargetInfo", {{"targetId", impl_->target_id}});
  if (!info) return fail(info.error().with_context("reading the page's location: "));
  const Json& target = (*info)["targetInfo"];
  return std::make_pair(target.value("url", ""), target.value("title", ""));
}

Result<PageSnapshot> Page::observe() {
  return observe_page(impl_->browser, impl_->session);
}

Result<Page::Point> Page::actionable(const PageElement& element, bool need_editable,
                                     std::chrono::milliseconds timeout) {
  Impl& impl = *impl_;
  auto deadline = Clock::now() + timeout;
  static constexpr std::array<int, 7> kBackoff = {0, 20, 50, 100, 100, 250, 500};
  std::string reason;
  for (size_t attempt = 0;; ++attempt) {
    auto point = impl.check_once(element, need_editable, deadline);
    impl.release_objects(impl.session_of(element));
    if (point) return point;
    if (point.error().code != ErrorCode::kFailedPrecondition) return fail(point.error());
    reason = point.error().message;
    auto left = remaining(deadline);
    if (left.count() <= 0) break;
    milliseconds pause{kBackoff[std::min(attempt, kBackoff.size() - 1)]};
    std::this_thread::sleep_for(std::min(pause, left));
  }
  return fail(ErrorCode::kFailedPrecondition,
              "element " + element_name(element) + " is not actionable after " +
                  std::to_string(timeout.count()) + " ms: " + reason);
}

Status Page::click_at(Point point) {
  Impl& impl = *impl_;
  const std::vector<Json> events = {
      {{"type", "mouseMoved"}, {"x", point.x}, {"y", point.y}, {"button", "none"}},
      {{"type", "mousePressed"},
       {"x", point.x},
       {"y", point.y},
       {"button", "left"},
       {"buttons", 1},
       {"clickCount", 1}},
      {{"type", "mouseReleased"},
       {"x", point.x},
       {"y", point.y},
       {"button", "left"},
       {"buttons", 0},
       {"clickCount", 1}},
  };
  for (const auto& event : events) {
    if (auto sent = impl.browser.call("Input.dispatchMouseEvent", event, impl.session); !sent) {
      return fail(sent.error().with_context("click: "));
    }
  }
  return {};
}

Status Page::type_into(const PageElement& element, Point point, const std::string& text) {
  Impl& impl = *impl_;
  if (auto clicked = click_at(point); !clicked) return clicked;
  auto timeout = impl.browser.options().command_timeout;
  const std::string& on = impl.session_of(element);
  auto object = impl.resolve(element, timeout);
  if (!object) return fail(object.error());
  Status result;
  auto picked = impl.call_on(*object, kSetPickerValue, Json::array({{{"value", text}}}), on);
  if (!picked || picked->is_string()) {
    if (!picked) {
      result = fail(picked.error().with_context("setting " + element_name(element) + ": "));
    } else if (!picked->get<std::string>().empty()) {
      result = fail(ErrorCode::kInvalidInput,
                    "'" + text + "' is not a value for " + element_name(element) + ", " +
                        picked->get<std::string>() + " (a date is YYYY-MM-DD, a time HH:MM)");
    }
  } else if (auto selected = impl.call_on(*object, kSelectContent, Json::array(), on); !selected) {
    result = fail(
        selected.error().with_context("selecting the content of " + element_name(element) + ": "));
  } else if (text.empty()) {
    result = impl.dispatch_key(*named_key("Delete"), 0);
  } else if (auto typed = impl.browser.call("Input.insertText", {{"text", text}}, impl.session);
             !typed) {
    result = fail(typed.error().with_context("typing into " + element_name(element) + ": "));
  }
  if (result) {
    if (auto committed = impl.call_on(*object, kCommitValue, Json::array(), on); !committed) {
      result = fail(committed.error());
    }
  }
  impl.release_objects(on);
  return result;
}

Status Page::press(const std::string& chord) {
  // "Enter", "a", "Shift+Tab", "Control+a": modifiers joined to one key by '+'.
  int modifiers = 0;
  std::string rest = chord;
  while (rest.size() > 1) {
    auto plus = rest.find('+');
    if (plus == std::string::npos || plus == rest.size() - 1) break;
    std::string modifier = rest.substr(0, plus);
    if (modifier == "Alt")
      modifiers |= 1;
    else if (modifier == "Control" || modifier == "Ctrl")
      modifiers |= 2;
    else if (modifier == "Meta")
      modifiers |= 4;
    else if (modifier == "Shift")
      modifiers |= 8;
    else
      break;
    rest = rest.substr(plus + 1);
  }
  auto key = named_key(rest);
  if (!key) key = character_key(rest);
  if (!key) {
    return fail(ErrorCode::kInvalidInput,
                "unknown key " + quoted(chord) +
                    ": use a single character or one of Enter, Tab, Escape, Backspace, Delete, "
                    "ArrowUp, ArrowDown, ArrowLeft, ArrowRight, Home, End, PageUp, PageDown, Space "
                    "(optionally after Control+, Shift+, Alt+ or Meta+)");
  }
  if ((modifiers & 8) != 0 && key->text.size() == 1 &&
      std::isalpha(static_cast<unsigned char>(key->text[0]))) {
    key->text =
        std::string(1, static_cast<char>(std::toupper(static_cast<unsigned char>(key->text[0]))));
    key->key = key->text;
  }
  return impl_->dispatch_key(*key, modifiers);
}

Result<std::string> Page::select_option(const PageElement& element, const std::string& option) {
  Impl& impl = *impl_;
  const std::string& on = impl.session_of(element);
  auto object = impl.resolve(element, impl.browser.options().command_timeout);
  if (!object) return fail(object.error());
  auto picked = impl.call_on(*object, kSelectOption, Json::array({{{"value", option}}}), on);
  impl.release_objects(on);
  if (!picked) return fail(picked.error());
  std::string name = element_name(element);
  if (picked->contains("missing")) {
    std::string labels;
    for (const auto& label : (*picked)["missing"]) {
      labels += (labels.empty() ? "" : ", ") + quoted(label.get<std::string>());
    }
    return fail(ErrorCode::kNotFound,
                "no option " + quoted(option) + " in " + name + "; its options are: " + labels);
  }
  std::string error = picked->value("error", "");
  if (error == "not_select") {
    return fail(ErrorCode::kInvalidInput, name + " is not a <select>: use fill or click instead");
  }
  if (error == "disabled") return fail(ErrorCode::kFailedPrecondition, name + " is disabled");
  if (error == "option_disabled") {
    return fail(ErrorCode::kFailedPrecondition, "option " + quoted(picked->value("label", option)) +
                                                    " of " + name + " is disabled");
  }
  return picked->value("label", option);
}

Status Page::scroll_by(double dx, double dy) {
  Impl& impl = *impl_;
  auto metrics = impl.browser.call("Page.getLayoutMetrics", Json::object(), impl.session);
  if (!metrics) return fail(metrics.error().with_context("scroll: "));
  const Json& viewport = (*metrics)["cssLayoutViewport"];
  Json wheel = {{"type", "mouseWheel"},
                {"x", viewport.value("clientWidth", 0.0) / 2},
                {"y", viewport.value("clientHeight", 0.0) / 2},
                {"deltaX", dx},
                {"deltaY", dy}};
  if (auto sent = impl.browser.call("Input.dispatchMouseEvent", wheel, impl.session); !sent) {
    return fail(sent.error().with_context("scroll: "));
  }
  return {};
}

Status Page::screenshot(const std::string& path) {
  Impl& impl = *impl_;
  auto shot = impl.browser.call("Page.captureScreenshot", {{"format", "png"}}, impl.session);
  if (!shot) return fail(shot.error().with_context("screenshot: "));
  auto png = base64_decode(shot->value("data", ""));
  if (!png || png->empty()) return fail(ErrorCode::kInternal, "screenshot: chromium sent no image");
  std::error_code ec;
  auto parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(png->data(), static_cast<std::streamsize>(png->size()));
  out.close();
  if (!out) return fail(ErrorCode::kInternal, "screenshot: cannot write " + path);
  return {};
}

Result<Json> Page::evaluate(const std::string& expression) {
  Impl& impl = *impl_;
  auto answer = impl.browser.call(
      "Runtime.evaluate",
      {{"expression", expression}, {"returnByValue", true}, {"awaitPromise", true}}, impl.session);
  if (!answer) return fail(answer.error());
  if (answer->contains("exceptionDetails")) {
    return fail(ErrorCode::kFailedPrecondition,
                "evaluating " + quoted(expression.substr(0, 80)) +
                    " failed: " + exception_text((*answer)["exceptionDetails"]));
  }
  return (*answer)["result"].value("value", Json());
}

Result<Json> Page::form_values(const PageElement& element) {
  Impl& impl = *impl_;
  const std::string& on = impl.session_of(element);
  auto object = impl.resolve(element, impl.browser.options().command_timeout);
  if (!object) return fail(object.error());
  auto values = impl.call_on(*object, kFormValues, Json::array(), on);
  impl.release_objects(on);
  if (!values) return fail(values.error());
  return values->is_object() ? *values : Json::object();
}

std::string Page::take_blocked_navigation() {
  std::lock_guard lock(impl_->mu);
  return std::exchange(impl_->blocked_url, std::string());
}

std::optional<Dialog> Page::take_dialog() {
  std::lock_guard lock(impl_->mu);
  return std::exchange(impl_->dialog, std::nullopt);
}

Result<Json> Page::cookies() {
  auto answer = impl_->browser.call("Storage.getCookies");
  if (!answer) return fail(answer.error().with_context("reading cookies: "));
  return answer->value("cookies", Json::array());
}

Status Page::set_cookies(const Json& cookies) {
  if (!cookies.is_array()) {
    return fail(ErrorCode::kInvalidInput, "cookies must be an array as cookies() returns it");
  }
  // Storage.getCookies' Cookie carries read-only fields (size, session...)
  // that Storage.setCookies' CookieParam does not take.
  static const std::vector<std::string> kParamFields = {
      "name",     "value",    "url",       "domain",       "path",       "secure",      "httpOnly",
      "sameSite", "priority", "sameParty", "sourceScheme", "sourcePort", "partitionKey"};
  Json params = Json::array();
  for (const auto& cookie : cookies) {
    if (!cookie.is_object() || !cookie.contains("name") || !cookie.contains("value")) {
      return fail(ErrorCode::kInvalidInput, "each cookie needs a name and a value");
    }
    Json param = Json::object();
    for (const auto& field : kParamFields) {
      if (cookie.contains(field)) param[field] = cookie[field];
    }
    if (!cookie.value("session", false) && cookie.contains("expires") &&
        cookie["expires"].is_number() && cookie["expires"].get<double>() > 0) {
      param["expires"] = cookie["expires"];
    }
    params.push_back(std::move(param));
  }
  auto answer = impl_->browser.call("Storage.setCookies", {{"cookies", params}});
  if (!answer) return fail(answer.error().with_context("restoring cookies: "));
  return {};
}

}  // namespace ergon::browser
