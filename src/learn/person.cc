// The scripted person (person.h): finds elements the way a person reads a
// page and acts on them with real input through browser::Page.
#include "learn/person.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>
#include <utility>

#include "connect/browser/page.h"
#include "core/internal/yaml_json.h"
#include "ergon/plan.h"

namespace ergon::learn {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr milliseconds kPoll{100};

// The verb of each action and the second key it may (or must) have.
struct Verb {
  const char* name;
  PersonAction::Kind kind;
  const char* field;  // "" when none
  const char* example;
  bool optional = false;  // whether `field` may be left out
};
const std::vector<Verb> kVerbs = {
    {"goto", PersonAction::Kind::kGoto, "", "- goto: /login"},
    {"click", PersonAction::Kind::kClick, "in_row",
     "- click: Select\n  in_row: Cambridge Imaging Center", true},
    {"type", PersonAction::Kind::kType, "into", "- type: dr.lee\n  into: Username"},
    {"type_secret", PersonAction::Kind::kTypeSecret, "into",
     "- type_secret: CARE_PORTAL_PASSWORD\n  into: Password"},
    {"select", PersonAction::Kind::kSelect, "in", "- select: \"72148\"\n  in: Procedure (CPT)"},
    {"check", PersonAction::Kind::kCheck, "", "- check: In-network only"},
    {"uncheck", PersonAction::Kind::kUncheck, "", "- uncheck: In-network only"},
    {"press", PersonAction::Kind::kPress, "", "- press: Enter"},
    {"wait_for", PersonAction::Kind::kWaitFor, "", "- wait_for: Approved"},
};

std::vector<std::string> verb_names() {
  std::vector<std::string> out;
  for (const Verb& v : kVerbs) out.emplace_back(v.name);
  return out;
}

std::string quoted(const std::string& text) {
  return "'" + text + "'";
}

std::string lower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

std::string js(const Json& value) {
  return value.dump(-1, ' ', false, Json::error_handler_t::replace);
}

// Page lookups, read-only. `find(P)` returns the element a person means, or
// null; `seen(P)` lists what a person could have meant, for messages.
constexpr char kLookup[] = R"JS(
const norm = (s) => (s || '').replace(/\s+/g, ' ').trim().toLowerCase().replace(/[\s:*]+$/, '');
const visible = (el) => {
  if (!el || !el.isConnected) return false;
  const r = el.getBoundingClientRect();
  if (r.width < 1 || r.height < 1) return false;
  const st = getComputedStyle(el);
  return st.visibility !== 'hidden' && st.display !== 'none';
};
// A label's own words, without the text of controls inside it.
const labelWords = (label) => {
  let out = '';
  const walk = document.createTreeWalker(label, NodeFilter.SHOW_TEXT);
  for (let n = walk.nextNode(); n; n = walk.nextNode()) {
    if (n.parentElement && n.parentElement.closest('select, textarea, option, script, style'))
      continue;
    out += ' ' + n.data;
  }
  return out;
};
const byIds = (ids) => (ids || '').split(/\s+/).map((id) => document.getElementById(id))
    .filter(Boolean).map((el) => el.innerText || el.textContent || '').join(' ');
// Everything a person may call a control by.
const namesOf = (el) => {
  const out = [];
  if (el.labels) for (const l of el.labels) out.push(labelWords(l));
  out.push(el.getAttribute('aria-label'), byIds(el.getAttribute('aria-labelledby')),
           el.getAttribute('placeholder'), el.getAttribute('title'), el.getAttribute('name'),
           el.id);
  const tag = el.tagName;
  const type = (el.getAttribute('type') || '').toLowerCase();
  if (tag === 'INPUT' && ['submit', 'button', 'reset'].includes(type)) out.push(el.value);
  else if (tag === 'INPUT' && type === 'image') out.push(el.getAttribute('alt'));
  else if (!['INPUT', 'SELECT', 'TEXTAREA'].includes(tag)) {
    out.push(el.innerText);
    for (const img of el.querySelectorAll('img[alt]')) out.push(img.getAttribute('alt'));
  }
  return out.map(norm).filter(Boolean);
};
const kinds = {
  click: 'a, button, summary, input[type=submit], input[type=button], input[type=reset], ' +
         'input[type=image], input[type=checkbox], input[type=radio], [role=button], ' +
         '[role=link], [role=tab], [role=menuitem], [role=option], [role=checkbox], ' +
         '[role=radio], [role=switch]',
  field: 'input:not([type=hidden]):not([type=submit]):not([type=button]):not([type=reset])' +
         ':not([type=image]):not([type=checkbox]):not([type=radio]), textarea, select, ' +
         '[contenteditable=""], [contenteditable=true], [role=textbox], [role=combobox]',
  toggle: 'input[type=checkbox], input[type=radio], [role=checkbox], [role=radio], [role=switch]',
};
// A control hidden behind a styled label is reached through its label.
const shown = (el) => visible(el) || (el.labels && [...el.labels].some(visible));
// In a table, the row a person means is the one that mentions `P.row`.
const inRow = (el) => {
  if (!P.row) return true;
  const row = el.closest('tr');
  return !!row && norm(row.innerText).includes(norm(P.row));
};
const find = (P) => {
  const wanted = norm(P.text);
  let best = null, bestScore = 0;
  for (const el of document.querySelectorAll(kinds[P.kind])) {
    if (!shown(el) || !inRow(el)) continue;
    if (P.kind === 'field' && (el.disabled || el.readOnly)) continue;
    let score = 0;
    for (const name of namesOf(el)) {
      const s = name === wanted ? 3 : name.startsWith(wanted) ? 2 : name.includes(wanted) ? 1 : 0;
      score = Math.max(score, s);
    }
    if (score > bestScore) { best = el; bestScore = score; }
  }
  return best;
};
const seen = (P) => {
  const out = [];
  for (const el of document.querySelectorAll(kinds[P.kind])) {
    if (!shown(el)) continue;
    const n = namesOf(el)[0];
    if (n && !out.includes(n)) out.push(n);
    if (out.length >= 12) break;
  }
  return out;
};
)JS";

std::string lookup(const std::string& call, const std::string& kind, const std::string& text,
                   const std::string& row = "") {
  return std::string("(() => {\nconst P = ") + js({{"kind", kind}, {"text", text}, {"row", row}}) +
         ";\n" + kLookup + "return " + call + "(P);\n})()";
}

// Run on the element found: the state a person sees before acting.
constexpr char kState[] = R"JS(function() {
  const el = this;
  const out = {tag: el.tagName.toLowerCase(), type: (el.getAttribute('type') || '').toLowerCase(),
               checked: !!el.checked, label: null};
  if (el.getAttribute('aria-checked') !== null) out.checked = el.getAttribute('aria-checked') === 'true';
  if ((el.tagName === 'INPUT') && el.labels && el.labels.length) {
    const r = el.getBoundingClientRect();
    if (r.width < 1 || r.height < 1 || getComputedStyle(el).opacity === '0') out.label = true;
  }
  return out;
})JS";

// A <select> set by option value or label, then input and change events,
// as Playwright's selectOption does.
constexpr char kSelectOption[] = R"JS(function(wanted) {
  if (this.tagName !== 'SELECT') return {error: 'not a drop-down (<select>)'};
  const norm = (s) => (s || '').replace(/\s+/g, ' ').trim();
  const options = [...this.options];
  const option = options.find((o) => o.value === wanted) ||
                 options.find((o) => norm(o.label) === norm(wanted) || norm(o.text) === norm(wanted));
  if (!option) return {missing: options.map((o) => norm(o.label) + ' (' + o.value + ')')};
  this.focus();
  this.value = option.value;
  this.dispatchEvent(new Event('input', {bubbles: true, composed: true}));
  this.dispatchEvent(new Event('change', {bubbles: true}));
  return {label: norm(option.label)};
})JS";

}  // namespace

std::string PersonAction::describe() const {
  std::string verb;
  for (const Verb& v : kVerbs) {
    if (v.kind == kind) verb = v.name;
  }
  std::string out =
      (line > 0 ? "line " + std::to_string(line) + ": " : "") + verb + " " + quoted(value);
  if (!field.empty()) {
    out += (kind == Kind::kSelect  ? " in "
            : kind == Kind::kClick ? " in the row of "
                                   : " into ") +
           quoted(field);
  }
  return out;
}

Result<PersonScript> parse_person_script(std::string_view yaml, const std::string& file) {
  auto doc = internal::parse_yaml(yaml, file);
  if (!doc) return fail(doc.error());
  auto error = [&](const std::string& pointer, const std::string& what) {
    return doc->error(pointer, what);
  };
  const Json& root = doc->value;
  if (root.is_null()) {
    return error("",
                 "the person's script is empty — list what the person does, e.g. "
                 "\"- click: Sign in\"");
  }
  if (!root.is_array()) {
    return error("",
                 "expected a list of actions, e.g. \"- goto: /login\" then \"- click: Sign in\"");
  }
  PersonScript script;
  script.file = file;
  for (size_t i = 0; i < root.size(); ++i) {
    const std::string at = internal::pointer_append("", i);
    const Json& item = root[i];
    if (!item.is_object() || item.empty()) {
      return error(at,
                   "expected one action such as \"click: Sign in\" (actions: goto, click, "
                   "type, type_secret, select, check, uncheck, press, wait_for)");
    }
    const Verb* verb = nullptr;
    for (const std::string& key : doc->keys(at, item)) {
      for (const Verb& v : kVerbs) {
        if (key == v.name) {
          if (verb != nullptr) {
            return error(internal::pointer_append(at, key),
                         "one action per list item — '" + std::string(verb->name) + "' and '" +
                             key + "' are both here: split them into two items");
          }
          verb = &v;
        }
      }
    }
    if (verb == nullptr) {
      std::string key = doc->keys(at, item).front();
      std::string hint = closest_spelling(key, verb_names());
      return error(internal::pointer_append(at, key),
                   hint.empty() ? "unknown action — use goto, click, type, type_secret, select, "
                                  "check, uncheck, press or wait_for"
                                : "unknown action — did you mean '" + hint + "'?");
    }
    PersonAction action;
    action.kind = verb->kind;
    action.file = file;
    const std::string verb_at = internal::pointer_append(at, verb->name);
    action.line = doc->line(verb_at);
    const Json& value = item[verb->name];
    if (value.is_number()) {
      action.value = value.dump();
    } else if (value.is_string() && !value.get<std::string>().empty()) {
      action.value = value.get<std::string>();
    } else {
      return error(verb_at, "expected a non-empty text — e.g.\n" + std::string(verb->example));
    }
    for (const std::string& key : doc->keys(at, item)) {
      if (key == verb->name) continue;
      const std::string key_at = internal::pointer_append(at, key);
      if (key != verb->field) {
        std::string takes = *verb->field ? "'" + std::string(verb->field) + "'" : "no other field";
        return error(key_at, "unknown field — '" + std::string(verb->name) + "' takes " + takes +
                                 ", e.g.\n" + verb->example);
      }
      const Json& field = item[key];
      if (!field.is_string() || field.get<std::string>().empty()) {
        return error(key_at, "expected the field's label, placeholder or name");
      }
      action.field = field.get<std::string>();
    }
    if (*verb->field && !verb->optional && action.field.empty()) {
      return error(verb_at, "missing '" + std::string(verb->field) +
                                "': name the field by its label, placeholder or name, e.g.\n" +
                                verb->example);
    }
    script.actions.push_back(std::move(action));
  }
  return script;
}

Result<PersonScript> load_person_script(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return fail(ErrorCode::kInvalidInput,
                path + ": cannot read the person's script — give a YAML file of actions");
  }
  std::stringstream text;
  text << in.rdbuf();
  return parse_person_script(text.str(), path);
}

Person::Person(Chromium& browser, browser::Page& page, std::string base_url,
               std::chrono::milliseconds timeout)
    : browser_(browser), page_(page), base_url_(std::move(base_url)), timeout_(timeout) {}

std::string Person::resolve(const std::string& url) const {
  if (url.find("://") != std::string::npos || url.rfind("about:", 0) == 0) return url;
  std::string base = base_url_;
  auto scheme = base.find("://");
  if (!url.empty() && url[0] == '/' && scheme != std::string::npos) {
    auto slash = base.find('/', scheme + 3);
    return (slash == std::string::npos ? base : base.substr(0, slash)) + url;
  }
  if (!base.empty() && base.back() != '/') base += "/";
  return base + url;
}

Result<Person::Found> Person::find(const PersonAction& action, const std::string& kind,
                                   const std::string& text) {
  const auto deadline = Clock::now() + timeout_;
  while (true) {
    auto answer = browser_.call(
        "Runtime.evaluate",
        {{"expression", lookup("find", kind, text,
                               action.kind == PersonAction::Kind::kClick ? action.field : "")},
         {"returnByValue", false},
         {"objectGroup", "person"}},
        page_.session());
    if (answer && !answer->contains("exceptionDetails")) {
      const Json& result = (*answer)["result"];
      if (result.value("subtype", "") == "node" && result.contains("objectId")) {
        std::string object = result["objectId"].get<std::string>();
        auto node = browser_.call("DOM.describeNode", {{"objectId", object}}, page_.session());
        if (node) {
          Found found;
          found.object = object;
          found.element.backend_node_id = (*node)["node"].value("backendNodeId", int64_t{0});
          found.element.session = page_.session();
          found.element.fp.tag = lower((*node)["node"].value("nodeName", ""));
          found.element.fp.name = text;
          return found;
        }
      }
    }
    if (Clock::now() >= deadline) break;
    std::this_thread::sleep_for(kPoll);
  }
  std::string seen;
  if (auto names = page_.evaluate(lookup("seen", kind, text)); names && names->is_array()) {
    for (const Json& name : *names) {
      if (name.is_string()) seen += (seen.empty() ? "" : ", ") + quoted(name.get<std::string>());
    }
  }
  const std::string what = kind == "field" ? "no field labelled " + quoted(text)
                           : kind == "toggle"
                               ? "no checkbox or radio button labelled " + quoted(text)
                               : "no button, link or control reading " + quoted(text);
  return fail(ErrorCode::kFailedPrecondition,
              action.file + ":" + std::to_string(action.line) + ": " + what +
                  " on the page within " + std::to_string(timeout_.count()) + " ms" +
                  (seen.empty() ? "" : " (the page shows: " + seen + ")"));
}

Result<Json> Person::call_on(const Found& found, const char* function, const Json& args) {
  auto answer = browser_.call("Runtime.callFunctionOn",
                              {{"objectId", found.object},
                               {"functionDeclaration", function},
                               {"arguments", args},
                               {"returnByValue", true}},
                              page_.session());
  if (!answer) return fail(answer.error());
  if (answer->contains("exceptionDetails")) {
    return fail(ErrorCode::kFailedPrecondition, "the page script failed");
  }
  return (*answer)["result"].value("value", Json());
}

void Person::release() {
  (void)browser_.call("Runtime.releaseObjectGroup", {{"objectGroup", "person"}}, page_.session());
}

Status Person::click(const PersonAction& action, const Found& found) {
  auto point = page_.actionable(found.element, false, timeout_);
  if (!point) return fail(point.error().with_context(where(action)));
  return page_.click_at(*point);
}

std::string Person::where(const PersonAction& action) const {
  return action.file + ":" + std::to_string(action.line) + ": " + action.describe() + ": ";
}

Status Person::perform(const PersonAction& action) {
  Status done = act(action);
  release();
  return done;
}

Status Person::act(const PersonAction& action) {
  using Kind = PersonAction::Kind;
  switch (action.kind) {
    case Kind::kGoto: {
      auto s = page_.navigate(resolve(action.value), timeout_);
      if (!s) return fail(s.error().with_context(where(action)));
      return {};
    }
    case Kind::kClick: {
      auto found = find(action, "click", action.value);
      if (!found) return fail(found.error());
      return click(action, *found);
    }
    case Kind::kType: return type(action, action.value);
    case Kind::kTypeSecret: {
      const char* value = std::getenv(action.value.c_str());
      if (value == nullptr) {
        return fail(ErrorCode::kInvalidInput, where(action) + "the environment has no " +
                                                  action.value +
                                                  " — set it to the password the person types");
      }
      return type(action, value);
    }
    case Kind::kSelect: return select(action);
    case Kind::kCheck: return check(action, true);
    case Kind::kUncheck: return check(action, false);
    case Kind::kPress: {
      auto s = page_.press(action.value);
      if (!s) return fail(s.error().with_context(where(action)));
      return {};
    }
    case Kind::kWaitFor: return wait_for(action);
  }
  return {};
}

Status Person::type(const PersonAction& action, const std::string& text) {
  auto found = find(action, "field", action.field);
  if (!found) return fail(found.error());
  auto point = page_.actionable(found->element, true, timeout_);
  if (!point) return fail(point.error().with_context(where(action)));
  // Typed as a person types (a click, select-all, the text; a date field set
  // through its picker), the value committed as leaving the field would.
  if (auto typed = page_.type_into(found->element, *point, text); !typed) {
    return fail(typed.error().with_context(where(action)));
  }
  return {};
}

Status Person::select(const PersonAction& action) {
  auto found = find(action, "field", action.field);
  if (!found) return fail(found.error());
  auto point = page_.actionable(found->element, false, timeout_);
  if (!point) return fail(point.error().with_context(where(action)));
  auto picked = call_on(*found, kSelectOption, Json::array({{{"value", action.value}}}));
  if (!picked) return fail(picked.error().with_context(where(action)));
  if (!picked->is_object()) {
    return fail(ErrorCode::kFailedPrecondition, where(action) + "the page did not take the choice");
  }
  if (picked->contains("error")) {
    return fail(ErrorCode::kFailedPrecondition,
                where(action) + quoted(action.field) + " is " +
                    ((*picked)["error"].is_string() ? (*picked)["error"].get<std::string>()
                                                    : std::string("not a drop-down")));
  }
  if (picked->contains("missing")) {
    std::string options;
    for (const Json& o : (*picked)["missing"]) {
      if (o.is_string()) options += (options.empty() ? "" : ", ") + quoted(o.get<std::string>());
    }
    return fail(
        ErrorCode::kFailedPrecondition,
        where(action) + "no option " + quoted(action.value) + "; the options are " + options);
  }
  return {};
}

Status Person::check(const PersonAction& action, bool want) {
  auto found = find(action, "toggle", action.value);
  if (!found) return fail(found.error());
  auto state = call_on(*found, kState, Json::array());
  if (!state) return fail(state.error().with_context(where(action)));
  if (!state->is_object()) {
    return fail(ErrorCode::kFailedPrecondition, where(action) + "cannot read the control's state");
  }
  if (state->value("checked", false) == want) return {};
  // A styled checkbox hides its input: the person clicks the label instead.
  if (state->value("label", Json()) == true) {
    auto label = find(action, "click", action.value);
    if (label) return click(action, *label);
  }
  return click(action, *found);
}

Status Person::wait_for(const PersonAction& action) {
  const auto deadline = Clock::now() + timeout_;
  const std::string expression =
      "(document.body ? document.body.innerText : '').toLowerCase()"
      ".includes(" +
      js(lower(action.value)) + ")";
  while (true) {
    auto found = page_.evaluate(expression);
    if (found && *found == true) return {};
    if (Clock::now() >= deadline) break;
    std::this_thread::sleep_for(kPoll);
  }
  return fail(ErrorCode::kFailedPrecondition, where(action) + "the text did not appear within " +
                                                  std::to_string(timeout_.count()) + " ms");
}

}  // namespace ergon::learn
