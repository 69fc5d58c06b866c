/**
 * The LINE webhook over real HTTP, against a stub of LINE's Messaging API: signatures,
 * dedupe, ordering, reply-token fallback to push, retry keys, unsupported messages, a whole
 * booking, personal data kept out of the logs, standby events, a batch with a bad event, an
 * oversized body on a kept-alive connection, and a Redis outage.
 */
import { connect } from 'node:net';
import { DateTime } from 'luxon';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import ja from '../../../locales/ja.json' with { type: 'json' };
import { createMemoryStore } from '../../../src/stores/memory.ts';
import type { Store } from '../../../src/stores/ports.ts';
import { fakeClock, type RunningApp, startApp } from '../../support/app.ts';
import {
  eventFactory,
  eventsToTimeStep,
  type LineEvent,
  type LineStub,
  lineUserId,
  NOW_ISO,
  postWebhook,
  REFERENCE,
  SESSION_ID,
  type SentCall,
  sign,
  standby,
  startLineStub,
  tap,
  textOf,
  webhookBody,
} from '../../support/lineStub.ts';
import { type RedisServer, startRedisServer } from '../../support/redisServer.ts';
import { stableUuid } from '../../../src/uuid.ts';
import { bubbleButtons } from './flex.ts';

const SECRET = 'test-channel-secret-0123456789abcdef';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

let stub: LineStub;
let running: RunningApp;
const clock = fakeClock(NOW_ISO);
const ev = eventFactory(clock.now);

function lineEnv(stubUrl: string, extra: Record<string, string> = {}): Record<string, string> {
  return { LINE_CHANNEL_SECRET: SECRET, LINE_CHANNEL_ACCESS_TOKEN: 'test-token', LINE_API_BASE_URL: stubUrl, ...extra };
}

/** Reply calls made with this event's reply token. */
function repliesTo(event: LineEvent): SentCall[] {
  return stub.sent().filter((c) => c.kind === 'reply' && c.replyToken === event.replyToken);
}

/** Push calls to this user. */
function pushesTo(userId: string): SentCall[] {
  return stub.sent().filter((c) => c.kind === 'push' && c.to === userId);
}

/** Posts the events (one body), expects 200, and waits until each got its reply. */
async function send(...events: LineEvent[]): Promise<void> {
  const res = await postWebhook(running.url, events, SECRET);
  expect(res.status).toBe(200);
  await stub.waitFor(() => events.every((e) => repliesTo(e).some((c) => c.status === 200)));
}

/** Sends one event and returns what the bot replied to it (texts, and the raw JSON). */
async function step(event: LineEvent): Promise<{ text: string; json: string }> {
  await send(event);
  const [call] = repliesTo(event);
  return { text: textOf(call!), json: JSON.stringify(call!.messages) };
}

beforeAll(async () => {
  stub = await startLineStub();
  running = await startApp(lineEnv(stub.url), { now: clock.now, lineRetryDelayMs: 5, lineSweepEveryMs: 3_600_000 });
});
afterAll(async () => {
  await running?.close();
  await stub?.close();
});
beforeEach(() => {
  stub.reset();
  clock.set(NOW_ISO);
});

describe('signature', () => {
  it('rejects a missing signature with 401 and sends nothing', async () => {
    const user = lineUserId();
    const res = await postWebhook(running.url, [ev.follow(user)], SECRET, { signature: null });
    expect(res.status).toBe(401);
    expect(stub.calls).toHaveLength(0);
    expect(await running.app.store.conversations.load(`line:${user}`)).toBeNull();
  });

  it('rejects a wrong signature with 401 and sends nothing', async () => {
    const user = lineUserId();
    const body = webhookBody([ev.text(user, '予約する')]);
    for (const signature of [sign(body, 'another-secret'), 'not-base64!!', '', sign(`${body} `, SECRET)]) {
      const res = await postWebhook(running.url, body, SECRET, { signature });
      expect(res.status).toBe(401);
    }
    expect(stub.calls).toHaveLength(0);
    expect(await running.app.store.conversations.load(`line:${user}`)).toBeNull();
  });

  it('answers 400 to validly signed malformed JSON, logging no part of the body', async () => {
    const body = '{"events":[{"type":"message","message":{"text":"secret-marker-山田太郎"';
    const before = running.logs.length;
    const res = await postWebhook(running.url, body, SECRET);
    expect(res.status).toBe(400);
    const lines = running.logs.slice(before);
    expect(lines.some((l) => l.includes('line.malformed_payload'))).toBe(true);
    expect(running.logs.join('\n')).not.toMatch(/secret-marker|山田/);
    expect(stub.calls).toHaveLength(0);
  });

  it('answers 200 to an empty events list (LINE console verification)', async () => {
    const res = await postWebhook(running.url, '{"destination":"Uxxxxxxxx","events":[]}', SECRET);
    expect(res.status).toBe(200);
    expect(stub.calls).toHaveLength(0);
  });
});

describe('replies', () => {
  it('greets a new follower with the menu as buttons in its bubble, and the same as quick-reply postbacks', async () => {
    const user = lineUserId();
    const follow = ev.follow(user);
    await send(follow);
    const [call] = repliesTo(follow);
    expect(call).toBeDefined();
    expect(textOf(call!)).toContain(ja.greeting);
    expect(textOf(call!)).toContain(ja.menu.prompt);
    const request = stub.calls.find((c) => c.path === '/v2/bot/message/reply')!;
    expect(request.headers.authorization).toBe('Bearer test-token');
    const items = call!.messages.at(-1)!.quickReply!.items;
    expect(items.length).toBeGreaterThan(0);
    expect(items.length).toBeLessThanOrEqual(13);
    for (const item of items) {
      expect(item.action.type).toBe('postback');
      expect(item.action.label.length).toBeGreaterThan(0);
      expect(item.action.label.length).toBeLessThanOrEqual(20);
      expect(() => JSON.parse(item.action.data!)).not.toThrow();
      expect(item.action.data!.length).toBeLessThanOrEqual(300);
    }
    expect(items.map((i) => i.action.label)).toContain(ja.menu.book);
    // LINE for PC shows no quick replies: the same postbacks are buttons inside the bubble.
    expect(bubbleButtons(call!.messages.at(-1)!).map((b) => b.data)).toEqual(items.map((i) => i.action.data));
    // Only earlier messages carry no quick reply (LINE shows them on the last one only).
    for (const m of call!.messages.slice(0, -1)) expect(m.quickReply).toBeUndefined();
  });

  it('handles a redelivered event only once: one reply, one state change', async () => {
    const user = lineUserId();
    const event = ev.text(user, '予約する');
    await send(event);
    const redelivered = { ...event, deliveryContext: { isRedelivery: true } };
    const res = await postWebhook(running.url, [redelivered], SECRET);
    expect(res.status).toBe(200);
    // And once more in the same body as itself.
    const res2 = await postWebhook(running.url, [redelivered, redelivered], SECRET);
    expect(res2.status).toBe(200);
    expect(repliesTo(event)).toHaveLength(1);
    expect(pushesTo(user)).toHaveLength(0);
    // The turn's one save; its answer reached LINE, so nothing waits in the outbox.
    const stored = await running.app.store.conversations.load(`line:${user}`);
    expect(stored?.rev).toBe(1);
    expect(stored?.outbox).toBeUndefined();
  });

  it("runs one user's events of one body in order", async () => {
    const user = lineUserId();
    const book = ev.text(user, '予約する');
    const mode = ev.postback(user, tap.mode());
    await send(book, mode);
    expect(textOf(repliesTo(book)[0]!)).toContain(ja.booking.modePrompt);
    expect(textOf(repliesTo(mode)[0]!)).toContain('確認 1/5');
    // Each turn saved once, and marked delivered.
    const stored = await running.app.store.conversations.load(`line:${user}`);
    expect(stored?.rev).toBe(2);
    expect(stored?.outbox).toBeUndefined();
  });

  it("sends one user's answers in order even when they come in separate requests", async () => {
    const user = lineUserId();
    const first = ev.text(user, '予約する');
    const second = ev.postback(user, tap.mode());
    // LINE is slow to take the first answer; the second request arrives meanwhile.
    stub.delayNextReplies(1, 300);
    const a = postWebhook(running.url, [first], SECRET);
    // The first turn is done (its answer is on its way) before the second request comes.
    while ((await running.app.store.conversations.load(`line:${user}`))?.rev !== 1) await new Promise((r) => setTimeout(r, 5));
    const b = postWebhook(running.url, [second], SECRET);
    expect((await a).status).toBe(200);
    expect((await b).status).toBe(200);
    await stub.waitFor(() => repliesTo(first).length === 1 && repliesTo(second).length === 1);
    const order = stub.sent().map((c) => c.replyToken);
    expect(order.indexOf(first.replyToken)).toBeLessThan(order.indexOf(second.replyToken));
    expect(textOf(repliesTo(second)[0]!)).toContain('確認 1/5');
  });

  it('answers every user of one body', async () => {
    const alice = lineUserId();
    const bob = lineUserId();
    const a = ev.text(alice, '予約する');
    const b = ev.follow(bob);
    await send(a, b);
    expect(textOf(repliesTo(a)[0]!)).toContain(ja.booking.modePrompt);
    expect(textOf(repliesTo(b)[0]!)).toContain(ja.greeting);
  });

  it('stays quiet in a group chat (the staff LINE group): it only posts there', async () => {
    const member = lineUserId();
    const inGroup = { ...ev.text(member, '予約する'), source: { type: 'group', groupId: 'Cstaffgroup', userId: member } };
    const res = await postWebhook(running.url, [inGroup as unknown as LineEvent], SECRET);
    expect(res.status).toBe(200);
    expect(stub.sent()).toHaveLength(0);
    expect(await running.app.store.conversations.load(`line:${member}`)).toBeNull();
  });

  it('pushes, with a UUID retry key, when the reply token is too old', async () => {
    const user = lineUserId();
    const event = { ...ev.text(user, 'ヘルプ'), timestamp: clock.now() - 55_000 };
    const res = await postWebhook(running.url, [event], SECRET);
    expect(res.status).toBe(200);
    await stub.waitFor(() => pushesTo(user).length > 0);
    expect(repliesTo(event)).toHaveLength(0);
    const [push] = pushesTo(user);
    expect(push!.status).toBe(200);
    expect(push!.retryKey).toMatch(UUID);
    expect(textOf(push!)).toContain(ja.help);
  });

  it('falls back to push when LINE rejects the reply token', async () => {
    const user = lineUserId();
    const event = ev.follow(user);
    stub.failNextReplies(1);
    const res = await postWebhook(running.url, [event], SECRET);
    expect(res.status).toBe(200);
    await stub.waitFor(() => pushesTo(user).some((c) => c.status === 200));
    expect(repliesTo(event).map((c) => c.status)).toEqual([400]);
    const pushes = pushesTo(user);
    expect(pushes).toHaveLength(1);
    expect(pushes[0]!.retryKey).toMatch(UUID);
    expect(textOf(pushes[0]!)).toContain(ja.greeting);
  });

  it('retries a failed push with the same retry key', async () => {
    const user = lineUserId();
    const event = { ...ev.text(user, 'ヘルプ'), timestamp: clock.now() - 55_000 };
    stub.failNextPushes(1);
    const res = await postWebhook(running.url, [event], SECRET);
    expect(res.status).toBe(200);
    await stub.waitFor(() => pushesTo(user).some((c) => c.status === 200));
    const pushes = pushesTo(user);
    expect(pushes.map((c) => c.status)).toEqual([500, 200]);
    expect(pushes[0]!.retryKey).toMatch(UUID);
    expect(pushes[1]!.retryKey).toBe(pushes[0]!.retryKey);
    expect(pushes[1]!.messages).toEqual(pushes[0]!.messages);
  });

  it('acknowledges LINE before the deadline even when sending the reply is stuck', async () => {
    const user = lineUserId();
    const event = ev.follow(user);
    const release = stub.pause();
    try {
      const res = await postWebhook(running.url, [event], SECRET);
      // Answered while the reply call is still waiting at LINE: the ack does not wait for it.
      expect(res.status).toBe(200);
      expect(stub.pending()).toBe(1);
      expect(stub.calls).toHaveLength(0);
      expect(running.logs.some((l) => l.includes('line.ack_before_done'))).toBe(true);
    } finally {
      release();
    }
    await stub.waitFor(() => repliesTo(event).length === 1);
    expect(textOf(repliesTo(event)[0]!)).toContain(ja.greeting);
  });

  it('answers a sticker with a polite hint, not silence', async () => {
    const user = lineUserId();
    const { text } = await step(ev.sticker(user));
    expect(text).toContain(ja.unsupported);
  });
});

describe('standby (another module owns the chat)', () => {
  it('acknowledges standby events but runs no turn, sends nothing and stores nothing', async () => {
    const user = lineUserId();
    const events = [standby(ev.text(user, '予約する')), standby(ev.follow(user)), standby(ev.postback(user, tap.mode()))];
    const res = await postWebhook(running.url, events, SECRET);
    expect(res.status).toBe(200);
    // The ack waits for the turns, so a turn run for these would have saved by now.
    expect(await running.app.store.conversations.load(`line:${user}`)).toBeNull();
    // The same user's next active event: an answer to the standby ones would leave before its own.
    const active = ev.text(user, '予約する');
    await send(active);
    expect(stub.sent()).toHaveLength(1);
    expect(pushesTo(user)).toHaveLength(0);
    expect((await running.app.store.conversations.load(`line:${user}`))?.rev).toBe(1);
  });
});

describe('a batch with a bad event', () => {
  it('answers the good events and skips each bad one, logging only its index and type', async () => {
    const alice = lineUserId();
    const bob = lineUserId();
    const carol = lineUserId();
    const good1 = ev.text(alice, '予約する');
    const good2 = ev.follow(carol);
    // No event id and a timestamp that is not a number.
    const { webhookEventId: _, ...broken } = { ...ev.text(bob, 'secret-marker-山田太郎 090-1111-2222'), timestamp: 'yesterday' };
    const body = JSON.stringify({ destination: 'Ubot0000000000000000000000000000', events: [good1, broken, null, 42, good2] });
    const before = running.logs.length;
    const res = await postWebhook(running.url, body, SECRET);
    expect(res.status).toBe(200);
    await stub.waitFor(() => repliesTo(good1).length === 1 && repliesTo(good2).length === 1);
    expect(textOf(repliesTo(good1)[0]!)).toContain(ja.booking.modePrompt);
    expect(textOf(repliesTo(good2)[0]!)).toContain(ja.greeting);
    expect(stub.sent()).toHaveLength(2);
    expect(await running.app.store.conversations.load(`line:${bob}`)).toBeNull();

    const skipped = running.logs
      .slice(before)
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => l.event === 'line.event_invalid');
    expect(skipped.map((l) => [l.index, l.type])).toEqual([
      [1, 'message'],
      [2, undefined],
      [3, undefined],
    ]);
    expect(running.logs.join('\n')).not.toMatch(/secret-marker|山田|1111|yesterday/);
    expect(running.logs.join('\n')).not.toContain(bob);
  });

  it('answers 400 only to a body that is itself malformed, and 401 first to a forged one', async () => {
    for (const body of ['not json', '[]', 'null', '"events"', '{}', '{"events":{}}', '{"events":"x"}']) {
      expect((await postWebhook(running.url, body, SECRET)).status, body).toBe(400);
      expect((await postWebhook(running.url, body, SECRET, { signature: sign(body, 'another-secret') })).status, body).toBe(401);
    }
    expect(stub.calls).toHaveLength(0);
  });
});

describe('an oversized body', () => {
  /** Writes `requests` on one raw socket and collects what comes back until the server closes it. */
  function exchange(url: string, requests: Buffer[]): Promise<{ text: string; closed: boolean }> {
    const { hostname, port } = new URL(url);
    return new Promise((resolve, reject) => {
      const socket = connect(Number(port), hostname);
      const chunks: Buffer[] = [];
      const timer = setTimeout(() => {
        socket.destroy();
        resolve({ text: Buffer.concat(chunks).toString('latin1'), closed: false });
      }, 3000);
      socket.on('data', (c: Buffer) => chunks.push(c));
      socket.on('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      socket.on('close', () => {
        clearTimeout(timer);
        resolve({ text: Buffer.concat(chunks).toString('latin1'), closed: true });
      });
      for (const r of requests) socket.write(r);
    });
  }

  const request = (body: Buffer, extra: Record<string, string> = {}): Buffer => {
    const head = Object.entries({ host: 'localhost', connection: 'keep-alive', 'content-type': 'application/json', 'content-length': String(body.length), ...extra })
      .map(([k, v]) => `${k}: ${v}\r\n`)
      .join('');
    return Buffer.concat([Buffer.from(`POST /line/webhook HTTP/1.1\r\n${head}\r\n`), body]);
  };

  it('answers 413 with Connection: close and closes the kept-alive socket; a new connection works', async () => {
    const huge = Buffer.alloc(1024 * 1024 + 64 * 1024, 'x');
    const user = lineUserId();
    const follow = ev.follow(user);
    const valid = Buffer.from(webhookBody([follow]));
    const { text, closed } = await exchange(running.url, [
      request(huge, { 'x-line-signature': sign(huge, SECRET) }),
      request(valid, { 'x-line-signature': sign(valid, SECRET) }),
    ]);
    expect(text).toMatch(/^HTTP\/1\.1 413 /);
    expect(text).toMatch(/\r\nconnection: close\r\n/i);
    expect(closed).toBe(true);
    // Only the 413 came back on that socket: the request after it was not taken.
    expect(text.match(/HTTP\/1\.1 /g)).toHaveLength(1);

    const res = await postWebhook(running.url, [follow], SECRET);
    expect(res.status).toBe(200);
    await stub.waitFor(() => repliesTo(follow).length === 1);
    expect(textOf(repliesTo(follow)[0]!)).toContain(ja.greeting);
  });
});

describe('a whole booking', () => {
  it('books a slot end to end and keeps the personal data out of the logs', async () => {
    const user = lineUserId();
    const name = '川崎 花子';
    const phone = '090-8765-4321';
    const email = 'hanako.kawasaki@example.jp';

    for (const event of eventsToTimeStep(ev, user)) await step(event);
    const held = await step(ev.postback(user, tap.time('0930')));
    expect(held.text).toContain('ご予約の前にお読みください');
    expect(held.text).toContain(ja.booking.precautionsPrompt);
    expect((await step(ev.postback(user, tap.agree()))).text).toContain(ja.booking.namePrompt);
    expect((await step(ev.text(user, name))).text).toContain(ja.booking.phonePrompt);
    expect((await step(ev.text(user, phone))).text).toContain(ja.booking.emailPrompt);
    const summary = await step(ev.text(user, email));
    expect(summary.json).toContain(ja.booking.summaryTitle);
    const done = await step(ev.postback(user, tap.confirm()));
    const reference = done.json.match(REFERENCE)?.[0];
    expect(reference).toBeDefined();
    expect(done.text).toContain(ja.booking.confirmedTitle);

    const bookings = await running.app.store.bookings.listSession(SESSION_ID);
    const mine = bookings.filter((b) => b.userKey === `line:${user}`);
    expect(mine).toHaveLength(1);
    expect(mine[0]).toMatchObject({ id: reference, slotId: '0930', mode: 'in_person' });
    expect(mine[0]!.contact).toEqual({ name, phone: '09087654321', email });

    const logs = running.logs.join('\n');
    for (const secret of [name, '川崎', '花子', phone, '09087654321', '8765', email, 'hanako', user]) {
      expect(logs).not.toContain(secret);
    }
  });
});

describe('a turn that fails', () => {
  let flaky: RunningApp;
  /** `load`: the next n loads fail; `save`: the nth save from now fails (0: none); `delivered`: the next n delivery marks fail. */
  const failures = { load: 0, save: 0, delivered: 0 };

  beforeAll(async () => {
    const base = createMemoryStore();
    const store: Store = {
      ...base,
      conversations: {
        ...base.conversations,
        async load(key) {
          if (failures.load > 0) {
            failures.load--;
            throw new Error('connection lost');
          }
          return base.conversations.load(key);
        },
        async loadCounting(key, nowMs, windowMs) {
          if (failures.load > 0) {
            failures.load--;
            throw new Error('connection lost');
          }
          return base.conversations.loadCounting(key, nowMs, windowMs);
        },
        async save(key, rev, state, ttlMs, outbox) {
          if (failures.save > 0 && --failures.save === 0) throw new Error('connection lost');
          return base.conversations.save(key, rev, state, ttlMs, outbox);
        },
        async delivered(key, id) {
          if (failures.delivered > 0) {
            failures.delivered--;
            throw new Error('connection lost');
          }
          return base.conversations.delivered(key, id);
        },
      },
    };
    flaky = await startApp(lineEnv(stub.url), { store, now: clock.now, lineRetryDelayMs: 5 });
  });
  afterAll(async () => {
    await flaky?.close();
  });

  it('apologises, and a redelivery of the event is answered for real', async () => {
    const user = lineUserId();
    const event = ev.text(user, '予約する');
    failures.load = 1;
    expect((await postWebhook(flaky.url, [event], SECRET)).status).toBe(200);
    await stub.waitFor(() => repliesTo(event).length === 1);
    expect(textOf(repliesTo(event)[0]!)).toContain(ja.unavailable);

    const redelivered = { ...event, deliveryContext: { isRedelivery: true } };
    expect((await postWebhook(flaky.url, [redelivered], SECRET)).status).toBe(200);
    await stub.waitFor(() => repliesTo(event).length === 2);
    expect(textOf(repliesTo(event)[1]!)).toContain(ja.booking.modePrompt);
    expect((await flaky.app.store.conversations.load(`line:${user}`))?.rev).toBe(1);
  });

  it('does not let the apology push swallow the real answer of the redelivery (retry keys differ)', async () => {
    const user = lineUserId();
    // Too old for the reply token: both answers go by push.
    const event = { ...ev.text(user, '予約する'), timestamp: clock.now() - 55_000 };
    failures.load = 1;
    expect((await postWebhook(flaky.url, [event], SECRET)).status).toBe(200);
    await stub.waitFor(() => pushesTo(user).length === 1);
    expect(textOf(pushesTo(user)[0]!)).toContain(ja.unavailable);

    const redelivered = { ...event, deliveryContext: { isRedelivery: true } };
    expect((await postWebhook(flaky.url, [redelivered], SECRET)).status).toBe(200);
    await stub.waitFor(() => pushesTo(user).length === 2);
    const [apology, answer] = pushesTo(user);
    expect(answer!.retryKey).toMatch(UUID);
    expect(answer!.retryKey).not.toBe(apology!.retryKey);
    expect(answer!.status).toBe(200);
    expect(textOf(answer!)).toContain(ja.booking.modePrompt);
  });

  it('a crash after the save and the push, before the delivery mark: the redelivery pushes with the same key and LINE shows it once', async () => {
    const user = lineUserId();
    // Too old for the reply token: the answer goes by push.
    const event = { ...ev.text(user, '予約する'), timestamp: clock.now() - 55_000 };
    // The turn's save succeeds; the mark that LINE took the answer is lost, as in a crash.
    failures.delivered = 1;
    expect((await postWebhook(flaky.url, [event], SECRET)).status).toBe(200);
    expect(pushesTo(user).map((c) => c.status)).toEqual([200]);
    expect(flaky.logs.some((l) => l.includes('turn.delivery_unmarked'))).toBe(true);

    clock.advance(60_000);
    const redelivered = { ...event, deliveryContext: { isRedelivery: true } };
    expect((await postWebhook(flaky.url, [redelivered], SECRET)).status).toBe(200);
    const [first, again] = pushesTo(user);
    expect(again!.retryKey).toBe(first!.retryKey);
    expect(again!.messages).toEqual(first!.messages);
    // 409: LINE had it already and shows nothing twice.
    expect(pushesTo(user).map((c) => c.status)).toEqual([200, 409]);

    expect((await postWebhook(flaky.url, [redelivered], SECRET)).status).toBe(200);
    expect(pushesTo(user)).toHaveLength(2);
    expect((await flaky.app.store.conversations.load(`line:${user}`))?.outbox).toBeUndefined();
  });
});

describe('an answer that did not reach LINE (the outbox)', () => {
  /** The retry key of the first push batch of an event, as the sender derives it. */
  const firstKey = (event: LineEvent) => stableUuid(`${event.webhookEventId}#0`);

  it('answers the redelivery of an event whose answer LINE never took from the outbox, by push with the same retry key, once', async () => {
    const user = lineUserId();
    const event = ev.text(user, '予約する');
    // LINE refuses the reply token and every push: the answer is saved but not delivered.
    stub.failNextReplies(1);
    stub.failNextPushes(3);
    expect((await postWebhook(running.url, [event], SECRET)).status).toBe(200);
    expect(pushesTo(user).map((c) => c.status)).toEqual([500, 500, 500]);
    const stored = await running.app.store.conversations.load(`line:${user}`);
    expect(stored?.outbox).toHaveLength(1);

    // LINE redelivers after a while: the original answer, not silence and not a new turn.
    clock.advance(60_000);
    const redelivered = { ...event, deliveryContext: { isRedelivery: true } };
    expect((await postWebhook(running.url, [redelivered], SECRET)).status).toBe(200);
    const delivered = pushesTo(user).filter((c) => c.status === 200);
    expect(delivered).toHaveLength(1);
    expect(delivered[0]!.retryKey).toBe(firstKey(event));
    expect(textOf(delivered[0]!)).toContain(ja.booking.modePrompt);
    expect(repliesTo(event)).toHaveLength(1);
    expect(running.logs.some((l) => l.includes('turn.resend'))).toBe(true);

    // Now confirmed: a further redelivery is a plain duplicate.
    const calls = stub.sent().length;
    expect((await postWebhook(running.url, [redelivered], SECRET)).status).toBe(200);
    expect(stub.sent()).toHaveLength(calls);
    const after = await running.app.store.conversations.load(`line:${user}`);
    expect(after?.outbox).toBeUndefined();
    expect(after?.state).toMatchObject({ flow: { name: 'booking' } });
  });

  it('keeps a redelivery silent while this process is still sending the first answer', async () => {
    const user = lineUserId();
    const event = ev.text(user, '予約する');
    // LINE takes a moment to accept the reply: the redelivery arrives while it is on its way.
    stub.delayNextReplies(1, 400);
    const first = postWebhook(running.url, [event], SECRET);
    await new Promise((r) => setTimeout(r, 100));
    expect((await postWebhook(running.url, [{ ...event, deliveryContext: { isRedelivery: true } }], SECRET)).status).toBe(200);
    expect((await first).status).toBe(200);
    await stub.waitFor(() => repliesTo(event).length === 1);
    expect(stub.sent()).toHaveLength(1);
    expect(pushesTo(user)).toHaveLength(0);
  });

  describe('after a restart', () => {
    /** The same store for two runs of the bot: closing the first must not close it. */
    const sharedStore = (): Store => {
      const store = createMemoryStore({ now: clock.now });
      return { ...store, close: async () => undefined };
    };
    /** A run of the bot on `store` (sweeping only at start-up: the tests move the clock by hand). */
    const run = (store: Store) => startApp(lineEnv(stub.url), { now: clock.now, lineRetryDelayMs: 5, lineSweepEveryMs: 3_600_000, store });
    /** A run that saved an answer to "予約する" which LINE never took, and then stopped. */
    async function unsentAnswer() {
      const store = sharedStore();
      const before = await run(store);
      const user = lineUserId();
      const event = ev.text(user, '予約する');
      stub.failNextReplies(1);
      stub.failNextPushes(3);
      expect((await postWebhook(before.url, [event], SECRET)).status).toBe(200);
      await before.close();
      expect(pushesTo(user).filter((c) => c.status === 200)).toHaveLength(0);
      return { store, user, event };
    }
    /** The one push LINE took for `user`: the saved answer, with the first send's retry key. */
    const expectAnswerPushed = (user: string, event: LineEvent) => {
      const delivered = pushesTo(user).filter((c) => c.status === 200);
      expect(delivered).toHaveLength(1);
      expect(delivered[0]!.retryKey).toBe(firstKey(event));
      expect(textOf(delivered[0]!)).toContain(ja.booking.modePrompt);
    };

    it('answers at once the redelivery of an answer an earlier run saved but never sent', async () => {
      const { store, user, event } = await unsentAnswer();
      // A second later, the new run gets LINE's redelivery: the answer goes out now, not after a wait.
      clock.advance(1_000);
      const after = await run(store);
      try {
        expect((await postWebhook(after.url, [{ ...event, deliveryContext: { isRedelivery: true } }], SECRET)).status).toBe(200);
        expectAnswerPushed(user, event);
      } finally {
        await after.close();
      }
    });

    it('sends, on start-up, an answer whose webhook was acknowledged but which never left (no redelivery will ask for it)', async () => {
      const { store, user, event } = await unsentAnswer();
      clock.advance(30_000);
      const after = await run(store);
      try {
        await stub.waitFor(() => pushesTo(user).some((c) => c.status === 200));
        expectAnswerPushed(user, event);
        await expect.poll(async () => (await store.conversations.load(`line:${user}`))?.outbox).toBeUndefined();
        expect(await store.conversations.unsent(clock.now() + 1, 10)).toEqual([]);
        // LINE's redelivery, should it still come, is now a plain duplicate.
        expect((await postWebhook(after.url, [{ ...event, deliveryContext: { isRedelivery: true } }], SECRET)).status).toBe(200);
        expect(pushesTo(user).filter((c) => c.status === 200)).toHaveLength(1);
      } finally {
        await after.close();
      }
    });

    it('sends, after a crash, what a staff action said when its push had not gone through', async () => {
      const store = sharedStore();
      const before = await run(store);
      const user = lineUserId();
      const asked = ev.text(user, '担当者と話したい');
      expect((await postWebhook(before.url, [asked], SECRET)).status).toBe(200);
      await stub.waitFor(() => repliesTo(asked).length === 1);
      const ticket = (await store.tickets.listOpen()).find((t) => t.userKey === `line:${user}`)!;
      // Staff join the chat; LINE is down through every retry of the push, then the process dies.
      stub.failNextPushes(3);
      await before.app.desk.claim(ticket.id, { id: 'staff-1', name: 'Staff' }, DateTime.fromMillis(clock.now()));
      expect(pushesTo(user).filter((c) => c.status === 200)).toHaveLength(0);
      await before.close();
      clock.advance(30_000);
      const after = await run(store);
      try {
        await stub.waitFor(() => pushesTo(user).some((c) => c.status === 200));
        const [delivered] = pushesTo(user).filter((c) => c.status === 200);
        expect(textOf(delivered!)).toContain(ja.handoff.joined);
        // The retry key the desk's own push used: had that push reached LINE after all, LINE would show it once.
        expect(delivered!.retryKey).toBe(stableUuid(`staff:claimed:${ticket.id}#0`));
      } finally {
        await after.close();
      }
    });

    it('gives up on an answer that could not be sent for hours, and says so in the log', async () => {
      const { store, user } = await unsentAnswer();
      clock.advance(7 * 3_600_000);
      const after = await run(store);
      try {
        await expect.poll(() => after.logs.some((l) => l.includes('line.outbox_abandoned'))).toBe(true);
        expect(await store.conversations.unsent(clock.now() + 1, 10)).toEqual([]);
        expect(pushesTo(user).filter((c) => c.status === 200)).toHaveLength(0);
      } finally {
        await after.close();
      }
    });
  });
});

describe('shutdown (SIGTERM)', () => {
  it('refuses new webhooks, finishes an acknowledged answer still at a slow LINE, then closes', async () => {
    const stopping = await startApp(lineEnv(stub.url), { now: clock.now, lineRetryDelayMs: 5, lineSweepEveryMs: 3_600_000 });
    const user = lineUserId();
    const event = ev.follow(user);
    // LINE takes longer than the ack deadline: LINE is answered 200 while the reply is still on its way.
    stub.delayNextReplies(1, 2_500);
    expect((await postWebhook(stopping.url, [event], SECRET)).status).toBe(200);
    expect(repliesTo(event)).toHaveLength(0);

    const closed = stopping.close();
    const late = await postWebhook(stopping.url, [ev.follow(lineUserId())], SECRET).then(
      (res) => res.status,
      () => 'refused',
    );
    expect([503, 'refused']).toContain(late);
    await closed;
    // Closed only once the acknowledged answer reached LINE.
    expect(repliesTo(event).map((c) => c.status)).toEqual([200]);
    expect(textOf(repliesTo(event)[0]!)).toContain(ja.greeting);
  });
});

// ---- Redis outage --------------------------------------------------------------------------

describe('Redis outage', () => {
  let redis: RedisServer | undefined;
  let app: RunningApp | undefined;
  let outageStub: LineStub | undefined;

  afterAll(async () => {
    await app?.close();
    await outageStub?.close();
    await redis?.stop();
  });

  it('apologises by reply and keeps serving; readyz turns 503', async () => {
    redis = await startRedisServer();
    const port = redis.port;
    outageStub = await startLineStub();
    app = await startApp(lineEnv(outageStub.url, { REDIS_URL: `redis://127.0.0.1:${port}`, REDIS_PREFIX: 'test:outage:' }), {
      now: clock.now,
      lineRetryDelayMs: 5,
    });
    expect(app.app.store.kind).toBe('redis');

    // Works while Redis is up.
    const user = lineUserId();
    const first = ev.text(user, '予約する');
    expect((await postWebhook(app.url, [first], SECRET)).status).toBe(200);
    await outageStub.waitFor((calls) => calls.some((c) => (c.body as { replyToken?: string }).replyToken === first.replyToken));
    expect((await fetch(`${app.url}/readyz`)).status).toBe(200);

    // SIGKILL, not stop(): an outage, not a shutdown.
    const exited = new Promise((resolve) => redis!.child.once('exit', resolve));
    redis.child.kill('SIGKILL');
    await exited;

    const during = ev.postback(user, tap.mode());
    // The apology goes out as the reply, so LINE is told the event was handled.
    const res = await postWebhook(app.url, [during], SECRET);
    expect(res.status).toBe(200);
    await outageStub.waitFor((calls) => calls.some((c) => (c.body as { replyToken?: string }).replyToken === during.replyToken));
    const reply = outageStub.sent().find((c) => c.replyToken === during.replyToken)!;
    expect(reply.kind).toBe('reply');
    expect(textOf(reply)).toContain(ja.unavailable);

    expect((await fetch(`${app.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${app.url}/readyz`)).status).toBe(503);
    // Still answering webhooks.
    const again = ev.follow(lineUserId());
    expect((await postWebhook(app.url, [again], SECRET)).status).toBe(200);
    await outageStub.waitFor((calls) => calls.some((c) => (c.body as { replyToken?: string }).replyToken === again.replyToken));

    // Redis comes back (empty): the app reconnects by itself and answers for real again.
    // Same port, so the app's client finds it where it left it.
    redis = await startRedisServer({ port });
    const deadline = Date.now() + 15_000;
    while ((await fetch(`${app.url}/readyz`)).status !== 200) {
      if (Date.now() > deadline) throw new Error('the app did not reconnect to Redis');
      await new Promise((r) => setTimeout(r, 50));
    }
    const after = ev.text(lineUserId(), '予約する');
    expect((await postWebhook(app.url, [after], SECRET)).status).toBe(200);
    await outageStub.waitFor((calls) => calls.some((c) => (c.body as { replyToken?: string }).replyToken === after.replyToken));
    expect(textOf(outageStub.sent().find((c) => c.replyToken === after.replyToken)!)).toContain(ja.booking.modePrompt);
  });
});

describe('Redis that stops answering', () => {
  let redis: RedisServer | undefined;
  let app: RunningApp | undefined;
  let frozenStub: LineStub | undefined;

  afterAll(async () => {
    redis?.child.kill('SIGCONT');
    await app?.close();
    await frozenStub?.close();
    await redis?.stop();
  });

  it('apologises within seconds while the connection is up but silent, and answers again once Redis does', async () => {
    redis = await startRedisServer();
    frozenStub = await startLineStub();
    app = await startApp(lineEnv(frozenStub.url, { REDIS_URL: redis.url, REDIS_PREFIX: 'test:frozen:' }), { now: clock.now, lineRetryDelayMs: 5 });
    const user = lineUserId();
    const answered = (event: LineEvent) => frozenStub!.waitFor((calls) => calls.some((c) => (c.body as { replyToken?: string }).replyToken === event.replyToken), 10_000);
    const first = ev.text(user, '予約する');
    await postWebhook(app.url, [first], SECRET);
    await answered(first);

    // SIGSTOP: the socket stays open and nothing answers (a hung server, a silent network).
    redis.child.kill('SIGSTOP');
    const during = ev.postback(user, tap.mode());
    const started = Date.now();
    expect((await postWebhook(app.url, [during], SECRET)).status).toBe(200);
    await answered(during);
    expect(Date.now() - started).toBeLessThan(8_000);
    expect(textOf(frozenStub.sent().find((c) => c.replyToken === during.replyToken)!)).toContain(ja.unavailable);

    redis.child.kill('SIGCONT');
    const deadline = Date.now() + 15_000;
    while ((await fetch(`${app.url}/readyz`)).status !== 200) {
      if (Date.now() > deadline) throw new Error('the app did not get Redis back');
      await new Promise((r) => setTimeout(r, 50));
    }
    const after = ev.text(lineUserId(), '予約する');
    await postWebhook(app.url, [after], SECRET);
    await answered(after);
    expect(textOf(frozenStub.sent().find((c) => c.replyToken === after.replyToken)!)).toContain(ja.booking.modePrompt);
  }, 40_000);
});
