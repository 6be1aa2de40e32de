import { Router, type NextFunction, type Request, type Response } from 'express';
import type { Config } from '../config/schema.js';
import { OAuthError } from '../errors/oauth-error.js';
import type { ConsoleAssets } from './console-assets.js';
import { setConsoleHeaders } from './console-headers.js';
import { consolePage, type ConsolePageInput } from './console-page.js';

export interface ConsoleRouterOptions {
  upstreams: Config['upstreams'];
  proxyPrefix: string;
  assets: ConsoleAssets;
}

const notFound = () => new OAuthError('invalid_request', 'no such endpoint', { status: 404 });

/**
 * `GET /console` (the deployments of the person, listed by the page from `GET /session`), `GET /console/<name>`
 * (the console of a proxied deployment whose `console.enabled` is true) and the page's prebuilt assets under
 * `/console/_assets/` (a deployment name never starts with `_`). Mounted only when `login` is configured.
 * Every answer carries the console's CSP: the deployment's `frame_ancestors`, `'none'` elsewhere.
 */
export function consoleRouter({ upstreams, proxyPrefix, assets }: ConsoleRouterOptions): Router {
  const router = Router();

  const consoles = Object.entries(upstreams).filter(([, u]) => u.url && u.console.enabled).map(([name]) => name);

  const sendPage = (res: Response, page: Omit<ConsolePageInput, 'proxyPrefix' | 'embeddable'>, frameAncestors: readonly string[]) => {
    if (!assets.built) throw new OAuthError('server_error', `the console's assets are not built in ${assets.dir} (npm run build)`);
    setConsoleHeaders(res, frameAncestors);
    res.set('Cache-Control', 'no-store').type('html').send(consolePage({ ...page, proxyPrefix, embeddable: frameAncestors.length > 0 }));
  };

  router.get('/console', function consoleIndex(_req: Request, res: Response) {
    sendPage(res, { consoles }, []);
  });

  router.get('/console/_assets/:file', function consoleAsset(req: Request, res: Response, next: NextFunction) {
    const asset = assets.get(String(req.params.file));
    if (!asset) return next(notFound());
    // A script or stylesheet is never a framed document itself: 'none' whatever the deployment.
    setConsoleHeaders(res, []);
    res.set({ 'Content-Type': asset.contentType, 'Cache-Control': 'no-cache', ETag: asset.etag });
    if (req.headers['if-none-match'] === asset.etag) return void res.status(304).end();
    res.send(asset.body);
  });

  router.get('/console/:deployment', function deploymentConsole(req: Request, res: Response, next: NextFunction) {
    const name = String(req.params.deployment);
    if (!consoles.includes(name)) return next(notFound());
    sendPage(res, { deployment: name }, upstreams[name]!.console.frame_ancestors);
  });

  return router;
}
