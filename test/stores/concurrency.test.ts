/**
 * Races on one slot or one user, fired all at once: whatever the interleaving, a slot gets at
 * most one booking and a person at most one booking per session.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConfirmResult, Store } from '../../src/stores/ports.ts';
import { bookingId, makeBooking, storeFactories } from '../support/stores.ts';

const T = 1_750_000_000_000;
const HOLD_MS = 5 * 60_000;
const MAX_MS = 2 * HOLD_MS;

describe.each(storeFactories())('%s store under concurrency', (_kind, create) => {
  let store: Store;

  beforeAll(async () => {
    store = await create();
  });
  afterAll(async () => {
    await store.close();
  });

  it('a booking moved to a slot 100 others grab at once: one of them gets it, and a losing move leaves the booking where it was', async () => {
    for (let round = 0; round < 5; round++) {
      const s = `race-move-${round}`;
      const mine = makeBooking({ id: bookingId(1000), sessionId: s, slotId: '0930', userKey: 'mover' });
      await store.bookings.confirm(mine, T);
      // The move starts among the grabbers at a different place each round: first, or after
      // some of them have held or booked the time already.
      const grab = async (i: number) => {
        const userKey = `grabber-${i}`;
        await store.bookings.hold(s, '1100', userKey, T, HOLD_MS, MAX_MS);
        return store.bookings.confirm(makeBooking({ id: bookingId(i), sessionId: s, slotId: '1100', userKey }), T + 1);
      };
      const position = round * 25;
      const grabs = Array.from({ length: 100 }, (_, i) => grab(i));
      const move = (async () => {
        // Let `position` grabbers' first commands go before the move's.
        for (let k = 0; k < position; k++) await Promise.resolve();
        return store.bookings.move(mine, '1100', T + 1);
      })();
      const [moved, ...results] = await Promise.all([move, ...grabs]);
      const grabbed = results.filter((g) => g.ok).length;
      expect(Number(moved!.ok) + grabbed).toBe(1);
      const { booked } = await store.bookings.occupancy(s, T + 1);
      const stored = await store.bookings.get(s, mine.id);
      if (moved!.ok) {
        expect(booked).toEqual(new Set(['1100']));
        expect(stored?.slotId).toBe('1100');
      } else {
        expect(booked).toEqual(new Set(['0930', '1100']));
        expect(stored?.slotId).toBe('0930');
      }
    }
  });

  it('200 delivery marks at once: each drops its own entry, and only a conversation left with none leaves the unsent list', async () => {
    const keys = Array.from({ length: 200 }, (_, i) => `marks-${i}-${Math.random()}`);
    const entry = (id: string) => ({ event: id, at: 1, replies: [] });
    await Promise.all(
      keys.map(async (key, i) => {
        await store.conversations.save(key, 0, { v: 1 }, HOLD_MS, { add: { id: 'a', entry: entry('a') }, unsentSince: 1 });
        // Every fourth conversation has a second entry, which stays.
        if (i % 4 === 0) await store.conversations.save(key, 1, { v: 2 }, HOLD_MS, { add: { id: 'b', entry: entry('b') }, unsentSince: 1 });
      }),
    );
    await Promise.all(keys.map((key) => store.conversations.delivered(key, 'a')));
    const listed = new Set(await store.conversations.unsent(Number.MAX_SAFE_INTEGER, 100_000));
    for (const [i, key] of keys.entries()) {
      expect((await store.conversations.load(key))?.outbox ?? [], key).toEqual(i % 4 === 0 ? [entry('b')] : []);
      expect(listed.has(key), key).toBe(i % 4 === 0);
    }
  });

  it('200 users holding then confirming one slot: exactly one booking', async () => {
    const s = 'race-hold-confirm';
    const results = await Promise.all(
      Array.from({ length: 200 }, async (_, i) => {
        const userKey = `user-${i}`;
        const held = await store.bookings.hold(s, '0930', userKey, T, HOLD_MS, MAX_MS);
        // Confirm even after a failed hold: a confirm without a live hold must not win either.
        const confirmed = await store.bookings.confirm(
          makeBooking({ id: bookingId(i), sessionId: s, slotId: '0930', userKey }),
          T + 1,
        );
        return { held: held.ok, confirmed };
      }),
    );
    const winners = results.filter((r) => r.confirmed.ok);
    expect(winners).toHaveLength(1);
    expect(winners[0]?.held).toBe(true);
    expect(results.filter((r) => r.held)).toHaveLength(1);
    expect(results.filter((r) => !r.confirmed.ok).every((r) => reason(r.confirmed) === 'taken')).toBe(true);
    expect(await store.bookings.listSession(s)).toHaveLength(1);
    const occupancy = await store.bookings.occupancy(s, T + 1);
    expect(occupancy.booked).toEqual(new Set(['0930']));
    expect(occupancy.held).toEqual(new Map());
  });

  it('200 concurrent confirms of one free slot without holds: exactly one booking', async () => {
    const s = 'race-confirm';
    const results = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        store.bookings.confirm(makeBooking({ id: bookingId(i), sessionId: s, slotId: '1000', userKey: `user-${i}` }), T),
      ),
    );
    expect(results.filter((r) => r.ok)).toHaveLength(1);
    expect(results.filter((r) => reason(r) === 'taken')).toHaveLength(199);
    expect(await store.bookings.listSession(s)).toHaveLength(1);
    expect((await store.bookings.occupancy(s, T)).booked).toEqual(new Set(['1000']));
  });

  it('one user racing 50 confirms of different slots: exactly one booking for that user', async () => {
    const s = 'race-one-user';
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        store.bookings.confirm(
          makeBooking({ id: bookingId(i), sessionId: s, slotId: `slot-${i}`, userKey: 'alice' }),
          T,
        ),
      ),
    );
    expect(results.filter((r) => r.ok)).toHaveLength(1);
    expect(results.filter((r) => reason(r) === 'already_booked')).toHaveLength(49);
    expect(await store.bookings.listSession(s)).toHaveLength(1);
    expect(await store.bookings.findByUser('alice', [s])).toHaveLength(1);
    expect((await store.bookings.occupancy(s, T)).booked.size).toBe(1);
  });
});

function reason(result: ConfirmResult): string | undefined {
  return result.ok ? undefined : result.reason;
}
