// Sessions: the list with a new-session form, one session's live timeline
// (server-sent events) with its questions and Cancel, and its audit view.
import { get, post, atLeast, enc } from './api.js';
import { h, replace, uid, when, ago } from './dom.js';
import {
  renderJson, renderSummary, keyValueTable, statusBadge, timelineItem, describeEvent, EVENT_TYPES,
} from './render.js';

const FINAL = new Set(['done', 'failed', 'aborted']);

export class SessionsView {
  constructor(ctx) {
    this.ctx = ctx;
    const headingId = uid('sessions');
    this.formSection = this.newSessionForm();
    this.message = h('p', { role: 'status' });
    this.table = h('div.table-wrap');
    this.root = h('section.view', { 'aria-labelledby': headingId },
        h('h2', { id: headingId }, 'Sessions'), this.formSection, this.message, this.table);
  }

  newSessionForm() {
    const goalId = uid('goal');
    this.goal = h('input', { id: goalId, type: 'text', name: 'goal', required: true, autocomplete: 'off',
      placeholder: 'e.g. Cut our monthly cloud spend by 15% without touching production' });
    this.createStatus = h('p.form-status', { role: 'status', 'aria-live': 'polite' });
    this.planOut = h('div.plan-out');
    const form = h('form.new-session', { 'aria-label': 'New session', onsubmit: (e) => {
      e.preventDefault();
      this.create();
    } },
    h('label', { for: goalId }, 'Goal'),
    h('div.inline', this.goal, h('button', { type: 'submit' }, 'Start session')),
    this.createStatus, this.planOut);
    return h('section.panel', { 'aria-label': 'Start a session' }, h('h3', 'Start a session'), form);
  }

  async create(body) {
    const goal = this.goal.value.trim();
    if (!body) {
      if (!goal) {
        this.createStatus.textContent = 'Write the goal first.';
        return;
      }
      body = { goal };
    }
    this.createStatus.textContent = 'Planning…';
    replace(this.planOut);
    const answer = await post('/v1/sessions', body);
    if (!answer.ok) {
      this.createStatus.textContent = `Not started: ${answer.error}`;
      return;
    }
    if (answer.status === 200 && answer.data?.plan) {
      // The model planned it: nothing runs until a person reads the plan.
      this.createStatus.textContent = 'No skill fits this goal; the model proposed this plan. Read it, then run it or leave it.';
      const plan = answer.data.plan;
      replace(this.planOut, renderJson(plan, 0, 'Proposed plan'),
          h('button', { type: 'button', onclick: () => this.create({ plan }) }, 'Run this plan'));
      return;
    }
    this.goal.value = '';
    this.createStatus.textContent = `Started session ${answer.data?.id ?? ''}.`;
    if (answer.data?.id) this.ctx.navigate(`#/sessions/${enc(answer.data.id)}`);
  }

  applyPermissions() {
    const me = this.ctx.me();
    this.formSection.hidden = !me || !atLeast(me.role, 'operator');
  }

  async refresh() {
    this.applyPermissions();
    const answer = await get('/v1/sessions');
    if (!answer.ok) {
      if (answer.status !== 401) this.message.textContent = `Could not load sessions: ${answer.error}`;
      return;
    }
    const sessions = Array.isArray(answer.data?.sessions) ? [...answer.data.sessions] : [];
    sessions.sort((a, b) => (b.updated_ms ?? 0) - (a.updated_ms ?? 0));
    this.message.textContent = sessions.length ? '' : 'No sessions yet.';
    if (!sessions.length) {
      replace(this.table);
      return;
    }
    const now = Date.now();
    replace(this.table, h('table.list',
        h('caption.visually-hidden', 'Sessions'),
        h('thead', h('tr', ['Goal', 'Status', 'Updated', 'Events', 'Session'].map((c) => h('th', { scope: 'col' }, c)))),
        h('tbody', sessions.map((s) => h('tr',
            h('td', h('a', { href: `#/sessions/${enc(s.id)}` }, s.goal || '(no goal)')),
            h('td', statusBadge(s.busy && s.status === 'running' ? 'running' : s.status)),
            h('td', h('time', { title: when(s.updated_ms) }, ago(s.updated_ms, now))),
            h('td.num', String(s.events ?? '')),
            h('td', h('code', s.id)))))));
  }

  leave() {}
}

export class SessionView {
  constructor(ctx, id) {
    this.ctx = ctx;
    this.id = id;
    this.source = null;
    this.seen = new Set();
    this.ended = false;
    const headingId = uid('session');
    this.heading = h('h2', { id: headingId }, 'Session');
    this.statusLine = h('div.status-line');
    this.actions = h('div.buttons');
    this.notice = h('p', { role: 'status', 'aria-live': 'polite' });
    this.questions = h('div.questions');
    this.pending = h('div.pending');
    this.steps = h('div.steps');
    this.report = h('div.report');
    this.streamState = h('p.stream-state', { role: 'status' }, 'Connecting to the live timeline…');
    this.timeline = h('ol.timeline', { 'aria-label': 'Timeline', role: 'log', 'aria-live': 'polite' });
    this.root = h('section.view', { 'aria-labelledby': headingId },
        h('p.crumbs', h('a', { href: '#/sessions' }, '← All sessions')),
        this.heading, this.statusLine, this.actions, this.notice, this.questions, this.pending,
        h('div.columns',
            h('section.panel.timeline-panel', { 'aria-label': 'Live timeline' },
                h('h3', 'Timeline'), this.streamState, this.timeline),
            h('div.side',
                h('section.panel', { 'aria-label': 'Steps' }, h('h3', 'Steps'), this.steps),
                this.report)));
    this.refreshTimer = null;
  }

  async refresh() {
    const answer = await get(`/v1/sessions/${enc(this.id)}`);
    if (!answer.ok) {
      if (answer.status !== 401) this.notice.textContent = `Could not load session ${this.id}: ${answer.error}`;
      return;
    }
    this.draw(answer.data);
    if (!this.source && !this.ended) this.connect();
  }

  draw(s) {
    this.session = s;
    const me = this.ctx.me();
    replace(this.heading, s.goal || `Session ${this.id}`);
    replace(this.statusLine,
        h('span.label', 'Status: '), statusBadge(s.status),
        s.busy && !FINAL.has(s.status) ? h('span.muted', ' (working)') : null,
        h('span.sep', ' · '), h('span', 'Session '), h('code', this.id),
        s.creator ? [h('span.sep', ' · '), `created by ${s.creator}`] : null,
        h('span.sep', ' · '), `updated ${ago(s.updated_ms)}`);
    const canOperate = me && atLeast(me.role, 'operator');
    replace(this.actions,
        h('a.button', { href: `#/sessions/${enc(this.id)}/audit` }, 'Audit'),
        !FINAL.has(s.status) && canOperate
          ? h('button.deny', { type: 'button', onclick: () => this.cancel() }, 'Cancel session') : null);
    if (s.error) this.notice.textContent = `Error: ${s.error}`;

    // Open questions, each with its answer form.
    const questions = Array.isArray(s.questions) ? s.questions : [];
    if (!questions.length) replace(this.questions);
    else if (this.questionsKey !== JSON.stringify(questions)) {
      replace(this.questions, h('section.panel.attention', { 'aria-label': 'Open questions' },
          h('h3', 'Questions for you'),
          questions.map((q) => this.questionForm(q, canOperate))));
    }
    this.questionsKey = JSON.stringify(questions);

    const pending = Array.isArray(s.approvals) ? s.approvals : [];
    replace(this.pending, pending.length
      ? h('section.panel.attention', { 'aria-label': 'Waiting for approval' },
          h('p', `Waiting for a decision on ${pending.map((a) => a.action).join(', ')}. `,
              h('a', { href: '#/approvals' }, 'Open the approvals queue')))
      : null);

    const steps = s.steps && typeof s.steps === 'object' ? Object.entries(s.steps) : [];
    replace(this.steps, steps.length
      ? h('table.list', h('caption.visually-hidden', 'Steps'),
          h('thead', h('tr', h('th', { scope: 'col' }, 'Step'), h('th', { scope: 'col' }, 'State'),
              h('th', { scope: 'col' }, 'Detail'))),
          h('tbody', steps.map(([name, st]) => h('tr', h('th', { scope: 'row' }, name),
              h('td', st.state ? statusBadge(st.state) : null, itemStates(st.items)),
              h('td', st.error ? h('span.tone-bad', String(st.error)) : '')))))
      : h('p.muted', 'No step has run yet.'));

    replace(this.report, s.report && typeof s.report === 'object' && Object.keys(s.report).length
      ? h('section.panel', { 'aria-label': 'Report' }, h('h3', 'Report'), renderSummary(s.report, null))
      : null);
  }

  questionForm(q, canOperate) {
    const inputId = uid('answer');
    const input = h('input', { id: inputId, type: 'text', name: q.slot, autocomplete: 'off', disabled: !canOperate });
    const status = h('p.form-status', { role: 'status' });
    return h('form.question', { 'aria-label': `Answer ${q.slot}`, onsubmit: async (e) => {
      e.preventDefault();
      status.textContent = 'Sending…';
      const answer = await post(`/v1/sessions/${enc(this.id)}/answers`, { [q.slot]: input.value });
      status.textContent = answer.ok ? 'Answered; the session resumes.' : `Not sent: ${answer.error}`;
      if (answer.ok) {
        this.questionsKey = '';
        if (this.ended || !this.source) {
          this.ended = false;
          this.connect();
        }
        this.scheduleRefresh();
      }
    } },
    h('label', { for: inputId }, q.text || q.slot),
    h('div.inline', input, h('button', { type: 'submit', disabled: !canOperate }, 'Answer')),
    canOperate ? null : h('p.explain', 'Answering needs the operator role or above.'),
    status);
  }

  async cancel() {
    if (!window.confirm('Cancel this session? Pending approvals are denied and completed steps are undone where the policy says so.')) return;
    this.notice.textContent = 'Cancelling…';
    const answer = await post(`/v1/sessions/${enc(this.id)}/cancel`, {});
    this.notice.textContent = answer.ok ? 'Cancel requested.' : `Not cancelled: ${answer.error}`;
    this.scheduleRefresh();
  }

  // The live timeline: the journal's events as they are recorded. Resumes
  // after the last event shown when the stream is reconnected.
  connect() {
    this.close();
    const last = this.lastSeq ?? 0;
    const url = `/v1/sessions/${enc(this.id)}/events${last ? `?after=${last}` : ''}`;
    const source = new EventSource(url, { withCredentials: true });
    this.source = source;
    const handle = (message) => {
      let e;
      try {
        e = JSON.parse(message.data);
      } catch {
        return;
      }
      if (!e || typeof e.seq !== 'number' || this.seen.has(e.seq)) return;
      this.seen.add(e.seq);
      this.lastSeq = Math.max(this.lastSeq ?? 0, e.seq);
      e.type = e.type || message.type;
      this.timeline.append(timelineItem(e));
      if (e.type === 'session_ended') {
        this.ended = true;
        this.close();
        this.streamState.textContent = `${describeEvent(e.type, e.data).text}. The timeline is complete.`;
      }
      if (['question', 'answer', 'approval', 'step_state', 'session_ended', 'guard_decision'].includes(e.type)) {
        this.scheduleRefresh();
      }
    };
    for (const type of EVENT_TYPES) source.addEventListener(type, handle);
    source.addEventListener('message', handle);
    source.onopen = () => {
      this.streamState.textContent = 'Live: new events appear as the session runs.';
    };
    source.onerror = () => {
      if (this.ended) return;
      // EventSource retries by itself; say so. A final session's stream ends
      // after its last event, which session_ended already handled.
      this.streamState.textContent = 'The live stream was interrupted; reconnecting…';
    };
  }

  scheduleRefresh() {
    if (this.refreshTimer) return;
    this.refreshTimer = setTimeout(() => {
      this.refreshTimer = null;
      this.refresh();
    }, 150);
  }

  close() {
    if (this.source) {
      this.source.close();
      this.source = null;
    }
  }

  leave() {
    this.close();
    if (this.refreshTimer) clearTimeout(this.refreshTimer);
    this.refreshTimer = null;
  }
}

// A step's items by state: "2 done, 1 failed".
function itemStates(items) {
  if (!items || typeof items !== 'object') return null;
  const counts = {};
  for (const item of Object.values(items)) {
    const state = item && item.state ? item.state : 'pending';
    counts[state] = (counts[state] ?? 0) + 1;
  }
  return h('span.items', Object.entries(counts).map(([state, n]) =>
      h('span', { class: `item-count status-${state.replace(/[^a-z_]/g, '')}` }, `${n} ${state}`)));
}

export class AuditView {
  constructor(ctx, id) {
    this.ctx = ctx;
    this.id = id;
    const headingId = uid('audit');
    this.chain = h('div.chain');
    this.body = h('div.table-wrap');
    this.root = h('section.view', { 'aria-labelledby': headingId },
        h('p.crumbs', h('a', { href: `#/sessions/${enc(id)}` }, '← Back to the session')),
        h('h2', { id: headingId }, 'Audit of session ', h('code', id)), this.chain, this.body);
  }

  async refresh() {
    const answer = await get(`/v1/sessions/${enc(this.id)}/audit`);
    if (!answer.ok) {
      if (answer.status !== 401) replace(this.chain, h('p.tone-bad', `Could not load the audit: ${answer.error}`));
      return;
    }
    const chain = answer.data?.chain ?? {};
    const events = Array.isArray(answer.data?.events) ? answer.data.events : [];
    replace(this.chain, chain.ok
      ? h('div.chain-status.chain-ok', { role: 'status' },
          h('strong', 'Hash chain verified'),
          ` — ${chain.events ?? events.length} events, head `, h('code', String(chain.head ?? '').slice(0, 16)))
      : h('div.chain-status.chain-broken', { role: 'alert' },
          h('strong', 'Hash chain BROKEN'), ` — ${chain.error || 'the journal does not verify'}`));
    replace(this.body, h('table.list.audit',
        h('caption', `Journal events (${events.length})`),
        h('thead', h('tr', ['Seq', 'Type', 'Time', 'Hash', 'What happened'].map((c) => h('th', { scope: 'col' }, c)))),
        h('tbody', events.map((e) => h('tr',
            h('td.num', String(e.seq)),
            h('td', h('code', e.type)),
            h('td', h('time', when(e.time_ms))),
            h('td', h('code', { title: e.hash ?? '' }, String(e.hash ?? '').slice(0, 12))),
            h('td', describeEvent(e.type, e.data).text,
                h('details.event-data', h('summary', 'data'), renderJson(e.data ?? {}, 1))))))));
  }

  leave() {}
}

export class MetricsView {
  constructor(ctx) {
    this.ctx = ctx;
    const headingId = uid('metrics');
    this.body = h('div');
    this.root = h('section.view', { 'aria-labelledby': headingId },
        h('h2', { id: headingId }, 'Operator metrics'), this.body);
  }

  async refresh() {
    const answer = await get('/v1/stats');
    if (!answer.ok) {
      if (answer.status !== 401) replace(this.body, h('p.tone-bad', `Could not load the metrics: ${answer.error}`));
      return;
    }
    const s = answer.data ?? {};
    const finished = Number(s.finished ?? 0);
    const zero = Number(s.zero_intervention ?? 0);
    const pct = finished > 0 ? `${Math.round((zero / finished) * 100)}% of finished` : 'no finished sessions yet';
    const perTask = typeof s.approvals_per_task === 'number' ? s.approvals_per_task.toFixed(2) : '0';
    const tile = (label, value, note) => h('div.tile', { role: 'group', 'aria-label': label },
        h('div.tile-value', String(value)), h('div.tile-label', label), note ? h('div.tile-note', note) : null);
    const byStatus = s.by_status && typeof s.by_status === 'object' ? s.by_status : {};
    const errors = Array.isArray(s.errors) ? s.errors : [];
    replace(this.body,
        h('div.tiles',
            tile('Sessions', s.sessions ?? 0),
            tile('Finished', finished),
            tile('Done with zero intervention', zero, pct),
            tile('Approvals per task', perTask, `${s.approvals ?? 0} decisions by people`)),
        h('section.panel', { 'aria-label': 'Sessions by status' }, h('h3', 'Sessions by status'),
            h('table.list', h('caption.visually-hidden', 'Sessions by status'),
                h('tbody', Object.entries(byStatus).map(([k, v]) =>
                    h('tr', h('th', { scope: 'row' }, statusBadge(k)), h('td.num', String(v))))))),
        h('section.panel', { 'aria-label': 'Errors' }, h('h3', 'Recent errors'),
            errors.length
              ? h('table.list', h('caption.visually-hidden', 'Recent errors'),
                  h('thead', h('tr', ['Session', 'Status', 'Error', 'When'].map((c) => h('th', { scope: 'col' }, c)))),
                  h('tbody', errors.map((e) => h('tr',
                      h('td', h('a', { href: `#/sessions/${enc(e.session ?? '')}` }, e.goal || e.session || '?')),
                      h('td', statusBadge(e.status ?? '?')),
                      h('td', String(e.error ?? '')),
                      h('td', when(e.updated_ms))))))
              : h('p.muted', 'No failed or aborted sessions.')));
  }

  leave() {}
}

export { keyValueTable };
