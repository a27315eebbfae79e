// Building DOM from untrusted data: every string goes through textContent,
// never innerHTML, so page text, arguments and server errors cannot inject
// markup. The strict CSP (no inline script or style) is the second line.

// h('tag.class1.class2', {attr: value, onclick: fn}, child, ...): an element.
// Children may be strings (text nodes), nodes, arrays, null/undefined/false
// (skipped). Attributes starting with "on" are listeners; `hidden`,
// `disabled`, `checked` and friends are set as properties.
export function h(spec, attrs, ...children) {
  const [tag, ...classes] = spec.split('.');
  const el = document.createElement(tag || 'div');
  for (const c of classes) if (c) el.classList.add(c);
  if (attrs && (typeof attrs !== 'object' || attrs instanceof Node || Array.isArray(attrs))) {
    children.unshift(attrs);
    attrs = null;
  }
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on') && typeof value === 'function') {
      el.addEventListener(name.slice(2), value);
    } else if (name === 'class') {
      for (const c of String(value).split(/\s+/)) if (c) el.classList.add(c);
    } else if (['hidden', 'disabled', 'checked', 'value', 'required'].includes(name)) {
      el[name] = value;
    } else {
      el.setAttribute(name, value === true ? '' : String(value));
    }
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

// Replaces all children of `el`.
export function replace(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

let nextId = 0;
// A document-unique id for aria-labelledby / aria-describedby / label for.
export function uid(prefix = 'id') {
  nextId += 1;
  return `${prefix}-${nextId}`;
}

// A point in time (epoch ms) as the person's locale shows it.
export function when(ms) {
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms <= 0) return '—';
  return new Date(ms).toLocaleString();
}

// "3 min ago" for recent times, the date otherwise.
export function ago(ms, now = Date.now()) {
  if (typeof ms !== 'number' || ms <= 0) return '—';
  const s = Math.round((now - ms) / 1000);
  if (s < 0) return when(ms);
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return when(ms);
}

// A JSON value as short one-line text (for table cells and timeline lines).
export function brief(value, limit = 80) {
  let text;
  if (typeof value === 'string') text = value;
  else if (value === undefined) text = '';
  else text = JSON.stringify(value);
  return text.length > limit ? `${text.slice(0, limit - 1)}…` : text;
}
