import { describe, expect, it } from 'vitest';
import { encodeAction } from '../../dialogs/actions.ts';
import { conversationStateSchema } from '../../dialogs/state.ts';
import { bookingWindow, slotsOf } from '../../src/services/calendar.ts';
import { makeBooking } from '../support/stores.ts';
import { LOCALES } from '../../src/domain.ts';
import { translator } from '../../src/services/index.ts';
import { createBot, day, en, FIRST, IDLE_MS, ja, MENU, screening, SERVICE, startingWith, TEST_CATALOG, toSummary, toTimeStep, word } from '../support/chat.ts';

const SESSION = FIRST.id;

describe('global commands at any step', () => {
  it('back walks one step back, through the screening questions too', async () => {
    const bot = createBot();
    const u = bot.user('back');
    await u.type(word('book'));
    await u.tap(ja('booking.mode.in_person'));
    await u.tap(ja('booking.answer.yes'));
    expect(await u.type(word('back'))).toContain(screening('in_person', 1));
    expect(await u.tap(ja('common.back'))).toContain(ja('booking.modePrompt'));
    expect(await u.tap(ja('common.back'))).toContain(ja('menu.prompt'));
  });

  it('menu mid-flow returns to the menu and releases the held slot', async () => {
    const bot = createBot();
    const u = bot.user('menu');
    await toTimeStep(u);
    await u.tap('9:30');
    expect((await bot.store.bookings.occupancy(SESSION, bot.clock.now())).held.size).toBe(1);
    expect(await u.type(word('menu'))).toContain(ja('menu.prompt'));
    expect((await bot.store.bookings.occupancy(SESSION, bot.clock.now())).held.size).toBe(0);
  });

  it('a menu button tapped mid-booking (the rich menu under the chat) switches journeys, or asks the step again for its own', async () => {
    const bot = createBot();
    const u = bot.user('richmenu');
    await toTimeStep(u);
    await u.tap('9:30');
    const again = await u.send({ kind: 'action', data: encodeAction({ a: 'book' }) });
    expect(again).not.toContain(ja('stale'));
    expect(u.buttons).toContain(ja('booking.agree'));
    expect((await bot.store.bookings.occupancy(SESSION, bot.clock.now())).held.size).toBe(1);
    expect(await u.send({ kind: 'action', data: encodeAction({ a: 'my' }) })).toContain(ja('my.none'));
    expect((await bot.store.bookings.occupancy(SESSION, bot.clock.now())).held.size).toBe(0);
    expect(await u.send({ kind: 'action', data: encodeAction({ a: 'ask' }) })).toContain(ja('inquiry.prompt'));
  });

  it('cancel stops the booking and says nothing was booked', async () => {
    const bot = createBot();
    const u = bot.user('cancel');
    await toSummary(u);
    expect(await u.tap(ja('booking.stop'))).toContain(ja('cancelled'));
    expect(await bot.store.bookings.listSession(SESSION)).toHaveLength(0);
    expect((await bot.store.bookings.occupancy(SESSION, bot.clock.now())).held.size).toBe(0);
  });

  it('help explains and asks the same question again', async () => {
    const bot = createBot();
    const u = bot.user('help');
    await u.type(word('book'));
    await u.tap(ja('booking.mode.in_person'));
    const help = await u.type(word('help'));
    expect(help).toContain(ja('help'));
    expect(help).toContain(screening('in_person', 1));
  });

  it('switches language mid-flow and asks the same question in English', async () => {
    const bot = createBot();
    const u = bot.user('lang');
    await u.type(word('book'));
    await u.tap(ja('booking.mode.in_person'));
    await u.type(word('language', en));
    expect(u.buttons).toEqual(LOCALES.map((l) => translator(l)('language.name')));
    const english = await u.tap(en('language.name'));
    expect(english).toContain(en('languageChanged'));
    expect(english).toContain(screening('in_person', 1, 'en'));
    expect(u.buttons).toEqual([en('booking.answer.yes'), en('booking.answer.no'), en('booking.answer.unsure'), en('common.back')]);
    await u.tap(en('booking.answer.yes'));
    expect(await u.type(word('menu'))).toContain(en('menu.prompt'));
  });

  it('asking for a person at any step opens a ticket and keeps the conversation where it was', async () => {
    const bot = createBot();
    const u = bot.user('human');
    await toTimeStep(u);
    const answer = await u.type(word('human'));
    const [ticket] = await bot.store.tickets.listOpen();
    expect(ticket).toMatchObject({ reason: 'requested', context: 'booking:time:in_person', locale: 'ja' });
    expect(answer).toContain(ja('handoff.requested', { ticket: ticket!.id }));
    expect(answer).toContain(SERVICE.office.phone);
    expect(answer).toContain(ja('booking.timePrompt', { date: day(FIRST.date), place: FIRST.place.ja, minutes: 10 }));
  });

  it('typing the label of a shown button counts as tapping it', async () => {
    const bot = createBot();
    const u = bot.user('typist');
    await u.type(word('book'));
    expect(await u.type(ja('booking.mode.in_person'))).toContain(screening('in_person', 1));
    expect(await u.type(ja('booking.answer.yes'))).toContain(screening('in_person', 2));
  });

  it('unreadable text and stickers get a hint and the same question', async () => {
    const bot = createBot();
    const u = bot.user('confused');
    await u.type(word('book'));
    expect(await u.type('えーと')).toContain(ja('unknown'));
    expect(u.said).toContain(ja('booking.modePrompt'));
    expect(await u.send({ kind: 'unsupported' })).toContain(ja('unsupported'));
    expect(u.said).toContain(ja('booking.modePrompt'));
  });

  it('a button from an earlier step, or a forged payload, is refused clearly', async () => {
    const bot = createBot();
    const u = bot.user('stale');
    await u.type(word('book'));
    const mode = u.data(ja('booking.mode.in_person'));
    await u.tap(ja('booking.mode.in_person'));
    expect(await u.send({ kind: 'action', data: mode })).toContain(ja('stale'));
    expect(await u.send({ kind: 'action', data: '{"a":"time","s":"x","v":"../../"}' })).toContain(ja('stale'));
    expect(await u.send({ kind: 'action', data: 'not json' })).toContain(ja('stale'));
    expect(u.said).toContain(screening('in_person', 1));
  });

  it('an idle conversation expires: the user is told, and starts from the menu', async () => {
    const bot = createBot();
    const u = bot.user('idle');
    await toTimeStep(u);
    const stale = u.data('9:30');
    bot.clock.advance(IDLE_MS + 1);
    const back = await u.send({ kind: 'action', data: stale });
    expect(back).toContain(ja('expired'));
    expect(back).toContain(ja('menu.prompt'));
    expect(back).not.toContain(ja('stale'));
    expect((await bot.store.bookings.occupancy(SESSION, bot.clock.now())).held.size).toBe(0);
    expect(await u.type(word('book'))).toContain(ja('booking.modePrompt'));
  });

  it('state from an older version of the bot starts over cleanly', async () => {
    const bot = createBot();
    const u = bot.user('old');
    await bot.store.conversations.save(u.key, 0, { v: 0, locale: 'en', flow: { name: 'wizard', page: 3 } }, 60_000);
    const answer = await u.type(word('menu', en));
    expect(answer).toContain(en('reset'));
    expect(answer).toContain(en('menu.prompt'));
    const stored = await bot.store.conversations.load(u.key);
    expect(conversationStateSchema.safeParse(stored?.state).success).toBe(true);
  });
});

describe('my bookings', () => {
  it('lists, shows and cancels a booking after a confirmation, freeing the slot', async () => {
    const bot = createBot();
    const u = bot.user('mine');
    expect(await u.type(word('my'))).toContain(ja('my.none'));
    await toSummary(u, '11:00');
    await u.tap(ja('booking.confirm'));

    expect(await u.tap(ja('menu.my'))).toContain(ja('my.listPrompt'));
    const label = ja('my.label', { date: day(FIRST.date, true), time: '11:00' });
    expect(u.buttons).toEqual([label, ja('common.back')]);
    const detail = await u.tap(label);
    expect(detail).toContain(ja('my.detailTitle'));
    expect(detail).toContain(FIRST.place.ja);
    expect(detail).toContain('川崎 花子');
    expect(await u.tap(ja('my.cancel'))).toContain(ja('my.cancelConfirm', { date: day(FIRST.date), time: '11:00' }));
    expect(await u.tap(ja('my.cancelNo'))).toContain(ja('my.detailTitle'));
    await u.tap(ja('my.cancel'));
    const [booking] = await bot.store.bookings.listSession(SESSION);
    expect(await u.tap(ja('my.cancelYes'))).toContain(ja('my.cancelled', { reference: booking!.id }));
    expect(await bot.store.bookings.listSession(SESSION)).toHaveLength(0);
    expect(await u.type(word('my'))).toContain(ja('my.none'));
    expect(u.buttons).toEqual(MENU);
  });

  it('a full session: a LINE citizen joins its waitlist, and My bookings shows their place', async () => {
    const bot = createBot();
    for (const [i, slot] of slotsOf(SERVICE).entries()) {
      await bot.store.bookings.confirm(makeBooking({ id: `F${String(i).padStart(2, '0')}-2345`, sessionId: SESSION, slotId: slot.id, userKey: `line:full${i}` }), bot.clock.now());
    }
    const web = bot.user('web');
    await web.type(word('book'));
    await web.tap(ja('booking.mode.in_person'));
    for (let i = 0; i < 5; i++) await web.tap(ja('booking.answer.yes'));
    // Only LINE can tell a citizen of a freed time: the web chat gets no waitlist button.
    expect(web.last.map((r) => (r.kind === 'text' ? r.text : '')).join('\n')).toContain(ja('booking.allFull'));
    expect(web.buttons).not.toContain(ja('waitlist.join', { date: day(FIRST.date, true) }));
    const u = bot.lineUser('waiter');
    await u.type(word('book'));
    await u.tap(ja('booking.mode.in_person'));
    for (let i = 0; i < 4; i++) await u.tap(ja('booking.answer.yes'));
    expect(await u.tap(ja('booking.answer.yes'))).toContain(ja('waitlist.explain'));
    expect(await u.tap(ja('waitlist.join', { date: day(FIRST.date, true) }))).toContain(ja('waitlist.joined', { date: day(FIRST.date), place: 1 }));
    expect(await bot.store.bookings.waitlistPlace(SESSION, 'line:waiter')).toBe(1);
    expect(await u.tap(ja('menu.my'))).toContain(ja('waitlist.place', { date: day(FIRST.date), place: 1 }));
    expect((await bot.store.bookings.counters(SESSION)).waitlisted).toBe(1);
    // "辞退" with nothing held says so; with a time held (as an offer holds it), gives it up.
    expect(await u.type(word('decline'))).toContain(ja('waitlist.nothingHeld'));
    await bot.store.bookings.cancel(SESSION, 'F02-2345', 'line:full2');
    await bot.store.bookings.hold(SESSION, slotsOf(SERVICE)[2]!.id, u.key, bot.clock.now(), 3_600_000, 3_600_000);
    expect(await u.type(word('decline'))).toContain(ja('waitlist.declined'));
    expect((await bot.store.bookings.occupancy(SESSION, bot.clock.now())).held.size).toBe(0);
  });

  it('changes the time in one tap; a time someone took meanwhile leaves the booking where it was', async () => {
    const bot = createBot();
    const u = bot.user('mover');
    await toSummary(u, '11:00');
    await u.tap(ja('booking.confirm'));
    const [booking] = await bot.store.bookings.listSession(SESSION);
    await u.tap(ja('menu.my'));
    await u.tap(ja('my.label', { date: day(FIRST.date, true), time: '11:00' }));
    expect(await u.tap(ja('my.change'))).toContain(ja('my.changePrompt', { time: '11:00', date: day(FIRST.date) }));
    expect(u.buttons).toContain('13:00');
    expect(u.buttons).not.toContain('11:00');
    // Someone else books 13:00 while the list is on screen.
    const other = bot.user('quicker');
    await toSummary(other, '13:00');
    await other.tap(ja('booking.confirm'));
    expect(await u.tap('13:00')).toContain(ja('my.timeTaken', { time: '11:00' }));
    expect((await bot.store.bookings.get(SESSION, booking!.id))?.slotId).toBe('1100');
    expect(u.buttons).not.toContain('13:00');
    expect(await u.tap('14:00')).toContain(ja('my.changed', { reference: booking!.id, date: day(FIRST.date), time: '14:00' }));
    expect((await bot.store.bookings.get(SESSION, booking!.id))?.slotId).toBe('1400');
    expect((await bot.store.bookings.occupancy(SESSION, bot.clock.now())).booked).toEqual(new Set(['1300', '1400']));
    expect(u.buttons).toEqual(MENU);
  });

  it('moves a booking to another day: a new booking (and reference) there, the old one gone, one booking in all', async () => {
    // A second session of the same office the day after, open at the same time as the first.
    const LATER = { ...FIRST, id: '2026-12-09-asao', date: '2026-12-09', opens: '2026-11-01', closes: '2026-12-04' };
    const bot = createBot({ catalog: { ...TEST_CATALOG, sessions: [...TEST_CATALOG.sessions, LATER] } });
    const u = bot.user('traveller');
    await toSummary(u, '11:00');
    await u.tap(ja('booking.confirm'));
    const [old] = await bot.store.bookings.listSession(SESSION);
    await u.tap(ja('menu.my'));
    await u.tap(ja('my.label', { date: day(FIRST.date, true), time: '11:00' }));
    await u.tap(ja('my.change'));
    expect(await u.tap(ja('my.otherDate'))).toContain(ja('my.otherDatePrompt'));
    expect(await u.tap(startingWith(day(LATER.date, true)))).toContain(ja('my.changePrompt', { time: '11:00', date: day(LATER.date) }));
    const answer = await u.tap('9:30');
    const [moved] = await bot.store.bookings.listSession(LATER.id);
    expect(answer).toContain(ja('my.changed', { reference: moved!.id, date: day(LATER.date), time: '9:30' }));
    expect(moved).toMatchObject({ userKey: old!.userKey, slotId: '0930', contact: old!.contact });
    expect(moved!.id).not.toBe(old!.id);
    expect(await bot.store.bookings.listSession(SESSION)).toEqual([]);
    expect(await bot.store.moves.list()).toEqual([]);
  });

  it('after the booking cut-off: no cancel button but the office phone, and a cancel confirmed too late cancels nothing', async () => {
    const bot = createBot();
    const u = bot.user('late');
    await toSummary(u, '11:00');
    await u.tap(ja('booking.confirm'));
    const { closesAt } = bookingWindow(FIRST, SERVICE);
    const byPhone = ja('my.byPhone', { office: SERVICE.office.name.ja, phone: SERVICE.office.phone, hours: SERVICE.office.hours.ja });
    // The question is asked a minute before the cut-off, answered at it.
    bot.clock.set(closesAt.minus({ minutes: 1 }).toISO()!);
    await u.type(word('my'));
    await u.tap(ja('my.label', { date: day(FIRST.date, true), time: '11:00' }));
    await u.tap(ja('my.cancel'));
    bot.clock.set(closesAt.toISO()!);
    expect(await u.tap(ja('my.cancelYes'))).toContain(byPhone);
    expect(await bot.store.bookings.listSession(SESSION)).toHaveLength(1);
    // Opened after the cut-off: the details, the phone, and no cancel button.
    await u.tap(ja('menu.my'));
    const detail = await u.tap(ja('my.label', { date: day(FIRST.date, true), time: '11:00' }));
    expect(detail).toContain(ja('my.detailTitle'));
    expect(detail).toContain(byPhone);
    expect(u.buttons).not.toContain(ja('my.cancel'));
  });

  it("cannot open someone else's booking with a forged button", async () => {
    const bot = createBot();
    const owner = bot.user('owner');
    await toSummary(owner);
    await owner.tap(ja('booking.confirm'));
    await owner.tap(ja('menu.my'));
    const open = owner.data(startingWith(day(FIRST.date, true)));

    const other = bot.user('other');
    await toSummary(other, '13:00');
    await other.tap(ja('booking.confirm'));
    await other.tap(ja('menu.my'));
    const answer = await other.send({ kind: 'action', data: open });
    expect(answer).toContain(ja('my.notFound'));
    expect(answer).not.toContain('川崎 花子');
  });
});
