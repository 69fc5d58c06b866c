/**
 * A real Chromium for browser tests: the system's Debian build, driven by playwright-core
 * (no browser download). Where it is missing, tests skip with a message, except in CI,
 * where a missing browser must fail the run rather than pass it silently.
 */
import { existsSync } from 'node:fs';
import { type Browser, chromium } from 'playwright-core';

export const CHROMIUM_PATH = '/usr/bin/chromium';

/** Why browser tests cannot run here, or undefined when they can (or must: in CI). */
export function browserSkipReason(): string | undefined {
  if (existsSync(CHROMIUM_PATH) || process.env.CI) return undefined;
  return `browser tests skipped: ${CHROMIUM_PATH} not found (install Debian's chromium package; in CI they always run)`;
}

/** Launches headless Chromium; close it with `browser.close()`. */
export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}
