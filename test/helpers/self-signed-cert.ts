import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrokerTls } from './broker-harness.js';

/**
 * A throw-away self-signed certificate for `localhost` (SAN `DNS:localhost`, one day), made with the `openssl` CLI
 * in a temporary directory that is removed again. A browser accepts it only with certificate errors ignored.
 */
export function selfSignedCertificate(): BrokerTls {
  const dir = mkdtempSync(join(tmpdir(), 'atb-tls-'));
  try {
    const key = join(dir, 'key.pem');
    const cert = join(dir, 'cert.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost', '-keyout', key, '-out', cert], { stdio: 'ignore' });
    return { key: readFileSync(key, 'utf8'), cert: readFileSync(cert, 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
