// The http connector: each action declared in ergon.yaml is a templated HTTP
// request (docs/workspace.md, "connectors"). 2xx answers are results; 429, 5xx,
// timeouts and connection failures are retryable errors; other 4xx are not.
#pragma once

#include <memory>

#include "ergon/connector.h"
#include "ergon/json.h"
#include "ergon/result.h"
#include "ergon/vault.h"
#include "ergon/workspace.h"

namespace ergon {

// Builds an http connector. Secrets named under `auth` are read from `vault`
// now (a missing one is kNotFound naming it); `base_url_env`, when set in the
// environment, wins over `base_url`. `vault` must outlive the connector: every
// message and result passes through its redact(), so no secret leaves it.
// execute() and dry_run() are safe to call from many threads at once.
Result<std::unique_ptr<Connector>> make_http_connector(const ConnectorConfig& config,
                                                       const Vault& vault);

// The checks make_http_connector applies, for loaders that want to report
// problems up front. Errors are kInvalidInput "<json pointer>: problem — what
// to do", the pointer relative to the value passed in (as step_from_json).
//   settings: the connector's mapping without `actions` (kind, base_url,
//             base_url_env, auth, timeout_ms, headers).
//   binding:  one action's method, path, query, body, dry_run, headers;
//             argument names are checked against params_schema's properties
//             when it declares any.
Status check_http_settings(const Json& settings);
Status check_http_binding(const Json& binding, const Json& params_schema);

// The fields an http action's binding may have, for "unknown field" hints.
const std::vector<std::string>& http_binding_fields();

}  // namespace ergon
