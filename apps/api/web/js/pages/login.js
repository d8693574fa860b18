// Sign-in (e-mail + password, then a code when the account has two-step sign-in) and the MFA
// enrolment a role that requires it must finish before doing anything else.

function authCard(ui, title, ...content) {
  const { h } = ui;
  return h('div', { class: 'card auth-card' },
    h('span', { class: 'brand' }, h('span', { class: 'brand-mark' }, 'P'), 'ayymo'),
    h('h1', null, title),
    content);
}

function errorBox(ui) {
  return ui.h('p', { class: 'form-error', role: 'alert', hidden: true });
}

function showError(box, message) {
  box.textContent = message;
  box.hidden = false;
}

function renderCode(root, ctx, challenge) {
  const { ui } = ctx;
  const { h, clear } = ui;
  const code = h('input', {
    type: 'text', name: 'code', inputmode: 'numeric', autocomplete: 'one-time-code', required: true,
    class: 'code-input', maxlength: '32', dataset: { test: 'mfa-code' },
  });
  const error = errorBox(ui);
  const submit = h('button', { type: 'submit', class: 'btn btn-primary', dataset: { test: 'mfa-submit', busyLabel: 'Checking…' } }, 'Verify');
  const form = h('form', { class: 'form', novalidate: true },
    h('p', { class: 'muted' }, 'Enter the 6-digit code from your authenticator app, or one of your recovery codes.'),
    ui.field('Code', code),
    error,
    submit,
    h('button', { type: 'button', class: 'btn btn-link', on: { click: () => renderPassword(root, ctx) } }, 'Back'));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const value = code.value.replace(/\s+/g, '');
    if (!value) {
      showError(error, 'Enter the code.');
      code.focus();
      return;
    }
    ui.busy(submit, async () => {
      try {
        await ctx.api.post('/api/auth/mfa/verify', { mfa_token: challenge.mfa_token, code: value, mode: 'cookie' });
        await ctx.onSignedIn();
      } catch (err) {
        if (err instanceof ctx.api.ApiError && err.status === 401) {
          showError(error, 'That code did not work. Codes change every 30 seconds; if you waited long, go back and sign in again.');
        } else {
          showError(error, ui.errorMessage(err));
        }
        code.select();
        code.focus();
      }
    });
  });
  clear(root);
  root.appendChild(authCard(ui, 'Two-step sign-in', form));
  code.focus();
}

function renderPassword(root, ctx) {
  const { ui } = ctx;
  const { h, clear } = ui;
  const email = h('input', { type: 'email', name: 'email', autocomplete: 'username', required: true, dataset: { test: 'login-email' } });
  const password = h('input', { type: 'password', name: 'password', autocomplete: 'current-password', required: true, dataset: { test: 'login-password' } });
  const error = errorBox(ui);
  const submit = h('button', { type: 'submit', class: 'btn btn-primary', dataset: { test: 'login-submit', busyLabel: 'Signing in…' } }, 'Sign in');
  const form = h('form', { class: 'form', novalidate: true },
    ctx.message ? h('p', { class: 'notice', role: 'status' }, ctx.message) : null,
    ui.field('E-mail', email),
    ui.field('Password', password),
    error,
    submit);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    if (!email.value.trim() || !password.value) {
      showError(error, 'Enter your e-mail and password.');
      (email.value.trim() ? password : email).focus();
      return;
    }
    ui.busy(submit, async () => {
      try {
        const answer = await ctx.api.post('/api/auth/login', { email: email.value.trim(), password: password.value, mode: 'cookie' });
        if (answer && answer.mfa_required) {
          renderCode(root, { ...ctx, message: null }, answer);
          return;
        }
        await ctx.onSignedIn();
      } catch (err) {
        if (err instanceof ctx.api.ApiError && err.status === 401) {
          showError(error, 'The e-mail or password is not right, or the account is locked.');
        } else {
          showError(error, ui.errorMessage(err));
        }
        password.select();
        password.focus();
      }
    });
  });
  clear(root);
  root.appendChild(authCard(ui, 'Sign in', form));
  email.focus();
}

/** The sign-in page; `ctx.onSignedIn()` continues once the cookies are set. */
export const page = {
  id: 'login',
  title: 'Sign in',
  permission: null,
  render: async (root, ctx) => renderPassword(root, ctx),
};

/**
 * Enrolment of an authenticator: start, show the key, confirm a code, show the recovery codes
 * once. Used at sign-in when the role requires it and from the account page (`ctx.onDone`).
 */
export async function renderEnrolment(root, ctx, { heading = true, intro } = {}) {
  const { ui } = ctx;
  const { h, clear } = ui;
  clear(root);
  let setup;
  try {
    setup = await ctx.api.post('/api/auth/mfa/setup');
  } catch (err) {
    root.append(h('p', { class: 'form-error', role: 'alert' }, ui.errorMessage(err)));
    return;
  }
  const code = h('input', {
    type: 'text', name: 'code', inputmode: 'numeric', autocomplete: 'one-time-code', required: true,
    class: 'code-input', maxlength: '6', dataset: { test: 'mfa-enrol-code' },
  });
  const error = errorBox(ui);
  const submit = h('button', { type: 'submit', class: 'btn btn-primary', dataset: { test: 'mfa-enrol-submit', busyLabel: 'Confirming…' } }, 'Confirm');
  const form = h('form', { class: 'form', novalidate: true },
    heading ? h('h2', null, 'Set up two-step sign-in') : null,
    h('p', null, intro || 'Add Payymo to an authenticator app (for example one that supports TOTP codes), then enter the 6-digit code it shows.'),
    h('p', { class: 'small muted' }, 'Key to type in by hand:'),
    h('p', { class: 'secret-box', dataset: { test: 'mfa-secret' } }, setup.secret.replace(/(.{4})/g, '$1 ').trim()),
    h('details', null,
      h('summary', null, 'Setup link for apps that accept one'),
      h('p', { class: 'secret-box small', dataset: { test: 'mfa-otpauth' } }, setup.otpauth_uri)),
    ui.field('Code from the app', code),
    error,
    submit);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const value = code.value.replace(/\s+/g, '');
    if (!/^\d{6}$/.test(value)) {
      showError(error, 'Enter the 6 digits the app shows.');
      code.focus();
      return;
    }
    ui.busy(submit, async () => {
      try {
        const enabled = await ctx.api.post('/api/auth/mfa/enable', { code: value });
        showRecoveryCodes(root, ctx, enabled.recovery_codes || []);
      } catch (err) {
        showError(error, err instanceof ctx.api.ApiError && err.status < 500
          ? `That code was not accepted: ${ui.errorMessage(err)}` : ui.errorMessage(err));
        code.select();
        code.focus();
      }
    });
  });
  root.appendChild(form);
  code.focus();
}

function showRecoveryCodes(root, ctx, codes) {
  const { ui } = ctx;
  const { h, clear } = ui;
  clear(root);
  const done = h('button', { type: 'button', class: 'btn btn-primary', dataset: { test: 'mfa-enrol-done' } }, 'I have saved them, continue');
  done.addEventListener('click', () => ui.busy(done, async () => { await ctx.onDone(); }));
  root.append(
    h('h2', null, 'Two-step sign-in is on'),
    h('p', { class: 'notice notice-warn' }, 'Save these recovery codes somewhere safe. Each one signs you in once if you lose your authenticator. They are shown only now.'),
    h('ol', { class: 'code-list', dataset: { test: 'recovery-codes' } }, codes.map((c) => h('li', null, c))),
    done);
  done.focus();
}

/** The enrolment a role requiring MFA must finish right after signing in. */
export const enrolPage = {
  id: 'mfa-enrolment',
  title: 'Set up two-step sign-in',
  permission: null,
  render: async (root, ctx) => {
    const { h } = ctx.ui;
    const body = h('div');
    const signOut = h('button', { type: 'button', class: 'btn btn-link', dataset: { test: 'sign-out' } }, 'Sign out');
    signOut.addEventListener('click', () => ctx.ui.busy(signOut, async () => {
      try { await ctx.api.post('/api/auth/logout'); } catch { /* already gone */ }
      window.location.reload();
    }));
    root.appendChild(authCard(ctx.ui, 'Set up two-step sign-in',
      h('p', { class: 'muted' }, 'Your role requires two-step sign-in before you can use Payymo.'),
      body,
      signOut));
    await renderEnrolment(body, ctx, { heading: false });
  },
};
