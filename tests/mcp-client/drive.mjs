// Drives `ergon mcp` with the official MCP SDK client over stdio and prints
// what it saw as one JSON object on stdout (tests/e2e/mcp_server_test.cc).
//
//   node drive.mjs ERGON WORKSPACE [TOOL ARGUMENTS_JSON]
//
// Lists the tools; with TOOL, calls it with the arguments (and collects the
// progress notifications it sends in out.progress). With ERGON_MCP_SERVE set,
// ergon runs as `ergon mcp --serve $ERGON_MCP_SERVE`. ergon's own stderr (its
// logs) passes through to this script's stderr.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";

const [ergon, workspace, tool, args] = process.argv.slice(2);
if (!ergon || !workspace) {
  console.error("usage: node drive.mjs ERGON WORKSPACE [TOOL ARGUMENTS_JSON]");
  process.exit(2);
}

const transport = new StdioClientTransport({
  command: ergon,
  args: ["-w", workspace, "mcp",
         ...(process.env.ERGON_MCP_SERVE ? ["--serve", process.env.ERGON_MCP_SERVE] : [])],
  env: { ...process.env },
  stderr: "inherit",
});
const client = new Client({ name: "ergon-mcp-test", version: "1.0.0" });

const out = {};
try {
  await client.connect(transport);
  out.server = client.getServerVersion();
  out.capabilities = client.getServerCapabilities();
  out.instructions = client.getInstructions();
  await client.ping();
  out.tools = (await client.listTools()).tools;
  if (tool) {
    out.progress = [];
    out.call = await client.callTool({ name: tool, arguments: JSON.parse(args ?? "{}") },
                                     undefined, {
                                       onprogress: (p) => out.progress.push(p),
                                       resetTimeoutOnProgress: true,
                                     });
  }
} catch (error) {
  out.error = { message: String(error?.message ?? error), code: error?.code ?? null };
} finally {
  await client.close().catch(() => {});
}
process.stdout.write(JSON.stringify(out) + "\n");
