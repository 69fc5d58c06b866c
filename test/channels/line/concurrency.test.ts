/**
 * Races through the LINE webhook against the run's real Redis: 200 citizens tapping the same
 * slot at once end with one hold and one booking; one citizen's events spread over two
 * server processes lose no state update.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import ja from '../../../locales/ja.json' with { type: 'json' };
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
  startLineStub,
  tap,
  textOf,
} from '../../support/lineStub.ts';

const SECRET = 'concurrency-secret-0123456789abcdef';
const USERS = 200;
const PRECAUTIONS_HEADER = 'ご予約の前にお読みください';

const clock = fakeClock(NOW_ISO);
const ev = eventFactory(clock.now);
let stub: LineStub;

function env(prefix: string): Record<string, string> {
  return {
    LINE_CHANNEL_SECRET: SECRET,
    LINE_CHANNEL_ACCESS_TOKEN: 'test-token',
    LINE_API_BASE_URL: stub.url,
    REDIS_URL: inject('redisUrl'),
    REDIS_PREFIX: prefix,
  };
}

/** A random key prefix per app group (REDIS_PREFIX allows at most 40 characters). */
function freshPrefix(): string {
  return `test:${randomUUID().replace(/-/g, '')}:`;
}

/** Texts of the reply calls made with this event's reply token. */
function replyTexts(event: LineEvent): string[] {
  return stub
    .sent()
    .filter((c) => c.kind === 'reply' && c.replyToken === event.replyToken && c.status === 200)
    .map((c) => textOf(c));
}

async function post(url: string, events: LineEvent[]): Promise<void> {
  const res = await postWebhook(url, events, SECRET);
  expect(res.status).toBe(200);
}

/** Waits until every event got at least one successful reply (tests then check it was one). */
function allAnswered(events: LineEvent[]): Promise<void> {
  const tokens = new Set(events.map((e) => e.replyToken));
  return stub.waitFor((calls) => {
    const seen = new Set(
      calls
        .filter((c) => c.path === '/v2/bot/message/reply' && c.status === 200)
        .map((c) => (c.body as { replyToken?: string }).replyToken),
    );
    for (const t of tokens) if (!seen.has(t)) return false;
    return true;
  }, 30_000);
}

beforeAll(async () => {
  stub = await startLineStub();
});
afterAll(async () => {
  await stub?.close();
});

describe('200 citizens, one slot, through the webhook', () => {
  let running: RunningApp;

  beforeAll(async () => {
    running = await startApp(env(freshPrefix()), { now: clock.now, lineRetryDelayMs: 5 });
    expect(running.app.store.kind).toBe('redis');
  });
  afterAll(async () => {
    await running?.close();
  });

  it('gives the slot to exactly one, tells the others it was taken, and books it once', async () => {
    const users = Array.from({ length: USERS }, () => lineUserId());

    // Everyone walks to the time step: one body per user with the events in order.
    const preludes = users.map((u) => eventsToTimeStep(ev, u));
    await Promise.all(preludes.map((events) => post(running.url, events)));
    await allAnswered(preludes.flat());
    for (const events of preludes) expect(replyTexts(events.at(-1)!).join('\n')).toContain('時間を選んでください');

    // All at once: the same slot.
    const taps = users.map((u) => ev.postback(u, tap.time('0930')));
    await Promise.all(taps.map((event) => post(running.url, [event])));
    await allAnswered(taps);

    const outcomes = taps.map((event) => replyTexts(event));
    for (const texts of outcomes) expect(texts).toHaveLength(1);
    const winners = users.filter((_, i) => outcomes[i]![0]!.includes(PRECAUTIONS_HEADER));
    const losers = users.filter((_, i) => outcomes[i]![0]!.includes(ja.booking.taken));
    expect(winners).toHaveLength(1);
    expect(losers).toHaveLength(USERS - 1);

    // The winner completes the booking.
    const winner = winners[0]!;
    const rest = [
      ev.postback(winner, tap.agree()),
      ev.text(winner, '幸 太郎'),
      ev.text(winner, '044-200-2111'),
      ev.text(winner, 'taro@example.jp'),
      ev.postback(winner, tap.confirm()),
    ];
    await post(running.url, rest);
    await allAnswered(rest);
    const done = stub.sent().find((c) => c.replyToken === rest.at(-1)!.replyToken)!;
    expect(JSON.stringify(done.messages)).toMatch(REFERENCE);

    const bookings = await running.app.store.bookings.listSession(SESSION_ID);
    expect(bookings).toHaveLength(1);
    expect(bookings[0]).toMatchObject({ slotId: '0930', userKey: `line:${winner}` });
  });

  it('a loser who then taps a free slot gets it', async () => {
    // Not a race: just that losing left the conversation usable (back at the time step).
    const user = lineUserId();
    const prelude = eventsToTimeStep(ev, user);
    await post(running.url, prelude);
    await allAnswered(prelude);
    const taken = ev.postback(user, tap.time('0930'));
    const free = ev.postback(user, tap.time('1000'));
    await post(running.url, [taken, free]);
    await allAnswered([taken, free]);
    expect(replyTexts(taken)[0]).toContain(ja.booking.taken);
    expect(replyTexts(free)[0]).toContain(PRECAUTIONS_HEADER);
  });
});

describe('two server processes sharing Redis', () => {
  let one: RunningApp;
  let two: RunningApp;

  beforeAll(async () => {
    const prefix = freshPrefix();
    one = await startApp(env(prefix), { now: clock.now, lineRetryDelayMs: 5 });
    two = await startApp(env(prefix), { now: clock.now, lineRetryDelayMs: 5 });
  });
  afterAll(async () => {
    await one?.close();
    await two?.close();
  });

  it("loses none of one user's 30 concurrent events", async () => {
    const user = lineUserId();
    const events = Array.from({ length: 30 }, () => ev.text(user, 'ヘルプ'));
    await Promise.all(events.map((event, i) => post((i % 2 === 0 ? one : two).url, [event])));
    await allAnswered(events);

    for (const event of events) {
      const texts = replyTexts(event);
      expect(texts).toHaveLength(1);
      expect(texts[0]).toContain(ja.help);
    }
    const stored = await one.app.store.conversations.load(`line:${user}`);
    // 30 turns saved, and the delivery marks of those still in the (bounded) outbox: none is left there.
    expect(stored?.rev).toBeGreaterThanOrEqual(30);
    expect(stored?.outbox).toBeUndefined();
    // Nothing fell back to the apology.
    expect(stub.sent().filter((c) => textOf(c).includes(ja.unavailable))).toHaveLength(0);
  });

  it('keeps a booking flow consistent when its steps alternate between processes', async () => {
    const user = lineUserId();
    const events = eventsToTimeStep(ev, user);
    // Sent one after another (a user taps in order), alternating processes.
    for (const [i, event] of events.entries()) {
      await post((i % 2 === 0 ? one : two).url, [event]);
      await allAnswered([event]);
    }
    expect(replyTexts(events.at(-1)!)[0]).toContain('時間を選んでください');
    const stored = await two.app.store.conversations.load(`line:${user}`);
    // One save per turn (a delivery mark is not a revision), and nothing left undelivered.
    expect(stored?.rev).toBe(events.length);
    expect(stored?.outbox).toBeUndefined();
    expect(stored?.state).toMatchObject({ flow: { name: 'booking', step: 'time', sessionId: SESSION_ID } });
  });

  it('delivers a duplicate to both processes but handles it once', async () => {
    const user = lineUserId();
    const event = ev.text(user, 'ヘルプ');
    await Promise.all([post(one.url, [event]), post(two.url, [{ ...event, deliveryContext: { isRedelivery: true } }])]);
    await allAnswered([event]);
    expect(replyTexts(event)).toHaveLength(1);
    // The second copy came while the first answer was on its way: no push of it either.
    expect(stub.sent().filter((c) => c.kind === 'push' && c.to === user)).toHaveLength(0);
    expect((await one.app.store.conversations.load(`line:${user}`))?.rev).toBe(1);
  });
});
