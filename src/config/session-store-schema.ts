import { z } from 'zod';
import { redisConnection } from './redis-schema.js';

/**
 * `login.session_store`: where people's sessions, pending logins and one-time authorization codes live (part of
 * the config schema, src/config/schema.ts, under `login`). Every broker instance that serves people must reach
 * the same store: a session made on one instance is then valid on all of them, and a logout on one ends it on all.
 *
 * @example Several instances behind a load balancer:
 * ```yaml
 * login:
 *   session_store: { store: redis, redis: { url: "${REDIS_URL}" }, max_entries: 200000 }
 * ```
 */
export const sessionStoreSchema = z
  .strictObject({
    store: z.enum(['sqlite', 'redis', 'memory']).default('sqlite').meta({
      description:
        '`sqlite` keeps sessions in a file (they survive a restart; instances share it on one volume, as they share ' +
        'the revocation file); `redis` shares them between every instance behind a load balancer; `memory` is one ' +
        'process only (a restart logs everyone out; a second instance does not know the first one\'s sessions).',
    }),
    sqlite_path: z.string().optional().meta({
      description: 'SQLite file of the store (relative to this config file). Default: `sessions.sqlite` beside `revocation.sqlite_path`.',
      examples: ['./data/sessions.sqlite'],
    }),
    redis: redisConnection('atb:sessions:')
      .optional()
      .meta({
        description:
          'Needed when `store` is `redis`. While Redis cannot answer, logins, `GET /session`, logouts and the proxy ' +
          'calls made with a session answer 503: nobody is logged in or out by an outage.',
      }),
    max_entries: z.number().int().positive().default(100_000).meta({
      description:
        'Most live entries (sessions, pending logins, codes). When it is reached a NEW entry is refused (503, a login ' +
        'fails until one expires or ends) and nothing live is evicted: a flood of started logins cannot log people ' +
        'out. Size it above the peak of people logged in at once plus the logins started in 10 minutes (a pending ' +
        'login\'s lifetime). The `memory` store evicts the least recently used entry instead.',
    }),
  })
  .refine((s) => s.store !== 'redis' || s.redis !== undefined, { message: 'store: redis needs login.session_store.redis.url', path: ['redis'] })
  .prefault({})
  .meta({ description: 'Where people\'s sessions live; every instance serving people must share it.' });

export type SessionStoreConfig = z.output<typeof sessionStoreSchema>;
