import type { ConfigInput } from '../../src/config/schema.js';
import { DEV_LOGIN_CLIENT, type DevDirectory } from '../../scripts/dev-directory.js';
import { startBroker, type Broker } from './broker-harness.js';

/** The `login` block for the dev directory's login client (its secret read from the environment, as in production). */
export function devLogin(extra: Partial<NonNullable<ConfigInput['login']>> = {}): NonNullable<ConfigInput['login']> {
  process.env.ATB_TEST_LOGIN_SECRET = DEV_LOGIN_CLIENT.secret;
  return { directory: 'dev', client_id: DEV_LOGIN_CLIENT.clientId, client_secret: '${ATB_TEST_LOGIN_SECRET}', scope: 'openid profile email', ...extra };
}

/** A broker with people's login at `directory`, whose login client then accepts the broker's callback. */
export async function startLoginBroker(
  directory: DevDirectory,
  options: Parameters<typeof startBroker>[1] & { login?: Partial<NonNullable<ConfigInput['login']>> } = {},
): Promise<Broker> {
  const broker = await startBroker(directory, {
    ...options,
    configure: (c) => {
      c.login = devLogin(options.login);
      options.configure?.(c);
    },
  });
  directory.addLoginRedirectUri(`${broker.url}/login/callback`);
  return broker;
}
