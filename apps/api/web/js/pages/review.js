// The review queue: suggested matches one by one, with the transaction, the invoice(s), the
// amounts, the confidence and the engine's reasons; approve, reject or match by hand (searching
// invoices and splitting the amount). Keyboard: j/k move, a approve, r reject, m manual, ? help.

const PAGE_SIZE = 50;

const SOURCE_LABELS = { bank: 'Bank', stripe: 'Stripe', statement: 'Statement' };

/** Decimal text to integer minor units (no floating point): "12.5" -> 1250 with 2 decimals. */
export function toMinor(text, decimals) {
  const t = String(text).trim().replace(/\s/g, '');
  const match = /^(-)?(\d*)(?:[.,](\d*))?$/.exec(t);
  if (!match || (match[2] === '' && (match[3] === undefined || match[3] === ''))) return null;
  const frac = (match[3] || '');
  if (frac.length > decimals) return null;
  const whole = BigInt(match[2] || '0');
  const part = BigInt((frac + '0'.repeat(decimals)).slice(0, decimals) || '0');
  const value = whole * 10n ** BigInt(decimals) + part;
  return match[1] ? -value : value;
}

/** Integer minor units back to decimal text. */
export function fromMinor(minor, decimals) {
  const negative = minor < 0n;
  const abs = negative ? -minor : minor;
  if (decimals === 0) return `${negative ? '-' : ''}${abs}`;
  const base = 10n ** BigInt(decimals);
  const frac = String(abs % base).padStart(decimals, '0');
  return `${negative ? '-' : ''}${abs / base}.${frac}`;
}

function decimalsOf(currency) {
  try {
    return new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions().maximumFractionDigits;
  } catch {
    return 2;
  }
}

function capitalise(text) {
  const t = String(text || '').trim();
  if (!t) return t;
  const s = t.charAt(0).toUpperCase() + t.slice(1);
  return /[.!?]$/.test(s) ? s : `${s}.`;
}

/** The engine's reasons: `reasons` is a list of `{ code, message }` (OpenAPI `ReasonBody`). */
function reasonsOf(m) {
  return (m.reasons || []).map((r) => r.message).filter(Boolean);
}

function confidencePercent(m) {
  const c = Number(m.confidence);
  return Number.isFinite(c) ? Math.round(c * 100) : null;
}

function meterClass(percent) {
  const step = Math.max(0, Math.min(100, Math.round((percent || 0) / 5) * 5));
  return `meter-fill w-${step}`;
}

function confidenceLabel(percent) {
  if (percent === null) return 'Unknown';
  if (percent >= 90) return 'High';
  if (percent >= 60) return 'Medium';
  return 'Low';
}

function clientName(client) {
  if (!client) return '—';
  if (typeof client === 'string') return client;
  const name = client.name || '';
  if (client.company && client.company !== name) return name ? `${client.company} (${name})` : client.company;
  return name || '—';
}

function isTyping(target) {
  if (!target || !(target instanceof Element)) return false;
  return Boolean(target.closest('input, textarea, select, [contenteditable="true"], dialog'));
}

export const page = {
  id: 'review',
  title: 'Review queue',
  permission: 'tenant:read',
  render: async (root, ctx) => {
    const { ui, api } = ctx;
    const { h, clear } = ui;
    const canDecide = ctx.can('matches:decide');

    const state = {
      items: [],
      selected: 0,
      next: null,
      transactions: new Map(), // transaction id -> transaction (fetched when a match lacks it)
      working: false,
      mounted: false,
    };

    const live = h('p', { class: 'sr-only', 'aria-live': 'polite', dataset: { test: 'review-live' } });
    const list = h('ul', { class: 'review-list', 'aria-label': 'Suggested matches', dataset: { test: 'review-list' } });
    const detail = h('div', { class: 'review-detail', dataset: { test: 'review-detail' } });
    const countEl = h('span', { class: 'badge badge-info', dataset: { test: 'review-count' } }, '0');
    const moreWrap = h('div', { class: 'pager' });

    async function transactionOf(m) {
      if (m.transaction) return m.transaction;
      if (state.transactions.has(m.transaction_id)) return state.transactions.get(m.transaction_id);
      try {
        const t = await api.get(`/api/transactions/${encodeURIComponent(m.transaction_id)}`);
        state.transactions.set(m.transaction_id, t);
        return t;
      } catch {
        return null;
      }
    }

    function invoiceOf(m, allocation) {
      const list = Array.isArray(m.invoices) ? m.invoices : [];
      return list.find((i) => i.id === allocation.invoice_id) || null;
    }

    function current() {
      return state.items[state.selected] || null;
    }

    function renderList() {
      clear(list);
      countEl.textContent = String(state.items.length) + (state.next ? '+' : '');
      state.items.forEach((m, i) => {
        const t = m.transaction;
        const amount = t ? ui.money(t.amount) : ui.money(m.allocations && m.allocations[0] ? m.allocations[0].amount : null);
        const who = t ? (t.counterparty_name || 'Unknown payer') : 'Suggested match';
        const invoices = Array.isArray(m.invoices) && m.invoices.length
          ? m.invoices.map((inv) => inv.number).join(', ')
          : `${(m.allocations || []).length} invoice(s)`;
        const pct = confidencePercent(m);
        const button = h('button', {
          type: 'button', class: 'review-item', 'aria-current': i === state.selected ? 'true' : 'false',
          dataset: { test: 'review-item', id: m.id },
          on: { click: () => select(i, true) },
        },
        h('span', { class: 'review-item-top' }, h('span', null, amount), h('span', { class: 'muted small' }, pct === null ? '' : `${pct} %`)),
        h('span', { class: 'review-item-sub' }, `${who} → ${invoices}`));
        list.appendChild(h('li', null, button));
      });
      clear(moreWrap);
      if (state.next) {
        const more = h('button', { type: 'button', class: 'btn', dataset: { test: 'review-more', busyLabel: 'Loading…' } }, 'Load more');
        more.addEventListener('click', () => ui.busy(more, () => load(state.next)));
        moreWrap.appendChild(more);
      }
    }

    async function renderDetail() {
      const m = current();
      clear(detail);
      if (!m) {
        detail.appendChild(h('div', { class: 'card empty-state', dataset: { test: 'review-empty' } },
          h('h2', null, 'Nothing to review'),
          h('p', null, 'Every suggested match has been decided. New suggestions appear here after the next sync.')));
        return;
      }
      const token = m.id;
      const t = await transactionOf(m);
      if (current() !== m || current().id !== token) return; // moved on meanwhile
      const currency = t && t.amount ? t.amount.currency : (m.allocations[0] && m.allocations[0].amount.currency);
      const pct = confidencePercent(m);
      const reasons = reasonsOf(m);

      const txCard = h('section', { class: 'card', 'aria-labelledby': 'rv-tx' },
        h('h2', { class: 'card-title', id: 'rv-tx' }, 'Payment'),
        t ? h('dl', { class: 'details' },
          h('dt', null, 'Amount'), h('dd', { class: 'stat-value', dataset: { test: 'review-amount' } }, ui.money(t.amount)),
          h('dt', null, 'Date'), h('dd', null, ui.date(t.booking_date)),
          h('dt', null, 'From'), h('dd', null, t.counterparty_name || '—', t.counterparty_iban ? h('span', { class: 'muted small mono' }, ` · ${t.counterparty_iban}`) : null),
          h('dt', null, 'Remittance'), h('dd', { class: 'mono' }, t.remittance || '—'),
          t.reference ? [h('dt', null, 'Reference'), h('dd', { class: 'mono' }, t.reference)] : null,
          h('dt', null, 'Source'), h('dd', null, ui.badge(SOURCE_LABELS[t.source] || t.source || 'Unknown', 'muted')))
          : h('p', { class: 'muted' }, 'The payment could not be loaded.'));

      const invoiceRows = (m.allocations || []).map((a) => ({ a, inv: invoiceOf(m, a) }));
      const invCard = h('section', { class: 'card', 'aria-labelledby': 'rv-inv' },
        h('h2', { class: 'card-title', id: 'rv-inv' }, invoiceRows.length > 1 ? 'Suggested invoices' : 'Suggested invoice'),
        ui.table([
          { label: 'Invoice', render: (r) => (r.inv ? r.inv.number : `…${String(r.a.invoice_id).slice(-8)}`) },
          { label: 'Client', render: (r) => (r.inv ? clientName(r.inv.client) : '—') },
          { label: 'Due', render: (r) => (r.inv && r.inv.due_date ? ui.date(r.inv.due_date) : '—') },
          { label: 'Balance', class: 'num', render: (r) => (r.inv ? ui.money(r.inv.balance) : '—') },
          { label: 'Paid from this payment', class: 'num', render: (r) => ui.money(r.a.amount) },
        ], invoiceRows, { empty: 'No invoice in this suggestion.', caption: 'Invoices of this suggestion' }));

      const whyCard = h('section', { class: 'card', 'aria-labelledby': 'rv-why' },
        h('h2', { class: 'card-title', id: 'rv-why' }, 'Why Payymo suggests it'),
        h('div', { class: 'confidence' },
          h('span', { class: 'meter', role: 'img', 'aria-label': `Confidence ${pct === null ? 'unknown' : `${pct} percent`}` },
            h('span', { class: meterClass(pct) })),
          h('span', { dataset: { test: 'review-confidence' } }, pct === null ? 'Confidence unknown' : `${confidenceLabel(pct)} confidence (${pct} %)`)),
        reasons.length
          ? h('ul', { class: 'reasons section', dataset: { test: 'review-reasons' } }, reasons.map((r) => h('li', null, capitalise(r))))
          : h('p', { class: 'muted section' }, 'No reasons were recorded.'));

      let actions;
      if (canDecide) {
        const approve = h('button', { type: 'button', class: 'btn btn-ok', dataset: { test: 'approve', busyLabel: 'Approving…' }, 'aria-keyshortcuts': 'a' }, 'Approve');
        const reject = h('button', { type: 'button', class: 'btn btn-danger', dataset: { test: 'reject', busyLabel: 'Rejecting…' }, 'aria-keyshortcuts': 'r' }, 'Reject');
        const manual = h('button', { type: 'button', class: 'btn', dataset: { test: 'manual' }, 'aria-keyshortcuts': 'm' }, 'Match manually…');
        approve.addEventListener('click', () => decide(m, 'approve', approve));
        reject.addEventListener('click', () => decide(m, 'reject', reject));
        manual.addEventListener('click', () => openManual(m, t, currency));
        actions = h('div', { class: 'actions-bar' }, approve, reject, manual,
          h('span', { class: 'muted small' }, 'Shortcuts: ', h('kbd', null, 'a'), ' ', h('kbd', null, 'r'), ' ', h('kbd', null, 'm'), ' · ', h('kbd', null, '?'), ' for help'));
      } else {
        actions = h('p', { class: 'notice', dataset: { test: 'review-read-only' } }, 'Your role can see suggestions but not decide them.');
      }

      detail.append(txCard, invCard, whyCard, actions);
    }

    function select(i, focus) {
      if (state.items.length === 0) {
        state.selected = 0;
      } else {
        state.selected = Math.max(0, Math.min(state.items.length - 1, i));
      }
      renderList();
      renderDetail();
      if (focus) {
        const btn = list.querySelectorAll('.review-item')[state.selected];
        if (btn) btn.focus();
      }
    }

    function removeCurrent(m) {
      const i = state.items.findIndex((x) => x.id === m.id);
      if (i >= 0) state.items.splice(i, 1);
      select(Math.min(i, state.items.length - 1), false);
      ctx.refreshBadges();
      if (state.items.length === 0 && state.next) load(state.next);
    }

    async function decide(m, action, button) {
      if (state.working) return;
      state.working = true;
      try {
        await ui.busy(button, async () => {
          try {
            await api.post(`/api/matches/${encodeURIComponent(m.id)}/${action}`);
            const text = action === 'approve'
              ? 'Approved. The payment is being recorded in WHMCS.'
              : 'Rejected. The payment stays unmatched.';
            ui.toast(text, 'success');
            live.textContent = text;
            removeCurrent(m);
          } catch (err) {
            if (err instanceof api.ApiError && (err.status === 409 || err.status === 404)) {
              ui.toast('This suggestion was already decided elsewhere; the list is refreshed.', 'info');
              await load();
            } else {
              ui.toast(ui.errorMessage(err), 'error');
            }
          }
        });
      } finally {
        state.working = false;
      }
    }

    // ------------------------------------------------------------------ manual matching

    function openManual(m, t, currency) {
      if (!t || !t.amount) {
        ui.toast('The payment could not be loaded; try again.', 'error');
        return;
      }
      const previous = document.activeElement;
      const decimals = decimalsOf(currency);
      const total = toMinor(t.amount.amount, decimals);
      const chosen = []; // {invoice, input}

      const dialog = h('dialog', { class: 'dialog dialog-wide', 'aria-labelledby': 'mm-title', dataset: { test: 'manual-dialog' } });
      const search = h('input', { type: 'search', placeholder: 'Invoice number, client or amount', autocomplete: 'off', dataset: { test: 'manual-search' } });
      const results = h('div', { class: 'search-results', 'aria-live': 'polite' });
      const chosenBody = h('div');
      const remainder = h('p', { class: 'remainder', dataset: { test: 'manual-remainder' } });
      const error = h('p', { class: 'form-error', role: 'alert', hidden: true });
      const save = h('button', { type: 'button', class: 'btn btn-primary', dataset: { test: 'manual-save', busyLabel: 'Saving…' } }, 'Save match');
      const cancel = h('button', { type: 'button', class: 'btn', dataset: { test: 'manual-cancel' } }, 'Cancel');

      function close() {
        dialog.close();
        dialog.remove();
        if (previous && typeof previous.focus === 'function' && previous.isConnected) previous.focus();
      }

      function allocatedMinor() {
        let sum = 0n;
        for (const c of chosen) {
          const v = toMinor(c.input.value, decimals);
          if (v === null || v <= 0n) return null;
          sum += v;
        }
        return sum;
      }

      function update() {
        const sum = allocatedMinor();
        remainder.classList.remove('remainder-zero', 'remainder-over');
        if (sum === null) {
          remainder.textContent = 'Enter a positive amount for each invoice.';
          save.disabled = true;
          return;
        }
        const left = total - sum;
        if (left === 0n) {
          remainder.classList.add('remainder-zero');
          remainder.textContent = chosen.length ? `Fully allocated: ${ui.money(fromMinor(total, decimals), currency)}.` : '';
        } else if (left > 0n) {
          remainder.textContent = `Left to allocate: ${ui.money(fromMinor(left, decimals), currency)} of ${ui.money(fromMinor(total, decimals), currency)}.`;
        } else {
          remainder.classList.add('remainder-over');
          remainder.textContent = `Allocated ${ui.money(fromMinor(-left, decimals), currency)} more than the payment.`;
        }
        save.disabled = !(chosen.length > 0 && left === 0n);
      }

      function renderChosen() {
        clear(chosenBody);
        if (chosen.length === 0) {
          chosenBody.appendChild(h('p', { class: 'muted' }, 'No invoice chosen yet. Search above and add one or more.'));
        } else {
          chosenBody.appendChild(ui.table([
            { label: 'Invoice', render: (c) => c.invoice.number },
            { label: 'Client', render: (c) => clientName(c.invoice.client) },
            { label: 'Balance', class: 'num', render: (c) => ui.money(c.invoice.balance) },
            { label: 'Amount', class: 'num', render: (c) => c.input },
            {
              label: 'Remove',
              render: (c) => h('button', {
                type: 'button', class: 'btn btn-small', 'aria-label': `Remove invoice ${c.invoice.number}`, dataset: { test: 'manual-remove' },
                on: { click: () => { chosen.splice(chosen.indexOf(c), 1); renderChosen(); search.focus(); } },
              }, 'Remove'),
            },
          ], chosen, { caption: 'Invoices of this match' }));
        }
        update();
      }

      function add(invoice) {
        if (chosen.some((c) => c.invoice.id === invoice.id)) return;
        const sum = allocatedMinor() || 0n;
        const left = total - sum;
        const balance = toMinor(invoice.balance && invoice.balance.amount, decimals);
        let proposal = left > 0n ? left : 0n;
        if (balance !== null && balance > 0n && balance < proposal) proposal = balance;
        const input = h('input', {
          type: 'text', inputmode: 'decimal', class: 'alloc-input', value: fromMinor(proposal, decimals),
          'aria-label': `Amount for invoice ${invoice.number}`, dataset: { test: 'manual-amount' },
        });
        input.addEventListener('input', update);
        chosen.push({ invoice, input });
        renderChosen();
        input.focus();
        input.select();
      }

      let searchSeq = 0;
      let timer = null;
      async function runSearch() {
        const q = search.value.trim();
        const seq = ++searchSeq;
        if (!q) {
          clear(results);
          return;
        }
        try {
          const page = await api.get('/api/invoices', { q, status: 'open', limit: 20 });
          if (seq !== searchSeq) return;
          const items = (page.items || []).filter((i) => !i.balance || i.balance.currency === currency);
          clear(results);
          results.appendChild(ui.table([
            { label: 'Invoice', render: (i) => i.number },
            { label: 'Client', render: (i) => clientName(i.client) },
            { label: 'Due', render: (i) => (i.due_date ? ui.date(i.due_date) : '—') },
            { label: 'Balance', class: 'num', render: (i) => ui.money(i.balance) },
            {
              label: 'Add',
              render: (i) => h('button', {
                type: 'button', class: 'btn btn-small', 'aria-label': `Add invoice ${i.number}`,
                dataset: { test: 'manual-add', number: i.number },
                disabled: chosen.some((c) => c.invoice.id === i.id),
                on: { click: () => add(i) },
              }, 'Add'),
            },
          ], items, { empty: `No open ${currency} invoice matches “${q}”.`, caption: 'Search results' }));
        } catch (err) {
          if (seq !== searchSeq) return;
          clear(results);
          results.appendChild(h('p', { class: 'form-error' }, ui.errorMessage(err)));
        }
      }
      search.addEventListener('input', () => {
        clearTimeout(timer);
        timer = setTimeout(runSearch, 250);
      });
      search.addEventListener('keydown', (e) => {
        if (e.key === 'Enter') {
          e.preventDefault();
          clearTimeout(timer);
          runSearch();
        }
      });

      save.addEventListener('click', () => ui.busy(save, async () => {
        error.hidden = true;
        try {
          await api.post('/api/matches', {
            transaction_id: m.transaction_id,
            currency,
            allocations: chosen.map((c) => ({
              invoice_id: c.invoice.id,
              amount: fromMinor(toMinor(c.input.value, decimals), decimals),
            })),
          });
          close();
          const text = `Matched by hand to ${chosen.map((c) => c.invoice.number).join(', ')}.`;
          ui.toast(text, 'success');
          live.textContent = text;
          removeCurrent(m);
        } catch (err) {
          error.textContent = ui.errorMessage(err);
          error.hidden = false;
        }
        update();
      }));
      cancel.addEventListener('click', close);
      dialog.addEventListener('cancel', (e) => { e.preventDefault(); close(); });

      dialog.append(
        h('h2', { id: 'mm-title' }, 'Match manually'),
        h('p', null, `Payment of ${ui.money(t.amount)} from ${t.counterparty_name || 'an unknown payer'} on ${ui.date(t.booking_date)}.`),
        ui.field('Find invoices', search, 'By invoice number, client or company name, or an amount such as 120.00.'),
        results,
        h('h3', { class: 'section' }, 'Split across'),
        chosenBody,
        remainder,
        error,
        h('div', { class: 'dialog-actions' }, cancel, save));
      document.body.appendChild(dialog);
      renderChosen();
      dialog.showModal();
      search.focus();
    }

    // ------------------------------------------------------------------ help and keys

    function openHelp() {
      const previous = document.activeElement;
      const close = h('button', { type: 'button', class: 'btn btn-primary' }, 'Close');
      const dialog = h('dialog', { class: 'dialog', 'aria-labelledby': 'kb-title', dataset: { test: 'shortcuts-dialog' } },
        h('h2', { id: 'kb-title' }, 'Keyboard shortcuts'),
        h('dl', { class: 'shortcuts' },
          h('dt', null, h('kbd', null, 'j')), h('dd', null, 'Next suggestion'),
          h('dt', null, h('kbd', null, 'k')), h('dd', null, 'Previous suggestion'),
          canDecide ? [
            h('dt', null, h('kbd', null, 'a')), h('dd', null, 'Approve'),
            h('dt', null, h('kbd', null, 'r')), h('dd', null, 'Reject'),
            h('dt', null, h('kbd', null, 'm')), h('dd', null, 'Match manually'),
          ] : null,
          h('dt', null, h('kbd', null, '?')), h('dd', null, 'This help'),
          h('dt', null, h('kbd', null, 'Esc')), h('dd', null, 'Close a dialog')),
        h('div', { class: 'dialog-actions' }, close));
      const done = () => {
        dialog.close();
        dialog.remove();
        if (previous && previous.isConnected) previous.focus();
      };
      close.addEventListener('click', done);
      dialog.addEventListener('cancel', (e) => { e.preventDefault(); done(); });
      document.body.appendChild(dialog);
      dialog.showModal();
      close.focus();
    }

    function onKey(e) {
      if (!root.isConnected) {
        // Gone from the page (another route rendered): stop listening.
        if (state.mounted) document.removeEventListener('keydown', onKey);
        return;
      }
      state.mounted = true;
      if (e.ctrlKey || e.metaKey || e.altKey || isTyping(e.target) || document.querySelector('dialog[open]')) return;
      const m = current();
      const click = (test) => {
        const b = detail.querySelector(`[data-test="${test}"]`);
        if (b && !b.disabled) b.click();
      };
      switch (e.key) {
        case 'j': select(state.selected + 1, true); break;
        case 'k': select(state.selected - 1, true); break;
        case 'a': if (m && canDecide) click('approve'); break;
        case 'r': if (m && canDecide) click('reject'); break;
        case 'm': if (m && canDecide) click('manual'); break;
        case '?': openHelp(); break;
        default: return;
      }
      e.preventDefault();
    }
    document.addEventListener('keydown', onKey);

    // ------------------------------------------------------------------ loading

    async function load(cursor) {
      const page = await api.get('/api/matches', { status: 'suggested', limit: PAGE_SIZE, cursor });
      const items = page.items || [];
      state.items = cursor ? state.items.concat(items) : items;
      state.next = (page.page && page.page.next_cursor) || null;
      select(cursor ? state.selected : 0, false);
    }

    const refresh = h('button', { type: 'button', class: 'btn', dataset: { test: 'review-refresh', busyLabel: 'Refreshing…' } }, 'Refresh');
    refresh.addEventListener('click', () => ui.busy(refresh, async () => {
      try {
        await load();
        ctx.refreshBadges();
      } catch (err) {
        ui.toast(ui.errorMessage(err), 'error');
      }
    }));
    const help = h('button', { type: 'button', class: 'btn', 'aria-keyshortcuts': '?', dataset: { test: 'review-help' }, on: { click: openHelp } }, 'Shortcuts');
    // Runs the matching engine now over the money not matched yet; one run at a time.
    const reconcile = ctx.can('matches:decide')
      ? h('button', { type: 'button', class: 'btn btn-primary', dataset: { test: 'reconcile-now', busyLabel: 'Reconciling…' } }, 'Reconcile now')
      : null;
    if (reconcile) {
      reconcile.addEventListener('click', () => ui.busy(reconcile, async () => {
        try {
          const r = await api.post('/api/reconcile');
          const n = (x) => Number(x || 0);
          ui.toast(`Reconciled ${n(r.considered)} new payment${n(r.considered) === 1 ? '' : 's'}: `
            + `${n(r.auto_applied)} applied automatically, ${n(r.suggested)} suggested, `
            + `${n(r.unmatched)} left unmatched.`, 'success');
          await load();
          ctx.refreshBadges();
        } catch (err) {
          ui.toast(ui.errorMessage(err), 'error');
        }
      }));
    }

    await load();
    clear(root);
    root.append(
      h('div', { class: 'page-head' },
        h('h1', null, 'Review queue ', countEl),
        h('div', { class: 'page-actions' }, help, refresh, reconcile)),
      h('p', { class: 'muted' }, 'Suggestions Payymo was not sure enough about to apply on its own. Decide each one; approved payments are recorded in WHMCS.'),
      live,
      h('div', { class: 'review-layout' }, h('div', null, list, moreWrap), detail));
  },
};
