// Interrupt handlers: consent banners, CAPTCHAs and login walls (interrupts.h).
//
// Everything the handlers read about the page comes from read-only JavaScript
// (Page::evaluate: querySelectorAll, getBoundingClientRect, computed style,
// elementFromPoint); everything they do is a real mouse click at an element's
// centre (Page::click_at). One "survey" evaluation answers every question at
// once, so a page with nothing in the way costs one round trip.
#include "connect/browser/interrupts.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <functional>
#include <regex>
#include <string_view>
#include <system_error>
#include <thread>
#include <utility>

#include "connect/browser/page.h"
#include "core/internal/yaml_json.h"
#include "ergon/plan.h"

#ifndef ERGON_SHARE_DIR
#define ERGON_SHARE_DIR "share"
#endif

namespace ergon::browser {
namespace {

using internal::YamlDocument;
using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

// How long a step may wait for an element to appear, stop being covered or go away.
constexpr milliseconds kStepTimeout{3000};
constexpr milliseconds kPollInterval{100};

const std::vector<std::string> kRuleFields = {"name", "detect", "opt_out"};
const std::vector<std::string> kDetectKinds = {"exists", "visible", "text"};
const std::vector<std::string> kOptOutKinds = {"click", "click_text", "wait_gone"};

// Button texts that opt out, strongest first. A button matches when its text,
// lower-cased with surrounding punctuation stripped, equals a phrase or a
// phrase followed by " cookies". Nothing here accepts, allows or agrees.
const std::vector<std::string> kOptOutPhrases = {
    "reject all",
    "decline all",
    "refuse all",
    "deny all",
    "only necessary",
    "necessary only",
    "use necessary cookies only",
    "only essential",
    "essential only",
    "use essential cookies only",
    "strictly necessary only",
    "reject",
    "decline",
    "refuse",
    "deny",
    "continue without accepting",
    "do not consent",
};

// Page text that only a CAPTCHA shows.
const std::vector<std::string> kCaptchaPhrases = {
    "verify you are a human", "verify you are human", "i'm not a robot",
    "i\u2019m not a robot",   "i am not a robot",     "are you a robot",
};

std::string lower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

std::string quoted_list(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& item : items) out += (out.empty() ? "'" : ", '") + item + "'";
  return out;
}

// A JavaScript string (or any value) literal: JSON is valid JavaScript.
std::string js(const Json& value) {
  return value.dump(-1, ' ', false, Json::error_handler_t::replace);
}

// ---------------------------------------------------------------------------
// Rule files

class RuleSource {
 public:
  explicit RuleSource(const YamlDocument& doc) : doc_(doc) {}

  std::unexpected<Error> error(const std::string& pointer, const std::string& what) const {
    return doc_.error(pointer, what);
  }

  Result<ConsentRule> rule() const {
    const Json& root = doc_.value;
    if (root.is_null()) {
      return error("", "the file is empty — a consent rule needs name, detect and opt_out");
    }
    if (!root.is_object()) {
      return error("", "expected a mapping with name, detect and opt_out");
    }
    for (const std::string& key : doc_.keys("", root)) {
      if (std::find(kRuleFields.begin(), kRuleFields.end(), key) != kRuleFields.end()) continue;
      std::string hint = closest_spelling(key, kRuleFields);
      return error(internal::pointer_append("", key),
                   hint.empty() ? "unknown field — use " + quoted_list(kRuleFields)
                                : "unknown field — did you mean '" + hint + "'?");
    }
    ConsentRule rule;
    rule.file = doc_.file;
    auto name = root.find("name");
    if (name == root.end()) {
      return error("/name", "missing — name the vendor, e.g. name: onetrust");
    }
    if (!name->is_string() || name->get<std::string>().empty()) {
      return error("/name", "expected a non-empty string");
    }
    rule.name = name->get<std::string>();
    auto detect = steps("detect", kDetectKinds,
                        "list the checks that hold while the banner shows, e.g. "
                        "[{visible: \"#vendor-banner\"}]");
    if (!detect) return fail(detect.error());
    rule.detect = std::move(*detect);
    auto opt_out = steps("opt_out", kOptOutKinds,
                         "list the steps that decline, e.g. [{click: \"#vendor-reject\"}]");
    if (!opt_out) return fail(opt_out.error());
    rule.opt_out = std::move(*opt_out);
    return rule;
  }

 private:
  Result<std::vector<RuleStep>> steps(const std::string& key, const std::vector<std::string>& kinds,
                                      const std::string& example) const {
    const std::string at = internal::pointer_append("", key);
    auto list = doc_.value.find(key);
    if (list == doc_.value.end()) return error(at, "missing — " + example);
    if (!list->is_array() || list->empty()) {
      return error(at, "expected a non-empty list — " + example);
    }
    std::vector<RuleStep> out;
    for (size_t i = 0; i < list->size(); ++i) {
      const Json& item = (*list)[i];
      const std::string item_at = internal::pointer_append(at, i);
      if (!item.is_object() || item.size() != 1) {
        return error(item_at, "expected one mapping with exactly one of " + quoted_list(kinds) +
                                  " per step");
      }
      const std::string kind = item.begin().key();
      const std::string kind_at = internal::pointer_append(item_at, kind);
      if (std::find(kinds.begin(), kinds.end(), kind) == kinds.end()) {
        const auto& other = key == "detect" ? kOptOutKinds : kDetectKinds;
        if (std::find(other.begin(), other.end(), kind) != other.end()) {
          return error(kind_at, "not a " + key + " step — " + key + " takes " + quoted_list(kinds));
        }
        std::string hint = closest_spelling(kind, kinds);
        return error(kind_at, hint.empty() ? "unknown step — use " + quoted_list(kinds)
                                           : "unknown step — did you mean '" + hint + "'?");
      }
      const Json& value = item.begin().value();
      if (!value.is_string() || value.get<std::string>().empty()) {
        return error(kind_at, kind == "text" || kind == "click_text"
                                  ? "expected a non-empty text"
                                  : "expected a non-empty CSS selector");
      }
      RuleStep step;
      std::string text = value.get<std::string>();
      if (kind == "exists") step.exists = text;
      if (kind == "visible") step.visible = text;
      if (kind == "text") step.text = text;
      if (kind == "click") step.click = text;
      if (kind == "click_text") step.click_text = text;
      if (kind == "wait_gone") step.wait_gone = text;
      out.push_back(std::move(step));
    }
    return out;
  }

  const YamlDocument& doc_;
};

// ---------------------------------------------------------------------------
// Page scripts (read-only)

// Helpers every script starts with. `bad` collects selectors the browser
// rejects, so a typo in a rule is reported instead of reading as "absent".
constexpr std::string_view kHelpers = R"JS(
const bad = [];
const query = (root, sel) => {
  try { return Array.from(root.querySelectorAll(sel)); } catch (e) { bad.push(sel); return []; }
};
const visible = (el) => {
  if (!el || !el.isConnected) return false;
  const r = el.getBoundingClientRect();
  if (r.width < 1 || r.height < 1) return false;
  if (el.checkVisibility && !el.checkVisibility({checkOpacity: true, checkVisibilityCSS: true,
      opacityProperty: true, visibilityProperty: true})) return false;
  return getComputedStyle(el).visibility !== 'hidden';
};
const firstVisible = (sel) => query(document, sel).find(visible) || null;
const textOf = (el) => (el.innerText || el.value || el.getAttribute('aria-label') ||
    el.getAttribute('title') || '').replace(/\s+/g, ' ').trim();
const labelOf = (el) => {
  let s = el.tagName.toLowerCase();
  if (el.id) s += '#' + el.id;
  const cls = (el.getAttribute('class') || '').trim();
  if (cls) s += '.' + cls.split(/\s+/).slice(0, 2).join('.');
  const t = textOf(el).slice(0, 40);
  return t ? s + " '" + t + "'" : s;
};
const pointOf = (el) => {
  const r = el.getBoundingClientRect();
  const x = r.left + r.width / 2, y = r.top + r.height / 2;
  const inView = x >= 0 && y >= 0 && x < innerWidth && y < innerHeight;
  const hit = inView ? document.elementFromPoint(x, y) : null;
  const ok = !!hit && (hit === el || el.contains(hit));
  return {x, y, in_view: inView, hit: ok, covered_by: ok || !hit ? '' : labelOf(hit),
          scroll_x: inView ? 0 : x - innerWidth / 2, scroll_y: inView ? 0 : y - innerHeight / 2,
          text: textOf(el)};
};
const clickable = 'button, a, [role=button], [role=link], input[type=button], input[type=submit]';
let pageText = null;
const pageHas = (t) => {
  if (pageText === null) pageText = (document.body ? document.body.innerText : '').toLowerCase();
  return pageText.includes(t.toLowerCase());
};
const holds = (c) => c.kind === 'visible' ? !!firstVisible(c.value)
                   : c.kind === 'exists' ? query(document, c.value).length > 0
                   : c.kind === 'text' ? pageHas(c.value) : false;
const byText = (wanted) => {
  const w = wanted.replace(/\s+/g, ' ').trim().toLowerCase();
  return query(document, clickable).find((el) => visible(el) && textOf(el).toLowerCase() === w)
      || null;
};
const banners = () => {
  const named = /cookie|consent|gdpr|privacy|cmp|banner/i;
  const out = [];
  for (const el of document.querySelectorAll(
      '[id], [class], [aria-label], dialog, [role=dialog], [role=alertdialog], [role=region]')) {
    const tag = el.tagName.toLowerCase();
    if (['html', 'body', 'main', 'script', 'style', 'link', 'meta'].includes(tag)) continue;
    if (el.matches(clickable)) continue;
    const names = (el.id || '') + ' ' + (el.getAttribute('class') || '') + ' ' +
                  (el.getAttribute('aria-label') || '');
    const role = el.getAttribute('role') || '';
    const byName = named.test(names);
    const dialog = tag === 'dialog' || ['dialog', 'alertdialog', 'region'].includes(role) ||
                   el.getAttribute('aria-modal') === 'true';
    if (!byName && !dialog) continue;
    if (!visible(el)) continue;
    const t = el.innerText || '';
    if (t.length > 5000) continue;
    const about = byName ? /cookie|consent|gdpr|privacy|tracking|personal data/i
                         : /cookie|consent|gdpr/i;
    if (about.test(t)) out.push(el);
  }
  return out;
};
const optOutIn = (found, phrases) => {
  let best = null, bestRank = Infinity;
  const buttons = [], seen = new Set();
  for (const b of found) for (const el of b.querySelectorAll(clickable)) {
    if (seen.has(el)) continue;
    seen.add(el);
    if (!visible(el)) continue;
    const t = textOf(el);
    const n = t.toLowerCase().replace(/^[^\p{L}\p{N}]+|[^\p{L}\p{N}]+$/gu, '');
    if (!n || n.length > 60) continue;
    buttons.push(t);
    if (/\b(accept|allow|agree)\b/.test(n)) continue;
    let rank = phrases.indexOf(n);
    if (rank < 0 && n.endsWith(' cookies')) rank = phrases.indexOf(n.slice(0, -8));
    if (rank >= 0 && rank < bestRank) { best = el; bestRank = rank; }
  }
  return {best, buttons};
};
)JS";

std::string script(const Json& params, std::string_view body) {
  std::string out = "(() => {\n";
  out += kHelpers;
  out += "const P = " + js(params) + ";\n";
  out += body;
  out += "\n})()";
  return out;
}

Json check_params(const std::vector<RuleStep>& steps) {
  Json checks = Json::array();
  for (const RuleStep& step : steps) {
    // Exactly one check per step, so answers line up with steps; a step
    // with no detect field (an opt_out step misplaced by code) never holds.
    if (!step.exists.empty()) {
      checks.push_back({{"kind", "exists"}, {"value", step.exists}});
    } else if (!step.visible.empty()) {
      checks.push_back({{"kind", "visible"}, {"value", step.visible}});
    } else if (!step.text.empty()) {
      checks.push_back({{"kind", "text"}, {"value", step.text}});
    } else {
      checks.push_back({{"kind", "none"}, {"value", ""}});
    }
  }
  return checks;
}

// What one look at the page found.
struct Survey {
  std::string url;
  std::string captcha;  // what gave a CAPTCHA away, "" when none
  bool password = false;
  std::vector<bool> checks;  // one per detect step of every rule, in order
  std::vector<std::string> bad_selectors;
  int banners = 0;
  std::vector<std::string> banner_buttons;
  std::string opt_out_text;  // the fallback's pick, "" when none
};

constexpr std::string_view kSurveyBody = R"JS(
const out = {url: location.href, captcha: '', password: false, checks: P.checks.map(holds)};
const captchaSel = 'iframe[src*="captcha" i], iframe[src*="challenges.cloudflare.com" i], ' +
    'iframe[src*="turnstile" i], iframe[title*="captcha" i], iframe[title*="challenge" i], ' +
    '.g-recaptcha, .h-captcha, .cf-turnstile, [id*="captcha" i], [class*="captcha" i], ' +
    '[data-sitekey]';
for (const el of document.querySelectorAll(captchaSel)) {
  if (['SCRIPT', 'STYLE', 'LINK', 'META'].includes(el.tagName)) continue;
  if (el.closest('.grecaptcha-badge')) continue;
  const src = el.tagName === 'IFRAME' ? (el.getAttribute('src') || '') : '';
  if (/size=invisible/.test(src)) continue;
  if (!visible(el)) continue;
  const marks = (src + ' ' + el.id + ' ' + (el.getAttribute('class') || '') + ' ' +
                 (el.getAttribute('title') || '')).toLowerCase();
  const vendor = /recaptcha/.test(marks) ? 'reCAPTCHA'
               : /hcaptcha/.test(marks) ? 'hCaptcha'
               : /turnstile|challenges\.cloudflare/.test(marks) ? 'Cloudflare Turnstile'
               : 'CAPTCHA';
  out.captcha = vendor + ' in ' + labelOf(el).split(' ')[0];
  break;
}
out.password = query(document, 'input[type=password]').some(visible);
const found = banners();
const pick = optOutIn(found, P.phrases);
out.banners = found.length;
out.banner_buttons = pick.buttons.slice(0, 8);
out.opt_out = pick.best ? textOf(pick.best) : '';
out.bad = bad;
return out;
)JS";

Result<Survey> survey(Page& page, const std::vector<RuleStep>& checks) {
  Json params = {{"checks", check_params(checks)}, {"phrases", kOptOutPhrases}};
  auto value = page.evaluate(script(params, kSurveyBody));
  if (!value) return fail(value.error().with_context("looking for interrupts: "));
  if (!value->is_object()) {
    return fail(ErrorCode::kInternal, "looking for interrupts: the page script returned " +
                                          value->dump() + " instead of an object");
  }
  const Json& v = *value;
  Survey out;
  out.url = v.value("url", "");
  out.captcha = v.value("captcha", "");
  out.password = v.value("password", false);
  for (const Json& held : v.value("checks", Json::array())) out.checks.push_back(held == true);
  for (const Json& sel : v.value("bad", Json::array())) {
    if (sel.is_string()) out.bad_selectors.push_back(sel.get<std::string>());
  }
  out.banners = v.value("banners", 0);
  for (const Json& text : v.value("banner_buttons", Json::array())) {
    if (text.is_string()) out.banner_buttons.push_back(text.get<std::string>());
  }
  out.opt_out_text = v.value("opt_out", "");
  return out;
}

// Whether every check holds now (rule verification after an opt-out).
Result<bool> all_hold(Page& page, const std::vector<RuleStep>& steps) {
  auto value =
      page.evaluate(script({{"checks", check_params(steps)}}, "return P.checks.every(holds);"));
  if (!value) return fail(value.error());
  return *value == true;
}

// Where to click, found by a locator script that returns pointOf(el), null
// when nothing matches, or {bad: [...]} for a selector the browser rejects.
struct Target {
  bool found = false;
  Page::Point point;
  bool in_view = false, hit = false;
  double scroll_x = 0, scroll_y = 0;
  std::string covered_by, text, bad;
};

Result<Target> locate(Page& page, const std::string& locator) {
  auto value = page.evaluate(locator);
  if (!value) return fail(value.error());
  Target target;
  if (!value->is_object()) return target;
  if (value->contains("bad")) {
    target.bad = value->at("bad").dump();
    return target;
  }
  target.found = true;
  target.point = {value->value("x", 0.0), value->value("y", 0.0)};
  target.in_view = value->value("in_view", false);
  target.hit = value->value("hit", false);
  target.scroll_x = value->value("scroll_x", 0.0);
  target.scroll_y = value->value("scroll_y", 0.0);
  target.covered_by = value->value("covered_by", "");
  target.text = value->value("text", "");
  return target;
}

std::string locator(const Json& params, std::string_view find_element) {
  std::string body = "const el = " + std::string(find_element) + ";\n";
  body += "if (bad.length) return {bad};\nreturn el ? pointOf(el) : null;";
  return script(params, body);
}

std::string selector_locator(const std::string& selector) {
  return locator({{"sel", selector}}, "firstVisible(P.sel)");
}
std::string text_locator(const std::string& text) {
  return locator({{"text", text}}, "byText(P.text)");
}
std::string fallback_locator() {
  return locator({{"phrases", kOptOutPhrases}}, "optOutIn(banners(), P.phrases).best");
}

// Waits (bounded) until the located element is in view and not covered, then
// clicks its centre with real input. Returns the element's text.
Result<std::string> click_located(Page& page, const std::string& locator, const std::string& what,
                                  milliseconds timeout = kStepTimeout) {
  const auto deadline = Clock::now() + timeout;
  Target last;
  int scrolls = 0;
  while (true) {
    auto target = locate(page, locator);
    // A page navigating away from under the script is transient.
    if (!target && Clock::now() >= deadline) return fail(target.error());
    if (target) {
      if (!target->bad.empty()) {
        return fail(ErrorCode::kInvalidInput,
                    what + ": the browser rejects the CSS selector " + target->bad + " — fix it");
      }
      last = *target;
      if (last.found && !last.in_view && scrolls < 3) {
        ++scrolls;
        auto scrolled = page.scroll_by(last.scroll_x, last.scroll_y);
        if (!scrolled) return fail(scrolled.error());
        continue;
      }
      if (last.found && last.in_view && last.hit) {
        auto clicked = page.click_at(last.point);
        if (!clicked) return fail(clicked.error());
        return last.text;
      }
    }
    if (Clock::now() >= deadline) break;
    std::this_thread::sleep_for(kPollInterval);
  }
  if (!last.found) {
    return fail(ErrorCode::kFailedPrecondition,
                what + ": no visible element within " + std::to_string(timeout.count()) + " ms");
  }
  if (!last.in_view) {
    return fail(ErrorCode::kFailedPrecondition, what + ": the element stays out of view");
  }
  return fail(ErrorCode::kFailedPrecondition, what + ": covered by " + last.covered_by);
}

// Polls `gone` until it answers true or the bounded wait ends.
Result<bool> wait_until(const std::function<Result<bool>()>& gone) {
  const auto deadline = Clock::now() + kStepTimeout;
  while (true) {
    auto done = gone();
    if (done && *done) return true;
    if (Clock::now() >= deadline) {
      if (!done) return fail(done.error());
      return false;
    }
    std::this_thread::sleep_for(kPollInterval);
  }
}

Result<bool> selector_gone(Page& page, const std::string& selector) {
  auto value = page.evaluate(script({{"sel", selector}},
                                    "const el = firstVisible(P.sel);\n"
                                    "return bad.length ? {bad} : !el;"));
  if (!value) return fail(value.error());
  if (value->is_object()) {
    return fail(ErrorCode::kInvalidInput,
                "the browser rejects the CSS selector " + value->at("bad").dump() + " — fix it");
  }
  return *value == true;
}

std::string describe_rule(const ConsentRule& rule) {
  return "consent rule '" + rule.name + "'" + (rule.file.empty() ? "" : " (" + rule.file + ")");
}

Status run_opt_out(Page& page, const ConsentRule& rule) {
  for (size_t i = 0; i < rule.opt_out.size(); ++i) {
    const RuleStep& step = rule.opt_out[i];
    const std::string where = describe_rule(rule) + ": opt_out[" + std::to_string(i) + "]";
    if (!step.click.empty()) {
      auto clicked =
          click_located(page, selector_locator(step.click), where + ": click '" + step.click + "'");
      if (!clicked) return fail(clicked.error());
    } else if (!step.click_text.empty()) {
      auto clicked = click_located(page, text_locator(step.click_text),
                                   where + ": click_text '" + step.click_text + "'");
      if (!clicked) return fail(clicked.error());
    } else if (!step.wait_gone.empty()) {
      auto gone = wait_until([&] { return selector_gone(page, step.wait_gone); });
      if (!gone) return fail(gone.error().with_context(where + ": "));
      if (!*gone) {
        return fail(ErrorCode::kFailedPrecondition,
                    where + ": wait_gone '" + step.wait_gone + "': still visible after " +
                        std::to_string(kStepTimeout.count()) + " ms");
      }
    }
  }
  auto gone = wait_until([&]() -> Result<bool> {
    auto held = all_hold(page, rule.detect);
    if (!held) return fail(held.error());
    return !*held;
  });
  if (!gone) return fail(gone.error().with_context(describe_rule(rule) + ": "));
  if (!*gone) {
    return fail(ErrorCode::kFailedPrecondition,
                "the consent banner is still there after " + describe_rule(rule) +
                    " opted out — fix the rule, or dismiss the banner by hand");
  }
  return {};
}

// The text fallback: clicks the best opt-out button of a banner-like element
// and checks that no banner offers that button any more. `timeout` bounds the
// wait for the button to appear and be clickable.
Result<std::string> run_fallback(Page& page, milliseconds timeout) {
  auto clicked = click_located(page, fallback_locator(), "consent text fallback", timeout);
  if (!clicked) return fail(clicked.error());
  const std::string text = *clicked;
  auto gone = wait_until([&]() -> Result<bool> {
    auto target = locate(page, fallback_locator());
    if (!target) return fail(target.error());
    return !target->found || target->text != text;
  });
  if (!gone) return fail(gone.error());
  if (!*gone) {
    return fail(ErrorCode::kFailedPrecondition,
                "the consent banner is still there after clicking '" + text +
                    "' (text fallback) — dismiss it by hand, or add a consent rule for it "
                    "(docs/workspace.md, \"Consent rules\")");
  }
  return text;
}

// A banner whose buttons only accept is worth a line in the report; one with
// no button that answers it (a footer with a cookie-policy link) is not.
bool reads_like_accept(const std::string& text) {
  static const std::regex accept(R"(\b(accept|allow|agree|ok|okay|got it|i understand)\b)",
                                 std::regex::icase);
  return std::regex_search(text, accept);
}

bool has_phrase(const std::string& haystack_lower, const std::vector<std::string>& phrases,
                std::string* which) {
  for (const std::string& phrase : phrases) {
    if (haystack_lower.find(phrase) != std::string::npos) {
      *which = phrase;
      return true;
    }
  }
  return false;
}

}  // namespace

// ---------------------------------------------------------------------------

Result<ConsentRule> load_consent_rule(const std::string& path) {
  auto doc = internal::load_yaml_file(path, path);
  if (!doc) return fail(doc.error());
  return RuleSource(*doc).rule();
}

Result<std::vector<ConsentRule>> load_consent_rules(const std::string& dir) {
  std::vector<ConsentRule> rules;
  std::error_code ec;
  if (!std::filesystem::exists(dir, ec)) return rules;
  if (!std::filesystem::is_directory(dir, ec)) {
    return fail(ErrorCode::kInvalidInput,
                dir + ": consent rules must be a directory of *.yaml files, one per vendor");
  }
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (entry.is_regular_file() && entry.path().extension() == ".yaml") {
      files.push_back(entry.path());
    }
  }
  if (ec) return fail(ErrorCode::kInvalidInput, "cannot list " + dir + ": " + ec.message());
  std::sort(files.begin(), files.end());
  for (const auto& file : files) {
    auto rule = load_consent_rule(file.string());
    if (!rule) return fail(rule.error());
    for (const ConsentRule& other : rules) {
      if (other.name == rule->name) {
        return fail(ErrorCode::kInvalidInput, rule->file + ":1: name: '" + rule->name +
                                                  "' is also the name of " + other.file +
                                                  " — give each vendor's rule its own name");
      }
    }
    rules.push_back(std::move(*rule));
  }
  return rules;
}

const std::vector<ConsentRule>& builtin_consent_rules() {
  // A broken built-in file is a bug caught by interrupts_test; at run time the
  // rules that do load still serve.
  static const std::vector<ConsentRule> rules = [] {
    std::vector<ConsentRule> out;
    const std::filesystem::path dir = std::filesystem::path(ERGON_SHARE_DIR) / "consent";
    std::error_code ec;
    std::vector<std::filesystem::path> files;
    for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
      if (entry.path().extension() == ".yaml") files.push_back(entry.path());
    }
    std::sort(files.begin(), files.end());
    for (const auto& file : files) {
      if (auto rule = load_consent_rule(file.string())) out.push_back(std::move(*rule));
    }
    return out;
  }();
  return rules;
}

Json InterruptReport::to_json() const {
  return {{"handled", handled}};
}

Interrupts::Interrupts(std::vector<ConsentRule> rules) : rules_(std::move(rules)) {}

Result<InterruptReport> Interrupts::handle(Page& page, const PageSnapshot& snapshot,
                                           const ActionContext& context) {
  std::vector<RuleStep> checks;
  for (const ConsentRule& rule : rules_) {
    checks.insert(checks.end(), rule.detect.begin(), rule.detect.end());
  }
  auto seen = survey(page, checks);
  if (!seen) return fail(seen.error());
  const std::string url = snapshot.url.empty() ? seen->url : snapshot.url;
  const std::string text = lower(snapshot.text);

  // What only a person can clear comes first: nothing is clicked on such a page.
  std::string phrase;
  if (!seen->captcha.empty() || has_phrase(text, kCaptchaPhrases, &phrase)) {
    std::string what = seen->captcha.empty() ? "the page says '" + phrase + "'" : seen->captcha;
    return fail(ErrorCode::kNeedsPerson, "a CAPTCHA is on " + url + " (" + what +
                                             "): solve it in the browser, then answer 'done' "
                                             "(or 'abort')");
  }
  bool password = seen->password;
  for (const PageElement& element : snapshot.elements) {
    if (element.visible && element.fp.tag == "input" && lower(element.fp.type) == "password") {
      password = true;
    }
  }
  if (password && !context.expects_login) {
    return fail(ErrorCode::kNeedsPerson,
                url + " asks to sign in again: sign in, then answer 'done' (or 'abort')");
  }

  InterruptReport report;
  size_t at = 0;
  for (const ConsentRule& rule : rules_) {
    const size_t first = at;
    at += rule.detect.size();
    for (const RuleStep& step : rule.detect) {
      for (const std::string* sel : {&step.exists, &step.visible}) {
        if (!sel->empty() && std::find(seen->bad_selectors.begin(), seen->bad_selectors.end(),
                                       *sel) != seen->bad_selectors.end()) {
          return fail(ErrorCode::kInvalidInput, describe_rule(rule) +
                                                    ": detect: the browser rejects the CSS "
                                                    "selector '" +
                                                    *sel + "' — fix it");
        }
      }
    }
    bool detected = true;
    for (size_t i = first; i < at; ++i) {
      const RuleStep& step = rule.detect[i - first];
      // Text checks also see the snapshot's text, which includes iframes.
      bool held = (i < seen->checks.size() && seen->checks[i]) ||
                  (!step.text.empty() && text.find(lower(step.text)) != std::string::npos);
      detected = detected && held;
    }
    if (!detected) continue;
    auto done = run_opt_out(page, rule);
    if (done) {
      report.handled.push_back("consent banner dismissed (opt-out) by rule '" + rule.name + "'");
      return report;
    }
    if (done.error().code == ErrorCode::kInvalidInput) return fail(done.error());
    // The rule did not fit this page's variant of the banner: the text
    // fallback may still find its opt-out; if not, the rule's error stands.
    // No wait: the banner has been on the page since the rule began.
    auto fallback = run_fallback(page, milliseconds{0});
    if (!fallback) return fail(done.error());
    report.handled.push_back(done.error().message);
    report.handled.push_back("consent banner dismissed (opt-out) by text fallback '" + *fallback +
                             "'");
    return report;
  }

  if (!seen->opt_out_text.empty()) {
    auto fallback = run_fallback(page, kStepTimeout);
    if (!fallback) return fail(fallback.error());
    report.handled.push_back("consent banner dismissed (opt-out) by text fallback '" + *fallback +
                             "'");
  } else if (seen->banners > 0 && std::any_of(seen->banner_buttons.begin(),
                                              seen->banner_buttons.end(), reads_like_accept)) {
    report.handled.push_back("consent banner left alone: it offers no opt-out button (buttons: " +
                             quoted_list(seen->banner_buttons) + ")");
  }
  return report;
}

}  // namespace ergon::browser
