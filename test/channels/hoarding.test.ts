/**
 * The hoarding probe replayed over real HTTP with a real Redis: a script that opens a web chat
 * conversation per slot from one address (to hold, or to book one after another), one that
 * re-picks the same time to keep a slot, and one that asks for a person from many conversations.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { pseudonym } from '../../src/log.ts';
import type { Choice, Reply } from '../../src/turn.ts';
import { fakeClock, type RunningApp, startApp } from '../support/app.ts';
import { NOW_ISO, SESSION_ID, tap } from '../support/lineStub.ts';

const MINUTE = 60_000;
const clock = fakeClock(NOW_ISO);
let running: RunningApp | undefined;

afterEach(async () => {
  await running?.close();
  running = undefined;
});

async function start(extra: Record<string, string> = {}): Promise<RunningApp> {
  clock.set(NOW_ISO);
  running = await startApp(
    {
      REDIS_URL: inject('redisUrl'),
      REDIS_PREFIX: `test:${randomUUID().replace(/-/g, '').slice(0, 20)}:`,
      // The turn limits are not what is tested here.
      WEBCHAT_ADDRESS_TURNS_PER_MINUTE: '10000',
      WEBCHAT_NEW_CONVERSATIONS_PER_HOUR: '1000',
      ...extra,
    },
    { now: clock.now },
  );
  return running;
}

/** One web chat turn from this machine's address; the replies. */
async function chat(app: RunningApp, conversationId: string, input: unknown): Promise<Reply[]> {
  const res = await fetch(`${app.url}/webchat/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ conversationId, messageId: randomUUID(), locale: 'ja', input }),
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { replies: Reply[] }).replies;
}

const act = (data: object) => ({ kind: 'action', data: JSON.stringify(data) });

/** Menu → in person → screening → the session's date: the time buttons. */
async function toTimeStep(app: RunningApp, conversationId: string): Promise<Choice[]> {
  await chat(app, conversationId, { kind: 'text', text: '予約する' });
  await chat(app, conversationId, act(tap.mode('in_person')));
  for (let i = 0; i < 5; i++) await chat(app, conversationId, act(tap.yes()));
  const replies = await chat(app, conversationId, act(tap.date()));
  return replies.flatMap((r) => r.choices ?? []).filter((c) => (JSON.parse(c.data) as { a: string }).a === 'time');
}

describe('hoarding from the web chat', () => {
  it('12 conversations from one address trying for the 12 slots of a session hold at most one', async () => {
    const app = await start();
    const conversations = Array.from({ length: 12 }, () => randomUUID());
    const times = await toTimeStep(app, conversations[0]!);
    expect(times).toHaveLength(12);
    for (const [i, id] of conversations.entries()) {
      if (i > 0) await toTimeStep(app, id);
      await chat(app, id, { kind: 'action', data: times[i]!.data });
    }
    const { held, booked } = await app.app.store.bookings.occupancy(SESSION_ID, clock.now());
    expect(booked.size).toBe(0);
    expect(held.size).toBeLessThanOrEqual(1);
  });

  it('12 conversations from one address booking one after another with invented details book one slot', async () => {
    const app = await start();
    let booked = 0;
    for (let i = 0; i < 12; i++) {
      const id = randomUUID();
      const times = await toTimeStep(app, id);
      if (times.length === 0) continue;
      await chat(app, id, { kind: 'action', data: times[0]!.data });
      await chat(app, id, act(tap.agree()));
      await chat(app, id, { kind: 'text', text: `偽名 ${i}` });
      await chat(app, id, { kind: 'text', text: `090-0000-${String(1000 + i)}` });
      await chat(app, id, { kind: 'text', text: `fake${i}@example.jp` });
      const replies = await chat(app, id, act(tap.confirm()));
      if (/[2-9A-Z]{3}-[2-9A-Z]{4}/.test(JSON.stringify(replies))) booked++;
    }
    expect(booked).toBe(1);
    expect((await app.app.store.bookings.listSession(SESSION_ID)).length).toBe(1);
    expect((await app.app.store.bookings.occupancy(SESSION_ID, clock.now())).held.size).toBe(0);
  });

  it('stores the address only as a hash keyed by DATA_ENCRYPTION_KEY, the same for every instance', async () => {
    const key = randomBytes(32).toString('base64');
    const prefix = `test:${randomUUID().replace(/-/g, '').slice(0, 20)}:`;
    const holderOf = async (app: RunningApp, slot: string) => (await app.app.store.bookings.occupancy(SESSION_ID, clock.now())).held.get(slot);
    const first = await start({ DATA_ENCRYPTION_KEY: key, REDIS_PREFIX: prefix });
    const id = randomUUID();
    await toTimeStep(first, id);
    await chat(first, id, act(tap.time('0930')));
    const person = await holderOf(first, '0930');
    // Not a plain hash of the address, which anyone could compute for every IPv4 address.
    for (const plain of ['127.0.0.1', 'address:127.0.0.1', '::ffff:127.0.0.1', 'address:::ffff:127.0.0.1']) {
      expect(person).not.toContain(pseudonym(plain));
      expect(person).not.toContain(createHash('sha256').update(plain).digest('hex').slice(0, 12));
    }
    await first.close();
    // A second instance with the same key sees the same person: its hold replaces the first.
    const second = await start({ DATA_ENCRYPTION_KEY: key, REDIS_PREFIX: prefix });
    const other = randomUUID();
    await toTimeStep(second, other);
    await chat(second, other, act(tap.time('1000')));
    const { held } = await second.app.store.bookings.occupancy(SESSION_ID, clock.now());
    expect([...held]).toEqual([['1000', person]]);
  });

  it('"talk to a person" from 10 conversations of one address opens TICKETS_PER_HOUR tickets, not 10', async () => {
    const app = await start({ TICKETS_PER_HOUR: '3' });
    for (let i = 0; i < 10; i++) await chat(app, randomUUID(), { kind: 'text', text: '担当者と話したい' });
    expect(await app.app.store.tickets.listOpen()).toHaveLength(3);
  });

  it('re-picking the same time does not keep the slot past HOLD_MAX_MINUTES', async () => {
    const app = await start({ HOLD_MINUTES: '10', HOLD_MAX_MINUTES: '20' });
    const id = randomUUID();
    await toTimeStep(app, id);
    await chat(app, id, act(tap.time('0930')));
    const held = async () => (await app.app.store.bookings.occupancy(SESSION_ID, clock.now())).held.has('0930');
    // Every 4 minutes: back to the times, the same time again (the last at 16 minutes).
    for (let minute = 4; minute <= 16; minute += 4) {
      clock.advance(4 * MINUTE);
      await chat(app, id, act({ a: 'back' }));
      await chat(app, id, act(tap.time('0930')));
      expect(await held()).toBe(true);
    }
    clock.advance(4 * MINUTE - 1);
    expect(await held()).toBe(true);
    // 20 minutes after it was first chosen the slot is free, though the last pick was 4 minutes ago.
    clock.advance(1);
    expect(await held()).toBe(false);
  });
});
