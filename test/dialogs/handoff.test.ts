import { DateTime } from 'luxon';
import { describe, expect, it, vi } from 'vitest';
import { encodeAction } from '../../dialogs/actions.ts';
import { STAFF_PART_MAX } from '../../dialogs/handoff.ts';
import { freshState } from '../../dialogs/state.ts';
import type { Reply } from '../../src/turn.ts';
import { type Locale, LOCALES, type Ticket } from '../../src/domain.ts';
import { loadConfig } from '../../src/config.ts';
import { StaffDeskService } from '../../src/staffDesk.ts';
import { translator } from '../../src/services/index.ts';
import type { CitizenMessenger, StaffNotifier } from '../../src/services/staff.ts';
import { createBot, day, en, FIRST, ja, like, SERVICE, TEST_BRAIN, textOf, toSummary, word } from '../support/chat.ts';

/** A notifier that remembers what staff were told. */
function recordingNotifier() {
  const events: { kind: string; ticket: Ticket; text?: string }[] = [];
  const notifier: StaffNotifier = {
    name: 'recording',
    ticketOpened: async (ticket) => {
      events.push({ kind: 'opened', ticket });
      return { conversationId: 'staff-channel', activityId: `card-${ticket.id}` };
    },
    ticketChanged: async (ticket) => void events.push({ kind: 'changed', ticket }),
    citizenSaid: async (ticket, text) => void events.push({ kind: 'said', ticket, text }),
  };
  return { notifier, events };
}

/** A messenger that keeps what it pushed to each citizen. */
function inbox() {
  const pushed: { userKey: string; text: string; key: string }[] = [];
  const messenger: CitizenMessenger = {
    handles: (userKey) => userKey.startsWith('test:'),
    deliver: async (userKey, replies: Reply[], key) => void pushed.push({ userKey, text: textOf(replies), key }),
  };
  return { messenger, pushed };
}

function setup(start?: string) {
  const { notifier, events } = recordingNotifier();
  const bot = createBot({ notifier, ...(start ? { start } : {}) });
  const { messenger, pushed } = inbox();
  const desk = new StaffDeskService({ store: bot.store, catalog: bot.catalog, notifier, runTurn: (r) => bot.engine.run(r), delivered: (k, e) => bot.engine.delivered(k, e), messengers: [messenger], log: { info() {}, warn() {}, error() {} } });
  const now = () => DateTime.fromMillis(bot.clock.now());
  return { bot, desk, events, pushed, now };
}

const staff = { id: 'aad-1', name: 'Suzuki' };
const OFFICE = SERVICE.office.phone;
const SESSION = FIRST.id;

describe('reaching a person', () => {
  it('inside office hours: staff are told, the citizen hears someone will answer shortly', async () => {
    const { bot, events } = setup();
    const u = bot.user('in-hours');
    const said = await u.type(word('human'));
    expect(said).toContain(ja('handoff.soon'));
    expect(said).toContain(OFFICE);
    expect(events.map((e) => e.kind)).toEqual(['opened']);
    const [ticket] = await bot.store.tickets.listOpen();
    expect(ticket).toMatchObject({ status: 'open', category: SERVICE.id, priority: 'normal', card: { activityId: `card-${ticket!.id}` } });
  });

  it('outside office hours: says when someone will answer, and the ticket waits', async () => {
    const { bot } = setup('2026-11-27T19:30:00+09:00');
    const u = bot.user('friday-night');
    const said = await u.type(word('human'));
    // Friday evening: the office answers on Monday morning.
    expect(said).toContain(ja('handoff.later', { next: `${day('2026-11-30')} 9:00` }));
    expect(await bot.store.tickets.listOpen()).toHaveLength(1);
  });

  it('asking again while a ticket waits points at the same ticket, not a second card', async () => {
    const { bot, events } = setup();
    const u = bot.user('twice');
    const first = await u.type(word('human'));
    const second = await u.type(word('human'));
    const [ticket] = await bot.store.tickets.listOpen();
    expect(await bot.store.tickets.listOpen()).toHaveLength(1);
    expect(first).toContain(ja('handoff.requested', { ticket: ticket!.id }));
    expect(second).toContain(ja('handoff.requested', { ticket: ticket!.id }));
    expect(events.filter((e) => e.kind === 'opened')).toHaveLength(1);
  });

  it('a ticket closed by staff before anyone joined is not left unanswered', async () => {
    const { bot, desk, pushed, now } = setup();
    const u = bot.user('closed-early');
    await u.type(word('human'));
    const [ticket] = await bot.store.tickets.listOpen();
    await desk.close(ticket!.id, staff, now());
    expect(pushed.at(-1)?.text).toContain(ja('handoff.closedUnanswered', { ticket: ticket!.id }));
  });

  it("staff are not told a claim reached a citizen whose conversation could not take it", async () => {
    const { bot, desk, pushed, now } = setup();
    const u = bot.user('store-down');
    await u.type(word('human'));
    const [ticket] = await bot.store.tickets.listOpen();
    const load = bot.store.conversations.load.bind(bot.store.conversations);
    bot.store.conversations.load = async () => Promise.reject(new Error('redis down'));
    // The citizen's turn fails: its apology must not be pushed as if staff had joined.
    expect((await desk.claim(ticket!.id, staff, now())).ok).toBe(true);
    expect(pushed).toEqual([]);
    // A staff reply is refused outright, so that Teams says it was not delivered.
    await expect(desk.reply(ticket!.id, staff, 'もしもし', 'm-1')).rejects.toThrow();
    expect(pushed).toEqual([]);
    bot.store.conversations.load = load;
  });

  it('after three messages in a row the bot does not understand, it offers to pass the last one to staff', async () => {
    const { bot } = setup();
    const u = bot.user('lost');
    await u.type(word('book'));
    expect(await u.type('あの')).toContain(ja('unknown'));
    expect(await u.type('その')).toContain(ja('unknown'));
    const third = await u.type('えっと');
    expect(third).toContain(ja('inquiry.notUnderstood'));
    expect(third).toContain(ja('inquiry.consentPrompt'));
    expect(await bot.store.tickets.listOpen()).toEqual([]);
    await u.tap(ja('inquiry.consentYes'));
    const [ticket] = await bot.store.tickets.listOpen();
    expect(ticket).toMatchObject({ reason: 'inquiry', desk: 'contact_center', question: 'えっと', context: 'booking:mode' });
    expect(await u.type('まだ')).toContain(ja('unknown'));
  });

  it('a claimed ticket relays both ways until staff close it, then the bot resumes', async () => {
    const { bot, desk, events, pushed, now } = setup();
    const u = bot.user('relay');
    await u.type(word('human'));
    const [ticket] = await bot.store.tickets.listOpen();

    const claimed = await desk.claim(ticket!.id, staff, now());
    expect(claimed.ok).toBe(true);
    expect(pushed.at(-1)?.text).toContain(ja('handoff.joined'));
    expect(events.at(-1)).toMatchObject({ kind: 'changed', ticket: { status: 'claimed', claimedBy: staff } });

    expect(await u.type('駐車場の件で相談したいです')).toBe('');
    expect(events.at(-1)).toMatchObject({ kind: 'said', text: '駐車場の件で相談したいです' });
    expect(await u.type(word('menu'))).toContain(ja('handoff.ended'));

    // The menu word ended it from the citizen's side; a new ticket for the staff-side close.
    await u.type(word('human'));
    const second = (await bot.store.tickets.listOpen()).at(-1)!;
    await desk.claim(second.id, staff, now());
    expect(await desk.reply(second.id, staff, '担当の鈴木です。ご用件をどうぞ。', 'msg-1')).toEqual({ sent: true, unsent: '' });
    expect(pushed.at(-1)?.text).toContain(ja('handoff.staffSays', { text: '担当の鈴木です。ご用件をどうぞ。' }));
    expect(await desk.reply(second.id, { id: 'aad-2', name: 'Other' }, 'hi', 'msg-2')).toEqual({ sent: false });

    await desk.close(second.id, staff, now());
    expect(pushed.at(-1)?.text).toContain(ja('handoff.ended'));
    expect(await u.type(word('book'))).toContain(ja('booking.modePrompt'));
  });

  it('a menu button tapped while talking with staff gets the reminder of how to end the chat, not silence', async () => {
    const { bot, desk, events, now } = setup();
    const u = bot.user('tapper');
    await u.type(word('human'));
    const [ticket] = await bot.store.tickets.listOpen();
    await desk.claim(ticket!.id, staff, now());
    const before = events.length;
    expect(await u.send({ kind: 'action', data: encodeAction({ a: 'book' }) })).toBe(ja('handoff.endHint'));
    expect(events.slice(before).some((e) => e.kind === 'said')).toBe(false);
  });

  it('the citizen can end the conversation with staff', async () => {
    const { bot, desk, events, now } = setup();
    const u = bot.user('ender');
    await u.type(word('human'));
    const [ticket] = await bot.store.tickets.listOpen();
    await desk.claim(ticket!.id, staff, now());
    expect(await u.type(word('endChat'))).toContain(ja('handoff.ended'));
    expect(u.buttons).toContain(ja('menu.book'));
    expect(await bot.store.tickets.get(ticket!.id)).toMatchObject({ status: 'closed', closedBy: 'citizen' });
    expect(events.at(-1)).toMatchObject({ kind: 'changed', ticket: { status: 'closed' } });
  });

  it('staff taking a long time does not expire the conversation with them', async () => {
    const { bot, desk, events, now } = setup();
    const u = bot.user('patient');
    await u.type(word('human'));
    const [ticket] = await bot.store.tickets.listOpen();
    await desk.claim(ticket!.id, staff, now());
    bot.clock.advance(3 * 3_600_000);
    expect(await u.type('まだですか')).toBe('');
    expect(events.at(-1)).toMatchObject({ kind: 'said', text: 'まだですか' });
  });
});

describe('when the relay breaks', () => {
  it("tells the citizen when their words could not reach staff, with the office's phone", async () => {
    const { notifier } = recordingNotifier();
    const bot = createBot({ notifier: { ...notifier, citizenSaid: async () => Promise.reject(new Error('403')) } });
    const desk = new StaffDeskService({ store: bot.store, catalog: bot.catalog, notifier, runTurn: (r) => bot.engine.run(r), delivered: (k, e) => bot.engine.delivered(k, e), messengers: [inbox().messenger], log: { info() {}, warn() {}, error() {} } });
    const u = bot.user('unheard');
    await u.type(word('human'));
    const [ticket] = await bot.store.tickets.listOpen();
    await desk.claim(ticket!.id, staff, DateTime.fromMillis(bot.clock.now()));
    expect(await u.type('聞こえていますか')).toContain(ja('handoff.relayFailed'));
    expect(u.said).toContain(OFFICE);
  });

  it('a staff reply that cannot be pushed is reported to staff, not claimed as sent', async () => {
    const { bot, now } = setup();
    const failing: CitizenMessenger = { handles: () => true, deliver: async () => Promise.reject(new Error('LINE down')) };
    const desk = new StaffDeskService({ store: bot.store, catalog: bot.catalog, notifier: recordingNotifier().notifier, runTurn: (r) => bot.engine.run(r), delivered: (k, e) => bot.engine.delivered(k, e), messengers: [failing], log: { info() {}, warn() {}, error() {} } });
    const u = bot.user('offline');
    await u.type(word('human'));
    const [ticket] = await bot.store.tickets.listOpen();
    await desk.claim(ticket!.id, staff, now());
    await expect(desk.reply(ticket!.id, staff, 'もしもし', 'msg-9')).rejects.toThrow();
  });

  it('a claim releases the slot the citizen was holding', async () => {
    const { bot, desk, now } = setup();
    const u = bot.user('holder');
    await toSummary(u);
    await u.type(word('human'));
    const ticket = (await bot.store.tickets.listOpen()).at(-1)!;
    await desk.claim(ticket.id, staff, now());
    expect((await bot.store.bookings.occupancy(SESSION, bot.clock.now())).held.size).toBe(0);
  });
});

describe('an agent booking for a phone caller', () => {
  it('records the agent, and keys one-booking-per-person on the caller phone number', async () => {
    const { bot } = setup();
    const agent = bot.agent('aad-9');
    await toSummary(agent, '14:00');
    expect(await agent.tap(ja('booking.confirm'))).toContain(ja('booking.confirmedTitle'));
    const [booking] = await bot.store.bookings.listSession(SESSION);
    expect(booking).toMatchObject({ userKey: 'phone:09012345678', bookedBy: { id: 'aad-9' }, slotId: '1400' });

    // The same caller (same phone) cannot get a second slot in the session, even via another agent.
    const other = bot.agent('aad-8');
    await toSummary(other, '15:00');
    expect(await other.tap(ja('booking.confirm'))).toContain(ja('booking.alreadyBooked'));
  });
});


describe('a slow staff channel', () => {
  it("does not hold the citizen's answer: the card is recorded when it arrives", async () => {
    const { notifier } = recordingNotifier();
    let post: (card: { conversationId: string; activityId: string }) => void = () => undefined;
    const slow = { ...notifier, ticketOpened: () => new Promise<{ conversationId: string; activityId: string }>((resolve) => (post = resolve)) };
    const bot = createBot({ notifier: slow });
    const u = bot.user('impatient');
    vi.useFakeTimers({ toFake: ['setTimeout'] });
    const answer = u.type(word('human'));
    await vi.advanceTimersByTimeAsync(3_000);
    vi.useRealTimers();
    expect(await answer).toMatch(like('handoff.requested'));
    const [ticket] = await bot.store.tickets.listOpen();
    expect(ticket!.card).toBeUndefined();
    post({ conversationId: 'staff', activityId: 'late-card' });
    await vi.waitFor(async () => expect((await bot.store.tickets.get(ticket!.id))?.card).toEqual({ conversationId: 'staff', activityId: 'late-card' }));
  });
});

describe('staff cancelling a booking by its reference', async () => {
  // Imported here so that this block only appends to the file.
  const { createLogger, pseudonym } = await import('../../src/log.ts');

  function deskWithLogs() {
    const { notifier } = recordingNotifier();
    const bot = createBot({ notifier });
    const { messenger, pushed } = inbox();
    const logs: string[] = [];
    const desk = new StaffDeskService({ store: bot.store, catalog: bot.catalog, notifier, runTurn: (r) => bot.engine.run(r), delivered: (k, e) => bot.engine.delivered(k, e), messengers: [messenger], log: createLogger('info', (l) => logs.push(l)) });
    return { bot, desk, pushed, logs, now: () => DateTime.fromMillis(bot.clock.now()) };
  }

  it("cancels a citizen's booking whoever holds it, without messaging them, and logs no personal data", async () => {
    const { bot, desk, pushed, logs, now } = deskWithLogs();
    const citizen = bot.user('cancelled-by-office');
    await toSummary(citizen, '10:00');
    await citizen.tap(ja('booking.confirm'));
    const [booking] = await bot.store.bookings.listSession(SESSION);
    expect(booking?.userKey).toBe(citizen.key);

    expect(await desk.findBooking(` ${booking!.id.toLowerCase()} `, 'aad-staff', now())).toMatchObject({ booking: { id: booking!.id }, session: { id: SESSION, date: FIRST.date } });
    expect(await desk.cancelBooking(booking!.id, staff, now())).toMatchObject({ id: booking!.id, slotId: '1000' });
    expect(await bot.store.bookings.listSession(SESSION)).toEqual([]);
    expect(pushed).toEqual([]);
    const line = logs.find((l) => l.includes('booking.cancelled_by_staff'));
    expect(line).toContain(booking!.id);
    expect(line).toContain(pseudonym(staff.id));
    for (const personal of ['川崎', '花子', '09012345678', 'hanako@example.jp', citizen.key, staff.name]) expect(logs.join('\n')).not.toContain(personal);

    // Done once: a second cancel, or an unknown reference, finds nothing.
    expect(await desk.cancelBooking(booking!.id, staff, now())).toBeNull();
    expect(await desk.cancelBooking('ZZZ-9999', staff, now())).toBeNull();
  });

  it('leaves bookings of sessions that have taken place alone', async () => {
    const { bot, desk, now } = deskWithLogs();
    const agent = bot.agent('aad-7');
    await toSummary(agent, '11:00');
    await agent.tap(ja('booking.confirm'));
    const [booking] = await bot.store.bookings.listSession(SESSION);
    expect(booking?.userKey).toBe('phone:09012345678');
    bot.clock.set('2026-12-09T09:00:00+09:00'); // the day after the session
    expect(await desk.findBooking(booking!.id, 'aad-staff', now())).toBeNull();
    expect(await desk.cancelBooking(booking!.id, staff, now())).toBeNull();
    expect(await bot.store.bookings.listSession(SESSION)).toHaveLength(1);
  });
});

describe('tickets per user per hour (TICKETS_PER_HOUR)', () => {
  const budget = loadConfig({}).limits.tickets.points;

  it('opens only the budget of new tickets, then gives the phone; an urgent message still opens one', async () => {
    const { bot, events, now } = setup();
    const u = bot.user('many-requests');
    const refused: string[] = [];
    for (let i = 0; i < 200; i++) {
      const said = await u.type('担当者と話したい');
      // Closed at once, so that the next request is a new ticket rather than the waiting one.
      const active = await bot.store.tickets.activeFor(u.key);
      if (active) await bot.store.tickets.close(active.id, 'citizen', now().toUTC().toISO()!);
      else refused.push(said);
    }
    const mine = (await bot.store.tickets.listAll()).filter((t) => t.userKey === u.key);
    expect(mine).toHaveLength(budget);
    expect(events.filter((e) => e.kind === 'opened')).toHaveLength(budget);
    expect(refused).toHaveLength(200 - budget);
    for (const said of refused) expect(said).toMatch(like('limit.tickets', { phone: OFFICE }));
    // A question passed with the citizen's yes is refused the same way, with the contact center's phone.
    await u.type('道路に穴があいていて危ないです');
    expect(await u.tap(ja('inquiry.consentYes'))).toMatch(like('limit.tickets', { phone: TEST_BRAIN.kb.desk.phone }));
    expect(await bot.store.tickets.listOpen()).toEqual([]);

    await u.type('隣の家から煙が出てる');
    expect(u.last[0]).toEqual({ kind: 'text', text: ja('urgent.fire') });
    expect(await bot.store.tickets.listOpen()).toEqual([expect.objectContaining({ userKey: u.key, reason: 'urgent', priority: 'high' })]);
  });
});

describe('a staff message as the citizen reads it', () => {
  /** A citizen in `locale` talking with staff, and every delivery of what staff said, as replies. */
  async function talking(locale: Locale) {
    const { notifier } = recordingNotifier();
    const bot = createBot({ notifier });
    const deliveries: Reply[][] = [];
    const messenger: CitizenMessenger = { handles: () => true, deliver: async (_key, replies) => void deliveries.push(replies) };
    const desk = new StaffDeskService({ store: bot.store, catalog: bot.catalog, notifier, runTurn: (r) => bot.engine.run(r), delivered: (k, e) => bot.engine.delivered(k, e), messengers: [messenger], log: { info() {}, warn() {}, error() {} } });
    const u = bot.user(`speaks-${locale}`);
    await bot.store.conversations.save(u.key, 0, freshState(locale, bot.clock.now()), 3_600_000);
    await u.send({ kind: 'action', data: encodeAction({ a: 'human' }) });
    const [ticket] = await bot.store.tickets.listOpen();
    await desk.claim(ticket!.id, staff, DateTime.fromMillis(bot.clock.now()));
    const t = translator(locale);
    let seq = 0;
    const say = async (text: string) => {
      const relayed = await desk.reply(ticket!.id, staff, text, `msg-${++seq}`);
      return { relayed, replies: deliveries.at(-1)! };
    };
    return { say, t };
  }

  it('a long message goes as several texts within a chat text, each labelled with its place, the whole of it in order, then the End button', async () => {
    const { say, t } = await talking('ja');
    const paragraph = `${'ご相談の件について、確認した内容をお知らせします。'.repeat(40)}👨‍👩‍👧🇯🇵`;
    const message = Array.from({ length: 6 }, () => paragraph).join('\n\n');
    const { relayed, replies } = await say(message);
    expect(relayed).toEqual({ sent: true, unsent: '' });
    expect(replies.length).toBeGreaterThan(2);
    expect(replies.length).toBeLessThanOrEqual(5);
    // The words as texts without buttons (a channel may show a text with buttons as a card), then the End button alone.
    expect(replies.at(-1)).toEqual({ kind: 'text', text: '', choices: [expect.objectContaining({ label: t('handoff.endButton') })] });
    const texts = replies.slice(0, -1).map((r) => (r.kind === 'text' && r.choices === undefined ? r.text : 'not a text'));
    const label = (i: number) => t('handoff.staffSaysPart', { part: i + 1, parts: texts.length, text: '' });
    texts.forEach((text, i) => {
      expect(text.length).toBeLessThanOrEqual(5000);
      expect(text.startsWith(label(i))).toBe(true);
    });
    const bodies = texts.map((text, i) => text.slice(label(i).length));
    expect(bodies.join('\n\n')).toBe(message);
  });

  it('a message longer than four texts is cut at a sentence and the desk returns what was left out', async () => {
    const { say } = await talking('ja');
    const sentences = Array.from({ length: 3000 }, (_, i) => `${i}番目の文です。`).join('');
    const { relayed, replies } = await say(sentences);
    expect(replies).toHaveLength(5);
    for (const r of replies) expect(r.kind === 'text' && r.text.length <= 5000).toBe(true);
    const last = replies.at(-2)!;
    expect(relayed.sent && relayed.unsent.length > 0).toBe(true);
    const unsent = relayed.sent ? relayed.unsent : '';
    expect(sentences.endsWith(unsent)).toBe(true);
    expect(unsent).toMatch(/^\d+番目の文です。/);
    expect(last.kind === 'text' && last.text.endsWith('…')).toBe(true);
  });

  it('a citizen who reads another language is told staff wrote in Japanese; one who reads Japanese or easy Japanese is not', async () => {
    const english = await talking('en');
    const said = (await english.say('承知しました。')).replies;
    expect(said).toHaveLength(2);
    expect(said[0]).toMatchObject({ kind: 'text', text: `${en('handoff.staffWroteJapanese')}\n${en('handoff.staffSays', { text: '承知しました。' })}` });
    for (const locale of ['ja', 'easy'] as const) {
      const { say, t } = await talking(locale);
      expect((await say('承知しました。')).replies[0]).toMatchObject({ kind: 'text', text: t('handoff.staffSays', { text: '承知しました。' }) });
    }
  });

  it("every language's label and note fit in the room a text leaves beside a part", () => {
    for (const locale of LOCALES) {
      const t = translator(locale);
      for (const label of [t('handoff.staffSays', { text: '' }), t('handoff.staffSaysPart', { part: 5, parts: 5, text: '' })]) {
        expect(`${t('handoff.staffWroteJapanese')}\n${label}`.length, locale).toBeLessThanOrEqual(5000 - STAFF_PART_MAX);
      }
    }
  });
});
