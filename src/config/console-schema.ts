import { z } from 'zod';

/**
 * `upstreams.<name>.console`: the light web console of a deployment (`/console/<name>`) and who may frame it.
 * Part of the config schema (src/config/schema.ts), kept in its own file like the CORS settings.
 */

const LOOPBACK_HOSTS = new Set(['127.0.0.1', '[::1]', 'localhost']);

/**
 * Why `value` cannot be a `frame-ancestors` source, or undefined when it can: exactly an origin as a browser
 * computes it (`scheme://host[:port]`, no path, no wildcard), https, or http on a loopback host only (a page on
 * plain http elsewhere can be altered on the way, and so could whatever it makes the framed console do).
 */
export function frameAncestorProblem(value: string): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return `"${value}" is not an origin: write https://host[:port], e.g. https://planning.example.com`;
  }
  if (value.includes('*')) return `"${value}" has a wildcard: name each embedding origin exactly`;
  if (url.origin !== value) return `"${value}" is not an origin as browsers send it: write "${url.origin}" (lower case, no default port, no path or trailing slash)`;
  if (url.protocol === 'https:') return undefined;
  if (url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname)) return undefined;
  return `"${value}" is not https: only https origins may frame the console (http only on a loopback host, for development)`;
}

export const deploymentConsole = z
  .strictObject({
    enabled: z.boolean().default(true).meta({
      description:
        'Serve the console of this deployment at `/console/<name>` (only when `login` is configured; otherwise every ' +
        '`/console` path answers 404). `false`: 404 there, and the deployment is not listed at `/console`.',
    }),
    frame_ancestors: z
      .array(z.string())
      .default([])
      .superRefine((origins, ctx) => {
        origins.forEach((origin, i) => {
          const problem = frameAncestorProblem(origin);
          if (problem) ctx.addIssue({ code: 'custom', path: [i], message: problem });
        });
        const seen = new Set<string>();
        origins.forEach((origin, i) => {
          if (seen.has(origin)) ctx.addIssue({ code: 'custom', path: [i], message: `"${origin}" is listed twice` });
          seen.add(origin);
        });
      })
      .meta({
        description:
          'Origins of the pages allowed to embed this console in a frame (the CSP `frame-ancestors` of its page), each ' +
          'exactly `https://host[:port]` (`http://` only for `127.0.0.1`, `[::1]` and `localhost`). Empty (the default): ' +
          '`frame-ancestors \'none\'` and `X-Frame-Options: DENY`, no page can frame it. A person who logs in from the ' +
          'framed console gets a session usable only in this deployment\'s console (see docs/people.md, "Embedding").',
        examples: [['https://planning.example.com']],
      }),
  })
  .meta({ description: 'The light web console of this deployment (docs/people.md, "The console").' });

export type DeploymentConsoleConfig = z.output<typeof deploymentConsole>;
