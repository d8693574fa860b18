// Settings, in tabs: reconciliation, users and roles, API keys, licences (platform operators
// only) and the audit log. Each tab shows only to those whose role allows it.

import { copyButton, errorBox, hashFor, pagedList, prettyJson, select, shortId, showError, statusKind } from './common.js';

const TABS = [
  { id: 'reconciliation', label: 'Reconciliation', permission: 'tenant:read' },
  { id: 'users', label: 'Users & roles', permission: 'users:manage' },
  { id: 'api-keys', label: 'API keys', permission: 'api_keys:manage' },
  { id: 'licences', label: 'Licences', permission: 'platform:manage' },
  { id: 'audit', label: 'Audit log', permission: 'audit:read' },
];

const ROLES = [
  ['read_only', 'Read only'],
  ['account_manager', 'Account manager'],
  ['financial_admin', 'Financial admin'],
  ['api_integration', 'API integration'],
];
const ROLE_LABELS = { ...Object.fromEntries(ROLES), system_admin: 'System admin' };

const SCOPES = [
  ['tenant:read', 'Read everything of the organisation'],
  ['connections:manage', 'Manage bank, Stripe and WHMCS connections and syncs'],
  ['matches:decide', 'Approve, reject and undo matches'],
  ['audit:read', 'Read the audit log'],
];

const AUDIT_PREFIXES = ['auth.', 'mfa.', 'user.', 'api_key.', 'match.', 'payment.', 'transaction.', 'reconciliation.', 'whmcs_instance.', 'stripe.', 'bank.', 'licence.', 'tenant.'];

// ------------------------------------------------------------------ reconciliation

function numberInput(ui, value, attrs) {
  return ui.h('input', { type: 'number', value, required: true, ...attrs });
}

async function renderReconciliation(ctx, root) {
  const { ui, api } = ctx;
  const { h } = ui;
  let current = await api.get('/api/settings/reconciliation');
  const editable = ctx.can('settings:manage');
  const autoApply = h('input', { type: 'checkbox', id: 'set-auto-apply', checked: current.auto_apply, disabled: !editable, dataset: { test: 'set-auto-apply' } });
  const autoPartial = h('input', { type: 'checkbox', id: 'set-auto-partial', checked: current.auto_partial_payments, disabled: !editable, dataset: { test: 'set-auto-partial' } });
  const feesClose = h('input', { type: 'checkbox', id: 'set-fees-close', checked: current.fees_close_invoice, disabled: !editable, dataset: { test: 'set-fees-close' } });
  const threshold = numberInput(ui, String(current.auto_threshold), { min: '0', max: '1', step: '0.01', disabled: !editable, dataset: { test: 'set-auto-threshold' } });
  const feeFixed = numberInput(ui, (Number(current.fee_tolerance_hundredths) / 100).toFixed(2), { min: '0', step: '0.01', disabled: !editable, dataset: { test: 'set-fee-fixed' } });
  const feePercent = numberInput(ui, (Number(current.fee_tolerance_basis_points) / 100).toFixed(2), { min: '0', max: '50', step: '0.01', disabled: !editable, dataset: { test: 'set-fee-percent' } });
  const gateway = h('input', { type: 'text', value: current.gateway, required: true, disabled: !editable, dataset: { test: 'set-gateway' } });
  const cardGateway = h('input', { type: 'text', value: current.card_gateway, required: true, disabled: !editable, dataset: { test: 'set-card-gateway' } });
  const error = errorBox(ui, 'settings-error');
  const save = h('button', { type: 'submit', class: 'btn btn-primary', dataset: { test: 'settings-save', busyLabel: 'Saving…' } }, 'Save settings');
  const form = h('form', { class: 'form settings-form', dataset: { test: 'settings-form' } },
    h('div', { class: 'field checkbox' }, autoApply, h('label', { for: autoApply.id }, 'Record confident matches in WHMCS without asking')),
    ui.field('Confidence needed to apply automatically', threshold,
      `Between ${current.review_threshold} (below which nothing is suggested) and 1. Matches below it wait in the review queue.`),
    h('div', { class: 'field checkbox' }, autoPartial, h('label', { for: autoPartial.id },
      'Apply part payments automatically when the client names the invoice number exactly (the rest stays open)')),
    ui.field('Fee tolerance, fixed part', feeFixed, 'How much less than the invoice a payment may be (bank and card fees), in the invoice currency.'),
    ui.field('Fee tolerance, percentage of the invoice', feePercent, 'Added to the fixed part.'),
    h('div', { class: 'field checkbox' }, feesClose, h('label', { for: feesClose.id },
      'Close an invoice paid short by no more than the fee tolerance (the shortfall is recorded in WHMCS as fees, so the client is not reminded of it)')),
    ui.field('WHMCS payment gateway', gateway, 'Payments are recorded in WHMCS under this gateway’s system name.'),
    ui.field('WHMCS gateway for card payments', cardGateway, 'Card payments from Stripe are recorded under this gateway (WHMCS’s own Stripe module uses “stripe”), with the charge id and Stripe’s fee.'),
    error,
    editable ? h('div', null, save) : h('p', { class: 'muted' }, 'Only a financial admin can change these settings.'),
    h('p', { class: 'small muted', dataset: { test: 'settings-version' } }, `Version ${current.version}`));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    if (!editable) return;
    ui.busy(save, async () => {
      showError(ui, error, '');
      const body = {
        version: current.version,
        auto_apply: autoApply.checked,
        auto_threshold: Number(threshold.value),
        fee_tolerance_hundredths: Math.round(Number(feeFixed.value) * 100),
        fee_tolerance_basis_points: Math.round(Number(feePercent.value) * 100),
        auto_partial_payments: autoPartial.checked,
        fees_close_invoice: feesClose.checked,
        gateway: gateway.value.trim(),
        card_gateway: cardGateway.value.trim(),
      };
      if (![body.auto_threshold, body.fee_tolerance_hundredths, body.fee_tolerance_basis_points].every(Number.isFinite)) {
        showError(ui, error, 'Enter numbers in every field.');
        return;
      }
      try {
        current = await api.put('/api/settings/reconciliation', body);
        form.querySelector('[data-test="settings-version"]').textContent = `Version ${current.version}`;
        ui.toast('The settings are saved.', 'success');
      } catch (err) {
        if (err instanceof api.ApiError && err.status === 409) {
          showError(ui, error, 'Someone changed these settings meanwhile. Reload the page to see their values, then save again.');
        } else {
          showError(ui, error, err);
        }
      }
    });
  });
  root.append(h('section', { class: 'card' }, h('h2', { class: 'card-title' }, 'Reconciliation'), form));
}

// ------------------------------------------------------------------ users and roles

async function renderUsers(ctx, root) {
  const { ui, api } = ctx;
  const { h, clear } = ui;
  const listRegion = h('div', { dataset: { test: 'user-list' } });
  const listError = errorBox(ui, 'users-error');

  async function reload() {
    let users;
    try {
      users = (await api.get('/api/users')).items || [];
    } catch (err) {
      clear(listRegion);
      listRegion.append(h('p', { class: 'notice notice-bad', role: 'alert' }, ui.errorMessage(err)));
      return;
    }
    const columns = [
      {
        label: 'User',
        render: (u) => h('div', null, u.email, u.id === ctx.user.id ? h('span', { class: 'small muted' }, ' (you)') : null,
          h('div', { class: 'small muted' }, `Since ${ui.date(u.created_at)}`)),
      },
      {
        label: 'Role',
        render: (u) => {
          if (u.role === 'system_admin' || u.id === ctx.user.id) return ROLE_LABELS[u.role] || u.role;
          const roleSelect = select(ui, ROLES, u.role, { 'aria-label': `Role of ${u.email}`, dataset: { test: 'user-role' } });
          roleSelect.addEventListener('change', async () => {
            roleSelect.disabled = true;
            showError(ui, listError, '');
            try {
              await api.patch(`/api/users/${encodeURIComponent(u.id)}`, { role: roleSelect.value });
              ui.toast(`${u.email} is now ${ROLE_LABELS[roleSelect.value]}.`, 'success');
              await reload();
            } catch (err) {
              roleSelect.value = u.role;
              roleSelect.disabled = false;
              showError(ui, listError, err);
            }
          });
          return roleSelect;
        },
      },
      {
        label: 'Status',
        render: (u) => h('span', { class: 'row' },
          u.disabled ? ui.badge('disabled', 'bad') : ui.badge('active', 'ok'),
          u.mfa_enabled ? ui.badge('two-step on', 'info') : ui.badge('two-step off', 'muted'),
          u.locked_until ? ui.badge(`locked until ${ui.dateTime(u.locked_until)}`, 'warn') : null),
      },
      {
        label: 'Actions',
        class: 'actions-cell',
        render: (u) => {
          if (u.id === ctx.user.id) return h('span', { class: 'muted small' }, 'Change your own account on the Account page');
          const patchButton = (label, test, body, done) => {
            const b = h('button', { type: 'button', class: 'btn btn-small', dataset: { test, busyLabel: 'Saving…' } }, label);
            b.addEventListener('click', () => ui.busy(b, async () => {
              showError(ui, listError, '');
              try {
                await api.patch(`/api/users/${encodeURIComponent(u.id)}`, body);
                ui.toast(done, 'success');
                await reload();
              } catch (err) {
                showError(ui, listError, err);
              }
            }));
            return b;
          };
          const remove = h('button', { type: 'button', class: 'btn btn-small btn-danger', dataset: { test: 'user-delete', busyLabel: 'Deleting…' } }, 'Delete');
          remove.addEventListener('click', async () => {
            const sure = await ui.confirmDialog(`Delete ${u.email}? They are signed out everywhere and cannot sign in again.`, { confirmLabel: 'Delete', danger: true });
            if (!sure) return;
            await ui.busy(remove, async () => {
              showError(ui, listError, '');
              try {
                await api.del(`/api/users/${encodeURIComponent(u.id)}`);
                ui.toast(`${u.email} is deleted.`, 'success');
                await reload();
              } catch (err) {
                showError(ui, listError, err);
              }
            });
          });
          return h('div', { class: 'row' },
            u.disabled
              ? patchButton('Enable', 'user-enable', { disabled: false }, `${u.email} can sign in again.`)
              : patchButton('Disable', 'user-disable', { disabled: true }, `${u.email} is disabled and signed out.`),
            u.locked_until ? patchButton('Unlock', 'user-unlock', { unlock: true }, `${u.email} is unlocked.`) : null,
            remove);
        },
      },
    ];
    clear(listRegion);
    listRegion.append(ui.table(columns, users, { empty: 'No users.', caption: 'Users' }));
    listRegion.querySelectorAll('tbody tr').forEach((tr, i) => {
      if (users[i]) {
        tr.dataset.test = 'user-row';
        tr.dataset.email = users[i].email;
      }
    });
  }

  const email = h('input', { type: 'email', required: true, autocomplete: 'off', dataset: { test: 'new-user-email' } });
  const password = h('input', { type: 'password', required: true, autocomplete: 'new-password', dataset: { test: 'new-user-password' } });
  const role = select(ui, ROLES, 'read_only', { dataset: { test: 'new-user-role' } });
  const createError = errorBox(ui, 'new-user-error');
  const create = h('button', { type: 'submit', class: 'btn btn-primary', dataset: { test: 'new-user-save', busyLabel: 'Creating…' } }, 'Create user');
  const form = h('form', { class: 'form-inline', dataset: { test: 'new-user-form' } },
    ui.field('E-mail', email),
    ui.field('First password', password, 'Share it with them safely; they can change it on their Account page.'),
    ui.field('Role', role),
    create);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    ui.busy(create, async () => {
      showError(ui, createError, '');
      try {
        const u = await api.post('/api/users', { email: email.value.trim(), password: password.value, role: role.value });
        email.value = '';
        password.value = '';
        ui.toast(`${u.email} can now sign in.`, 'success');
        await reload();
      } catch (err) {
        showError(ui, createError, err);
      }
    });
  });

  root.append(
    h('section', { class: 'card' }, h('h2', { class: 'card-title' }, 'Users'), listError, listRegion),
    h('section', { class: 'card' }, h('h2', { class: 'card-title' }, 'Add a user'), form, createError));
  await reload();
}

// ------------------------------------------------------------------ API keys

function secretOnce(ui, title, secret, test) {
  const { h } = ui;
  return h('div', { class: 'notice notice-ok secret-once', role: 'status', dataset: { test: `${test}-box` } },
    h('p', null, h('strong', null, title)),
    h('p', null, 'Copy it now: Payymo stores only a digest and cannot show it again.'),
    h('div', { class: 'row' }, h('code', { class: 'secret-box grow', dataset: { test } }, secret), copyButton(ui, secret, { test: `${test}-copy` })));
}

async function renderApiKeys(ctx, root) {
  const { ui, api } = ctx;
  const { h, clear } = ui;
  const listRegion = h('div', { dataset: { test: 'api-key-list' } });
  const listError = errorBox(ui, 'api-keys-error');
  const secretRegion = h('div');

  async function reload() {
    let keys;
    try {
      keys = (await api.get('/api/api-keys')).items || [];
    } catch (err) {
      clear(listRegion);
      listRegion.append(h('p', { class: 'notice notice-bad', role: 'alert' }, ui.errorMessage(err)));
      return;
    }
    const columns = [
      { label: 'Name', render: (k) => h('div', null, k.name, h('div', { class: 'small muted' }, h('code', null, `${k.prefix}…`))) },
      { label: 'Scopes', render: (k) => h('span', { class: 'row' }, k.scopes.map((s) => ui.badge(s, 'info'))) },
      { label: 'Created', render: (k) => ui.date(k.created_at) },
      { label: 'Expires', render: (k) => (k.expires_at ? ui.date(k.expires_at) : 'Never') },
      { label: 'Last used', render: (k) => (k.last_used_at ? ui.dateTime(k.last_used_at) : 'Never') },
      {
        label: 'Status',
        render: (k) => {
          if (k.revoked_at) return ui.badge('revoked', 'muted');
          if (k.expires_at && new Date(k.expires_at) < new Date()) return ui.badge('expired', 'bad');
          return ui.badge('active', 'ok');
        },
      },
      {
        label: 'Actions',
        class: 'actions-cell',
        render: (k) => {
          if (k.revoked_at) return null;
          const revoke = h('button', { type: 'button', class: 'btn btn-small btn-danger', dataset: { test: 'api-key-revoke', busyLabel: 'Revoking…' } }, 'Revoke');
          revoke.addEventListener('click', async () => {
            const sure = await ui.confirmDialog(`Revoke “${k.name}”? Anything using it is refused from now on.`, { confirmLabel: 'Revoke', danger: true });
            if (!sure) return;
            await ui.busy(revoke, async () => {
              showError(ui, listError, '');
              try {
                await api.del(`/api/api-keys/${encodeURIComponent(k.id)}`);
                ui.toast(`“${k.name}” is revoked.`, 'success');
                await reload();
              } catch (err) {
                showError(ui, listError, err);
              }
            });
          });
          return revoke;
        },
      },
    ];
    clear(listRegion);
    listRegion.append(ui.table(columns, keys, { empty: 'No API keys yet.', caption: 'API keys' }));
    listRegion.querySelectorAll('tbody tr').forEach((tr, i) => {
      if (keys[i]) {
        tr.dataset.test = 'api-key-row';
        tr.dataset.name = keys[i].name;
        tr.dataset.revoked = keys[i].revoked_at ? '1' : '0';
      }
    });
  }

  const name = h('input', { type: 'text', required: true, maxlength: '100', placeholder: 'e.g. Accounting export', dataset: { test: 'api-key-name' } });
  const held = SCOPES.filter(([scope]) => ctx.can(scope));
  const boxes = held.map(([scope, label]) => {
    const box = h('input', { type: 'checkbox', id: `scope-${scope.replace(':', '-')}`, value: scope, checked: scope === 'tenant:read', dataset: { test: `api-key-scope-${scope}` } });
    return h('div', { class: 'field checkbox' }, box, h('label', { for: box.id }, h('code', null, scope), ` — ${label}`));
  });
  const expiry = select(ui, [['90', 'In 90 days'], ['30', 'In 30 days'], ['365', 'In a year'], ['', 'Never']], '90', { dataset: { test: 'api-key-expiry' } });
  const createError = errorBox(ui, 'api-key-error');
  const create = h('button', { type: 'submit', class: 'btn btn-primary', dataset: { test: 'api-key-create', busyLabel: 'Creating…' } }, 'Create key');
  const form = h('form', { class: 'form', dataset: { test: 'api-key-form' } },
    ui.field('Name', name),
    h('fieldset', { class: 'fieldset' }, h('legend', null, 'What it may do'), boxes),
    ui.field('Expires', expiry),
    createError,
    h('div', null, create));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const scopes = boxes.map((b) => b.querySelector('input')).filter((b) => b.checked).map((b) => b.value);
    if (!name.value.trim()) {
      showError(ui, createError, 'Give the key a name.');
      name.focus();
      return;
    }
    if (!scopes.length) {
      showError(ui, createError, 'Choose at least one thing the key may do.');
      return;
    }
    ui.busy(create, async () => {
      showError(ui, createError, '');
      try {
        const body = { name: name.value.trim(), scopes };
        if (expiry.value) body.expires_in_days = Number(expiry.value);
        const created = await api.post('/api/api-keys', body);
        name.value = '';
        clear(secretRegion);
        secretRegion.append(secretOnce(ui, `Your new key “${created.name}”`, created.key, 'api-key-secret'));
        await reload();
      } catch (err) {
        showError(ui, createError, err);
      }
    });
  });

  root.append(
    secretRegion,
    h('section', { class: 'card' }, h('h2', { class: 'card-title' }, 'API keys'), listError, listRegion),
    h('section', { class: 'card' }, h('h2', { class: 'card-title' }, 'Create an API key'), form));
  await reload();
}

// ------------------------------------------------------------------ licences (platform)

/** A date input's value as the end of that day in UTC, RFC 3339; '' stays ''. */
function endOfDay(value) {
  return value ? `${value}T23:59:59Z` : '';
}

function dateValue(iso) {
  return iso ? String(iso).slice(0, 10) : '';
}

async function renderLicences(ctx, root) {
  const { ui, api } = ctx;
  const { h, clear } = ui;
  const listRegion = h('div', { dataset: { test: 'licence-list' } });
  const listError = errorBox(ui, 'licences-error');
  const keyRegion = h('div');
  let tenants = [];
  try {
    tenants = (await api.get('/api/admin/tenants')).items || [];
  } catch (err) {
    showError(ui, listError, err);
  }
  const tenantName = (id) => (tenants.find((t) => t.id === id) || {}).name || shortId(id);

  function editForm(l) {
    const domain = h('input', { type: 'text', value: l.domain, required: true, 'aria-label': 'Domain', dataset: { test: 'licence-domain' } });
    const expires = h('input', { type: 'date', value: dateValue(l.expires_at), 'aria-label': 'Expires', dataset: { test: 'licence-expires' } });
    const status = select(ui, [['active', 'Active'], ['suspended', 'Suspended']], l.status, { 'aria-label': 'Status', dataset: { test: 'licence-status' } });
    const save = h('button', { type: 'submit', class: 'btn btn-small', dataset: { test: 'licence-save', busyLabel: 'Saving…' } }, 'Save');
    const form = h('form', { class: 'form-inline compact' }, domain, expires, l.status === 'revoked' ? null : status, save);
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      ui.busy(save, async () => {
        showError(ui, listError, '');
        const body = { domain: domain.value.trim(), expires_at: expires.value ? endOfDay(expires.value) : null };
        if (l.status !== 'revoked' && status.value !== l.status) body.status = status.value;
        try {
          await api.patch(`/api/admin/license/${encodeURIComponent(l.id)}`, body);
          ui.toast('The licence is saved.', 'success');
          await reload();
        } catch (err) {
          showError(ui, listError, err);
        }
      });
    });
    return form;
  }

  async function reload() {
    let licences;
    try {
      licences = (await api.get('/api/admin/licenses')).items || [];
    } catch (err) {
      clear(listRegion);
      listRegion.append(h('p', { class: 'notice notice-bad', role: 'alert' }, ui.errorMessage(err)));
      return;
    }
    const columns = [
      { label: 'Tenant', render: (l) => h('div', null, tenantName(l.tenant_id), h('div', { class: 'small muted' }, `Issued ${ui.date(l.created_at)}`)) },
      { label: 'Status', render: (l) => ui.badge(l.status, statusKind(l.status === 'suspended' ? 'pending' : l.status)) },
      { label: 'Domain, expiry, status', render: (l) => (l.status === 'revoked' ? h('span', null, l.domain, l.expires_at ? ` · until ${ui.date(l.expires_at)}` : '') : editForm(l)) },
      {
        label: 'Actions',
        class: 'actions-cell',
        render: (l) => {
          if (l.status === 'revoked') return null;
          const revoke = h('button', { type: 'button', class: 'btn btn-small btn-danger', dataset: { test: 'licence-revoke', busyLabel: 'Revoking…' } }, 'Revoke');
          revoke.addEventListener('click', async () => {
            const sure = await ui.confirmDialog(`Revoke the licence for ${l.domain}? This cannot be undone; the WHMCS module there stops working.`, { confirmLabel: 'Revoke', danger: true });
            if (!sure) return;
            await ui.busy(revoke, async () => {
              showError(ui, listError, '');
              try {
                await api.post('/api/admin/license/revoke', { license_id: l.id });
                ui.toast('The licence is revoked.', 'success');
                await reload();
              } catch (err) {
                showError(ui, listError, err);
              }
            });
          });
          return revoke;
        },
      },
    ];
    clear(listRegion);
    listRegion.append(ui.table(columns, licences, { empty: 'No licences issued yet.', caption: 'Licences' }));
    listRegion.querySelectorAll('tbody tr').forEach((tr, i) => {
      if (licences[i]) tr.dataset.test = 'licence-row';
    });
  }

  const tenant = h('select', { required: true, dataset: { test: 'licence-tenant' } },
    h('option', { value: '' }, 'Choose a tenant'),
    tenants.map((t) => h('option', { value: t.id }, `${t.name} (${t.status})`)));
  const domain = h('input', { type: 'text', required: true, placeholder: 'billing.example.com', dataset: { test: 'licence-new-domain' } });
  const expires = h('input', { type: 'date', dataset: { test: 'licence-new-expires' } });
  const issueError = errorBox(ui, 'licence-issue-error');
  const issue = h('button', { type: 'submit', class: 'btn btn-primary', dataset: { test: 'licence-issue', busyLabel: 'Issuing…' } }, 'Issue licence');
  const form = h('form', { class: 'form-inline', dataset: { test: 'licence-form' } },
    ui.field('Tenant', tenant),
    ui.field('WHMCS domain', domain),
    ui.field('Expires', expires, 'Leave empty for no expiry.'),
    issue);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    if (!tenant.value || !domain.value.trim()) {
      showError(ui, issueError, 'Choose a tenant and enter the domain.');
      return;
    }
    ui.busy(issue, async () => {
      showError(ui, issueError, '');
      try {
        const body = { tenant_id: tenant.value, domain: domain.value.trim() };
        if (expires.value) body.expires_at = endOfDay(expires.value);
        const issued = await api.post('/api/admin/license', body);
        domain.value = '';
        expires.value = '';
        clear(keyRegion);
        keyRegion.append(secretOnce(ui, `Licence key for ${issued.domain}`, issued.license_key, 'licence-key'));
        await reload();
      } catch (err) {
        showError(ui, issueError, err);
      }
    });
  });

  root.append(
    keyRegion,
    h('section', { class: 'card' }, h('h2', { class: 'card-title' }, 'Licences'), listError, listRegion),
    h('section', { class: 'card' }, h('h2', { class: 'card-title' }, 'Issue a licence'), form, issueError));
  await reload();
}

// ------------------------------------------------------------------ audit log

function toIso(localValue) {
  if (!localValue) return '';
  const d = new Date(localValue);
  return Number.isNaN(d.getTime()) ? '' : d.toISOString();
}

function toLocal(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  const pad = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

async function renderAudit(ctx, root) {
  const { ui, api } = ctx;
  const { h } = ui;
  const p = ctx.params;
  const filters = {
    action: p.get('action') || '', actor: p.get('actor') || '', target: p.get('target') || '',
    from: p.get('from') || '', to: p.get('to') || '',
  };
  const action = h('input', { type: 'text', id: 'audit-action', value: filters.action, list: 'audit-prefixes', placeholder: 'auth. or match.approved', dataset: { test: 'audit-action' } });
  const actor = h('input', { type: 'text', value: filters.actor, placeholder: 'user:<id>, api_key:<id>, system', dataset: { test: 'audit-actor' } });
  const target = h('input', { type: 'text', value: filters.target, placeholder: 'match:<id>', dataset: { test: 'audit-target' } });
  const from = h('input', { type: 'datetime-local', class: 'input', value: toLocal(filters.from), dataset: { test: 'audit-from' } });
  const to = h('input', { type: 'datetime-local', class: 'input', value: toLocal(filters.to), dataset: { test: 'audit-to' } });
  const form = h('form', { class: 'filters', role: 'search', 'aria-label': 'Filter the audit log' },
    h('datalist', { id: 'audit-prefixes' }, AUDIT_PREFIXES.map((a) => h('option', { value: a }))),
    ui.field('Action starts with', action),
    ui.field('Actor', actor),
    ui.field('Target', target),
    ui.field('From', from),
    ui.field('Until', to),
    h('button', { type: 'submit', class: 'btn btn-primary', dataset: { test: 'audit-filter' } }, 'Filter'));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    ctx.navigate(hashFor('settings', {
      tab: 'audit', action: action.value.trim(), actor: actor.value.trim(), target: target.value.trim(),
      from: toIso(from.value), to: toIso(to.value),
    }));
  });
  const columns = [
    { label: 'When', render: (e) => h('time', { datetime: e.occurred_at }, ui.dateTime(e.occurred_at)) },
    { label: 'Action', render: (e) => h('code', null, e.action) },
    { label: 'Actor', render: (e) => h('code', { class: 'small' }, e.actor) },
    { label: 'Target', render: (e) => (e.target ? h('code', { class: 'small' }, e.target) : '—') },
    {
      label: 'Details',
      render: (e) => h('details', null, h('summary', null, e.ip ? `From ${e.ip}` : 'Show'),
        h('pre', { class: 'pre' }, prettyJson(e.detail)),
        e.request_id ? h('p', { class: 'small muted' }, `Request ${e.request_id}`) : null),
    },
  ];
  const region = h('div', { dataset: { test: 'audit-list' } });
  const show = pagedList(ui, region,
    (cursor) => api.get('/api/audit', { ...filters, limit: 50, cursor }),
    (items) => {
      const wrap = ui.table(columns, items, { empty: 'No events match these filters.', caption: 'Audit events' });
      wrap.querySelectorAll('tbody tr').forEach((tr, i) => {
        if (items[i]) {
          tr.dataset.test = 'audit-row';
          tr.dataset.action = items[i].action;
        }
      });
      return wrap;
    });
  root.append(h('section', { class: 'card' }, h('h2', { class: 'card-title' }, 'Audit log'), form, region));
  await show();
}

// ------------------------------------------------------------------ the page

const RENDERERS = {
  reconciliation: renderReconciliation,
  users: renderUsers,
  'api-keys': renderApiKeys,
  licences: renderLicences,
  audit: renderAudit,
};

export const page = {
  id: 'settings',
  title: 'Settings',
  permission: null,
  render: async (root, ctx) => {
    const { ui } = ctx;
    const { h } = ui;
    const visible = TABS.filter((t) => ctx.can(t.permission));
    root.append(h('div', { class: 'page-head' }, h('h1', null, 'Settings')));
    if (!visible.length) {
      root.append(h('p', { class: 'notice notice-warn' }, 'Your role has no settings to see.'));
      return;
    }
    const asked = ctx.params.get('tab');
    const tab = visible.find((t) => t.id === asked) || visible[0];
    root.append(h('nav', { class: 'tabs', 'aria-label': 'Settings sections' },
      visible.map((t) => h('a', {
        href: hashFor('settings', { tab: t.id }),
        'aria-current': t.id === tab.id ? 'page' : null,
        dataset: { test: `tab-${t.id}` },
      }, t.label))));
    const panel = h('div', { class: 'stack', dataset: { test: `panel-${tab.id}` } });
    root.append(panel);
    await RENDERERS[tab.id](ctx, panel);
  },
};
