import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Airflow's own EC signing key (`[api_auth] jwt_private_key_path`) and its public half, as files in a fresh dir. */
export interface AirflowOwnKey {
  dir: string;
  privateKeyFile: string;
  publicKeyFile: string;
  privatePem: string;
}

export function writeAirflowOwnKey(): AirflowOwnKey {
  const dir = mkdtempSync(join(tmpdir(), 'atb-airflow-own-key-'));
  const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const privatePem = pair.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  const privateKeyFile = join(dir, 'airflow-jwt-private.pem');
  const publicKeyFile = join(dir, 'airflow-jwt-public.pem');
  writeFileSync(privateKeyFile, privatePem, { mode: 0o600 });
  writeFileSync(publicKeyFile, pair.publicKey.export({ type: 'spki', format: 'pem' }));
  return { dir, privateKeyFile, publicKeyFile, privatePem };
}
