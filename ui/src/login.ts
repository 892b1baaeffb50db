// The login page: POST /api/v1/session {username, password}; the server sets the session cookie.

import { api, ApiError } from './api';
import { h } from './dom';
import { navigate } from './router';
import type { Page } from './main';

/** Where to go after logging in: `return_url` when it is a local path. */
function returnUrl(): string {
  const r = new URLSearchParams(location.search).get('return_url') || '';
  return r.startsWith('/') && !r.startsWith('//') && !r.startsWith('/login') ? r : '/applications';
}

/** Builds the login page. */
export function loginPage(): Page {
  const user = h('input', { id: 'login-username', testid: 'login-username', name: 'username', autocomplete: 'username', required: true, autofocus: true });
  const pass = h('input', { id: 'login-password', testid: 'login-password', name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const err = h('p', { class: 'error', testid: 'login-error', role: 'alert', hidden: true });
  const submit = h('button', { class: 'btn primary', type: 'submit', testid: 'login-submit' }, 'Sign in');
  const form = h(
    'form',
    {
      class: 'login card',
      onsubmit: async (e: Event) => {
        e.preventDefault();
        err.hidden = true;
        submit.disabled = true;
        try {
          await api('/api/v1/session', { method: 'POST', body: { username: user.value, password: pass.value }, noLoginRedirect: true });
          navigate(returnUrl(), true);
        } catch (e2) {
          const status = e2 instanceof ApiError ? e2.status : 0;
          err.textContent =
            status === 401 ? 'Invalid username or password.' : status === 429 ? 'Too many attempts: wait a moment and try again.' : `Sign-in failed: ${(e2 as Error).message}`;
          err.hidden = false;
          pass.select();
        } finally {
          submit.disabled = false;
        }
      },
    },
    h('h1', null, 'fjord'),
    h('label', { for: 'login-username' }, 'Username'),
    user,
    h('label', { for: 'login-password' }, 'Password'),
    pass,
    err,
    submit,
  );
  setTimeout(() => user.focus(), 0);
  return { el: h('div', { class: 'login-page' }, form), destroy() {} };
}
