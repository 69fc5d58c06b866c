/**
 * The web chat page against WCAG 2.1 A and AA, in Chromium, served by the real bot: axe-core
 * finds nothing at the start, after turns with buttons (grouped ones too) and in other
 * languages; a booking starts from the keyboard alone, with visible focus that goes where
 * the next step is; new messages land in a live region; `lang` and the page's own words
 * follow the conversation's language; the page reflows at 320 CSS px. Screenshots at phone
 * (375×812) and desktop (1280×800) widths go to test-results/screenshots/ for a human.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { AxeResults } from 'axe-core';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import restify from 'restify';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { addressKeyOf, mountWebchat } from '../../../src/channels/webchat/index.ts';
import { WebchatOutbox } from '../../../src/channels/webchat/outbox.ts';
import { loadConfig } from '../../../src/config.ts';
import { LOCALE_TAGS, LOCALES, type Locale } from '../../../src/domain.ts';
import { createLimits } from '../../../src/limits.ts';
import { createLogger } from '../../../src/log.ts';
import { translator } from '../../../src/services/index.ts';
import { fakeClock, type RunningApp, startApp } from '../../support/app.ts';
import { browserSkipReason, launchBrowser, settled, tap, type } from '../../support/browser.ts';
import { ja, word } from '../../support/chat.ts';

const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const WCAG_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];
const SHOTS = fileURLToPath(new URL('../../../test-results/screenshots/', import.meta.url));
const PHONE = { width: 375, height: 812 };
const DESKTOP = { width: 1280, height: 800 };
const TIMEOUT = 90_000;

const skipReason = browserSkipReason();
if (skipReason) console.warn(skipReason);

describe.skipIf(!!skipReason)('web chat page accessibility (WCAG 2.1 AA) in Chromium', () => {
  let browser: Browser | undefined;
  let running: RunningApp | undefined;
  let context: BrowserContext | undefined;

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    running = await startApp({}, { now: fakeClock('2026-11-24T10:00:00+09:00').now });
    browser = await launchBrowser();
  }, TIMEOUT);

  afterEach(async () => {
    await context?.close().catch(() => undefined);
    context = undefined;
  });

  afterAll(async () => {
    await browser?.close();
    await running?.close();
  }, TIMEOUT);

  /** Script errors and CSP refusals seen by each page. */
  const pageProblems = new Map<Page, string[]>();

  async function open(locale: string, url = running!.url, viewport = PHONE): Promise<Page> {
    context = await browser!.newContext({ viewport, locale });
    const page = await context.newPage();
    page.setDefaultTimeout(15_000);
    const problems: string[] = [];
    page.on('pageerror', (err) => problems.push(err.message));
    page.on('console', (msg) => {
      if (/Content Security Policy|Refused to/i.test(msg.text())) problems.push(msg.text());
    });
    pageProblems.set(page, problems);
    await page.goto(url);
    await settled(page);
    return page;
  }

  /** axe-core with the WCAG 2.0 and 2.1 A and AA rules: every violation fails the test, with what and where. */
  async function expectNoViolations(page: Page, when: string): Promise<void> {
    if (!(await page.evaluate(() => 'axe' in window))) await page.evaluate(AXE_SOURCE);
    const results = await page.evaluate(
      (tags) => (window as unknown as { axe: { run(ctx: Document, opts: object): Promise<AxeResults> } }).axe.run(document, { runOnly: { type: 'tag', values: tags } }),
      WCAG_TAGS,
    );
    const violations = results.violations.map((v) => ({ rule: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => `${n.target.join(' ')}: ${n.failureSummary}`) }));
    expect(violations, when).toEqual([]);
    expect(results.passes.length, when).toBeGreaterThan(10);
  }

  async function shoot(page: Page, name: string, viewport = PHONE): Promise<void> {
    await page.setViewportSize(viewport);
    await page.mouse.move(0, 0); // no hover colour left on a button
    await page.evaluate(() => document.getElementById('log')!.scrollTo(0, 1e6));
    await page.screenshot({ path: `${SHOTS}${name}.png` });
  }

  /** Book → in person → every screening question → 12/8: the thirteen time buttons. */
  async function toTimes(page: Page): Promise<void> {
    await tap(page, ja('menu.book'));
    await tap(page, ja('booking.mode.in_person'));
    for (let i = 0; i < 10 && !(await page.locator('#choices button').first().innerText()).startsWith('12/8'); i++) await tap(page, ja('booking.answer.yes'));
    await tap(page, /^12\/8/);
  }

  /** Nothing sticks out sideways or is cut off at this width (WCAG 1.4.10 Reflow). */
  async function expectReflow(page: Page, width: number): Promise<void> {
    await page.setViewportSize({ width, height: 640 });
    const overflow = await page.evaluate((w) => {
      const wide = Array.from(document.querySelectorAll('body *'))
        .filter((el) => el.getClientRects().length > 0 && !el.closest('.sr-only'))
        .filter((el) => el.getBoundingClientRect().right > w + 0.5 || (el.matches('button, .text, dd, h2') && el.scrollWidth > el.clientWidth + 1))
        .map((el) => `${el.tagName.toLowerCase()}#${el.id}.${el.className}: ${el.textContent?.slice(0, 30)}`);
      return { page: document.documentElement.scrollWidth, wide };
    }, width);
    expect(overflow).toEqual({ page: width, wide: [] });
  }

  it(
    'has no WCAG 2.1 A/AA violation at the start, at the time buttons, at the summary card, and reflows at 320 px',
    async () => {
      const page = await open('ja-JP');
      await expectNoViolations(page, 'start');
      await shoot(page, 'phone-ja-start');

      await toTimes(page);
      expect(await page.locator('#choices button').count()).toBe(13);
      await expectNoViolations(page, 'time buttons');
      await shoot(page, 'phone-ja-times');
      await shoot(page, 'desktop-ja-times', DESKTOP);
      await expectReflow(page, 320);
      await shoot(page, 'reflow-320-ja-times', { width: 320, height: 640 });
      await page.setViewportSize(PHONE);

      await tap(page, '9:30');
      await tap(page, ja('booking.agree'));
      await type(page, 'Taro Kawasaki');
      await type(page, '090-1234-5678');
      await type(page, 'taro@example.jp');
      await expect(page.locator('#log .card h2').last().innerText()).resolves.toBe(ja('booking.summaryTitle'));
      await expectNoViolations(page, 'summary card');
      await shoot(page, 'phone-ja-summary');
      await shoot(page, 'desktop-ja-summary', DESKTOP);
      await expectReflow(page, 320);
      await shoot(page, 'reflow-320-ja-summary', { width: 320, height: 640 });
      expect(pageProblems.get(page)).toEqual([]);
    },
    TIMEOUT,
  );

  it(
    'starts a booking from the keyboard alone, with visible focus that moves to the next step and stays in the input while typing',
    async () => {
      const page = await open('ja-JP');
      // Tab from the top: the conversation (it scrolls), then each button in order, then the input and Send.
      const stops: string[] = [];
      for (let i = 0; i < 12; i++) {
        await page.keyboard.press('Tab');
        const stop = await page.evaluate(() => {
          const el = document.activeElement as HTMLElement;
          const style = getComputedStyle(el);
          return { name: el.id || el.textContent, visible: el.matches(':focus-visible') && style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) >= 2 };
        });
        expect(stop.visible, `focus visible on ${stop.name}`).toBe(true);
        stops.push(stop.name ?? '');
        if (stop.name === 'send') break;
      }
      const menu = await page.locator('#choices button').allInnerTexts();
      expect(stops).toEqual(['log', ...menu, 'text', 'send']);

      // Back to the book button, and Enter.
      for (let i = 0; i < 2 + menu.length - 1 - menu.indexOf(ja('menu.book')); i++) await page.keyboard.press('Shift+Tab');
      expect(await page.evaluate(() => document.activeElement?.textContent)).toBe(ja('menu.book'));
      await page.keyboard.press('Enter');
      await settled(page);
      await expect(page.locator('#log .me .text').last().innerText()).resolves.toBe(ja('menu.book'));
      // The answer's buttons replace the tapped one: focus goes to the first of them.
      const first = page.locator('#choices button').first();
      expect(await first.innerText()).toBe(ja('booking.mode.in_person'));
      expect(await first.evaluate((el) => el === document.activeElement)).toBe(true);
      await shoot(page, 'phone-ja-keyboard-focus');
      await page.keyboard.press('Space');
      await settled(page);
      await expect(page.locator('#log .me .text').last().innerText()).resolves.toBe(ja('booking.mode.in_person'));
      expect(await page.evaluate(() => document.activeElement === document.querySelector('#choices button'))).toBe(true);

      // Past the buttons to the input; typing: the answer and its buttons arrive, and focus stays in the input.
      for (let i = await page.locator('#choices button').count(); i > 0; i--) await page.keyboard.press('Tab');
      expect(await page.evaluate(() => document.activeElement?.id)).toBe('text');
      await page.keyboard.type(word('help'));
      await page.keyboard.press('Enter');
      await settled(page);
      expect(await page.evaluate(() => document.activeElement?.id)).toBe('text');
      expect(pageProblems.get(page)).toEqual([]);
    },
    TIMEOUT,
  );

  it(
    'puts each new message in a polite live region, with who said it, and announces the wait',
    async () => {
      const page = await open('ja-JP');
      const region = page.locator('#log');
      await expect(region.getAttribute('role')).resolves.toBe('log');
      await expect(region.getAttribute('aria-live')).resolves.toBe('polite');
      await expect(region.getAttribute('aria-label')).resolves.toBeTruthy();

      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      await page.route('**/webchat/messages', async (route) => {
        await gate;
        await route.continue();
      }, { times: 1 });
      await page.locator('#choices').getByRole('button', { name: ja('menu.book') }).click();
      const waiting = page.locator('#log .typing');
      await waiting.waitFor();
      await expect(waiting.innerText()).resolves.not.toBe('');
      release();
      await settled(page);

      const messages = await page.locator('#log > .bubble').evaluateAll((els) =>
        els.map((el) => ({
          live: el.closest('[aria-live="polite"]')?.id,
          lang: el.getAttribute('lang'),
          who: el.classList.contains('me') ? 'me' : 'bot',
          speaker: el.querySelector('.sr-only')?.textContent,
          text: el.querySelector('.text')?.textContent,
        })),
      );
      expect(messages.length).toBeGreaterThanOrEqual(3);
      for (const m of messages) expect(m).toMatchObject({ live: 'log', lang: 'ja' });
      expect(messages[0]).toMatchObject({ who: 'bot', text: ja('greeting') });
      expect(messages.find((m) => m.who === 'me')).toMatchObject({ text: ja('menu.book') });
      // Position and colour show who speaks; words read out before each message say it too.
      const speakers = (who: string) => new Set(messages.filter((m) => m.who === who).map((m) => m.speaker));
      expect(speakers('bot').size).toBe(1);
      expect(speakers('me').size).toBe(1);
      expect([...speakers('bot'), ...speakers('me')].every((s) => !!s && s.trim().length > 1)).toBe(true);
      expect(speakers('bot')).not.toEqual(speakers('me'));
    },
    TIMEOUT,
  );

  it(
    'takes the first language from the browser, and follows the conversation into each of the six, words and lang',
    async () => {
      for (const [browserLocale, expected] of [['zh-TW', 'zh'], ['ko-KR', 'ko'], ['vi-VN', 'vi'], ['en-GB', 'en'], ['fr-FR', 'ja'], ['ja-JP', 'ja']] as const) {
        context = await browser!.newContext({ viewport: PHONE, locale: browserLocale });
        const page = await context.newPage();
        const first = page.waitForRequest((r) => r.method() === 'POST' && r.url().endsWith('/webchat/messages'));
        await page.goto(running!.url);
        expect(JSON.parse((await first).postData() ?? '{}').locale, browserLocale).toBe(expected);
        await settled(page);
        expect(await page.evaluate(() => document.documentElement.lang), browserLocale).toBe(LOCALE_TAGS[expected]);
        await expect(page.locator('#log .bot .text').first().innerText()).resolves.toBe(translator(expected)('greeting'));
        await context.close();
      }

      const page = await open('en-US');
      await expect(page.locator('#send').innerText()).resolves.toBe('Send');
      await expectNoViolations(page, 'English start');
      await shoot(page, 'phone-en-start');

      const words = new Map<Locale, string[]>();
      let current: Locale = 'en';
      for (const next of [...LOCALES.filter((l) => l !== 'en'), 'en'] as Locale[]) {
        await tap(page, translator(current)('menu.language'));
        // Each language's button is marked with that language.
        const tag = LOCALE_TAGS[next];
        const button = page.locator(`#choices button[lang="${tag}"]`).filter({ hasText: translator(next)('language.name') });
        await button.first().click();
        await settled(page);
        current = next;
        const chrome = await page.evaluate(() => ({
          lang: document.documentElement.lang,
          title: document.title,
          heading: document.querySelector('h1')!.textContent,
          send: document.getElementById('send')!.textContent,
          label: document.querySelector('label[for="text"]')!.textContent,
          placeholder: (document.getElementById('text') as HTMLInputElement).placeholder,
          choices: document.getElementById('choices')!.getAttribute('aria-label'),
          lastLang: Array.from(document.querySelectorAll('#log > .bot')).at(-1)!.getAttribute('lang'),
          firstLang: document.querySelector('#log > *')!.getAttribute('lang'),
        }));
        expect(chrome, next).toMatchObject({ lang: tag, heading: chrome.title, lastLang: tag, firstLang: 'en' });
        for (const word of [chrome.title, chrome.send, chrome.label, chrome.placeholder, chrome.choices]) expect(word, next).toBeTruthy();
        words.set(next, [chrome.title, chrome.send]);
        if (next === 'zh') {
          await expectNoViolations(page, 'Chinese');
          await shoot(page, 'phone-zh-language-changed');
          await shoot(page, 'desktop-zh-language-changed', DESKTOP);
          await page.setViewportSize(PHONE);
        }
      }
      // Six languages, six sets of the page's own words.
      expect(new Set([...words.values()].map((w) => w.join(' '))).size).toBe(6);

      // A reload keeps the conversation's language before the first answer comes.
      await tap(page, translator('en')('menu.language'));
      await page.locator('#choices button[lang="ko"]').first().click();
      await settled(page);
      await page.route('**/webchat/messages', () => undefined, { times: 1 }); // the reload's first turn never answers
      await page.reload();
      await page.locator('#log .typing').waitFor();
      expect(await page.evaluate(() => [document.documentElement.lang, document.title, document.getElementById('send')!.textContent])).toEqual(['ko', ...words.get('ko')!]);
      expect(pageProblems.get(page)).toEqual([]);
    },
    TIMEOUT,
  );

  it(
    'shows grouped buttons under their heading, as labelled groups, with no violation, and wraps a long label at 320 px',
    async () => {
      // The real engine behind a second web chat whose outbox this test fills, as staff would.
      const outbox = new WebchatOutbox();
      const log = createLogger('error', () => undefined);
      const server = restify.createServer({ handleUncaughtExceptions: false });
      mountWebchat(server, {
        engine: running!.app.engine,
        limits: createLimits({ rules: loadConfig({}).limits, prefix: 'a11y:', log }),
        log,
        outbox,
        addressKey: addressKeyOf(undefined),
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
      try {
        const page = await open('ja-JP', `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
        const id = await page.evaluate(() => localStorage.getItem('webchat.conversationId'));
        const times = (group: string, list: string[]) => list.map((t) => ({ label: t, data: JSON.stringify({ a: 'menu' }), group }));
        const choices = [...times('Morning', ['9:00', '9:30', '10:00', '10:30', '11:00', '11:30']), ...times('Afternoon', ['13:00', '13:30', '14:00', '14:30', '15:00', '15:30'])];
        // And a long label, which must wrap at 320 px rather than be cut off.
        const back = { label: ja('common.back'), data: JSON.stringify({ a: 'back' }) };
        const long = { label: ja('greeting'), data: JSON.stringify({ a: 'menu' }) };
        await outbox.deliver(`web:${id}`, [{ kind: 'text', text: ja('menu.prompt'), choices: [...choices, back, long] }], 'grouped-1');
        await page.locator('#choices fieldset').nth(1).waitFor();
        const groups = await page.locator('#choices > *').evaluateAll((els) =>
          els.map((el) => (el.tagName === 'FIELDSET' ? { legend: el.querySelector('legend')?.textContent, buttons: Array.from(el.querySelectorAll('button'), (b) => b.textContent) } : el.textContent)),
        );
        expect(groups).toEqual([
          { legend: 'Morning', buttons: ['9:00', '9:30', '10:00', '10:30', '11:00', '11:30'] },
          { legend: 'Afternoon', buttons: ['13:00', '13:30', '14:00', '14:30', '15:00', '15:30'] },
          ja('common.back'),
          ja('greeting'),
        ]);
        // Each group is announced with its heading: the button's group in the accessibility tree.
        await expect(page.getByRole('group', { name: 'Afternoon' }).getByRole('button', { name: '13:30' }).count()).resolves.toBe(1);
        await expectNoViolations(page, 'grouped buttons');
        await shoot(page, 'phone-ja-grouped');
        await shoot(page, 'desktop-ja-grouped', DESKTOP);
        await expectReflow(page, 320);
        expect(pageProblems.get(page)).toEqual([]);
      } finally {
        await new Promise<void>((r) => server.close(() => r()));
      }
    },
    TIMEOUT,
  );
});
