import { spawn } from 'node:child_process';
import { PersonBrowser } from './person-browser.js';
import { BIN, type CliResult } from './run-cli.js';

/**
 * Runs `login --no-browser` and, once it printed the address, logs `username` in there with a fresh browser that
 * follows every redirect, the last one to the CLI's own loopback listener.
 */
export async function cliLogin(issuer: string, env: Record<string, string>, username: string, password: string, extra: string[] = []): Promise<CliResult & { landed: string }> {
  const child = spawn(process.execPath, [BIN, 'login', '--issuer', issuer, '--no-browser', '--insecure-http', ...extra], { env: { ...process.env, ...env } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c) => (stdout += c));
  const printed = new Promise<string>((resolve) => {
    child.stderr.on('data', (c) => {
      stderr += c;
      const url = /(http:\/\/\S+\/oauth2\/authorize\?\S+)/.exec(stderr)?.[1];
      if (url) resolve(url);
    });
  });
  const exited = new Promise<number>((resolve) => child.on('close', (code) => resolve(code ?? -1)));
  const url = await Promise.race([printed, exited.then((code) => Promise.reject(new Error(`login exited ${code} before printing an address: ${stderr}`)))]);
  const browser = new PersonBrowser();
  const form = await browser.follow(url);
  if (!new URL(form.url).pathname.startsWith('/interaction/')) throw new Error(`expected the directory's login page, got ${form.res.status} at ${form.url}`);
  await form.res.text();
  const back = await browser.follow(form.url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ username, password }),
  });
  await back.res.text();
  return { code: await exited, stdout, stderr, landed: back.url };
}
