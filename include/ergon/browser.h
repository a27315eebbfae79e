// The browser connector: ergon's hands and eyes in web apps with no API. It
// drives Debian's Chromium over CDP (ergon/cdp.h), observes the page as a
// compact indexed element list, finds a step's target by fingerprint
// (ergon/grounding.h), checks actionability before acting (visible, stable,
// enabled, editable, receives events) and acts with real input events.
// Settings and actions: docs/workspace.md, "browser connectors".
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "ergon/cdp.h"
#include "ergon/connector.h"
#include "ergon/grounding.h"
#include "ergon/json.h"
#include "ergon/result.h"
#include "ergon/vault.h"
#include "ergon/workspace.h"

namespace ergon {

// One element of an observation: what it is (its fingerprint), where, and
// what can be done with it now.
struct PageElement {
  int index = 0;  // position in PageSnapshot::elements
  int64_t backend_node_id = 0;
  std::string frame_id;  // "" for the main frame
  std::string session;   // CDP session the node belongs to (iframes may differ)
  Fingerprint fp;        // includes bounds in page coordinates
  std::string value;     // current value of inputs/selects/textareas ("" for password fields)
  std::vector<std::string> options;  // <select> option labels
  bool visible = false;  // non-empty box, not visibility:hidden / display:none, in a rendered layer
  bool enabled = true;   // not disabled (own attribute or a disabled fieldset)
  bool editable = false;     // text input/textarea/contenteditable, not readonly
  bool checked = false;      // checkboxes and radios
  bool interactive = false;  // links, buttons, inputs, selects, elements with a click role
};

struct PageSnapshot {
  std::string url;
  std::string title;
  std::vector<PageElement> elements;  // interactive and readable elements, document order
  // The text of the page (main frame and iframes), whitespace-collapsed, for
  // wait_for text, interrupt detection and extract.
  std::string text;
};

// Builds a snapshot of the page attached as `session`: one
// DOMSnapshot.captureSnapshot (layout bounds and the computed styles display,
// visibility, opacity, cursor) joined with Accessibility.getFullAXTree on
// backendNodeId for role and name, same-process iframes included. Pages over
// 4,000 DOM nodes skip the tree (seconds to build) and use implicit ARIA
// roles and names. Readable elements are
// those with own visible text (headings, labels, cells, paragraphs); password
// values are never read.
Result<PageSnapshot> observe_page(Chromium& browser, const std::string& session);

// The compact text form models and people read: one line per element,
// "[index] role 'name' value=… (disabled)". Stable for equal snapshots.
std::string describe(const PageSnapshot& snapshot);

// Builds a browser connector from its ergon.yaml config. `state_dir` is where
// per-session browser state lives (profile, cookies for resume, screenshots,
// fingerprint write-back): normally <workspace>/.ergon/browser. The browser is
// launched lazily on the first action. `vault` must outlive the connector.
Result<std::unique_ptr<Connector>> make_browser_connector(const ConnectorConfig& config,
                                                          const Vault& vault,
                                                          const std::string& state_dir);

// The built-in actions of a browser connector named `connector_name`
// ("portal.navigate", "portal.click", ...), with their argument schemas and
// effects (docs/workspace.md, "Browser connectors").
std::vector<ActionSpec> browser_actions(const std::string& connector_name);

// Up-front checks of a browser connector's settings (for the workspace loader):
// kInvalidInput "<json pointer>: problem — what to do".
Status check_browser_settings(const Json& settings);

}  // namespace ergon
