import { z } from 'zod';

/**
 * `login.cli`: people in a terminal (`airflow-token-broker login`). Part of the `login` block
 * (src/config/login-schema.ts); kept here because it is the broker's own authorization server, not the directory login.
 */
export const cliLoginSchema = z
  .strictObject({
    enabled: z.boolean().default(true).meta({
      description:
        'Serve `GET /oauth2/authorize` and the `authorization_code` grant for the CLI. `false`: both answer as if ' +
        'people logged in only in the browser (404, and the grant type is not supported).',
    }),
    client_id: z
      .string()
      .regex(/^[A-Za-z0-9._~-]{1,128}$/, 'letters, digits, ".", "_", "~" and "-" only')
      .default('airflow-token-broker-cli')
      .meta({
        description:
          'The public client (RFC 8252 native app, no secret) `airflow-token-broker login` is. It is the broker\'s own ' +
          'client, never registered at the directory; the broker metadata names it (`airflow_cli_client_id`), so the CLI ' +
          'follows a change. Its tokens carry it as `client_id`: a binding on `when.client_id` sees this name, not the ' +
          'person\'s; people are bound by their groups.',
      }),
  })
  .prefault({})
  .meta({
    description:
      'The CLI login: the broker is the authorization server the CLI talks to (authorization code + PKCE S256, loopback ' +
      'redirect `http://127.0.0.1:<any port>/callback` or `http://[::1]:<port>/callback`, RFC 8252 §7.3) and takes the ' +
      'person\'s browser session of the directory login. Codes live 60 s and are single-use.',
  });

export type CliLoginConfig = z.output<typeof cliLoginSchema>;
