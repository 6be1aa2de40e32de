import type { IncomingMessage, ServerResponse } from 'node:http';
import type { DevDirectory } from '../../scripts/dev-directory.js';

/** What the dev directory's JWKS endpoint was asked, and a switch that makes it fail. */
export interface JwksWatch {
  /** Requests to `/jwks` so far. */
  readonly requests: number;
  /** While true, `/jwks` answers 500 (the rest of the directory keeps working). */
  failing: boolean;
}

/** Watches the real dev directory's JWKS endpoint: requests are counted, then answered by the directory itself. */
export function watchJwks(directory: DevDirectory): JwksWatch {
  const provider = directory.server.listeners('request')[0] as (req: IncomingMessage, res: ServerResponse) => void;
  directory.server.removeAllListeners('request');
  const watch = { requests: 0, failing: false };
  directory.server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    if (req.url !== '/jwks') return provider(req, res);
    watch.requests += 1;
    if (watch.failing) res.writeHead(500).end();
    else provider(req, res);
  });
  return watch;
}
