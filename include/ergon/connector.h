// A Connector is a live system ergon acts on: an HTTP API, a browser, a shell,
// an MCP server. Connectors never throw; every failure is an Error whose code
// says whether a retry can help (kUnavailable/kTimeout) or not.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "ergon/action.h"
#include "ergon/json.h"
#include "ergon/result.h"

namespace ergon {

class Connector {
 public:
  virtual ~Connector() = default;

  // The connector's name as configured in ergon.yaml, e.g. "cloud".
  virtual const std::string& name() const = 0;
  // Every action this connector offers, with fully qualified names.
  virtual const std::vector<ActionSpec>& actions() const = 0;
  // A snapshot of what the connector can see now (a page, a status); may be {}.
  virtual Result<Json> observe() = 0;
  // Performs the call. The result is the system's answer as JSON.
  virtual Result<Json> execute(const ActionCall& call) = 0;
  // What the call would do, without doing it; kNotFound when unsupported.
  virtual Result<Json> dry_run(const ActionCall& call) = 0;

  // Facts about one call, asked before the guard chain sees it:
  //   {"effect": "irreversible"}  this call is riskier (or safer) than its spec
  //                               says, e.g. a click on a "Confirm" button;
  //   {"preview": {...}}          what a person approving it should see.
  // An error refuses the call outright (kDenied: e.g. a navigation outside
  // the allowed origins); the engine journals it as that connector's guard
  // decision. Default: no facts.
  virtual Result<Json> inspect(const ActionCall& call);

  // A session starts or resumes (begin) and stops (end; finished = done,
  // failed or aborted, not merely waiting for a person). Connectors that keep
  // per-session state (a browser profile, cookies) use these. Default: nothing.
  virtual void begin_session(const std::string& session);
  virtual void end_session(const std::string& session, bool finished);
};

// The connectors of a workspace, looked up by fully qualified action name.
// Constant after construction; safe for concurrent reads.
class ConnectorSet {
 public:
  void add(std::unique_ptr<Connector> connector);
  Connector* connector(const std::string& name) const;
  // The spec and its connector for "<connector>.<action>"; kNotFound otherwise.
  Result<std::pair<Connector*, const ActionSpec*>> find(const std::string& action) const;
  std::vector<const ActionSpec*> all_actions() const;
  std::vector<Connector*> all() const;

 private:
  std::map<std::string, std::unique_ptr<Connector>> connectors_;
};

}  // namespace ergon
