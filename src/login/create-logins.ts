import type { Config } from '../config/schema.js';
import type { Directories } from '../directory/directories.js';
import { DirectoryLogin } from '../directory/directory-login.js';
import type { ExpiringStore } from '../sessions/expiring-store.js';
import { Logins } from './logins.js';

/** `services.logins` from the `login` block: the named directory as relying party, sessions in `store`. */
export function createLogins(config: Config, directories: Directories, store: ExpiringStore, now: () => number): Logins {
  const login = config.login!;
  // The schema has checked that the directory exists.
  const directory = directories.all.find((d) => d.name === login.directory)!;
  return new Logins({
    issuer: config.issuer,
    directory: new DirectoryLogin(directory, {
      clientId: login.client_id,
      clientSecret: login.client_secret,
      scope: login.scope,
      redirectUri: Logins.redirectUri(config.issuer),
    }),
    store,
    timeouts: { idleMs: login.session.idle_timeout, absoluteMs: login.session.absolute_timeout },
    now,
    embeddable: (deployment) => frameAncestors(config, deployment).length > 0,
  });
}

/**
 * `upstreams.<d>.console.frame_ancestors`, the console's key (src/config/console-schema.ts): read defensively, so
 * that this module does not depend on the console's schema being present.
 */
function frameAncestors(config: Config, deployment: string): readonly string[] {
  const upstream = Object.hasOwn(config.upstreams, deployment) ? (config.upstreams[deployment] as { console?: { frame_ancestors?: unknown } }) : undefined;
  const origins = upstream?.console?.frame_ancestors;
  return Array.isArray(origins) ? origins : [];
}
