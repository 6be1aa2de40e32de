import express, { type NextFunction, type Request, type Response } from 'express';
import { invalidRequest, OAuthError } from '../../errors/oauth-error.js';

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /** The form parameters of an OAuth endpoint: each present once, empty values dropped. */
      form: ReadonlyMap<string, string>;
    }
  }
}

function requireFormEncoded(req: Request, _res: Response, next: NextFunction): void {
  if (!req.is('application/x-www-form-urlencoded')) {
    next(invalidRequest('the body must be application/x-www-form-urlencoded'));
    return;
  }
  next();
}

/** RFC 6749 §3.1: parameters must not repeat; one sent without a value counts as omitted. */
function collectParameters(req: Request, _res: Response, next: NextFunction): void {
  const form = new Map<string, string>();
  for (const [name, value] of Object.entries((req.body ?? {}) as Record<string, unknown>)) {
    if (typeof value !== 'string') {
      next(invalidRequest(`parameter ${name} is repeated`));
      return;
    }
    if (value !== '') form.set(name, value);
  }
  req.form = form;
  next();
}

/** A second Authorization header is an attack on whichever copy a component reads. */
function rejectDuplicateAuthorization(req: Request, _res: Response, next: NextFunction): void {
  let count = 0;
  for (let i = 0; i < req.rawHeaders.length; i += 2) if (req.rawHeaders[i]!.toLowerCase() === 'authorization') count++;
  next(count > 1 ? invalidRequest('repeated Authorization header') : undefined);
}

/** The body steps shared by the token, introspection and revocation endpoints. */
export function formBody(limit: string) {
  return [
    rejectDuplicateAuthorization,
    requireFormEncoded,
    express.urlencoded({ extended: false, limit, parameterLimit: 50 }),
    collectParameters,
  ];
}

export function methodNotAllowed(_req: Request, _res: Response, next: NextFunction): void {
  next(new OAuthError('invalid_request', 'use POST', { status: 405, headers: { Allow: 'POST' } }));
}
