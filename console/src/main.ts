import { DeploymentView } from './deployment-view.js';
import { h, show } from './dom.js';
import { DeploymentApi, readSession, type Session } from './http.js';
import { framed, loginView, popupDoneView, POPUP_RETURN } from './login-view.js';
import { errorView } from './refusal-view.js';

/** The page's entry: who is logged in (`GET /session`), then the list of deployments or one deployment's console. */

const body = document.body;
const app = document.getElementById('app')!;
const who = document.getElementById('who')!;
const deployment = body.dataset.deployment;
const proxyPrefix = body.dataset.proxyPrefix ?? '/airflow';
const here = deployment === undefined ? '/console' : `/console/${encodeURIComponent(deployment)}`;

/**
 * Ends the session. At the top level a form post, so the broker can send the browser on to the directory's
 * logout; in a frame (where the directory's pages refuse to load) the session is ended by a call, then the frame reloads.
 */
function logoutControl(session: Session): HTMLElement {
  const form = h(
    'form',
    { method: 'post', action: '/logout', class: 'logout' },
    h('input', { type: 'hidden', name: 'csrf_token', value: session.csrf_token }),
    h('input', { type: 'hidden', name: 'return_to', value: here }),
    h('button', { type: 'submit' }, 'Log out'),
  );
  if (framed()) {
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      await fetch('/logout', { method: 'POST', credentials: 'same-origin', redirect: 'manual', headers: { 'x-csrf-token': session.csrf_token } }).catch(() => undefined);
      location.reload();
    });
  }
  return form;
}

function deploymentList(session: Session): HTMLElement {
  const consoles = new Set((body.dataset.consoles ?? '').split(' '));
  const mine = session.deployments.filter((d) => consoles.has(d));
  if (mine.length === 0) return h('section', {}, h('h2', {}, 'Deployments'), h('p', {}, 'You have no role for any deployment.'));
  return h('section', { 'aria-labelledby': 'deployments-title' }, h('h2', { id: 'deployments-title' }, 'Deployments'), h('ul', {}, ...mine.map((d) => h('li', {}, h('a', { href: `/console/${encodeURIComponent(d)}` }, d)))));
}

async function main(): Promise<void> {
  let session: Session | undefined;
  try {
    session = await readSession();
  } catch (err) {
    return show(app, errorView(err, 'Reading your session'));
  }
  if (!session) return show(app, loginView(here));
  // Back from a login a framed console opened (its window may have lost `opener` on the way through the directory).
  if (new URLSearchParams(location.search).toString() === POPUP_RETURN) return show(app, popupDoneView());
  show(who, h('span', { class: 'person' }, session.name ?? session.email ?? session.subject), ' ', logoutControl(session));
  if (deployment === undefined) return show(app, deploymentList(session));
  const view = new DeploymentView(new DeploymentApi(proxyPrefix, deployment, session.csrf_token));
  const noRole = session.deployments.includes(deployment) ? null : h('p', { role: 'status' }, `You have no role for ${deployment}: the proxy refuses what you try here.`);
  show(app, noRole, view.element);
  await view.start();
}

void main();
