import { z } from 'zod';

const envRef = /^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$/;

/** A secret (in its own file so that the schema's parts can share it without an import cycle): must be written as `${ENV_VAR}` and is read from the environment at load time. */
export const secretRef = () =>
  z
    .string()
    .meta({ description: 'Secret: write it as a `${ENV_VAR}` reference; inline values are refused.' })
    .transform((value, ctx) => {
      const match = envRef.exec(value);
      if (!match) {
        ctx.addIssue({ code: 'custom', message: 'secrets must be given as ${ENV_VAR} references, never inline' });
        return z.NEVER;
      }
      const resolved = process.env[match[1]!];
      if (resolved === undefined || resolved === '') {
        ctx.addIssue({ code: 'custom', message: `environment variable ${match[1]} is not set` });
        return z.NEVER;
      }
      return resolved;
    });
