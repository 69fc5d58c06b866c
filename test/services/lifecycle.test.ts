/**
 * The messages after a booking, as a service: when each is due (quiet hours included), what a
 * job sends and to whom (LINE push for LINE bookings, email for the rest), and what it does
 * not send (a cancelled booking, a citizen who blocked the account, an online booking whose
 * session has no meeting link).
 */
import { fileURLToPath } from 'node:url';
import { DateTime } from 'luxon';
import { describe, expect, it } from 'vitest';
import { type Booking, ZONE } from '../../src/domain.ts';
import { type JobName, MemoryJobQueue } from '../../src/jobs/queue.ts';
import { createLogger } from '../../src/log.ts';
import type { MailMessage, Mailer } from '../../src/mail/mailer.ts';
import { BookingService } from '../../src/services/booking.ts';
import { slotsOf } from '../../src/services/calendar.ts';
import { type Catalog, loadCatalog } from '../../src/services/catalog.ts';
import { BookingLifecycle, jobId, outsideQuietHours } from '../../src/services/lifecycle.ts';
import { type CitizenMessenger, NO_STAFF_NOTIFIER, type StaffAlert } from '../../src/services/staff.ts';
import { createMemoryStore } from '../../src/stores/memory.ts';
import type { Reply } from '../../src/turn.ts';
import { SESSION_ID } from '../support/lineStub.ts';
import { makeBooking } from '../support/stores.ts';

const fixture = loadCatalog(fileURLToPath(new URL('../fixtures/catalog.json', import.meta.url)));
const QUIET = { from: '21:00', to: '08:00' };
const jst = (iso: string) => DateTime.fromISO(iso, { zone: ZONE });
const iso = (ms: number) => DateTime.fromMillis(ms, { zone: ZONE }).toFormat("yyyy-MM-dd'T'HH:mm");

function setup(opts: { catalog?: Catalog; dayBeforeAt?: string; minutesBefore?: number; now?: () => number } = {}) {
  const logs: string[] = [];
  const log = createLogger('info', (l) => logs.push(l));
  const store = createMemoryStore();
  const mails: { message: MailMessage; id: string }[] = [];
  const mailer: Mailer = { configured: true, send: async (message, id) => void mails.push({ message, id }), close: async () => undefined };
  const pushes: { userKey: string; replies: Reply[]; key: string }[] = [];
  const line: CitizenMessenger = { handles: (k) => k.startsWith('line:'), deliver: async (userKey, replies, key) => void pushes.push({ userKey, replies, key }) };
  const catalog = opts.catalog ?? fixture;
  const jobs = new MemoryJobQueue({ now: Date.now, log });
  const alerts: StaffAlert[] = [];
  const notifier = { ...NO_STAFF_NOTIFIER, alert: async (alert: StaffAlert) => void alerts.push(alert) };
  const lifecycle = new BookingLifecycle({
    catalog,
    jobs,
    bookings: store.bookings,
    optOuts: store.optOuts,
    meetingLinks: store.meetingLinks,
    mailer,
    line,
    staff: { notifier, dedupe: store.dedupe },
    ...(opts.now ? { now: opts.now } : {}),
    times: { quiet: QUIET, dayBeforeAt: opts.dayBeforeAt ?? '10:00', dayOfMinutesBefore: opts.minutesBefore ?? 60, offerMinutes: 60 },
    log,
  });
  const book = async (over: Partial<Booking> = {}) => {
    const booking = makeBooking({ sessionId: SESSION_ID, slotId: '0930', userKey: 'line:U1', ...over });
    expect((await store.bookings.confirm(booking, Date.parse('2026-11-24T01:00:00Z'))).ok).toBe(true);
    return booking;
  };
  const run = (name: JobName, b: Booking) => lifecycle.handle(name, { sessionId: b.sessionId, bookingId: b.id }, jobId(name, b.sessionId, b.id));
  return { lifecycle, jobs, store, mails, pushes, logs, alerts, book, run };
}

describe('when the messages are due', () => {
  it('confirmation at once, the invitation the day before at 10:00, the reminder an hour before, the no-show check 10 minutes after the start', () => {
    const { lifecycle } = setup();
    const plan = lifecycle.schedule(makeBooking({ sessionId: SESSION_ID, slotId: '0930' }), jst('2026-11-24T10:00'));
    expect(plan.map((m) => [m.name, iso(m.at)])).toEqual([
      ['mail.confirmation', '2026-11-24T10:00'],
      ['remind.dayBefore', '2026-12-07T10:00'],
      ['remind.dayOf', '2026-12-08T08:30'],
      ['attendance.check', '2026-12-08T09:40'],
    ]);
  });

  it('moves what falls in the quiet hours to their end, never past the appointment', () => {
    // The invitation set for 22:00 the day before comes at 08:00 on the day; a reminder 2 hours
    // before 09:30 (07:30) at 08:00.
    const { lifecycle } = setup({ dayBeforeAt: '22:00', minutesBefore: 120 });
    const plan = lifecycle.schedule(makeBooking({ sessionId: SESSION_ID, slotId: '0930' }), jst('2026-11-24T10:00'));
    expect(plan.map((m) => [m.name, iso(m.at)])).toEqual([
      ['mail.confirmation', '2026-11-24T10:00'],
      ['remind.dayBefore', '2026-12-08T08:00'],
      ['remind.dayOf', '2026-12-08T08:00'],
      ['attendance.check', '2026-12-08T09:40'],
    ]);
    const start = jst('2026-12-08T07:30');
    // When the end of the quiet hours is past the appointment, the message goes just before they begin.
    expect(iso(outsideQuietHours(jst('2026-12-08T07:00'), QUIET, start).toMillis())).toBe('2026-12-07T20:59');
    expect(iso(outsideQuietHours(jst('2026-12-07T23:30'), QUIET, start).toMillis())).toBe('2026-12-07T20:59');
    expect(iso(outsideQuietHours(jst('2026-12-07T20:00'), QUIET, start).toMillis())).toBe('2026-12-07T20:00');
  });

  it('a booking made late sends what is already due at once, and nothing that would come after the start', () => {
    const { lifecycle } = setup();
    const plan = lifecycle.schedule(makeBooking({ sessionId: SESSION_ID, slotId: '0930' }), jst('2026-12-08T09:00'));
    expect(plan.map((m) => [m.name, iso(m.at)])).toEqual([
      ['mail.confirmation', '2026-12-08T09:00'],
      ['remind.dayBefore', '2026-12-08T09:00'],
      ['remind.dayOf', '2026-12-08T09:00'],
      ['attendance.check', '2026-12-08T09:40'],
    ]);
    expect(lifecycle.schedule(makeBooking({ sessionId: SESSION_ID, slotId: '0930' }), jst('2026-12-08T09:30')).map((m) => m.name)).toEqual(['mail.confirmation', 'attendance.check']);
  });

  it('schedules the three jobs on booking and drops them on cancel', async () => {
    const { lifecycle, jobs } = setup();
    const booking = makeBooking({ sessionId: SESSION_ID, slotId: '0930' });
    await lifecycle.booked(booking, jst('2026-11-24T10:00'));
    expect(iso((await jobs.dueAt(jobId('remind.dayBefore', SESSION_ID, booking.id)))!)).toBe('2026-12-07T10:00');
    await lifecycle.cancelled(SESSION_ID, booking.id);
    for (const name of ['mail.confirmation', 'remind.dayBefore', 'remind.dayOf'] as const) {
      expect(await jobs.dueAt(jobId(name, SESSION_ID, booking.id))).toBeUndefined();
    }
  });
});

describe('the waitlist', () => {
  it('offers a freed time to the first person waiting, held until a stated time; unbooked, it goes to the next', async () => {
    let now = Date.parse('2026-11-24T01:00:00Z'); // 10:00 JST
    const { lifecycle, store, pushes, jobs } = setup({ now: () => now });
    // Every time of the session booked but one, which is cancelled below.
    const slots = slotsOf(fixture.services[0]!);
    for (const [i, slot] of slots.entries()) {
      await store.bookings.confirm(makeBooking({ id: `B${String(i).padStart(2, '0')}-2345`, sessionId: SESSION_ID, slotId: slot.id, userKey: `line:booked${i}` }), now);
    }
    await store.bookings.joinWaitlist(SESSION_ID, 'line:first', now);
    await store.bookings.joinWaitlist(SESSION_ID, 'line:second', now + 1);
    await store.bookings.cancel(SESSION_ID, 'B03-2345', 'line:booked3');
    await lifecycle.cancelled(SESSION_ID, 'B03-2345');
    const freed = slots[3]!;
    expect(pushes.map((p) => p.userKey)).toEqual(['line:first']);
    expect(JSON.stringify(pushes[0]!.replies)).toContain('11:00'); // held until 10:00 + 60 minutes
    expect((await store.bookings.occupancy(SESSION_ID, now)).held.get(freed.id)).toBe('line:first');
    const lapse = `waitlist.lapse.${SESSION_ID}.${freed.id}.${now + 3_600_000}`;
    expect(await jobs.dueAt(lapse)).toBe(now + 3_601_000);
    // The first person lets it lapse: at the job's time, the next person is offered the same time.
    now += 3_601_000;
    await lifecycle.handle('waitlist.lapse', { sessionId: SESSION_ID, bookingId: freed.id }, lapse);
    expect(pushes.map((p) => p.userKey)).toEqual(['line:first', 'line:second']);
    expect((await store.bookings.occupancy(SESSION_ID, now)).held.get(freed.id)).toBe('line:second');
    expect(await store.bookings.waitlistPlace(SESSION_ID, 'line:second')).toBeUndefined();

    // The second person books it through the booking rules: the held time is free to them only.
    const rules = new BookingService(store.bookings, store.moves, fixture, 10);
    const at = DateTime.fromMillis(now, { zone: ZONE });
    expect((await rules.openSessions(fixture.services[0]!.id, at, 'line:second')).find((a) => a.session.id === SESSION_ID)?.free).toBe(1);
    expect((await rules.openSessions(fixture.services[0]!.id, at, 'line:someone')).find((a) => a.session.id === SESSION_ID)?.free).toBe(0);
    expect((await rules.freeSlots(SESSION_ID, 'line:someone', at)).map((x) => x.id)).toEqual([]);
    expect((await rules.freeSlots(SESSION_ID, 'line:second', at)).map((x) => x.id)).toEqual([freed.id]);
    const draft = { ...makeBooking({ sessionId: SESSION_ID, slotId: freed.id, userKey: 'line:second' }) };
    const { id: _id, createdAt: _c, ...fields } = draft;
    expect((await rules.book(fields, at)).ok).toBe(true);
  });

  it('a declined offer goes to the next person at once', async () => {
    const now = Date.parse('2026-11-24T01:00:00Z');
    const { lifecycle, store, pushes } = setup({ now: () => now });
    const slots = slotsOf(fixture.services[0]!);
    for (const [i, slot] of slots.entries()) {
      await store.bookings.confirm(makeBooking({ id: `D${String(i).padStart(2, '0')}-2345`, sessionId: SESSION_ID, slotId: slot.id, userKey: `line:taken${i}` }), now);
    }
    await store.bookings.joinWaitlist(SESSION_ID, 'line:one', now);
    await store.bookings.joinWaitlist(SESSION_ID, 'line:two', now + 1);
    await store.bookings.cancel(SESSION_ID, 'D05-2345', 'line:taken5');
    await lifecycle.cancelled(SESSION_ID, 'D05-2345');
    const rules = new BookingService(store.bookings, store.moves, fixture, 10, 30, 20, { events: lifecycle, log: createLogger('silent') });
    expect(await rules.declineOffers('line:one', DateTime.fromMillis(now, { zone: ZONE }))).toBe(1);
    expect(pushes.map((p) => p.userKey)).toEqual(['line:one', 'line:two']);
    expect((await store.bookings.occupancy(SESSION_ID, now)).held.get(slots[5]!.id)).toBe('line:two');
    // Someone with nothing held declines nothing.
    expect(await rules.declineOffers('line:nobody', DateTime.fromMillis(now, { zone: ZONE }))).toBe(0);
  });
});

describe('a booking moved to another time', () => {
  it('gets its reminders for the new time; the confirmation is not sent again', async () => {
    const { lifecycle, jobs } = setup();
    const booking = makeBooking({ sessionId: SESSION_ID, slotId: '0930' });
    await lifecycle.booked(booking, jst('2026-11-24T10:00'));
    await lifecycle.moved({ ...booking, slotId: '1300' }, jst('2026-11-25T10:00'));
    expect(iso((await jobs.dueAt(jobId('remind.dayOf', SESSION_ID, booking.id)))!)).toBe('2026-12-08T12:00');
    expect(iso((await jobs.dueAt(jobId('remind.dayBefore', SESSION_ID, booking.id)))!)).toBe('2026-12-07T10:00');
    expect(iso((await jobs.dueAt(jobId('mail.confirmation', SESSION_ID, booking.id)))!)).toBe('2026-11-24T10:00');
  });
});

describe('attendance and the counts staff see', () => {
  it('records a no-show 10 minutes after the start unless staff marked the citizen; counts cancels, changes and invitations', async () => {
    const { store, book, run, lifecycle } = setup();
    const came = await book({ id: 'CAM-2345', slotId: '0930' });
    const absent = await book({ id: 'ABS-2345', slotId: '1000', userKey: 'line:U2' });
    await store.bookings.markAttendance(SESSION_ID, came.id, 'attended', false);
    await run('attendance.check', came);
    await run('attendance.check', absent);
    expect(await store.bookings.attendance(SESSION_ID)).toEqual(new Map([[came.id, 'attended'], [absent.id, 'no_show']]));
    await run('remind.dayBefore', came);
    expect([...(await store.bookings.invited(SESSION_ID)).keys()]).toEqual([came.id]);
    await lifecycle.moved({ ...came, slotId: '1100' }, jst('2026-11-25T10:00'));
    await lifecycle.cancelled(SESSION_ID, absent.id);
    expect(await store.bookings.counters(SESSION_ID)).toEqual({ cancelled: 1, changed: 1, invitations: 1, waitlisted: 0 });
  });
});

describe('a message that failed every attempt', () => {
  it('tells staff, with the reference, to call the citizen', async () => {
    const { lifecycle, alerts } = setup();
    lifecycle.gaveUp('remind.dayBefore', { sessionId: SESSION_ID, bookingId: 'K7M-4QXP' });
    lifecycle.gaveUp('attendance.check', { sessionId: SESSION_ID, bookingId: 'K7M-4QXP' });
    await new Promise((r) => setTimeout(r, 10));
    expect(alerts).toEqual([{ kind: 'message_failed', sessionId: SESSION_ID, date: '2026-12-08', reference: 'K7M-4QXP' }]);
  });
});

describe('what a job sends', () => {
  it('a LINE booking: the confirmation by email, the reminders by LINE push keyed by the job', async () => {
    const { mails, pushes, book, run } = setup();
    const booking = await book();
    await run('mail.confirmation', booking);
    expect(mails.map((m) => [m.message.to, m.id])).toEqual([[booking.contact.email, jobId('mail.confirmation', SESSION_ID, booking.id)]]);
    expect(mails[0]!.message.attachments?.[0]?.filename).toBe('invite.ics');
    await run('remind.dayBefore', booking);
    await run('remind.dayOf', booking);
    expect(pushes.map((p) => [p.userKey, p.key])).toEqual([
      ['line:U1', jobId('remind.dayBefore', SESSION_ID, booking.id)],
      ['line:U1', jobId('remind.dayOf', SESSION_ID, booking.id)],
    ]);
    expect(pushes[0]!.replies[0]).toMatchObject({ kind: 'text', text: expect.stringContaining(booking.id) });
    expect(mails).toHaveLength(1);
  });

  it('a booking an agent made for a phone caller gets its reminders by email', async () => {
    const { mails, pushes, book, run } = setup();
    const booking = await book({ userKey: 'phone:09012345678', bookedBy: { id: 'a1', name: 'Agent' } });
    await run('remind.dayBefore', booking);
    expect(pushes).toHaveLength(0);
    expect(mails.map((m) => m.id)).toEqual([jobId('remind.dayBefore', SESSION_ID, booking.id)]);
  });

  it('sends nothing for a booking cancelled since, nor to a citizen who blocked the account', async () => {
    const { store, mails, pushes, book, run, logs } = setup();
    const gone = makeBooking({ id: 'GON-2345', sessionId: SESSION_ID });
    await run('remind.dayOf', gone);
    const blocked = await book({ userKey: 'line:Ublocked' });
    await store.optOuts.add('line:Ublocked');
    await run('remind.dayBefore', blocked);
    expect([...mails, ...pushes]).toHaveLength(0);
    expect(logs.some((l) => l.includes('lifecycle.nothing_to_send'))).toBe(true);
    expect(logs.some((l) => l.includes('lifecycle.opted_out'))).toBe(true);
    // Following again: the next reminder comes.
    await store.optOuts.remove('line:Ublocked');
    await run('remind.dayOf', blocked);
    expect(pushes).toHaveLength(1);
  });

  it('sends nothing, and does not retry, for a session taken out of the catalog since', async () => {
    const { book, store } = setup();
    const booking = await book();
    const without = setup({ catalog: { ...fixture, sessions: fixture.sessions.filter((s) => s.id !== SESSION_ID) } });
    expect((await without.store.bookings.confirm(booking, Date.parse('2026-11-24T01:00:00Z'))).ok).toBe(true);
    await expect(without.run('remind.dayBefore', booking)).resolves.toBeUndefined();
    expect([...without.mails, ...without.pushes]).toHaveLength(0);
    expect(without.logs.some((l) => l.includes('lifecycle.session_unknown'))).toBe(true);
    expect(await store.bookings.get(SESSION_ID, booking.id)).not.toBeNull();
  });

  it('an online booking with no meeting link: no invitation, one alert to staff, and the job fails to be tried again', async () => {
    const { pushes, book, run, logs, alerts } = setup();
    const booking = await book({ mode: 'online' });
    await expect(run('remind.dayBefore', booking)).rejects.toThrow();
    // The queue's retry: still nothing sent, and no second alert.
    await expect(run('remind.dayBefore', booking)).rejects.toThrow();
    expect(pushes).toHaveLength(0);
    expect(alerts).toEqual([{ kind: 'meeting_link_missing', sessionId: SESSION_ID, date: '2026-12-08', reference: booking.id }]);
    expect(logs.some((l) => l.includes('lifecycle.meeting_link_missing') && l.includes(booking.id))).toBe(true);
    // With the link staff set in Teams, the invitation carries it.
    const { store: linkStore, book: linkBook, run: linkRun, pushes: linkPushes } = setup();
    await linkStore.meetingLinks.set(SESSION_ID, 'https://kawasaki.webex.example/meet/set-in-teams');
    await linkRun('remind.dayBefore', await linkBook({ mode: 'online' }));
    expect(JSON.stringify(linkPushes[0]!.replies)).toContain('set-in-teams');
    // With the link in the catalog, the invitation carries it.
    const url = 'https://kawasaki.webex.example/meet/1208';
    const withLink = setup({ catalog: { ...fixture, sessions: fixture.sessions.map((s) => (s.id === SESSION_ID ? { ...s, meetingUrl: url } : s)) } });
    const again = await withLink.book({ mode: 'online' });
    await withLink.run('remind.dayBefore', again);
    expect(JSON.stringify(withLink.pushes[0]!.replies)).toContain(url);
  });
});
