// The signed-in user's account: sessions (with "end session"), password change, two-step
// sign-in (enrol or turn off).

import { renderEnrolment } from './login.js';

function describeAgent(agent) {
  if (!agent) return 'Unknown device';
  const browser = /Edg\//.test(agent) ? 'Edge'
    : /Chrome\//.test(agent) ? 'Chrome'
      : /Firefox\//.test(agent) ? 'Firefox'
        : /Safari\//.test(agent) ? 'Safari' : null;
  const system = /Windows/.test(agent) ? 'Windows'
    : /Android/.test(agent) ? 'Android'
      : /iPhone|iPad/.test(agent) ? 'iOS'
        : /Mac OS X|Macintosh/.test(agent) ? 'macOS'
          : /Linux/.test(agent) ? 'Linux' : null;
  if (browser || system) return [browser, system].filter(Boolean).join(' on ');
  return agent.length > 60 ? `${agent.slice(0, 57)}…` : agent;
}

function sessionsSection(ctx) {
  const { ui, api } = ctx;
  const { h, clear } = ui;
  const body = h('div', null, h('p', { class: 'loading' }, 'Loading sessions…'));

  async function load() {
    let data;
    try {
      data = await api.get('/api/auth/sessions');
    } catch (err) {
      clear(body);
      body.appendChild(h('p', { class: 'form-error', role: 'alert' }, ui.errorMessage(err)));
      return;
    }
    clear(body);
    body.appendChild(ui.table([
      { label: 'Device', render: (s) => [describeAgent(s.user_agent), s.current ? [' ', ui.badge('This session', 'info')] : null] },
      { label: 'Address', render: (s) => s.ip || '—' },
      { label: 'Signed in', render: (s) => ui.dateTime(s.created_at) },
      { label: 'Last active', render: (s) => ui.dateTime(s.last_used_at) },
      {
        label: 'Action',
        render: (s) => {
          const button = h('button', {
            type: 'button', class: 'btn btn-small btn-danger', dataset: { test: 'end-session', busyLabel: 'Ending…' },
            'aria-label': s.current ? 'End this session (sign out)' : `End session on ${describeAgent(s.user_agent)}`,
          }, s.current ? 'Sign out' : 'End session');
          button.addEventListener('click', async () => {
            const ok = await ui.confirmDialog(
              s.current ? 'End this session? You will be signed out.' : `End the session on ${describeAgent(s.user_agent)}? That device will be signed out at once.`,
              { confirmLabel: 'End session', danger: true },
            );
            if (!ok) return;
            await ui.busy(button, async () => {
              try {
                await api.del(`/api/auth/sessions/${encodeURIComponent(s.id)}`);
                if (s.current) {
                  window.location.hash = '#/overview';
                  window.location.reload();
                  return;
                }
                ui.toast('Session ended.', 'success');
                await load();
              } catch (err) {
                ui.toast(ui.errorMessage(err), 'error');
              }
            });
          });
          return button;
        },
      },
    ], data.items || [], { empty: 'No sessions.', caption: 'Your sessions' }));
  }
  load();
  return h('section', { class: 'card section', 'aria-labelledby': 'acc-sessions' },
    h('h2', { class: 'card-title', id: 'acc-sessions' }, 'Where you are signed in'),
    body);
}

function passwordSection(ctx) {
  const { ui, api } = ctx;
  const { h } = ui;
  const current = h('input', { type: 'password', autocomplete: 'current-password', required: true, dataset: { test: 'password-current' } });
  const next = h('input', { type: 'password', autocomplete: 'new-password', required: true, minlength: '12', dataset: { test: 'password-new' } });
  const repeat = h('input', { type: 'password', autocomplete: 'new-password', required: true, dataset: { test: 'password-repeat' } });
  const error = h('p', { class: 'form-error', role: 'alert', hidden: true });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary', dataset: { test: 'password-save', busyLabel: 'Changing…' } }, 'Change password');
  const form = h('form', { class: 'form', novalidate: true },
    ui.field('Current password', current),
    ui.field('New password', next, 'At least 12 characters with upper- and lower-case letters, a digit and a symbol; not a common password.'),
    ui.field('New password again', repeat),
    error,
    h('div', null, submit));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    error.hidden = true;
    if (!current.value || !next.value) {
      error.textContent = 'Fill in your current and your new password.';
      error.hidden = false;
      return;
    }
    if (next.value !== repeat.value) {
      error.textContent = 'The two new passwords differ.';
      error.hidden = false;
      repeat.focus();
      return;
    }
    ui.busy(submit, async () => {
      try {
        const done = await api.post('/api/auth/password', { current_password: current.value, new_password: next.value });
        form.reset();
        const ended = done && done.other_sessions_ended ? ` ${done.other_sessions_ended} other session(s) were signed out.` : '';
        ui.toast(`Password changed.${ended}`, 'success');
      } catch (err) {
        error.textContent = ui.errorMessage(err);
        error.hidden = false;
      }
    });
  });
  return h('section', { class: 'card section', 'aria-labelledby': 'acc-password' },
    h('h2', { class: 'card-title', id: 'acc-password' }, 'Password'),
    form);
}

function mfaSection(ctx) {
  const { ui, api, user } = ctx;
  const { h, clear } = ui;
  const body = h('div');
  const section = h('section', { class: 'card section', 'aria-labelledby': 'acc-mfa' },
    h('h2', { class: 'card-title', id: 'acc-mfa' }, 'Two-step sign-in'),
    body);

  function showState(enabled) {
    clear(body);
    if (!enabled) {
      const start = h('button', { type: 'button', class: 'btn btn-primary', dataset: { test: 'mfa-start', busyLabel: 'Starting…' } }, 'Set up two-step sign-in');
      start.addEventListener('click', () => ui.busy(start, async () => {
        await renderEnrolment(body, { ...ctx, onDone: async () => { showState(true); } }, { heading: false });
      }));
      body.append(h('p', null, ui.badge('Off', 'warn'), ' Signing in needs only your password.'), start);
      return;
    }
    const code = h('input', { type: 'text', inputmode: 'numeric', autocomplete: 'one-time-code', class: 'code-input', dataset: { test: 'mfa-disable-code' } });
    const error = h('p', { class: 'form-error', role: 'alert', hidden: true });
    const off = h('button', { type: 'submit', class: 'btn btn-danger', dataset: { test: 'mfa-disable', busyLabel: 'Turning off…' } }, 'Turn off');
    const form = h('form', { class: 'form-inline', novalidate: true }, ui.field('Code from your app', code), off);
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      ui.busy(off, async () => {
        try {
          await api.post('/api/auth/mfa/disable', { code: code.value.replace(/\s+/g, '') });
          ui.toast('Two-step sign-in is off.', 'success');
          if (user.mfa_required) {
            window.location.reload();
            return;
          }
          showState(false);
        } catch (err) {
          error.textContent = ui.errorMessage(err);
          error.hidden = false;
        }
      });
    });
    body.append(
      h('p', null, ui.badge('On', 'ok'), ' Signing in asks for a code from your authenticator app.'),
      user.mfa_required ? h('p', { class: 'muted small' }, 'Your role requires it: turning it off locks you out of everything but setting it up again.') : null,
      form, error);
  }
  showState(Boolean(user.mfa_enabled));
  return section;
}

export const page = {
  id: 'account',
  title: 'Account',
  permission: null,
  render: async (root, ctx) => {
    const { h } = ctx.ui;
    root.append(
      h('div', { class: 'page-head' }, h('h1', null, 'Account')),
      h('dl', { class: 'details card' },
        h('dt', null, 'E-mail'), h('dd', { dataset: { test: 'account-email' } }, ctx.user.email),
        h('dt', null, 'Role'), h('dd', null, ctx.user.role.replace(/_/g, ' '))),
      sessionsSection(ctx),
      passwordSection(ctx),
      mfaSection(ctx));
  },
};
