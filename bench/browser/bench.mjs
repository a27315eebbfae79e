// Times the care-portal workflow run by ergon (plan.json, with grounding,
// guards and the journal) against the same workflow written by hand with
// Playwright (playwright.mjs), interleaved, against one care_portal that is
// reset before every run. See README.md; `./run` builds what this needs.
//
//   node bench.mjs --ergon BIN --portal BIN [--runs 5] [--warmup 1] [--out FILE]
//                  [--baseline BIN]
//
// --baseline times a second ergon binary (an older build, say) in the same
// rotation, to compare a change under the same machine load.
//
// Prints each run, the medians, the ratio ergon/Playwright, per-step medians
// and where ergon's time goes (from its journal); --out writes it all as
// JSON. Exits 1 when a run fails or leaves the portal in the wrong state, else
// 0 whatever the ratio: the target is reported, not enforced.
import { spawn } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');
const kPassword = 'correct-horse';
const kTarget = 1.2;
// Steps 2-10: the browser work after the first page, without process start-up,
// browser launch and shutdown.
const kLaterSteps = ['username', 'password', 'sign_in', 'patient_name', 'member', 'procedure',
                     'diagnosis', 'attest', 'submit'];

function parseArgs(argv) {
  const args = { runs: 5, warmup: 1, out: '', baseline: '' };
  for (let i = 0; i < argv.length; i++) {
    const [key, inline] = argv[i].split('=', 2);
    const value = () => (inline !== undefined ? inline : argv[++i]);
    if (key === '--ergon') args.ergon = resolve(value());
    else if (key === '--portal') args.portal = resolve(value());
    else if (key === '--baseline') args.baseline = resolve(value());
    else if (key === '--runs') args.runs = Number(value());
    else if (key === '--warmup') args.warmup = Number(value());
    else if (key === '--out') args.out = resolve(value());
    else throw new Error(`unknown option ${argv[i]}`);
  }
  if (!args.ergon || !args.portal) throw new Error('--ergon BIN and --portal BIN are required');
  if (!(args.runs >= 1) || !(args.warmup >= 0)) throw new Error('--runs must be >= 1, --warmup >= 0');
  return args;
}

const median = (values) => {
  const sorted = values.filter((v) => v !== undefined && v !== null).sort((a, b) => a - b);
  if (!sorted.length) return undefined;
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};
const sum = (values) => values.reduce((a, b) => a + b, 0);
const fmt = (value) => (value === undefined ? '-' : value.toFixed(0));

// Runs a command; resolves with its exit code, wall time, when it started and
// ended (epoch ms), its stdout lines (each with the time it arrived, ms since
// spawn) and its stderr.
function timed(command, args, options) {
  return new Promise((done, failed) => {
    const startedAt = Date.now();
    const start = performance.now();
    const child = spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
    const lines = [];
    let stderr = '';
    createInterface({ input: child.stdout }).on('line', (text) => {
      lines.push({ at: performance.now() - start, text });
    });
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('error', failed);
    child.on('close', (code) => {
      done({ code, ms: performance.now() - start, startedAt, endedAt: Date.now(), lines, stderr });
    });
  });
}

const output = (run) => `${run.lines.map((l) => l.text).join('\n')}\n${run.stderr}`;

// Starts care_portal on a free port; resolves with {child, url}.
function startPortal(binary) {
  return new Promise((done, failed) => {
    const child = spawn(binary, ['--port', '0'], {
      env: { ...process.env, CARE_PORTAL_PASSWORD: kPassword },
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    child.on('error', failed);
    child.on('exit', (code) => failed(new Error(`care_portal exited (${code}) before listening`)));
    createInterface({ input: child.stdout }).once('line', (line) => {
      const match = /listening on (\S+)/.exec(line);
      if (!match) return failed(new Error(`care_portal said '${line}'`));
      child.removeAllListeners('exit');
      done({ child, url: `http://${match[1]}` });
    });
  });
}

async function control(url, path, method = 'GET') {
  const response = await fetch(url + path, { method });
  if (!response.ok) throw new Error(`${method} ${path}: HTTP ${response.status}`);
  return response.json();
}

// What both sides must leave behind: one sign-in, consent rejected, one
// approved pre-authorisation for Jane Doe's 72148.
function checkState(state) {
  const p = state.preauths || [];
  const ok = state.logins === 1 && state.consent?.status === 'rejected' && p.length === 1 &&
             p[0].status === 'Approved' && p[0].member_id === 'MBR-123456' && p[0].cpt === '72148';
  if (ok) return '';
  return 'the portal is not as the workflow should leave it: ' +
         JSON.stringify({ logins: state.logins, consent: state.consent?.status, preauths: p });
}

// One ergon run in a fresh copy of the example workspace. A step's time runs
// from the previous step's "[ok]" line on stdout (the CLI flushes each outcome
// as it is journaled) to its own; step 1's from the process's start, so it
// holds start-up and the browser launch, as Playwright's step 1 does.
async function runErgon(binary, portalUrl) {
  const ws = mkdtempSync(join(tmpdir(), 'ergon-bbench-'));
  try {
    for (const name of ['ergon.yaml', 'policy.yaml', 'consent']) {
      cpSync(join(root, 'examples/care-portal', name), join(ws, name), { recursive: true });
    }
    const env = { ...process.env, CARE_PORTAL_URL: portalUrl, CARE_PORTAL_PASSWORD: kPassword };
    const plan = join(here, 'plan.json');
    const run = await timed(binary, ['-w', ws, 'run', '--plan', plan, '--yes'], { env });
    if (run.code !== 0) throw new Error(`ergon exited ${run.code}:\n${output(run)}`);
    const steps = {};
    let last = 0;
    for (const line of run.lines) {
      const ok = /^\s*\[ok\]\s+(\S+)/.exec(line.text);
      if (!ok) continue;
      steps[ok[1]] = line.at - last;
      last = line.at;
    }
    steps.finish = run.ms - last;
    return { ms: run.ms, steps, phases: await journalPhases(binary, ws, run) };
  } finally {
    rmSync(ws, { recursive: true, force: true });
  }
}

// Where an ergon run's time went, from its journal (`ergon show --json`) and
// the process's start and exit:
//   startup   process start to session_started (workspace, store, plan)
//   first     session_started to step 1's outcome (browser launch, first page)
//   actions   steps 2-10, action_started to outcome (in the connector:
//             interrupts, grounding, actionability, input, write-back)
//   engine    steps 2-10, the previous outcome to action_started (templates,
//             guards, inspect, approval with its preview, journal commits)
//   finish    last outcome to exit (session_ended, closing the browser)
// A write step's events are committed before it acts, so its action_started
// is exact; step 1 is a read, whose events are stamped at the next commit.
async function journalPhases(binary, ws, run) {
  const id = /^Session (\S+):/.exec(run.lines.find((l) => /^Session \S+:/.test(l.text))?.text || '');
  if (!id) return null;
  const shown = await timed(binary, ['-w', ws, 'show', id[1], '--json'], {});
  if (shown.code !== 0) throw new Error(`ergon show exited ${shown.code}:\n${output(shown)}`);
  const events = JSON.parse(shown.lines.map((l) => l.text).join('\n'));
  const at = (type, step) => events.find((e) => e.type === type && (!step || e.data.step === step))?.time_ms;
  const outcomes = events.filter((e) => e.type === 'outcome');
  if (!outcomes.length) return null;
  const phases = {
    startup: at('session_started') - run.startedAt,
    first: outcomes[0].time_ms - at('session_started'),
    actions: 0,
    engine: 0,
    finish: run.endedAt - outcomes.at(-1).time_ms,
  };
  for (let i = 1; i < outcomes.length; i++) {
    const started = at('action_started', outcomes[i].data.step);
    phases.actions += outcomes[i].time_ms - started;
    phases.engine += started - outcomes[i - 1].time_ms;
  }
  return phases;
}

async function runPlaywright(portalUrl) {
  const env = { ...process.env, CARE_PORTAL_PASSWORD: kPassword };
  const run = await timed(process.execPath, [join(here, 'playwright.mjs'), portalUrl], { env });
  if (run.code !== 0) throw new Error(`playwright.mjs exited ${run.code}:\n${output(run)}`);
  const report = JSON.parse(run.lines.at(-1).text);
  const { launch, open_form, close, ...rest } = report.steps;
  const startup = report.started_at - run.startedAt;  // Node, loading playwright-core
  const steps = { open_form: startup + launch + open_form, ...rest,
                  finish: close + (run.endedAt - report.closed_at) };
  const phases = { startup, launch, first: open_form, actions: sum(Object.values(rest)),
                   finish: steps.finish };
  return { ms: run.ms, steps, phases };
}

async function once(side, args, portal) {
  await control(portal.url, '/_control/reset', 'POST');
  const result = side.binary ? await runErgon(side.binary, portal.url) : await runPlaywright(portal.url);
  const wrong = checkState(await control(portal.url, '/_control/state'));
  if (wrong) throw new Error(`${side.name}: ${wrong}`);
  result.later_ms = sum(kLaterSteps.map((s) => result.steps[s] ?? 0));
  return result;
}

// Median of each key over the runs' `field` objects, keys in first-seen order.
function medians(runs, field) {
  const keys = [...new Set(runs.flatMap((r) => Object.keys(r[field] || {})))];
  return Object.fromEntries(keys.map((k) => [k, median(runs.map((r) => r[field]?.[k]))]));
}

function printTable(title, columns) {
  const names = Object.keys(columns);
  const keys = [...new Set(names.flatMap((n) => Object.keys(columns[n])))];
  console.log(`\n${title}`);
  console.log(`  ${''.padEnd(14)}${names.map((n) => n.padStart(12)).join('')}`);
  for (const k of keys) {
    console.log(`  ${k.padEnd(14)}${names.map((n) => fmt(columns[n][k]).padStart(12)).join('')}`);
  }
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const sides = [{ name: 'ergon', binary: args.ergon }, { name: 'playwright' }];
  if (args.baseline) sides.push({ name: 'baseline', binary: args.baseline });
  const portal = await startPortal(args.portal);
  for (const signal of ['SIGINT', 'SIGTERM']) {
    process.once(signal, () => {
      portal.child.kill('SIGTERM');
      process.exit(130);
    });
  }
  try {
    for (let i = 0; i < args.warmup; i++) {
      for (const side of sides) await once(side, args, portal);
    }
    const runs = Object.fromEntries(sides.map((s) => [s.name, []]));
    console.log(`bench/browser: ${args.runs} runs of each, interleaved, after ${args.warmup} ` +
                `warm-up; portal ${portal.url}`);
    for (let i = 0; i < args.runs; i++) {
      // Rotate who goes first, so that no side always runs right after another.
      const order = sides.map((_, k) => sides[(k + i) % sides.length]);
      for (const side of order) {
        const r = await once(side, args, portal);
        runs[side.name].push(r);
        console.log(`  run ${i + 1} ${side.name.padEnd(10)} ${fmt(r.ms).padStart(6)} ms`);
      }
    }

    const summary = {};
    for (const side of sides) {
      const r = runs[side.name];
      summary[side.name] = {
        median_ms: median(r.map((x) => x.ms)),
        later_steps_median_ms: median(r.map((x) => x.later_ms)),
        steps: medians(r, 'steps'),
        phases: medians(r, 'phases'),
      };
    }
    const columns = (field) => Object.fromEntries(sides.map((s) => [s.name, summary[s.name][field]]));
    printTable('median ms per step (step 1 from process start; finish: close to exit):', columns('steps'));
    printTable('median ms per phase (ergon: from its journal; see bench.mjs):', columns('phases'));

    const e = summary.ergon;
    const p = summary.playwright;
    const ratio = e.median_ms / p.median_ms;
    const laterRatio = e.later_steps_median_ms / p.later_steps_median_ms;
    console.log(`\nmedian wall time: ergon ${fmt(e.median_ms)} ms, playwright ${fmt(p.median_ms)} ms` +
                (args.baseline ? `, baseline ${fmt(summary.baseline.median_ms)} ms` : ''));
    console.log(`steps 2-10 alone: ergon ${fmt(e.later_steps_median_ms)} ms, playwright ` +
                `${fmt(p.later_steps_median_ms)} ms, ratio ${laterRatio.toFixed(2)}` +
                (args.baseline ? `, baseline ${fmt(summary.baseline.later_steps_median_ms)} ms` : ''));
    console.log(`ratio ergon/playwright: ${ratio.toFixed(2)} (target <= ${kTarget}: ` +
                `${ratio <= kTarget ? 'met' : 'NOT met'})`);
    if (args.out) {
      const report = { runs: args.runs, warmup: args.warmup, target: kTarget, ratio,
                       later_steps_ratio: laterRatio, summary, results: runs };
      writeFileSync(args.out, JSON.stringify(report, null, 2) + '\n');
      console.log(`results: ${args.out}`);
    }
  } finally {
    portal.child.kill('SIGTERM');
  }
}

main().catch((error) => {
  console.error(`bench/browser: ${error.message}`);
  process.exitCode = 1;
});
