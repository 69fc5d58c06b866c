/**
 * Business-day calendar of Kawasaki City offices, in Japan time.
 *
 * Every date here is a JST calendar day held as an ISO string. We never hand a JS `Date`
 * to the holiday data set: it would read the day in the machine's zone, and under TZ=UTC
 * JST midnight of a holiday falls on the previous day (2026-11-03 would look like a working
 * day and the 2026-11-06 session would close a day early).
 */
import holiday_jp from '@holiday-jp/holiday_jp';
import { DateTime } from 'luxon';
import { type BookingWindowRule, type ClockTime, type IsoDate, type OfficeHours, type Service, type Session, type Slot, ZONE } from '../domain.ts';

const ISO_DATE = /^\d{4}-\d{2}-\d{2}$/;
const CLOCK_TIME = /^([01]\d|2[0-3]):([0-5]\d)$/;

// The package types its table with one literal key per holiday; widen it so any string can be looked up.
const HOLIDAYS: Readonly<Record<string, unknown>> = holiday_jp.holidays;

/**
 * Parses a `YYYY-MM-DD` JST calendar day into the start of that day in {@link ZONE}.
 * @throws RangeError if the text is not a real date in that exact form (e.g. `2026-13-40`).
 */
export function parseIsoDate(date: IsoDate): DateTime {
  const dt = ISO_DATE.test(date) ? DateTime.fromISO(date, { zone: ZONE }) : undefined;
  if (!dt?.isValid) throw new RangeError(`not a YYYY-MM-DD date: ${JSON.stringify(date)}`);
  return dt;
}

/** Whether `text` is a real calendar day written `YYYY-MM-DD` (validation without exceptions). */
export function isIsoDate(text: string): boolean {
  return ISO_DATE.test(text) && DateTime.fromISO(text, { zone: ZONE }).isValid;
}

/**
 * The JST calendar day of an instant, whatever zone the DateTime carries, so that "today"
 * is the citizen's day and not the server's.
 */
export function toIsoDate(dt: DateTime): IsoDate {
  // toISODate() is only null for invalid DateTimes, which callers must not pass.
  const iso = dt.setZone(ZONE).toISODate();
  if (iso === null) throw new RangeError('invalid DateTime');
  return iso;
}

/**
 * Minutes since midnight of an `HH:mm` clock time.
 * @throws RangeError if the text is not a 24-hour `HH:mm` time.
 */
export function clockMinutes(time: ClockTime): number {
  const m = CLOCK_TIME.exec(time);
  if (!m) throw new RangeError(`not an HH:mm time: ${JSON.stringify(time)}`);
  return Number(m[1]) * 60 + Number(m[2]);
}

function formatClock(minutes: number): ClockTime {
  const h = Math.floor(minutes / 60);
  const m = minutes % 60;
  return `${String(h).padStart(2, '0')}:${String(m).padStart(2, '0')}`;
}

/** An instant: the given JST wall-clock time on the given JST day. */
export function atClock(date: IsoDate, time: ClockTime): DateTime {
  const minutes = clockMinutes(time);
  return parseIsoDate(date).set({ hour: Math.floor(minutes / 60), minute: minutes % 60 });
}

/**
 * Whether city offices are open on that day: Monday to Friday, not a national holiday
 * (including substitute and citizens' holidays), and not in the year-end closure Dec 29 - Jan 3.
 */
export function isBusinessDay(date: IsoDate): boolean {
  const dt = parseIsoDate(date);
  if (dt.weekday > 5) return false;
  if ((dt.month === 12 && dt.day >= 29) || (dt.month === 1 && dt.day <= 3)) return false;
  return !Object.hasOwn(HOLIDAYS, date);
}

/**
 * The business day `n` business days after (`n > 0`) or before (`n < 0`) `date`; the start
 * day itself is never counted, so it need not be a business day. `n = 0` returns `date`.
 */
export function addBusinessDays(date: IsoDate, n: number): IsoDate {
  if (!Number.isInteger(n)) throw new RangeError(`business days must be an integer: ${n}`);
  const step = n < 0 ? -1 : 1;
  let dt = parseIsoDate(date);
  for (let left = Math.abs(n); left > 0; ) {
    dt = dt.plus({ days: step });
    if (isBusinessDay(toIsoDate(dt))) left--;
  }
  return toIsoDate(dt);
}

/** `date` itself if offices are open that day, otherwise the next day they are. */
export function nextBusinessDayOnOrAfter(date: IsoDate): IsoDate {
  return isBusinessDay(date) ? date : addBusinessDays(date, 1);
}

/**
 * The booking window a rule gives a session day: it opens on the rule's day of the previous
 * month (the last day if that month is shorter), moved to the next business day, and closes
 * `closeBusinessDaysBefore` business days before the session (2026-05-08 closes 2026-05-01
 * because of Golden Week and the weekend).
 */
export function defaultWindow(sessionDate: IsoDate, rule: BookingWindowRule): { opens: IsoDate; closes: IsoDate } {
  const previousMonth = parseIsoDate(sessionDate).startOf('month').minus({ months: 1 });
  const day = Math.min(rule.opensDayOfPreviousMonth, previousMonth.daysInMonth ?? 28);
  const opens = nextBusinessDayOnOrAfter(toIsoDate(previousMonth.set({ day })));
  const closes = addBusinessDays(sessionDate, -rule.closeBusinessDaysBefore);
  return { opens, closes };
}

/**
 * When booking for a session opens and closes, as JST instants. The catalog's explicit
 * `opens` / `closes` days win over the service's rule, because the city's published table
 * is the authority and sometimes departs from the rule.
 */
export function bookingWindow(session: Session, service: Service): { opensAt: DateTime; closesAt: DateTime } {
  const rule = service.window;
  const opens = session.opens ?? defaultWindow(session.date, rule).opens;
  const closes = session.closes ?? defaultWindow(session.date, rule).closes;
  return { opensAt: atClock(opens, rule.opensAt), closesAt: atClock(closes, rule.closesAt) };
}

/** Whether a citizen may book the session at `now` (the window is half-open: `[opensAt, closesAt)`). */
export function isBookingOpen(session: Session, service: Service, now: DateTime): boolean {
  const { opensAt, closesAt } = bookingWindow(session, service);
  const t = now.toMillis();
  return opensAt.toMillis() <= t && t < closesAt.toMillis();
}

/**
 * The appointment slots of one session day: back-to-back `slotMinutes` slots inside each of
 * the service's hour ranges. A slot never runs past the end of its range, so a lunch break
 * or a closing time that is not a multiple of the slot length is respected.
 */
export function slotsOf(service: Service): Slot[] {
  const length = service.slotMinutes;
  if (!Number.isInteger(length) || length <= 0) throw new RangeError(`slotMinutes must be a positive integer: ${length}`);
  const slots: Slot[] = [];
  for (const range of service.hours) {
    const end = clockMinutes(range.end);
    for (let start = clockMinutes(range.start); start + length <= end; start += length) {
      const startText = formatClock(start);
      slots.push({ id: startText.replace(':', ''), start: startText, end: formatClock(start + length) });
    }
  }
  return slots;
}

/** The JST instant at which a slot of a session starts. */
export function slotStart(session: Session, slot: Slot): DateTime {
  return atClock(session.date, slot.start);
}

/** True when a desk with these hours answers at `now`. */
export function isOfficeOpen(hours: OfficeHours, now: DateTime): boolean {
  const today = toIsoDate(now);
  if (hours.days === 'business' && !isBusinessDay(today)) return false;
  return atClock(today, hours.from) <= now && now < atClock(today, hours.to);
}

/** When the desk next opens at or after `now` (`now` itself while it is open). */
export function nextOfficeOpening(hours: OfficeHours, now: DateTime): DateTime {
  if (isOfficeOpen(hours, now)) return now.setZone(ZONE);
  let day = toIsoDate(now);
  if (atClock(day, hours.from) <= now) day = toIsoDate(parseIsoDate(day).plus({ days: 1 }));
  if (hours.days === 'business') day = nextBusinessDayOnOrAfter(day);
  return atClock(day, hours.from);
}
