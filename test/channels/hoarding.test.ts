/**
 * The hoarding probe replayed over real HTTP with a real Redis: a script that opens a web chat
 * conversation per slot from one address, and one that re-picks the same time to keep a slot.
 */
import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, inject, it } from 'vitest';
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
