// An approver decides on an action that is no longer what the page showed,
// then denies it. The approve POST is altered in flight (its "hash" no longer
// matches, as if the card showed an older version of the action): the server
// answers 409, the card says the action changed and to look again, and the
// approval stays pending. Without the alteration, the approver types REASON
// and denies; the card says so, and the session's live timeline shows the
// denial, the undoing of what the session already did, and its end (aborted).
// Usage: node deny_and_stale.mjs BASE_URL APPROVER_TOKEN SESSION_ID REASON
// Exits 0 only when all of that held; 1 with what went wrong otherwise.
import { args, run, check, shot, signIn, listedApprovals, approvalCard, checkCardShows } from './lib.mjs';

const [base, token, session, reason] = args('deny_and_stale.mjs BASE_URL APPROVER_TOKEN SESSION_ID REASON', 4);

// A different hash of the same shape: the last hex digit changed.
function staleHash(hash) {
  check(typeof hash === 'string' && /^[0-9a-f]+$/.test(hash), `the approve POST sent no hash: ${hash}`);
  const last = hash.at(-1) === '0' ? '1' : '0';
  return hash.slice(0, -1) + last;
}

await run('deny_and_stale', base, async (page) => {
  await signIn(page, base, token);
  const card = await approvalCard(page, session);
  const listed = (await listedApprovals(page)).filter((a) => a.session === session);
  check(listed.length === 1, `GET /v1/approvals lists ${listed.length} approvals for ${session}`);
  const approval = listed[0];
  await checkCardShows(page, card, approval);

  // 1. The decision reaches the server with a hash of another version of the
  //    action.
  const altered = [];
  const alter = async (route, request) => {
    if (request.method() !== 'POST') return route.fallback();
    const body = request.postDataJSON();
    const hash = staleHash(body.hash);
    altered.push({ sent: body.hash, now: hash, decision: body.decision });
    return route.continue({ postData: JSON.stringify({ ...body, hash }) });
  };
  await page.route('**/v1/approvals/*', alter);
  const approve = card.getByRole('button', { name: 'Approve', exact: true });
  check(await approve.isEnabled(), `Approve is disabled for an approver: ${await card.innerText()}`);
  const answered = page.waitForResponse((r) => r.request().method() === 'POST' &&
      r.url().includes(`/v1/approvals/${encodeURIComponent(approval.id)}`));
  await approve.click();
  const response = await answered;
  check(altered.length === 1, `the route altered ${altered.length} POSTs, expected the one approve`);
  check(altered[0].sent === approval.hash,
      `the page sent hash ${altered[0].sent}, GET /v1/approvals lists ${approval.hash}`);
  check(altered[0].decision === 'approve', `the altered POST decided "${altered[0].decision}"`);
  check(response.status() === 409, `the approve with a stale hash got ${response.status()}: ${await response.text()}`);

  const outcome = card.getByRole('status').filter({ hasText: /^(Approved by|Denied by|Refused|Not decided|This approval)/ });
  await outcome.waitFor();
  const said = await outcome.innerText();
  check(said.startsWith('Not decided'), `after a 409 the card says "${said}"`);
  check(/action changed/i.test(said), `the card does not say the action changed: "${said}"`);
  check(/look at the action again/i.test(said), `the card does not ask to look at the action again: "${said}"`);
  check(!said.startsWith('Approved by'), 'the card claims an approval the server refused');
  // Still pending, and still decidable from the same card.
  const still = (await listedApprovals(page)).filter((a) => a.id === approval.id);
  check(still.length === 1, 'after the 409 the approval is no longer pending');
  check(still[0].hash === approval.hash, 'after the 409 the approval changed its hash');
  await checkCardShows(page, card, still[0]);
  const deny = card.getByRole('button', { name: 'Deny', exact: true });
  await deny.waitFor();
  check(await deny.isEnabled(), 'after the 409 Deny is disabled');
  check(await approve.isEnabled(), 'after the 409 Approve is disabled');
  await shot(page, 'deny-1-stale');

  // 2. Unaltered, with a reason: Deny.
  await page.unroute('**/v1/approvals/*', alter);
  await card.getByLabel('Reason for your decision').fill(reason);
  const denied = page.waitForResponse((r) => r.request().method() === 'POST' &&
      r.url().includes(`/v1/approvals/${encodeURIComponent(approval.id)}`));
  await deny.click();
  const denyResponse = await denied;
  check(altered.length === 1, 'the Deny POST went through the removed route');
  check(denyResponse.status() === 200, `Deny got ${denyResponse.status()}: ${await denyResponse.text()}`);
  await outcome.filter({ hasText: /^Denied by / }).waitFor();
  const now = await outcome.innerText();
  check(now.startsWith('Denied by bob'), `after Deny the card says "${now}"`);
  check(await approve.isDisabled() && await deny.isDisabled(), 'a decided card still offers Approve or Deny');
  await shot(page, 'deny-2-denied');

  // The session: denial with the reason, the undoing, the end.
  await page.getByRole('link', { name: 'Sessions', exact: true }).click();
  const row = page.getByRole('row').filter({ hasText: session });
  await row.getByRole('link').first().click();
  const timeline = page.getByRole('log', { name: 'Timeline' });
  await timeline.getByText(/^Denied by bob: cloud\.purchase_reservation/).waitFor({ timeout: 60_000 });
  const denial = await timeline.getByText(/^Denied by bob: /).innerText();
  check(denial.includes(`“${reason}”`), `the timeline's denial does not carry the reason: "${denial}"`);
  await timeline.getByText(/^Session ended: /).waitFor({ timeout: 60_000 });
  const ended = await timeline.getByText(/^Session ended: /).innerText();
  check(ended.startsWith('Session ended: aborted'), `the session ended otherwise than aborted: "${ended}"`);
  const undone = await timeline.getByText(/^Undo .*: done$/).count();
  check(undone > 0, 'the timeline shows nothing undone after the denial');
  const failedUndo = await timeline.getByText(/^Undo .*: failed/).count();
  check(failedUndo === 0, 'the timeline shows an undo that failed');
  await page.locator('.status-line .badge').getByText('aborted', { exact: true }).waitFor();
  await shot(page, 'deny-3-session');

  const left = (await listedApprovals(page)).filter((a) => a.session === session);
  check(left.length === 0, `the ended session still lists ${left.length} pending approvals`);
});
