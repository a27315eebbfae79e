// An operator works a session from the console alone: starts it from the
// new-session form with GOAL, answers the question it asks with ANSWER,
// waits until it asks for an approval, then cancels it and watches the
// timeline end it as aborted. Prints {"session": "<id>"} on success.
// Usage: node start_and_cancel.mjs BASE_URL OPERATOR_TOKEN GOAL ANSWER
import { args, run, check, shot, signIn } from './lib.mjs';

const [base, token, goal, answer] = args('start_and_cancel.mjs BASE_URL OPERATOR_TOKEN GOAL ANSWER', 4);

await run('start_and_cancel', base, async (page) => {
  await signIn(page, base, token);
  await page.getByRole('link', { name: 'Sessions', exact: true }).click();
  await page.getByLabel('Goal', { exact: true }).fill(goal);
  await shot(page, 'start-0-sessions');
  await page.getByRole('button', { name: 'Start session', exact: true }).click();
  await page.waitForURL(/#\/sessions\/[^/]+$/);
  const session = decodeURIComponent(new URL(page.url()).hash.split('/')[2]);

  // The question, with its answer form.
  const questions = page.getByRole('region', { name: 'Open questions' });
  await questions.waitFor({ timeout: 60_000 });
  const timeline = page.getByRole('log', { name: 'Timeline' });
  await timeline.getByText(/^Question for a person: /).first().waitFor();
  await shot(page, 'start-1-question');
  await questions.getByRole('textbox').first().fill(answer);
  await questions.getByRole('button', { name: 'Answer', exact: true }).first().click();
  await timeline.getByText(/^Answered /).first().waitFor({ timeout: 60_000 });

  // It runs on until it waits for an approval; cancel it there.
  await page.getByRole('region', { name: 'Waiting for approval' }).waitFor({ timeout: 60_000 });
  page.once('dialog', (dialog) => dialog.accept());
  await page.getByRole('button', { name: 'Cancel session', exact: true }).click();
  await timeline.getByText(/^Session ended: aborted/).waitFor({ timeout: 60_000 });
  await page.locator('.status-line .badge').getByText('aborted', { exact: true }).waitFor();
  const cancelButtons = await page.getByRole('button', { name: 'Cancel session' }).count();
  check(cancelButtons === 0, 'an ended session still offers Cancel');
  await shot(page, 'start-2-cancelled');
  console.log(JSON.stringify({ session }));
});
