/**
 * The web chat outbox: replies staff send outside a turn wait per conversation until the
 * page polls `GET /webchat/messages`. In memory, deduped by delivery key, bounded in size
 * and age. Over real HTTP, and in Chromium: the page shows what arrives while it is open.
 */
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { Browser } from 'playwright-core';
import restify from 'restify';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Reply } from '../../../src/turn.ts';
import { addressKeyOf, mountWebchat } from '../../../src/channels/webchat/index.ts';
import { WebchatOutbox } from '../../../src/channels/webchat/outbox.ts';
import type { TurnEngine } from '../../../src/engine.ts';
import { createLogger } from '../../../src/log.ts';
import { browserSkipReason, launchBrowser } from '../../support/browser.ts';

const text = (t: string): Reply => ({ kind: 'text', text: t });
const MENU: Reply = { kind: 'text', text: 'メニューです', choices: [{ label: '予約する', data: '{"a":"book"}' }] };

/** A clock that tests move by hand. */
function clock(start = Date.parse('2026-11-24T10:00:00+09:00')) {
  let now = start;
  return { now: () => now, advance: (ms: number) => void (now += ms) };
}

describe('WebchatOutbox', () => {
  it('handles web chat user keys only', () => {
    const outbox = new WebchatOutbox();
    expect(outbox.handles('web:0123456789abcdef')).toBe(true);
    expect(outbox.handles('line:Uabc')).toBe(false);
    expect(outbox.handles('web:')).toBe(false);
  });

  it('keeps replies until taken, in order, once; per conversation', async () => {
    const outbox = new WebchatOutbox();
    const a = randomUUID();
    const b = randomUUID();
    await outbox.deliver(`web:${a}`, [text('one'), text('two')], 'k1');
    await outbox.deliver(`web:${a}`, [text('three')], 'k2');
    await outbox.deliver(`web:${b}`, [text('for b')], 'k1');
    expect(outbox.take(a)).toEqual([text('one'), text('two'), text('three')]);
    expect(outbox.take(a)).toEqual([]);
    expect(outbox.take(b)).toEqual([text('for b')]);
    expect(outbox.take(randomUUID())).toEqual([]);
    expect(outbox.size()).toBe(0);
  });

  it('ignores a delivery whose key it has seen, also after the page took the first', async () => {
    const outbox = new WebchatOutbox();
    const id = randomUUID();
    await outbox.deliver(`web:${id}`, [text('hello')], 'teams-1');
    await outbox.deliver(`web:${id}`, [text('hello')], 'teams-1');
    expect(outbox.take(id)).toEqual([text('hello')]);
    await outbox.deliver(`web:${id}`, [text('hello')], 'teams-1');
    expect(outbox.take(id)).toEqual([]);
  });

  it('keeps at most 50 replies per conversation, dropping the oldest', async () => {
    const outbox = new WebchatOutbox();
    const id = randomUUID();
    for (let i = 1; i <= 60; i++) await outbox.deliver(`web:${id}`, [text(`m${i}`)], `k${i}`);
    const got = outbox.take(id);
    expect(got).toHaveLength(50);
    expect(got[0]).toEqual(text('m11'));
    expect(got.at(-1)).toEqual(text('m60'));
  });

  it('drops replies and forgets keys after an hour', async () => {
    const c = clock();
    const outbox = new WebchatOutbox({ now: c.now });
    const id = randomUUID();
    await outbox.deliver(`web:${id}`, [text('old')], 'k-old');
    c.advance(30 * 60_000);
    await outbox.deliver(`web:${id}`, [text('newer')], 'k-new');
    c.advance(31 * 60_000);
    expect(outbox.take(id)).toEqual([text('newer')]);
    await outbox.deliver(`web:${id}`, [text('old again')], 'k-old');
    expect(outbox.take(id)).toEqual([text('old again')]);
  });

  it('keeps a bounded number of conversations, dropping the least recently written', async () => {
    const outbox = new WebchatOutbox({ maxConversations: 3 });
    const ids = [randomUUID(), randomUUID(), randomUUID(), randomUUID()];
    await outbox.deliver(`web:${ids[0]}`, [text('0')], 'k');
    await outbox.deliver(`web:${ids[1]}`, [text('1')], 'k');
    await outbox.deliver(`web:${ids[2]}`, [text('2')], 'k');
    await outbox.deliver(`web:${ids[0]}`, [text('0b')], 'k2'); // written again: now the newest
    await outbox.deliver(`web:${ids[3]}`, [text('3')], 'k');
    expect(outbox.take(ids[1]!)).toEqual([]);
    expect(outbox.take(ids[0]!)).toEqual([text('0'), text('0b')]);
    expect(outbox.take(ids[2]!)).toEqual([text('2')]);
    expect(outbox.take(ids[3]!)).toEqual([text('3')]);
  });

  it('refuses a user key of another channel', async () => {
    await expect(new WebchatOutbox().deliver('line:Uabc', [text('x')], 'k')).rejects.toThrow();
  });
});

/** The web chat on a real HTTP server, with an engine that greets and echoes. */
async function startWebchat(outbox?: WebchatOutbox) {
  const logs: string[] = [];
  const engine = {
    run: async (turn: { input: { kind: string; text?: string } }) => ({
      status: 'done',
      replies: turn.input.kind === 'text' ? [{ kind: 'text', text: `echo: ${turn.input.text}` }, MENU] : [MENU],
    }),
    known: async () => true,
    localeOf: async () => 'ja',
  } as unknown as TurnEngine;
  const server = restify.createServer({ handleUncaughtExceptions: false });
  const gets: string[] = [];
  server.pre((req, _res, next) => {
    if (req.method === 'GET' && req.url?.startsWith('/webchat/messages')) gets.push(req.url);
    next();
  });
  mountWebchat(server, { engine, limits: { take: async () => true }, log: createLogger('info', (l) => logs.push(l)), addressKey: addressKeyOf(undefined), ...(outbox ? { outbox } : {}) });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, logs, gets, close: () => new Promise<void>((r) => server.close(() => r())) };
}

type Running = Awaited<ReturnType<typeof startWebchat>>;

describe('GET /webchat/messages', () => {
  let running: Running | undefined;
  afterEach(async () => {
    await running?.close();
    running = undefined;
  });

  const poll = (id: string) => fetch(`${running!.url}/webchat/messages?conversationId=${encodeURIComponent(id)}`);

  it('returns what was delivered once, then nothing; never cached', async () => {
    const outbox = new WebchatOutbox();
    running = await startWebchat(outbox);
    const id = randomUUID();
    await outbox.deliver(`web:${id}`, [text('担当の佐藤です。'), MENU], 'teams-1');
    await outbox.deliver(`web:${id}`, [text('担当の佐藤です。'), MENU], 'teams-1'); // retried: deduped

    const first = await poll(id);
    expect(first.status).toBe(200);
    expect(first.headers.get('cache-control')).toBe('no-store');
    expect(await first.json()).toEqual({ replies: [text('担当の佐藤です。'), MENU] });

    const second = await poll(id);
    expect(second.status).toBe(200);
    expect(await second.json()).toEqual({ replies: [] });
  });

  it('does not hand one conversation what was meant for another', async () => {
    const outbox = new WebchatOutbox();
    running = await startWebchat(outbox);
    const mine = randomUUID();
    await outbox.deliver(`web:${mine}`, [text('private')], 'k');
    expect(await (await poll(randomUUID())).json()).toEqual({ replies: [] });
    expect(await (await poll(mine)).json()).toEqual({ replies: [text('private')] });
  });

  it('answers 400 to a missing or malformed conversationId, and logs no input', async () => {
    const outbox = new WebchatOutbox();
    running = await startWebchat(outbox);
    for (const query of ['', '?conversationId=', '?conversationId=short', '?conversationId=../../etc/passwd-0123456789', `?conversationId=${'a'.repeat(65)}`, '?other=0123456789abcdef0123']) {
      const res = await fetch(`${running.url}/webchat/messages${query}`);
      expect(res.status, query).toBe(400);
      expect(res.headers.get('cache-control')).toBe('no-store');
      expect(await res.json()).toEqual({ error: 'malformed query' });
    }
    expect(running.logs.every((l) => JSON.parse(l).event === 'webchat.malformed_poll')).toBe(true);
    expect(running.logs.join('\n')).not.toContain('passwd');
  });

  it('is not served without an outbox (the page then stops polling)', async () => {
    running = await startWebchat();
    const res = await poll(randomUUID());
    expect([404, 405]).toContain(res.status);
  });
});

const skipReason = browserSkipReason();
if (skipReason) console.warn(skipReason);

describe.skipIf(!!skipReason)('the page polls the outbox', () => {
  let browser: Browser | undefined;
  let running: Running | undefined;
  const outbox = new WebchatOutbox();

  beforeAll(async () => {
    running = await startWebchat(outbox);
    browser = await launchBrowser();
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await running?.close();
  }, 60_000);

  it('shows staff messages as they arrive, keeps the buttons unless new ones come, and keeps the CSP', async () => {
    const context = await browser!.newContext({ viewport: { width: 390, height: 844 }, locale: 'ja-JP' });
    const page = await context.newPage();
    page.setDefaultTimeout(15_000);
    const problems: string[] = [];
    page.on('console', (msg) => {
      if (/Content Security Policy|Refused to/i.test(msg.text())) problems.push(msg.text());
    });
    page.on('pageerror', (err) => problems.push(err.message));
    await page.goto(running!.url);
    await page.waitForFunction(() => document.querySelectorAll('#choices button').length === 1);
    const id = await page.evaluate(() => localStorage.getItem('webchat.conversationId'));
    expect(id).toMatch(/^[A-Za-z0-9-]{16,64}$/);

    await outbox.deliver(`web:${id}`, [text('担当の佐藤が対応します。')], 'claimed-1');
    await page.locator('#log .bubble.bot', { hasText: '担当の佐藤が対応します。' }).waitFor();
    // No buttons came with it: the menu button stays.
    expect(await page.locator('#choices button').allTextContents()).toEqual(['予約する']);

    await outbox.deliver(`web:${id}`, [{ kind: 'text', text: '終了しました。', choices: [{ label: 'メニューへ', data: '{"a":"menu"}' }] }], 'closed-1');
    await page.locator('#log .bubble.bot', { hasText: '終了しました。' }).waitFor();
    await page.waitForFunction(() => Array.from(document.querySelectorAll('#choices button'), (b) => b.textContent).join() === 'メニューへ');

    // Typing still works alongside the polling, and each message shows once.
    await page.locator('#text').fill('こんにちは');
    await page.locator('#text').press('Enter');
    await page.locator('#log .bubble.bot', { hasText: 'echo: こんにちは' }).waitFor();
    expect(await page.locator('#log .bubble.bot', { hasText: '担当の佐藤が対応します。' }).count()).toBe(1);
    expect(running!.gets.length).toBeGreaterThanOrEqual(2);
    expect(problems).toEqual([]);
    await context.close();
  }, 60_000);
});
