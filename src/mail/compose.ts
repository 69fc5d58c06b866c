/**
 * The emails of a booking: the confirmation right after it is made (with a calendar file),
 * the message of the day before (the meeting link, or the place and what to bring) and the
 * reminder on the day. Channel-neutral: a booking and the catalog in, a {@link MailMessage}
 * out, every word from the `mail` keys of the locale files in the booking's language.
 */
import { createEvent } from 'ics';
import type { DateTime } from 'luxon';
import { type Booking, type ClockTime, LOCALE_TAGS, type Locale, local, type Service, type Session, type Slot } from '../domain.ts';
import { atClock, bookingWindow, parseIsoDate, slotsOf, slotStart } from '../services/calendar.ts';
import { type Catalog, serviceById, sessionById } from '../services/catalog.ts';
import { translator } from '../services/index.ts';
import type { Translate } from '../turn.ts';
import type { MailMessage } from './mailer.ts';

/** Which email of a booking's life: right after booking, the day before, or on the day. */
export type BookingMailKind = 'confirmation' | 'dayBefore' | 'dayOf';

/**
 * Thrown for an online booking's day-before or day-of message when no meeting link is known:
 * the caller alerts staff instead of sending an invitation without one.
 */
export class MissingMeetingLinkError extends Error {
  override readonly name = 'MissingMeetingLinkError';
}

/** The attachment's MIME type: an iCalendar object published for the citizen's calendar. */
const ICS_CONTENT_TYPE = 'text/calendar; charset=utf-8; method=PUBLISH';

/** What every email of the booking says, resolved once from the catalog in the booking's language. */
interface Appointment {
  booking: Booking;
  service: Service;
  session: Session;
  slot: Slot;
  start: DateTime;
  end: DateTime;
  locale: Locale;
  t: Translate;
  serviceName: string;
  date: string;
  time: string;
  /** The session's place in person, "online (Webex)" online. */
  where: string;
}

/**
 * The email of `kind` for `booking`, addressed to the contact email the citizen gave.
 * @param opts.meetingLink The Webex link; needed by the day-before and day-of messages of an online booking.
 * @throws MissingMeetingLinkError for an online day-before or day-of message without `meetingLink`.
 * @throws Error when the booking names a service, session or slot the catalog does not have.
 */
export function composeBookingMail(kind: BookingMailKind, booking: Booking, catalog: Catalog, opts: { meetingLink?: string } = {}): MailMessage {
  const a = appointmentOf(booking, catalog);
  const link = opts.meetingLink?.trim();
  switch (kind) {
    case 'confirmation':
      return confirmation(a);
    case 'dayBefore':
      return dayBefore(a, onlineLink(a, kind, link));
    case 'dayOf':
      return dayOf(a, onlineLink(a, kind, link));
  }
}

function appointmentOf(booking: Booking, catalog: Catalog): Appointment {
  const service = serviceById(catalog, booking.serviceId);
  const session = sessionById(catalog, booking.sessionId);
  const slot = service && slotsOf(service).find((s) => s.id === booking.slotId);
  if (!service || !session || !slot) {
    throw new Error(`booking ${booking.id}: service, session or slot not in the catalog`);
  }
  const locale = booking.locale;
  const t = translator(locale);
  return {
    booking,
    service,
    session,
    slot,
    start: slotStart(session, slot),
    end: atClock(session.date, slot.end),
    locale,
    t,
    serviceName: local(service.name, locale),
    date: parseIsoDate(session.date).setLocale(local(LOCALE_TAGS, locale)).toFormat(t('mail.format.date')),
    time: t('mail.timeRange', { start: clock(slot.start), end: clock(slot.end) }),
    where: booking.mode === 'online' ? t('mail.online') : local(session.place, locale),
  };
}

/** The link of an online booking (required), nothing for one in person. */
function onlineLink(a: Appointment, kind: BookingMailKind, link: string | undefined): string | undefined {
  if (a.booking.mode !== 'online') return undefined;
  if (!link) throw new MissingMeetingLinkError(`booking ${a.booking.id}: no meeting link for the ${kind} message`);
  return link;
}

function confirmation(a: Appointment): MailMessage {
  const { t, service, locale } = a;
  const office = service.office;
  const precautions = service.precautions.items
    .filter((p) => p.modes.includes(a.booking.mode))
    .map((p) => t('mail.bullet', { text: local(p.text, locale) }));
  const closes = bookingWindow(a.session, service).closesAt.setLocale(local(LOCALE_TAGS, locale)).toFormat(t('mail.format.dateTime'));
  const body = [
    t('mail.greeting', { name: a.booking.contact.name }),
    '',
    t('mail.confirmation.intro'),
    '',
    ...details(a),
    ...(a.booking.mode === 'online' ? ['', t('mail.confirmation.onlineLink')] : []),
    '',
    t('mail.confirmation.precautionsHeading'),
    ...precautions,
    '',
    t('mail.confirmation.changeHeading'),
    t('mail.confirmation.change', {
      closes,
      my: t('menu.my'),
      office: local(office.name, locale),
      phone: office.phone,
      hours: local(office.hours, locale),
    }),
    '',
    t('mail.confirmation.calendar'),
    ...footer(a),
  ];
  return {
    to: a.booking.contact.email,
    subject: t('mail.confirmation.subject', { service: a.serviceName, date: a.date, reference: a.booking.id }),
    text: body.join('\n'),
    attachments: [{ filename: 'invite.ics', content: calendarFile(a), contentType: ICS_CONTENT_TYPE }],
  };
}

/** `link`: the meeting link of an online booking, undefined for one in person. */
function dayBefore(a: Appointment, link: string | undefined): MailMessage {
  const { t } = a;
  const onTheDay = link
    ? [
        t('mail.dayBefore.link', { link }),
        t('mail.dayBefore.linkPrivate'),
        '',
        t('mail.dayBefore.onlineHeading'),
        ...[
          t('mail.dayBefore.camera'),
          t('mail.dayBefore.privatePlace'),
          t('mail.dayBefore.driving'),
          t('mail.dayBefore.recording'),
          t('mail.dayBefore.documents'),
        ].map((text) => t('mail.bullet', { text })),
      ]
    : [
        t('mail.dayBefore.arrive', { place: local(a.session.place, a.locale), time: clock(a.slot.start) }),
        '',
        t('mail.dayBefore.inPersonHeading'),
        ...[t('mail.dayBefore.bringReference'), t('mail.dayBefore.bringNotes')].map((text) => t('mail.bullet', { text })),
        '',
        t('mail.dayBefore.documents'),
      ];
  const office = a.service.office;
  const body = [
    t('mail.greeting', { name: a.booking.contact.name }),
    '',
    t('mail.dayBefore.intro'),
    '',
    ...details(a),
    '',
    ...onTheDay,
    '',
    t('mail.dayBefore.cannotCome', { office: local(office.name, a.locale), phone: office.phone, hours: local(office.hours, a.locale) }),
    ...footer(a),
  ];
  return {
    to: a.booking.contact.email,
    subject: t('mail.dayBefore.subject', { service: a.serviceName, time: clock(a.slot.start), reference: a.booking.id }),
    text: body.join('\n'),
  };
}

/** `link` as for {@link dayBefore}. */
function dayOf(a: Appointment, link: string | undefined): MailMessage {
  const { t } = a;
  const time = clock(a.slot.start);
  const office = a.service.office;
  const body = [
    t('mail.greeting', { name: a.booking.contact.name }),
    '',
    link ? t('mail.dayOf.online', { time, link }) : t('mail.dayOf.inPerson', { time, place: local(a.session.place, a.locale) }),
    t('mail.line', { label: t('mail.field.reference'), value: a.booking.id }),
    '',
    t('mail.dayOf.cannotCome', { office: local(office.name, a.locale), phone: office.phone }),
    ...footer(a),
  ];
  return {
    to: a.booking.contact.email,
    subject: t('mail.dayOf.subject', { service: a.serviceName, time, reference: a.booking.id }),
    text: body.join('\n'),
  };
}

/** The booking as a list of labelled lines. */
function details(a: Appointment): string[] {
  const { t } = a;
  const line = (label: string, value: string): string => t('mail.line', { label, value });
  return [
    line(t('mail.field.reference'), a.booking.id),
    line(t('mail.field.service'), a.serviceName),
    line(t('mail.field.date'), a.date),
    line(t('mail.field.time'), a.time),
    line(t('mail.field.place'), a.where),
  ];
}

/** The office's contact block and the note that the email was sent automatically. */
function footer(a: Appointment): string[] {
  const { t, locale } = a;
  const office = a.service.office;
  return [
    '',
    t('mail.office.heading'),
    local(office.name, locale),
    t('mail.office.phone', { phone: office.phone }),
    t('mail.office.hours', { hours: local(office.hours, locale) }),
    t('mail.office.email', { email: office.email }),
    '',
    t('mail.footer'),
  ];
}

/**
 * The appointment as an iCalendar event, times in UTC (an instant, whatever zone the
 * citizen's calendar is in). The UID comes from the reference: every file of one booking
 * names the same event.
 */
function calendarFile(a: Appointment): string {
  const { t, locale } = a;
  const office = a.service.office;
  const { error, value } = createEvent({
    productId: 'citybot',
    method: 'PUBLISH',
    uid: `${a.booking.id}@citybot`,
    start: a.start.toMillis(),
    startOutputType: 'utc',
    end: a.end.toMillis(),
    endOutputType: 'utc',
    title: a.serviceName,
    location: a.booking.mode === 'online' ? t('mail.webex') : local(a.session.place, locale),
    description: t('mail.ics.description', { reference: a.booking.id, office: local(office.name, locale), phone: office.phone }),
    status: 'CONFIRMED',
  });
  if (error || value === null) throw error ?? new Error(`booking ${a.booking.id}: calendar file not built`);
  return value;
}

/** `09:30` → `9:30`. */
function clock(time: ClockTime): string {
  return time.replace(/^0/, '');
}
