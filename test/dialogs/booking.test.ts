import { describe, expect, it } from 'vitest';
import {
  createBot,
  day,
  FIRST,
  ja,
  like,
  MENU,
  NEXT,
  QUESTIONS,
  questionsFor,
  SERVICE,
  screening,
  startingWith,
  toSummary,
  toTimeStep,
  word,
} from '../support/chat.ts';

const SESSION = FIRST.id;
const REFERENCE = /[2-9A-HJKMNP-TV-Z]{3}-[2-9A-HJKMNP-TV-Z]{4}/;
const SLOTS = ['9:00', '9:30', '10:00', '10:30', '11:00', '11:30', '13:00', '13:30', '14:00', '14:30', '15:00', '15:30'];
const SLOT_IDS = SLOTS.map((s) => s.replace(':', '').padStart(4, '0'));
const OFFICE = SERVICE.office.phone;
const ALTERNATIVE = SERVICE.alternatives[0]!.phone;
/** A summary or card line, as `textOf` writes it. */
const field = (name: string, value: string) => `${ja(`booking.field.${name}`)}: ${value}`;
/** Precautions that apply online only: what an in-person booking is not shown. */
const ONLINE_ONLY = SERVICE.precautions.items.filter((p) => !p.modes.includes('in_person'));

describe('booking a consultation', () => {
  it('books in person end to end and records consent and normalised contact details', async () => {
    const bot = createBot();
    const u = bot.user('a');
    expect(await u.send({ kind: 'follow' })).toContain(ja('greeting'));
    expect(u.buttons).toEqual(MENU);

    const mode = await u.tap(ja('menu.book'));
    expect(mode).toContain(SERVICE.description.ja);
    expect(mode).toContain(ja('booking.modePrompt'));
    expect(u.buttons).toEqual([ja('booking.mode.in_person'), ja('booking.mode.online'), ja('common.back')]);
    expect(await u.tap(ja('booking.mode.in_person'))).toContain(screening('in_person', 1));
    for (let i = 2; i <= QUESTIONS.in_person; i++) expect(await u.tap(ja('booking.answer.yes'))).toContain(screening('in_person', i));

    const dates = await u.tap(ja('booking.answer.yes'));
    expect(dates).toContain(ja('booking.dateLine', { date: day(FIRST.date), place: FIRST.place.ja, free: 12 }));
    const firstDate = ja('booking.dateLabel', { date: day(FIRST.date, true), free: 12 });
    expect(u.buttons).toEqual([firstDate, ja('common.back')]);

    expect(await u.tap(firstDate)).toMatch(like('booking.timePrompt', { date: day(FIRST.date), place: FIRST.place.ja, minutes: 10 }));
    expect(u.buttons).toEqual([...SLOTS, ja('common.back')]);

    const precautions = await u.tap('9:30');
    expect(precautions).toMatch(like('booking.held', { date: day(FIRST.date), time: '9:30' }));
    // The hold, then every precaution in one card whose buttons follow the question.
    expect(u.last).toHaveLength(2);
    expect(u.last[1]).toMatchObject({ kind: 'card', title: ja('booking.precautionsTitle') });
    expect(precautions).toContain(ja('booking.precautionsPrompt'));
    expect(u.buttons).toEqual([ja('booking.agree'), ja('booking.disagree'), ja('common.back')]);

    expect(await u.tap(ja('booking.agree'))).toContain(ja('booking.namePrompt'));
    expect(await u.type('  川崎　花子 ')).toContain(ja('booking.phonePrompt'));
    expect(await u.type('０９０－１２３４－５６７８')).toContain(ja('booking.emailPrompt'));
    const summary = await u.type('hanako@example.jp');
    expect(summary).toContain(ja('booking.summaryTitle'));
    expect(summary).toContain(field('name', '川崎 花子'));
    expect(summary).toContain(field('phone', '090-1234-5678'));
    expect(summary).toContain(field('place', FIRST.place.ja));

    const done = await u.tap(ja('booking.confirm'));
    expect(done).toContain(ja('booking.confirmedTitle'));
    const reference = done.match(REFERENCE)?.[0];
    expect(reference).toBeDefined();
    expect(done).toContain(ja('booking.confirmedText', { reference: reference! }));
    expect(u.buttons).toContain(ja('menu.my'));

    const [booking] = await bot.store.bookings.listSession(SESSION);
    expect(booking).toMatchObject({
      id: reference,
      slotId: '0930',
      mode: 'in_person',
      contact: { name: '川崎 花子', phone: '09012345678', email: 'hanako@example.jp' },
      consent: { precautionsVersion: SERVICE.precautions.version, agreedAt: '2026-11-24T01:00:00.000Z' },
    });
  });

  it('asks the online-only questions and shows every online precaution in one list, the question after it', async () => {
    const bot = createBot();
    const u = bot.user('online');
    await u.type(word('book'));
    expect(await u.tap(ja('booking.mode.online'))).toContain(screening('online', 1));
    for (let i = 1; i < QUESTIONS.online; i++) await u.tap(ja('booking.answer.yes'));
    expect(u.said).toContain(screening('online', QUESTIONS.online));
    expect(QUESTIONS.online).toBeGreaterThan(QUESTIONS.in_person);
    await u.tap(ja('booking.answer.yes'));
    await u.tap(startingWith(day(FIRST.date, true)));
    await u.tap('10:00');
    const cards = u.last.filter((r) => r.kind === 'card');
    expect(cards).toHaveLength(1);
    const list = cards[0]!.kind === 'card' ? (cards[0]!.text ?? '') : '';
    for (const p of SERVICE.precautions.items.filter((p) => p.modes.includes('online'))) expect(list).toContain(ja('booking.precautionItem', { text: p.text.ja }));
    expect(list.trimEnd().endsWith(ja('booking.precautionsPrompt'))).toBe(true);
    expect(cards[0]!.choices?.map((c) => c.label)).toEqual([ja('booking.agree'), ja('booking.disagree'), ja('common.back')]);
    await u.tap(ja('booking.agree'));
    await u.type('Taro Kawasaki');
    await u.type('044-200-3691');
    await u.type('taro@example.com');
    const done = await u.tap(ja('booking.confirm'));
    expect(done).toContain(ja('booking.nextOnline'));
    expect(done).toContain(field('place', ja('booking.online')));
  });

  it.each(Array.from({ length: QUESTIONS.online }, (_, i) => i))('a clear "no" to screening question %i explains why and offers alternatives', async (index) => {
    const bot = createBot();
    const u = bot.user(`no${index}`);
    await u.type(word('book'));
    await u.tap(ja('booking.mode.online'));
    for (let i = 0; i < index; i++) await u.tap(ja('booking.answer.yes'));
    const answer = await u.tap(ja('booking.answer.no'));
    const question = questionsFor('online')[index]!;
    expect(answer).toContain(ja('booking.screeningNo', { reason: question.noReason.ja }));
    expect(answer).toContain(OFFICE);
    expect(answer).toContain(ALTERNATIVE);
    expect(u.buttons).toContain(ja('menu.book'));
    expect(await bot.store.bookings.occupancy(SESSION, bot.clock.now())).toEqual({ booked: new Set(), held: new Map() });
  });

  it('"not sure" never refuses: it opens a ticket and says a person will answer', async () => {
    const bot = createBot();
    const u = bot.user('unsure');
    await u.type(word('book'));
    await u.tap(ja('booking.mode.in_person'));
    await u.tap(ja('booking.answer.yes'));
    const answer = await u.tap(ja('booking.answer.unsure'));
    const [ticket] = await bot.store.tickets.listOpen();
    expect(ticket).toMatchObject({ reason: 'screening_unsure', serviceId: SERVICE.id, userKey: u.key, context: 'booking:screening:in_person' });
    expect(answer).toContain(ja('handoff.unsure', { ticket: ticket!.id }));
    expect(answer).toContain(OFFICE);
  });

  it('re-asks only the wrong field, with the reason, and keeps the others', async () => {
    const bot = createBot();
    const u = bot.user('typo');
    await toTimeStep(u);
    await u.tap('9:30');
    await u.tap(ja('booking.agree'));
    await u.type('川崎 花子');
    expect(await u.type('12345')).toContain(ja('contact.invalid.phoneShape'));
    expect(u.said).toContain(ja('booking.phonePrompt'));
    expect(await u.type('090-1234-abcd')).toContain(ja('contact.invalid.phoneChars'));
    await u.type('09012345678');
    expect(await u.type('hanako@')).toContain(ja('contact.invalid.email'));
    const summary = await u.type('hanako@example.jp');
    expect(summary).toContain(field('name', '川崎 花子'));
    expect(summary).toContain(field('phone', '090-1234-5678'));
  });

  it('lets the citizen correct one field from the summary and returns to it', async () => {
    const bot = createBot();
    const u = bot.user('edit');
    await toSummary(u);
    expect(await u.tap(ja('booking.edit.phone'))).toContain(ja('booking.phonePrompt'));
    const summary = await u.type('044-200-3691');
    expect(summary).toContain(ja('booking.summaryTitle'));
    expect(summary).toContain(field('phone', '044-200-3691'));
    expect(summary).toContain(field('name', '川崎 花子'));
  });

  it('a hold that expired is still booked while the slot is free', async () => {
    const bot = createBot();
    const u = bot.user('slow');
    await toSummary(u);
    bot.clock.advance(20 * 60_000);
    expect(await u.tap(ja('booking.confirm'))).toContain(ja('booking.confirmedTitle'));
  });

  it('when the hold expired and someone took the slot, offers the nearest free times and keeps the details', async () => {
    const bot = createBot();
    const slow = bot.user('slow');
    const fast = bot.user('fast');
    await toSummary(slow, '10:00');
    bot.clock.advance(11 * 60_000);
    await toSummary(fast, '10:00');
    expect(await fast.tap(ja('booking.confirm'))).toContain(ja('booking.confirmedTitle'));

    const gone = await slow.tap(ja('booking.confirm'));
    expect(gone).toContain(ja('booking.slotGone'));
    const offer = (time: string) => `${day(FIRST.date, true)} ${time}`;
    expect(slow.buttons.slice(0, 3)).toEqual([offer('9:30'), offer('10:30'), offer('9:00')]);
    const summary = await slow.tap(offer('10:30'));
    expect(summary).toContain(ja('booking.summaryTitle'));
    expect(summary).toContain(field('time', '10:30'));
    expect(summary).toContain(field('name', '川崎 花子'));
    expect(await slow.tap(ja('booking.confirm'))).toContain(ja('booking.confirmedTitle'));
    expect((await bot.store.bookings.listSession(SESSION)).map((b) => b.slotId)).toEqual(['1000', '1030']);
  });

  it('a slot held by someone else is not offered, and a stale tap on it says it was taken', async () => {
    const bot = createBot();
    const first = bot.user('first');
    const second = bot.user('second');
    await toTimeStep(first);
    await toTimeStep(second);
    await first.tap('9:30');
    const taken = await second.tap('9:30');
    expect(taken).toContain(ja('booking.taken'));
    expect(second.buttons).not.toContain('9:30');
    expect(second.buttons).toContain('10:00');
  });

  it('one booking per person per session', async () => {
    const bot = createBot();
    const u = bot.user('twice');
    await toSummary(u);
    await u.tap(ja('booking.confirm'));
    await toTimeStep(u);
    expect(await u.tap('10:00')).toContain(ja('booking.alreadyBooked'));
    expect(await bot.store.bookings.listSession(SESSION)).toHaveLength(1);
  });

  it('changing the mode after agreeing asks the new precautions and frees the slot', async () => {
    const bot = createBot();
    const u = bot.user('switcher');
    await toSummary(u);
    for (let i = 0; i < 20; i++) {
      if (u.said.includes(ja('booking.modePrompt'))) break;
      await u.type(word('back'));
    }
    expect(u.said).toContain(ja('booking.modePrompt'));
    await u.tap(ja('booking.mode.online'));
    expect((await bot.store.bookings.occupancy(SESSION, bot.clock.now())).held.size).toBe(0);
    for (let i = 0; i < QUESTIONS.online; i++) await u.tap(ja('booking.answer.yes'));
    await u.tap(startingWith(day(FIRST.date, true)));
    expect(await u.tap('9:30')).toContain(ja('booking.precautionsTitle'));
    for (const p of ONLINE_ONLY) expect(u.said).toContain(p.text.ja);
  });

  it('choosing another date lets go of the slot held in the first', async () => {
    const bot = createBot({ start: '2026-12-15T10:00:00+09:00' });
    const u = bot.user('hopper');
    await u.type(word('book'));
    await u.tap(ja('booking.mode.in_person'));
    for (let i = 0; i < QUESTIONS.in_person; i++) await u.tap(ja('booking.answer.yes'));
    await u.tap(startingWith(day(NEXT.date, true)));
    await u.tap('9:30');
    await u.type(word('back'));
    await u.type(word('back'));
    expect(u.said).toContain(ja('booking.datePrompt'));
    await u.tap(startingWith(day(NEXT.date, true)));
    expect((await bot.store.bookings.occupancy(NEXT.id, bot.clock.now())).held.size).toBe(1);
  });

  it('a booking is kept for 30 days after its session, then forgotten', async () => {
    const bot = createBot();
    const calls: [string, number][] = [];
    const expire = bot.store.bookings.expireSession.bind(bot.store.bookings);
    bot.store.bookings.expireSession = async (sessionId, atMs) => {
      calls.push([sessionId, atMs]);
      return expire(sessionId, atMs);
    };
    const u = bot.user('kept');
    await toSummary(u);
    await u.tap(ja('booking.confirm'));
    expect(calls).toEqual([[SESSION, Date.parse('2027-01-08T00:00:00+09:00')]]);
  });

  it('declining the precautions books nothing and frees the slot', async () => {
    const bot = createBot();
    const u = bot.user('decline');
    await toTimeStep(u);
    await u.tap('9:30');
    expect(await u.tap(ja('booking.disagree'))).toContain(ja('booking.declined'));
    expect((await bot.store.bookings.occupancy(SESSION, bot.clock.now())).held.size).toBe(0);
  });

  it('when no session is open, says when booking opens next', async () => {
    const bot = createBot({ start: '2026-12-05T10:00:00+09:00' });
    const u = bot.user('early');
    await u.type(word('book'));
    await u.tap(ja('booking.mode.in_person'));
    for (let i = 0; i < QUESTIONS.in_person; i++) await u.tap(ja('booking.answer.yes'));
    expect(u.said).toContain(ja('booking.noSessions'));
    expect(u.said).toContain(ja('booking.nextOpening', { date: day(NEXT.date), opens: day('2026-12-15') }));
  });

  it('offers only sessions whose window is open, with free counts', async () => {
    const bot = createBot({ start: '2026-12-15T09:30:00+09:00' });
    const u = bot.user('january');
    await u.type(word('book'));
    await u.tap(ja('booking.mode.in_person'));
    for (let i = 0; i < QUESTIONS.in_person; i++) await u.tap(ja('booking.answer.yes'));
    expect(u.buttons).toEqual([ja('booking.dateLabel', { date: day(NEXT.date, true), free: 12 }), ja('common.back')]);
  });
});

describe('a full session', () => {
  it('offers the other open dates, or when booking opens next and whom to call', async () => {
    const bot = createBot({ start: '2026-12-04T10:00:00+09:00' });
    const now = bot.clock.now();
    for (const [i, slot] of SLOT_IDS.entries()) await bot.store.bookings.hold(SESSION, slot, `other-${i}`, now, 60 * 60_000, 60 * 60_000);
    const u = bot.user('late');
    await u.type(word('book'));
    await u.tap(ja('booking.mode.in_person'));
    for (let i = 0; i < QUESTIONS.in_person; i++) await u.tap(ja('booking.answer.yes'));
    const said = u.said;
    expect(said).toContain(ja('booking.dateLineFull', { date: day(FIRST.date), place: FIRST.place.ja }));
    expect(said).toContain(ja('booking.nextOpening', { date: day(NEXT.date), opens: day('2026-12-15') }));
    expect(said).toContain(ALTERNATIVE);
    expect(u.buttons).toEqual([ja('common.back'), ja('common.menu')]);
  });

  it('when the session fills while choosing a time, the answer lists the other dates', async () => {
    const bot = createBot({ start: '2026-12-15T10:00:00+09:00' });
    const u = bot.user('chooser');
    await u.type(word('book'));
    await u.tap(ja('booking.mode.in_person'));
    for (let i = 0; i < QUESTIONS.in_person; i++) await u.tap(ja('booking.answer.yes'));
    await u.tap(startingWith(day(NEXT.date, true)));
    const now = bot.clock.now();
    for (const [i, slot] of SLOT_IDS.entries()) await bot.store.bookings.hold(NEXT.id, slot, `other-${i}`, now, 60 * 60_000, 60 * 60_000);
    const said = await u.tap('9:00');
    expect(said).toContain(ja('booking.taken'));
    // Every open session is full, so one sentence says so (not "this one is full" as well).
    expect(said).not.toContain(ja('booking.sessionFull'));
    expect(said).toContain(ja('booking.allFull'));
    expect(said).toContain(OFFICE);
  });
});
