// The overview: money received, matching, what waits for a person, connections that need
// attention, last syncs and a 14-day chart of received versus matched (SVG drawn here).

function amountsList(ui, list, testId) {
  const { h } = ui;
  if (!list || list.length === 0) {
    return h('p', { class: 'stat-value muted', dataset: { test: testId } }, 'Nothing yet');
  }
  return h('div', { dataset: { test: testId } }, list.map((m) => h('p', { class: 'stat-value' }, ui.money(m))));
}

function statCard(ui, label, value, note, extra = {}) {
  const { h } = ui;
  return h('section', { class: 'card', 'aria-label': label, dataset: extra.dataset },
    h('h2', { class: 'stat-label' }, label),
    value,
    note ? h('p', { class: 'stat-note' }, note) : null);
}

function niceMax(n) {
  if (n <= 4) return 4;
  const magnitude = 10 ** Math.floor(Math.log10(n));
  for (const step of [1, 2, 2.5, 5, 10]) {
    if (step * magnitude >= n) return step * magnitude;
  }
  return 10 * magnitude;
}

function sumText(ui, list) {
  if (!list || list.length === 0) return ui.money('0', null);
  return list.map((m) => ui.money(m)).join(' + ');
}

/** The received-versus-matched bar chart, with a text alternative. */
function chart(ui, days) {
  const { h } = ui;
  const width = 720;
  const height = 240;
  const pad = { top: 16, right: 12, bottom: 32, left: 36 };
  const innerW = width - pad.left - pad.right;
  const innerH = height - pad.top - pad.bottom;
  const max = niceMax(Math.max(1, ...days.map((d) => d.received_count)));
  const slot = innerW / Math.max(1, days.length);
  const barW = Math.max(3, Math.min(18, (slot - 6) / 2));
  const y = (v) => pad.top + innerH - (v / max) * innerH;

  const grid = [];
  for (let i = 0; i <= 4; i += 1) {
    const value = (max / 4) * i;
    const gy = y(value);
    grid.push(h('line', { class: i === 0 ? 'axis' : 'grid', x1: pad.left, x2: width - pad.right, y1: gy, y2: gy }));
    grid.push(h('text', { x: pad.left - 6, y: gy + 4, 'text-anchor': 'end' }, String(Math.round(value * 10) / 10)));
  }

  const bars = days.map((d, i) => {
    const x0 = pad.left + i * slot + (slot - 2 * barW - 2) / 2;
    const label = `${ui.date(d.date)}: ${d.received_count} received (${sumText(ui, d.received)}), ${d.matched_count} matched (${sumText(ui, d.matched)})`;
    const showLabel = days.length <= 7 || i % 2 === (days.length - 1) % 2;
    const day = new Date(`${d.date}T00:00:00Z`);
    return h('g', { class: 'chart-day' },
      h('title', null, label),
      h('rect', { class: 'bar-received', x: x0, y: y(d.received_count), width: barW, height: Math.max(0, pad.top + innerH - y(d.received_count)), rx: 2 }),
      h('rect', { class: 'bar-matched', x: x0 + barW + 2, y: y(d.matched_count), width: barW, height: Math.max(0, pad.top + innerH - y(d.matched_count)), rx: 2 }),
      showLabel ? h('text', { x: x0 + barW + 1, y: height - pad.bottom + 16, 'text-anchor': 'middle' }, String(day.getUTCDate())) : null);
  });

  const totalReceived = days.reduce((s, d) => s + d.received_count, 0);
  const totalMatched = days.reduce((s, d) => s + d.matched_count, 0);
  const summary = `Payments received and matched per day over the last ${days.length} days: ${totalReceived} received, ${totalMatched} matched.`;
  const svg = h('svg', {
    class: 'chart', viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-labelledby': 'chart-title chart-desc',
    preserveAspectRatio: 'xMidYMid meet', dataset: { test: 'overview-chart' },
  },
  h('title', { id: 'chart-title' }, 'Received versus matched'),
  h('desc', { id: 'chart-desc' }, summary),
  grid, bars);

  const table = h('details', { class: 'small' },
    h('summary', null, 'Show the numbers'),
    ui.table([
      { label: 'Day', render: (d) => ui.date(d.date) },
      { label: 'Received', class: 'num', render: (d) => `${d.received_count} · ${sumText(ui, d.received)}` },
      { label: 'Matched', class: 'num', render: (d) => `${d.matched_count} · ${sumText(ui, d.matched)}` },
    ], days.slice().reverse(), { caption: 'Received versus matched per day' }));

  return h('section', { class: 'card section', 'aria-labelledby': 'chart-heading' },
    h('h2', { class: 'card-title', id: 'chart-heading' }, 'Payments received and matched per day, last 14 days'),
    svg,
    h('div', { class: 'legend', 'aria-hidden': 'true' },
      h('span', null, h('span', { class: 'legend-swatch legend-received' }), 'Received'),
      h('span', null, h('span', { class: 'legend-swatch legend-matched' }), 'Matched')),
    table);
}

const KIND_LABELS = { bank: 'Bank', stripe: 'Stripe', whmcs: 'WHMCS' };

function attentionSection(ui, data, ctx) {
  const { h } = ui;
  const needing = data.connections.filter((c) => c.attention);
  const body = needing.length === 0
    ? h('p', { class: 'muted', dataset: { test: 'attention-none' } },
      data.connections.length === 0 ? 'No connections yet.' : 'All connections are working.')
    : h('ul', { class: 'review-list', dataset: { test: 'attention-list' } }, needing.map((c) => h('li', { class: 'notice notice-warn' },
      h('strong', null, `${KIND_LABELS[c.kind] || c.kind} · ${c.name}: `),
      `${c.attention.message}.`)));
  const syncs = h('dl', { class: 'details' },
    ['bank', 'stripe', 'whmcs'].map((k) => [
      h('dt', null, `${KIND_LABELS[k]} last synced`),
      h('dd', { dataset: { test: `last-sync-${k}` } }, data.last_sync[k] ? ui.dateTime(data.last_sync[k]) : 'Never'),
    ]));
  return h('section', { class: 'card section', 'aria-labelledby': 'attention-heading' },
    h('div', { class: 'page-head' },
      h('h2', { class: 'card-title', id: 'attention-heading' }, 'Connections'),
      ctx.can('tenant:read') ? h('a', { href: '#/connections', class: 'btn btn-small' }, 'Manage connections') : null),
    body,
    h('h3', { class: 'section' }, 'Last syncs'),
    syncs);
}

function render(root, ctx, data) {
  const { ui } = ctx;
  const { h, clear } = ui;
  const share = data.auto_matched_bp === null || data.auto_matched_bp === undefined
    ? '—' : `${Math.round(data.auto_matched_bp / 100)} %`;
  const refresh = h('button', { type: 'button', class: 'btn', dataset: { test: 'overview-refresh', busyLabel: 'Refreshing…' } }, 'Refresh');
  refresh.addEventListener('click', () => ui.busy(refresh, async () => {
    try {
      const next = await ctx.api.get('/api/overview');
      render(root, ctx, next);
      ctx.refreshBadges();
      root.querySelector('[data-test="overview-refresh"]')?.focus();
    } catch (err) {
      ui.toast(ui.errorMessage(err), 'error');
    }
  }));

  const reviewCard = statCard(ui, 'Waiting for review',
    h('p', { class: 'stat-value', dataset: { test: 'overview-review-waiting' } }, String(data.review_waiting)),
    null);
  if (data.review_waiting > 0) {
    reviewCard.appendChild(h('p', { class: 'stat-note' }, h('a', { href: '#/review' }, 'Open the review queue')));
  }
  const failedCard = statCard(ui, 'Failed applications',
    h('p', { class: 'stat-value', dataset: { test: 'overview-failed' } }, String(data.failed_applications)),
    data.failed_applications > 0 ? 'Payments WHMCS did not accept; see the transactions.' : 'None.');

  clear(root);
  root.append(
    h('div', { class: 'page-head' },
      h('h1', null, 'Overview'),
      h('div', { class: 'page-actions' },
        h('span', { class: 'muted small' }, `As of ${ui.dateTime(data.as_of)}`),
        refresh)),
    h('div', { class: 'cards' },
      statCard(ui, 'Received today', amountsList(ui, data.received.today, 'overview-received-today')),
      statCard(ui, 'Received this week', amountsList(ui, data.received.week, 'overview-received-week')),
      statCard(ui, 'Received this month', amountsList(ui, data.received.month, 'overview-received-month')),
      statCard(ui, 'Matched automatically',
        h('p', { class: 'stat-value', dataset: { test: 'overview-auto-share' } }, share),
        `${data.matches_automatic} of ${data.matches_accepted} accepted matches this month`),
      reviewCard,
      failedCard,
      statCard(ui, 'Connections needing attention',
        h('p', { class: 'stat-value', dataset: { test: 'overview-attention' } }, String(data.attention_count)),
        data.attention_count > 0 ? 'See below.' : 'All good.')),
    chart(ui, data.daily),
    attentionSection(ui, data, ctx));
}

export const page = {
  id: 'overview',
  title: 'Overview',
  permission: 'tenant:read',
  render: async (root, ctx) => {
    const data = await ctx.api.get('/api/overview');
    render(root, ctx, data);
  },
};
