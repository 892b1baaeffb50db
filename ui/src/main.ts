// Entry point: the shell (top bar, cluster banner, theme) and the router.

import './style.css';
import { api, ApiError } from './api';
import { h, replace } from './dom';
import { installLinkHandler, navigate, onRoute } from './router';
import { loginPage } from './login';
import { listPage } from './list';
import { appPage } from './app';

/** A mounted page. */
export interface Page {
  el: HTMLElement;
  destroy(): void;
}

const root = document.getElementById('app') as HTMLElement;
const banner = h('div', { class: 'banner', testid: 'cluster-status', role: 'status', hidden: true });
const userEl = h('span', { class: 'user' });
const main = h('main', { id: 'main' });
let current: Page | undefined;

function themeToggle(): HTMLElement {
  const apply = (t: string) => {
    if (t === 'auto') delete document.documentElement.dataset.theme;
    else document.documentElement.dataset.theme = t;
    btn.textContent = t === 'dark' ? '☾ Dark' : t === 'light' ? '☀ Light' : '◐ Auto';
  };
  const btn = h('button', {
    class: 'btn ghost',
    testid: 'theme-toggle',
    title: 'Colour theme (auto follows the system)',
    onclick: () => {
      const order = ['auto', 'light', 'dark'];
      const next = order[(order.indexOf(localStorage.getItem('fjord.theme') || 'auto') + 1) % 3];
      localStorage.setItem('fjord.theme', next);
      apply(next);
    },
  });
  apply(localStorage.getItem('fjord.theme') || 'auto');
  return btn;
}

const logout = h('button', {
  class: 'btn ghost',
  testid: 'logout',
  onclick: async () => {
    try {
      await api('/api/v1/session', { method: 'DELETE', noLoginRedirect: true });
    } catch {
      /* the cookie may already be gone */
    }
    navigate('/login');
  },
}, 'Log out');

replace(
  root,
  h('header', { class: 'topbar' }, h('a', { href: '/applications', class: 'logo' }, 'fjord'), h('span', { class: 'spacer' }), userEl, themeToggle(), logout),
  banner,
  main,
);

/** Shows or hides the cluster banner. */
export function setClusterStatus(message: string | null): void {
  banner.hidden = message === null;
  banner.textContent = message ?? '';
}

let settingsTimer: number | undefined;
async function checkSettings(): Promise<void> {
  try {
    const s = await api<{ clusterReachable?: boolean }>('/api/v1/settings', { noLoginRedirect: true });
    setClusterStatus(s.clusterReachable === false ? 'The Kubernetes API is unreachable: showing the last known state.' : null);
  } catch (e) {
    if (e instanceof ApiError && (e.status === 0 || e.status >= 500)) setClusterStatus('The fjord server is unreachable: retrying.');
  }
}

async function loadUser(): Promise<void> {
  try {
    const u = await api<{ loggedIn?: boolean; username?: string }>('/api/v1/session/userinfo', { noLoginRedirect: true });
    userEl.textContent = u.loggedIn && u.username ? u.username : '';
  } catch {
    userEl.textContent = '';
  }
}

function route(): void {
  current?.destroy();
  current = undefined;
  const path = location.pathname;
  const isLogin = path === '/login';
  logout.hidden = isLogin;
  if (settingsTimer !== undefined) clearInterval(settingsTimer);
  settingsTimer = undefined;
  if (!isLogin) {
    void checkSettings();
    void loadUser();
    settingsTimer = window.setInterval(() => void checkSettings(), 10000);
  } else {
    setClusterStatus(null);
  }
  const m = /^\/applications\/([^/]+)\/([^/]+)\/?$/.exec(path);
  if (isLogin) current = loginPage();
  else if (m) current = appPage(decodeURIComponent(m[1]), decodeURIComponent(m[2]));
  else if (path === '/applications' || path === '/applications/') current = listPage();
  else {
    navigate('/applications', true);
    return;
  }
  replace(main, current.el);
}

installLinkHandler();
onRoute(route);
route();
