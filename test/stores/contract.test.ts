/**
 * The storage contract of `src/stores/ports.ts`, run against every implementation so the
 * in-memory store used in development behaves exactly like Redis in production.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Agent, Ticket, TicketCard } from '../../src/domain.ts';
import type { ChannelRecord, Store } from '../../src/stores/ports.ts';
import { createRedisStore } from '../../src/stores/redis.ts';
import { bookingId, makeBooking, makeTicket, storeFactories, type StoreTime } from '../support/stores.ts';

/** A fixed clock for booking tests: holds expire by the `nowMs` passed in, not real time. */
const T = 1_750_000_000_000;
const HOLD_MS = 5 * 60_000;
/** How long after it was first taken a hold may be renewed to. */
const MAX_MS = 2 * HOLD_MS;
const DAY_MS = 24 * 60 * 60_000;
/** A TTL no test run outlasts: expiry is checked by time, never waited for. */
const HOUR_MS = 60 * 60_000;

describe.each(storeFactories())('%s store', (name, create, timeOf) => {
  const kind = name.split('+')[0];
  let store: Store;
  let time: StoreTime;
  let counter = 0;
  /** A name no other test in this store uses, since tests share one store. */
  const fresh = (what: string) => `${what}-${++counter}`;

  beforeAll(async () => {
    store = await create();
    time = timeOf(store);
  });
  afterAll(async () => {
    await store.close();
  });

  it(`reports kind '${kind}' and answers ping`, async () => {
    expect(store.kind).toBe(kind);
    await expect(store.ping()).resolves.toBeUndefined();
  });

  it('ping rejects once the store is closed', async () => {
    const other = await create();
    await other.close();
    await expect(other.ping()).rejects.toThrow();
  });

  describe('conversations', () => {
    it('loads nothing for an unknown key', async () => {
      expect(await store.conversations.load(fresh('conv'))).toBeNull();
    });

    it('needs rev 0 for the first save, then counts revisions up', async () => {
      const key = fresh('conv');
      expect(await store.conversations.save(key, 1, { step: 'x' }, DAY_MS)).toBe(false);
      expect(await store.conversations.load(key)).toBeNull();
      expect(await store.conversations.save(key, 0, { step: 'menu', n: [1, 2] }, DAY_MS)).toBe(true);
      expect(await store.conversations.load(key)).toEqual({ rev: 1, state: { step: 'menu', n: [1, 2] } });
      expect(await store.conversations.save(key, 1, { step: 'booking' }, DAY_MS)).toBe(true);
      expect(await store.conversations.load(key)).toEqual({ rev: 2, state: { step: 'booking' } });
    });

    it('refuses a stale revision and keeps the stored state', async () => {
      const key = fresh('conv');
      await store.conversations.save(key, 0, { v: 1 }, DAY_MS);
      await store.conversations.save(key, 1, { v: 2 }, DAY_MS);
      expect(await store.conversations.save(key, 1, { v: 'stale' }, DAY_MS)).toBe(false);
      expect(await store.conversations.save(key, 0, { v: 'stale' }, DAY_MS)).toBe(false);
      expect(await store.conversations.save(key, 3, { v: 'future' }, DAY_MS)).toBe(false);
      expect(await store.conversations.load(key)).toEqual({ rev: 2, state: { v: 2 } });
    });

    it('stores JSON: a Date comes back as its ISO string', async () => {
      const key = fresh('conv');
      const at = new Date('2025-05-01T00:00:00.000Z');
      await store.conversations.save(key, 0, { at, gone: undefined }, DAY_MS);
      expect(await store.conversations.load(key)).toEqual({ rev: 1, state: { at: at.toISOString() } });
    });

    it('keeps outbox entries beside the state: added and dropped with a save, removed one by one when delivered', async () => {
      const key = fresh('conv');
      const entry = (id: string) => ({ event: id, at: 1, replies: [{ kind: 'text', text: `answer ${id}` }] });
      await store.conversations.save(key, 0, { v: 1 }, DAY_MS, { add: { id: 'e1', entry: entry('e1') }, unsentSince: 1 });
      await store.conversations.save(key, 1, { v: 2 }, DAY_MS, { add: { id: 'e2', entry: entry('e2') }, unsentSince: 1 });
      const both = await store.conversations.load(key);
      expect(both?.state).toEqual({ v: 2 });
      expect(both?.outbox).toHaveLength(2);
      expect(both?.outbox).toEqual(expect.arrayContaining([entry('e1'), entry('e2')]));
      // A save that names no outbox change leaves the outbox as it is.
      await store.conversations.save(key, 2, { v: 3 }, DAY_MS);
      expect((await store.conversations.load(key))?.outbox).toHaveLength(2);
      await store.conversations.save(key, 3, { v: 4 }, DAY_MS, { add: { id: 'e3', entry: entry('e3') }, drop: ['e1'], unsentSince: 1 });
      expect((await store.conversations.load(key))?.outbox).toEqual(expect.arrayContaining([entry('e2'), entry('e3')]));
      // Delivered entries go without a revision: a save on the revision read before still wins.
      await store.conversations.delivered(key, 'e2');
      await store.conversations.delivered(key, 'e3');
      await store.conversations.delivered(key, 'e3');
      const after = await store.conversations.load(key);
      expect(after).toEqual({ rev: 4, state: { v: 4 } });
      expect(await store.conversations.save(key, 4, { v: 5 }, DAY_MS)).toBe(true);
    });

    it('lists conversations with outbox entries, oldest first, until the last is delivered or the record deleted', async () => {
      const [a, b, c] = [fresh('conv'), fresh('conv'), fresh('conv')];
      const mine = async (beforeMs: number) => (await store.conversations.unsent(beforeMs, 1_000)).filter((k) => [a, b, c].includes(k));
      const add = (id: string, at: number) => ({ add: { id, entry: { event: id, at, replies: [] } }, unsentSince: at });
      await store.conversations.save(a, 0, { v: 1 }, DAY_MS, add('a1', 2_000));
      await store.conversations.save(b, 0, { v: 1 }, DAY_MS, add('b1', 1_000));
      await store.conversations.save(c, 0, { v: 1 }, DAY_MS);
      expect(await mine(3_000)).toEqual([b, a]);
      expect(await mine(2_000)).toEqual([b]);
      // A refused save changes nothing, the index included.
      expect(await store.conversations.save(c, 0, { v: 2 }, DAY_MS, add('c1', 500))).toBe(false);
      expect(await mine(3_000)).toEqual([b, a]);
      await store.conversations.save(b, 1, { v: 2 }, DAY_MS, add('b2', 2_500));
      // One of b's two entries delivered: b is still listed (at the score of its last save).
      await store.conversations.delivered(b, 'b1');
      expect(await mine(3_000)).toEqual([a, b]);
      await store.conversations.delivered(b, 'b2');
      await store.conversations.delete(a);
      expect(await mine(3_000)).toEqual([]);
      expect((await store.conversations.unsent(Number.MAX_SAFE_INTEGER, 1)).length).toBeLessThanOrEqual(1);
    });

    it('counts turns in a fixed window with the load, also before there is a record; delete forgets the count', async () => {
      const key = fresh('conv');
      const count = async (nowMs: number) => {
        const { stored, turns } = await store.conversations.loadCounting(key, nowMs, 60_000);
        return { rev: stored?.rev ?? 0, turns };
      };
      expect(await count(T)).toEqual({ rev: 0, turns: 1 });
      expect(await count(T + 1_000)).toEqual({ rev: 0, turns: 2 });
      // The count lives beside the state: a first save (rev 0) and the loads go on as before.
      expect(await store.conversations.save(key, 0, { v: 1 }, DAY_MS)).toBe(true);
      expect(await store.conversations.load(key)).toEqual({ rev: 1, state: { v: 1 } });
      expect(await count(T + 59_999)).toEqual({ rev: 1, turns: 3 });
      // The window is fixed from its first turn: the next one starts over.
      expect(await count(T + 60_000)).toEqual({ rev: 1, turns: 1 });
      expect(await count(T + 60_001)).toEqual({ rev: 1, turns: 2 });
      await store.conversations.delete(key);
      expect(await count(T + 60_002)).toEqual({ rev: 0, turns: 1 });
    });

    it('a counted conversation leaves the unsent list once its last outbox entry is delivered', async () => {
      const key = fresh('conv');
      const listed = async () => (await store.conversations.unsent(Number.MAX_SAFE_INTEGER, 100_000)).includes(key);
      await store.conversations.loadCounting(key, T, 60_000);
      await store.conversations.save(key, 0, { v: 1 }, DAY_MS, { add: { id: 'e1', entry: { event: 'e1', at: 5, replies: [] } }, unsentSince: 5 });
      expect(await listed()).toBe(true);
      await store.conversations.loadCounting(key, T + 1, 60_000);
      await store.conversations.delivered(key, 'e1');
      expect(await listed()).toBe(false);
      expect(await store.conversations.load(key)).toEqual({ rev: 1, state: { v: 1 } });
    });

    it('delete forgets the record, so the next save starts at rev 0 again', async () => {
      const key = fresh('conv');
      await store.conversations.save(key, 0, { v: 1 }, DAY_MS);
      await store.conversations.delete(key);
      expect(await store.conversations.load(key)).toBeNull();
      expect(await store.conversations.save(key, 0, { v: 2 }, DAY_MS)).toBe(true);
      await store.conversations.delete(fresh('never-saved'));
    });

    it('a count with no record expires with its window; a save gives it the record\'s lifetime', async () => {
      const key = fresh('conv');
      const counted = time.now();
      await store.conversations.loadCounting(key, counted, HOUR_MS);
      await time.expire([`conv:${key}`], counted + HOUR_MS, time.now() + HOUR_MS, async () => (await store.conversations.loadCounting(key, counted, HOUR_MS)).turns > 1);
      const other = fresh('conv');
      await store.conversations.loadCounting(other, time.now(), 60_000);
      await store.conversations.save(other, 0, { v: 1 }, HOUR_MS);
      const saved = time.now();
      await time.expire([`conv:${other}`], saved + HOUR_MS - 1_000, time.now() + HOUR_MS, async () => (await store.conversations.load(other)) !== null);
    });

    it('expires ttlMs after the last save', async () => {
      const key = fresh('conv');
      await store.conversations.save(key, 0, { v: 1 }, DAY_MS);
      const saved = time.now();
      await store.conversations.save(key, 1, { v: 2 }, HOUR_MS);
      await time.expire([`conv:${key}`], saved + HOUR_MS, time.now() + HOUR_MS, async () => (await store.conversations.load(key)) !== null);
      expect(await store.conversations.load(key)).toBeNull();
      expect(await store.conversations.save(key, 1, { v: 2 }, DAY_MS)).toBe(false);
      expect(await store.conversations.save(key, 0, { v: 2 }, DAY_MS)).toBe(true);
    });

    it('lets exactly one of 20 concurrent saves on the same revision win', async () => {
      const key = fresh('conv');
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) => store.conversations.save(key, 0, { writer: i }, DAY_MS)),
      );
      expect(results.filter(Boolean)).toHaveLength(1);
      const winner = results.indexOf(true);
      expect(await store.conversations.load(key)).toEqual({ rev: 1, state: { writer: winner } });
    });
  });

  describe('instances', () => {
    it('tells running processes from stopped and lapsed ones', async () => {
      const [running, stopped, lapsed, never] = [fresh('instance'), fresh('instance'), fresh('instance'), fresh('instance')];
      const before = time.now();
      await store.instances.beat(lapsed, HOUR_MS);
      await time.expire([`instance:${lapsed}`], before + HOUR_MS, time.now() + HOUR_MS, async () => (await store.instances.alive([lapsed])).size > 0);
      for (const id of [running, stopped]) await store.instances.beat(id, HOUR_MS);
      await store.instances.forget(stopped);
      expect(await store.instances.alive([running, stopped, lapsed, never])).toEqual(new Set([running]));
      expect(await store.instances.alive([])).toEqual(new Set());
    });
  });

  describe('dedupe', () => {
    it('claims an id once; a repeat is refused', async () => {
      const id = fresh('event');
      expect(await store.dedupe.claim(id, DAY_MS)).toBe(true);
      expect(await store.dedupe.claim(id, DAY_MS)).toBe(false);
      expect(await store.dedupe.claim(fresh('event'), DAY_MS)).toBe(true);
    });

    it('release lets a redelivery claim the id again', async () => {
      const id = fresh('event');
      await store.dedupe.claim(id, DAY_MS);
      await store.dedupe.release(id);
      expect(await store.dedupe.claim(id, DAY_MS)).toBe(true);
      await store.dedupe.release(fresh('never-claimed'));
    });

    it('forgets a claim after ttlMs', async () => {
      const id = fresh('event');
      const claimed = time.now();
      expect(await store.dedupe.claim(id, HOUR_MS)).toBe(true);
      // Claiming again is refused until then, and does not extend the claim.
      await time.expire([`dedupe:${id}`], claimed + HOUR_MS, time.now() + HOUR_MS, async () => !(await store.dedupe.claim(id, DAY_MS)));
      expect(await store.dedupe.claim(id, DAY_MS)).toBe(true);
    });
  });

  describe('holds', () => {
    it('holds a free slot until now + ttl and shows it in occupancy', async () => {
      const s = fresh('session');
      expect(await store.bookings.hold(s, '0930', 'alice', T, HOLD_MS, MAX_MS)).toEqual({ ok: true, expiresAt: T + HOLD_MS });
      const occupancy = await store.bookings.occupancy(s, T + 1);
      expect(occupancy.booked).toEqual(new Set());
      expect(occupancy.held).toEqual(new Map([['0930', 'alice']]));
    });

    it("refuses someone else's live hold as taken", async () => {
      const s = fresh('session');
      await store.bookings.hold(s, '0930', 'alice', T, HOLD_MS, MAX_MS);
      expect(await store.bookings.hold(s, '0930', 'bob', T + HOLD_MS - 1, HOLD_MS, MAX_MS)).toEqual({
        ok: false,
        reason: 'taken',
      });
    });

    it('extends the hold when the same user holds the same slot again', async () => {
      const s = fresh('session');
      await store.bookings.hold(s, '0930', 'alice', T, HOLD_MS, MAX_MS);
      expect(await store.bookings.hold(s, '0930', 'alice', T + 60_000, HOLD_MS, MAX_MS)).toEqual({
        ok: true,
        expiresAt: T + 60_000 + HOLD_MS,
      });
      // Past the first expiry, but inside the extended one.
      const later = T + HOLD_MS + 1;
      expect(await store.bookings.hold(s, '0930', 'bob', later, HOLD_MS, MAX_MS)).toEqual({ ok: false, reason: 'taken' });
      expect((await store.bookings.occupancy(s, later)).held).toEqual(new Map([['0930', 'alice']]));
    });

    it('renews a hold at most to maxMs after it was first taken, then frees the slot', async () => {
      const s = fresh('session');
      await store.bookings.hold(s, '0930', 'alice', T, HOLD_MS, MAX_MS);
      expect(await store.bookings.hold(s, '0930', 'alice', T + HOLD_MS - 1, HOLD_MS, MAX_MS)).toEqual({ ok: true, expiresAt: T + MAX_MS - 1 });
      expect(await store.bookings.hold(s, '0930', 'alice', T + MAX_MS - 2, HOLD_MS, MAX_MS)).toEqual({ ok: true, expiresAt: T + MAX_MS });
      expect(await store.bookings.hold(s, '0930', 'alice', T + MAX_MS - 1, HOLD_MS, MAX_MS)).toEqual({ ok: true, expiresAt: T + MAX_MS });
      expect((await store.bookings.occupancy(s, T + MAX_MS - 1)).held).toEqual(new Map([['0930', 'alice']]));
      expect((await store.bookings.occupancy(s, T + MAX_MS)).held).toEqual(new Map());
      expect(await store.bookings.hold(s, '0930', 'bob', T + MAX_MS, HOLD_MS, MAX_MS)).toEqual({ ok: true, expiresAt: T + MAX_MS + HOLD_MS });
    });

    it('starts the cap afresh for a new slot and for a hold taken again after it expired', async () => {
      const s = fresh('session');
      await store.bookings.hold(s, '0930', 'alice', T, HOLD_MS, MAX_MS);
      const moved = T + HOLD_MS - 1;
      expect(await store.bookings.hold(s, '1000', 'alice', moved, HOLD_MS, MAX_MS)).toEqual({ ok: true, expiresAt: moved + HOLD_MS });
      const again = moved + HOLD_MS;
      expect(await store.bookings.hold(s, '1000', 'alice', again, HOLD_MS, MAX_MS)).toEqual({ ok: true, expiresAt: again + HOLD_MS });
      expect(await store.bookings.hold(s, '1000', 'alice', again + HOLD_MS - 1, HOLD_MS, MAX_MS)).toEqual({ ok: true, expiresAt: again + MAX_MS - 1 });
    });

    it("releases the user's old slot when they hold another in the same session", async () => {
      const s = fresh('session');
      await store.bookings.hold(s, '0930', 'alice', T, HOLD_MS, MAX_MS);
      expect((await store.bookings.hold(s, '1000', 'alice', T + 1, HOLD_MS, MAX_MS)).ok).toBe(true);
      expect((await store.bookings.occupancy(s, T + 2)).held).toEqual(new Map([['1000', 'alice']]));
      expect((await store.bookings.hold(s, '0930', 'bob', T + 2, HOLD_MS, MAX_MS)).ok).toBe(true);
    });

    it('keeps holds of one user in different sessions apart', async () => {
      const s1 = fresh('session');
      const s2 = fresh('session');
      await store.bookings.hold(s1, '0930', 'alice', T, HOLD_MS, MAX_MS);
      await store.bookings.hold(s2, '1000', 'alice', T, HOLD_MS, MAX_MS);
      expect((await store.bookings.occupancy(s1, T)).held).toEqual(new Map([['0930', 'alice']]));
      expect((await store.bookings.occupancy(s2, T)).held).toEqual(new Map([['1000', 'alice']]));
    });

    it('frees the slot once the hold expires', async () => {
      const s = fresh('session');
      await store.bookings.hold(s, '0930', 'alice', T, HOLD_MS, MAX_MS);
      expect((await store.bookings.occupancy(s, T + HOLD_MS)).held).toEqual(new Map());
      expect(await store.bookings.hold(s, '0930', 'bob', T + HOLD_MS + 1, HOLD_MS, MAX_MS)).toEqual({
        ok: true,
        expiresAt: T + HOLD_MS + 1 + HOLD_MS,
      });
      expect((await store.bookings.occupancy(s, T + HOLD_MS + 2)).held).toEqual(new Map([['0930', 'bob']]));
    });

    it('refuses a user who already has a booking in the session as already_booked', async () => {
      const s = fresh('session');
      await store.bookings.confirm(makeBooking({ sessionId: s, slotId: '0930', userKey: 'alice' }), T);
      expect(await store.bookings.hold(s, '1000', 'alice', T, HOLD_MS, MAX_MS)).toEqual({ ok: false, reason: 'already_booked' });
      expect(await store.bookings.hold(s, '0930', 'alice', T, HOLD_MS, MAX_MS)).toEqual({ ok: false, reason: 'already_booked' });
    });

    it('refuses a booked slot as taken', async () => {
      const s = fresh('session');
      await store.bookings.confirm(makeBooking({ sessionId: s, slotId: '0930', userKey: 'alice' }), T);
      expect(await store.bookings.hold(s, '0930', 'bob', T, HOLD_MS, MAX_MS)).toEqual({ ok: false, reason: 'taken' });
    });

    it('releaseHold frees the slot; releasing nothing is harmless', async () => {
      const s = fresh('session');
      await store.bookings.hold(s, '0930', 'alice', T, HOLD_MS, MAX_MS);
      await store.bookings.releaseHold(s, 'alice');
      await store.bookings.releaseHold(s, 'alice');
      await store.bookings.releaseHold(fresh('session'), 'nobody');
      expect((await store.bookings.occupancy(s, T)).held).toEqual(new Map());
      expect((await store.bookings.hold(s, '0930', 'bob', T, HOLD_MS, MAX_MS)).ok).toBe(true);
    });

    it("releaseHold leaves a slot alone that someone else took after the user's hold expired", async () => {
      const s = fresh('session');
      await store.bookings.hold(s, '0930', 'alice', T, HOLD_MS, MAX_MS);
      await store.bookings.hold(s, '0930', 'bob', T + HOLD_MS + 1, HOLD_MS, MAX_MS);
      await store.bookings.releaseHold(s, 'alice');
      expect((await store.bookings.occupancy(s, T + HOLD_MS + 2)).held).toEqual(new Map([['0930', 'bob']]));
    });
  });

  describe('confirm', () => {
    it('turns a hold into a booking', async () => {
      const s = fresh('session');
      const booking = makeBooking({ sessionId: s, slotId: '0930', userKey: 'alice' });
      await store.bookings.hold(s, '0930', 'alice', T, HOLD_MS, MAX_MS);
      expect(await store.bookings.confirm(booking, T + 1_000)).toEqual({ ok: true, booking });
      const occupancy = await store.bookings.occupancy(s, T + 1_000);
      expect(occupancy.booked).toEqual(new Set(['0930']));
      expect(occupancy.held).toEqual(new Map());
      expect(await store.bookings.get(s, booking.id)).toEqual(booking);
    });

    it('books the slot when the hold expired but the slot is still free', async () => {
      const s = fresh('session');
      const booking = makeBooking({ sessionId: s, slotId: '0930', userKey: 'alice' });
      await store.bookings.hold(s, '0930', 'alice', T, HOLD_MS, MAX_MS);
      expect(await store.bookings.confirm(booking, T + HOLD_MS + 1)).toEqual({ ok: true, booking });
    });

    it("books past someone else's expired hold", async () => {
      const s = fresh('session');
      await store.bookings.hold(s, '0930', 'bob', T, HOLD_MS, MAX_MS);
      const booking = makeBooking({ sessionId: s, slotId: '0930', userKey: 'alice' });
      expect(await store.bookings.confirm(booking, T + HOLD_MS + 1)).toEqual({ ok: true, booking });
      expect((await store.bookings.occupancy(s, T + HOLD_MS + 1)).held).toEqual(new Map());
    });

    it('fails with taken when someone else booked the slot', async () => {
      const s = fresh('session');
      await store.bookings.confirm(makeBooking({ id: bookingId(1), sessionId: s, userKey: 'bob' }), T);
      const mine = makeBooking({ id: bookingId(2), sessionId: s, userKey: 'alice' });
      expect(await store.bookings.confirm(mine, T)).toEqual({ ok: false, reason: 'taken' });
      expect(await store.bookings.get(s, mine.id)).toBeNull();
    });

    it('fails with taken when someone else holds the slot', async () => {
      const s = fresh('session');
      await store.bookings.hold(s, '0930', 'bob', T, HOLD_MS, MAX_MS);
      const mine = makeBooking({ sessionId: s, slotId: '0930', userKey: 'alice' });
      expect(await store.bookings.confirm(mine, T + 1)).toEqual({ ok: false, reason: 'taken' });
    });

    it('fails with already_booked when the user has another booking in the session', async () => {
      const s = fresh('session');
      await store.bookings.confirm(makeBooking({ id: bookingId(1), sessionId: s, slotId: '0930', userKey: 'alice' }), T);
      const second = makeBooking({ id: bookingId(2), sessionId: s, slotId: '1000', userKey: 'alice' });
      expect(await store.bookings.confirm(second, T)).toEqual({ ok: false, reason: 'already_booked' });
      expect(await store.bookings.listSession(s)).toHaveLength(1);
    });

    it('is idempotent: confirming the same slot again returns the existing booking', async () => {
      const s = fresh('session');
      const booking = makeBooking({ id: bookingId(1), sessionId: s, slotId: '0930', userKey: 'alice' });
      await store.bookings.hold(s, '0930', 'alice', T, HOLD_MS, MAX_MS);
      expect(await store.bookings.confirm(booking, T)).toEqual({ ok: true, booking });
      expect(await store.bookings.confirm(booking, T + 1)).toEqual({ ok: true, booking });
      // A retry that minted a new reference still gets the booking that exists.
      const retry = { ...booking, id: bookingId(2), createdAt: '2025-05-01T09:00:05.000Z' };
      expect(await store.bookings.confirm(retry, T + 2)).toEqual({ ok: true, booking });
      expect(await store.bookings.listSession(s)).toEqual([booking]);
      expect(await store.bookings.get(s, retry.id)).toBeNull();
    });

    it('fails with id_collision when the booking id is in use in the session', async () => {
      const s = fresh('session');
      await store.bookings.confirm(makeBooking({ id: 'ABC-2345', sessionId: s, slotId: '0930', userKey: 'alice' }), T);
      const other = makeBooking({ id: 'ABC-2345', sessionId: s, slotId: '1000', userKey: 'bob' });
      expect(await store.bookings.confirm(other, T)).toEqual({ ok: false, reason: 'id_collision' });
      expect((await store.bookings.occupancy(s, T)).booked).toEqual(new Set(['0930']));
      // With a new id the same request goes through.
      expect((await store.bookings.confirm({ ...other, id: 'ABC-2346' }, T)).ok).toBe(true);
    });

    describe('for someone else (holderKey)', () => {
      const agent = 'teams:agent1';
      const phone = 'phone:09012345678';

      it("turns the agent's hold into the caller's booking", async () => {
        const s = fresh('session');
        const booking = makeBooking({ sessionId: s, slotId: '0930', userKey: phone, bookedBy: { id: 'a1', name: '職員A' } });
        await store.bookings.hold(s, '0930', agent, T, HOLD_MS, MAX_MS);
        expect(await store.bookings.confirm(booking, T + 1, agent)).toEqual({ ok: true, booking });
        const occupancy = await store.bookings.occupancy(s, T + 1);
        expect(occupancy.booked).toEqual(new Set(['0930']));
        expect(occupancy.held).toEqual(new Map());
        expect(await store.bookings.findByUser(phone, [s])).toEqual([booking]);
        expect(await store.bookings.findByUser(agent, [s])).toEqual([]);
        // The booking is the caller's: a retry is idempotent, and the agent may book again.
        expect(await store.bookings.confirm(booking, T + 2, agent)).toEqual({ ok: true, booking });
        expect((await store.bookings.hold(s, '1000', agent, T + 2, HOLD_MS, MAX_MS)).ok).toBe(true);
      });

      it('refuses a second booking for the same caller in the session as already_booked', async () => {
        const s = fresh('session');
        await store.bookings.hold(s, '0930', agent, T, HOLD_MS, MAX_MS);
        await store.bookings.confirm(makeBooking({ id: bookingId(1), sessionId: s, slotId: '0930', userKey: phone }), T, agent);
        await store.bookings.hold(s, '1000', agent, T + 1, HOLD_MS, MAX_MS);
        const second = makeBooking({ id: bookingId(2), sessionId: s, slotId: '1000', userKey: phone });
        expect(await store.bookings.confirm(second, T + 2, agent)).toEqual({ ok: false, reason: 'already_booked' });
        // The agent's hold on 1000 is untouched by the refusal.
        expect((await store.bookings.occupancy(s, T + 2)).held).toEqual(new Map([['1000', agent]]));
      });

      it("fails with taken on someone else's live hold, even the caller's own key", async () => {
        const s = fresh('session');
        await store.bookings.hold(s, '0930', 'line:U9', T, HOLD_MS, MAX_MS);
        const booking = makeBooking({ sessionId: s, slotId: '0930', userKey: phone });
        expect(await store.bookings.confirm(booking, T + 1, agent)).toEqual({ ok: false, reason: 'taken' });
        const other = fresh('session');
        await store.bookings.hold(other, '0930', phone, T, HOLD_MS, MAX_MS);
        expect(await store.bookings.confirm({ ...booking, sessionId: other }, T + 1, agent)).toEqual({
          ok: false,
          reason: 'taken',
        });
      });

      it("drops the caller's own hold in the session once booked for them", async () => {
        const s = fresh('session');
        await store.bookings.hold(s, '1000', phone, T, HOLD_MS, MAX_MS);
        await store.bookings.hold(s, '0930', agent, T, HOLD_MS, MAX_MS);
        await store.bookings.confirm(makeBooking({ sessionId: s, slotId: '0930', userKey: phone }), T + 1, agent);
        expect((await store.bookings.occupancy(s, T + 1)).held).toEqual(new Map());
      });
    });

    describe('for a person behind several conversations (personKey)', () => {
      const person = 'web-address:abc';

      it('books the person with the conversation: no other conversation of theirs may hold or book in the session', async () => {
        const s = fresh('session');
        await store.bookings.hold(s, '0930', person, T, HOLD_MS, MAX_MS);
        const first = makeBooking({ id: bookingId(1), sessionId: s, slotId: '0930', userKey: 'webchat:one', personKey: person });
        expect(await store.bookings.confirm(first, T + 1, person)).toEqual({ ok: true, booking: first });
        expect(await store.bookings.hold(s, '1000', person, T + 2, HOLD_MS, MAX_MS)).toEqual({ ok: false, reason: 'already_booked' });
        // Another conversation of the same person, even for the same slot, is not that booking.
        for (const slotId of ['1000', '0930']) {
          const other = makeBooking({ id: bookingId(2), sessionId: s, slotId, userKey: 'webchat:two', personKey: person });
          expect(await store.bookings.confirm(other, T + 3, person)).toEqual({ ok: false, reason: 'already_booked' });
        }
        // A retried confirm of the first conversation still gets its booking back.
        expect(await store.bookings.confirm(first, T + 4, person)).toEqual({ ok: true, booking: first });
        expect((await store.bookings.listSession(s)).map((b) => b.id)).toEqual([first.id]);
      });

      it('frees the person when the booking is cancelled or forgotten', async () => {
        for (const end of ['cancel', 'forget'] as const) {
          const s = fresh('session');
          await store.bookings.hold(s, '0930', person, T, HOLD_MS, MAX_MS);
          const booking = makeBooking({ id: bookingId(1), sessionId: s, slotId: '0930', userKey: 'webchat:one', personKey: person });
          await store.bookings.confirm(booking, T + 1, person);
          if (end === 'cancel') expect(await store.bookings.cancel(s, booking.id, 'webchat:one')).toBe(true);
          else expect(await store.bookings.forgetUser(s, 'webchat:one', false)).toBe(true);
          expect((await store.bookings.hold(s, '1000', person, T + 2, HOLD_MS, MAX_MS)).ok).toBe(true);
        }
      });
    });

    it("drops the user's hold on another slot when they book", async () => {
      const s = fresh('session');
      await store.bookings.hold(s, '0930', 'alice', T, HOLD_MS, MAX_MS);
      await store.bookings.confirm(makeBooking({ sessionId: s, slotId: '1000', userKey: 'alice' }), T);
      const occupancy = await store.bookings.occupancy(s, T);
      expect(occupancy.booked).toEqual(new Set(['1000']));
      expect(occupancy.held).toEqual(new Map());
    });
  });

  describe("a session's counters and attendance", () => {
    it('counts, marks (a staff mark over an automatic one, never the reverse), and expires with the session', async () => {
      const s = fresh('session');
      await store.bookings.confirm(makeBooking({ sessionId: s }), T);
      expect(await store.bookings.counters(s)).toEqual({ cancelled: 0, changed: 0, invitations: 0, waitlisted: 0 });
      await store.bookings.count(s, 'cancelled');
      await store.bookings.count(s, 'invitations', 2);
      expect(await store.bookings.counters(s)).toEqual({ cancelled: 1, changed: 0, invitations: 2, waitlisted: 0 });
      expect(await store.bookings.markAttendance(s, 'A', 'attended', false)).toBe(true);
      expect(await store.bookings.markAttendance(s, 'A', 'no_show', true)).toBe(false);
      expect(await store.bookings.markAttendance(s, 'B', 'no_show', true)).toBe(true);
      expect(await store.bookings.markAttendance(s, 'B', 'attended', false)).toBe(true);
      expect(await store.bookings.attendance(s)).toEqual(new Map([['A', 'attended'], ['B', 'attended']]));
      await store.bookings.markInvited(s, 'A', T);
      expect(await store.bookings.invited(s)).toEqual(new Map([['A', T]]));
      await store.bookings.expireSession(s, time.now() + HOUR_MS);
      await time.expire([`{s:${s}}:counters`, `{s:${s}}:attendance`, `{s:${s}}:invited`], time.now() + HOUR_MS - 1_000, time.now() + HOUR_MS, async () => (await store.bookings.attendance(s)).size > 0);
      expect(await store.bookings.attendance(s)).toEqual(new Map());
      expect(await store.bookings.invited(s)).toEqual(new Map());
      expect(await store.bookings.counters(s)).toEqual({ cancelled: 0, changed: 0, invitations: 0, waitlisted: 0 });
    });

    it('keeps a waitlist first come, first served: places from 1, joining again keeps the place', async () => {
      const s = fresh('session');
      expect(await store.bookings.joinWaitlist(s, 'line:A', T)).toBe(1);
      expect(await store.bookings.joinWaitlist(s, 'line:B', T + 1)).toBe(2);
      expect(await store.bookings.joinWaitlist(s, 'line:A', T + 2)).toBe(1);
      expect(await store.bookings.waitlistPlace(s, 'line:B')).toBe(2);
      expect(await store.bookings.waitlistPlace(s, 'line:C')).toBeUndefined();
      expect(await store.bookings.nextWaiting(s)).toBe('line:A');
      expect(await store.bookings.waitlistPlace(s, 'line:B')).toBe(1);
      expect(await store.bookings.nextWaiting(s)).toBe('line:B');
      expect(await store.bookings.nextWaiting(s)).toBeUndefined();
    });
  });

  describe('move', () => {
    it('moves a booking to a free slot of its session in one step: the old slot is free, the new one booked', async () => {
      const s = fresh('session');
      const booking = makeBooking({ sessionId: s, slotId: '0930', userKey: 'alice' });
      await store.bookings.confirm(booking, T);
      expect(await store.bookings.move(booking, '1100', T)).toEqual({ ok: true, booking: { ...booking, slotId: '1100' } });
      expect((await store.bookings.occupancy(s, T)).booked).toEqual(new Set(['1100']));
      expect(await store.bookings.get(s, booking.id)).toEqual({ ...booking, slotId: '1100' });
      expect(await store.bookings.findByUser('alice', [s])).toEqual([{ ...booking, slotId: '1100' }]);
      // The old slot can be held and booked by someone else.
      expect((await store.bookings.hold(s, '0930', 'bob', T, HOLD_MS, MAX_MS)).ok).toBe(true);
    });

    it("leaves the booking untouched when the new slot is booked or held by someone else", async () => {
      const s = fresh('session');
      const mine = makeBooking({ id: bookingId(1), sessionId: s, slotId: '0930', userKey: 'alice' });
      await store.bookings.confirm(mine, T);
      await store.bookings.confirm(makeBooking({ id: bookingId(2), sessionId: s, slotId: '1000', userKey: 'bob' }), T);
      await store.bookings.hold(s, '1100', 'carol', T, HOLD_MS, MAX_MS);
      expect(await store.bookings.move(mine, '1000', T)).toEqual({ ok: false, reason: 'taken' });
      expect(await store.bookings.move(mine, '1100', T)).toEqual({ ok: false, reason: 'taken' });
      // Once carol's hold lapses, 11:00 is free to move to.
      expect((await store.bookings.move(mine, '1100', T + HOLD_MS)).ok).toBe(true);
      expect((await store.bookings.occupancy(s, T + HOLD_MS)).booked).toEqual(new Set(['1000', '1100']));
    });

    it('refuses a stale or foreign booking as changed', async () => {
      const s = fresh('session');
      const mine = makeBooking({ sessionId: s, slotId: '0930', userKey: 'alice' });
      await store.bookings.confirm(mine, T);
      expect(await store.bookings.move({ ...mine, userKey: 'mallory' }, '1100', T)).toEqual({ ok: false, reason: 'changed' });
      await store.bookings.move(mine, '1000', T);
      // The copy read before that move still names 09:30.
      expect(await store.bookings.move(mine, '1100', T)).toEqual({ ok: false, reason: 'changed' });
      await store.bookings.cancel(s, mine.id, 'alice');
      expect(await store.bookings.move({ ...mine, slotId: '1000' }, '1100', T)).toEqual({ ok: false, reason: 'changed' });
      expect((await store.bookings.occupancy(s, T)).booked).toEqual(new Set());
    });
  });

  describe('reading bookings', () => {
    it('occupancy of an unknown session is empty', async () => {
      const occupancy = await store.bookings.occupancy(fresh('session'), T);
      expect(occupancy.booked).toEqual(new Set());
      expect(occupancy.held).toEqual(new Map());
    });

    it('occupancy shows bookings and live holds only', async () => {
      const s = fresh('session');
      await store.bookings.confirm(makeBooking({ id: bookingId(1), sessionId: s, slotId: '0930', userKey: 'a' }), T);
      await store.bookings.confirm(makeBooking({ id: bookingId(2), sessionId: s, slotId: '1000', userKey: 'b' }), T);
      await store.bookings.hold(s, '1030', 'c', T, HOLD_MS, MAX_MS);
      await store.bookings.hold(s, '1100', 'd', T - HOLD_MS, HOLD_MS, MAX_MS);
      const occupancy = await store.bookings.occupancy(s, T + 1);
      expect(occupancy.booked).toEqual(new Set(['0930', '1000']));
      expect(occupancy.held).toEqual(new Map([['1030', 'c']]));
    });

    it('get returns null for an unknown booking or session', async () => {
      const s = fresh('session');
      await store.bookings.confirm(makeBooking({ sessionId: s }), T);
      expect(await store.bookings.get(s, 'XYZ-9999')).toBeNull();
      expect(await store.bookings.get(fresh('session'), 'ABC-2345')).toBeNull();
    });

    it("findByUser returns the user's bookings in the order of the sessions asked", async () => {
      const [a, b, c] = [fresh('session'), fresh('session'), fresh('session')];
      const inA = makeBooking({ id: bookingId(1), sessionId: a, slotId: '0930', userKey: 'alice' });
      const inC = makeBooking({ id: bookingId(2), sessionId: c, slotId: '1300', userKey: 'alice' });
      await store.bookings.confirm(inA, T);
      await store.bookings.confirm(inC, T);
      await store.bookings.confirm(makeBooking({ id: bookingId(3), sessionId: b, userKey: 'bob' }), T);
      expect(await store.bookings.findByUser('alice', [c, b, a])).toEqual([inC, inA]);
      expect(await store.bookings.findByUser('alice', [a, c])).toEqual([inA, inC]);
      expect(await store.bookings.findByUser('alice', [])).toEqual([]);
      expect(await store.bookings.findByUser('carol', [a, b, c])).toEqual([]);
    });

    it('listSession returns every booking of the session by slot', async () => {
      const s = fresh('session');
      const late = makeBooking({ id: bookingId(1), sessionId: s, slotId: '1300', userKey: 'a' });
      const early = makeBooking({ id: bookingId(2), sessionId: s, slotId: '0930', userKey: 'b' });
      const middle = makeBooking({ id: bookingId(3), sessionId: s, slotId: '1000', userKey: 'c' });
      for (const booking of [late, early, middle]) await store.bookings.confirm(booking, T);
      await store.bookings.confirm(makeBooking({ id: bookingId(4), sessionId: fresh('session'), userKey: 'd' }), T);
      expect(await store.bookings.listSession(s)).toEqual([early, middle, late]);
      expect(await store.bookings.listSession(fresh('session'))).toEqual([]);
    });

    it('expireSession forgets the session, contact details and all, when its time comes', async () => {
      const s = fresh('session');
      const kept = fresh('session');
      const booking = makeBooking({ id: bookingId(1), sessionId: s, userKey: 'gone' });
      await store.bookings.confirm(booking, T);
      await store.bookings.confirm(makeBooking({ id: bookingId(2), sessionId: kept, userKey: 'stays' }), T);
      await store.bookings.expireSession(kept, time.now() + DAY_MS);
      const at = time.now() + HOUR_MS;
      await store.bookings.expireSession(s, at);
      const keys = ['booked', 'users', 'bookings'].map((k) => `{s:${s}}:${k}`);
      await time.expire(keys, at, at, async () => (await store.bookings.get(s, booking.id)) !== null);
      expect(await store.bookings.listSession(s)).toEqual([]);
      expect(await store.bookings.get(s, booking.id)).toBeNull();
      expect(await store.bookings.findByUser('gone', [s])).toEqual([]);
      expect(await store.bookings.listSession(kept)).toHaveLength(1);
    });
  });

  describe('cancel', () => {
    it('cancels the booking and frees its slot and the user', async () => {
      const s = fresh('session');
      const booking = makeBooking({ sessionId: s, slotId: '0930', userKey: 'alice' });
      await store.bookings.confirm(booking, T);
      expect(await store.bookings.cancel(s, booking.id, 'alice')).toBe(true);
      expect(await store.bookings.get(s, booking.id)).toBeNull();
      expect(await store.bookings.listSession(s)).toEqual([]);
      expect((await store.bookings.occupancy(s, T)).booked).toEqual(new Set());
      expect(await store.bookings.findByUser('alice', [s])).toEqual([]);
      // The slot and the user are free again; the id may be reused.
      expect((await store.bookings.hold(s, '0930', 'bob', T, HOLD_MS, MAX_MS)).ok).toBe(true);
      expect((await store.bookings.confirm({ ...booking, slotId: '1000' }, T)).ok).toBe(true);
    });

    it("refuses someone else's booking and unknown ids", async () => {
      const s = fresh('session');
      const booking = makeBooking({ sessionId: s, slotId: '0930', userKey: 'alice' });
      await store.bookings.confirm(booking, T);
      expect(await store.bookings.cancel(s, booking.id, 'mallory')).toBe(false);
      expect(await store.bookings.cancel(s, 'XYZ-9999', 'alice')).toBe(false);
      expect(await store.bookings.cancel(fresh('session'), booking.id, 'alice')).toBe(false);
      expect(await store.bookings.get(s, booking.id)).toEqual(booking);
      expect(await store.bookings.cancel(s, booking.id, 'alice')).toBe(true);
      expect(await store.bookings.cancel(s, booking.id, 'alice')).toBe(false);
    });
  });

  describe('tickets', () => {
    it('creates, gets, and lists open tickets oldest first', async () => {
      const newest = makeTicket({ id: 'T-3', createdAt: '2025-05-03T00:00:00.000Z', serviceId: 'ombudsman' });
      const oldest = makeTicket({ id: 'T-1', createdAt: '2025-05-01T00:00:00.000Z', reason: 'screening_unsure' });
      const middle = makeTicket({ id: 'T-2', createdAt: '2025-05-02T00:00:00.000Z', locale: 'en' });
      for (const ticket of [newest, oldest, middle]) await store.tickets.create(ticket);
      expect(await store.tickets.get('T-2')).toEqual(middle);
      expect(await store.tickets.get('T-404')).toBeNull();
      expect(await store.tickets.listOpen()).toEqual([oldest, middle, newest]);
    });
  });

  describe('ticket lifecycle', () => {
    // Tickets share one index per store, so each test uses its own ids and user keys.
    const ticket = (overrides: Partial<Ticket> = {}) =>
      makeTicket({ id: fresh('ticket'), userKey: fresh('line:U'), ...overrides });
    const alice: Agent = { id: 'aad-alice', name: '職員 アリス' };
    const bob: Agent = { id: 'aad-bob', name: 'Bob' };
    const AT = '2025-05-01T10:00:00.000Z';
    const LATER = '2025-05-01T11:00:00.000Z';

    it('claims an open ticket', async () => {
      const t = ticket({ priority: 'high', category: 'general' });
      await store.tickets.create(t);
      const claimed: Ticket = { ...t, status: 'claimed', claimedBy: alice, claimedAt: AT };
      expect(await store.tickets.claim(t.id, alice, AT)).toEqual({ ok: true, ticket: claimed });
      expect(await store.tickets.get(t.id)).toEqual(claimed);
    });

    it('claiming again by the same agent succeeds unchanged; another agent finds it taken', async () => {
      const t = ticket();
      await store.tickets.create(t);
      const claimed: Ticket = { ...t, status: 'claimed', claimedBy: alice, claimedAt: AT };
      await store.tickets.claim(t.id, alice, AT);
      expect(await store.tickets.claim(t.id, { ...alice, name: 'renamed' }, LATER)).toEqual({ ok: true, ticket: claimed });
      expect(await store.tickets.claim(t.id, bob, LATER)).toEqual({ ok: false, reason: 'taken', ticket: claimed });
      expect(await store.tickets.get(t.id)).toEqual(claimed);
    });

    it('lets exactly one of 20 agents claiming at once win; the others see who', async () => {
      const t = ticket();
      await store.tickets.create(t);
      const agents = Array.from({ length: 20 }, (_, i): Agent => ({ id: `aad-${i}`, name: `Agent ${i}` }));
      const results = await Promise.all(agents.map((agent) => store.tickets.claim(t.id, agent, AT)));
      const winners = results.filter((r) => r.ok);
      expect(winners).toHaveLength(1);
      const winner = winners[0]?.ticket.claimedBy;
      expect(agents).toContainEqual(winner);
      for (const r of results.filter((r) => !r.ok)) {
        expect(r).toMatchObject({ ok: false, reason: 'taken', ticket: { status: 'claimed', claimedBy: winner } });
      }
      expect((await store.tickets.get(t.id))?.claimedBy).toEqual(winner);
    });

    it('closes an open or claimed ticket once; later claims and closes find it closed', async () => {
      const open = ticket();
      const claimed = ticket();
      await store.tickets.create(open);
      await store.tickets.create(claimed);
      await store.tickets.claim(claimed.id, alice, AT);

      const closedOpen: Ticket = { ...open, status: 'closed', closedBy: 'citizen', closedAt: LATER };
      expect(await store.tickets.close(open.id, 'citizen', LATER)).toEqual({ ok: true, ticket: closedOpen });
      const closedClaimed: Ticket = {
        ...claimed, status: 'closed', claimedBy: alice, claimedAt: AT, closedBy: bob, closedAt: LATER,
      };
      expect(await store.tickets.close(claimed.id, bob, LATER)).toEqual({ ok: true, ticket: closedClaimed });

      expect(await store.tickets.close(open.id, alice, LATER)).toEqual({ ok: false, reason: 'closed', ticket: closedOpen });
      expect(await store.tickets.claim(open.id, alice, LATER)).toEqual({ ok: false, reason: 'closed', ticket: closedOpen });
      expect(await store.tickets.claim(claimed.id, alice, LATER)).toEqual({
        ok: false,
        reason: 'closed',
        ticket: closedClaimed,
      });
      expect(await store.tickets.get(claimed.id)).toEqual(closedClaimed);
    });

    it('answers not_found for unknown tickets', async () => {
      expect(await store.tickets.claim('T-404', alice, AT)).toEqual({ ok: false, reason: 'not_found' });
      expect(await store.tickets.close('T-404', alice, AT)).toEqual({ ok: false, reason: 'not_found' });
    });

    it('listOpen keeps claimed tickets and drops closed ones', async () => {
      const before = (await store.tickets.listOpen()).map((t) => t.id);
      const [a, b, c] = [
        ticket({ createdAt: '2030-01-03T00:00:00.000Z' }),
        ticket({ createdAt: '2030-01-01T00:00:00.000Z' }),
        ticket({ createdAt: '2030-01-02T00:00:00.000Z' }),
      ];
      for (const t of [a, b, c]) await store.tickets.create(t);
      await store.tickets.claim(a.id, alice, AT);
      await store.tickets.close(c.id, alice, AT);
      const open = (await store.tickets.listOpen()).filter((t) => !before.includes(t.id));
      expect(open.map((t) => [t.id, t.status])).toEqual([
        [b.id, 'open'],
        [a.id, 'claimed'],
      ]);
    });

    it("activeFor is the user's latest ticket not closed", async () => {
      const userKey = fresh('line:U');
      expect(await store.tickets.activeFor(userKey)).toBeNull();
      const first = ticket({ userKey, createdAt: '2025-05-01T09:00:00.000Z' });
      const second = ticket({ userKey, createdAt: '2025-05-01T09:05:00.000Z' });
      await store.tickets.create(first);
      expect(await store.tickets.activeFor(userKey)).toEqual(first);
      await store.tickets.create(second);
      await store.tickets.create(ticket({ createdAt: '2025-05-01T09:10:00.000Z' }));
      expect(await store.tickets.activeFor(userKey)).toEqual(second);
      // Claimed still counts as active.
      await store.tickets.claim(second.id, alice, AT);
      expect((await store.tickets.activeFor(userKey))?.id).toBe(second.id);
      // Closing the latest falls back to the older one still open; closing that leaves none.
      await store.tickets.close(second.id, alice, LATER);
      expect(await store.tickets.activeFor(userKey)).toEqual(first);
      await store.tickets.close(first.id, 'citizen', LATER);
      expect(await store.tickets.activeFor(userKey)).toBeNull();
    });

    it('activeFor keeps the latest when an older ticket of the user closes', async () => {
      const userKey = fresh('line:U');
      const older = ticket({ userKey, createdAt: '2025-05-01T09:00:00.000Z' });
      const newer = ticket({ userKey, createdAt: '2025-05-01T09:05:00.000Z' });
      await store.tickets.create(older);
      await store.tickets.create(newer);
      await store.tickets.close(older.id, 'citizen', LATER);
      expect(await store.tickets.activeFor(userKey)).toEqual(newer);
    });

    it('setCard stores the card and findByCard finds the ticket by it, also once closed', async () => {
      const t = ticket();
      await store.tickets.create(t);
      const card: TicketCard = { conversationId: '19:staff@thread.tacv2', activityId: fresh('activity') };
      await store.tickets.setCard(t.id, card);
      expect(await store.tickets.get(t.id)).toEqual({ ...t, card });
      expect(await store.tickets.findByCard(card.activityId)).toEqual({ ...t, card });
      expect(await store.tickets.findByCard(fresh('activity'))).toBeNull();
      // The card survives claim and close.
      await store.tickets.claim(t.id, alice, AT);
      await store.tickets.close(t.id, alice, LATER);
      expect(await store.tickets.findByCard(card.activityId)).toMatchObject({ id: t.id, status: 'closed', card });
      await store.tickets.setCard('T-404', card);
      expect(await store.tickets.get('T-404')).toBeNull();
    });

    it('a re-posted card replaces the old one', async () => {
      const t = ticket();
      await store.tickets.create(t);
      const old: TicketCard = { conversationId: 'c', activityId: fresh('activity') };
      const card: TicketCard = { conversationId: 'c', activityId: fresh('activity') };
      await store.tickets.setCard(t.id, old);
      await store.tickets.setCard(t.id, card);
      expect(await store.tickets.findByCard(card.activityId)).toEqual({ ...t, card });
      expect(await store.tickets.findByCard(old.activityId)).toBeNull();
    });

    it('keeps text with quotes, slashes and non-ASCII intact through the scripts', async () => {
      const t = ticket({ context: 'menu / "予約" \\ 🙂\n<tab>\t' });
      await store.tickets.create(t);
      const agent: Agent = { id: 'a/"1"', name: '川崎 \u00e9 / 職員' };
      expect(await store.tickets.claim(t.id, agent, AT)).toEqual({
        ok: true,
        ticket: { ...t, status: 'claimed', claimedBy: agent, claimedAt: AT },
      });
    });
  });

  describe('channels', () => {
    const record = (overrides: Partial<ChannelRecord> = {}): ChannelRecord => ({
      reference: { conversation: { id: '19:staff@thread.tacv2' }, serviceUrl: 'https://smba.example/jp/', nested: [1, { a: null }] },
      status: 'ok',
      updatedAt: '2025-05-01T09:00:00.000Z',
      ...overrides,
    });

    it('gets null for an unknown name, then what was put, overwritten by the next put', async () => {
      const name = fresh('channel');
      expect(await store.channels.get(name)).toBeNull();
      await store.channels.put(name, record());
      expect(await store.channels.get(name)).toEqual(record());
      const broken = record({ status: 'broken', reason: '403', updatedAt: '2025-05-02T09:00:00.000Z' });
      await store.channels.put(name, broken);
      expect(await store.channels.get(name)).toEqual(broken);
      expect(await store.channels.get(fresh('channel'))).toBeNull();
    });
  });
});

describe('redis store during an outage', () => {
  it('refuses to start, quickly, when Redis is unreachable', async () => {
    const url = new URL(inject('redisUrl'));
    // Port 1 on loopback is closed: the connection is refused at once.
    url.port = '1';
    const started = Date.now();
    await expect(createRedisStore({ url: url.href, prefix: 'test:unreachable:' })).rejects.toThrow();
    expect(Date.now() - started).toBeLessThan(2_000);
  });
});
