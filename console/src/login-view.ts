import { h } from './dom.js';
import { readSession } from './http.js';

/** True when this page is inside a frame of another page (the embedded console). */
export const framed = () => window.self !== window.top;

/** The broker's login, coming back to `returnTo` (a path of this origin). */
export const loginUrl = (returnTo: string) => `/login?return_to=${encodeURIComponent(returnTo)}`;

/**
 * The query a login started from a frame comes back with: the popup then closes itself. The broker recognises
 * `/console/<d>?login=popup` as the framed console's login and, for a deployment with `frame_ancestors` on an https
 * issuer, gives it the embed cookie (src/login/logins.ts).
 */
export const POPUP_RETURN = 'login=popup';

/**
 * Nobody is logged in. At the top level: a link to the login. In a frame: directories refuse to be framed, so the
 * login opens in its own window; the frame asks `GET /session` until the login has happened there, then reloads.
 */
export function loginView(returnTo: string): HTMLElement {
  if (!framed()) {
    return h('section', { class: 'login', 'aria-labelledby': 'login-title' }, h('h2', { id: 'login-title' }, 'Not logged in'), h('p', {}, h('a', { href: loginUrl(returnTo), class: 'button' }, 'Log in')));
  }
  const status = h('p', { role: 'status' });
  const popupUrl = loginUrl(`${returnTo}${returnTo.includes('?') ? '&' : '?'}${POPUP_RETURN}`);
  const start = () => {
    const popup = window.open(popupUrl, 'atb-login', 'popup,width=520,height=720');
    status.textContent = popup ? 'Log in in the window that opened; this console reloads when you are done.' : 'The login window was blocked: use the link below.';
    waitForSession();
  };
  return h(
    'section',
    { class: 'login', 'aria-labelledby': 'login-title' },
    h('h2', { id: 'login-title' }, 'Not logged in'),
    h('p', {}, h('button', { type: 'button', onclick: start }, 'Log in (opens a new window)')),
    status,
    h('p', {}, h('a', { href: popupUrl, target: '_blank', rel: 'opener' }, 'Open the login in a new tab')),
  );
}

let waiting = false;

/** Polls `GET /session` (at most 10 minutes) and reloads once a session exists. */
function waitForSession(): void {
  if (waiting) return;
  waiting = true;
  const until = Date.now() + 10 * 60_000;
  const tick = async () => {
    if ((await readSession().catch(() => undefined)) !== undefined) return location.reload();
    if (Date.now() < until) setTimeout(tick, 1500);
    else waiting = false;
  };
  setTimeout(tick, 1500);
}

/** The login window of a framed console, back after the login: it says so and closes itself. */
export function popupDoneView(): HTMLElement {
  setTimeout(() => window.close(), 300);
  return h('section', { class: 'login' }, h('h2', {}, 'Logged in'), h('p', { role: 'status' }, 'You are logged in: this window can be closed, the console reloads by itself.'));
}
