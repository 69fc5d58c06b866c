/**
 * What happens after a booking: the confirmation email at once, the invitation the day before
 * and a reminder on the day, each a job of the queue (`src/jobs`), scheduled when the booking
 * is written and dropped when it is cancelled.
 *
 * - The citizen booked on LINE: the reminders come by LINE push (with a retry key from the
 *   job id, so a job run twice is shown once), unless they blocked the account. A booking an
 *   agent made for a phone caller, or one from the web chat, gets them by email.
 * - Quiet hours (default 21:00-08:00 JST): a reminder due inside them moves to their end, or
 *   to their start when the end would be past the appointment. The confirmation answers the
 *   citizen's own action and goes at once.
 * - An online booking's invitation and reminder need the session's meeting link; without one
 *   nothing empty is sent: the job fails (and is tried again, so a link added in the catalog
 *   is picked up) and says so in the log.
 */
import type { DateTime } from 'luxon';
import { DateTime as Time } from 'luxon';
import { type Booking, type ClockTime, LOCALE_TAGS, type Locale, ZONE } from '../domain.ts';
import type { JobData, JobName, JobQueue } from '../jobs/queue.ts';
import { errorFields, type Logger } from '../log.ts';
import { type BookingMailKind, composeBookingMail, MissingMeetingLinkError } from '../mail/compose.ts';
import type { Mailer } from '../mail/mailer.ts';
import type { BookingStore, DedupeStore, MeetingLinkStore, OptOutStore } from '../stores/ports.ts';
import { atClock, clockMinutes, isBookingOpen, slotStart, slotsOf } from './calendar.ts';
import { translator } from './index.ts';
import { type Catalog, serviceById, sessionById } from './catalog.ts';
import type { BookingEvents } from './ports.ts';
import type { CitizenMessenger, StaffNotifier } from './staff.ts';

/** How long an alert is remembered, so that the retries of one message raise it once. */
const ALERT_MEMORY_MS = 3 * 24 * 3_600_000;

export interface LifecycleTimes {
  /** Quiet hours (JST): no reminder is sent from `from` to `to` (across midnight). */
  quiet: { from: ClockTime; to: ClockTime };
  /** When the day-before invitation goes (JST, the day before the session). */
  dayBeforeAt: ClockTime;
  /** How long before the appointment the reminder of the day goes. */
  dayOfMinutesBefore: number;
  /** How long a freed time is held for the first person on the waitlist. */
  offerMinutes: number;
}

export interface LifecycleOptions {
  catalog: Catalog;
  jobs: JobQueue;
  bookings: BookingStore;
  optOuts: OptOutStore;
  /** Links staff set in Teams; the catalog's `meetingUrl` otherwise. */
  meetingLinks?: MeetingLinkStore;
  mailer: Mailer;
  /** Reaches LINE citizens by push (the reminders); absent: LINE bookings get none. */
  line?: CitizenMessenger;
  /** Where staff hear of what they must fix (a missing meeting link), once per message. */
  staff?: { notifier: StaffNotifier; dedupe: DedupeStore };
  times: LifecycleTimes;
  log: Logger;
  /** The app's clock (ms), for the times recorded (default `Date.now`). */
  now?: () => number;
  /** The language a citizen speaks with the bot (for the waitlist's offer); default Japanese. */
  localeOf?: (userKey: string) => Promise<Locale>;
}

const KINDS: Record<Exclude<JobName, 'attendance.check' | 'waitlist.lapse'>, BookingMailKind> = {
  'mail.confirmation': 'confirmation',
  'remind.dayBefore': 'dayBefore',
  'remind.dayOf': 'dayOf',
};
const ALL_JOBS: JobName[] = ['mail.confirmation', 'remind.dayBefore', 'remind.dayOf', 'attendance.check'];
/** A booking nobody marked this long after its start is recorded as a no-show (the office's rule). */
const NO_SHOW_AFTER_MINUTES = 10;

/** A job's id: the message and the booking (references are unique per session). */
export function jobId(name: JobName, sessionId: string, bookingId: string): string {
  return `${name}.${sessionId}.${bookingId}`;
}

/** `at`, or the nearest edge of the quiet hours when it falls inside them; never past `latest`. */
export function outsideQuietHours(at: DateTime, quiet: LifecycleTimes['quiet'], latest: DateTime): DateTime {
  const local = at.setZone(ZONE);
  const minutes = local.hour * 60 + local.minute;
  const [from, to] = [clockMinutes(quiet.from), clockMinutes(quiet.to)];
  const inside = from > to ? minutes >= from || minutes < to : minutes >= from && minutes < to;
  if (!inside) return at;
  const day = local.toISODate()!;
  // The end of this quiet spell: tomorrow's `to` when it began this evening, else today's.
  const end = from > to && minutes >= from ? atClock(local.plus({ days: 1 }).toISODate()!, quiet.to) : atClock(day, quiet.to);
  if (end <= latest) return end;
  // Its start: this evening's `from`, or last evening's when past midnight.
  return from > to && minutes < to ? atClock(local.minus({ days: 1 }).toISODate()!, quiet.from).minus({ minutes: 1 }) : atClock(day, quiet.from).minus({ minutes: 1 });
}

export class BookingLifecycle implements BookingEvents {
  private readonly opts: LifecycleOptions;

  constructor(opts: LifecycleOptions) {
    this.opts = opts;
  }

  /** When each message of a booking is due (ms), for scheduling and for staff. */
  schedule(booking: Booking, now: DateTime): { name: JobName; at: number }[] {
    const { catalog, times } = this.opts;
    const session = sessionById(catalog, booking.sessionId);
    const service = session && serviceById(catalog, session.serviceId);
    const slot = service && slotsOf(service).find((s) => s.id === booking.slotId);
    if (!session || !slot) return [{ name: 'mail.confirmation', at: now.toMillis() }];
    const start = slotStart(session, slot);
    const dayBefore = atClock(start.minus({ days: 1 }).toISODate()!, times.dayBeforeAt);
    const dayOf = start.minus({ minutes: times.dayOfMinutesBefore });
    const when = (at: DateTime) => outsideQuietHours(at < now ? now : at, times.quiet, start).toMillis();
    const messages: { name: JobName; at: number }[] = [
      { name: 'mail.confirmation', at: now.toMillis() },
      { name: 'remind.dayBefore', at: when(dayBefore) },
      { name: 'remind.dayOf', at: when(dayOf) },
    ];
    // A reminder that could only come after the appointment has begun is not sent at all.
    const sent = messages.filter((m) => m.name === 'mail.confirmation' || m.at < start.toMillis());
    return [...sent, { name: 'attendance.check', at: start.plus({ minutes: NO_SHOW_AFTER_MINUTES }).toMillis() }];
  }

  async booked(booking: Booking, now: DateTime): Promise<void> {
    await this.enqueue(booking, now, ALL_JOBS);
  }

  /** Schedules those of the booking's messages named in `names`, at their times. */
  private async enqueue(booking: Booking, now: DateTime, names: JobName[]): Promise<void> {
    const data: JobData = { sessionId: booking.sessionId, bookingId: booking.id };
    const due = this.schedule(booking, now).filter((m) => names.includes(m.name));
    await Promise.all(due.map((m) => this.opts.jobs.schedule(jobId(m.name, booking.sessionId, booking.id), m.name, data, m.at)));
  }

  /** Drops those of a booking's messages named in `names` that have not gone yet. */
  private async drop(sessionId: string, bookingId: string, names: JobName[]): Promise<void> {
    await Promise.all(names.map((name) => this.opts.jobs.cancel(jobId(name, sessionId, bookingId))));
  }

  /**
   * Another time. Within the session the reminders go again for it (the confirmation stays as
   * it was sent); to another session the old booking's messages go, and the new one (a new
   * reference) gets all of its own, the confirmation included. Counted as a change.
   */
  async moved(booking: Booking, now: DateTime, from?: { sessionId: string; bookingId: string }): Promise<void> {
    const old = from ?? { sessionId: booking.sessionId, bookingId: booking.id };
    const again = from ? ALL_JOBS : ALL_JOBS.filter((name) => name !== 'mail.confirmation');
    await this.drop(old.sessionId, old.bookingId, again);
    await this.enqueue(booking, now, again);
    await this.opts.bookings.count(old.sessionId, 'changed');
    // The time (or, across sessions, the booking) left behind is free for the waitlist.
    await this.offerFreed(old.sessionId, now);
  }

  async cancelled(sessionId: string, bookingId: string): Promise<void> {
    await this.drop(sessionId, bookingId, ALL_JOBS);
    await this.opts.bookings.count(sessionId, 'cancelled');
    await this.offerFreed(sessionId, this.nowJst());
  }

  async released(sessionId: string, now: DateTime): Promise<void> {
    await this.offerFreed(sessionId, now);
  }

  private nowJst(): DateTime {
    return Time.fromMillis((this.opts.now ?? Date.now)(), { zone: ZONE });
  }

  /**
   * A time of the session is free: the first person on its waitlist (on LINE, not blocked, not
   * booked there) gets it held for `offerMinutes` and is told until when; when the hold lapses
   * unbooked, a job offers it to the next one. Nothing while booking for the session is closed.
   */
  async offerFreed(sessionId: string, now: DateTime): Promise<void> {
    const { catalog, bookings, line, optOuts, jobs, times, log } = this.opts;
    const session = sessionById(catalog, sessionId);
    const service = session && serviceById(catalog, session.serviceId);
    if (!session || !service || !line || !isBookingOpen(session, service, now)) return;
    const offerMs = times.offerMinutes * 60_000;
    for (;;) {
      const { booked, held } = await bookings.occupancy(sessionId, now.toMillis());
      const free = slotsOf(service).find((s) => !booked.has(s.id) && !held.has(s.id));
      if (!free) return;
      const userKey = await bookings.nextWaiting(sessionId);
      if (!userKey) return;
      if (!line.handles(userKey) || (await optOuts.has(userKey))) continue;
      if (!(await bookings.hold(sessionId, free.id, userKey, now.toMillis(), offerMs, offerMs)).ok) continue;
      const until = now.plus({ milliseconds: offerMs });
      const locale = (await this.opts.localeOf?.(userKey)) ?? 'ja';
      const t = translator(locale);
      const date = atClock(session.date, '00:00').setLocale(LOCALE_TAGS[locale]).toFormat(t('mail.format.date'));
      const text = t('waitlist.offer', { date, time: free.start, until: until.setZone(ZONE).toFormat('H:mm') });
      // The lapse first: should the push fail, the hold still passes on to the next person.
      await jobs.schedule(`waitlist.lapse.${sessionId}.${free.id}.${until.toMillis()}`, 'waitlist.lapse', { sessionId, bookingId: free.id }, until.toMillis() + 1_000);
      await line.deliver(userKey, [{ kind: 'text', text }], `waitlist.offer.${sessionId}.${free.id}.${now.toMillis()}`);
      log.info('waitlist.offered', { session: sessionId, slot: free.id });
      return;
    }
  }

  /** Runs one job: sends its message, or nothing when the booking is gone. */
  async handle(name: JobName, data: JobData, id: string): Promise<void> {
    const { bookings, catalog, mailer, line, optOuts, log } = this.opts;
    // The hold offered to someone on the waitlist ran out unbooked: the next one's turn.
    if (name === 'waitlist.lapse') {
      await this.offerFreed(data.sessionId, this.nowJst());
      return;
    }
    const booking = await bookings.get(data.sessionId, data.bookingId);
    // Cancelled, moved or erased since: nothing to say.
    if (!booking) {
      log.info('lifecycle.nothing_to_send', { job: name });
      return;
    }
    const session = sessionById(catalog, booking.sessionId);
    // A session taken out of the catalog since: nothing this bot can say about it.
    if (!session) {
      log.warn('lifecycle.session_unknown', { job: name, session: booking.sessionId });
      return;
    }
    if (name === 'attendance.check') {
      // Nobody marked them as come by now: recorded as a no-show (a staff mark, earlier or later, wins).
      if (await bookings.markAttendance(booking.sessionId, booking.id, 'no_show', true)) log.info('lifecycle.no_show', { reference: booking.id });
      return;
    }
    const kind = KINDS[name];
    const meetingLink = (await this.opts.meetingLinks?.get(session.id, booking.slotId)) ?? session.meetingUrl;
    let mail;
    try {
      mail = composeBookingMail(kind, booking, catalog, meetingLink ? { meetingLink } : {});
    } catch (err) {
      // An online reminder needs the link: rather than an empty invitation, nothing, a loud log,
      // and (on the first try only: the job is tried again) an alert in the office's channel.
      if (err instanceof MissingMeetingLinkError) {
        log.error('lifecycle.meeting_link_missing', { session: booking.sessionId, reference: booking.id, job: name });
        const { staff } = this.opts;
        if (staff && (await staff.dedupe.claim(`alert:${id}`, ALERT_MEMORY_MS))) {
          await staff.notifier.alert?.({ kind: 'meeting_link_missing', sessionId: session.id, date: session.date, reference: booking.id });
        }
      }
      throw err;
    }
    if (kind !== 'confirmation' && line?.handles(booking.userKey)) {
      if (await optOuts.has(booking.userKey)) {
        log.info('lifecycle.opted_out', { job: name });
        return;
      }
      await line.deliver(booking.userKey, [{ kind: 'text', text: `${mail.subject}\n\n${mail.text}` }], id);
      log.info('lifecycle.pushed', { job: name, reference: booking.id });
    } else {
      if (!booking.contact.email) return;
      await mailer.send(mail, id);
    }
    if (kind === 'dayBefore') {
      await bookings.count(booking.sessionId, 'invitations');
      await bookings.markInvited(booking.sessionId, booking.id, (this.opts.now ?? Date.now)());
    }
  }

  /** A message that failed every attempt: staff are told, with the reference, to call the citizen. */
  readonly gaveUp = (name: JobName, data: JobData): void => {
    const { staff, catalog, log } = this.opts;
    const session = sessionById(catalog, data.sessionId);
    if (name === 'attendance.check' || !staff?.notifier.alert || !session) return;
    staff.notifier
      .alert({ kind: 'message_failed', sessionId: session.id, date: session.date, reference: data.bookingId })
      .catch((err) => log.warn('lifecycle.alert_failed', errorFields(err)));
  };

  /** The handler the queue runs; a failure is logged and rethrown for the queue to try again. */
  readonly handler = (name: JobName, data: JobData, id: string): Promise<void> =>
    this.handle(name, data, id).catch((err: unknown) => {
      this.opts.log.warn('lifecycle.job_failed', { job: name, ...errorFields(err) });
      throw err;
    });
}
