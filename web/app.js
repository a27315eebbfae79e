// The console's shell: sign-in (API token → HttpOnly cookie, restored on
// reload through /v1/whoami), navigation by URL hash, and the approvals poll.
import { get, post, setCsrf, onUnauthorized } from './api.js';
import { h, replace } from './dom.js';
import { ApprovalsView } from './approvals.js';
import { SessionsView, SessionView, AuditView, MetricsView } from './sessions.js';

const POLL_MS = 2000;

let me = null;  // {name, role}; the csrf value is kept by api.js
const ctx = {
  me: () => me,
  navigate: (hash) => {
    if (location.hash === hash) route();
    else location.hash = hash;
  },
};

const $ = (id) => document.getElementById(id);
const loginSection = $('login');
const appSection = $('app');
const main = $('main');
const who = $('who');
const banner = $('banner');
const approvalsLink = $('nav-approvals');

const approvals = new ApprovalsView(ctx);
const sessions = new SessionsView(ctx);
const metrics = new MetricsView(ctx);
approvals.onCount = (n) => {
  replace(approvalsLink, 'Approvals', n ? h('span.count', { 'aria-label': `${n} waiting` }, String(n)) : null);
};

let current = null;  // the view on screen: {root, refresh, leave}
let pollTimer = null;

function showBanner(text) {
  banner.textContent = text || '';
  banner.hidden = !text;
}

function signedIn(info) {
  me = { name: info.name, role: info.role };
  setCsrf(info.csrf);
  loginSection.hidden = true;
  appSection.hidden = false;
  replace(who, 'Signed in as ', h('strong', me.name), ` (${me.role})`);
  approvals.refreshPermissions();
  showBanner('');
  route();
  poll();
}

function signedOut(message) {
  me = null;
  setCsrf(null);
  if (pollTimer) clearTimeout(pollTimer);
  pollTimer = null;
  if (current) current.leave();
  current = null;
  approvals.clear();
  appSection.hidden = true;
  loginSection.hidden = false;
  $('login-status').textContent = message || '';
  $('token').value = '';
  $('token').focus();
}

onUnauthorized(() => {
  if (me) signedOut('Your session has ended; sign in again.');
});

// Every 2 s: the approvals queue (whatever view is open, for the count) and
// the list-like view on screen. Session views update from their event stream.
async function poll() {
  if (pollTimer) clearTimeout(pollTimer);
  pollTimer = null;
  if (!me) return;
  await approvals.refresh();
  if (current && (current === sessions || current === metrics)) await current.refresh();
  if (me) pollTimer = setTimeout(poll, POLL_MS);
}

function route() {
  if (!me) return;
  const hash = location.hash || '#/approvals';
  const parts = hash.replace(/^#\/?/, '').split('/').map((p) => decodeURIComponent(p));
  let next;
  let nav = parts[0] || 'approvals';
  if (parts[0] === 'sessions' && parts[1]) {
    next = parts[2] === 'audit' ? new AuditView(ctx, parts[1]) : new SessionView(ctx, parts[1]);
  } else if (parts[0] === 'sessions') {
    next = sessions;
  } else if (parts[0] === 'metrics') {
    next = metrics;
  } else {
    next = approvals;
    nav = 'approvals';
  }
  if (current && current !== next) current.leave?.();
  current = next;
  for (const link of document.querySelectorAll('nav a[data-nav]')) {
    if (link.dataset.nav === nav) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  main.replaceChildren(next.root);
  next.refresh();
}

window.addEventListener('hashchange', route);

$('login-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const status = $('login-status');
  const token = $('token').value.trim();
  if (!token) {
    status.textContent = 'Paste your API token first.';
    return;
  }
  status.textContent = 'Signing in…';
  const answer = await post('/v1/login', { token }, { quietUnauthorized: true });
  if (!answer.ok) {
    status.textContent = answer.status === 401
      ? 'That token is not known to this server.'
      : `Sign-in failed: ${answer.error}`;
    return;
  }
  $('token').value = '';
  status.textContent = '';
  signedIn(answer.data);
});

$('logout').addEventListener('click', async () => {
  await post('/v1/logout', {}, { quietUnauthorized: true });
  signedOut('Signed out.');
});

// Restore a signed-in console after a reload: the cookie is HttpOnly, so ask.
(async () => {
  const answer = await get('/v1/whoami', { quietUnauthorized: true });
  if (answer.ok && answer.data?.name) signedIn(answer.data);
  else signedOut('');
})();
