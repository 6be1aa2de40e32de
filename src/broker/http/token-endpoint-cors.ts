import type { NextFunction, Request, Response } from 'express';
import type { TokenEndpointCorsConfig } from '../../config/cors-schema.js';
import { applyCors } from '../../http/cors.js';
import { CorsPolicy } from '../../http/cors-policy.js';

/**
 * CORS on `POST /oauth2/token` where `token_endpoint_cors` is configured: answers its preflights, and sets the
 * CORS headers before any step runs, so a refusal (401 `invalid_client`, 429) is readable by the app too.
 */
export function tokenEndpointCors(config: TokenEndpointCorsConfig) {
  const cors = new CorsPolicy(config, ['POST']);
  return function tokenEndpointCors(req: Request, res: Response, next: NextFunction): void {
    try {
      if (!applyCors(res, cors, req)) next();
    } catch (err) {
      next(err);
    }
  };
}
