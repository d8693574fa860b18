// Connections: bank accounts through GoCardless, Stripe accounts and WHMCS instances — linking
// them, their health, syncing now, and taking them away.

import { copyButton, describe, details, errorBox, showError, statusKind } from './common.js';

const COUNTRIES = [
  ['AT', 'Austria'], ['BE', 'Belgium'], ['BG', 'Bulgaria'], ['HR', 'Croatia'], ['CY', 'Cyprus'],
  ['CZ', 'Czechia'], ['DK', 'Denmark'], ['EE', 'Estonia'], ['FI', 'Finland'], ['FR', 'France'],
  ['DE', 'Germany'], ['GR', 'Greece'], ['HU', 'Hungary'], ['IS', 'Iceland'], ['IE', 'Ireland'],
  ['IT', 'Italy'], ['LV', 'Latvia'], ['LI', 'Liechtenstein'], ['LT', 'Lithuania'], ['LU', 'Luxembourg'],
  ['MT', 'Malta'], ['NL', 'Netherlands'], ['NO', 'Norway'], ['PL', 'Poland'], ['PT', 'Portugal'],
  ['RO', 'Romania'], ['SK', 'Slovakia'], ['SI', 'Slovenia'], ['ES', 'Spain'], ['SE', 'Sweden'],
  ['GB', 'United Kingdom'],
];

const BANK_RETURN = {
  linked: ['notice-ok', 'The bank is linked. Its accounts are listed below; their transactions arrive with the next sync.'],
  pending: ['notice-warn', 'The bank has not confirmed the link yet. Check again in a few minutes.'],
  failed: ['notice-bad', 'The bank link was not completed (refused or cancelled at the bank). You can try again.'],
};

function section(ui, title, test, ...content) {
  const { h } = ui;
  return h('section', { class: 'card section', dataset: { test }, 'aria-label': title },
    h('h2', { class: 'card-title' }, title), content);
}

function loadingInto(ui, region) {
  ui.clear(region);
  region.append(ui.h('p', { class: 'loading', role: 'status' }, 'Loading…'));
}

function failedInto(ui, region, err) {
  ui.clear(region);
  region.append(ui.h('p', { class: 'notice notice-bad', role: 'alert', dataset: { test: 'section-error' } }, describe(ui, err)));
}

// ------------------------------------------------------------------ banks (GoCardless)

function accessCell(ui, a) {
  const { h } = ui;
  if (!a.access_expires_at) return h('span', { class: 'muted' }, '—');
  let flag = null;
  if (a.expired) flag = ui.badge('expired', 'bad');
  else if (a.expiring_soon) flag = ui.badge('expires soon', 'warn');
  return h('span', null, ui.date(a.access_expires_at), flag ? ' ' : null, flag);
}

function budgetText(budget) {
  if (!budget || budget.remaining === null || budget.remaining === undefined) return null;
  return `${budget.remaining} of ${budget.limit} bank syncs left today`;
}

async function renderBankAccounts(ctx, region) {
  const { ui, api } = ctx;
  const { h, clear } = ui;
  loadingInto(ui, region);
  let accounts;
  try {
    accounts = (await api.get('/api/gocardless/accounts')).items || [];
  } catch (err) {
    failedInto(ui, region, err);
    return;
  }
  const manage = ctx.can('connections:manage');
  const error = errorBox(ui, 'bank-error');
  const reload = () => renderBankAccounts(ctx, region);
  const columns = [
    {
      label: 'Account',
      render: (a) => h('div', null, a.name || a.iban || a.id,
        h('div', { class: 'small muted' }, [a.institution_id, a.iban && a.name ? a.iban : null, a.currency].filter(Boolean).join(' · '))),
    },
    {
      label: 'Status',
      render: (a) => h('span', null, ui.badge(a.connection_status, statusKind(a.expired ? 'expired' : a.connection_status)),
        a.last_error ? h('div', { class: 'small' }, a.last_error) : null),
    },
    { label: 'Access until', render: (a) => accessCell(ui, a) },
    {
      label: 'Last sync',
      render: (a) => h('div', null, a.last_synced_at ? ui.dateTime(a.last_synced_at) : 'Never',
        budgetText(a.sync_budget) ? h('div', { class: 'small muted' }, budgetText(a.sync_budget)) : null),
    },
  ];
  if (manage) {
    columns.push({
      label: 'Actions',
      class: 'actions-cell',
      render: (a) => {
        const sync = h('button', { type: 'button', class: 'btn btn-small', dataset: { test: 'bank-sync', busyLabel: 'Syncing…' } }, 'Sync now');
        sync.addEventListener('click', () => ui.busy(sync, async () => {
          showError(ui, error, '');
          try {
            const r = await api.post(`/api/gocardless/accounts/${encodeURIComponent(a.id)}/sync`);
            ui.toast(`Synced: ${r.inserted} new, ${r.already_known} already known, ${r.pending} pending.`, 'success');
            await reload();
          } catch (err) {
            showError(ui, error, err);
          }
        }));
        const reconnect = h('button', { type: 'button', class: 'btn btn-small', dataset: { test: 'bank-reconnect', busyLabel: 'Opening the bank…' } }, 'Reconnect');
        reconnect.addEventListener('click', () => ui.busy(reconnect, async () => {
          showError(ui, error, '');
          try {
            const r = await api.post(`/api/gocardless/connections/${encodeURIComponent(a.connection_id)}/reconnect`);
            window.location.assign(r.link);
          } catch (err) {
            showError(ui, error, err);
          }
        }));
        const disconnect = h('button', { type: 'button', class: 'btn btn-small btn-danger', dataset: { test: 'bank-disconnect', busyLabel: 'Disconnecting…' } }, 'Disconnect');
        disconnect.addEventListener('click', async () => {
          const sure = await ui.confirmDialog('Disconnect this bank? Payymo stops reading its accounts; the transactions already imported stay.', { confirmLabel: 'Disconnect', danger: true });
          if (!sure) return;
          await ui.busy(disconnect, async () => {
            showError(ui, error, '');
            try {
              await api.del(`/api/gocardless/connections/${encodeURIComponent(a.connection_id)}`);
              ui.toast('The bank is disconnected.', 'success');
              await reload();
            } catch (err) {
              showError(ui, error, err);
            }
          });
        });
        const revoked = a.connection_status === 'revoked';
        return h('div', { class: 'row' }, revoked ? null : sync, reconnect, revoked ? null : disconnect);
      },
    });
  }
  clear(region);
  region.append(error, ui.table(columns, accounts, { empty: 'No bank accounts linked yet.', caption: 'Bank accounts' }));
  region.querySelectorAll('tbody tr').forEach((tr, i) => {
    if (accounts[i]) tr.dataset.test = 'bank-account';
  });
}

function bankConnectForm(ctx) {
  const { ui, api } = ctx;
  const { h } = ui;
  const country = h('select', { id: 'bank-country', dataset: { test: 'bank-country' } },
    h('option', { value: '' }, 'Choose a country'),
    COUNTRIES.map(([code, name]) => h('option', { value: code }, name)));
  const bank = h('select', { id: 'bank-institution', disabled: true, dataset: { test: 'bank-institution' } },
    h('option', { value: '' }, 'Choose a country first'));
  const error = errorBox(ui, 'bank-connect-error');
  const submit = h('button', { type: 'submit', class: 'btn btn-primary', disabled: true, dataset: { test: 'bank-connect', busyLabel: 'Opening the bank…' } }, 'Connect bank');
  let seq = 0;
  country.addEventListener('change', async () => {
    const mine = ++seq;
    showError(ui, error, '');
    ui.clear(bank);
    bank.disabled = true;
    submit.disabled = true;
    if (!country.value) {
      bank.append(h('option', { value: '' }, 'Choose a country first'));
      return;
    }
    bank.append(h('option', { value: '' }, 'Loading banks…'));
    try {
      const banks = (await api.get('/api/gocardless/banks', { country: country.value })).items || [];
      if (mine !== seq) return;
      ui.clear(bank);
      bank.append(h('option', { value: '' }, banks.length ? 'Choose your bank' : 'No banks for this country'),
        ...banks.map((b) => h('option', { value: b.id }, b.bic ? `${b.name} (${b.bic})` : b.name)));
      bank.disabled = banks.length === 0;
    } catch (err) {
      if (mine !== seq) return;
      ui.clear(bank);
      bank.append(h('option', { value: '' }, 'Banks could not be loaded'));
      showError(ui, error, err);
    }
  });
  bank.addEventListener('change', () => { submit.disabled = !bank.value; });
  const form = h('form', { class: 'form-inline', dataset: { test: 'bank-connect-form' } },
    ui.field('Country', country),
    ui.field('Bank', bank),
    submit);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    if (!bank.value) return;
    ui.busy(submit, async () => {
      showError(ui, error, '');
      try {
        const r = await api.post('/api/gocardless/connect', { institution_id: bank.value });
        window.location.assign(r.link);
      } catch (err) {
        showError(ui, error, err);
      }
    });
  });
  return h('div', { class: 'stack' },
    h('p', { class: 'muted' }, 'You will be sent to your bank to allow Payymo to read the account, then come back here.'),
    form, error);
}

// ------------------------------------------------------------------ Stripe

function stripeCard(ctx, a, reload) {
  const { ui, api } = ctx;
  const { h } = ui;
  const manage = ctx.can('connections:manage');
  const error = errorBox(ui, 'stripe-error');
  const actions = h('div', { class: 'page-actions' });
  const rotateRegion = h('div');
  if (manage) {
    const sync = h('button', { type: 'button', class: 'btn btn-small', dataset: { test: 'stripe-sync', busyLabel: 'Syncing…' } }, 'Sync now');
    sync.addEventListener('click', () => ui.busy(sync, async () => {
      showError(ui, error, '');
      try {
        const r = await api.post(`/api/stripe/accounts/${encodeURIComponent(a.id)}/sync`);
        ui.toast(`Synced: ${r.payments_seen} payments, ${r.payouts_seen} payouts.`, 'success');
        await reload();
      } catch (err) {
        showError(ui, error, err);
      }
    }));
    const rotate = h('button', { type: 'button', class: 'btn btn-small', dataset: { test: 'stripe-rotate' } },
      a.has_webhook_secret ? 'Rotate webhook secret' : 'Set webhook secret');
    rotate.addEventListener('click', () => {
      ui.clear(rotateRegion);
      rotateRegion.append(webhookSecretForm(ctx, a, reload));
      rotateRegion.querySelector('input').focus();
    });
    actions.append(sync, rotate);
  }
  const status = h('span', null, ui.badge(a.status, statusKind(a.status)),
    a.last_sync_error ? h('span', { class: 'small' }, ` Last sync failed: ${a.last_sync_error}`) : null);
  let secret = 'Not set: Stripe events are not accepted until you set it';
  if (a.has_webhook_secret) secret = a.has_previous_webhook_secret ? 'Set (the previous one is still accepted during rotation)' : 'Set';
  return h('article', { class: 'subcard', dataset: { test: 'stripe-account', id: a.id } },
    h('div', { class: 'page-head' }, h('h3', { class: 'subhead' }, a.account_id || 'Stripe account'), actions),
    error,
    details(ui, [
      ['Status', status],
      ['Webhook URL', h('span', { class: 'row' }, h('code', { class: 'secret-box webhook-url', dataset: { test: 'stripe-webhook-url' } }, a.webhook_url),
        copyButton(ui, a.webhook_url, { label: 'Copy', test: 'stripe-copy-webhook' }))],
      ['Webhook secret', secret],
      ['Last sync', a.last_synced_at ? ui.dateTime(a.last_synced_at) : 'Never'],
      ['Payments synced until', a.payments_synced_at ? ui.dateTime(a.payments_synced_at) : null],
      ['Connected', a.created_at ? ui.date(a.created_at) : null],
    ]),
    rotateRegion);
}

function webhookSecretForm(ctx, a, reload) {
  const { ui, api } = ctx;
  const { h } = ui;
  const input = h('input', { type: 'password', autocomplete: 'off', required: true, placeholder: 'whsec_…', dataset: { test: 'stripe-new-secret' } });
  const error = errorBox(ui, 'stripe-secret-error');
  const save = h('button', { type: 'submit', class: 'btn btn-primary', dataset: { test: 'stripe-save-secret', busyLabel: 'Saving…' } }, 'Save secret');
  const form = h('form', { class: 'form-inline' },
    ui.field('New signing secret', input, 'From the webhook endpoint in the Stripe dashboard. The old one keeps working for a while, so no event is lost.'),
    save);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    ui.busy(save, async () => {
      showError(ui, error, '');
      try {
        await api.put(`/api/stripe/accounts/${encodeURIComponent(a.id)}/webhook-secret`, { webhook_secret: input.value.trim() });
        ui.toast('The webhook secret is saved.', 'success');
        await reload();
      } catch (err) {
        showError(ui, error, err);
      }
    });
  });
  return h('div', null, form, error);
}

async function renderStripeAccounts(ctx, region) {
  const { ui, api } = ctx;
  const { h, clear } = ui;
  loadingInto(ui, region);
  let accounts;
  try {
    accounts = (await api.get('/api/stripe/accounts')).items || [];
  } catch (err) {
    failedInto(ui, region, err);
    return;
  }
  clear(region);
  const reload = () => renderStripeAccounts(ctx, region);
  if (!accounts.length) {
    region.append(h('p', { class: 'muted', dataset: { test: 'stripe-empty' } }, 'No Stripe account connected yet.'));
    return;
  }
  region.append(...accounts.map((a) => stripeCard(ctx, a, reload)));
}

function stripeConnectForm(ctx, listRegion) {
  const { ui, api } = ctx;
  const { h } = ui;
  const key = h('input', { type: 'password', autocomplete: 'off', required: true, placeholder: 'rk_live_… or sk_live_…', dataset: { test: 'stripe-key' } });
  const secret = h('input', { type: 'password', autocomplete: 'off', placeholder: 'whsec_… (optional now)', dataset: { test: 'stripe-webhook-secret' } });
  const error = errorBox(ui, 'stripe-connect-error');
  const save = h('button', { type: 'submit', class: 'btn btn-primary', dataset: { test: 'stripe-connect', busyLabel: 'Checking the key with Stripe…' } }, 'Connect Stripe');
  const form = h('form', { class: 'form', dataset: { test: 'stripe-connect-form' } },
    ui.field('API key', key, 'A restricted key that may read balances, charges, payouts and balance transactions.'),
    ui.field('Webhook signing secret', secret, 'Add a webhook endpoint in Stripe for the URL shown after connecting, then paste its secret here or later.'),
    error,
    h('div', null, save));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    if (!key.value.trim()) {
      showError(ui, error, 'Enter the API key.');
      key.focus();
      return;
    }
    ui.busy(save, async () => {
      showError(ui, error, '');
      try {
        const body = { api_key: key.value.trim() };
        if (secret.value.trim()) body.webhook_secret = secret.value.trim();
        const created = await api.post('/api/stripe/connect', body);
        key.value = '';
        secret.value = '';
        ui.toast('Stripe is connected. Point a webhook endpoint in Stripe at the URL shown.', 'success');
        const box = form.closest('details');
        if (box) box.open = false;
        await renderStripeAccounts(ctx, listRegion);
      } catch (err) {
        showError(ui, error, err);
      }
    });
  });
  return form;
}

// ------------------------------------------------------------------ WHMCS

async function renderWhmcs(ctx, region) {
  const { ui, api } = ctx;
  const { h, clear } = ui;
  loadingInto(ui, region);
  let instances;
  try {
    instances = (await api.get('/api/whmcs/instances')).items || [];
  } catch (err) {
    failedInto(ui, region, err);
    return;
  }
  const reload = () => renderWhmcs(ctx, region);
  const error = errorBox(ui, 'whmcs-error');
  clear(region);
  if (!instances.length) {
    region.append(h('p', { class: 'muted', dataset: { test: 'whmcs-empty' } }, 'No WHMCS connected yet.'));
    return;
  }
  const list = h('ul', { class: 'plain-list instance-list' }, instances.map((w) => {
    const actions = h('div', { class: 'page-actions' });
    if (ctx.can('connections:manage')) {
      const sync = h('button', { type: 'button', class: 'btn btn-small', dataset: { test: 'whmcs-sync', busyLabel: 'Syncing invoices…' } }, 'Sync now');
      sync.addEventListener('click', () => ui.busy(sync, async () => {
        showError(ui, error, '');
        try {
          const r = await api.post(`/api/whmcs/instances/${encodeURIComponent(w.id)}/sync`);
          ui.toast(`Synced: ${r.open} open invoices, ${r.closed} closed since the last sync.`, 'success');
          await reload();
        } catch (err) {
          showError(ui, error, err);
        }
      }));
      actions.append(sync);
    }
    if (ctx.can('settings:manage')) {
      const remove = h('button', { type: 'button', class: 'btn btn-small btn-danger', dataset: { test: 'whmcs-delete', busyLabel: 'Removing…' } }, 'Remove');
      remove.addEventListener('click', async () => {
        const sure = await ui.confirmDialog(`Remove ${w.name}? Payymo stops syncing its invoices and recording payments in it; invoices and matches already here stay.`, { confirmLabel: 'Remove', danger: true });
        if (!sure) return;
        await ui.busy(remove, async () => {
          showError(ui, error, '');
          try {
            await api.del(`/api/whmcs/instances/${encodeURIComponent(w.id)}`);
            ui.toast(`${w.name} is removed.`, 'success');
            await reload();
          } catch (err) {
            showError(ui, error, err);
          }
        });
      });
      actions.append(remove);
    }
    return h('li', { class: 'subcard', dataset: { test: 'whmcs-instance', id: w.id } },
      h('div', { class: 'page-head' },
        h('h3', { class: 'subhead' }, w.name, ' ', ui.badge(w.status, statusKind(w.status))),
        actions),
      details(ui, [
        ['URL', h('code', null, w.base_url)],
        ['API identifier', w.api_identifier],
        ['Gateway', w.gateway],
        ['Currency', w.default_currency],
        ['Invoices synced', w.invoices_synced_at ? ui.dateTime(w.invoices_synced_at) : 'Never'],
      ]));
  }));
  region.append(error, list);
}

function whmcsForm(ctx, listRegion, close) {
  const { ui, api } = ctx;
  const { h } = ui;
  const url = h('input', { type: 'url', required: true, placeholder: 'https://billing.example.com', autocomplete: 'off', dataset: { test: 'whmcs-url' } });
  const identifier = h('input', { type: 'text', required: true, autocomplete: 'off', dataset: { test: 'whmcs-identifier' } });
  const secret = h('input', { type: 'password', required: true, autocomplete: 'off', dataset: { test: 'whmcs-secret' } });
  const gateway = h('input', { type: 'text', value: 'banktransfer', required: true, dataset: { test: 'whmcs-gateway' } });
  const currency = h('input', { type: 'text', value: 'EUR', required: true, maxlength: '3', class: 'input-short', dataset: { test: 'whmcs-currency' } });
  const name = h('input', { type: 'text', placeholder: 'Defaults to the URL’s host', dataset: { test: 'whmcs-name' } });
  const error = errorBox(ui, 'whmcs-form-error');
  const save = h('button', { type: 'submit', class: 'btn btn-primary', dataset: { test: 'whmcs-save', busyLabel: 'Checking the credential with WHMCS…' } }, 'Connect WHMCS');
  const cancel = h('button', { type: 'button', class: 'btn', dataset: { test: 'whmcs-cancel' }, on: { click: close } }, 'Cancel');
  const form = h('form', { class: 'form', dataset: { test: 'whmcs-form' } },
    ui.field('WHMCS URL', url, 'The address of your WHMCS installation.'),
    ui.field('API identifier', identifier, 'Create an API credential in WHMCS under System Settings → API Credentials, and allow Payymo’s address.'),
    ui.field('API secret', secret),
    ui.field('Payment gateway', gateway, 'Payments are recorded under this gateway’s system name.'),
    ui.field('Default currency', currency),
    ui.field('Name', name),
    error,
    h('div', { class: 'row' }, save, cancel));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const missing = [[url, 'the URL'], [identifier, 'the API identifier'], [secret, 'the API secret']].find(([input]) => !input.value.trim());
    if (missing) {
      showError(ui, error, `Enter ${missing[1]}.`);
      missing[0].focus();
      return;
    }
    ui.busy(save, async () => {
      showError(ui, error, '');
      try {
        const body = {
          base_url: url.value.trim(),
          api_identifier: identifier.value.trim(),
          api_secret: secret.value,
          gateway: gateway.value.trim() || 'banktransfer',
          default_currency: (currency.value.trim() || 'EUR').toUpperCase(),
        };
        if (name.value.trim()) body.name = name.value.trim();
        const created = await api.post('/api/whmcs/instances', body);
        ui.toast(`${created.name} is connected. Sync it to bring its invoices in.`, 'success');
        close();
        await renderWhmcs(ctx, listRegion);
      } catch (err) {
        showError(ui, error, err);
      }
    });
  });
  return form;
}

// ------------------------------------------------------------------ the page

export const page = {
  id: 'connections',
  title: 'Connections',
  permission: 'tenant:read',
  render: async (root, ctx) => {
    const { ui } = ctx;
    const { h } = ui;
    const manage = ctx.can('connections:manage');
    const settings = ctx.can('settings:manage');

    const returned = BANK_RETURN[ctx.params.get('bank')];
    const banner = returned ? h('p', { class: `notice ${returned[0]}`, role: 'status', dataset: { test: 'bank-return' } }, returned[1]) : null;

    const bankRegion = h('div', { dataset: { test: 'bank-accounts' } });
    const stripeRegion = h('div', { dataset: { test: 'stripe-accounts' } });
    const whmcsRegion = h('div', { dataset: { test: 'whmcs-instances' } });

    const bank = section(ui, 'Bank accounts', 'bank-section', bankRegion,
      manage ? h('details', { class: 'connect-box' }, h('summary', { dataset: { test: 'connect-bank' } }, 'Connect a bank'), bankConnectForm(ctx)) : null);

    const stripe = section(ui, 'Stripe', 'stripe-section', stripeRegion,
      manage ? h('details', { class: 'connect-box' }, h('summary', { dataset: { test: 'connect-stripe' } }, 'Connect a Stripe account'), stripeConnectForm(ctx, stripeRegion)) : null);

    const whmcsFormRegion = h('div');
    const closeForm = () => {
      ui.clear(whmcsFormRegion);
      openWhmcs.hidden = false;
    };
    const openWhmcs = h('button', {
      type: 'button', class: 'btn btn-primary', dataset: { test: 'connect-whmcs' },
      on: {
        click: () => {
          ui.clear(whmcsFormRegion);
          whmcsFormRegion.append(whmcsForm(ctx, whmcsRegion, closeForm));
          openWhmcs.hidden = true;
          whmcsFormRegion.querySelector('input').focus();
        },
      },
    }, 'Add WHMCS');
    const whmcs = section(ui, 'WHMCS', 'whmcs-section',
      settings ? whmcsRegion : h('p', { class: 'muted' }, 'Only a financial admin sees and changes the WHMCS connections.'),
      settings ? h('div', { class: 'row' }, openWhmcs) : null,
      whmcsFormRegion);

    root.append(h('div', { class: 'page-head' }, h('h1', null, 'Connections')), h('div', null, banner), bank, stripe, whmcs);

    const loads = [renderBankAccounts(ctx, bankRegion), renderStripeAccounts(ctx, stripeRegion)];
    if (settings) loads.push(renderWhmcs(ctx, whmcsRegion));
    await Promise.all(loads);
  },
};
