// A tiny scripted MCP server (stdio, newline-delimited JSON-RPC 2.0) for the
// mcp connector's tests: it pages tools/list, answers with a chosen protocol
// version, and has tools that fail, hang, exit, report progress and ping back.
//   node paged_server.mjs [--version V] [--page N]
import process from "node:process";
import readline from "node:readline";

const argv = process.argv.slice(2);
const option = (name, fallback) => {
  const at = argv.indexOf(name);
  return at >= 0 && at + 1 < argv.length ? argv[at + 1] : fallback;
};
const forcedVersion = option("--version", "");
const pageSize = Number(option("--page", "2"));

const tools = [
  { name: "echo", description: "says the text back",
    inputSchema: { type: "object", properties: { text: { type: "string" } }, required: ["text"] },
    annotations: { readOnlyHint: true } },
  { name: "remove", description: "removes a thing for good",
    inputSchema: { type: "object", properties: { id: { type: "string" } } },
    annotations: { readOnlyHint: false, destructiveHint: true } },
  { name: "fail", description: "always reports an error", inputSchema: { type: "object" } },
  { name: "rpc_error", description: "answers with a JSON-RPC error", inputSchema: { type: "object" } },
  { name: "exit", description: "exits without answering", inputSchema: { type: "object" } },
  { name: "hang", description: "never answers", inputSchema: { type: "object" } },
  { name: "cancelled", description: "the request ids cancelled so far", inputSchema: { type: "object" } },
  { name: "progress", description: "reports progress twice, then answers", inputSchema: { type: "object" } },
  { name: "pid", description: "the server's process id", inputSchema: { type: "object" },
    annotations: { readOnlyHint: true } },
  { name: "ping_me", description: "pings the client, then answers", inputSchema: { type: "object" },
    annotations: { destructiveHint: false } },
  { name: "bad.name/x", description: "a name that is not an ergon action name",
    inputSchema: { type: "object" } },
];

const cancelled = [];
let pendingPing = null;
const send = (message) => process.stdout.write(JSON.stringify({ jsonrpc: "2.0", ...message }) + "\n");
const text = (id, value, isError = false) =>
  send({ id, result: { content: [{ type: "text", text: value }], ...(isError ? { isError } : {}) } });

function call(id, params) {
  const token = params?._meta?.progressToken;
  switch (params?.name) {
    case "echo": return text(id, String(params.arguments?.text ?? ""));
    case "remove": return text(id, `removed ${params.arguments?.id}`);
    case "fail": return text(id, "it broke: the disk is full", true);
    case "rpc_error": return send({ id, error: { code: -32602, message: "bad arguments: id is required" } });
    case "exit": return process.exit(3);
    case "hang": return;
    case "cancelled": return text(id, JSON.stringify(cancelled));
    case "progress":
      for (const progress of [1, 2]) {
        send({ method: "notifications/progress", params: { progressToken: token, progress, total: 2 } });
      }
      return text(id, "done");
    case "pid": return text(id, String(process.pid));
    case "ping_me":
      pendingPing = id;
      return send({ id: "server-ping-1", method: "ping" });
    case "bad.name/x": return text(id, "odd");
    default: return send({ id, error: { code: -32602, message: `Tool ${params?.name} not found` } });
  }
}

const lines = readline.createInterface({ input: process.stdin });
lines.on("line", (line) => {
  const message = JSON.parse(line);
  if (message.method === undefined) {  // an answer to our ping
    if (message.id === "server-ping-1" && pendingPing !== null) {
      text(pendingPing, message.result !== undefined ? "pong ok" : "pong failed");
      pendingPing = null;
    }
    return;
  }
  const { id, method, params } = message;
  switch (method) {
    case "initialize":
      return send({ id, result: {
        protocolVersion: forcedVersion || params.protocolVersion,
        capabilities: { tools: {} },
        serverInfo: { name: "paged", version: "1.0.0" } } });
    case "notifications/initialized": return;
    case "notifications/cancelled": cancelled.push(params.requestId); return;
    case "tools/list": {
      const start = params?.cursor ? Number(params.cursor) : 0;
      const page = tools.slice(start, start + pageSize);
      const next = start + pageSize < tools.length ? String(start + pageSize) : undefined;
      return send({ id, result: { tools: page, ...(next ? { nextCursor: next } : {}) } });
    }
    case "tools/call": return call(id, params);
    default:
      if (id !== undefined) send({ id, error: { code: -32601, message: `Method not found: ${method}` } });
  }
});
