// Invoices: the WHMCS invoices Payymo knows, searched by number, client or amount, by status,
// paged, each with what Payymo matched to it.

import { hashFor, pagedList, select, statusKind } from './common.js';

const STATUSES = [['', 'Open and recently paid'], ['open', 'Open'], ['paid', 'Paid'], ['all', 'All']];

function invoiceKind(status) {
  switch (status) {
    case 'Paid':
      return 'ok';
    case 'Overdue':
    case 'Collections':
      return 'bad';
    case 'Unpaid':
    case 'Payment Pending':
      return 'warn';
    default:
      return 'muted';
  }
}

function matchedCell(ui, invoice) {
  const { h } = ui;
  const matches = invoice.matches || [];
  if (!matches.length) return h('span', { class: 'muted' }, 'Nothing yet');
  return h('ul', { class: 'plain-list', dataset: { test: 'invoice-matches' } }, matches.map((m) => h('li', null,
    ui.badge(m.status, statusKind(m.status)), ' ', ui.money(m.amount), ' from ',
    h('a', { href: hashFor('transactions', { id: m.transaction_id }), dataset: { test: 'invoice-transaction' } }, 'transaction'))));
}

export const page = {
  id: 'invoices',
  title: 'Invoices',
  permission: 'tenant:read',
  render: async (root, ctx) => {
    const { ui, api } = ctx;
    const { h } = ui;
    const filters = { q: ctx.params.get('q') || '', status: ctx.params.get('status') || '' };

    const q = h('input', {
      type: 'search', id: 'invoice-q', name: 'q', value: filters.q, maxlength: '200',
      placeholder: 'Number, client, or amount such as 120.50', dataset: { test: 'invoice-search' },
    });
    const status = select(ui, STATUSES, filters.status, { name: 'status', dataset: { test: 'invoice-status' } });
    const form = h('form', { class: 'filters', role: 'search', 'aria-label': 'Search invoices' },
      h('div', { class: 'field grow' }, h('label', { for: 'invoice-q' }, 'Search'), q),
      ui.field('Status', status),
      h('button', { type: 'submit', class: 'btn btn-primary', dataset: { test: 'invoice-filter' } }, 'Search'));
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      ctx.navigate(hashFor('invoices', { q: q.value.trim(), status: status.value }));
    });

    const columns = [
      { label: 'Invoice', render: (i) => h('strong', null, i.number) },
      {
        label: 'Client',
        render: (i) => h('div', null, (i.client && i.client.name) || '—',
          i.client && i.client.company ? h('div', { class: 'small muted' }, i.client.company) : null),
      },
      { label: 'Due', render: (i) => ui.date(i.due_date) },
      { label: 'Total', class: 'num', render: (i) => ui.money(i.total) },
      { label: 'Balance', class: 'num', render: (i) => ui.money(i.balance) },
      { label: 'Status', render: (i) => ui.badge(i.status, invoiceKind(i.status)) },
      { label: 'Matched by Payymo', render: (i) => matchedCell(ui, i) },
    ];
    const region = h('div', { class: 'list-region', dataset: { test: 'invoice-list' } });
    const show = pagedList(ui, region,
      (cursor) => api.get('/api/invoices', { ...filters, limit: 50, cursor }),
      (items) => {
        const wrap = ui.table(columns, items, {
          empty: filters.q ? 'No invoice matches this search.' : 'No invoices yet. Connect WHMCS and sync it on the Connections page.',
          caption: 'Invoices',
        });
        wrap.querySelectorAll('tbody tr').forEach((tr, i) => {
          if (items[i]) {
            tr.dataset.test = 'invoice-row';
            tr.dataset.id = items[i].id;
          }
        });
        return wrap;
      });

    root.append(h('div', { class: 'page-head' }, h('h1', null, 'Invoices')), form, region);
    await show();
  },
};
