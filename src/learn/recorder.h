// The recorder: a person does a task in Chromium and ergon keeps what was
// done as a demonstration (ergon/learn.h) — navigations, clicks, typed
// values, selections, checks and key presses, each with its target's full
// fingerprint and the page before and after.
//
// How: capture-phase listeners in every document of the tab (installed with
// Page.addScriptToEvaluateOnNewDocument, reporting through a Runtime binding)
// tell ergon synchronously which element an event happened on (its DOM path,
// box and attributes); ergon matches it to its latest observation of the page
// (observe_page) and takes that element's fingerprint. A fresh observation is
// made whenever the page settles after a recorded event or a navigation: it
// is that step's `after` and the next step's `before`. Typed passwords never
// reach ergon: the page reports a salted hash, matched in memory against the
// vault's secrets, and the step holds `secret: NAME`. Clicks inside a consent
// banner are left out: a browser connector dismisses banners by itself.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "ergon/learn.h"
#include "ergon/result.h"
#include "ergon/vault.h"
#include "ergon/workspace.h"

namespace ergon::learn {

struct RecordOptions {
  std::string instruction;  // what the person says the task is, values included
  std::string connector;    // "" → the workspace's only browser connector
  std::string start_url;    // "" → the connector's base URL; relative → against it
  std::string id;           // wanted demonstration id ("" → demo-N)
  // A scripted person (person.h) does the task; "" → a real person in a
  // headed window, who ends the recording through `done` or by closing it.
  std::string person_file;
  bool headless = true;
  // The vault secret a typed password stands for when no secret the recorder
  // can see has the typed value; "" → <CONNECTOR>_PASSWORD.
  std::string secret;
  // Progress lines for the person (steps as recorded, what was left out).
  std::function<void(const std::string&)> print;
  // Real person: polled about every 100 ms; true ends the recording.
  std::function<bool()> done;
};

struct Recording {
  Demonstration demo;              // as saved
  std::string file;                // absolute path of demonstrations/<id>.yaml
  int pages = 0;                   // page files written
  std::vector<std::string> notes;  // what the person should know (secrets to set, steps left out)
};

// Records one demonstration and saves it in the workspace. kInvalidInput for
// a bad choice of connector, start URL or person script; kUnavailable when
// Chromium cannot start.
Result<Recording> record_demonstration(const Workspace& workspace, const Vault& vault,
                                       const RecordOptions& options);

// The browser connector to record against: `name`, or the only one.
// kInvalidInput naming the browser connectors there are.
Result<const ConnectorConfig*> recording_connector(const Workspace& workspace,
                                                   const std::string& name);

// The connector's base URL (base_url_env wins when set), "" when none.
std::string connector_base_url(const ConnectorConfig& connector);

// `url` relative to `base_url`'s origin when on it ("/preauth/new?x=1"),
// else unchanged.
std::string relative_url(const std::string& url, const std::string& base_url);

// One line for people: "fill 'Username' = dr.lee", "fill 'Password' = secret
// CARE_PORTAL_PASSWORD", "navigate /preauth/new".
std::string describe_step(const DemoStep& step);

}  // namespace ergon::learn
