import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { type Booking, type Locale, local, type Mode } from '../../src/domain.ts';
import { composeBookingMail, MissingMeetingLinkError } from '../../src/mail/compose.ts';
import { loadCatalog } from '../../src/services/catalog.ts';
import { SESSION_ID } from '../support/lineStub.ts';

const catalog = loadCatalog(fileURLToPath(new URL('../fixtures/catalog.json', import.meta.url)));
const service = catalog.services[0]!;
const LINK = 'https://kawasaki.webex.example/meet/ombudsman-1208';

function booking(mode: Mode, locale: Locale, slotId = '0930'): Booking {
  return {
    id: 'K7M-4QXP',
    serviceId: service.id,
    sessionId: SESSION_ID,
    slotId,
    mode,
    userKey: 'line:U123',
    locale,
    contact: { name: 'Hanako Kawasaki', phone: '09012345678', email: 'hanako@example.jp' },
    consent: { precautionsVersion: service.precautions.version, agreedAt: '2026-11-20T01:00:00.000Z' },
    createdAt: '2026-11-20T01:00:00.000Z',
  };
}

const precaution = (id: string, locale: Locale): string => local(service.precautions.items.find((p) => p.id === id)!.text, locale);

/** The properties of an iCalendar text, folded lines joined back (RFC 5545 §3.1). */
function icsProperties(text: string): Map<string, string[]> {
  const lines = text.replace(/\r\n[ \t]/g, '').split('\r\n');
  const props = new Map<string, string[]>();
  for (const line of lines.filter(Boolean)) {
    const colon = line.indexOf(':');
    const name = line.slice(0, colon).split(';')[0]!;
    props.set(name, [...(props.get(name) ?? []), line.slice(colon + 1)]);
  }
  return props;
}

describe('composeBookingMail: confirmation', () => {
  it('in person, in Japanese: reference, date, time, place, precautions of the mode, how to change, the office', () => {
    const mail = composeBookingMail('confirmation', booking('in_person', 'ja'), catalog);
    expect(mail.to).toBe('hanako@example.jp');
    expect(mail.subject).toContain('K7M-4QXP');
    expect(mail.subject).toContain('2026年12月8日(火)');
    expect(mail.subject).not.toContain('Hanako');
    expect(mail.text).toContain('Hanako Kawasaki 様');
    expect(mail.text).toContain('予約番号：K7M-4QXP');
    expect(mail.text).toContain('市民オンブズマン相談');
    expect(mail.text).toContain('9:30〜10:00');
    expect(mail.text).toContain('麻生区役所 4階 第2会議室');
    expect(mail.text).toContain(precaution('one_slot', 'ja'));
    expect(mail.text).toContain(precaution('no_show_10_minutes', 'ja'));
    expect(mail.text).not.toContain(precaution('keep_meeting_private', 'ja'));
    // Changes: from "my bookings" until booking closes (two business days before, 17:00), then by phone.
    expect(mail.text).toContain('「予約の確認」');
    expect(mail.text).toContain('2026年12月4日(金) 17:00');
    expect(mail.text).toContain('044-200-3691');
    expect(mail.text).toContain(service.office.hours.ja);
    expect(mail.text).toContain(service.office.email);
    expect(mail.text).not.toContain('Webex');
  });

  it('online, in English: "Online (Webex)", the link comes the day before, the online precautions', () => {
    const mail = composeBookingMail('confirmation', booking('online', 'en'), catalog);
    expect(mail.subject).toContain('K7M-4QXP');
    expect(mail.subject).toContain('Tuesday, 8 December 2026');
    expect(mail.text).toContain('Dear Hanako Kawasaki,');
    expect(mail.text).toContain('Booking reference: K7M-4QXP');
    expect(mail.text).toContain('Citizen ombudsman consultation');
    expect(mail.text).toContain('9:30–10:00');
    expect(mail.text).toContain('Place: Online (Webex)');
    expect(mail.text).toContain('meeting link the day before');
    expect(mail.text).not.toContain(catalog.sessions.find((s) => s.id === SESSION_ID)!.place.en);
    for (const id of ['keep_meeting_private', 'private_place', 'no_recording', 'documents_day_before']) {
      expect(mail.text).toContain(precaution(id, 'en'));
    }
    expect(mail.text).toContain('"My bookings"');
    expect(mail.text).toContain('Fri, 4 Dec 2026, 17:00');
    expect(mail.text).toContain('044-200-3691');
    expect(mail.text).not.toMatch(/[\u3040-\u30ff]/);
  });

  it('attaches invite.ics: the appointment in UTC, a UID per booking, title, place, reference', () => {
    const mail = composeBookingMail('confirmation', booking('in_person', 'ja'), catalog);
    expect(mail.attachments).toHaveLength(1);
    const [file] = mail.attachments!;
    expect(file!.filename).toBe('invite.ics');
    expect(file!.contentType).toBe('text/calendar; charset=utf-8; method=PUBLISH');
    const ics = icsProperties(file!.content);
    expect(ics.get('BEGIN')).toEqual(['VCALENDAR', 'VEVENT']);
    expect(ics.get('METHOD')).toEqual(['PUBLISH']);
    // 2026-12-08 09:30-10:00 JST.
    expect(ics.get('DTSTART')).toEqual(['20261208T003000Z']);
    expect(ics.get('DTEND')).toEqual(['20261208T010000Z']);
    expect(ics.get('UID')).toEqual(['K7M-4QXP@citybot']);
    expect(ics.get('SUMMARY')).toEqual(['市民オンブズマン相談']);
    expect(ics.get('LOCATION')).toEqual(['麻生区役所 4階 第2会議室']);
    expect(ics.get('STATUS')).toEqual(['CONFIRMED']);
    expect(ics.get('DESCRIPTION')![0]).toContain('K7M-4QXP');
    expect(file!.content).not.toContain('hanako@example.jp');
  });

  it('an afternoon online appointment: UTC times of that slot, location Webex, English title', () => {
    const mail = composeBookingMail('confirmation', booking('online', 'en', '1530'), catalog);
    const ics = icsProperties(mail.attachments![0]!.content);
    expect(ics.get('DTSTART')).toEqual(['20261208T063000Z']);
    expect(ics.get('DTEND')).toEqual(['20261208T070000Z']);
    expect(ics.get('LOCATION')).toEqual(['Webex']);
    expect(ics.get('SUMMARY')).toEqual(['Citizen ombudsman consultation']);
  });

  it('refuses a booking whose slot the catalog does not have', () => {
    expect(() => composeBookingMail('confirmation', booking('in_person', 'ja', '1200'), catalog)).toThrow(/not in the catalog/);
  });
});

describe('composeBookingMail: the day before', () => {
  it('online without a meeting link throws, so staff are alerted instead of an empty invitation', () => {
    for (const meetingLink of [undefined, '', '  ']) {
      expect(() => composeBookingMail('dayBefore', booking('online', 'ja'), catalog, meetingLink === undefined ? {} : { meetingLink })).toThrow(
        MissingMeetingLinkError,
      );
    }
  });

  it('online with the link, in English: the link and the precautions of the day', () => {
    const mail = composeBookingMail('dayBefore', booking('online', 'en'), catalog, { meetingLink: LINK });
    expect(mail.to).toBe('hanako@example.jp');
    expect(mail.subject).toMatch(/tomorrow at 9:30/);
    expect(mail.subject).toContain('K7M-4QXP');
    expect(mail.text).toContain(LINK);
    expect(mail.text).toContain('9:30–10:00');
    expect(mail.text).toContain('Booking reference: K7M-4QXP');
    expect(mail.text).toMatch(/camera on/);
    expect(mail.text).toMatch(/quiet place/);
    expect(mail.text).toMatch(/while driving/);
    expect(mail.text).toMatch(/Do not record/);
    expect(mail.text).toMatch(/today is the last day/);
    expect(mail.text).toContain('044-200-3691');
    expect(mail.attachments).toBeUndefined();
  });

  it('online with the link, in Japanese', () => {
    const mail = composeBookingMail('dayBefore', booking('online', 'ja'), catalog, { meetingLink: LINK });
    expect(mail.subject).toContain('明日9:30');
    expect(mail.text).toContain(`WebexミーティングのURL：${LINK}`);
    expect(mail.text).toContain('カメラ');
    expect(mail.text).toContain('運転');
    expect(mail.text).toContain('録音・録画');
    expect(mail.text).toContain('本日が締め切り');
  });

  it('in person: the ward office, floor and room, and what to bring; no link needed', () => {
    const mail = composeBookingMail('dayBefore', booking('in_person', 'ja'), catalog);
    expect(mail.subject).toContain('明日9:30');
    expect(mail.text).toContain('9:30の少し前に、麻生区役所 4階 第2会議室へお越しください。');
    expect(mail.text).toContain('■お持ちいただくもの');
    expect(mail.text).toContain('予約番号：K7M-4QXP');
    expect(mail.text).not.toContain('Webex');
    const en = composeBookingMail('dayBefore', booking('in_person', 'en'), catalog, { meetingLink: LINK });
    expect(en.text).toContain('Asao Ward Office, 4F Meeting Room 2');
    expect(en.text).toContain('What to bring');
    expect(en.text).not.toContain(LINK);
  });
});

describe('composeBookingMail: on the day', () => {
  it('in person: today at the time, the place, the reference, the office phone', () => {
    const mail = composeBookingMail('dayOf', booking('in_person', 'en'), catalog);
    expect(mail.subject).toBe('Citizen ombudsman consultation today at 9:30 (ref. K7M-4QXP)');
    expect(mail.text).toContain('today at 9:30, at Asao Ward Office, 4F Meeting Room 2');
    expect(mail.text).toContain('Booking reference: K7M-4QXP');
    expect(mail.text).toContain('044-200-3691');
  });

  it('online: the link, and it throws without one', () => {
    const mail = composeBookingMail('dayOf', booking('online', 'ja'), catalog, { meetingLink: LINK });
    expect(mail.subject).toContain('本日9:30');
    expect(mail.text).toContain(LINK);
    expect(mail.text).toContain('予約番号：K7M-4QXP');
    expect(mail.text).toContain('044-200-3691');
    expect(() => composeBookingMail('dayOf', booking('online', 'ja'), catalog)).toThrow(MissingMeetingLinkError);
  });
});
