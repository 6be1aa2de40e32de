import type { NextFunction, Request, Response } from 'express';
import type { ChallengeContext } from '../errors/error-response.js';
import { OAuthError } from '../errors/oauth-error.js';
import { writeError } from './write-error.js';

/** Errors thrown by body-parser carry `type`; they become plain OAuth errors. */
function fromBodyParser(err: unknown): unknown {
  const type = (err as { type?: unknown } | null)?.type;
  if (type === 'entity.too.large') return new OAuthError('invalid_request', 'request body is too large', { status: 413 });
  if (typeof type === 'string' && type.startsWith('entity.') || type === 'parameters.too.many' || type === 'charset.unsupported' || type === 'encoding.unsupported') {
    return new OAuthError('invalid_request', 'request body could not be parsed', { cause: err });
  }
  return err;
}

/** The express adapter of writeError. */
export function errorMiddleware(challenge: ChallengeContext) {
  return function answerWithError(err: unknown, req: Request, res: Response, _next: NextFunction): void {
    writeError(res, fromBodyParser(err), challenge, req.ctx?.log);
  };
}

/** 404 for any path no router claims, as a JSON error. */
export function notFound(_req: Request, _res: Response, next: NextFunction): void {
  next(new OAuthError('invalid_request', 'no such endpoint', { status: 404 }));
}
