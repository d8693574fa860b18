// Transactions: every bank, Stripe and statement transaction, filtered by status and source and
// searched, paged; one opens with its remittance, counterparty, matches and history.

import { copyButton, details, errorBox, hashFor, pagedList, prettyJson, select, shortId, showError, statusKind } from './common.js';

const STATUSES = [['', 'Any status'], ['unmatched', 'Unmatched'], ['suggested', 'Suggested'], ['applied', 'Applied'], ['ignored', 'Ignored']];
const SOURCES = [['', 'Any source'], ['bank', 'Bank'], ['stripe', 'Stripe'], ['statement', 'Statement'], ['import', 'Import']];
const SOURCE_LABELS = Object.fromEntries(SOURCES.filter(([v]) => v));
const STATUS_LABELS = Object.fromEntries(STATUSES.filter(([v]) => v));

const ACTIONS = {
  'match.suggested': 'Match suggested',
  'match.auto_approved': 'Approved automatically',
  'match.approved': 'Approved',
  'match.manual': 'Matched by hand',
  'match.rejected': 'Rejected',
  'match.queued': 'Queued for WHMCS',
  'match.applied': 'Recorded in WHMCS',
  'match.failed': 'Applying failed',
  'match.undone': 'Undone',
  'payment.applied': 'Payment recorded in WHMCS',
  'payment.deferred': 'WHMCS unreachable, retry planned',
  'payment.refused': 'WHMCS refused the payment',
  'transaction.ignored': 'Ignored',
};

function filtersOf(params) {
  return {
    status: params.get('status') || '',
    source: params.get('source') || '',
    q: params.get('q') || '',
  };
}

function actorLabel(actor) {
  if (!actor) return '—';
  if (actor === 'system') return 'Payymo';
  if (actor.startsWith('user:')) return `User ${shortId(actor.slice(5))}`;
  if (actor.startsWith('api_key:')) return `API key ${shortId(actor.slice(8))}`;
  return actor;
}

function filterForm(ctx, filters) {
  const { ui } = ctx;
  const { h } = ui;
  const status = select(ui, STATUSES, filters.status, { name: 'status', dataset: { test: 'tx-status' } });
  const source = select(ui, SOURCES, filters.source, { name: 'source', dataset: { test: 'tx-source' } });
  const q = h('input', {
    type: 'search', name: 'q', value: filters.q, maxlength: '200', placeholder: 'Name, IBAN, remittance, amount',
    dataset: { test: 'tx-search' },
  });
  const form = h('form', { class: 'filters', role: 'search', 'aria-label': 'Filter transactions' },
    ui.field('Status', status),
    ui.field('Source', source),
    h('div', { class: 'field grow' }, h('label', { for: 'tx-q' }, 'Search'), q),
    h('button', { type: 'submit', class: 'btn btn-primary', dataset: { test: 'tx-filter' } }, 'Filter'));
  q.id = 'tx-q';
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    ctx.navigate(hashFor('transactions', { status: status.value, source: source.value, q: q.value.trim() }));
  });
  return form;
}

function transactionsTable(ctx, items, filters, selected) {
  const { ui } = ctx;
  const { h } = ui;
  const columns = [
    { label: 'Date', render: (t) => ui.date(t.booking_date) },
    {
      label: 'Counterparty',
      render: (t) => h('div', null, t.counterparty_name || h('span', { class: 'muted' }, 'Unknown'),
        t.counterparty_iban ? h('div', { class: 'small muted' }, t.counterparty_iban) : null),
    },
    { label: 'Remittance', class: 'cell-clip', render: (t) => t.remittance || t.reference || '—' },
    { label: 'Amount', class: 'num', render: (t) => h('span', { class: Number(t.amount && t.amount.amount) < 0 ? 'amount-out' : 'amount-in' }, ui.money(t.amount)) },
    { label: 'Source', render: (t) => SOURCE_LABELS[t.source] || t.source },
    { label: 'Status', render: (t) => ui.badge(STATUS_LABELS[t.status] || t.status, statusKind(t.status)) },
  ];
  const wrap = ui.table(columns, items, {
    empty: 'No transactions match these filters.',
    caption: 'Transactions',
    onRowClick: (t) => ctx.navigate(hashFor('transactions', { ...filters, id: t.id })),
  });
  const rows = wrap.querySelectorAll('tbody tr.clickable');
  items.forEach((t, i) => {
    if (!rows[i]) return;
    rows[i].dataset.test = 'tx-row';
    rows[i].dataset.id = t.id;
    if (t.id === selected) rows[i].setAttribute('aria-selected', 'true');
  });
  return wrap;
}

function matchCard(ui, m, invoices) {
  const { h } = ui;
  const allocations = (m.allocations || []).map((a) => {
    const invoice = invoices.get(a.invoice_id);
    const label = invoice ? `${invoice.number} (${invoice.client && invoice.client.name ? invoice.client.name : 'unknown client'})` : shortId(a.invoice_id);
    return h('li', null, ui.money(a.amount), ' to invoice ',
      invoice ? h('a', { href: hashFor('invoices', { status: 'all', q: invoice.number }), dataset: { test: 'tx-match-invoice' } }, label) : label);
  });
  const applications = (m.applications || []).map((a) => h('li', null,
    ui.badge(a.status, statusKind(a.status)), ' ', ui.money(a.amount),
    a.whmcs_transid ? h('span', { class: 'small muted' }, ` · WHMCS ${a.whmcs_transid}`) : null,
    a.last_error ? h('span', { class: 'small' }, ` · ${a.last_error}`) : null));
  return h('li', { class: 'match-item', dataset: { test: 'tx-match', id: m.id } },
    h('div', { class: 'row' },
      ui.badge(m.status, statusKind(m.status)),
      h('span', { class: 'small muted' }, `Confidence ${Math.round(Number(m.confidence) * 100)}%`),
      m.decided_by ? h('span', { class: 'small muted' }, `Decided by ${actorLabel(m.decided_by)}`) : null),
    allocations.length ? h('ul', { class: 'plain-list' }, allocations) : null,
    applications.length ? h('div', null, h('span', { class: 'small muted' }, 'In WHMCS'), h('ul', { class: 'plain-list' }, applications)) : null,
    m.failure_reason ? h('p', { class: 'notice notice-bad' }, m.failure_reason) : null,
    m.undo_instructions ? h('p', { class: 'notice notice-warn' }, m.undo_instructions) : null);
}

function historyList(ui, events) {
  const { h } = ui;
  if (!events.length) return h('p', { class: 'muted', dataset: { test: 'tx-history' } }, 'Nothing has happened to it yet.');
  return h('ol', { class: 'timeline', dataset: { test: 'tx-history' } }, events.map((e) => {
    const hasDetail = e.detail && typeof e.detail === 'object' && Object.keys(e.detail).length > 0;
    return h('li', { class: 'timeline-item', dataset: { test: 'tx-event', action: e.action } },
      h('div', { class: 'timeline-head' },
        h('strong', null, ACTIONS[e.action] || e.action),
        h('span', { class: 'small muted' }, ` · ${actorLabel(e.actor)} · `),
        h('time', { class: 'small muted', datetime: e.occurred_at }, ui.dateTime(e.occurred_at))),
      hasDetail ? h('details', { class: 'timeline-detail' }, h('summary', null, 'Details'), h('pre', { class: 'pre' }, prettyJson(e.detail))) : null);
  }));
}

async function renderDetail(ctx, panel, id, filters, reloadList) {
  const { ui, api } = ctx;
  const { h, clear } = ui;
  clear(panel);
  panel.append(h('p', { class: 'loading', role: 'status' }, 'Loading…'));
  let t;
  try {
    t = await api.get(`/api/transactions/${encodeURIComponent(id)}`);
  } catch (err) {
    clear(panel);
    panel.append(h('p', { class: 'notice notice-bad', role: 'alert', dataset: { test: 'tx-detail-error' } }, ui.errorMessage(err)));
    return;
  }
  const invoices = new Map((t.invoices || []).map((i) => [i.id, i]));
  const error = errorBox(ui, 'tx-detail-error');
  const actions = h('div', { class: 'page-actions' });
  if (ctx.can('matches:decide') && (t.status === 'unmatched' || t.status === 'suggested')) {
    const ignore = h('button', { type: 'button', class: 'btn', dataset: { test: 'tx-ignore', busyLabel: 'Ignoring…' } }, 'Ignore');
    ignore.addEventListener('click', async () => {
      const sure = await ui.confirmDialog(
        t.status === 'suggested'
          ? 'Ignore this transaction? Its suggested match is rejected and it leaves the review queue.'
          : 'Ignore this transaction? It leaves the review queue; no invoice is paid with it.',
        { confirmLabel: 'Ignore' });
      if (!sure) return;
      await ui.busy(ignore, async () => {
        try {
          await api.post(`/api/transactions/${encodeURIComponent(t.id)}/ignore`);
          ui.toast('The transaction is ignored.', 'success');
          ctx.refreshBadges();
          await Promise.all([renderDetail(ctx, panel, id, filters, reloadList), reloadList()]);
        } catch (err) {
          showError(ui, error, err);
        }
      });
    });
    actions.append(ignore);
  }
  actions.append(h('a', { class: 'btn', href: hashFor('transactions', filters), dataset: { test: 'tx-detail-close' } }, 'Close'));

  clear(panel);
  panel.append(
    h('div', { class: 'page-head' }, h('h2', { class: 'card-title' }, 'Transaction'), actions),
    error,
    details(ui, [
      ['Status', ui.badge(STATUS_LABELS[t.status] || t.status, statusKind(t.status))],
      ['Amount', ui.money(t.amount)],
      ['Source', SOURCE_LABELS[t.source] || t.source],
      ['Booked', ui.date(t.booking_date)],
      ['Value date', t.value_date ? ui.date(t.value_date) : null],
      ['Counterparty', t.counterparty_name || 'Unknown'],
      ['IBAN', t.counterparty_iban],
      ['Reference', t.reference],
      ['Id', h('span', { class: 'row' }, h('code', { class: 'small' }, t.id), copyButton(ui, t.id, { label: 'Copy id', test: 'tx-copy-id' }))],
    ]),
    h('h3', { class: 'subhead' }, 'Remittance as received'),
    h('pre', { class: 'pre remittance', dataset: { test: 'tx-remittance' } }, t.remittance || '(empty)'),
    h('h3', { class: 'subhead' }, 'Matches'),
    (t.matches || []).length
      ? h('ul', { class: 'plain-list match-list' }, t.matches.map((m) => matchCard(ui, m, invoices)))
      : h('p', { class: 'muted' }, 'Payymo has not matched it to an invoice.'),
    h('h3', { class: 'subhead' }, 'History'),
    historyList(ui, t.history || []));
}

export const page = {
  id: 'transactions',
  title: 'Transactions',
  permission: 'tenant:read',
  render: async (root, ctx) => {
    const { ui, api } = ctx;
    const { h } = ui;
    const filters = filtersOf(ctx.params);
    const selected = ctx.params.get('id') || '';
    const listRegion = h('div', { class: 'list-region', dataset: { test: 'tx-list' } });
    const panel = h('section', { class: 'card detail-panel', dataset: { test: 'tx-detail' }, 'aria-label': 'Transaction details' });

    let current;
    const show = pagedList(ui, listRegion,
      (cursor) => {
        current = cursor;
        return api.get('/api/transactions', { ...filters, limit: 50, cursor });
      },
      (items) => transactionsTable(ctx, items, filters, selected));

    root.append(
      h('div', { class: 'page-head' }, h('h1', null, 'Transactions')),
      filterForm(ctx, filters),
      h('div', { class: selected ? 'split' : null }, listRegion, selected ? panel : null));

    const loads = [show()];
    if (selected) loads.push(renderDetail(ctx, panel, selected, filters, () => show(current)));
    await Promise.all(loads);
  },
};
