// Someone who may not approve SESSION's pending action (a viewer, or its
// creator under four eyes) signs in, sees the approval with its arguments,
// and finds Approve disabled with an explanation containing WHY.
// Usage: node cannot_approve.mjs BASE_URL TOKEN SESSION_ID WHY
// Exits 0 only when that held and the approval is still pending.
import { args, run, check, shot, signIn, listedApprovals, approvalCard, checkCardShows } from './lib.mjs';

const [base, token, session, why] = args('cannot_approve.mjs BASE_URL TOKEN SESSION_ID WHY', 4);

await run('cannot_approve', base, async (page) => {
  await signIn(page, base, token);
  const card = await approvalCard(page, session);
  const listed = (await listedApprovals(page)).filter((a) => a.session === session);
  check(listed.length === 1, `GET /v1/approvals lists ${listed.length} approvals for ${session}`);
  await checkCardShows(page, card, listed[0]);

  const approve = card.getByRole('button', { name: 'Approve', exact: true });
  check(await approve.isDisabled(), 'Approve is enabled');
  const explanation = await card.locator('.explain').innerText();
  check(explanation.includes(why), `the explanation "${explanation}" does not say "${why}"`);
  // The disabled button points at its explanation for screen readers.
  const described = await approve.getAttribute('aria-describedby');
  check(Boolean(described), 'the disabled Approve button has no aria-describedby');
  await shot(page, `cannot-approve-${why.replace(/\W+/g, '-')}`);

  // A viewer cannot start sessions either: the form is not offered.
  const role = (await page.getByText('Signed in as').innerText()).match(/\((\w+)\)/)?.[1];
  if (role === 'viewer') {
    await page.getByRole('link', { name: 'Sessions', exact: true }).click();
    await page.getByRole('heading', { name: 'Sessions', exact: true }).waitFor();
    check(await page.getByRole('button', { name: 'Start session' }).count() === 0 ||
          !(await page.getByRole('button', { name: 'Start session' }).isVisible()),
    'a viewer is offered the new-session form');
  }
  const still = (await listedApprovals(page)).filter((a) => a.session === session);
  check(still.length === 1, 'the approval is no longer pending');
});
