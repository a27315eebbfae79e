// The console's calls to the ergon HTTP API. Authentication is the HttpOnly
// cookie POST /v1/login sets; the CSRF value it returns lives only in this
// module's memory (never in localStorage) and goes with every POST.

let csrf = null;
let onSignedOut = () => {};

export function setCsrf(value) {
  csrf = value || null;
}

// Called when a request answers 401: the cookie session has ended.
export function onUnauthorized(handler) {
  onSignedOut = handler;
}

// An API answer: ok, the HTTP status, the parsed JSON body (or null) and, for
// failures, the server's error text.
export class Answer {
  constructor(status, data, error) {
    this.status = status;
    this.ok = status >= 200 && status < 300;
    this.data = data;
    this.error = error;
  }
}

export async function call(method, path, body, { quietUnauthorized = false } = {}) {
  const headers = { Accept: 'application/json' };
  const init = { method, headers, credentials: 'same-origin', cache: 'no-store' };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  if (method !== 'GET' && csrf) headers['X-CSRF-Token'] = csrf;
  let response;
  try {
    response = await fetch(path, init);
  } catch (e) {
    return new Answer(0, null, `the server cannot be reached (${e.message})`);
  }
  let data = null;
  const text = await response.text();
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  let error = null;
  if (!response.ok) {
    error = (data && typeof data.error === 'string' && data.error) || text ||
        `${response.status} ${response.statusText}`;
    if (response.status === 401 && !quietUnauthorized) onSignedOut(error);
  }
  return new Answer(response.status, data, error);
}

export const get = (path, options) => call('GET', path, undefined, options);
export const post = (path, body, options) => call('POST', path, body ?? {}, options);

// Roles in order; a person may do what their role or any below it may.
export const ROLES = ['viewer', 'operator', 'approver', 'admin'];
export function atLeast(role, needed) {
  return ROLES.indexOf(role) >= ROLES.indexOf(needed) && ROLES.indexOf(needed) >= 0;
}

export const enc = encodeURIComponent;
