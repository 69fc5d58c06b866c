/**
 * The store contract for erasing a citizen's data at their request: their holds and bookings
 * in a session (an anonymous count kept for past ones), and their tickets closed and stripped
 * of what they wrote and who they are. Run against memory, Redis and sealed Redis alike.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERASED_USER, type Store } from '../../src/stores/ports.ts';
import { bookingId, makeBooking, makeTicket, storeFactories } from '../support/stores.ts';

const agent = { id: 'aad-1', name: 'Sato' };
const AT = '2026-12-01T00:00:00.000Z';

describe.each(storeFactories())('%s store: erasure', (_name, create) => {
  let store: Store;
  let n = 0;
  const fresh = (what: string) => `${what}-${++n}`;

  beforeAll(async () => {
    store = await create();
  });
  afterAll(async () => {
    await store.close();
  });

  it('cancels the booking and frees its slot, drops the hold, and leaves other people alone', async () => {
    const now = Date.now();
    const [s1, s2, user, other] = [fresh('S'), fresh('S'), fresh('line:U'), fresh('line:U')];
    const mine = makeBooking({ id: bookingId(++n), sessionId: s1, slotId: '0930', userKey: user });
    const theirs = makeBooking({ id: bookingId(++n), sessionId: s1, slotId: '1000', userKey: other });
    expect((await store.bookings.confirm(mine, now)).ok).toBe(true);
    expect((await store.bookings.confirm(theirs, now)).ok).toBe(true);
    expect((await store.bookings.hold(s2, '0930', user, now, 60_000, 120_000)).ok).toBe(true);

    expect(await store.bookings.forgetUser(s1, user, false)).toBe(true);
    expect(await store.bookings.forgetUser(s2, user, false)).toBe(false);
    expect(await store.bookings.get(s1, mine.id)).toBeNull();
    expect(await store.bookings.findByUser(user, [s1, s2])).toEqual([]);
    expect((await store.bookings.occupancy(s1, now)).booked).toEqual(new Set(['1000']));
    expect((await store.bookings.occupancy(s2, now)).held.size).toBe(0);
    expect(await store.bookings.erasedCount(s1)).toBe(0);
    expect(await store.bookings.get(s1, theirs.id)).toEqual(theirs);
    // The freed slot can be booked again.
    expect((await store.bookings.hold(s1, '0930', other + 'x', now, 60_000, 120_000)).ok).toBe(true);
  });

  it('keeps a past booking only as a count, and is idempotent', async () => {
    const now = Date.now();
    const [s, user] = [fresh('S'), fresh('line:U')];
    await store.bookings.confirm(makeBooking({ id: bookingId(++n), sessionId: s, userKey: user }), now);
    await store.bookings.expireSession(s, now + 86_400_000);
    expect(await store.bookings.forgetUser(s, user, true)).toBe(true);
    expect(await store.bookings.forgetUser(s, user, true)).toBe(false);
    expect(await store.bookings.erasedCount(s)).toBe(1);
    expect(await store.bookings.listSession(s)).toEqual([]);
    expect(JSON.stringify(await store.bookings.findByUser(user, [s]))).toBe('[]');
  });

  it('closes the user’s open tickets and strips all of theirs of the question and user key', async () => {
    const [user, other] = [fresh('line:U'), fresh('line:U')];
    const [open, claimed, closed, theirs] = [fresh('T'), fresh('T'), fresh('T'), fresh('T')];
    await store.tickets.create(makeTicket({ id: open, userKey: user, reason: 'inquiry', question: '川崎 花子です、相談したい', suggestions: ['waste'] }));
    await store.tickets.create(makeTicket({ id: claimed, userKey: user }));
    await store.tickets.claim(claimed, agent, AT);
    await store.tickets.create(makeTicket({ id: closed, userKey: user, question: '古い質問' }));
    await store.tickets.close(closed, agent, '2026-11-01T00:00:00.000Z');
    await store.tickets.create(makeTicket({ id: theirs, userKey: other, question: '別の人の質問' }));

    const changed = await store.tickets.eraseUser(user, AT);
    expect(changed.map((t) => t.id).sort()).toEqual([open, claimed, closed].sort());
    for (const id of [open, claimed, closed]) {
      const ticket = (await store.tickets.get(id))!;
      expect(ticket).toMatchObject({ status: 'closed', userKey: ERASED_USER });
      expect(ticket.question).toBeUndefined();
      expect(ticket.suggestions).toBeUndefined();
    }
    expect(await store.tickets.get(open)).toMatchObject({ closedBy: 'citizen', closedAt: AT });
    expect(await store.tickets.get(closed)).toMatchObject({ closedBy: agent, closedAt: '2026-11-01T00:00:00.000Z' });
    expect(await store.tickets.activeFor(user)).toBeNull();
    expect((await store.tickets.listOpen()).map((t) => t.id)).not.toContain(open);
    const all = JSON.stringify(await store.tickets.listAll());
    for (const personal of [user, '川崎', '古い質問']) expect(all).not.toContain(personal);
    expect(await store.tickets.get(theirs)).toMatchObject({ userKey: other, question: '別の人の質問', status: 'open' });
    // Idempotent, and the erased tickets expire like any closed one.
    expect((await store.tickets.eraseUser(user, AT)).length).toBe(0);
    await store.tickets.purgeClosed(Date.parse(AT) + 1);
    for (const id of [open, claimed, closed]) expect(await store.tickets.get(id)).toBeNull();
    expect(await store.tickets.get(theirs)).not.toBeNull();
  });
});
