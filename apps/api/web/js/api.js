// The dashboard's HTTP client. Cookie-mode auth: the access and refresh tokens live in HttpOnly
// cookies the page never sees; state-changing requests repeat the CSRF cookie in X-CSRF-Token.
// Nothing sensitive is kept in localStorage.

const CSRF_COOKIE = '__Host-payymo-csrf';
const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** An API answer that is not a success, built from its problem+json body. */
export class ApiError extends Error {
  constructor(status, problem) {
    const p = problem && typeof problem === 'object' ? problem : {};
    const title = typeof p.title === 'string' ? p.title : `Request failed (${status})`;
    const detail = typeof p.detail === 'string' ? p.detail : '';
    super(detail ? humanise(detail) : title);
    this.name = 'ApiError';
    this.status = status;
    this.title = title;
    this.detail = detail;
    this.problem = p;
  }
}

function humanise(text) {
  const t = text.trim();
  if (!t) return t;
  const first = t.charAt(0).toUpperCase() + t.slice(1);
  return /[.!?]$/.test(first) ? first : `${first}.`;
}

function csrfToken() {
  for (const part of document.cookie.split(';')) {
    const [name, ...rest] = part.trim().split('=');
    if (name === CSRF_COOKIE) return decodeURIComponent(rest.join('='));
  }
  return '';
}

function withQuery(path, query) {
  if (!query) return path;
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined || value === null || value === '') continue;
    params.append(key, String(value));
  }
  const text = params.toString();
  if (!text) return path;
  return path + (path.includes('?') ? '&' : '?') + text;
}

async function parse(response) {
  if (response.status === 204) return null;
  const type = response.headers.get('content-type') || '';
  if (type.includes('json')) {
    try {
      return await response.json();
    } catch {
      return null;
    }
  }
  const text = await response.text();
  return text ? { detail: text } : null;
}

let refreshing = null;

async function refreshOnce() {
  if (!refreshing) {
    refreshing = (async () => {
      try {
        const response = await send('POST', '/api/auth/refresh', {});
        return response.ok;
      } catch {
        return false;
      } finally {
        setTimeout(() => { refreshing = null; }, 0);
      }
    })();
  }
  return refreshing;
}

function send(method, path, body) {
  const headers = { Accept: 'application/json, application/problem+json' };
  const init = { method, credentials: 'same-origin', headers, cache: 'no-store' };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  if (UNSAFE.has(method)) {
    const token = csrfToken();
    if (token) headers['X-CSRF-Token'] = token;
  }
  return fetch(path, init);
}

const NO_REFRESH = new Set(['/api/auth/login', '/api/auth/refresh', '/api/auth/mfa/verify', '/api/auth/logout']);

async function request(method, path, body) {
  let response = await send(method, path, body);
  if (response.status === 401 && !NO_REFRESH.has(path) && (await refreshOnce())) {
    response = await send(method, path, body);
  }
  const data = await parse(response);
  if (!response.ok) {
    const error = new ApiError(response.status, data);
    if (response.status === 401 && !NO_REFRESH.has(path)) {
      window.dispatchEvent(new CustomEvent('payymo:unauthorized'));
    }
    throw error;
  }
  return data;
}

/** GET `path` with `query` (undefined, null and empty values dropped); the parsed JSON. */
export async function get(path, query) {
  return request('GET', withQuery(path, query));
}

/** POST `body` as JSON; the parsed JSON, or null for 204. */
export async function post(path, body) {
  return request('POST', path, body === undefined ? {} : body);
}

/** PUT `body` as JSON. */
export async function put(path, body) {
  return request('PUT', path, body === undefined ? {} : body);
}

/** PATCH `body` as JSON. */
export async function patch(path, body) {
  return request('PATCH', path, body === undefined ? {} : body);
}

/** DELETE `path`. */
export async function del(path) {
  return request('DELETE', path);
}
