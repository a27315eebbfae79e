// An approver uses the console end to end: signs in with a token, finds the
// pending approval of SESSION, checks the card shows what the API lists,
// approves it, and watches the session's live timeline until it is done.
// Along the way: the CSP header, a cookie POST without X-CSRF-Token refused
// (403), sign-in restored on reload, the audit chain and the metrics.
// Usage: node approve.mjs BASE_URL APPROVER_TOKEN SESSION_ID
// Exits 0 only when all of that held; 1 with what went wrong otherwise.
import { args, run, check, shot, signIn, listedApprovals, approvalCard, checkCardShows } from './lib.mjs';

const [base, token, session] = args('approve.mjs BASE_URL APPROVER_TOKEN SESSION_ID', 3);

await run('approve', base, async (page) => {
  await signIn(page, base, token);

  // The console keeps its login across a reload (GET /v1/whoami).
  await page.reload();
  await page.getByText('Signed in as').waitFor();

  const card = await approvalCard(page, session);
  const listed = (await listedApprovals(page)).filter((a) => a.session === session);
  check(listed.length === 1, `GET /v1/approvals lists ${listed.length} approvals for ${session}`);
  const approval = listed[0];
  await checkCardShows(page, card, approval);
  await shot(page, 'approve-1-queue');

  // With the cookie but without X-CSRF-Token, a decision is refused and the
  // approval stays pending.
  const forged = await page.evaluate(async ({ id, hash }) => {
    const r = await fetch(`/v1/approvals/${encodeURIComponent(id)}`, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ decision: 'approve', reason: 'forged', hash }),
    });
    return { status: r.status, body: await r.text() };
  }, { id: approval.id, hash: approval.hash });
  check(forged.status === 403, `a POST without X-CSRF-Token got ${forged.status}: ${forged.body}`);
  const still = (await listedApprovals(page)).filter((a) => a.id === approval.id);
  check(still.length === 1, 'the approval was decided by a POST without X-CSRF-Token');

  const approve = card.getByRole('button', { name: 'Approve', exact: true });
  check(await approve.isEnabled(), `Approve is disabled for an approver: ${await card.innerText()}`);
  await card.getByLabel('Reason for your decision').fill('checked in the console');
  await approve.click();
  // The card says how the decision went: approved, or the server's refusal.
  const outcome = card.getByRole('status').filter({ hasText: /^(Approved by|Denied by|Refused|Not decided|This approval)/ });
  await outcome.waitFor();
  const said = await outcome.innerText();
  check(said.startsWith('Approved by '), `clicking Approve did not approve: the card says "${said}"`);
  await shot(page, 'approve-2-approved');

  // The session's live timeline, reached from the sessions list.
  await page.getByRole('link', { name: 'Sessions', exact: true }).click();
  const row = page.getByRole('row').filter({ hasText: session });
  await row.getByRole('link').first().click();
  const timeline = page.getByRole('log', { name: 'Timeline' });
  await timeline.getByText(/^Approved by .*cloud\.purchase_reservation|^Approved by /).first().waitFor({ timeout: 60_000 });
  await timeline.getByText(/^Session ended: done/).waitFor({ timeout: 60_000 });
  const failed = await timeline.getByText(/^Session ended: (failed|aborted)/).count();
  check(failed === 0, 'the timeline shows the session failed');
  await page.locator('.status-line .badge').getByText('done', { exact: true }).waitFor();
  await shot(page, 'approve-3-session');

  // Its audit: the hash chain verifies.
  await page.getByRole('link', { name: 'Audit', exact: true }).click();
  await page.getByText('Hash chain verified').waitFor();
  const rows = await page.getByRole('table', { name: /^Journal events/ }).getByRole('row').count();
  check(rows > 2, `the audit table shows ${rows - 1} events`);
  await shot(page, 'approve-4-audit');

  // The metrics match GET /v1/stats.
  await page.getByRole('link', { name: 'Metrics', exact: true }).click();
  const stats = await page.evaluate(async () => (await fetch('/v1/stats', { credentials: 'same-origin' })).json());
  const perTask = page.getByRole('group', { name: 'Approvals per task' });
  await perTask.getByText(Number(stats.approvals_per_task).toFixed(2), { exact: true }).waitFor();
  await page.getByRole('group', { name: 'Finished' }).getByText(String(stats.finished), { exact: true }).waitFor();
  await shot(page, 'approve-5-metrics');

  // Sign out ends the cookie login.
  await page.getByRole('button', { name: 'Sign out', exact: true }).click();
  await page.getByLabel('API token', { exact: true }).waitFor();
  const after = await page.evaluate(async () => (await fetch('/v1/whoami', { credentials: 'same-origin' })).status);
  check(after === 401, `GET /v1/whoami after signing out answered ${after}`);
});
