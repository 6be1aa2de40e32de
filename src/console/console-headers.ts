import type { ServerResponse } from 'node:http';

/**
 * The security headers of every console answer, from the deployment's `console.frame_ancestors`. Scripts and
 * styles come only from the broker's own origin (`default-src 'self'`, no inline script); who may frame the page
 * is the CSP `frame-ancestors` list. `X-Frame-Options` cannot name origins, so it is sent only when nothing may
 * frame the page (`DENY`, for browsers without CSP level 2) and removed otherwise, where it would contradict the CSP.
 */
export function consoleContentSecurityPolicy(frameAncestors: readonly string[]): string {
  const ancestors = frameAncestors.length > 0 ? frameAncestors.join(' ') : "'none'";
  return `default-src 'self'; base-uri 'none'; object-src 'none'; frame-ancestors ${ancestors}`;
}

/** Sets the console's CSP and framing headers on `res`, replacing what helmet set for the whole app. */
export function setConsoleHeaders(res: ServerResponse, frameAncestors: readonly string[]): void {
  res.setHeader('Content-Security-Policy', consoleContentSecurityPolicy(frameAncestors));
  if (frameAncestors.length > 0) res.removeHeader('X-Frame-Options');
  else res.setHeader('X-Frame-Options', 'DENY');
}
