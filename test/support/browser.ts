/**
 * A real Chromium for browser tests: the system's Debian build, driven by playwright-core
 * (no browser download). Where it is missing, tests skip with a message, except in CI,
 * where a missing browser must fail the run rather than pass it silently.
 */
import { existsSync } from 'node:fs';
import { type Browser, chromium, type Page } from 'playwright-core';

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

/** Waits until the web chat's answer is on screen and its buttons work. */
export async function settled(page: Page): Promise<void> {
  await page.waitForFunction(
    () => !document.querySelector('#log .typing') && !document.getElementById('send')!.hasAttribute('aria-disabled') && document.querySelectorAll('#choices button').length > 0,
  );
}

/** Taps the web chat button whose whole name is `label` (or matches it), then waits for the answer. */
export async function tap(page: Page, label: string | RegExp): Promise<void> {
  const name = typeof label === 'string' ? new RegExp(`^${label.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`) : label;
  await page.locator('#choices').getByRole('button', { name }).first().click();
  await settled(page);
}

/** Types `text` into the web chat and sends it with Enter, then waits for the answer. */
export async function type(page: Page, text: string): Promise<void> {
  await page.locator('#text').fill(text);
  await page.locator('#text').press('Enter');
  await settled(page);
}
