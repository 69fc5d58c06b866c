/**
 * Transcripts of "delete my data": what will be deleted, the confirmation, and afterwards
 * nothing of the citizen in the store (conversation, bookings, tickets' text), with staff's
 * trace a pseudonym and counts.
 */
import { describe, expect, it } from 'vitest';
import { pseudonym } from '../../src/log.ts';
import { ERASED_USER } from '../../src/stores/ports.ts';
import { createBot, FIRST, ja, like, MENU, toSummary, toTimeStep, word } from '../support/chat.ts';

const QUESTION = '道路に穴があいていて危ないです';

describe('delete my data', () => {
  it('explains, asks to confirm, cancels the upcoming booking, strips the ticket, forgets the conversation, and says so', async () => {
    const bot = createBot();
    const u = bot.user('erase');
    await toSummary(u);
    await u.tap(ja('booking.confirm'));
    const [booking] = await bot.store.bookings.findByUser(u.key, [FIRST.id]);
    expect(booking).toBeDefined();
    await u.type(QUESTION);
    await u.tap(ja('inquiry.consentYes'));
    const [ticket] = await bot.store.tickets.listOpen();
    expect(ticket).toMatchObject({ userKey: u.key, question: QUESTION });

    const said = await u.type(word('erase'));
    expect(said).toContain(ja('erasure.explain'));
    expect(said).toContain(ja('erasure.upcoming', { count: 1 }));
    expect(u.buttons).toEqual([ja('erasure.confirm'), ja('erasure.keep')]);

    expect(await u.tap(ja('erasure.confirm'))).toMatch(like('erasure.done', { cancelled: 1 }));
    expect(u.buttons).toEqual(MENU);
    expect(await bot.store.conversations.load(u.key)).toBeNull();
    expect(await bot.store.bookings.get(FIRST.id, booking!.id)).toBeNull();
    expect((await bot.store.bookings.occupancy(FIRST.id, bot.clock.now())).booked.has(booking!.slotId)).toBe(false);
    const stored = (await bot.store.tickets.get(ticket!.id))!;
    expect(stored).toMatchObject({ status: 'closed', closedBy: 'citizen', userKey: ERASED_USER });
    expect(stored.question).toBeUndefined();

    // Staff's trace: a pseudonym and counts, nothing typed.
    const trace = bot.logs.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.event === 'privacy.erased');
    expect(trace).toMatchObject({ user: pseudonym(u.key), cancelled: 1, counted: 0, tickets: 1 });
    const logs = bot.logs.join('\n');
    for (const personal of [u.key, '川崎', '090', 'hanako', QUESTION]) expect(logs).not.toContain(personal);

    // The next message starts a fresh conversation.
    await u.type(word('menu'));
    expect(u.buttons).toEqual(MENU);
  });

  it('typed in the middle of a booking lets go of the held slot; "keep" deletes nothing', async () => {
    const bot = createBot();
    const u = bot.user('keep');
    await toTimeStep(u);
    await u.tap('9:30');
    expect((await bot.store.bookings.occupancy(FIRST.id, bot.clock.now())).held.size).toBe(1);
    await u.tap(ja('booking.agree'));
    // At the name field, where typed text is otherwise the answer itself.
    expect(await u.type(word('erase'))).toContain(ja('erasure.explain'));
    expect((await bot.store.bookings.occupancy(FIRST.id, bot.clock.now())).held.size).toBe(0);
    expect(await u.tap(ja('erasure.keep'))).toContain(ja('erasure.kept'));
    expect(u.buttons).toEqual(MENU);
    expect(await bot.store.conversations.load(u.key)).not.toBeNull();
    expect(bot.logs.join('\n')).not.toContain('privacy.erased');
  });

  it('is named in the help text, and works in English', async () => {
    const bot = createBot();
    const u = bot.user('help');
    expect(await u.type(word('help'))).toContain(word('erase'));
    await u.tap(ja('menu.language'));
    await u.tap('English');
    expect(await u.type('Delete my data')).toContain('This deletes your data');
  });
});
