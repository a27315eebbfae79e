// Raw JSON-RPC to `ergon mcp --serve URL` (tests/e2e/mcp_server_test.cc): calls
// a tool, waits for the progress notification saying the call waits for a
// person, pings (the answer must come while the call is pending), then cancels
// the call and closes stdin. Prints what it saw as one JSON object on stdout:
//   { lines: [every message ergon wrote, in order], steps: [what happened],
//     pong_while_pending: bool, exit: {code, signal}, error?: message }
//
//   node cancel.mjs ERGON WORKSPACE SERVE_URL TOOL ARGUMENTS_JSON
//
// ERGON_TOKEN comes from the environment. Every wait has a timeout, so an
// ergon that never answers makes this script report an error, not hang.
import { spawn } from "node:child_process";
import readline from "node:readline";

const [ergon, workspace, serve, tool, args] = process.argv.slice(2);
if (!ergon || !workspace || !serve || !tool) {
  console.error("usage: node cancel.mjs ERGON WORKSPACE SERVE_URL TOOL ARGUMENTS_JSON");
  process.exit(2);
}

const child = spawn(ergon, ["-w", workspace, "mcp", "--serve", serve],
                    { stdio: ["pipe", "pipe", "inherit"], env: process.env });
const out = { lines: [], steps: [], pong_while_pending: false };
const waiters = [];
const exited = new Promise((resolve) => child.on("exit", (code, signal) => resolve({ code, signal })));

readline.createInterface({ input: child.stdout }).on("line", (line) => {
  let message;
  try {
    message = JSON.parse(line);
  } catch {
    message = { unparsable: line };
  }
  out.lines.push(message);
  for (const waiter of [...waiters]) {
    if (waiter.test(message)) {
      waiters.splice(waiters.indexOf(waiter), 1);
      waiter.resolve(message);
    }
  }
});

const send = (message) => child.stdin.write(JSON.stringify({ jsonrpc: "2.0", ...message }) + "\n");
// The first message (already seen or still to come) that passes `test`.
function next(what, test, ms) {
  const seen = out.lines.find(test);
  if (seen) return Promise.resolve(seen);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      const at = waiters.indexOf(waiter);
      if (at >= 0) {
        waiters.splice(at, 1);
        reject(new Error(`no ${what} within ${ms} ms`));
      }
    }, ms);
    const waiter = { test, resolve: (message) => { clearTimeout(timer); resolve(message); } };
    waiters.push(waiter);
  });
}

try {
  send({ id: 1, method: "initialize", params: { protocolVersion: "2025-11-25", capabilities: {},
                                                  clientInfo: { name: "cancel", version: "1" } } });
  await next("answer to initialize", (m) => m.id === 1, 20000);
  send({ method: "notifications/initialized" });
  send({ id: 2, method: "tools/call",
         params: { name: tool, arguments: JSON.parse(args ?? "{}"), _meta: { progressToken: "p-2" } } });
  const waiting = await next("progress for the call", (m) => m.method === "notifications/progress" &&
                                                               m.params?.progressToken === "p-2", 60000);
  out.steps.push(`progress: ${waiting.params.message}`);
  send({ id: 3, method: "ping" });
  await next("answer to the ping", (m) => m.id === 3, 10000);
  out.pong_while_pending = !out.lines.some((m) => m.id === 2);
  out.steps.push("pong");
  send({ method: "notifications/cancelled", params: { requestId: 2, reason: "the user changed their mind" } });
  out.steps.push("cancelled");
  child.stdin.end();
  const timer = setTimeout(() => child.kill("SIGKILL"), 30000);
  out.exit = await exited;
  clearTimeout(timer);
} catch (error) {
  out.error = String(error?.message ?? error);
  child.kill("SIGKILL");
  out.exit = await exited;
}
process.stdout.write(JSON.stringify(out) + "\n", () => process.exit(0));
