// Rendering JSON values and journal events for people: objects as key/value
// tables, lists of like objects as tables, diffs prominently, and one
// readable line per journal event.
import { h, brief, when } from './dom.js';

const MAX_DEPTH = 6;

function isPlainObject(v) {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function scalar(value) {
  if (value === null || value === undefined) return h('span.json-null', 'none');
  if (typeof value === 'boolean') return h('span.json-bool', value ? 'yes' : 'no');
  if (typeof value === 'number') return h('span.json-number', String(value));
  const text = String(value);
  if (text.includes('\n')) return h('pre.json-text', text);
  return h('span.json-string', text);
}

// A unified diff (text) with added and removed lines marked.
export function renderDiffText(text) {
  const pre = h('pre.diff');
  for (const line of String(text).split('\n')) {
    let cls = 'diff-line';
    if (line.startsWith('+') && !line.startsWith('+++')) cls += ' diff-add';
    else if (line.startsWith('-') && !line.startsWith('---')) cls += ' diff-del';
    else if (line.startsWith('@@')) cls += ' diff-hunk';
    pre.append(h('span', { class: cls }, line), '\n');
  }
  return pre;
}

// A diff or list of changes in whatever shape the connector offers: text as a
// unified diff, {before, after} / {from, to} pairs side by side, else generic.
function renderChanges(value, depth) {
  if (typeof value === 'string') return renderDiffText(value);
  if (isPlainObject(value)) {
    const pairs = Object.entries(value).filter(
        ([, v]) => isPlainObject(v) && (('before' in v && 'after' in v) || ('from' in v && 'to' in v)));
    if (pairs.length && pairs.length === Object.keys(value).length) {
      return h('table.changes', h('caption.visually-hidden', 'Changes'),
          h('thead', h('tr', h('th', { scope: 'col' }, 'Field'), h('th', { scope: 'col' }, 'Before'),
              h('th', { scope: 'col' }, 'After'))),
          h('tbody', pairs.map(([k, v]) => h('tr', h('th', { scope: 'row' }, k),
              h('td.diff-del', renderJson('before' in v ? v.before : v.from, depth + 1)),
              h('td.diff-add', renderJson('after' in v ? v.after : v.to, depth + 1))))));
    }
  }
  return renderJson(value, depth);
}

// A table for an array whose items are all objects (columns: union of keys).
function tableOfObjects(items, depth, caption) {
  const columns = [];
  for (const item of items) for (const k of Object.keys(item)) if (!columns.includes(k)) columns.push(k);
  return h('table.json-table',
      caption ? h('caption', caption) : null,
      h('thead', h('tr', columns.map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', items.map((item) => h('tr', columns.map((c) => h('td',
          c in item ? renderJson(item[c], depth + 1) : ''))))));
}

// Any JSON value as readable DOM. `caption` names a top-level table.
export function renderJson(value, depth = 0, caption = null) {
  if (depth > MAX_DEPTH) return h('code', brief(value, 200));
  if (Array.isArray(value)) {
    if (value.length === 0) return h('span.json-null', 'empty list');
    if (value.every(isPlainObject) && value.length > 0) return tableOfObjects(value, depth, caption);
    if (value.every((v) => !isPlainObject(v) && !Array.isArray(v))) {
      return h('ul.json-list', value.map((v) => h('li', scalar(v))));
    }
    return h('ol.json-list', value.map((v) => h('li', renderJson(v, depth + 1))));
  }
  if (isPlainObject(value)) {
    const keys = Object.keys(value);
    if (keys.length === 0) return h('span.json-null', 'empty');
    // A diff or changes key is what a person must read first.
    const prominent = keys.filter((k) => k === 'diff' || k === 'changes');
    const rest = keys.filter((k) => !prominent.includes(k));
    return h('div.json-object',
        prominent.map((k) => h('section.prominent', { 'aria-label': k === 'diff' ? 'Diff' : 'Changes' },
            h('h4', k === 'diff' ? 'Diff' : 'Changes'), renderChanges(value[k], depth + 1))),
        rest.length ? keyValueTable(Object.fromEntries(rest.map((k) => [k, value[k]])), caption, depth)
                    : null);
  }
  return scalar(value);
}

// An object as a two-column table (key, value), with a caption (its
// accessible name).
export function keyValueTable(object, caption, depth = 0) {
  return h('table.kv',
      caption ? h('caption', caption) : null,
      h('tbody', Object.entries(object).map(([k, v]) =>
          h('tr', h('th', { scope: 'row' }, k), h('td', renderJson(v, depth + 1))))));
}

// An object with its simple fields in a table and each nested part folded
// away under its name: for large values such as a session's report.
export function renderSummary(object, caption) {
  const simple = {};
  const nested = [];
  for (const [k, v] of Object.entries(object)) {
    if (v !== null && typeof v === 'object' && Object.keys(v).length > 0) nested.push([k, v]);
    else simple[k] = v;
  }
  return h('div.summary-json',
      Object.keys(simple).length ? keyValueTable(simple, caption) : null,
      nested.map(([k, v]) => h('details.fold', h('summary', k), renderJson(v, 1))));
}

// ---- journal events --------------------------------------------------------

function args(a) {
  if (!isPlainObject(a) || Object.keys(a).length === 0) return '';
  return Object.entries(a).map(([k, v]) => `${k}=${brief(v, 40)}`).join(', ');
}

function where(d) {
  if (!d.step) return '';
  return typeof d.item === 'number' && d.item >= 0 ? `step ${d.step} #${d.item + 1}` : `step ${d.step}`;
}

// The guards that did not simply allow, as "guard: verdict (reason)".
function notableDecisions(decisions) {
  if (!Array.isArray(decisions)) return [];
  return decisions.filter((x) => x && x.verdict && x.verdict !== 'allow')
      .map((x) => `${x.guard}: ${x.verdict}${x.reason ? ` — ${x.reason}` : ''}`);
}

// One event as {tone, text}: tone is ok | info | warn | bad | muted.
export function describeEvent(type, d = {}) {
  d = isPlainObject(d) ? d : {};
  switch (type) {
    case 'session_started':
      return { tone: 'info', text: `Session started: “${d.goal ?? ''}”${d.principal ? ` (by ${d.principal})` : ''}` };
    case 'plan_made': {
      const plan = d.plan || {};
      const steps = Array.isArray(plan.steps) ? plan.steps.length : 0;
      const by = plan.skill ? `skill ${plan.skill}` : plan.planner ? `${plan.planner} planner` : 'planner';
      const calls = Array.isArray(d.model_calls) && d.model_calls.length ? `, ${d.model_calls.length} model call(s)` : '';
      return { tone: 'info', text: `Plan made by ${by}: ${steps} step${steps === 1 ? '' : 's'}${calls}` };
    }
    case 'question':
      return { tone: 'warn', text: `Question for a person: ${d.text ?? ''}${d.slot ? ` (${d.slot})` : ''}` };
    case 'answer':
      return { tone: 'info', text: `Answered ${d.slot ?? ''}: ${brief(d.value, 60)}` };
    case 'step_state': {
      const state = d.state ?? '?';
      const tone = state === 'done' ? 'ok' : state === 'failed' ? 'bad' : state === 'skipped' ? 'muted' : 'info';
      const extra = d.error ? ` — ${d.error}` : d.detail ? ` — ${brief(d.detail, 80)}` : '';
      return { tone, text: `${where(d) || 'step'}: ${state}${extra}` };
    }
    case 'guard_decision': {
      const notes = notableDecisions(d.decisions);
      const denied = Array.isArray(d.decisions) && d.decisions.some((x) => x && x.verdict === 'deny');
      return {
        tone: denied ? 'bad' : 'warn',
        text: `Guards on ${d.action ?? 'an action'}${d.compensation ? ' (compensation)' : ''}: ${notes.length ? notes.join('; ') : 'allowed'}`,
      };
    }
    case 'approval':
      return {
        tone: d.approved ? 'ok' : 'bad',
        text: `${d.approved ? 'Approved' : 'Denied'} by ${d.by ?? '?'}: ${d.action ?? ''}${args(d.args) ? ` (${args(d.args)})` : ''}${d.reason ? ` — “${d.reason}”` : ''}`,
      };
    case 'intent':
      return { tone: 'info', text: `About to run ${d.action ?? ''}${args(d.args) ? ` (${args(d.args)})` : ''}${where(d) ? ` in ${where(d)}` : ''}` };
    case 'action_started': {
      const attempt = d.attempt > 1 ? `, attempt ${d.attempt}` : '';
      return { tone: 'info', text: `Running ${d.action ?? ''}${args(d.args) ? ` (${args(d.args)})` : ''}${attempt}` };
    }
    case 'outcome':
      return d.ok ? { tone: 'ok', text: `${d.action ?? 'Action'} succeeded` }
                  : { tone: 'bad', text: `${d.action ?? 'Action'} failed: ${brief(d.error, 160)}` };
    case 'done':
      return { tone: 'ok', text: `${d.action ?? 'Irreversible action'} completed for good${where(d) ? ` (${where(d)})` : ''}` };
    case 'compensation':
      return {
        tone: d.ok ? 'warn' : 'bad',
        text: `Undo ${d.undoes ?? ''} with ${d.action ?? ''}: ${d.ok ? 'done' : `failed${d.detail ? ` — ${brief(d.detail, 120)}` : ''}`}`,
      };
    case 'session_ended': {
      const status = d.status ?? (d.report && d.report.status) ?? '?';
      const counts = typeof d.actions === 'number' ? ` (${d.actions} actions, ${d.compensations ?? 0} undone)` : '';
      return {
        tone: status === 'done' ? 'ok' : 'bad',
        text: `Session ended: ${status}${counts}${d.error ? ` — ${d.error}` : ''}`,
      };
    }
    case 'model_call': {
      const u = d.usage || {};
      const tokens = u.prompt_tokens !== undefined ? `, ${u.prompt_tokens}+${u.completion_tokens ?? 0} tokens` : '';
      return {
        tone: d.ok === false ? 'bad' : 'muted',
        text: `Model call${d.purpose ? ` (${d.purpose})` : ''}${d.model ? ` to ${d.model}` : ''}: ${d.ok === false ? `failed — ${d.error ?? ''}` : 'ok'}${tokens}`,
      };
    }
    case 'agent_turn': {
      if (d.done || d.fail) {
        return { tone: d.fail ? 'bad' : 'ok', text: `Agent turn ${d.turn ?? ''}: ${d.fail ? 'gave up' : 'finished'}${d.summary ? ` — ${d.summary}` : ''}` };
      }
      return { tone: 'info', text: `Agent turn ${d.turn ?? ''}: ${d.thought ? `${brief(d.thought, 100)} → ` : ''}${d.action ?? ''}${args(d.args) ? ` (${args(d.args)})` : ''}` };
    }
    default:
      return { tone: 'muted', text: `${type}: ${brief(d, 120)}` };
  }
}

// The event types the journal writes (include/ergon/journal.h).
export const EVENT_TYPES = [
  'session_started', 'plan_made', 'question', 'answer', 'step_state', 'guard_decision',
  'approval', 'intent', 'action_started', 'outcome', 'done', 'compensation', 'session_ended',
  'model_call', 'agent_turn',
];

// A timeline entry: time, line, and the event's data on demand.
export function timelineItem(e) {
  const { tone, text } = describeEvent(e.type, e.data);
  return h('li', { class: `event tone-${tone}`, 'data-seq': e.seq, 'data-type': e.type },
      h('span.event-seq', `#${e.seq}`),
      h('time.event-time', { datetime: e.time_ms ? new Date(e.time_ms).toISOString() : '' },
          e.time_ms ? new Date(e.time_ms).toLocaleTimeString() : ''),
      h('span.event-text', text),
      h('details.event-data', h('summary', 'details'), renderJson(e.data ?? {}, 1)));
}

export function statusBadge(status) {
  return h('span', { class: `badge status-${String(status).replace(/[^a-z_]/g, '')}` }, String(status));
}

export function effectBadge(effect) {
  const label = effect === 'irreversible' ? 'Irreversible' : effect === 'write' ? 'Write (can be undone)'
      : effect === 'read' ? 'Read only' : String(effect);
  return h('span', { class: `badge effect effect-${String(effect).replace(/[^a-z]/g, '')}` }, label);
}

export { when };
