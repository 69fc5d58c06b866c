/**
 * The web chat page in a real browser, on a phone-sized screen: a whole booking by tapping
 * buttons and typing, then "my bookings". Also what the page does while it waits and when
 * a message cannot be sent. Screenshots go to /tmp for a human to look at.
 */
import { readFileSync } from 'node:fs';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fakeClock, type RunningApp, startApp } from '../../support/app.ts';
import { browserSkipReason, launchBrowser, settled, tap, type } from '../../support/browser.ts';

const ja = JSON.parse(readFileSync(new URL('../../../locales/ja.json', import.meta.url), 'utf8'));
const skipReason = browserSkipReason();
if (skipReason) console.warn(skipReason);

const PHONE = { width: 390, height: 844 };
const TIMEOUT = 60_000;

describe.skipIf(!!skipReason)('web chat page in Chromium', () => {
  let browser: Browser | undefined;
  let running: RunningApp | undefined;
  let context: BrowserContext | undefined;

  beforeAll(async () => {
    running = await startApp({}, { now: fakeClock('2026-11-24T10:00:00+09:00').now });
    browser = await launchBrowser();
  }, TIMEOUT);

  afterAll(async () => {
    await context?.close().catch(() => undefined);
    await browser?.close();
    await running?.close();
  }, TIMEOUT);

  async function openPage(): Promise<Page> {
    context = await browser!.newContext({ viewport: PHONE, deviceScaleFactor: 2, isMobile: true, hasTouch: true, locale: 'ja-JP' });
    const page = await context.newPage();
    page.setDefaultTimeout(15_000);
    return page;
  }

  /** Waits until the page has the bot's answer on screen and its buttons ready. */
  const lastBotText = (page: Page) => page.locator('#log .bubble.bot .text').last().innerText();
  const lastMine = (page: Page) => page.locator('#log .me .text').last().innerText();

  /** True when the newest message's bottom is inside the visible part of the log. */
  function latestVisible(page: Page): Promise<boolean> {
    return page.evaluate(() => {
      const log = document.getElementById('log')!;
      const last = log.lastElementChild;
      if (!last) return false;
      const box = log.getBoundingClientRect();
      const el = last.getBoundingClientRect();
      return el.bottom <= box.bottom + 1 && el.bottom > box.top;
    });
  }

  it(
    'books by tapping and typing, shows the reference, and lists it under my bookings',
    async () => {
      const page = await openPage();
      const problems: string[] = [];
      page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`));
      page.on('console', (msg) => {
        if (/Content Security Policy|Refused to/i.test(msg.text())) problems.push(`csp: ${msg.text()}`);
      });

      await page.goto(running!.url);
      await settled(page);
      await expect(page.locator('#log .bot .text').first().innerText()).resolves.toBe(ja.greeting);
      expect(await page.evaluate(() => document.documentElement.lang)).toBe('ja');

      await tap(page, ja.menu.book);
      expect(await lastMine(page)).toBe(ja.menu.book);
      await tap(page, ja.booking.mode.in_person);
      for (let i = 0; i < 10; i++) {
        const first = await page.locator('#choices button').first().innerText();
        if (first.startsWith('12/8')) break;
        await tap(page, ja.booking.answer.yes);
      }
      await tap(page, /^12\/8/);

      // The time step has thirteen buttons: they are tall enough to tap, they scroll inside
      // their own area if needed, and the input stays on screen below them.
      const buttons = page.locator('#choices button');
      expect(await buttons.count()).toBe(13);
      for (const box of await buttons.evaluateAll((els) => els.map((el) => el.getBoundingClientRect().toJSON() as DOMRect))) {
        expect(box.height).toBeGreaterThanOrEqual(40);
        expect(box.right).toBeLessThanOrEqual(PHONE.width);
      }
      const layout = await page.evaluate(() => {
        const rect = (id: string) => document.getElementById(id)!.getBoundingClientRect();
        const choices = document.getElementById('choices')!;
        return {
          overflowY: getComputedStyle(choices).overflowY,
          choicesBottom: rect('choices').bottom,
          formTop: rect('form').top,
          formBottom: rect('form').bottom,
          logHeight: rect('log').height,
          viewport: window.innerHeight,
        };
      });
      expect(layout.overflowY).toBe('auto');
      expect(layout.choicesBottom).toBeLessThanOrEqual(layout.formTop + 1);
      expect(layout.formBottom).toBeLessThanOrEqual(layout.viewport + 1);
      expect(layout.logHeight).toBeGreaterThan(layout.viewport / 3);
      expect(await latestVisible(page)).toBe(true);
      await page.screenshot({ path: '/tmp/webchat-times.png' });

      await tap(page, '9:30');
      expect(await lastMine(page)).toBe('9:30');
      expect(await latestVisible(page)).toBe(true);
      await tap(page, ja.booking.agree);
      expect(await lastBotText(page)).toBe(ja.booking.namePrompt);

      await type(page, '川崎 太郎');
      expect(await lastMine(page)).toBe('川崎 太郎');
      expect(await lastBotText(page)).toBe(ja.booking.phonePrompt);
      await type(page, '090-1234-5678');
      expect(await lastBotText(page)).toBe(ja.booking.emailPrompt);
      await type(page, 'taro@example.jp');

      const summary = page.locator('#log .card').last();
      await expect(summary.locator('h2').innerText()).resolves.toBe(ja.booking.summaryTitle);
      await expect(summary.innerText()).resolves.toContain('090-1234-5678');
      expect(await latestVisible(page)).toBe(true);
      await page.screenshot({ path: '/tmp/webchat-summary.png' });

      // While the bot works, a typing indicator shows; the POST is held until it has been seen.
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      await page.route('**/webchat/messages', async (route) => {
        await gate;
        await route.continue();
      }, { times: 1 });
      await page.locator('#choices').getByRole('button', { name: new RegExp(`^${ja.booking.confirm}$`) }).click();
      await page.locator('#log .typing').waitFor({ state: 'visible' });
      // The buttons stay (focus stays on the one tapped) but do nothing until the answer comes.
      const mine = await page.locator('#log .me').count();
      expect(await page.locator('#choices button').count()).toBeGreaterThan(0);
      expect(await page.locator('#choices button:not([aria-disabled="true"])').count()).toBe(0);
      expect(await page.evaluate(() => document.activeElement?.closest('#choices') !== null)).toBe(true);
      await page.keyboard.press('Enter');
      await page.locator('#choices button').first().click({ force: true });
      expect(await page.locator('#log .me').count()).toBe(mine);
      release();
      await settled(page);
      expect(await page.locator('#log .typing').count()).toBe(0);

      const done = page.locator('#log .card').last();
      await expect(done.locator('h2').innerText()).resolves.toBe(ja.booking.confirmedTitle);
      await expect(done.innerText()).resolves.toContain(ja.booking.field.reference);
      const reference = await done.locator('dd.ref').innerText();
      expect(reference).toMatch(/^[2-9A-Z]{3}-[2-9A-Z]{4}$/);
      const [stored] = await running!.app.store.bookings.listSession('2026-12-08-asao');
      expect(stored?.id).toBe(reference);
      expect(stored?.contact).toEqual({ name: '川崎 太郎', phone: '09012345678', email: 'taro@example.jp' });
      await done.scrollIntoViewIfNeeded();
      await page.screenshot({ path: '/tmp/webchat-reference.png' });

      // A POST that fails shows an error bubble and keeps the buttons, so a tap can be retried.
      await page.route('**/webchat/messages', (route) => route.abort('connectionfailed'), { times: 1 });
      await page.locator('#choices').getByRole('button', { name: new RegExp(`^${ja.menu.my}$`) }).click();
      await settled(page);
      const error = page.locator('#log [role=alert]').last();
      await expect(error.innerText()).resolves.toContain('接続できませんでした');
      expect(await page.locator('#choices button').allInnerTexts()).toContain(ja.menu.my);

      await tap(page, ja.menu.my);
      expect(await lastBotText(page)).toBe(ja.my.listPrompt);
      await tap(page, /^12\/8\(火\) 9:30$/);
      const detail = page.locator('#log .card').last();
      await expect(detail.locator('h2').innerText()).resolves.toBe(ja.my.detailTitle);
      await expect(detail.locator('dd.ref').innerText()).resolves.toBe(reference);
      expect(await latestVisible(page)).toBe(true);

      await page.screenshot({ path: '/tmp/webchat-booking.png' });
      expect(problems).toEqual([]);
    },
    TIMEOUT,
  );
});
