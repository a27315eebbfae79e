// One browser tab attached over a flattened CDP session, with the low-level
// operations the browser connector is built from: navigation, observation,
// Playwright-style actionability checks and real input events
// (Input.dispatchMouseEvent / Input.dispatchKeyEvent / Input.insertText),
// never JavaScript .click().
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "ergon/browser.h"
#include "ergon/cdp.h"
#include "ergon/result.h"

namespace ergon::browser {

// A JavaScript dialog that opened (alert, confirm, prompt, beforeunload).
struct Dialog {
  std::string type;     // "alert" | "confirm" | "prompt" | "beforeunload"
  std::string message;
  std::string url;
};

class Page {
 public:
  // Creates a tab (Target.createTarget about:blank), attaches with
  // flatten:true, enables Page, Runtime, DOM, Network, Accessibility events,
  // sets auto-attach {autoAttach, waitForDebuggerOnStart:false, flatten} so
  // popups and out-of-process iframes get sessions, and installs the dialog
  // handler (dialogs are answered at once per `on_dialog`; the Page keeps the
  // last one for last_dialog()).
  // `allow_navigation(url)` is asked for every top-level document request
  // (Fetch.requestPaused on Document resources, main frame); false fails the
  // request with BlockedByClient and records the URL in blocked_navigation().
  static Result<std::unique_ptr<Page>> open(
      Chromium& browser, std::function<bool(const std::string& url)> allow_navigation,
      std::function<bool(const Dialog&)> on_dialog /* true: accept, false: dismiss */);
  ~Page();

  const std::string& session() const;
  const std::string& target_id() const;

  // Navigates and waits for the load event (or timeout). kDenied when the
  // navigation was blocked by allow_navigation; kUnavailable on net errors.
  Status navigate(const std::string& url, std::chrono::milliseconds timeout);
  // Current URL and title of the main frame.
  Result<std::pair<std::string, std::string>> location();

  // A fresh observation (observe_page).
  Result<PageSnapshot> observe();

  // Actionability, as Playwright: waits (polling every animation frame, up
  // to `timeout`) until the element is attached, visible, stable (same box in
  // two consecutive animation frames), enabled, editable when `need_editable`,
  // and is the hit target at its centre (DOM.getNodeForLocation returns it or
  // a descendant) — scrolling it into view first (DOM.scrollIntoViewIfNeeded).
  // Returns the click point in viewport coordinates. A failure says which
  // check failed; an element covered by another reads
  // "covered by <tag id/class 'text'>" (kFailedPrecondition after timeout).
  struct Point { double x = 0, y = 0; };
  Result<Point> actionable(const PageElement& element, bool need_editable,
                           std::chrono::milliseconds timeout);

  // Real input. click: mouseMoved, mousePressed, mouseReleased at the point.
  Status click_at(Point point);
  // Focuses the element (click), selects its content and types `text`
  // (Input.insertText), replacing the current value; fires input/change.
  Status type_into(const PageElement& element, Point point, const std::string& text);
  // Key press: "Enter", "Tab", "Escape", "Backspace", "ArrowDown", a single character...
  Status press(const std::string& key);
  // <select>: picks the option whose label or value equals `option`
  // (kNotFound listing the options otherwise); fires input and change.
  Result<std::string> select_option(const PageElement& element, const std::string& option);
  Status scroll_by(double dx, double dy);
  // PNG of the viewport written to `path`.
  Status screenshot(const std::string& path);
  // Evaluates a JS expression in the main frame and returns its JSON value
  // (returnByValue). For reading state only — never to act.
  Result<Json> evaluate(const std::string& expression);
  // Values of the form that contains `element` (name -> value; passwords
  // shown as "[hidden]"), for approval previews; {} when not in a form.
  Result<Json> form_values(const PageElement& element);

  // The URL of the last navigation refused by allow_navigation, "" if none;
  // cleared by take.
  std::string take_blocked_navigation();
  // The last dialog answered since the last call, if any.
  std::optional<Dialog> take_dialog();
  // Cookies of every origin (Network.getAllCookies / Storage.getCookies) and
  // restoring them, for resuming a session in a fresh browser.
  Result<Json> cookies();
  Status set_cookies(const Json& cookies);

  class Impl;

 private:
  explicit Page(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace ergon::browser
