/**
 * The console's calls: `GET /session` and the deployment's API through the proxy, same-origin with the session
 * cookie. Unsafe methods carry the session's CSRF token; the page never sees a bearer token.
 */

export interface Session {
  subject: string;
  name?: string;
  email?: string;
  groups: string[];
  roles: string[];
  deployments: string[];
  /** Set on a session made by a login from a framed console: valid for this deployment only. */
  embedded?: string;
  csrf_token: string;
  /** ISO 8601 times (UTC). */
  expires_at: string;
  idle_expires_at: string;
}

/** An error answer of the broker, the proxy or Airflow, with the fields the proxy's refusals carry. */
export class CallError extends Error {
  constructor(
    readonly status: number,
    readonly body: { error?: string; error_description?: string; reason?: string; operation?: string; detail?: unknown },
  ) {
    super(body.error_description ?? (typeof body.detail === 'string' ? body.detail : undefined) ?? body.error ?? `HTTP ${status}`);
  }
}

async function readBody(res: Response): Promise<unknown> {
  const text = await res.text();
  if (text === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

async function call<T>(url: string, init: RequestInit): Promise<T> {
  const res = await fetch(url, { ...init, credentials: 'same-origin', cache: 'no-store' });
  const body = await readBody(res);
  if (!res.ok) throw new CallError(res.status, typeof body === 'object' && body !== null ? body : { error: typeof body === 'string' ? body : undefined });
  return body as T;
}

/** The person's session, or undefined when nobody is logged in (401). */
export async function readSession(): Promise<Session | undefined> {
  try {
    return await call<Session>('/session', { headers: { accept: 'application/json' } });
  } catch (err) {
    if (err instanceof CallError && err.status === 401) return undefined;
    throw err;
  }
}

/** `<prefix>/<deployment>/api/v2` through the proxy. */
export class DeploymentApi {
  private readonly base: string;

  constructor(proxyPrefix: string, deployment: string, private readonly csrfToken: string) {
    this.base = `${proxyPrefix}/${encodeURIComponent(deployment)}/api/v2`;
  }

  /** `path` segments are encoded by the caller ({@link segment}); `query` is appended. */
  get<T>(path: string, query: Record<string, string | number> = {}): Promise<T> {
    const search = new URLSearchParams(Object.entries(query).map(([k, v]) => [k, String(v)])).toString();
    return call<T>(this.base + path + (search ? `?${search}` : ''), { headers: { accept: 'application/json' } });
  }

  send<T>(method: 'POST' | 'PATCH' | 'DELETE', path: string, body?: unknown): Promise<T> {
    return call<T>(this.base + path, {
      method,
      headers: { accept: 'application/json', 'content-type': 'application/json', 'x-csrf-token': this.csrfToken },
      ...(body !== undefined && { body: JSON.stringify(body) }),
    });
  }
}

/** One path segment, encoded (DAG ids, run ids and variable keys may hold characters a URL path reserves). */
export const segment = (value: string) => `/${encodeURIComponent(value)}`;
