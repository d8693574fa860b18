// Helpers shared by the transactions, invoices, connections and settings pages: paging over the
// API's cursors, errors shown next to the form that failed, hash links, details lists, copying.

/** The API's `{limit, next_cursor}` in the shape `ui.pager` expects. */
export function pageInfo(page) {
  const next = page && page.next_cursor ? page.next_cursor : null;
  return { has_more: Boolean(next), next_cursor: next };
}

/** A hidden error line to place next to a form; fill it with `showError`. */
export function errorBox(ui, test) {
  return ui.h('p', { class: 'form-error', role: 'alert', hidden: true, dataset: test ? { test } : null });
}

/**
 * Human text for an error. Like `ui.errorMessage`, but a 503 keeps the server's own words
 * ("GoCardless is not configured on this deployment", "WHMCS cannot be reached: …"): they say
 * what is unavailable, and nothing internal is in them.
 */
export function describe(ui, err) {
  if (err && err.name === 'ApiError' && err.status === 503 && err.detail) return err.message;
  return ui.errorMessage(err);
}

/** Shows `err` (an error or a message) in `box`; an empty message hides it. */
export function showError(ui, box, err) {
  const message = typeof err === 'string' ? err : describe(ui, err);
  box.textContent = message || '';
  box.hidden = !message;
}

/** `#/<page>?k=v…` from `params`, leaving out empty values. */
export function hashFor(pageId, params) {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(params || {})) {
    if (value === undefined || value === null || value === '') continue;
    query.append(key, String(value));
  }
  const text = query.toString();
  return text ? `#/${pageId}?${text}` : `#/${pageId}`;
}

/** A `<dl class="details">` from `[label, value]` pairs; pairs with no value are left out. */
export function details(ui, pairs) {
  const { h } = ui;
  const dl = h('dl', { class: 'details' });
  for (const [label, value] of pairs) {
    if (value === null || value === undefined || value === '') continue;
    dl.append(h('dt', null, label), h('dd', null, value));
  }
  return dl;
}

/** A button that copies `text` to the clipboard and says so. */
export function copyButton(ui, text, { label = 'Copy', test = 'copy' } = {}) {
  const { h } = ui;
  const button = h('button', {
    type: 'button', class: 'btn btn-small', dataset: { test },
    on: {
      click: async () => {
        try {
          await navigator.clipboard.writeText(text);
          ui.toast('Copied to the clipboard.', 'success');
        } catch {
          ui.toast('The browser did not allow copying; select the text and copy it by hand.', 'error');
        }
      },
    },
  }, label);
  return button;
}

/**
 * A list that pages with the API's cursors into `region`: `load(cursor)` returns `{items, page}`,
 * `render(items)` builds the content. Returns `show(cursor)`; await `show()` for the first page.
 */
export function pagedList(ui, region, load, render) {
  const { h, clear } = ui;
  let seq = 0;
  async function show(cursor) {
    const mine = ++seq;
    region.setAttribute('aria-busy', 'true');
    try {
      const res = await load(cursor);
      if (mine !== seq) return;
      clear(region);
      region.append(
        render(res.items || []),
        ui.pager(pageInfo(res.page), (next) => show(next), cursor ? () => show(undefined) : null));
    } catch (err) {
      if (mine !== seq) return;
      clear(region);
      region.append(h('p', { class: 'notice notice-bad', role: 'alert', dataset: { test: 'list-error' } }, describe(ui, err)));
    } finally {
      if (mine === seq) region.removeAttribute('aria-busy');
    }
  }
  return show;
}

/** A `<select>` from `[value, label]` options with `selected` chosen. */
export function select(ui, options, selected, attrs) {
  const { h } = ui;
  return h('select', attrs || null,
    options.map(([value, label]) => h('option', { value, selected: value === (selected || '') ? true : null }, label)));
}

/** The badge kind of a transaction or match status. */
export function statusKind(status) {
  switch (status) {
    case 'applied':
    case 'active':
    case 'linked':
      return 'ok';
    case 'unmatched':
    case 'pending':
    case 'expiring':
      return 'warn';
    case 'failed':
    case 'failing':
    case 'expired':
    case 'revoked':
      return 'bad';
    case 'suggested':
    case 'approved':
    case 'applying':
      return 'info';
    default:
      return 'muted';
  }
}

/** The last characters of an id, enough to tell rows apart. */
export function shortId(id) {
  const text = String(id || '');
  return text.length > 8 ? `…${text.slice(-8)}` : text;
}

/** Pretty JSON for a `<pre>`. */
export function prettyJson(value) {
  try {
    return JSON.stringify(value, null, 2);
  } catch {
    return String(value);
  }
}
