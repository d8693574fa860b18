// DOM and formatting helpers shared by every page. Text always goes in as text nodes, never as
// HTML, so nothing from the API can inject markup.

import { ApiError } from './api.js';

const LOCALE = navigator.language || 'en-GB';
const SVG_NS = 'http://www.w3.org/2000/svg';
const SVG_TAGS = new Set(['svg', 'g', 'path', 'rect', 'line', 'polyline', 'circle', 'text', 'title', 'desc', 'tspan']);

function append(parent, child) {
  if (child === null || child === undefined || child === false) return;
  if (Array.isArray(child)) {
    for (const c of child) append(parent, c);
  } else if (child instanceof Node) {
    parent.appendChild(child);
  } else {
    parent.appendChild(document.createTextNode(String(child)));
  }
}

/**
 * Builds an element. `attrs`: `class`, `id`, `for`, any attribute; `on: {event: fn}`;
 * `dataset: {...}`; boolean `true` sets an empty attribute, `false`/null/undefined skip it.
 * Children are strings (as text), nodes, arrays or null.
 */
export function h(tag, attrs, ...children) {
  const svg = SVG_TAGS.has(tag);
  const el = svg ? document.createElementNS(SVG_NS, tag) : document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === 'on') {
      for (const [event, fn] of Object.entries(value)) el.addEventListener(event, fn);
    } else if (key === 'dataset') {
      for (const [k, v] of Object.entries(value)) {
        if (v !== null && v !== undefined) el.dataset[k] = String(v);
      }
    } else if (key === 'style') {
      throw new Error('inline styles are not allowed under the CSP; use a class');
    } else if (key === 'value' && !svg && 'value' in el) {
      el.value = String(value);
    } else if (key === 'checked' && !svg) {
      el.checked = Boolean(value);
    } else if (key === 'class' && svg) {
      el.setAttribute('class', String(value));
    } else if (key === 'class') {
      el.className = String(value);
    } else {
      el.setAttribute(key, value === true ? '' : String(value));
    }
  }
  append(el, children);
  return el;
}

/** Removes every child of `el`; returns `el`. */
export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

/** "€12.50": `amount` is a decimal string, a number-like, or `{amount, currency}`. */
export function money(amount, currency) {
  let value = amount;
  let cur = currency;
  if (amount && typeof amount === 'object') {
    value = amount.amount;
    cur = cur || amount.currency;
  }
  if (value === null || value === undefined || value === '') return '—';
  const n = Number(value);
  if (!Number.isFinite(n)) return String(value);
  try {
    if (cur) {
      return new Intl.NumberFormat(LOCALE, { style: 'currency', currency: cur }).format(n);
    }
  } catch {
    // an unknown currency code: fall through to a plain number with the code
  }
  const plain = new Intl.NumberFormat(LOCALE, { minimumFractionDigits: 2, maximumFractionDigits: 2 }).format(n);
  return cur ? `${plain} ${cur}` : plain;
}

function parseDate(iso) {
  if (!iso) return null;
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? null : d;
}

/** "22 Nov 2026". */
export function date(isoString) {
  const d = parseDate(isoString);
  if (!d) return isoString ? String(isoString) : '—';
  const dateOnly = /^\d{4}-\d{2}-\d{2}$/.test(String(isoString));
  return new Intl.DateTimeFormat(LOCALE, {
    day: 'numeric', month: 'short', year: 'numeric', timeZone: dateOnly ? 'UTC' : undefined,
  }).format(d);
}

/** "22 Nov 2026, 14:03". */
export function dateTime(isoString) {
  const d = parseDate(isoString);
  if (!d) return isoString ? String(isoString) : '—';
  return new Intl.DateTimeFormat(LOCALE, {
    day: 'numeric', month: 'short', year: 'numeric', hour: '2-digit', minute: '2-digit',
  }).format(d);
}

/** A human sentence for any error: API problems, network failures, anything else. */
export function errorMessage(err) {
  if (err instanceof ApiError) {
    if (err.status === 401) return 'Your session has ended. Please sign in again.';
    if (err.status === 403 && !err.detail) return 'You do not have permission to do that.';
    if (err.status === 429) return 'Too many attempts. Please wait a moment and try again.';
    if (err.status >= 500) return 'Something went wrong on the server. Please try again; if it keeps happening, contact support.';
    return err.message;
  }
  if (err instanceof TypeError) return 'Cannot reach the server. Check your connection and try again.';
  if (err && typeof err.message === 'string' && err.message) return err.message;
  return 'Something went wrong.';
}

function toastRegion() {
  let region = document.getElementById('toasts');
  if (!region) {
    region = h('div', { id: 'toasts', class: 'toasts', role: 'status', 'aria-live': 'polite', 'aria-atomic': 'false' });
    document.body.appendChild(region);
  }
  return region;
}

/** Shows a short message; errors stay longer and are announced assertively. */
export function toast(message, kind = 'info') {
  const region = toastRegion();
  const item = h('div', { class: `toast toast-${kind}`, role: kind === 'error' ? 'alert' : null },
    h('span', { class: 'toast-text' }, message),
    h('button', { type: 'button', class: 'toast-close', 'aria-label': 'Dismiss', on: { click: () => item.remove() } }, '×'));
  region.appendChild(item);
  // A calm screen: at most three at a time, the oldest goes first.
  while (region.children.length > 3) region.firstElementChild.remove();
  setTimeout(() => item.remove(), kind === 'error' ? 9000 : 4500);
  return item;
}

/**
 * Runs `fn` with `button` disabled and marked busy; clicks while busy are ignored, so a form is
 * never submitted twice. Returns what `fn` returns (and rethrows what it throws).
 */
export async function busy(button, fn) {
  if (!button) return fn();
  if (button.dataset.busy === '1') return undefined;
  button.dataset.busy = '1';
  const label = button.textContent;
  const busyLabel = button.dataset.busyLabel || 'Working…';
  button.disabled = true;
  button.setAttribute('aria-busy', 'true');
  button.classList.add('is-busy');
  button.textContent = busyLabel;
  try {
    return await fn();
  } finally {
    button.textContent = label;
    button.disabled = false;
    button.removeAttribute('aria-busy');
    button.classList.remove('is-busy');
    delete button.dataset.busy;
  }
}

/** An accessible modal question; resolves to true when confirmed. */
export function confirmDialog(message, { confirmLabel = 'Confirm', cancelLabel = 'Cancel', danger = false } = {}) {
  return new Promise((resolve) => {
    const previous = document.activeElement;
    const id = `dlg-${Math.random().toString(36).slice(2)}`;
    const dialog = h('dialog', { class: 'dialog', 'aria-labelledby': id });
    const finish = (value) => {
      dialog.close();
      dialog.remove();
      if (previous && typeof previous.focus === 'function') previous.focus();
      resolve(value);
    };
    const ok = h('button', { type: 'button', class: danger ? 'btn btn-danger' : 'btn btn-primary', dataset: { test: 'confirm-yes' }, on: { click: () => finish(true) } }, confirmLabel);
    dialog.append(
      h('p', { id, class: 'dialog-message' }, message),
      h('div', { class: 'dialog-actions' },
        h('button', { type: 'button', class: 'btn', dataset: { test: 'confirm-no' }, on: { click: () => finish(false) } }, cancelLabel),
        ok));
    dialog.addEventListener('cancel', (e) => { e.preventDefault(); finish(false); });
    document.body.appendChild(dialog);
    dialog.showModal();
    ok.focus();
  });
}

/**
 * A table in a horizontal scroll wrapper. `columns`: `[{label, render: row => node|string,
 * class}]`; `onRowClick(row)` makes rows clickable (and keyboard-activatable).
 */
export function table(columns, rows, { empty = 'Nothing here yet.', onRowClick, caption } = {}) {
  const head = h('thead', null, h('tr', null, columns.map((c) => h('th', { scope: 'col', class: c.class }, c.label))));
  const body = h('tbody');
  if (!rows || rows.length === 0) {
    body.appendChild(h('tr', null, h('td', { class: 'empty', colspan: String(columns.length) }, empty)));
  } else {
    for (const row of rows) {
      const tr = h('tr', null, columns.map((c) => h('td', { class: c.class, 'data-label': c.label }, c.render(row))));
      if (onRowClick) {
        tr.classList.add('clickable');
        tr.tabIndex = 0;
        tr.addEventListener('click', (e) => {
          if (e.target.closest('button, a, input, select, textarea')) return;
          onRowClick(row);
        });
        tr.addEventListener('keydown', (e) => {
          if (e.key === 'Enter' && e.target === tr) onRowClick(row);
        });
      }
      body.appendChild(tr);
    }
  }
  return h('div', { class: 'table-wrap' },
    h('table', { class: 'table' }, caption ? h('caption', { class: 'sr-only' }, caption) : null, head, body));
}

/** "First" / "Next" paging for the API's `page` objects (`{next_cursor}`; more when set). */
export function pager(page, onNext, onFirst) {
  const more = Boolean(page && page.next_cursor && page.has_more !== false);
  return h('nav', { class: 'pager', 'aria-label': 'Pages' },
    h('button', { type: 'button', class: 'btn', dataset: { test: 'page-first' }, disabled: !onFirst, on: { click: () => onFirst && onFirst() } }, 'First'),
    h('button', { type: 'button', class: 'btn', dataset: { test: 'page-next' }, disabled: !more, on: { click: () => more && onNext(page.next_cursor) } }, 'Next'));
}

let fieldCounter = 0;

/** A labelled form row; gives `input` an id when it has none. */
export function field(label, input, hint) {
  if (!input.id) {
    fieldCounter += 1;
    input.id = `f-${fieldCounter}`;
  }
  let hintEl = null;
  if (hint) {
    hintEl = h('p', { class: 'hint', id: `${input.id}-hint` }, hint);
    input.setAttribute('aria-describedby', hintEl.id);
  }
  return h('div', { class: 'field' }, h('label', { for: input.id }, label), input, hintEl);
}

/** A small status label; `kind`: ok, warn, bad, info, muted. */
export function badge(text, kind = 'muted') {
  return h('span', { class: `badge badge-${kind}` }, text);
}
