import type { NextFunction, Request, Response } from 'express';
import { buildErrorResponse, type ChallengeContext } from '../errors/error-response.js';
import { OAuthError } from '../errors/oauth-error.js';

/** Errors thrown by body-parser carry `type`; they become plain OAuth errors. */
function fromBodyParser(err: unknown): unknown {
  const type = (err as { type?: unknown } | null)?.type;
  if (type === 'entity.too.large') return new OAuthError('invalid_request', 'request body is too large', { status: 413 });
  if (typeof type === 'string' && type.startsWith('entity.') || type === 'parameters.too.many' || type === 'charset.unsupported' || type === 'encoding.unsupported') {
    return new OAuthError('invalid_request', 'request body could not be parsed', { cause: err });
  }
  return err;
}

/** The express adapter of buildErrorResponse: the only place errors become HTTP answers. */
export function errorMiddleware(challenge: ChallengeContext) {
  return function answerWithError(err: unknown, req: Request, res: Response, _next: NextFunction): void {
    const response = buildErrorResponse(fromBodyParser(err), challenge);
    const log = req.ctx?.log;
    if (response.unexpected) log?.error({ err }, 'unexpected error');
    else if (response.status >= 500) log?.warn({ err: (err as Error).cause ?? err, code: response.body.error }, 'request failed');
    else log?.debug({ code: response.body.error, description: response.body.error_description, cause: (err as Error).cause }, 'request refused');
    if (res.headersSent) {
      res.destroy();
      return;
    }
    res.status(response.status).set(response.headers).json(response.body);
  };
}

/** 404 for any path no router claims, as a JSON error. */
export function notFound(_req: Request, _res: Response, next: NextFunction): void {
  next(new OAuthError('invalid_request', 'no such endpoint', { status: 404 }));
}
