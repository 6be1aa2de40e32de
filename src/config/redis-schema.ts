import { z } from 'zod';
import { duration } from './duration.js';
import { secretRef } from './secret-ref.js';

/**
 * How the broker reaches a Redis: `revocation.redis` and `login.session_store.redis` (part of the config schema,
 * src/config/schema.ts; kept here because both share it). Each store has its own default `key_prefix`, so both
 * can live in one Redis.
 */
export const redisConnection = (defaultKeyPrefix: string) =>
  z.strictObject({
    url: secretRef().meta({ description: 'Redis URL, e.g. `${REDIS_URL}` = `redis://:password@redis:6379/0`.' }),
    key_prefix: z.string().default(defaultKeyPrefix).meta({ description: 'Prefix of every key the broker writes.' }),
    connect_timeout: duration().prefault('5s').meta({
      description:
        'Bounds each connection attempt and the first connect at start: Redis unreachable by then, `serve` exits 1. ' +
        'Every retry is logged with its attempt number and delay.',
    }),
  });
