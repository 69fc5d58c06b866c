/**
 * A booking moved to another session, cut short by a crash between its two steps (the new
 * booking made, the old one not yet cancelled): the reconciliation finds the note the move
 * left and finishes it, so that the citizen ends with exactly one booking, the new one; a
 * move cut short before the new booking was made leaves the old one as it was. On both stores.
 */
import { DateTime } from 'luxon';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ZONE } from '../../src/domain.ts';
import { BookingService } from '../../src/services/booking.ts';
import type { Store } from '../../src/stores/ports.ts';
import { TEST_CATALOG } from '../support/chat.ts';
import { makeBooking, storeFactories } from '../support/stores.ts';

const FIRST = TEST_CATALOG.sessions.find((s) => s.id === '2026-12-08-asao')!;
const LATER = { ...FIRST, id: '2026-12-09-asao', date: '2026-12-09', opens: '2026-11-01', closes: '2026-12-04' };
const catalog = { ...TEST_CATALOG, sessions: [...TEST_CATALOG.sessions, LATER] };
const now = DateTime.fromISO('2026-11-24T10:00', { zone: ZONE });

describe.each(storeFactories())('%s store: a move across sessions cut short', (_name, create) => {
  let store: Store;
  beforeAll(async () => {
    store = await create();
  });
  afterAll(async () => {
    await store.close();
  });

  it('is finished by the reconciliation: the new booking stays, the old one goes, one booking in all', async () => {
    const booking = makeBooking({ id: 'OLD-2345', sessionId: FIRST.id, slotId: '1100', userKey: 'line:Ucrash' });
    await store.bookings.confirm(booking, now.toMillis());
    // The process dies right after the new booking is written: the old one's cancel never runs.
    const crashing = { ...store.bookings, cancel: async () => Promise.reject(new Error('process killed')) };
    const dying = new BookingService(crashing, store.moves, catalog, 10);
    await expect(dying.moveAcross(booking, LATER.id, '0930', 'line:Ucrash', now)).rejects.toThrow('process killed');
    expect(await store.bookings.findByUser('line:Ucrash', [FIRST.id, LATER.id])).toHaveLength(2);
    expect(await store.moves.list()).toHaveLength(1);

    const restarted = new BookingService(store.bookings, store.moves, catalog, 10);
    expect(await restarted.reconcileMoves(now.plus({ seconds: 5 }))).toBe(1);
    const left = await store.bookings.findByUser('line:Ucrash', [FIRST.id, LATER.id]);
    expect(left.map((b) => [b.sessionId, b.slotId])).toEqual([[LATER.id, '0930']]);
    expect((await store.bookings.occupancy(FIRST.id, now.toMillis())).booked.has('1100')).toBe(false);
    expect(await store.moves.list()).toEqual([]);
    // Running it again changes nothing.
    expect(await restarted.reconcileMoves(now.plus({ seconds: 10 }))).toBe(0);
    expect(await store.bookings.findByUser('line:Ucrash', [FIRST.id, LATER.id])).toEqual(left);
  });

  it('cut short before the new booking was made: the old booking stays, and the note goes once it is old', async () => {
    const booking = makeBooking({ id: 'KEE-2345', sessionId: FIRST.id, slotId: '1300', userKey: 'line:Uearly' });
    await store.bookings.confirm(booking, now.toMillis());
    const crashing = { ...store.bookings, confirm: async () => Promise.reject(new Error('process killed')) };
    await expect(new BookingService(crashing, store.moves, catalog, 10).moveAcross(booking, LATER.id, '1000', 'line:Uearly', now)).rejects.toThrow();
    const service = new BookingService(store.bookings, store.moves, catalog, 10);
    // A note this young may belong to a move still under way: left alone.
    expect(await service.reconcileMoves(now.plus({ seconds: 5 }))).toBe(0);
    expect((await store.moves.list()).map(([user]) => user)).toContain('line:Uearly');
    await service.reconcileMoves(now.plus({ minutes: 2 }));
    expect((await store.moves.list()).map(([user]) => user)).not.toContain('line:Uearly');
    expect(await store.bookings.findByUser('line:Uearly', [FIRST.id, LATER.id])).toEqual([booking]);
  });
});
