import { DateTime } from 'luxon';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BookingWindowRule, type Service, type Session, ZONE } from '../../src/domain.ts';
import {
  addBusinessDays,
  bookingWindow,
  defaultWindow,
  isBookingOpen,
  isOfficeOpen,
  nextOfficeOpening,
  isBusinessDay,
  nextBusinessDayOnOrAfter,
  parseIsoDate,
  slotStart,
  slotsOf,
} from '../../src/services/calendar.ts';
import { CATALOG_FILE, loadCatalog, sessionById } from '../../src/services/catalog.ts';

const rule: BookingWindowRule = { opensDayOfPreviousMonth: 15, closeBusinessDaysBefore: 2, opensAt: '09:00', closesAt: '17:00' };

/** The city's published FY2026 table (domain.md): session day, booking opens, booking closes. */
const fy2026: [date: string, opens: string, closes: string][] = [
  ['2026-04-08', '2026-03-16', '2026-04-06'],
  ['2026-05-08', '2026-04-16', '2026-05-01'],
  ['2026-06-12', '2026-05-15', '2026-06-10'],
  ['2026-07-10', '2026-06-15', '2026-07-08'],
  ['2026-08-07', '2026-07-15', '2026-08-05'],
  ['2026-09-11', '2026-08-17', '2026-09-09'],
  ['2026-10-06', '2026-09-15', '2026-10-02'],
  ['2026-11-06', '2026-10-15', '2026-11-04'],
  ['2026-12-08', '2026-11-16', '2026-12-04'],
  ['2027-01-08', '2026-12-15', '2027-01-06'],
  ['2027-02-09', '2027-01-15', '2027-02-05'],
  ['2027-03-12', '2027-02-15', '2027-03-10'],
];

const catalog = loadCatalog(CATALOG_FILE);
const service: Service = catalog.services[0]!;

function session(id: string): Session {
  const found = sessionById(catalog, id);
  if (!found) throw new Error(`no session ${id} in the shipped catalog`);
  return found;
}

const jst = (iso: string): DateTime => DateTime.fromISO(iso, { zone: ZONE });

// Holiday look-ups that go through a JS Date read the machine's calendar day, so every case
// runs on a UTC machine (where JST midnight is the previous day) and on a JST one.
const offsets = new Map<string, number>();

describe.each(['UTC', 'Asia/Tokyo'])('with the machine in TZ=%s', (tz) => {
  let saved: string | undefined;
  beforeAll(() => {
    saved = process.env.TZ;
    process.env.TZ = tz;
  });
  afterAll(() => {
    if (saved === undefined) delete process.env.TZ;
    else process.env.TZ = saved;
  });

  it('really runs in that zone', () => {
    const offset = new Date(2026, 0, 1).getTimezoneOffset();
    expect(offset).toBe(tz === 'UTC' ? 0 : -540);
    offsets.set(tz, offset);
  });

  describe('business days', () => {
    it('treats weekdays as business days and weekends as not', () => {
      expect(isBusinessDay('2026-11-02')).toBe(true); // Monday
      expect(isBusinessDay('2026-11-06')).toBe(true); // Friday
      expect(isBusinessDay('2026-11-07')).toBe(false); // Saturday
      expect(isBusinessDay('2026-11-08')).toBe(false); // Sunday
    });

    it('treats Culture Day 2026-11-03 as a holiday', () => {
      expect(isBusinessDay('2026-11-03')).toBe(false);
      expect(isBusinessDay('2026-11-04')).toBe(true);
      expect(addBusinessDays('2026-11-06', -2)).toBe('2026-11-04');
    });

    it('treats Golden Week 2026 (05-04..05-06) as holidays', () => {
      for (const d of ['2026-05-04', '2026-05-05', '2026-05-06']) expect(isBusinessDay(d)).toBe(false);
      expect(addBusinessDays('2026-05-08', -2)).toBe('2026-05-01');
    });

    it('closes the offices from Dec 29 to Jan 3 even on weekdays', () => {
      for (const d of ['2026-12-29', '2026-12-30', '2026-12-31', '2027-01-01', '2027-01-02', '2027-01-03']) {
        expect(isBusinessDay(d), d).toBe(false);
      }
      expect(isBusinessDay('2026-12-28')).toBe(true);
      expect(isBusinessDay('2027-01-04')).toBe(true);
      expect(addBusinessDays('2026-12-28', 1)).toBe('2027-01-04');
      expect(addBusinessDays('2027-01-04', -1)).toBe('2026-12-28');
    });

    it('counts business days forward and backward without counting the start day', () => {
      expect(addBusinessDays('2026-11-02', 1)).toBe('2026-11-04');
      expect(addBusinessDays('2026-11-07', 1)).toBe('2026-11-09');
      expect(addBusinessDays('2026-11-07', -1)).toBe('2026-11-06');
      expect(addBusinessDays('2026-11-04', 0)).toBe('2026-11-04');
    });

    it('moves to the next business day only when needed', () => {
      expect(nextBusinessDayOnOrAfter('2026-10-15')).toBe('2026-10-15');
      expect(nextBusinessDayOnOrAfter('2026-11-15')).toBe('2026-11-16');
      expect(nextBusinessDayOnOrAfter('2026-11-03')).toBe('2026-11-04');
      expect(nextBusinessDayOnOrAfter('2026-12-29')).toBe('2027-01-04');
    });

    it('rejects dates that do not exist', () => {
      expect(() => parseIsoDate('2026-13-40')).toThrow(RangeError);
      expect(() => isBusinessDay('2026-02-30')).toThrow(RangeError);
      expect(() => parseIsoDate('2026-4-8')).toThrow(RangeError);
    });
  });

  describe('booking windows of the FY2026 table', () => {
    it.each(fy2026)('session %s: the rule gives the published window', (date, opens, closes) => {
      const window = defaultWindow(date, rule);
      expect(window.closes).toBe(closes);
      // 2026-05-08 is the city's one exception to the rule; the catalog stores it explicitly.
      expect(window.opens).toBe(date === '2026-05-08' ? '2026-04-15' : opens);
    });

    it.each(fy2026)('session %s: the shipped catalog opens %s 09:00 and closes %s 17:00 JST', (date, opens, closes) => {
      const found = catalog.sessions.find((s) => s.date === date);
      expect(found).toBeDefined();
      const { opensAt, closesAt } = bookingWindow(found!, service);
      expect(opensAt.toISO()).toBe(`${opens}T09:00:00.000+09:00`);
      expect(closesAt.toISO()).toBe(`${closes}T17:00:00.000+09:00`);
    });

    it('stores explicit dates only where the table departs from the rule', () => {
      const explicit = catalog.sessions.filter((s) => s.opens !== undefined || s.closes !== undefined);
      expect(explicit.map((s) => [s.date, s.opens, s.closes])).toEqual([['2026-05-08', '2026-04-16', undefined]]);
    });

    it('lets an explicit close win over the rule', () => {
      const s: Session = { ...session('2026-11-06-tama'), closes: '2026-10-30' };
      expect(bookingWindow(s, service).closesAt.toISO()).toBe('2026-10-30T17:00:00.000+09:00');
    });

    it('opens on the last day of a short previous month', () => {
      const late: BookingWindowRule = { ...rule, opensDayOfPreviousMonth: 31 };
      // 2027-02-28 is a Sunday, so the window opens on Monday 03-01.
      expect(defaultWindow('2027-03-12', late).opens).toBe('2027-03-01');
    });
  });

  describe('isBookingOpen', () => {
    const s = (): Session => session('2026-11-06-tama');

    it('opens at 09:00 JST on the opening day', () => {
      expect(isBookingOpen(s(), service, jst('2026-10-15T08:59:59.999'))).toBe(false);
      expect(isBookingOpen(s(), service, jst('2026-10-15T09:00'))).toBe(true);
      // The same instant seen from UTC (00:00Z) is still the opening moment.
      expect(isBookingOpen(s(), service, DateTime.fromISO('2026-10-15T00:00:00Z', { zone: 'UTC' }))).toBe(true);
      expect(isBookingOpen(s(), service, DateTime.fromISO('2026-10-14T23:59:59Z', { zone: 'UTC' }))).toBe(false);
    });

    it('closes at 17:00 JST on the closing day, not on the holiday-shifted day before', () => {
      expect(isBookingOpen(s(), service, jst('2026-11-02T17:00'))).toBe(true);
      expect(isBookingOpen(s(), service, jst('2026-11-04T16:59:59.999'))).toBe(true);
      expect(isBookingOpen(s(), service, jst('2026-11-04T17:00'))).toBe(false);
      expect(isBookingOpen(s(), service, DateTime.fromISO('2026-11-04T08:00:00Z', { zone: 'UTC' }))).toBe(false);
      expect(isBookingOpen(s(), service, DateTime.fromISO('2026-11-04T07:59:59Z', { zone: 'UTC' }))).toBe(true);
    });

    it('uses the explicit opening day of 2026-05-08', () => {
      const may = session('2026-05-08-kawasaki');
      expect(isBookingOpen(may, service, jst('2026-04-15T12:00'))).toBe(false);
      expect(isBookingOpen(may, service, jst('2026-04-16T09:00'))).toBe(true);
      expect(isBookingOpen(may, service, jst('2026-05-01T16:59'))).toBe(true);
      expect(isBookingOpen(may, service, jst('2026-05-01T17:00'))).toBe(false);
    });
  });

  describe('slots', () => {
    it('gives twelve 30-minute slots around the noon break', () => {
      const slots = slotsOf(service);
      expect(slots).toHaveLength(12);
      expect(slots.map((s) => s.id)).toEqual([
        '0900', '0930', '1000', '1030', '1100', '1130',
        '1300', '1330', '1400', '1430', '1500', '1530',
      ]);
      expect(slots[0]).toEqual({ id: '0900', start: '09:00', end: '09:30' });
      expect(slots[11]).toEqual({ id: '1530', start: '15:30', end: '16:00' });
    });

    it('never lets a slot cross the end of a range', () => {
      const slots = slotsOf({ ...service, slotMinutes: 45 });
      expect(slots.map((s) => `${s.start}-${s.end}`)).toEqual([
        '09:00-09:45', '09:45-10:30', '10:30-11:15', '11:15-12:00',
        '13:00-13:45', '13:45-14:30', '14:30-15:15', '15:15-16:00',
      ]);
      const odd = slotsOf({ ...service, slotMinutes: 50 });
      expect(odd.every((s) => s.end <= '12:00' || s.start >= '13:00')).toBe(true);
      expect(odd.at(-1)).toEqual({ id: '1440', start: '14:40', end: '15:30' });
    });

    it('starts a slot at JST wall-clock time', () => {
      const start = slotStart(session('2026-11-06-tama'), { id: '1000', start: '10:00', end: '10:30' });
      expect(start.toISO()).toBe('2026-11-06T10:00:00.000+09:00');
      expect(start.toUTC().toISO()).toBe('2026-11-06T01:00:00.000Z');
    });
  });
});

describe('the time-zone switch', () => {
  it('ran the cases under two different machine offsets', () => {
    expect(offsets.get('UTC')).toBe(0);
    expect(offsets.get('Asia/Tokyo')).toBe(-540);
  });
});

describe('office hours', () => {
  const office = { days: 'business', from: '09:00', to: '17:00' } as const;
  const center = { days: 'daily', from: '08:00', to: '21:00' } as const;
  const at = (iso: string) => DateTime.fromISO(iso, { zone: 'Asia/Tokyo' });

  it('the ombudsman office answers on business days 9:00-17:00 only', () => {
    expect(isOfficeOpen(office, at('2026-11-24T09:00'))).toBe(true);
    expect(isOfficeOpen(office, at('2026-11-24T17:00'))).toBe(false);
    expect(isOfficeOpen(office, at('2026-11-23T10:00'))).toBe(false); // Labour Thanksgiving Day (Monday)
    expect(isOfficeOpen(office, at('2026-12-29T10:00'))).toBe(false); // year-end closure
  });

  it('says when the office opens next: after hours, over a weekend and the year-end closure', () => {
    expect(nextOfficeOpening(office, at('2026-11-24T18:30')).toISO()).toBe('2026-11-25T09:00:00.000+09:00');
    expect(nextOfficeOpening(office, at('2026-11-27T20:00')).toISO()).toBe('2026-11-30T09:00:00.000+09:00');
    expect(nextOfficeOpening(office, at('2026-12-28T17:30')).toISO()).toBe('2027-01-04T09:00:00.000+09:00');
    expect(nextOfficeOpening(office, at('2026-11-24T07:00')).toISO()).toBe('2026-11-24T09:00:00.000+09:00');
  });

  it('the contact center answers every day 8:00-21:00', () => {
    expect(isOfficeOpen(center, at('2026-11-22T08:00'))).toBe(true); // Sunday
    expect(nextOfficeOpening(center, at('2026-12-31T22:00')).toISO()).toBe('2027-01-01T08:00:00.000+09:00');
  });
});
