// Boot, auth state, hash router, navigation and the page registry of the dashboard.

import * as api from './api.js';
import * as ui from './ui.js';
import { page as loginPage, enrolPage } from './pages/login.js';
import { page as overviewPage } from './pages/overview.js';
import { page as reviewPage } from './pages/review.js';
import { page as transactionsPage } from './pages/transactions.js';
import { page as invoicesPage } from './pages/invoices.js';
import { page as connectionsPage } from './pages/connections.js';
import { page as settingsPage } from './pages/settings.js';
import { page as accountPage } from './pages/account.js';

const { h, clear } = ui;

// Order = order in the navigation.
const PAGES = [overviewPage, reviewPage, transactionsPage, invoicesPage, connectionsPage, settingsPage, accountPage];
const BY_ID = new Map(PAGES.map((p) => [p.id, p]));
const DEFAULT_PAGE = 'overview';

const state = {
  user: null,
  renderSeq: 0,
  navLinks: new Map(),
  reviewCount: null,
};

function appRoot() {
  return document.getElementById('app');
}

function can(permission) {
  if (!permission) return true;
  return Boolean(state.user && Array.isArray(state.user.permissions) && state.user.permissions.includes(permission));
}

function parseHash() {
  const raw = window.location.hash.replace(/^#\/?/, '');
  const [path, query = ''] = raw.split('?');
  return { id: path.split('/')[0] || '', params: new URLSearchParams(query) };
}

function navigate(hash) {
  const target = hash.startsWith('#') ? hash : `#${hash}`;
  if (window.location.hash === target) {
    route();
  } else {
    window.location.hash = target;
  }
}

async function loadUser() {
  try {
    state.user = await api.get('/api/auth/me');
  } catch (err) {
    if (err instanceof api.ApiError && (err.status === 401 || err.status === 403)) {
      state.user = null;
    } else {
      throw err;
    }
  }
  return state.user;
}

function needsEnrolment(user) {
  return Boolean(user && user.mfa_required && !user.mfa_enabled);
}

async function signOut() {
  try {
    await api.post('/api/auth/logout');
  } catch {
    // the session may already be gone; the cookies are cleared either way
  }
  state.user = null;
  state.reviewCount = null;
  window.location.hash = '#/overview';
  showLogin('You have signed out.');
}

function buildLayout() {
  const root = appRoot();
  clear(root);
  state.navLinks.clear();

  const nav = h('nav', { class: 'nav', id: 'nav', 'aria-label': 'Main' });
  const list = h('ul');
  for (const p of PAGES) {
    if (!can(p.permission)) continue;
    const count = p.id === 'review' ? h('span', { class: 'nav-count', hidden: true, 'aria-label': 'waiting' }) : null;
    const link = h('a', { href: `#/${p.id}`, dataset: { test: `nav-${p.id}` } }, h('span', null, p.title), count);
    link.addEventListener('click', () => nav.classList.remove('is-open'));
    state.navLinks.set(p.id, { link, count });
    list.appendChild(h('li', null, link));
  }
  nav.appendChild(list);

  const toggle = h('button', {
    type: 'button', class: 'btn btn-small nav-toggle', 'aria-controls': 'nav', 'aria-expanded': 'false',
    on: {
      click: () => {
        const open = nav.classList.toggle('is-open');
        toggle.setAttribute('aria-expanded', String(open));
      },
    },
  }, 'Menu');

  const signOutButton = h('button', {
    type: 'button', class: 'btn btn-small', dataset: { test: 'sign-out' },
    on: { click: () => ui.busy(signOutButton, signOut) },
  }, 'Sign out');

  const topbar = h('header', { class: 'topbar' },
    toggle,
    h('a', { class: 'brand', href: '#/overview' }, h('span', { class: 'brand-mark' }, 'P'), 'ayymo'),
    h('span', { class: 'topbar-spacer' }),
    h('span', { class: 'topbar-user', dataset: { test: 'current-user' } }, `${state.user.email} · ${roleLabel(state.user.role)}`),
    signOutButton);

  const main = h('main', { id: 'main', tabindex: '-1' });
  root.append(topbar, h('div', { class: 'shell' }, nav, main));
  return main;
}

const ROLE_LABELS = {
  read_only: 'Read only',
  account_manager: 'Account manager',
  financial_admin: 'Financial admin',
  system_admin: 'System admin',
  api_integration: 'API integration',
};

function roleLabel(role) {
  return ROLE_LABELS[role] || role;
}

function ctxFor(params) {
  return { api, ui, user: state.user, can, params, navigate, refreshBadges };
}

async function refreshBadges() {
  if (!state.user || !can('tenant:read')) return;
  const entry = state.navLinks.get('review');
  if (!entry || !entry.count) return;
  try {
    const overview = await api.get('/api/overview');
    const n = Number(overview.review_waiting) || 0;
    state.reviewCount = n;
    entry.count.textContent = String(n);
    entry.count.setAttribute('aria-label', `${n} waiting`);
    entry.count.hidden = n === 0;
  } catch {
    // the badge is a convenience; the page itself reports errors
  }
}

function mainEl() {
  let main = document.getElementById('main');
  if (!main || !main.closest('.shell')) main = buildLayout();
  return main;
}

async function route() {
  if (!state.user) return;
  const { id, params } = parseHash();
  if (!id || !BY_ID.has(id)) {
    const first = can(BY_ID.get(DEFAULT_PAGE).permission) ? DEFAULT_PAGE : 'account';
    window.location.replace(`#/${first}`);
    return;
  }
  const page = BY_ID.get(id);
  const main = mainEl();
  for (const [pid, { link }] of state.navLinks) {
    if (pid === id) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  document.title = `${page.title} · Payymo`;
  const seq = ++state.renderSeq;
  clear(main);
  main.dataset.page = id;
  delete main.dataset.ready;
  if (!can(page.permission)) {
    main.append(h('h1', null, page.title), h('p', { class: 'notice notice-warn' }, 'Your role does not give access to this page.'));
    return;
  }
  main.appendChild(h('p', { class: 'loading', role: 'status' }, 'Loading…'));
  const container = h('div', { class: 'page', dataset: { page: id } });
  try {
    await page.render(container, ctxFor(params));
    if (seq !== state.renderSeq) return; // the user moved on meanwhile
    clear(main);
    main.appendChild(container);
  } catch (err) {
    if (seq !== state.renderSeq) return;
    clear(main);
    main.append(h('h1', null, page.title), h('p', { class: 'notice notice-bad', role: 'alert' }, ui.errorMessage(err)));
  }
  main.dataset.ready = '1';
  if (document.activeElement === document.body || !main.contains(document.activeElement)) {
    if (state.focusOnRoute) main.focus({ preventScroll: true });
  }
  state.focusOnRoute = true;
}

function centerRoot() {
  const root = appRoot();
  clear(root);
  const main = h('main', { id: 'main', tabindex: '-1', class: 'center-page' });
  root.appendChild(main);
  state.navLinks.clear();
  return main;
}

function showLogin(message) {
  document.title = 'Sign in · Payymo';
  const main = centerRoot();
  loginPage.render(main, { api, ui, user: null, can: () => false, params: new URLSearchParams(), navigate, refreshBadges, message, onSignedIn: afterSignIn });
}

function showEnrolment() {
  document.title = 'Set up two-step sign-in · Payymo';
  const main = centerRoot();
  enrolPage.render(main, { api, ui, user: state.user, can, params: new URLSearchParams(), navigate, refreshBadges, onDone: afterSignIn });
}

async function afterSignIn() {
  const user = await loadUser();
  if (!user) {
    showLogin('Signing in did not complete. Please try again.');
    return;
  }
  if (needsEnrolment(user)) {
    showEnrolment();
    return;
  }
  buildLayout();
  state.focusOnRoute = false;
  await route();
  refreshBadges();
}

async function boot() {
  window.addEventListener('hashchange', () => { route(); });
  window.addEventListener('payymo:unauthorized', () => {
    if (state.user) {
      state.user = null;
      showLogin('Your session has ended. Please sign in again.');
    }
  });
  try {
    const user = await loadUser();
    if (!user) {
      showLogin();
      return;
    }
    await afterSignIn();
  } catch (err) {
    const main = centerRoot();
    main.append(h('div', { class: 'card auth-card' },
      h('h1', null, 'Payymo'),
      h('p', { class: 'form-error', role: 'alert' }, ui.errorMessage(err)),
      h('button', { type: 'button', class: 'btn', on: { click: () => window.location.reload() } }, 'Try again')));
  }
}

boot();
