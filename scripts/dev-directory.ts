import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK, type JWTPayload } from 'jose';
import Provider from 'oidc-provider';

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
  /** The algorithm of the directory's one signing key (default ES256); its discovery document names only this one. */
  signingAlgorithm?: DevSigningAlgorithm;
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
  const createProvider = () => {
    const provider = new Provider(issuer, {
      adapter: MemoryAdapter,
      clients: accounts.map((a) => ({
        client_id: a.clientId,
        client_secret: a.secret,
        grant_types: a.grantTypes ?? ['client_credentials'],
        // A client for the authorization code flow needs a response type and a redirect URI to be valid at all.
        response_types: a.grantTypes?.includes('authorization_code') ? ['code'] : [],
        redirect_uris: a.grantTypes?.includes('authorization_code') ? ['https://app.example/callback'] : [],
        token_endpoint_auth_method: 'client_secret_basic',
        id_token_signed_response_alg: alg,
      })),
      jwks: { keys: keys.map((k) => k.jwk) },
      enabledJWA: { idTokenSigningAlgValues: [alg] },
      ...(options.customizeAccessToken
        ? { formats: { customizers: { jwt: (_ctx: unknown, _token: unknown, jwt: { payload: Record<string, unknown> }) => options.customizeAccessToken!(jwt.payload) } } }
        : {}),
      ttl: { ClientCredentials: options.accessTokenTtlSeconds ?? 300 },
      cookies: { keys: ['dev-directory-cookie-key-not-secret'] },
      features: {
        devInteractions: { enabled: false },
        clientCredentials: { enabled: true },
        introspection: { enabled: true },
        resourceIndicators: {
          enabled: true,
          defaultResource: () => DEV_DIRECTORY_AUDIENCE,
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
    if (options.rewriteAccessToken) {
      const rewrite = options.rewriteAccessToken;
      provider.use(async (ctx, next) => {
        await next();
        const body = ctx.body as { access_token?: unknown } | undefined;
        if (ctx.path === '/token' && typeof body?.access_token === 'string') body.access_token = rewrite(body.access_token);
      });
    }
    return provider.callback();
  };
  // A rotation swaps in a provider with the new key set; clients and grants live in the shared MemoryAdapter.
  let handle = createProvider();
  server.on('request', (req, res) => void handle(req, res));

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
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
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
