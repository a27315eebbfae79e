// The recorder (recorder.h). Three threads meet here: Chromium's reader
// thread delivers CDP events to Watch (it only records and queues), the
// recording thread runs the person's script or waits for a real person,
// settles the page, turns queued page reports into steps and observes.
#include "learn/recorder.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <thread>
#include <utility>

#include "connect/browser/interrupts.h"
#include "connect/browser/page.h"
#include "ergon/browser.h"
#include "ergon/cdp.h"
#include "ergon/clock.h"
#include "learn/person.h"

extern char** environ;

namespace ergon::learn {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr char kBinding[] = "__ergonRecord";
// The page counts as settled after this long without a navigation, a
// request starting or ending, or a page report.
constexpr milliseconds kQuiet{300};
// A request open longer than this (a long poll, a stream) no longer keeps
// the page from settling.
constexpr milliseconds kLongRequest{2000};
// A navigation that commits within this long of a click or key press, before
// any other commit, was caused by it; other navigations the page did not ask
// for were typed by the person (a navigate step).
constexpr milliseconds kCausedWindow{1500};
constexpr milliseconds kPoll{50};

std::string lower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

std::string upper(std::string text) {
  for (char& c : text) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return text;
}

std::string quoted(const std::string& text) {
  return "'" + text + "'";
}

std::string js(const Json& value) {
  return value.dump(-1, ' ', false, Json::error_handler_t::replace);
}

// "http://h:1/a?b" -> {"http://h:1", "/a?b"}; nullopt when not absolute.
std::optional<std::pair<std::string, std::string>> split_origin(const std::string& url) {
  auto scheme = url.find("://");
  if (scheme == std::string::npos || scheme == 0) return std::nullopt;
  auto end = url.find_first_of("/?#", scheme + 3);
  std::string origin = lower(url.substr(0, end));
  std::string rest = end == std::string::npos ? "/" : url.substr(end);
  if (!rest.empty() && rest[0] != '/') rest = "/" + rest;
  // Default ports are the same origin written shorter.
  for (const char* port : {":80", ":443"}) {
    const std::string p = port;
    bool matches = (p == ":80" && origin.rfind("http://", 0) == 0) ||
                   (p == ":443" && origin.rfind("https://", 0) == 0);
    if (matches && origin.size() > p.size() &&
        origin.compare(origin.size() - p.size(), p.size(), p) == 0) {
      origin.resize(origin.size() - p.size());
    }
  }
  return std::make_pair(origin, rest);
}

std::string resolve_url(const std::string& url, const std::string& base) {
  if (url.find("://") != std::string::npos || url.rfind("about:", 0) == 0) return url;
  auto parts = split_origin(base);
  if (!url.empty() && url[0] == '/' && parts) return parts->first + url;
  std::string out = base;
  if (!out.empty() && out.back() != '/') out += "/";
  return out + url;
}

std::string random_hex(size_t bytes) {
  std::random_device device;
  std::string out;
  static const char* digits = "0123456789abcdef";
  for (size_t i = 0; i < bytes; ++i) {
    unsigned value = device() & 0xff;
    out += digits[value >> 4];
    out += digits[value & 0xf];
  }
  return out;
}

// ---------------------------------------------------------------------------
// The page side: capture-phase listeners that report each person's action
// with what identifies its element. CFG = {binding, salt, consent}.

constexpr char kCapture[] = R"JS(
if (!window.__ergonRecorder) {
Object.defineProperty(window, '__ergonRecorder', {value: true});
const doc = Math.random().toString(36).slice(2) + '-' + Date.now().toString(36);
Object.defineProperty(window, '__ergonDoc', {value: doc});
const send = (msg) => {
  const fn = window[CFG.binding];
  if (typeof fn !== 'function') return;
  msg.doc = doc;
  msg.url = location.href;
  try { fn(JSON.stringify(msg)); } catch (e) {}
};
const norm = (s) => (s || '').replace(/\s+/g, ' ').trim();

// SHA-256 (FIPS 180-4) of a string's UTF-8 bytes, hex.
const K = [
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2];
const sha256 = (text) => {
  const bytes = new TextEncoder().encode(text);
  const total = Math.ceil((bytes.length + 9) / 64) * 64;
  const m = new Uint8Array(total);
  m.set(bytes);
  m[bytes.length] = 0x80;
  const view = new DataView(m.buffer);
  const bits = bytes.length * 8;
  view.setUint32(total - 8, Math.floor(bits / 4294967296));
  view.setUint32(total - 4, bits >>> 0);
  const H = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
             0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];
  const w = new Int32Array(64);
  const rot = (x, n) => (x >>> n) | (x << (32 - n));
  for (let o = 0; o < total; o += 64) {
    for (let i = 0; i < 16; i++) w[i] = view.getInt32(o + i * 4);
    for (let i = 16; i < 64; i++) {
      const s0 = rot(w[i - 15], 7) ^ rot(w[i - 15], 18) ^ (w[i - 15] >>> 3);
      const s1 = rot(w[i - 2], 17) ^ rot(w[i - 2], 19) ^ (w[i - 2] >>> 10);
      w[i] = (w[i - 16] + s0 + w[i - 7] + s1) | 0;
    }
    let [a, b, c, d, e, f, g, h] = H;
    for (let i = 0; i < 64; i++) {
      const t1 = (h + (rot(e, 6) ^ rot(e, 11) ^ rot(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + w[i]) | 0;
      const t2 = ((rot(a, 2) ^ rot(a, 13) ^ rot(a, 22)) + ((a & b) ^ (a & c) ^ (b & c))) | 0;
      h = g; g = f; f = e; e = (d + t1) | 0; d = c; c = b; b = a; a = (t1 + t2) | 0;
    }
    const v = [a, b, c, d, e, f, g, h];
    for (let i = 0; i < 8; i++) H[i] = (H[i] + v[i]) | 0;
  }
  return H.map((x) => (x >>> 0).toString(16).padStart(8, '0')).join('');
};

// The DOM path exactly as observe_page writes it: tag names from <html> down,
// "[n]" (1-based among same-tag siblings) where a parent has several; an
// iframe's path, then "/", before the paths inside it.
const domPath = (el) => {
  const parts = [];
  let n = el;
  while (n && n.nodeType === 1) {
    const parent = n.parentNode;
    let part = n.nodeName.toLowerCase();
    if (parent && parent.children) {
      let count = 0, index = 0;
      for (const c of parent.children) {
        if (c.nodeName === n.nodeName) {
          count++;
          if (c === n) index = count;
        }
      }
      if (count > 1) part += '[' + index + ']';
    }
    parts.push(part);
    n = parent && parent.nodeType === 11 && parent.host ? parent.host : parent;
  }
  let prefix = '';
  try {
    const frame = el.ownerDocument.defaultView.frameElement;
    if (frame) prefix = frame.ownerDocument.defaultView.__ergonPath(frame) + '/';
  } catch (e) {}
  return prefix + parts.reverse().join('/');
};
Object.defineProperty(window, '__ergonPath', {value: domPath});

// Where this document sits in the top page (same-origin frames).
const frameOffset = () => {
  let x = 0, y = 0;
  try {
    for (let w = window; w.frameElement; w = w.parent) {
      const r = w.frameElement.getBoundingClientRect();
      x += r.left + w.frameElement.clientLeft;
      y += r.top + w.frameElement.clientTop;
    }
    x += window.top.scrollX;
    y += window.top.scrollY;
  } catch (e) { x += scrollX; y += scrollY; }
  return {x, y};
};

const typeOf = (el) => (el.getAttribute('type') || '').toLowerCase();
const buttonInput = (el) => el.tagName === 'INPUT' &&
    ['submit', 'button', 'reset', 'image'].includes(typeOf(el));
const textField = (el) => !!el && (el.tagName === 'TEXTAREA' || el.isContentEditable ||
    (el.tagName === 'INPUT' && !['checkbox', 'radio', 'submit', 'button', 'reset', 'image',
                                 'file', 'hidden', 'range', 'color'].includes(typeOf(el))));
const byIds = (ids) => (ids || '').split(/\s+/).map((id) => document.getElementById(id))
    .filter(Boolean).map((e) => e.innerText || e.textContent || '').join(' ');
const labelsOf = (el) => el.labels ? [...el.labels].map((l) => l.innerText || '').join(' ') : '';
const implicitRole = (el) => {
  const tag = el.tagName, type = typeOf(el);
  if (tag === 'A' && el.hasAttribute('href')) return 'link';
  if (tag === 'BUTTON' || buttonInput(el)) return 'button';
  if (tag === 'SELECT') return el.multiple || el.size > 1 ? 'listbox' : 'combobox';
  if (tag === 'TEXTAREA') return 'textbox';
  if (tag === 'INPUT') {
    if (type === 'checkbox' || type === 'radio') return type;
    if (type === 'search') return 'searchbox';
    if (type === 'number') return 'spinbutton';
    if (type === 'range') return 'slider';
    if (textField(el)) return 'textbox';
  }
  return '';
};
const info = (el) => {
  const r = el.getBoundingClientRect();
  const off = frameOffset();
  const tag = el.tagName.toLowerCase();
  let text = '';
  if (buttonInput(el)) text = el.value || '';
  else if (!['input', 'select', 'textarea'].includes(tag)) text = el.innerText || '';
  const label = norm(labelsOf(el));
  const name = norm(el.getAttribute('aria-label') || byIds(el.getAttribute('aria-labelledby')) ||
                    label || text || el.getAttribute('placeholder') || el.getAttribute('title') ||
                    el.getAttribute('alt'));
  return {
    dom_path: domPath(el), tag, id: el.id || '', name_attr: el.getAttribute('name') || '',
    type: el.getAttribute('type') || '', role: el.getAttribute('role') || implicitRole(el), name,
    text: norm(text).slice(0, 200), classes: norm(el.getAttribute('class')),
    href: el.getAttribute('href') || '', placeholder: el.getAttribute('placeholder') || '',
    aria_label: el.getAttribute('aria-label') || '',
    alt: el.getAttribute('alt') || el.getAttribute('title') || '',
    neighbor_text: label.slice(0, 200),
    x: r.left + off.x, y: r.top + off.y, width: r.width, height: r.height,
  };
};

// Inside a consent banner: an element a consent rule detects, or what the
// connector's text fallback takes for a banner (named cookie/consent/gdpr/
// privacy/cmp/banner, or a dialog, whose text speaks of cookies or consent).
const inBanner = (el) => {
  for (const sel of CFG.consent) {
    try { if (el.closest(sel)) return true; } catch (e) {}
  }
  const named = /cookie|consent|gdpr|privacy|cmp|banner/i;
  for (let n = el; n && n !== document.body && n !== document.documentElement;
       n = n.parentElement) {
    const names = (n.id || '') + ' ' + (n.getAttribute('class') || '') + ' ' +
                  (n.getAttribute('aria-label') || '');
    const role = n.getAttribute('role') || '';
    const byName = named.test(names);
    const dialog = n.tagName === 'DIALOG' || ['dialog', 'alertdialog', 'region'].includes(role) ||
                   n.getAttribute('aria-modal') === 'true';
    if (!byName && !dialog) continue;
    const t = n.innerText || '';
    if (t.length > 5000) continue;
    const about = byName ? /cookie|consent|gdpr|privacy|tracking|personal data/i
                         : /cookie|consent|gdpr/i;
    if (about.test(t)) return true;
  }
  return false;
};

const origin = (e) => {
  let el = e.composedPath ? e.composedPath()[0] : e.target;
  if (el && el.nodeType !== 1) el = el.parentElement;
  return el && el.nodeType === 1 ? el : null;
};

// Fields typed into since their value was last reported.
const dirty = new Set();
const reported = new WeakMap();
const fill = (el) => {
  dirty.delete(el);
  const password = el.tagName === 'INPUT' && typeOf(el) === 'password';
  const raw = el.isContentEditable ? el.innerText : el.value;
  const key = password ? 'sha256:' + sha256(CFG.salt + raw) : raw;
  if (reported.get(el) === key) return;
  reported.set(el, key);
  const msg = {kind: 'fill', el: info(el), consent: inBanner(el)};
  if (password) {
    msg.password = true;
    msg.hash = key.slice(7);
    msg.empty = raw === '';
  } else {
    msg.value = raw;
  }
  send(msg);
};
Object.defineProperty(window, '__ergonFlush', {value: () => {
  for (const el of [...dirty]) if (el.isConnected) fill(el);
}});

window.addEventListener('input', (e) => {
  const el = origin(e);
  if (textField(el)) dirty.add(el);
}, true);
window.addEventListener('focusout', (e) => {
  const el = origin(e);
  if (el && el.isContentEditable && dirty.has(el)) fill(el);
}, true);
window.addEventListener('change', (e) => {
  const el = origin(e);
  if (!el) return;
  if (el.tagName === 'SELECT') {
    const o = el.selectedOptions[0];
    send({kind: 'select', el: info(el), value: o ? o.value : '',
          label: o ? norm(o.label || o.text) : '', consent: inBanner(el)});
  } else if (el.tagName === 'INPUT' && ['checkbox', 'radio'].includes(typeOf(el))) {
    send({kind: 'check', el: info(el), checked: el.checked, consent: inBanner(el)});
  } else if (textField(el)) {
    fill(el);
  }
}, true);

const ACTIONABLE = 'a[href], button, summary, input[type=submit], input[type=button], ' +
    'input[type=reset], input[type=image], label, [role=button], [role=link], [role=menuitem], ' +
    '[role=menuitemcheckbox], [role=menuitemradio], [role=tab], [role=option], [role=checkbox], ' +
    '[role=radio], [role=switch], [role=treeitem]';
// The element a click means, or null when the click only focused a field or
// toggled a control (its change event reports that).
const clickTarget = (el) => {
  const control = el.closest('input, select, textarea, option');
  if (control && !buttonInput(control)) return null;
  const act = el.closest(ACTIONABLE);
  if (act && act.tagName !== 'LABEL') return act;
  if (act && act.control) return null;
  let top = null;
  for (let n = el; n && n !== document.body && n !== document.documentElement;
       n = n.parentElement) {
    if (getComputedStyle(n).cursor === 'pointer') top = n;
    else break;
  }
  return top;
};
// Enter in a text field submits its form through a click on the form's
// default button: that click is the press already reported, not a new step.
let enterForm = null, enterAt = 0;
window.addEventListener('click', (e) => {
  if (!e.isTrusted) return;
  const el = origin(e);
  const target = el && clickTarget(el);
  if (!target) return;
  if (e.detail === 0 && enterForm && target.form === enterForm &&
      performance.now() - enterAt < 1000) {
    enterForm = null;
    return;
  }
  send({kind: 'click', el: info(target), consent: inBanner(target)});
}, true);

const KEYS = ['Enter', 'Escape', 'Tab', 'ArrowUp', 'ArrowDown', 'ArrowLeft', 'ArrowRight'];
window.addEventListener('keydown', (e) => {
  if (!e.isTrusted || e.isComposing || !KEYS.includes(e.key)) return;
  if (e.ctrlKey || e.altKey || e.metaKey || (e.shiftKey && e.key !== 'Tab')) return;
  let el = origin(e);
  if (el === document.body || el === document.documentElement) el = null;
  const text = textField(el);
  const tag = el ? el.tagName : '';
  if (e.key === 'Enter' && el) {
    // A new line, or a key that activates a control: its click reports it.
    if (tag === 'TEXTAREA' || el.isContentEditable) return;
    if (buttonInput(el) || el.matches('a[href], button, summary, [role=button], [role=link]'))
      return;
  }
  if (e.key.startsWith('Arrow') && el &&
      (text || tag === 'SELECT' || (tag === 'INPUT' && ['radio', 'range'].includes(typeOf(el)))))
    return;
  if (text && (e.key === 'Enter' || e.key === 'Tab') && dirty.has(el)) fill(el);
  if (e.key === 'Enter' && el && el.form) {
    enterForm = el.form;
    enterAt = performance.now();
  }
  const msg = {kind: 'press', key: (e.shiftKey ? 'Shift+' : '') + e.key,
               consent: el ? inBanner(el) : false};
  if (el && (text || tag === 'SELECT')) msg.el = info(el);
  send(msg);
}, true);
}
)JS";

std::string capture_script(const std::string& salt, const std::vector<std::string>& consent) {
  Json config = {{"binding", kBinding}, {"salt", salt}, {"consent", consent}};
  return "(() => {\nconst CFG = " + js(config) + ";\n" + kCapture + "})();";
}

// CSS selectors of the elements consent rules detect.
std::vector<std::string> consent_selectors(const std::vector<browser::ConsentRule>& rules) {
  std::vector<std::string> out;
  for (const browser::ConsentRule& rule : rules) {
    for (const browser::RuleStep& step : rule.detect) {
      for (const std::string* sel : {&step.exists, &step.visible}) {
        if (!sel->empty() && std::find(out.begin(), out.end(), *sel) == out.end()) {
          out.push_back(*sel);
        }
      }
    }
  }
  return out;
}

// ---------------------------------------------------------------------------
// The CDP side.

// Something the page told us, in order.
struct Signal {
  enum class Kind { kReport, kNavigated };
  Kind kind = Kind::kReport;
  Json report;             // kReport: the page's message
  std::string url;         // kNavigated: the new document's URL
  bool requested = false;  // kNavigated: the page asked for it (link, form, script)
  Clock::time_point at;
};

// State fed by CDP events on the reader thread. Thread-safe.
class Watch {
 public:
  Watch(std::string session, std::string target)
      : session_(std::move(session)), target_(std::move(target)) {}

  void on_event(const CdpEvent& event) {
    const Json& p = event.params;
    const auto now = Clock::now();
    std::lock_guard lock(mu_);
    if (event.method == "Target.targetDestroyed" && p.value("targetId", "") == target_) {
      closed_ = true;
    } else if (event.method == "Target.detachedFromTarget" &&
               p.value("sessionId", "") == session_) {
      closed_ = true;
    }
    if (event.session != session_) return;
    if (event.method == "Runtime.bindingCalled") {
      if (p.value("name", "") != kBinding) return;
      Json report = Json::parse(p.value("payload", ""), nullptr, false);
      if (!report.is_object()) return;
      signals_.push_back({Signal::Kind::kReport, std::move(report), "", false, now});
    } else if (event.method == "Page.frameRequestedNavigation") {
      if (p.value("frameId", "") != target_) return;
      requested_ = true;
      requested_at_ = now;
    } else if (event.method == "Page.frameStartedLoading") {
      if (p.value("frameId", "") != target_) return;
      loading_ = true;
    } else if (event.method == "Page.frameStoppedLoading") {
      if (p.value("frameId", "") != target_) return;
      loading_ = false;
    } else if (event.method == "Page.frameNavigated") {
      const Json& frame = p.value("frame", Json::object());
      if (frame.contains("parentId")) return;
      std::string url = frame.value("url", "") + frame.value("urlFragment", "");
      signals_.push_back({Signal::Kind::kNavigated, Json(), url, requested_, now});
      requested_ = false;
    } else if (event.method == "Network.requestWillBeSent") {
      requests_[p.value("requestId", "")] = now;
    } else if (event.method == "Network.loadingFinished" ||
               event.method == "Network.loadingFailed") {
      requests_.erase(p.value("requestId", ""));
    } else if (event.method == "Inspector.detached") {
      closed_ = true;
    } else if (event.method != "Page.navigatedWithinDocument" &&
               event.method != "Page.lifecycleEvent") {
      return;
    }
    last_activity_ = now;
    cv_.notify_all();
  }

  // Waits until the page is quiet (see kQuiet) or `cap` passed.
  void settle(milliseconds cap) {
    const auto deadline = Clock::now() + cap;
    std::unique_lock lock(mu_);
    while (!closed_) {
      const auto now = Clock::now();
      if (now >= deadline) return;
      bool busy = loading_ || (requested_ && now - requested_at_ < kCausedWindow) ||
                  now - last_activity_ < kQuiet;
      for (const auto& [id, started] : requests_) {
        busy = busy || now - started < kLongRequest;
      }
      if (!busy) return;
      cv_.wait_for(lock, kPoll);
    }
  }

  // Waits up to `timeout` for a signal; true when one is queued.
  bool wait_signal(milliseconds timeout) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return closed_ || !signals_.empty(); }) &&
           !signals_.empty();
  }

  std::deque<Signal> take() {
    std::lock_guard lock(mu_);
    return std::exchange(signals_, {});
  }

  bool closed() const {
    std::lock_guard lock(mu_);
    return closed_;
  }

 private:
  const std::string session_;
  const std::string target_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Signal> signals_;                         // guarded by mu_
  std::map<std::string, Clock::time_point> requests_;  // guarded by mu_
  Clock::time_point last_activity_ = Clock::now();     // guarded by mu_
  Clock::time_point requested_at_;                     // guarded by mu_
  bool requested_ = false;                             // guarded by mu_
  bool loading_ = false;                               // guarded by mu_
  bool closed_ = false;                                // guarded by mu_
};

// An observation and the document it was made of.
struct Observation {
  PageSnapshot snapshot;
  std::string doc;  // the capture script's document id, "" when unknown
  bool valid = false;
};

DemoPage demo_page(const Observation& o, int target) {
  DemoPage page;
  page.url = o.snapshot.url;
  page.title = o.snapshot.title;
  page.elements.reserve(o.snapshot.elements.size());
  for (const PageElement& e : o.snapshot.elements) page.elements.push_back(e.fp);
  page.target = target;
  return page;
}

std::string json_text(const Json& value, const char* key) {
  auto it = value.find(key);
  return it != value.end() && it->is_string() ? it->get<std::string>() : "";
}

bool json_bool(const Json& value, const char* key, bool fallback) {
  auto it = value.find(key);
  return it != value.end() && it->is_boolean() ? it->get<bool>() : fallback;
}

double json_number(const Json& value, const char* key) {
  auto it = value.find(key);
  return it != value.end() && it->is_number() ? it->get<double>() : 0;
}

// A fingerprint from the page's report, for an element the observation lacks.
Fingerprint reported_fingerprint(const Json& el) {
  Fingerprint fp;
  fp.tag = json_text(el, "tag");
  fp.role = json_text(el, "role");
  fp.name = json_text(el, "name");
  fp.text = json_text(el, "text");
  fp.id = json_text(el, "id");
  fp.name_attr = json_text(el, "name_attr");
  fp.classes = json_text(el, "classes");
  fp.type = json_text(el, "type");
  fp.href = json_text(el, "href");
  fp.placeholder = json_text(el, "placeholder");
  fp.aria_label = json_text(el, "aria_label");
  fp.alt = json_text(el, "alt");
  fp.dom_path = json_text(el, "dom_path");
  fp.neighbor_text = json_text(el, "neighbor_text");
  for (auto [key, field] : {std::pair{"x", &fp.x}, std::pair{"y", &fp.y},
                            std::pair{"width", &fp.width}, std::pair{"height", &fp.height}}) {
    if (auto it = el.find(key); it != el.end() && it->is_number()) *field = it->get<double>();
  }
  return fp;
}

// The element of `snapshot` the page reported: same DOM path (nearest box
// among several), else the only one with the same tag and id, or tag, name
// attribute and type. -1 when none.
int find_element(const PageSnapshot& snapshot, const Json& el) {
  const std::string path = json_text(el, "dom_path");
  const std::string tag = json_text(el, "tag");
  const double x = json_number(el, "x"), y = json_number(el, "y");
  int best = -1;
  double best_distance = 0;
  for (const PageElement& e : snapshot.elements) {
    if (e.fp.dom_path != path || (!tag.empty() && e.fp.tag != tag)) continue;
    double dx = e.fp.x.value_or(0) - x, dy = e.fp.y.value_or(0) - y;
    double distance = dx * dx + dy * dy;
    if (best < 0 || distance < best_distance) {
      best = e.index;
      best_distance = distance;
    }
  }
  if (best >= 0) return best;
  auto unique = [&](auto same) {
    int found = -1;
    for (const PageElement& e : snapshot.elements) {
      if (!same(e.fp)) continue;
      if (found >= 0) return -1;
      found = e.index;
    }
    return found;
  };
  const std::string id = json_text(el, "id");
  if (!id.empty()) {
    int found = unique([&](const Fingerprint& fp) { return fp.tag == tag && fp.id == id; });
    if (found >= 0) return found;
  }
  const std::string name = json_text(el, "name_attr");
  if (!name.empty()) {
    const std::string type = json_text(el, "type");
    return unique([&](const Fingerprint& fp) {
      return fp.tag == tag && fp.name_attr == name && fp.type == type;
    });
  }
  return -1;
}

// What a person calls an element in messages.
std::string element_label(const Json& target) {
  if (!target.is_object()) return "";
  for (const char* key :
       {"name", "text", "aria_label", "placeholder", "neighbor_text", "name_attr", "id"}) {
    std::string text = json_text(target, key);
    if (!text.empty()) return quoted(text.size() > 60 ? text.substr(0, 57) + "..." : text);
  }
  return json_text(target, "tag");
}

// "<CONNECTOR>_PASSWORD", as an environment variable can be named.
std::string default_secret_name(const std::string& connector) {
  std::string name = upper(connector) + "_PASSWORD";
  for (char& c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  }
  return name;
}

// Names of secrets the recorder may compare a typed password with.
std::vector<std::string> secret_candidates(const Workspace& workspace,
                                           const std::string& connector) {
  std::vector<std::string> names;
  auto add = [&](const std::string& name) {
    if (!name.empty() && std::find(names.begin(), names.end(), name) == names.end()) {
      names.push_back(name);
    }
  };
  add(default_secret_name(connector));
  // Secrets the workspace's skills already use.
  std::function<void(const Json&)> scan = [&](const Json& value) {
    if (value.is_object()) {
      for (const auto& [key, item] : value.items()) {
        if (key == "secret" && item.is_string()) add(item.get<std::string>());
        scan(item);
      }
    } else if (value.is_array()) {
      for (const Json& item : value) scan(item);
    }
  };
  for (const Skill& skill : workspace.skills) {
    for (const Step& step : skill.steps) scan(step.with);
  }
  // The vault file's names.
  if (!workspace.vault_file.empty()) {
    std::ifstream in(workspace.vault_file);
    std::string line;
    while (std::getline(in, line)) {
      auto eq = line.find('=');
      if (line.empty() || line[0] == '#' || eq == std::string::npos) continue;
      std::string name = line.substr(0, eq);
      name.erase(0, name.find_first_not_of(" \t"));
      name.erase(name.find_last_not_of(" \t") + 1);
      add(name);
    }
  }
  // Environment variables named like secrets.
  for (char** env = environ; env != nullptr && *env != nullptr; ++env) {
    std::string entry = *env;
    std::string name = entry.substr(0, entry.find('='));
    std::string u = upper(name);
    if (u == "PWD" || u == "OLDPWD") continue;
    for (const char* word : {"PASS", "SECRET", "TOKEN", "CREDENTIAL", "_PWD", "_PIN", "_KEY"}) {
      if (u.find(word) != std::string::npos) {
        add(name);
        break;
      }
    }
  }
  return names;
}

// ---------------------------------------------------------------------------
// One recording.

class Recorder {
 public:
  Recorder(const Workspace& workspace, const Vault& vault, const RecordOptions& options,
           const ConnectorConfig& connector, std::string base_url)
      : workspace_(workspace),
        vault_(vault),
        options_(options),
        connector_(connector),
        base_url_(std::move(base_url)),
        salt_(random_hex(16)) {}

  ~Recorder() {
    if (subscription_ != 0 && browser_) browser_->unsubscribe(subscription_);
    page_.reset();
    browser_.reset();
  }

  Result<Recording> run(const std::string& start_url, const PersonScript* script) {
    const Json& s = connector_.settings;
    timeout_ = milliseconds(s.value("timeout_ms", static_cast<int64_t>(10000)));
    if (auto started = start(); !started) return fail(started.error());

    demo_.instruction = options_.instruction;
    demo_.kind = "browser";
    demo_.connector = connector_.name;
    demo_.start_url = relative_url(start_url, base_url_);
    demo_.recorded = format_time(SystemClock().now_ms());

    if (auto opened = open_start(start_url); !opened) return fail(opened.error());
    if (script != nullptr) {
      Person person(*browser_, *page_, base_url_, timeout_);
      for (const PersonAction& action : script->actions) {
        if (ended()) {
          return fail(ErrorCode::kUnavailable,
                      "the browser went away before " + action.describe() + ": " + end_reason());
        }
        say("  person: " + action.describe());
        if (auto done = person.perform(action); !done) return fail(done.error());
        if (auto pumped = pump(); !pumped) return fail(pumped.error());
      }
    } else {
      while (!ended() && !(options_.done && options_.done())) {
        if (!watch_->wait_signal(milliseconds(100))) continue;
        if (auto pumped = pump(); !pumped) return fail(pumped.error());
      }
    }
    if (!ended()) {
      // A value typed but not yet committed (no change event) still counts.
      (void)page_->evaluate("window.__ergonFlush && window.__ergonFlush()");
      if (auto pumped = pump(); !pumped) return fail(pumped.error());
    }
    return save();
  }

 private:
  Status start() {
    const Json& s = connector_.settings;
    ChromiumOptions options;
    options.executable = s.value("executable", options.executable);
    options.headless = options_.headless;
    options.profile_dir = (fs::temp_directory_path() / ("ergon-record-" + random_hex(6))).string();
    options.command_timeout = std::max(options.command_timeout, timeout_);
    auto browser = Chromium::launch(options);
    if (!browser) return fail(browser.error().with_context("starting Chromium: "));
    browser_ = std::move(*browser);
    const bool accept = s.value("dialogs", "dismiss") == "accept";
    auto page = browser::Page::open(*browser_, nullptr, [accept](const browser::Dialog& d) {
      return d.type == "alert" || d.type == "beforeunload" || accept;
    });
    if (!page) return fail(page.error());
    page_ = std::move(*page);
    // One window with one tab: close what Chromium opened by itself.
    if (auto targets = browser_->call("Target.getTargets"); targets) {
      for (const Json& t : targets->value("targetInfos", Json::array())) {
        if (t.value("type", "") == "page" && t.value("targetId", "") != page_->target_id()) {
          (void)browser_->call("Target.closeTarget", {{"targetId", t.value("targetId", "")}});
        }
      }
    }
    watch_ = std::make_unique<Watch>(page_->session(), page_->target_id());
    Watch* watch = watch_.get();
    subscription_ = browser_->subscribe([watch](const CdpEvent& e) { watch->on_event(e); });
    (void)browser_->call("Target.setDiscoverTargets", {{"discover", true}});

    std::vector<browser::ConsentRule> rules;
    if (std::string dir = s.value("consent_rules", ""); !dir.empty()) {
      fs::path path = fs::path(dir).is_absolute() ? fs::path(dir) : fs::path(workspace_.dir) / dir;
      auto loaded = browser::load_consent_rules(path.string());
      if (!loaded) return fail(loaded.error());
      rules = std::move(*loaded);
    }
    for (const browser::ConsentRule& rule : browser::builtin_consent_rules()) rules.push_back(rule);

    const std::string& session = page_->session();
    if (auto bound = browser_->call("Runtime.addBinding", {{"name", kBinding}}, session); !bound) {
      return fail(bound.error().with_context("installing the recorder: "));
    }
    if (auto added =
            browser_->call("Page.addScriptToEvaluateOnNewDocument",
                           {{"source", capture_script(salt_, consent_selectors(rules))}}, session);
        !added) {
      return fail(added.error().with_context("installing the recorder: "));
    }
    return {};
  }

  bool ended() const { return watch_->closed() || !browser_->alive(); }

  std::string end_reason() const {
    return browser_->alive() ? "the browser window was closed" : browser_->exit_reason();
  }

  void say(const std::string& line) {
    if (options_.print) options_.print(line);
  }

  // The first step: where the recording begins.
  Status open_start(const std::string& url) {
    if (auto s = page_->navigate(url, timeout_); !s) {
      return fail(s.error().with_context("opening the start URL: "));
    }
    watch_->settle(timeout_);
    (void)watch_->take();  // our own navigation, and nothing the person did yet
    auto seen = observe();
    if (!seen) return fail(seen.error());
    current_ = std::move(*seen);
    DemoStep step;
    step.action = connector_.name + ".navigate";
    step.with = {{"url", relative_url(url, base_url_)}};
    add_step(std::move(step), nullptr, -1);
    finish_batch(&current_);
    return {};
  }

  Result<Observation> observe() {
    for (int attempt = 0;; ++attempt) {
      auto before = page_->evaluate("window.__ergonDoc || ''");
      auto snapshot = page_->observe();
      auto after = page_->evaluate("window.__ergonDoc || ''");
      if (!snapshot) {
        if (attempt < 3 && !ended()) {
          watch_->settle(timeout_);
          continue;
        }
        return fail(snapshot.error().with_context("observing the page: "));
      }
      Observation o;
      o.snapshot = std::move(*snapshot);
      o.valid = true;
      if (before && after && *before == *after && before->is_string()) {
        o.doc = before->get<std::string>();
      } else if (attempt < 3) {
        watch_->settle(timeout_);
        continue;
      }
      return o;
    }
  }

  // Turns what the page reported since the last look into steps, then looks
  // again once the page is quiet; repeats while the page keeps reporting.
  Status pump() {
    while (true) {
      watch_->settle(timeout_);
      std::deque<Signal> batch = watch_->take();
      if (batch.empty()) return {};
      for (const Signal& signal : batch) {
        if (signal.kind == Signal::Kind::kNavigated) {
          navigated(signal);
        } else if (auto handled = report(signal); !handled) {
          return handled;
        }
      }
      if (ended()) {
        finish_batch(nullptr);
        return {};
      }
      watch_->settle(timeout_);
      auto seen = observe();
      if (!seen) {
        if (ended()) {
          finish_batch(nullptr);
          return {};
        }
        return fail(seen.error());
      }
      current_ = std::move(*seen);
      finish_batch(&current_);
    }
  }

  void navigated(const Signal& signal) {
    bool caused = signal.requested || (gesture_ && signal.at - last_gesture_ <= kCausedWindow);
    gesture_ = false;
    if (!caused && signal.url != "about:blank") {
      DemoStep step;
      step.action = connector_.name + ".navigate";
      step.with = {{"url", relative_url(signal.url, base_url_)}};
      add_step(std::move(step), current_.valid ? &current_ : nullptr, -1);
    }
    live_url_ = signal.url;
  }

  Status report(const Signal& signal) {
    const Json& r = signal.report;
    const std::string kind = json_text(r, "kind");
    const Json el = r.contains("el") && r["el"].is_object() ? r["el"] : Json();
    if (kind == "click" || kind == "press") {
      gesture_ = true;
      last_gesture_ = signal.at;
    }
    if (json_bool(r, "consent", false)) {
      std::string what = kind == "click"   ? "click on " + element_label(el)
                         : kind == "press" ? "key " + json_text(r, "key")
                                           : kind + " " + element_label(el);
      say("  not recorded: " + what + " in a consent banner — the " + connector_.name +
          " connector answers consent banners itself");
      return {};
    }
    DemoStep step;
    Json with = Json::object();
    std::string doc = json_text(r, "doc");
    int index = -1;
    const Observation* before = nullptr;
    if (el.is_object()) {
      Fingerprint fp;
      if (auto found = locate(el, doc, &before); found >= 0) {
        index = found;
        fp = before->snapshot.elements[static_cast<size_t>(found)].fp;
      } else {
        fp = reported_fingerprint(el);
      }
      with["target"] = to_json(fp);
    } else if (current_.valid && current_.doc == doc) {
      before = &current_;
    }
    if (kind == "click") {
      step.action = connector_.name + ".click";
    } else if (kind == "fill") {
      step.action = connector_.name + ".fill";
      if (json_bool(r, "password", false)) {
        with["secret"] = secret_for(json_text(r, "hash"), element_label(el));
      } else {
        with["value"] = json_text(r, "value");
      }
    } else if (kind == "select") {
      step.action = connector_.name + ".select";
      with["option"] = option_of(json_text(r, "value"), json_text(r, "label"));
    } else if (kind == "check") {
      step.action = connector_.name + ".check";
      with["checked"] = json_bool(r, "checked", true);
    } else if (kind == "press") {
      step.action = connector_.name + ".press";
      with["key"] = json_text(r, "key");
    } else {
      return {};
    }
    step.with = std::move(with);
    add_step(std::move(step), before, index);
    return {};
  }

  // The element the page reported, in the observation of its document: the
  // current one, or a fresh look when the element is new. -1 when not found.
  int locate(const Json& el, const std::string& doc, const Observation** before) {
    if (current_.valid && current_.doc == doc) {
      *before = &current_;
      if (int found = find_element(current_.snapshot, el); found >= 0) return found;
    }
    auto live = page_->evaluate("window.__ergonDoc || ''");
    if (!live || *live != doc) return -1;
    auto seen = observe();
    if (!seen || seen->doc != doc) return -1;
    current_ = std::move(*seen);
    live_url_ = current_.snapshot.url;
    *before = &current_;
    return find_element(current_.snapshot, el);
  }

  // A select's option as the step names it: its value, or its label when
  // the instruction speaks of the label and not of the value.
  std::string option_of(const std::string& value, const std::string& label) const {
    const std::string said = lower(options_.instruction);
    if (value.empty()) return label;
    if (!label.empty() && said.find(lower(label)) != std::string::npos &&
        said.find(lower(value)) == std::string::npos) {
      return label;
    }
    return value;
  }

  // The vault secret a typed password stands for (see RecordOptions::secret).
  // Only salted hashes are compared: the typed value never reaches ergon.
  std::string secret_for(const std::string& hash, const std::string& field) {
    enum class Known { kMatches, kDiffers, kMissing };
    auto known = [&](const std::string& name) {
      auto value = vault_.get(name);
      if (!value) return Known::kMissing;
      return sha256_hex({salt_, *value}) == hash ? Known::kMatches : Known::kDiffers;
    };
    std::string name = options_.secret;
    Known state = Known::kMissing;
    if (!name.empty()) {
      state = known(name);
    } else {
      for (const std::string& candidate : secret_candidates(workspace_, connector_.name)) {
        if (known(candidate) == Known::kMatches) {
          name = candidate;
          state = Known::kMatches;
          break;
        }
      }
      if (name.empty()) {
        name = default_secret_name(connector_.name);
        state = known(name);
      }
    }
    std::string note =
        "the password typed into " + field + " is recorded as `secret: " + name + "`";
    if (state == Known::kMatches) {
      note += " (the vault's " + name + " holds what was typed)";
    } else if (state == Known::kDiffers) {
      note +=
          ", but the vault's " + name + " holds another value — update it before the skill runs";
    } else {
      note += " — set " + name +
              " (environment or vault file) to it before the skill runs, or "
              "edit the step";
    }
    if (std::find(notes_.begin(), notes_.end(), note) == notes_.end()) {
      notes_.push_back(note);
      say("  " + note);
    }
    return name;
  }

  void add_step(DemoStep step, const Observation* before, int target) {
    if (!batch_steps_.empty()) {
      // The step before this one in the batch: the page was not looked at in between.
      DemoStep& previous = demo_.steps[batch_steps_.back()];
      previous.url_after = live_url_;
    }
    const size_t number = demo_.steps.size() + 1;
    char prefix[16];
    std::snprintf(prefix, sizeof prefix, "%02zu", number);
    if (before != nullptr && before->valid) {
      step.page_before = std::string(prefix) + "-before.json";
      pages_.emplace_back(step.page_before, demo_page(*before, target));
    }
    if (step.action.size() > connector_.name.size() + 1) {
      say("  " + std::to_string(number) + " " + describe_step(step));
    }
    batch_steps_.push_back(demo_.steps.size());
    demo_.steps.push_back(std::move(step));
  }

  // The page after the batch's last step (nullptr: the browser went away).
  void finish_batch(const Observation* after) {
    if (after != nullptr && after->valid) live_url_ = after->snapshot.url;
    if (batch_steps_.empty()) return;
    DemoStep& last = demo_.steps[batch_steps_.back()];
    if (after != nullptr && after->valid) {
      char prefix[16];
      std::snprintf(prefix, sizeof prefix, "%02zu", batch_steps_.back() + 1);
      last.page_after = std::string(prefix) + "-after.json";
      int target = -1;
      if (last.with.contains("target")) {
        // The same element, when it is still there.
        const Json& fp = last.with["target"];
        for (const PageElement& e : after->snapshot.elements) {
          if (e.fp.dom_path == json_text(fp, "dom_path") && e.fp.tag == json_text(fp, "tag")) {
            target = e.index;
            break;
          }
        }
      }
      pages_.emplace_back(last.page_after, demo_page(*after, target));
      last.url_after = after->snapshot.url;
    } else {
      last.url_after = live_url_;
    }
    batch_steps_.clear();
  }

  Result<Recording> save() {
    Recording out;
    demo_.id = new_demonstration_id(workspace_.dir, options_.id);
    for (const auto& [file, page] : pages_) {
      if (auto saved = save_demo_page(workspace_.dir, demo_.id, file, page); !saved) {
        return fail(saved.error());
      }
    }
    if (auto saved = save_demonstration(workspace_.dir, demo_); !saved) return fail(saved.error());
    out.demo = demo_;
    out.file = demo_.file.empty()
                   ? (fs::path(demonstrations_dir(workspace_.dir)) / (demo_.id + ".yaml")).string()
                   : demo_.file;
    out.pages = static_cast<int>(pages_.size());
    out.notes = notes_;
    return out;
  }

  const Workspace& workspace_;
  const Vault& vault_;
  const RecordOptions& options_;
  const ConnectorConfig& connector_;
  const std::string base_url_;
  const std::string salt_;  // for hashes of typed passwords; never leaves this recording
  milliseconds timeout_{10000};

  std::unique_ptr<Chromium> browser_;
  std::unique_ptr<browser::Page> page_;
  std::unique_ptr<Watch> watch_;
  int subscription_ = 0;

  Observation current_;  // the latest look at the page
  std::string live_url_;
  bool gesture_ = false;  // a click or key press not yet followed by a navigation
  Clock::time_point last_gesture_;
  Demonstration demo_;
  std::vector<size_t> batch_steps_;  // steps since the last look at the page
  std::vector<std::pair<std::string, DemoPage>> pages_;
  std::vector<std::string> notes_;
};

}  // namespace

Result<const ConnectorConfig*> recording_connector(const Workspace& workspace,
                                                   const std::string& name) {
  std::vector<const ConnectorConfig*> browsers;
  std::string list;
  for (const ConnectorConfig& c : workspace.connectors) {
    if (c.kind != "browser") continue;
    browsers.push_back(&c);
    list += (list.empty() ? "" : ", ") + c.name;
  }
  const std::string file = (fs::path(workspace.dir) / "ergon.yaml").string();
  if (!name.empty()) {
    for (const ConnectorConfig& c : workspace.connectors) {
      if (c.name != name) continue;
      if (c.kind != "browser") {
        return fail(ErrorCode::kInvalidInput,
                    "--connector " + name + ": a " + c.kind +
                        " connector — a browser demonstration needs a browser connector" +
                        (list.empty() ? "" : " (" + list + ")") +
                        "; for API calls use `ergon record --api`");
      }
      return &c;
    }
    return fail(ErrorCode::kInvalidInput,
                "--connector " + name + ": no such connector in " + file +
                    (list.empty() ? "" : " — browser connectors: " + list));
  }
  if (browsers.empty()) {
    return fail(ErrorCode::kInvalidInput,
                file +
                    " has no browser connector — add one (kind: browser, base_url: ...) to "
                    "record in a browser, or use `ergon record --api`");
  }
  if (browsers.size() > 1) {
    return fail(ErrorCode::kInvalidInput, file + " has several browser connectors (" + list +
                                              ") — choose one with --connector NAME");
  }
  return browsers.front();
}

std::string connector_base_url(const ConnectorConfig& connector) {
  const Json& s = connector.settings;
  if (std::string env = s.value("base_url_env", ""); !env.empty()) {
    if (const char* value = std::getenv(env.c_str()); value != nullptr && *value != '\0') {
      return value;
    }
  }
  return s.value("base_url", "");
}

std::string relative_url(const std::string& url, const std::string& base_url) {
  auto a = split_origin(url);
  auto b = split_origin(base_url);
  if (a && b && a->first == b->first) return a->second;
  return url;
}

std::string describe_step(const DemoStep& step) {
  const std::string verb = step.action.substr(step.action.rfind('.') + 1);
  if (!step.with.is_object()) return verb;
  const Json& w = step.with;
  const std::string target = element_label(w.value("target", Json()));
  auto text = [&](const char* key) {
    const Json& v = w.value(key, Json());
    return v.is_string() ? v.get<std::string>() : v.dump();
  };
  if (verb == "navigate") return "navigate " + text("url");
  if (verb == "fill") {
    if (w.contains("secret")) return "fill " + target + " = secret " + text("secret");
    return "fill " + target + " = " + text("value");
  }
  if (verb == "select") return "select " + target + " = " + text("option");
  if (verb == "check") return (json_bool(w, "checked", true) ? "check " : "uncheck ") + target;
  if (verb == "press") return "press " + text("key") + (target.empty() ? "" : " in " + target);
  if (verb == "click") return "click " + target;
  return verb + " " + w.dump();
}

Result<Recording> record_demonstration(const Workspace& workspace, const Vault& vault,
                                       const RecordOptions& options) {
  auto connector = recording_connector(workspace, options.connector);
  if (!connector) return fail(connector.error());
  const std::string base_url = connector_base_url(**connector);
  std::string start = options.start_url;
  if (start.empty()) {
    if (base_url.empty()) {
      return fail(ErrorCode::kInvalidInput,
                  "connector '" + (*connector)->name + "' has no base_url — give --start-url URL");
    }
    start = base_url;
  } else if (start.find("://") == std::string::npos) {
    if (base_url.empty()) {
      return fail(ErrorCode::kInvalidInput, "--start-url " + start +
                                                ": a relative URL needs the connector's base_url — "
                                                "give an absolute URL");
    }
    start = resolve_url(start, base_url);
  } else if (!split_origin(start) ||
             (start.rfind("http://", 0) != 0 && start.rfind("https://", 0) != 0)) {
    return fail(ErrorCode::kInvalidInput,
                "--start-url " + start + ": expected an http(s) URL or a path like /login");
  }
  std::optional<PersonScript> script;
  if (!options.person_file.empty()) {
    auto loaded = load_person_script(options.person_file);
    if (!loaded) return fail(loaded.error());
    script = std::move(*loaded);
  } else if (options.headless) {
    return fail(ErrorCode::kInvalidInput,
                "a headless browser has no window for a person — give --person FILE (a scripted "
                "person), or run with a display (DISPLAY set) and without --headless");
  }
  Recorder recorder(workspace, vault, options, **connector, base_url);
  return recorder.run(start, script ? &*script : nullptr);
}

}  // namespace ergon::learn
