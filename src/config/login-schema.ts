import { z } from 'zod';
import { duration } from './duration.js';
import { secretRef } from './secret-ref.js';
import { cliLoginSchema } from './cli-login-schema.js';
import { sessionStoreSchema } from './session-store-schema.js';

/**
 * `login`: people log in with the central directory, the broker being an OpenID relying party there (authorization
 * code + PKCE S256 + state + nonce, through openid-client). Part of the config schema (src/config/schema.ts).
 * Absent: no people login at all (`/login*`, `/session`, `/console*`, `/oauth2/authorize` answer 404).
 */
export const loginSchema = z
  .strictObject({
    directory: z.string().min(1).meta({
      description:
        'The directory (a name under `directories`) people log in at; its `issuer`, `timeout`, `claims` (subject, ' +
        '`groups`) and `algorithms` apply. Register `<issuer>/login/callback` (the broker\'s `issuer`) as the ' +
        'client\'s redirect URI there, and `<issuer>/login/logged-out` as its post-logout redirect URI.',
      examples: ['corp'],
    }),
    client_id: z.string().min(1).meta({
      description: 'The broker\'s confidential client at the directory, for people\'s logins (authorization code flow).',
      examples: ['airflow-token-broker-console'],
    }),
    client_secret: secretRef(),
    scope: z.string().default('openid profile').meta({
      description: 'Scopes asked for at login; must include `openid`. Add the scope that puts the groups claim in the ID token if the directory needs one.',
      examples: ['openid profile email'],
    }),
    session: z
      .strictObject({
        idle_timeout: duration().prefault('30m').meta({ description: 'A session unused this long ends.' }),
        absolute_timeout: duration().prefault('8h').meta({
          description: 'A session ends this long after login, however active; every token minted for it ends by then too.',
        }),
      })
      .refine((s) => s.idle_timeout <= s.absolute_timeout, { message: 'idle_timeout cannot exceed absolute_timeout', path: ['idle_timeout'] })
      .prefault({})
      .meta({ description: 'People\'s sessions (server side; the browser holds only an opaque id in a cookie).' }),
    session_store: sessionStoreSchema,
    cli: cliLoginSchema,
  })
  .refine((l) => l.scope.split(' ').includes('openid'), { message: 'scope must include openid', path: ['scope'] })
  .meta({ description: 'People log in with the central directory (the browser console, `GET /session`, the proxy with a session).' });

export type LoginConfig = z.output<typeof loginSchema>;
