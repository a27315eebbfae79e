// The bench/browser workflow written by hand with Playwright: the same ten
// steps as plan.json, on the same headless Chromium, with role and label
// locators. Usage: node playwright.mjs BASE_URL (password from
// $CARE_PORTAL_PASSWORD). Prints one JSON line: the script's own time, when it
// started and closed the browser (epoch ms) and each step's time (ms).
import { chromium } from 'playwright-core';

const base = process.argv[2];
const password = process.env.CARE_PORTAL_PASSWORD;
if (!base || !password) {
  console.error('usage: CARE_PORTAL_PASSWORD=... node playwright.mjs BASE_URL');
  process.exit(2);
}

const startedAt = Date.now();
const started = performance.now();
const marks = [];
const mark = (name) => marks.push([name, performance.now()]);

const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true });
try {
  const page = await browser.newPage();
  mark('launch');

  // 1. Signed out, the deep link lands on the login page (?next=/preauth/new).
  await page.goto(new URL('/preauth/new', base).href);
  // The consent banner (CookieWall) is answered "Reject all", as ergon's rule does.
  await page.getByRole('button', { name: 'Reject all' }).click();
  await page.getByRole('region', { name: 'Cookie consent' }).waitFor({ state: 'detached' });
  mark('open_form');
  // 2-4. Sign in; the portal sends us on to the form.
  await page.getByLabel('Username', { exact: true }).fill('dr.lee');
  mark('username');
  await page.getByLabel('Password', { exact: true }).fill(password);
  mark('password');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL((url) => url.pathname === '/preauth/new');
  mark('sign_in');
  // 5-10. The pre-authorisation form.
  await page.getByLabel('Patient name', { exact: true }).fill('Jane Doe');
  mark('patient_name');
  await page.getByLabel('Member ID', { exact: true }).fill('MBR-123456');
  mark('member');
  await page.getByLabel('Procedure (CPT)', { exact: true }).selectOption('72148');
  mark('procedure');
  await page.getByLabel('Diagnosis (ICD-10)', { exact: true }).fill('M54.16');
  mark('diagnosis');
  await page.getByRole('checkbox', { name: 'I attest the information is accurate' }).check();
  mark('attest');
  await page.getByRole('button', { name: 'Submit request' }).click();
  await page.waitForURL((url) => /^\/preauth\/\d+$/.test(url.pathname));
  mark('submit');
  if (!(await page.getByText('Approved', { exact: true }).first().isVisible())) {
    throw new Error('the decision page does not say Approved: ' + page.url());
  }
} finally {
  await browser.close();
}
mark('close');

const steps = {};
let last = started;
for (const [name, at] of marks) {
  steps[name] = Math.round((at - last) * 10) / 10;
  last = at;
}
const ms = Math.round((performance.now() - started) * 10) / 10;
console.log(JSON.stringify({ ms, started_at: startedAt, closed_at: Date.now(), steps }));
