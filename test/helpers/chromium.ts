import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

/**
 * A real headless Chromium for browser tests: Debian's `chromium` package (scripts/run-tests.mjs installs it),
 * driven by playwright-core (no browser download). Each start gets a fresh profile, removed on close, so no cache
 * (preflights included), cookie or storage survives into another test.
 */

export const CHROMIUM_PATH = '/usr/bin/chromium';

/** Quiet and deterministic: no QUIC, no background fetches, updates, sync or first-run pages. */
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

export interface BrowserPage {
  page: Page;
  /** Every console message of the page so far (Chromium reports a CORS refusal there, e.g. "blocked by CORS policy"). */
  console: string[];
}

export interface HeadlessChromium {
  context: BrowserContext;
  newPage(): Promise<BrowserPage>;
  close(): Promise<void>;
}

export interface ChromiumOptions {
  /** Accept any TLS certificate (a test's self-signed one); default false: certificates are checked. */
  ignoreHTTPSErrors?: boolean;
  /**
   * Sites whose cookies this profile sends inside frames of other sites (Chromium content-setting patterns, e.g.
   * `[*.]localhost`), as Settings > Third-party cookies > "Allowed to use third-party cookies" or the enterprise
   * policy `CookiesAllowedForUrls` would. A fresh profile of this Chromium blocks third-party cookies otherwise
   * (docs/people.md "Embedding").
   */
  allowThirdPartyCookiesFor?: readonly string[];
}

/** The profile's preferences, written before Chromium first opens it. */
function writePreferences(userDataDir: string, options: ChromiumOptions): void {
  const sites = options.allowThirdPartyCookiesFor ?? [];
  if (sites.length === 0) return;
  const cookies = Object.fromEntries(sites.map((site) => [`${site},*`, { setting: 1 }]));
  mkdirSync(join(userDataDir, 'Default'));
  writeFileSync(join(userDataDir, 'Default', 'Preferences'), JSON.stringify({ profile: { content_settings: { exceptions: { cookies } } } }));
}

export async function startChromium(options: ChromiumOptions = {}): Promise<HeadlessChromium> {
  const userDataDir = mkdtempSync(join(tmpdir(), 'atb-chromium-'));
  writePreferences(userDataDir, options);
  // playwright takes the profile directory as launchPersistentContext's argument (it refuses --user-data-dir in args).
  const context = await chromium.launchPersistentContext(userDataDir, { executablePath: CHROMIUM_PATH, headless: true, args: ARGS, ignoreHTTPSErrors: options.ignoreHTTPSErrors ?? false }).catch((err: unknown) => {
    rmSync(userDataDir, { recursive: true, force: true });
    throw err;
  });
  return {
    context,
    async newPage() {
      const page = await context.newPage();
      const messages: string[] = [];
      page.on('console', (message) => messages.push(message.text()));
      return { page, console: messages };
    },
    async close() {
      await context.close();
      rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}
