import { h } from './dom.js';
import { CallError } from './http.js';

/**
 * An error as the person should read it: for a refusal of the proxy its `reason`, `operation` and
 * `error_description` (the same body an API client gets), otherwise the status and whatever text came back.
 */
export function errorView(err: unknown, what: string): HTMLElement {
  if (!(err instanceof CallError)) return h('div', { class: 'problem', role: 'alert' }, h('p', {}, `${what} failed: ${(err as Error)?.message ?? String(err)}`));
  const { error, reason, operation, error_description } = err.body;
  const title = err.status === 403 ? `${what} was refused` : `${what} failed (HTTP ${err.status})`;
  const rows: Array<[string, string | undefined]> = [
    ['Reason', reason],
    ['Error', error],
    ['Operation', operation],
    ['Why', error_description ?? err.message],
  ];
  return h(
    'div',
    { class: 'problem', role: 'alert', 'data-status': err.status, ...(reason && { 'data-reason': reason }) },
    h('p', { class: 'problem-title' }, title),
    h('dl', {}, ...rows.filter(([, v]) => v).flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v!)])),
  );
}
