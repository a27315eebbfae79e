// Interrupt handlers run before every browser action, as Playwright's
// addLocatorHandler: whatever stands between the page and the step is dealt
// with first. Consent banners are dismissed (opting out) by declarative rules
// modelled on DuckDuckGo autoconsent, with a text fallback; a CAPTCHA or a
// login wall the step did not expect stops the step and asks a person
// (kNeedsPerson) — ergon never solves CAPTCHAs.
#pragma once

#include <string>
#include <vector>

#include "ergon/browser.h"
#include "ergon/json.h"
#include "ergon/result.h"

namespace ergon::browser {

class Page;

// One step of a rule: exactly one field set.
struct RuleStep {
  std::string exists;      // CSS selector that must match an element
  std::string visible;     // CSS selector that must match a visible element
  std::string text;        // text that must appear on the page (case-insensitive)
  std::string click;       // CSS selector of the element to click (real input)
  std::string click_text;  // a button or link whose text is this (case-insensitive)
  std::string wait_gone;   // CSS selector that must stop matching (bounded wait)
};

// A consent-management vendor: when every `detect` step holds, `opt_out`
// runs in order. Format: docs/workspace.md, "Consent rules".
struct ConsentRule {
  std::string name;
  std::string file;  // where it came from, for messages
  std::vector<RuleStep> detect;
  std::vector<RuleStep> opt_out;
};

// Parses one rule file (YAML); errors name file:line: field.
Result<ConsentRule> load_consent_rule(const std::string& path);
// The rules of a directory (*.yaml, sorted by name); a missing dir is empty.
Result<std::vector<ConsentRule>> load_consent_rules(const std::string& dir);
// ergon's built-in rules (share/consent/ in the source tree, compiled in).
const std::vector<ConsentRule>& builtin_consent_rules();

// What an action is about to do, so a login form it targets is not mistaken
// for a login wall.
struct ActionContext {
  std::string action;          // "click", "fill", ...
  bool expects_login = false;  // the step itself works on a sign-in form
};

// What the handlers did, for the action's result and the journal.
struct InterruptReport {
  std::vector<std::string> handled;  // e.g. "consent banner 'cookiewall' dismissed (opt-out)"
  Json to_json() const;
};

class Interrupts {
 public:
  // `rules`: workspace rules first, then the built-ins.
  explicit Interrupts(std::vector<ConsentRule> rules);

  // Looks at the page and clears what is in the way:
  //  - a consent banner: the first rule whose detect holds runs its opt_out;
  //    else the fallback clicks a visible button/link reading like an opt-out
  //    ("Reject all", "Only necessary", "Decline", "Necessary only", "Refuse",
  //    "Deny") inside an element that looks like a banner/dialog (cookie/
  //    consent/privacy/gdpr/cmp in id/class/aria-label or text mentioning
  //    cookies); never an "Accept" button;
  //  - a CAPTCHA (recaptcha/hcaptcha/turnstile iframes or markup, "verify you
  //    are a human", "I'm not a robot"): kNeedsPerson "a CAPTCHA is on <url>
  //    (…): solve it in the browser, then answer 'done' (or 'abort')";
  //  - a login wall (a visible password field on a page the step did not
  //    expect to be a sign-in form): kNeedsPerson "<url> asks to sign in
  //    again: sign in, then answer 'done' (or 'abort')".
  // A banner that stays after its opt-out is kFailedPrecondition naming the rule.
  Result<InterruptReport> handle(Page& page, const PageSnapshot& snapshot,
                                 const ActionContext& context);

 private:
  std::vector<ConsentRule> rules_;
};

}  // namespace ergon::browser
