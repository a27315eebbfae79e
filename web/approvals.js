// The approvals queue: one card per pending approval, kept across polls so a
// reason being typed survives; a card's content is redrawn only when the
// approval itself changed.
import { get, post, atLeast, enc } from './api.js';
import { h, replace, uid, when } from './dom.js';
import { renderJson, keyValueTable, effectBadge } from './render.js';

export class ApprovalsView {
  // ctx: {me() -> {name, role} | null, notify(text, tone)}
  constructor(ctx) {
    this.ctx = ctx;
    this.cards = new Map();  // approval id -> Card
    this.headingId = uid('approvals');
    this.summary = h('p.summary', { role: 'status' }, 'Loading…');
    this.list = h('div.cards');
    this.root = h('section.view', { 'aria-labelledby': this.headingId },
        h('h2', { id: this.headingId }, 'Approvals waiting for a decision'),
        this.summary, this.list);
    this.inFlight = null;
    this.onCount = () => {};
  }

  get count() {
    return [...this.cards.values()].filter((c) => !c.decided).length;
  }

  // Fetches the queue and reconciles the cards. Concurrent calls share one fetch.
  refresh() {
    if (!this.inFlight) {
      this.inFlight = this.load().finally(() => {
        this.inFlight = null;
      });
    }
    return this.inFlight;
  }

  async load() {
    const answer = await get('/v1/approvals');
    if (!answer.ok) {
      if (answer.status !== 401) this.summary.textContent = `Could not load approvals: ${answer.error}`;
      return;
    }
    const approvals = Array.isArray(answer.data?.approvals) ? answer.data.approvals : [];
    const seen = new Set();
    for (const a of approvals) {
      if (!a || typeof a.id !== 'string') continue;
      seen.add(a.id);
      let card = this.cards.get(a.id);
      if (!card) {
        card = new Card(this, a);
        this.cards.set(a.id, card);
        this.list.append(card.root);
      } else {
        card.update(a);
      }
    }
    for (const [id, card] of this.cards) {
      if (!seen.has(id)) {
        card.root.remove();
        this.cards.delete(id);
      }
    }
    const n = this.count;
    this.summary.textContent = n === 0 ? 'Nothing is waiting for a decision.'
        : `${n} approval${n === 1 ? '' : 's'} waiting. Read the action, its arguments and its preview before you decide.`;
    this.onCount(n);
  }

  // Re-applies who may decide (after sign-in changes).
  refreshPermissions() {
    for (const card of this.cards.values()) card.applyPermissions();
  }

  clear() {
    for (const card of this.cards.values()) card.root.remove();
    this.cards.clear();
    this.summary.textContent = '';
  }
}

class Card {
  constructor(view, approval) {
    this.view = view;
    this.approval = approval;
    this.key = JSON.stringify(approval);
    this.decided = false;
    this.titleId = uid('approval-title');
    this.content = h('div.card-content');
    const reasonId = uid('reason');
    this.explainId = uid('explain');
    this.reason = h('textarea', { id: reasonId, rows: 2, name: 'reason',
      placeholder: 'Why you approve or deny (goes into the audit journal)' });
    this.explain = h('p.explain', { id: this.explainId, hidden: true });
    this.approveButton = h('button.approve', { type: 'button', onclick: () => this.decide('approve') }, 'Approve');
    this.denyButton = h('button.deny', { type: 'button', onclick: () => this.decide('deny') }, 'Deny');
    this.status = h('p.decision-status', { role: 'status', 'aria-live': 'polite' });
    this.form = h('div.decision',
        h('label', { for: reasonId }, 'Reason for your decision'), this.reason, this.explain,
        h('div.buttons', this.approveButton, this.denyButton), this.status);
    this.root = h('article.card', { 'aria-labelledby': this.titleId, 'data-approval': approval.id,
      'data-session': approval.session ?? '' }, this.content, this.form);
    this.draw();
    this.applyPermissions();
  }

  update(approval) {
    const key = JSON.stringify(approval);
    if (key === this.key) return false;
    this.approval = approval;
    this.key = key;
    this.draw();
    this.applyPermissions();
    return true;
  }

  draw() {
    const a = this.approval;
    const irreversible = a.effect === 'irreversible';
    this.root.classList.toggle('irreversible', irreversible);
    const session = typeof a.session === 'string' ? a.session : '';
    const meta = h('dl.meta',
        h('dt', 'Session'), h('dd', session ? h('a', { href: `#/sessions/${enc(session)}` }, session) : '—'),
        h('dt', 'Step'), h('dd', a.step || '—'),
        h('dt', 'Created by'), h('dd', a.creator || '—'),
        h('dt', 'Asked'), h('dd', when(a.created_ms)));
    const args = a.args && typeof a.args === 'object' && !Array.isArray(a.args) && Object.keys(a.args).length
      ? keyValueTable(a.args, 'Arguments')
      : h('p.muted', 'This action takes no arguments.');
    const previewId = uid('preview');
    const hasPreview = a.preview !== null && a.preview !== undefined;
    replace(this.content,
        h('header.card-header',
            h('h3', { id: this.titleId }, h('code', a.action || '(unnamed action)')),
            effectBadge(a.effect),
            a.needs_person ? h('span.badge.needs-person', 'Proposed outside the plan') : null),
        irreversible ? h('p.warning', 'This action cannot be undone once it runs.') : null,
        h('p.goal', h('span.label', 'Goal: '), a.goal || '—'),
        meta,
        a.reason ? h('p.why', h('span.label', 'Why it asks: '), a.reason) : null,
        args,
        h('section.preview', { 'aria-labelledby': previewId },
            h('h4', { id: previewId }, 'Preview (dry run)'),
            hasPreview ? renderJson(a.preview, 0) : h('p.muted', 'The connector offers no preview for this action.')),
        typeof a.screenshot_url === 'string' && a.screenshot_url.startsWith('/')
          ? h('figure.screenshot',
              h('img', { src: a.screenshot_url, alt: `Screenshot of the page before ${a.action}`, loading: 'lazy' }),
              h('figcaption', 'The page as it was when the action was previewed'))
          : null);
  }

  applyPermissions() {
    if (this.decided) return;
    const me = this.view.ctx.me();
    const a = this.approval;
    let reason = '';
    let canDeny = true;
    if (!me || !atLeast(me.role, 'approver')) {
      reason = `Your role is ${me ? me.role : 'unknown'}: approving or denying needs the approver role or above.`;
      canDeny = false;
    } else if (a.four_eyes && a.creator && a.creator === me.name) {
      reason = 'Four eyes: you created this session, so another approver must approve this action. You may still deny it.';
    }
    this.approveButton.disabled = Boolean(reason);
    this.denyButton.disabled = !canDeny;
    this.explain.textContent = reason;
    this.explain.hidden = !reason;
    if (reason) this.approveButton.setAttribute('aria-describedby', this.explainId);
    else this.approveButton.removeAttribute('aria-describedby');
  }

  setStatus(text, tone) {
    this.status.textContent = text;
    this.status.className = `decision-status tone-${tone}`;
  }

  async decide(decision) {
    const a = this.approval;
    this.approveButton.disabled = true;
    this.denyButton.disabled = true;
    this.setStatus(decision === 'approve' ? 'Approving…' : 'Denying…', 'info');
    const answer = await post(`/v1/approvals/${enc(a.id)}`,
        { decision, reason: this.reason.value, hash: a.hash });
    if (answer.ok) {
      this.decided = true;
      this.root.classList.add('decided');
      this.setStatus(decision === 'approve' ? `Approved by ${answer.data?.by ?? 'you'}. The session continues.`
                                            : `Denied by ${answer.data?.by ?? 'you'}.`, decision === 'approve' ? 'ok' : 'bad');
      this.view.onCount(this.view.count);
      return;
    }
    if (answer.status === 409) {
      this.setStatus(`Not decided: ${answer.error} The card has been refreshed — look at the action again before you decide.`, 'bad');
      this.key = '';  // redraw even if the list shows the same data
      await this.view.refresh();
    } else if (answer.status === 403) {
      this.setStatus(`Refused: ${answer.error}`, 'bad');
    } else if (answer.status === 404) {
      this.setStatus(`This approval is no longer pending (${answer.error}).`, 'bad');
      await this.view.refresh();
    } else {
      this.setStatus(`Not decided: ${answer.error}`, 'bad');
    }
    this.applyPermissions();
  }
}
