// A scripted MCP server (stdio, newline-delimited JSON-RPC 2.0) whose answers
// are malformed in the ways a careless server's are — fields of the wrong type —
// and which reports what it inherited from ergon: its environment and its open
// file descriptors (tests/unit/mcp_connector_test.cc).
//   node odd_server.mjs [--bad-version]
import fs from "node:fs";
import process from "node:process";
import readline from "node:readline";

const badVersion = process.argv.includes("--bad-version");

const tools = [
  { name: "null_error", description: 42, title: "isError is null",
    inputSchema: { type: "object" }, annotations: "loud" },
  { name: "string_error", description: null, title: { text: "no" },
    inputSchema: { type: "object" } },
  { name: "odd_content", description: "content parts of the wrong types",
    inputSchema: { type: "object" }, annotations: { readOnlyHint: "yes", destructiveHint: 1 } },
  { name: "env", description: "the server's environment", inputSchema: { type: "object" },
    annotations: { readOnlyHint: true } },
  { name: "fds", description: "where the server's open file descriptors point",
    inputSchema: { type: "object" }, annotations: { readOnlyHint: true } },
  { name: "deaf", description: "stops reading its stdin, and never answers",
    inputSchema: { type: "object" }, annotations: { readOnlyHint: true } },
];

const send = (message) => process.stdout.write(JSON.stringify({ jsonrpc: "2.0", ...message }) + "\n");
const text = (id, value) => send({ id, result: { content: [{ type: "text", text: value }] } });

function fds() {
  const out = {};
  for (const fd of fs.readdirSync("/proc/self/fd")) {
    try {
      out[fd] = fs.readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      out[fd] = "";  // the directory's own descriptor, closed by now
    }
  }
  return out;
}

function call(id, params) {
  switch (params?.name) {
    case "null_error":
      return send({ id, result: { content: [{ type: "text", text: "maybe" }], isError: null } });
    case "string_error":
      return send({ id, result: { content: [{ type: "text", text: "maybe" }], isError: "yes" } });
    case "odd_content":
      return send({ id, result: { content: [{ type: 5, text: "a" }, { type: "text", text: 9 },
                                            "loose", { type: "text", text: "fine" }] } });
    case "env": return text(id, JSON.stringify(process.env));
    case "fds": return text(id, JSON.stringify(fds()));
    case "deaf":
      lines.close();
      process.stdin.pause();
      setInterval(() => {}, 60_000);  // alive, but deaf
      return undefined;
    default: return send({ id, error: { code: -32602, message: `Tool ${params?.name} not found` } });
  }
}

const lines = readline.createInterface({ input: process.stdin });
lines.on("line", (line) => {
  const { id, method, params } = JSON.parse(line);
  switch (method) {
    case "initialize":
      return send({ id, result: {
        protocolVersion: badVersion ? 20251125 : params.protocolVersion,
        capabilities: "tools",
        serverInfo: "odd" } });
    case "tools/list": return send({ id, result: { tools } });
    case "tools/call": return call(id, params);
    default:
      if (id !== undefined) send({ id, error: { code: -32601, message: `Method not found: ${method}` } });
  }
});
