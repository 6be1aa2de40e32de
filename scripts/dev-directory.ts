import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK, type JWTPayload } from 'jose';
import Provider, { type ClientMetadata } from 'oidc-provider';

/**
 * A development-only central directory: a real OpenID provider (`oidc-provider`) on loopback whose service
 * accounts get JWT access tokens carrying a `groups` claim. Used by `npm run demo` and the integration tests.
 * Never for production: secrets are fixed and keys are generated per start.
 */

export interface DevServiceAccount {
  clientId: string;
  secret: string;
  groups: string[];
  /** Grants the directory allows this client (default: only `client_credentials`). */
  grantTypes?: string[];
}

export const DEMO_ACCOUNTS: DevServiceAccount[] = [
  { clientId: 'demo-etl', secret: 'demo-etl-secret', groups: ['airflow-etl'] },
  { clientId: 'svc-reporting', secret: 'svc-reporting-secret', groups: ['reporting'] },
];

/** A person of the dev directory: logs in at its login page with a password; `groups` travel in the ID token. */
export interface DevPerson {
  username: string;
  password: string;
  groups: string[];
  name?: string;
  email?: string;
}

export const DEMO_PEOPLE: DevPerson[] = [
  { username: 'alice', password: 'alice-password', groups: ['airflow-etl'], name: 'Alice Example', email: 'alice@example.com' },
  { username: 'bob', password: 'bob-password', groups: [], name: 'Bob Example', email: 'bob@example.com' },
];

/** The relying party the broker logs people in as (`login.client_id` / `login.client_secret` of the demo). */
export const DEV_LOGIN_CLIENT = { clientId: 'airflow-token-broker-console', secret: 'demo-console-secret' } as const;

/** The audience of the access tokens this directory issues to service accounts. */
export const DEV_DIRECTORY_AUDIENCE = 'urn:airflow-token-broker';

export interface DevDirectory {
  issuer: string;
  server: Server;
  /** Signs a token with the directory's own key, as it would sign an ID token. `issuedAt` in epoch seconds. */
  signAsDirectory(claims: JWTPayload, options?: { typ?: string; expiresIn?: string | number; issuedAt?: number }): Promise<string>;
  /** Signs exact header and payload bytes (ES256 only, the directory's key): for tests of malformed encodings. */
  signRaw(header: string, payload: string): Promise<string>;
  /**
   * Rotates the signing key as a directory does: a new key is published first in the key set and signs every
   * token from now on; the older keys stay published. Returns the new key's `kid`.
   */
  rotateSigningKey(): Promise<string>;
  /**
   * Registers a redirect URI of the login client {@link DEV_LOGIN_CLIENT} (creating the client on first use), for a
   * broker whose address is known only once the directory runs: `addLoginRedirectUri(`${broker.url}/login/callback`)`.
   */
  addLoginRedirectUri(uri: string): void;
  close(): Promise<void>;
}

export interface DevDirectoryOptions {
  port?: number;
  host?: string;
  accounts?: DevServiceAccount[];
  accessTokenTtlSeconds?: number;
  /** Changes the claims of each JWT access token before it is signed (oidc-provider's `formats.customizers.jwt`). */
  customizeAccessToken?: (payload: Record<string, unknown>) => void;
  /** Fault injection: rewrites the `access_token` string of each token response after it was signed. */
  rewriteAccessToken?: (token: string) => string;
  /**
   * Fault injection: rewrites the `id_token` of each token response after it was signed (a login test re-signs it
   * with another nonce, issuer or key). Read on every response, so a test may set it between logins.
   */
  rewriteIdToken?: (token: string) => string | Promise<string>;
  /** The algorithm of the directory's one signing key (default ES256); its discovery document names only this one. */
  signingAlgorithm?: DevSigningAlgorithm;
  /** People who log in at the login page (default {@link DEMO_PEOPLE}). */
  people?: DevPerson[];
  /**
   * Redirect URIs of the login client {@link DEV_LOGIN_CLIENT} (the broker's `<issuer>/login/callback`); without
   * any, the directory has no login client. Its post-logout redirect URIs are the same URIs' origins +
   * `/login/logged-out`.
   */
  loginRedirectUris?: string[];
}

export type DevSigningAlgorithm = 'ES256' | 'ES384' | 'ES512' | 'RS256' | 'RS384' | 'RS512' | 'PS256' | 'PS384' | 'PS512';

/** The provider's storage: in memory, as befits a throwaway directory (passing one also silences its warning). */
class MemoryAdapter {
  private static readonly store = new Map<string, { payload: Record<string, unknown>; expiresAt: number }>();
  constructor(private readonly model: string) {}
  private key(id: string) {
    return `${this.model}:${id}`;
  }
  async upsert(id: string, payload: Record<string, unknown>, expiresIn: number) {
    MemoryAdapter.store.set(this.key(id), { payload, expiresAt: Date.now() + expiresIn * 1000 });
  }
  async find(id: string) {
    const entry = MemoryAdapter.store.get(this.key(id));
    if (!entry || entry.expiresAt < Date.now()) return undefined;
    return entry.payload;
  }
  async findByUid(uid: string) {
    for (const [k, v] of MemoryAdapter.store) if (k.startsWith(`${this.model}:`) && v.payload.uid === uid) return v.payload;
    return undefined;
  }
  async findByUserCode(userCode: string) {
    for (const [k, v] of MemoryAdapter.store) if (k.startsWith(`${this.model}:`) && v.payload.userCode === userCode) return v.payload;
    return undefined;
  }
  async consume(id: string) {
    const entry = MemoryAdapter.store.get(this.key(id));
    if (entry) entry.payload.consumed = Math.floor(Date.now() / 1000);
  }
  async destroy(id: string) {
    MemoryAdapter.store.delete(this.key(id));
  }
  async revokeByGrantId(grantId: string) {
    for (const [k, v] of MemoryAdapter.store) if (v.payload.grantId === grantId) MemoryAdapter.store.delete(k);
  }
}

export async function startDevDirectory(options: DevDirectoryOptions = {}): Promise<DevDirectory> {
  const host = options.host ?? '127.0.0.1';
  const accounts = options.accounts ?? DEMO_ACCOUNTS;
  const alg = options.signingAlgorithm ?? 'ES256';
  // Newest first: oidc-provider signs with the first key of an algorithm.
  const keys = [await signingKey(1, alg)];

  const server = createServer();
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, host, resolve));
  const issuer = `http://${host}:${(server.address() as AddressInfo).port}`;

  const groupsByClient = new Map(accounts.map((a) => [a.clientId, a.groups]));
  const people = new Map((options.people ?? DEMO_PEOPLE).map((p) => [p.username, p]));
  const loginRedirectUris = [...(options.loginRedirectUris ?? [])];
  const loginClients = (): ClientMetadata[] => loginRedirectUris.length === 0 ? [] : [{
    client_id: DEV_LOGIN_CLIENT.clientId,
    client_secret: DEV_LOGIN_CLIENT.secret,
    grant_types: ['authorization_code'],
    response_types: ['code'],
    redirect_uris: loginRedirectUris,
    post_logout_redirect_uris: loginRedirectUris.map((u) => new URL('/login/logged-out', u).href),
    token_endpoint_auth_method: 'client_secret_basic',
    id_token_signed_response_alg: alg,
  }];
  const createProvider = () => {
    const provider = new Provider(issuer, {
      adapter: MemoryAdapter,
      clients: [...loginClients(), ...accounts.map((a): ClientMetadata => ({
        client_id: a.clientId,
        client_secret: a.secret,
        grant_types: a.grantTypes ?? ['client_credentials'],
        // A client for the authorization code flow needs a response type and a redirect URI to be valid at all.
        response_types: a.grantTypes?.includes('authorization_code') ? ['code'] : [],
        redirect_uris: a.grantTypes?.includes('authorization_code') ? ['https://app.example/callback'] : [],
        token_endpoint_auth_method: 'client_secret_basic',
        id_token_signed_response_alg: alg,
      }))],
      jwks: { keys: keys.map((k) => k.jwk) },
      enabledJWA: { idTokenSigningAlgValues: [alg] },
      ...(options.customizeAccessToken
        ? { formats: { customizers: { jwt: (_ctx: unknown, _token: unknown, jwt: { payload: Record<string, unknown> }) => options.customizeAccessToken!(jwt.payload) } } }
        : {}),
      ttl: { ClientCredentials: options.accessTokenTtlSeconds ?? 300, AccessToken: 600, AuthorizationCode: 60, IdToken: 600, Interaction: 600, Grant: 3600, Session: 3600 },
      cookies: { keys: ['dev-directory-cookie-key-not-secret'] },
      // People: their groups go into the ID token itself (the broker reads the identity from it, not from userinfo).
      findAccount: (_ctx, sub) => {
        const person = people.get(sub);
        if (!person) return undefined;
        return { accountId: sub, claims: () => ({ sub, groups: person.groups, name: person.name, email: person.email }) };
      },
      claims: { openid: ['sub', 'groups'], profile: ['name'], email: ['email'] },
      conformIdTokenClaims: false,
      interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
      // The broker is a first-party client: no consent screen, the scopes it asks for are granted at login.
      loadExistingGrant: async (ctx) => {
        const grantId = ctx.oidc.result?.consent?.grantId || ctx.oidc.session!.grantIdFor(ctx.oidc.client!.clientId);
        if (grantId) return ctx.oidc.provider.Grant.find(grantId);
        if (ctx.oidc.client!.clientId !== DEV_LOGIN_CLIENT.clientId || !ctx.oidc.session!.accountId) return undefined;
        const grant = new ctx.oidc.provider.Grant({ clientId: DEV_LOGIN_CLIENT.clientId, accountId: ctx.oidc.session!.accountId });
        grant.addOIDCScope('openid profile email');
        await grant.save();
        return grant;
      },
      features: {
        devInteractions: { enabled: false },
        rpInitiatedLogout: { enabled: true },
        clientCredentials: { enabled: true },
        introspection: { enabled: true },
        resourceIndicators: {
          enabled: true,
          // People's logins ask for no resource: their access token is only for userinfo.
          defaultResource: (ctx) => (ctx.oidc.client?.clientId === DEV_LOGIN_CLIENT.clientId ? undefined : DEV_DIRECTORY_AUDIENCE),
          useGrantedResource: () => true,
          getResourceServerInfo: () => ({
            scope: '',
            audience: DEV_DIRECTORY_AUDIENCE,
            accessTokenTTL: options.accessTokenTtlSeconds ?? 300,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg } },
          }),
        },
      },
      // The service account's groups travel in its access token, as Keycloak or Entra put roles there.
      extraTokenClaims: (_ctx, token) => {
        const clientId = (token as { clientId?: string }).clientId;
        const groups = clientId === undefined ? undefined : groupsByClient.get(clientId);
        return groups ? { groups } : undefined;
      },
    });
    provider.use(async (ctx, next) => {
      await next();
      const body = ctx.body as { access_token?: unknown; id_token?: unknown } | undefined;
      if (ctx.path !== '/token') return;
      if (options.rewriteAccessToken && typeof body?.access_token === 'string') body.access_token = options.rewriteAccessToken(body.access_token);
      if (options.rewriteIdToken && typeof body?.id_token === 'string') body.id_token = await options.rewriteIdToken(body.id_token);
    });
    const callback = provider.callback();
    return (req: IncomingMessage, res: ServerResponse) => {
      if (req.url?.startsWith('/interaction/')) return void loginInteraction(provider, people, req, res);
      return void callback(req, res);
    };
  };
  // A rotation swaps in a provider with the new key set; clients and grants live in the shared MemoryAdapter.
  let handle = createProvider();
  server.on('request', (req, res) => handle(req, res));

  return {
    issuer,
    server,
    async signAsDirectory(claims, opts = {}) {
      return new SignJWT(claims)
        .setProtectedHeader({ alg, kid: keys[0]!.jwk.kid!, ...(opts.typ ? { typ: opts.typ } : {}) })
        .setIssuer(issuer)
        .setIssuedAt(opts.issuedAt)
        .setExpirationTime(opts.expiresIn ?? '5m')
        .sign(keys[0]!.privateKey);
    },
    signRaw: (header, payload) => signCompactEs256(keys[0]!.privateKey, header, payload),
    async rotateSigningKey() {
      keys.unshift(await signingKey(keys.length + 1, alg));
      handle = createProvider();
      return keys[0]!.jwk.kid!;
    },
    addLoginRedirectUri(uri) {
      loginRedirectUris.push(uri);
      handle = createProvider();
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * The directory's own login page (`/interaction/<uid>`): a form with a user name and a password, checked against
 * the dev people. A wrong password shows the form again with a message; nothing else is ever accepted.
 */
async function loginInteraction(provider: Provider, people: ReadonlyMap<string, DevPerson>, req: IncomingMessage, res: ServerResponse): Promise<void> {
  try {
    const details = await provider.interactionDetails(req, res);
    if (req.method === 'GET') return loginPage(res, details.uid, undefined);
    if (req.method !== 'POST') return void res.writeHead(405, { Allow: 'GET, POST' }).end();
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
    const person = people.get(form.get('username') ?? '');
    if (!person || person.password !== form.get('password')) return loginPage(res, details.uid, 'Wrong user name or password.', 401);
    await provider.interactionFinished(req, res, { login: { accountId: person.username } }, { mergeWithLastSubmission: false });
  } catch (err) {
    res.writeHead(400, { 'Content-Type': 'text/plain; charset=utf-8' }).end(`login failed: ${(err as Error).message}`);
  }
}

function loginPage(res: ServerResponse, uid: string, problem: string | undefined, status = 200): void {
  const message = problem ? `<p role="alert">${problem}</p>` : '';
  res.writeHead(status, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' }).end(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Dev directory: log in</title></head>
<body><main><h1>Log in to the dev directory</h1>${message}
<form method="post" action="/interaction/${encodeURIComponent(uid)}">
<p><label for="username">User name</label> <input id="username" name="username" autocomplete="username" required autofocus></p>
<p><label for="password">Password</label> <input id="password" name="password" type="password" autocomplete="current-password" required></p>
<p><button type="submit">Log in</button></p>
</form></main></body></html>`);
}

async function signingKey(n: number, alg: DevSigningAlgorithm): Promise<{ privateKey: CryptoKey; jwk: JWK }> {
  const { privateKey } = await generateKeyPair(alg, { extractable: true });
  return { privateKey, jwk: { ...(await exportJWK(privateKey)), kid: `dev-directory-${n}`, alg, use: 'sig' } };
}

/** An ES256 compact JWS over exact header and payload text, for tests that need encodings jose never writes. */
export async function signCompactEs256(privateKey: CryptoKey, header: string, payload: string): Promise<string> {
  const input = `${Buffer.from(header).toString('base64url')}.${Buffer.from(payload).toString('base64url')}`;
  const signature = await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, privateKey, new TextEncoder().encode(input));
  return `${input}.${Buffer.from(signature).toString('base64url')}`;
}
