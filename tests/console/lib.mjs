// Shared by the console scripts: argument parsing, a headless Chromium
// (/usr/bin/chromium, no sandbox since CI runs as root), sign-in, CSP
// violation capture and a clear failure message with what the page showed.
import { chromium } from 'playwright-core';

export const CHROMIUM = process.env.ERGON_CHROMIUM || '/usr/bin/chromium';

export class Failure extends Error {}

// With ERGON_CONSOLE_SHOTS=DIR, full-page screenshots of each stage land in
// DIR (for looking at the console; the tests do not need them).
export async function shot(page, name) {
  const dir = process.env.ERGON_CONSOLE_SHOTS;
  if (dir) await page.screenshot({ path: `${dir}/${name}.png`, fullPage: true });
}

export function check(condition, message) {
  if (!condition) throw new Failure(message);
}

export function args(usage, count) {
  const values = process.argv.slice(2);
  if (values.length < count || values.slice(0, count).some((v) => !v)) {
    console.error(`usage: node ${usage}`);
    process.exit(2);
  }
  return values;
}

// Runs body(page, ctx) in a fresh browser; exits 0 when it returns, 1 with a
// message (and the visible text of the page) when it throws.
export async function run(name, base, body) {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox'],
  });
  const violations = [];
  const pageErrors = [];
  let page;
  try {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    context.setDefaultTimeout(30_000);
    page = await context.newPage();
    page.on('console', (msg) => {
      const text = msg.text();
      if (msg.type() === 'error' && /Content Security Policy|Refused to/i.test(text)) violations.push(text);
    });
    page.on('pageerror', (err) => pageErrors.push(String(err)));
    await body(page, { base: new URL('/', base).href });
    check(violations.length === 0, `the console broke its Content-Security-Policy:\n  ${violations.join('\n  ')}`);
    check(pageErrors.length === 0, `uncaught errors in the page:\n  ${pageErrors.join('\n  ')}`);
    console.log(`${name}: ok`);
  } catch (e) {
    console.error(`${name}: FAILED: ${e instanceof Failure ? e.message : e.stack || e}`);
    if (pageErrors.length) console.error(`page errors:\n  ${pageErrors.join('\n  ')}`);
    if (page) {
      try {
        const text = await page.locator('body').innerText({ timeout: 2000 });
        console.error(`--- the page showed (${page.url()}) ---\n${text.slice(0, 4000)}`);
      } catch {
        // the page is gone; the message above says why
      }
    }
    process.exitCode = 1;
  } finally {
    await browser.close();
  }
}

// Opens the console, checks its security headers and signs in with `token`.
export async function signIn(page, base, token) {
  const response = await page.goto(new URL('/console/', base).href);
  check(response && response.ok(), `GET /console/ answered ${response ? response.status() : 'nothing'}`);
  const headers = response.headers();
  const csp = headers['content-security-policy'] || '';
  for (const directive of ["default-src 'none'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'"]) {
    check(csp.includes(directive), `GET /console/: Content-Security-Policy lacks ${directive}: "${csp}"`);
  }
  check(headers['x-content-type-options'] === 'nosniff', 'GET /console/: no X-Content-Type-Options: nosniff');
  await page.getByLabel('API token', { exact: true }).fill(token);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.getByText('Signed in as').waitFor();
  // The API token is never kept by the page.
  const stored = await page.evaluate(() => JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }));
  check(!stored.includes(token), 'the API token was left in localStorage/sessionStorage');
}

// The approvals as the API lists them (with the page's cookie).
export async function listedApprovals(page) {
  return page.evaluate(async () => {
    const r = await fetch('/v1/approvals', { credentials: 'same-origin' });
    return (await r.json()).approvals;
  });
}

// The approval card of `session` once the queue shows it.
export async function approvalCard(page, session) {
  await page.getByRole('link', { name: /^Approvals/ }).click();
  const card = page.getByRole('article').filter({ hasText: session });
  await card.waitFor({ timeout: 60_000 });
  check(await card.count() === 1, `expected one approval card for ${session}, found ${await card.count()}`);
  return card;
}

// Checks the card shows the approval as the API lists it: action, effect,
// goal and every argument in the Arguments table.
export async function checkCardShows(page, card, approval) {
  await card.getByRole('heading', { name: approval.action, exact: true }).waitFor();
  const effect = { irreversible: 'Irreversible', write: 'Write (can be undone)', read: 'Read only' }[approval.effect];
  if (effect) await card.getByText(effect, { exact: true }).waitFor();
  if (approval.goal) await card.getByText(approval.goal).first().waitFor();
  const table = card.getByRole('table', { name: 'Arguments' });
  for (const [key, value] of Object.entries(approval.args || {})) {
    const row = table.getByRole('row').filter({ has: page.getByRole('rowheader', { name: key, exact: true }) });
    check(await row.count() === 1, `the Arguments table has no row for "${key}"`);
    const shown = (await row.getByRole('cell').first().innerText()).trim();
    if (value !== null && typeof value === 'object') {
      check(shown.length > 0, `argument "${key}": the card shows nothing`);
      continue;
    }
    const expected = typeof value === 'boolean' ? (value ? 'yes' : 'no') : value === null ? 'none' : String(value);
    check(shown === expected,
        `argument "${key}": the card shows "${shown}", the approval says ${JSON.stringify(value)}`);
  }
}
