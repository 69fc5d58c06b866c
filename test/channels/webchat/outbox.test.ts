/**
 * The web chat outbox: replies staff send outside a turn wait per conversation until the
 * page polls `GET /webchat/messages`, acknowledging by cursor what it got. In memory and in
 * Redis (the same contract, also on a real 3-master Cluster; in Redis shared by instances, in
 * one hash slot, sealed, bounded),
 * deduped by delivery key, bounded in size and age. Over real HTTP, and in Chromium: the
 * page shows what arrives while it is open, once.
 */
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { Cluster, Redis } from 'ioredis';
import type { Browser } from 'playwright-core';
import restify from 'restify';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Reply } from '../../../src/turn.ts';
import { addressKeyOf, mountWebchat } from '../../../src/channels/webchat/index.ts';
import { FIRST_CURSOR, type Outbox, WebchatOutbox } from '../../../src/channels/webchat/outbox.ts';
import { RedisWebchatOutbox, type RedisWebchatOutboxOptions } from '../../../src/channels/webchat/redisOutbox.ts';
import type { TurnEngine } from '../../../src/engine.ts';
import { createLogger } from '../../../src/log.ts';
import { createSealer } from '../../../src/stores/sealing.ts';
import { browserSkipReason, launchBrowser } from '../../support/browser.ts';
import { clusterUnsupported, type RedisClusterServer, redisCapability, startRedisCluster } from '../../support/redisCluster.ts';
import { TEST_DATA_KEY } from '../../support/stores.ts';

const text = (t: string): Reply => ({ kind: 'text', text: t });
const MENU: Reply = { kind: 'text', text: 'メニューです', choices: [{ label: '予約する', data: '{"a":"book"}' }] };

/** A clock that tests move by hand. */
function clock(start = Date.parse('2026-11-24T10:00:00+09:00')) {
  let now = start;
  return { now: () => now, advance: (ms: number) => void (now += ms) };
}

/** Redis connections the tests opened, closed after the file. */
const clients: (Redis | Cluster)[] = [];
afterAll(() => {
  for (const c of clients) c.disconnect();
});
function redisClient(): Redis {
  const client = new Redis(inject('redisUrl'));
  clients.push(client);
  return client;
}

/** A 3-master Cluster of this file's, where redis-server can run one (always in CI). */
const onCluster = redisCapability('the web chat outbox on a Redis Cluster', clusterUnsupported());
let cluster: RedisClusterServer | undefined;
if (onCluster) {
  beforeAll(async () => {
    cluster = await startRedisCluster();
  }, 60_000);
  afterAll(async () => {
    for (const c of clients.splice(0)) c.disconnect();
    await cluster?.stop();
  });
}
function clusterClient(): Cluster {
  const client = new Cluster(cluster!.nodes);
  clients.push(client);
  return client;
}

/**
 * Makes outboxes that share their messages: for Redis, one prefix and a connection each,
 * as two instances of the bot would; for memory, one outbox (one process).
 */
type Kind = [name: string, shared: (opts?: Partial<RedisWebchatOutboxOptions>) => () => Outbox];
const KINDS: Kind[] = [
  [
    'memory',
    () => {
      const outbox = new WebchatOutbox();
      return () => outbox;
    },
  ],
  [
    'redis',
    (opts = {}) => {
      const prefix = `test:${randomUUID()}:`;
      return () => new RedisWebchatOutbox({ redis: redisClient(), prefix, ...opts });
    },
  ],
  [
    'redis+sealed',
    (opts = {}) => {
      const prefix = `test:${randomUUID()}:`;
      return () => new RedisWebchatOutbox({ redis: redisClient(), prefix, sealer: createSealer(TEST_DATA_KEY), ...opts });
    },
  ],
  // Each script must stay within one hash slot, or the Cluster refuses it (CROSSSLOT).
  ...(onCluster
    ? ([
        [
          'redis+cluster+sealed',
          (opts = {}) => {
            const prefix = `test:${randomUUID()}:`;
            return () => new RedisWebchatOutbox({ redis: clusterClient(), prefix, sealer: createSealer(TEST_DATA_KEY), ...opts });
          },
        ],
      ] as Kind[])
    : []),
];

describe.each(KINDS)('the outbox (%s)', (_name, shared) => {
  it('handles web chat user keys only, and refuses another channel\'s', async () => {
    const outbox = shared()();
    expect(outbox.handles('web:0123456789abcdef')).toBe(true);
    expect(outbox.handles('line:Uabc')).toBe(false);
    expect(outbox.handles('web:')).toBe(false);
    await expect(outbox.deliver('line:Uabc', [text('x')], 'k')).rejects.toThrow();
  });

  it('keeps replies until taken, in order, once; per conversation', async () => {
    const outbox = shared()();
    const a = randomUUID();
    const b = randomUUID();
    await outbox.deliver(`web:${a}`, [text('one'), text('two')], 'k1');
    await outbox.deliver(`web:${a}`, [text('three')], 'k2');
    await outbox.deliver(`web:${b}`, [text('for b')], 'k1');
    expect((await outbox.poll(a)).replies).toEqual([text('one'), text('two'), text('three')]);
    expect(await outbox.poll(a)).toEqual({ replies: [], cursor: FIRST_CURSOR });
    expect((await outbox.poll(b)).replies).toEqual([text('for b')]);
    expect(await outbox.poll(randomUUID())).toEqual({ replies: [], cursor: FIRST_CURSOR });
  });

  it('hands over again what the page did not acknowledge, and never what it did', async () => {
    const outbox = shared()();
    const id = randomUUID();
    await outbox.deliver(`web:${id}`, [text('one'), MENU], 'k1');
    const first = await outbox.poll(id, FIRST_CURSOR);
    expect(first.replies).toEqual([text('one'), MENU]);
    expect(first.cursor).toMatch(/^\d+-\d+$/);
    // The answer was lost: the page asks again with its old cursor.
    expect(await outbox.poll(id, FIRST_CURSOR)).toEqual(first);
    await outbox.deliver(`web:${id}`, [text('two')], 'k2');
    const second = await outbox.poll(id, first.cursor);
    expect(second.replies).toEqual([text('two')]);
    expect(second.cursor).not.toBe(first.cursor);
    expect(await outbox.poll(id, second.cursor)).toEqual({ replies: [], cursor: second.cursor });
    // Acknowledged means removed: not even a cursorless poll gets it.
    expect((await outbox.poll(id)).replies).toEqual([]);
    await outbox.deliver(`web:${id}`, [text('three')], 'k3');
    expect((await outbox.poll(id, second.cursor)).replies).toEqual([text('three')]);
  });

  it('ignores a delivery whose key it has seen, also after the page took the first', async () => {
    const outbox = shared()();
    const id = randomUUID();
    await outbox.deliver(`web:${id}`, [text('hello')], 'teams-1');
    await outbox.deliver(`web:${id}`, [text('hello')], 'teams-1');
    expect((await outbox.poll(id)).replies).toEqual([text('hello')]);
    await outbox.deliver(`web:${id}`, [text('hello')], 'teams-1');
    expect((await outbox.poll(id)).replies).toEqual([]);
  });

  it('keeps at most 50 replies per conversation, dropping the oldest', async () => {
    const outbox = shared()();
    const id = randomUUID();
    for (let i = 1; i <= 60; i++) await outbox.deliver(`web:${id}`, [text(`m${i}`)], `k${i}`);
    const got = (await outbox.poll(id)).replies;
    expect(got).toHaveLength(50);
    expect(got[0]).toEqual(text('m11'));
    expect(got.at(-1)).toEqual(text('m60'));
  });

  it('rejects a malformed cursor', async () => {
    const outbox = shared()();
    await expect(outbox.poll(randomUUID(), '+')).rejects.toThrow();
    await expect(outbox.poll(randomUUID(), '1-2-3')).rejects.toThrow();
  });

  it('across instances: delivered on one, polled on another, each reply handed over once', async () => {
    const instance = shared();
    const [a, b, c] = [instance(), instance(), instance()];
    const id = randomUUID();
    // A retried delivery reaching another instance still shows once.
    await a.deliver(`web:${id}`, [text('from a')], 'teams-1');
    await b.deliver(`web:${id}`, [text('from a')], 'teams-1');
    const got = await b.poll(id, FIRST_CURSOR);
    expect(got.replies).toEqual([text('from a')]);
    // Acknowledged through one instance, gone from all.
    expect((await a.poll(id, got.cursor)).replies).toEqual([]);
    expect((await c.poll(id)).replies).toEqual([]);

    // Polls racing on every instance: each reply goes to exactly one of them.
    for (let i = 0; i < 20; i++) await [a, b, c][i % 3]!.deliver(`web:${id}`, [text(`r${i}`)], `k${i}`);
    const polls = await Promise.all(Array.from({ length: 30 }, (_, i) => [a, b, c][i % 3]!.poll(id)));
    const handed = polls.flatMap((p) => p.replies.map((r) => (r as { text: string }).text));
    expect(handed.sort()).toEqual(Array.from({ length: 20 }, (_, i) => `r${i}`).sort());
  });
});

describe.each(KINDS.filter(([name]) => name === 'redis' || name === 'redis+sealed'))('the outbox in Redis (%s)', (name, shared) => {
  const prefixOf = () => `test:${randomUUID()}:`;

  it('keeps one conversation in one hash slot, bounded in length, keys and time', async () => {
    const prefix = prefixOf();
    const sealer = name === 'redis+sealed' ? { sealer: createSealer(TEST_DATA_KEY) } : {};
    const outbox = new RedisWebchatOutbox({ redis: redisClient(), prefix, ttlMs: 600_000, maxPerConversation: 5, maxKeysPerConversation: 3, ...sealer });
    const id = randomUUID();
    for (let i = 0; i < 8; i++) await outbox.deliver(`web:${id}`, [text(`担当の鈴木です ${i}`)], `teams-${i}`);
    const r = redisClient();
    const keys = (await r.keys(`${prefix}*`)).sort();
    expect(keys).toEqual([`${prefix}{w:${id}}:out`, `${prefix}{w:${id}}:seen`]);
    // Cluster hashes a key's first {…} only: both keys hash {w:<conversationId>}.
    for (const key of keys) expect(key.slice(key.indexOf('{'), key.indexOf('}') + 1)).toBe(`{w:${id}}`);
    expect(await r.xlen(keys[0]!)).toBe(5);
    expect(await r.zcard(keys[1]!)).toBe(3);
    for (const key of keys) {
      const ttl = await r.pttl(key);
      expect(ttl).toBeGreaterThan(500_000);
      expect(ttl).toBeLessThanOrEqual(600_000);
    }
    // No delivery key in clear; the staff's words only when the store does not seal.
    const raw = JSON.stringify([await r.xrange(keys[0]!, '-', '+'), await r.zrange(keys[1]!, '0', '-1')]);
    expect(raw).not.toContain('teams-');
    if (name === 'redis+sealed') expect(raw).not.toContain('鈴木');
    else expect(raw).toContain('鈴木');
    expect((await outbox.poll(id)).replies.map((x) => (x as { text: string }).text)).toEqual([3, 4, 5, 6, 7].map((i) => `担当の鈴木です ${i}`));
  });

  it('a poll of a conversation with nothing waiting writes nothing', async () => {
    const prefix = prefixOf();
    const outbox = new RedisWebchatOutbox({ redis: redisClient(), prefix });
    await outbox.poll(randomUUID(), FIRST_CURSOR);
    await outbox.poll(randomUUID());
    expect(await redisClient().keys(`${prefix}*`)).toEqual([]);
  });

  it('drops replies and forgets keys after their time (on Redis\'s clock)', async () => {
    const outbox = new RedisWebchatOutbox({ redis: redisClient(), prefix: prefixOf(), ttlMs: 1_500 });
    const id = randomUUID();
    await outbox.deliver(`web:${id}`, [text('old')], 'k-old');
    await new Promise((r) => setTimeout(r, 1_600));
    await outbox.deliver(`web:${id}`, [text('newer')], 'k-new');
    expect((await outbox.poll(id)).replies).toEqual([text('newer')]);
    await outbox.deliver(`web:${id}`, [text('old again')], 'k-old');
    expect((await outbox.poll(id)).replies).toEqual([text('old again')]);
  });
});

describe('the outbox in Redis, sealed', () => {
  it('reads sealed replies only with the key', async () => {
    const prefix = `test:${randomUUID()}:`;
    const id = randomUUID();
    await new RedisWebchatOutbox({ redis: redisClient(), prefix, sealer: createSealer(TEST_DATA_KEY) }).deliver(`web:${id}`, [text('secret')], 'k');
    await expect(new RedisWebchatOutbox({ redis: redisClient(), prefix }).poll(id, FIRST_CURSOR)).rejects.toThrow(/without a data encryption key/);
  });
});

describe('the outbox in memory', () => {
  it('drops replies and forgets keys after an hour', async () => {
    const c = clock();
    const outbox = new WebchatOutbox({ now: c.now });
    const id = randomUUID();
    await outbox.deliver(`web:${id}`, [text('old')], 'k-old');
    c.advance(30 * 60_000);
    await outbox.deliver(`web:${id}`, [text('newer')], 'k-new');
    c.advance(31 * 60_000);
    expect((await outbox.poll(id)).replies).toEqual([text('newer')]);
    await outbox.deliver(`web:${id}`, [text('old again')], 'k-old');
    expect((await outbox.poll(id)).replies).toEqual([text('old again')]);
  });

  it('keeps ids ahead of a cursor when the clock stands still or goes back', async () => {
    const c = clock();
    const outbox = new WebchatOutbox({ now: c.now });
    const id = randomUUID();
    await outbox.deliver(`web:${id}`, [text('one'), text('two')], 'k1');
    const first = await outbox.poll(id, FIRST_CURSOR);
    c.advance(-5_000);
    await outbox.deliver(`web:${id}`, [text('three')], 'k2');
    expect((await outbox.poll(id, first.cursor)).replies).toEqual([text('three')]);
  });

  it('keeps a bounded number of conversations, dropping the least recently written', async () => {
    const outbox = new WebchatOutbox({ maxConversations: 3 });
    const ids = [randomUUID(), randomUUID(), randomUUID(), randomUUID()];
    await outbox.deliver(`web:${ids[0]}`, [text('0')], 'k');
    await outbox.deliver(`web:${ids[1]}`, [text('1')], 'k');
    await outbox.deliver(`web:${ids[2]}`, [text('2')], 'k');
    await outbox.deliver(`web:${ids[0]}`, [text('0b')], 'k2'); // written again: now the newest
    await outbox.deliver(`web:${ids[3]}`, [text('3')], 'k');
    expect((await outbox.poll(ids[1]!)).replies).toEqual([]);
    expect((await outbox.poll(ids[0]!)).replies).toEqual([text('0'), text('0b')]);
    expect((await outbox.poll(ids[2]!)).replies).toEqual([text('2')]);
    expect((await outbox.poll(ids[3]!)).replies).toEqual([text('3')]);
  });
});

/** The web chat on a real HTTP server, with an engine that greets and echoes. */
async function startWebchat(outbox?: Outbox) {
  const logs: string[] = [];
  const engine = {
    run: async (turn: { input: { kind: string; text?: string } }) => ({
      status: 'done',
      replies: turn.input.kind === 'text' ? [{ kind: 'text', text: `echo: ${turn.input.text}` }, MENU] : [MENU],
      locale: 'ja',
    }),
    known: async () => true,
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

  const poll = (id: string, after?: string) => fetch(`${running!.url}/webchat/messages?conversationId=${encodeURIComponent(id)}${after ? `&after=${after}` : ''}`);

  it('returns what was delivered once, then nothing; never cached (a page without cursor)', async () => {
    const outbox = new WebchatOutbox();
    running = await startWebchat(outbox);
    const id = randomUUID();
    await outbox.deliver(`web:${id}`, [text('担当の佐藤です。'), MENU], 'teams-1');
    await outbox.deliver(`web:${id}`, [text('担当の佐藤です。'), MENU], 'teams-1'); // retried: deduped

    const first = await poll(id);
    expect(first.status).toBe(200);
    expect(first.headers.get('cache-control')).toBe('no-store');
    expect(await first.json()).toEqual({ replies: [text('担当の佐藤です。'), MENU], cursor: expect.stringMatching(/^\d+-\d+$/) });

    const second = await poll(id);
    expect(second.status).toBe(200);
    expect(await second.json()).toEqual({ replies: [], cursor: FIRST_CURSOR });
  });

  it('with a cursor: answers again what was not acknowledged, never what was', async () => {
    const outbox = new WebchatOutbox();
    running = await startWebchat(outbox);
    const id = randomUUID();
    await outbox.deliver(`web:${id}`, [text('担当の佐藤です。')], 'teams-1');
    const lost = (await (await poll(id, FIRST_CURSOR)).json()) as { replies: Reply[]; cursor: string };
    const again = (await (await poll(id, FIRST_CURSOR)).json()) as { replies: Reply[]; cursor: string };
    expect(again).toEqual(lost);
    expect(again.replies).toEqual([text('担当の佐藤です。')]);
    expect(await (await poll(id, again.cursor)).json()).toEqual({ replies: [], cursor: again.cursor });
  });

  it('answers 503 when the outbox cannot be read, and logs no input', async () => {
    const broken = redisClient();
    const outbox = new RedisWebchatOutbox({ redis: broken, prefix: 'test:broken:' });
    running = await startWebchat(outbox);
    broken.disconnect();
    const id = randomUUID();
    const res = await poll(id, FIRST_CURSOR);
    expect(res.status).toBe(503);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(running.logs.map((l) => JSON.parse(l).event)).toContain('webchat.poll_failed');
    expect(running.logs.join('\n')).not.toContain(id);
  });

  it('does not hand one conversation what was meant for another', async () => {
    const outbox = new WebchatOutbox();
    running = await startWebchat(outbox);
    const mine = randomUUID();
    await outbox.deliver(`web:${mine}`, [text('private')], 'k');
    expect(await (await poll(randomUUID())).json()).toEqual({ replies: [], cursor: FIRST_CURSOR });
    expect((await (await poll(mine)).json()).replies).toEqual([text('private')]);
  });

  it('answers 400 to a missing or malformed conversationId, and logs no input', async () => {
    const outbox = new WebchatOutbox();
    running = await startWebchat(outbox);
    const ok = 'conversationId=0123456789abcdef0123';
    for (const query of ['', '?conversationId=', '?conversationId=short', '?conversationId=../../etc/passwd-0123456789', `?conversationId=${'a'.repeat(65)}`, '?other=0123456789abcdef0123', `?${ok}&after=`, `?${ok}&after=%2B`, `?${ok}&after=1-2-3`, `?${ok}&after=${'9'.repeat(16)}-0`]) {
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
    expect(running!.gets.every((url) => /&after=\d+-\d+$/.test(url))).toBe(true);
    expect(problems).toEqual([]);
    await context.close();
  }, 60_000);

  it('shows a staff message whose first answer was lost, once', async () => {
    const context = await browser!.newContext({ viewport: { width: 390, height: 844 }, locale: 'ja-JP' });
    const page = await context.newPage();
    page.setDefaultTimeout(15_000);
    let lost = 0;
    let polls = 0;
    // The server answers the poll, but the answer never reaches the page.
    await page.route('**/webchat/messages?*', async (route) => {
      polls++;
      const response = await route.fetch();
      const body = (await response.json()) as { replies: Reply[] };
      if (body.replies.length > 0 && lost === 0) {
        lost++;
        await route.abort('connectionreset');
        return;
      }
      await route.fulfill({ response });
    });
    await page.goto(running!.url);
    await page.waitForFunction(() => document.querySelectorAll('#choices button').length === 1);
    const id = await page.evaluate(() => localStorage.getItem('webchat.conversationId'));

    await outbox.deliver(`web:${id}`, [text('担当の田中が対応します。')], 'claimed-2');
    await page.locator('#log .bubble.bot', { hasText: '担当の田中が対応します。' }).waitFor();
    expect(lost).toBe(1);
    // Two more answers shown (the page asks again only once it has shown the last): still once.
    const shown = polls;
    await expect.poll(() => polls, { timeout: 20_000 }).toBeGreaterThanOrEqual(shown + 3);
    expect(await page.locator('#log .bubble.bot', { hasText: '担当の田中が対応します。' }).count()).toBe(1);
    await context.close();
  }, 60_000);
});
