// The scripted person: a YAML list of things a person does in a browser tab
// (`ergon record --person FILE`, and the recorder's tests). Each action is
// done with real input — mouse events at an element's centre after scrolling
// it into view, Input.insertText and key events for typing — except a
// <select>, which is set by value with input and change events as
// Playwright's selectOption does. The person finds elements by what a person
// reads (button text, a field's label, placeholder or name) with their own
// small page lookup: nothing of the recorder or of grounding is used, so a
// recording made with a scripted person shows what the recorder captured,
// not what the script said.
//
//   - goto: /preauth/new                # a URL, relative to the connector's base URL
//   - click: Sign in                    # a button, link, checkbox or radio by its text or label
//   - click: Select                     # … in the table row that mentions `in_row`
//     in_row: Cambridge Imaging Center
//   - type: dr.lee                      # typed into the field `into` names
//     into: Username
//   - type_secret: CARE_PORTAL_PASSWORD # the value of this environment variable
//     into: Password
//   - select: "72148"                   # an option's value or label
//     in: Procedure (CPT)
//   - check: In-network only            # uncheck: too; only clicked when the state differs
//   - press: Enter                      # a key to the focused element
//   - wait_for: Approved                # text on the page
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "ergon/browser.h"
#include "ergon/cdp.h"
#include "ergon/result.h"

namespace ergon::browser {
class Page;
}

namespace ergon::learn {

struct PersonAction {
  enum class Kind {
    kGoto,
    kClick,
    kType,
    kTypeSecret,
    kSelect,
    kCheck,
    kUncheck,
    kPress,
    kWaitFor
  };
  Kind kind = Kind::kClick;
  std::string value;  // the URL, text to click/type, secret name, option, key or text to wait for
  std::string field;  // type / type_secret: `into`; select: `in`; click: `in_row` (optional)
  std::string file;   // where the action is written, for messages
  int line = 0;

  // "line 4: type 'dr.lee' into 'Username'" (a secret's name, never its value).
  std::string describe() const;
};

struct PersonScript {
  std::string file;
  std::vector<PersonAction> actions;
};

// Parses a script; errors are kInvalidInput "file:line: field: what is wrong
// — what to do".
Result<PersonScript> parse_person_script(std::string_view yaml, const std::string& file);
Result<PersonScript> load_person_script(const std::string& path);

// Does actions in one tab. Not thread-safe; the browser and the Page must
// outlive it.
class Person {
 public:
  // `base_url` resolves relative goto URLs; `timeout` bounds the wait for an
  // element to appear and become actionable (and for goto's page load).
  Person(Chromium& browser, browser::Page& page, std::string base_url,
         std::chrono::milliseconds timeout);

  // Does one action. A missing element, option or secret is an error naming
  // the action's file and line.
  Status perform(const PersonAction& action);

 private:
  struct Found {
    std::string object;   // the element as a page object (released after each action)
    PageElement element;  // backend node and session, for actionability and input
  };
  Status act(const PersonAction& action);
  Result<Found> find(const PersonAction& action, const std::string& kind, const std::string& text);
  Result<Json> call_on(const Found& found, const char* function, const Json& args);
  void release();
  Status click(const PersonAction& action, const Found& found);
  Status type(const PersonAction& action, const std::string& text);
  Status select(const PersonAction& action);
  Status check(const PersonAction& action, bool want);
  Status wait_for(const PersonAction& action);
  std::string resolve(const std::string& url) const;
  std::string where(const PersonAction& action) const;

  Chromium& browser_;
  browser::Page& page_;
  std::string base_url_;
  std::chrono::milliseconds timeout_;
};

}  // namespace ergon::learn
