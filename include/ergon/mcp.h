// The mcp connector: a Model Context Protocol server run as a child process
// and spoken to over stdio (newline-delimited JSON-RPC 2.0). Each of its tools
// becomes an action "<connector>.<tool>" (docs/workspace.md, "MCP connectors").
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "ergon/action.h"
#include "ergon/connector.h"
#include "ergon/json.h"
#include "ergon/result.h"
#include "ergon/vault.h"
#include "ergon/workspace.h"

namespace ergon {

// The protocol version ergon asks for, then the earlier ones it accepts when a
// server answers initialize with one of them. Newest first.
const std::vector<std::string>& mcp_protocol_versions();

struct McpOptions {
  // A relative `cwd` setting is resolved against this directory (the
  // workspace's), which is also the cwd when none is set; empty: ergon's.
  std::string base_dir;
  // The server's stderr is appended here; empty: discarded.
  std::string log_file;
  // Called with each notifications/progress params ({progressToken, progress,
  // total?, message?}) a call receives, on the calling thread; may be empty.
  std::function<void(const std::string& action, const Json& progress)> on_progress;
};

// Starts the server, negotiates the protocol version (initialize, then
// notifications/initialized) and lists its tools (following nextCursor). A
// server that cannot be started or answers with an unsupported version is an
// error naming the connector. `env` values of the form {secret: NAME} are read
// from `vault` now. The connector is safe to use from many threads: calls are
// sent one at a time. A server that died is started again on the next call.
Result<std::unique_ptr<Connector>> make_mcp_connector(const ConnectorConfig& config,
                                                      const Vault& vault,
                                                      const McpOptions& options = {});

// What initialize negotiated: {protocolVersion, serverInfo, capabilities};
// {} for a connector that is not an mcp connector.
Json mcp_server_info(const Connector& connector);

// The checks make_mcp_connector applies to settings, for loaders that report
// problems up front. Errors are kInvalidInput "<json pointer>: problem — what
// to do", the pointer relative to the settings mapping (command, args, env,
// cwd, timeout_ms, trusted, effects).
Status check_mcp_settings(const Json& settings);

// A tool's effect from its annotations, with the spec's defaults: readOnlyHint
// → read; otherwise irreversible unless destructiveHint is false, then write.
// Annotations of an untrusted server can only raise the risk: its tools are
// write, or irreversible when destructiveHint is true.
Effect mcp_tool_effect(const Json& annotations, bool trusted);

// The action name for a tool name: characters other than letters, digits, '_'
// and '-' become '_', and a name not starting with a letter or '_' gets a '_'
// in front. Empty for an empty tool name.
std::string mcp_action_name(const std::string& tool);

}  // namespace ergon
