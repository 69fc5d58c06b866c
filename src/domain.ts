/**
 * Domain vocabulary shared by dialogs, services and stores. Plain data and pure functions: no I/O.
 * Words follow the house glossary: service, session, slot, hold, booking, screening,
 * precautions, consent, ticket, handoff.
 */
import { FixedOffsetZone } from 'luxon';

/**
 * The zone in which sessions, booking windows and office hours are defined: Japan time, UTC+9.
 * A fixed offset rather than the IANA `Asia/Tokyo` (the same clock: Japan has had no daylight
 * saving since 1951), because luxon asks Intl for the offset of an IANA zone on every date
 * operation: 34 µs against 4 µs per `fromMillis` + `plus` + `startOf`, measured here, and 3.5 %
 * of a turn's CPU in the bench's profile.
 */
export const ZONE = FixedOffsetZone.instance(9 * 60);

/**
 * Languages the bot speaks. Japanese is the default; `easy` is yasashii nihongo (plain Japanese
 * after the city's guideline, for residents still learning Japanese and for anyone who finds
 * official Japanese hard), `zh` is Simplified Chinese.
 */
export const LOCALES = ['ja', 'easy', 'en', 'zh', 'ko', 'vi'] as const;
export type Locale = (typeof LOCALES)[number];

/** The BCP 47 tag dates and times are formatted with (luxon, Intl) in each language. */
export const LOCALE_TAGS: Readonly<Record<Locale, string>> = { ja: 'ja', easy: 'ja', en: 'en', zh: 'zh-CN', ko: 'ko', vi: 'vi' };

/** True for a value that names a supported language. */
export function isLocale(value: unknown): value is Locale {
  return typeof value === 'string' && (LOCALES as readonly string[]).includes(value);
}

/**
 * A text of the catalog or the knowledge base: always in Japanese and English, and in the
 * other languages where the city has a translation (see `local` for what shows without one).
 */
export interface Localized {
  ja: string;
  en: string;
  easy?: string | undefined;
  zh?: string | undefined;
  ko?: string | undefined;
  vi?: string | undefined;
}

/**
 * The catalog text in the user's language. Where an entry has no translation yet it falls
 * back visibly: Japanese for easy Japanese, otherwise the Japanese and the English together
 * (on one line when both are short, as in a button, else one under the other).
 */
export function local(text: Localized, locale: Locale): string {
  const own = text[locale];
  if (own !== undefined) return own;
  if (locale === 'easy') return text.ja;
  const short = text.ja.length + text.en.length <= 40 && !text.ja.includes('\n') && !text.en.includes('\n');
  return short ? `${text.ja} / ${text.en}` : `${text.ja}\n${text.en}`;
}

/** How the citizen meets the ombudsman. One slot holds one appointment whatever the mode. */
export type Mode = 'in_person' | 'online';

/** `YYYY-MM-DD`, a calendar day in Japan time. */
export type IsoDate = string;
/** `HH:mm`, a wall-clock time in Japan time. */
export type ClockTime = string;

/** A yes/no question asked before a slot is offered; a "no" ends booking with `noReason`. */
export interface ScreeningQuestion {
  id: string;
  /** Modes the question applies to (e.g. the camera question is online only). */
  modes: Mode[];
  question: Localized;
  noReason: Localized;
}

/** One precaution the citizen must read and accept before booking. */
export interface Precaution {
  id: string;
  modes: Mode[];
  text: Localized;
}

/** Rules that derive a session's booking window when the catalog gives no explicit dates. */
export interface BookingWindowRule {
  /** Day of the previous month on which booking opens (moved to the next business day). */
  opensDayOfPreviousMonth: number;
  /** Booking closes this many business days before the session day. */
  closeBusinessDaysBefore: number;
  /** Time of day (JST) at which booking opens on the opening day. */
  opensAt: ClockTime;
  /** Time of day (JST) at which booking closes on the closing day. */
  closesAt: ClockTime;
}

/** When a desk answers: on business days only or every day, between two JST times. */
export interface OfficeHours {
  days: 'business' | 'daily';
  from: ClockTime;
  to: ClockTime;
}

/** How to reach the people behind a service. */
export interface OfficeContact {
  name: Localized;
  phone: string;
  email: string;
  /** The hours in words, as the office publishes them. */
  hours: Localized;
  /** The same hours as data: decides what a citizen asking for a person is told. */
  open: OfficeHours;
}

/** A bookable service (e.g. the citizen ombudsman consultation). */
export interface Service {
  id: string;
  name: Localized;
  description: Localized;
  modes: Mode[];
  /** Length of one appointment. */
  slotMinutes: number;
  /** Session hours (JST), e.g. 09:00-12:00 and 13:00-16:00. */
  hours: { start: ClockTime; end: ClockTime }[];
  window: BookingWindowRule;
  screening: ScreeningQuestion[];
  precautions: { version: string; items: Precaution[] };
  office: OfficeContact;
  /** Other places to turn to when the service cannot help (shown after a screening "no"). */
  alternatives: { name: Localized; phone: string; hours: Localized; open: OfficeHours }[];
}

/** One dated session of a service (e.g. the ombudsman at a ward office on a given day). */
export interface Session {
  id: string;
  serviceId: string;
  date: IsoDate;
  place: Localized;
  host: Localized;
  /** Explicit first day of booking; wins over the service's rule. */
  opens?: IsoDate;
  /** Explicit last day of booking; wins over the service's rule. */
  closes?: IsoDate;
  /** The online meeting's link (Webex), sent with the day-before invitation of online bookings. */
  meetingUrl?: string;
}

/** A bookable appointment time inside a session. `id` is `HHmm` (e.g. `0930`). */
export interface Slot {
  id: string;
  start: ClockTime;
  end: ClockTime;
}

/** Validated contact details of the person who books. */
export interface Contact {
  name: string;
  /** Digits only, domestic form (e.g. `09012345678`). */
  phone: string;
  email: string;
}

/** `09012345678` → `090-1234-5678`, for reading back to the citizen or to staff. */
export function formatPhone(digits: string): string {
  if (digits.length === 11) return `${digits.slice(0, 3)}-${digits.slice(3, 7)}-${digits.slice(7)}`;
  if (digits.startsWith('0120')) return `${digits.slice(0, 4)}-${digits.slice(4, 7)}-${digits.slice(7)}`;
  if (/^0[36]/.test(digits)) return `${digits.slice(0, 2)}-${digits.slice(2, 6)}-${digits.slice(6)}`;
  return `${digits.slice(0, 3)}-${digits.slice(3, 6)}-${digits.slice(6)}`;
}

/** A confirmed appointment. `id` is the booking reference read aloud on the phone. */
export interface Booking {
  id: string;
  serviceId: string;
  sessionId: string;
  slotId: string;
  mode: Mode;
  /** Who holds the booking for the one-booking-per-person rule and "my bookings". */
  userKey: string;
  /**
   * The person behind `userKey` when one person can open many conversations (the web chat's
   * address, `Caller.personKey`): one booking per person per session holds across them.
   */
  personKey?: string;
  locale: Locale;
  contact: Contact;
  consent: { precautionsVersion: string; agreedAt: string };
  createdAt: string;
  /** The agent who booked on the citizen's behalf (proxy booking from Teams). */
  bookedBy?: Agent;
}

/**
 * Why a ticket was opened for a human: asked for one, unsure at screening, a question the
 * bot could not answer (`inquiry`), or an urgent message. `not_understood` is on tickets
 * opened before the citizen was asked whether staff may read their message.
 */
export type TicketReason = 'requested' | 'screening_unsure' | 'not_understood' | 'inquiry' | 'urgent';

/**
 * Whose queue a ticket is in: the service's office (the ombudsman office's channel) or the
 * contact center, which triages questions. Agents forward a ticket from one to the other.
 */
export type Desk = 'office' | 'contact_center';
export const DESKS: readonly Desk[] = ['office', 'contact_center'];

/** How a ticket ended, for the contact center's figures. */
export type TicketOutcome = 'answered' | 'forwarded' | 'no_reply' | 'spam';
export const TICKET_OUTCOMES: readonly TicketOutcome[] = ['answered', 'forwarded', 'no_reply', 'spam'];

/** Where a ticket is in its life: waiting, taken by a staff member, or done. */
export type TicketStatus = 'open' | 'claimed' | 'closed';

/** A staff member (a Teams user): `id` is stable (AAD object id), `name` is for display. */
export interface Agent {
  id: string;
  name: string;
}

/** Where the staff card of a ticket lives in Teams, so that it can be updated and threaded. */
export interface TicketCard {
  conversationId: string;
  activityId: string;
}

/** A request for a human, waiting for the office or the contact center. */
export interface Ticket {
  id: string;
  userKey: string;
  channel: string;
  locale: Locale;
  reason: TicketReason;
  /** `high` for urgent matters; staff see it on the card. */
  priority: 'normal' | 'high';
  /** Suggested category for triage (the service id, or `general`). */
  category: string;
  serviceId?: string;
  /** What the citizen was doing, in words without personal data (e.g. the dialog step). */
  context: string;
  status: TicketStatus;
  createdAt: string;
  claimedBy?: Agent;
  claimedAt?: string;
  /** Who closed it: an agent, or the citizen. */
  closedBy?: Agent | 'citizen';
  closedAt?: string;
  card?: TicketCard;
  /** Whose queue; tickets stored before desks existed are the office's. */
  desk?: Desk;
  /**
   * The question as the citizen wrote it, only after they agreed to pass it to staff.
   * Personal data: sealed at rest, never logged, kept a set time after the ticket closes.
   */
  question?: string;
  /** The knowledge-base entries nearest the question (ids), offered to the agent as answers. */
  suggestions?: string[];
  /** The kind of emergency, for urgent tickets. */
  urgent?: string;
  outcome?: TicketOutcome;
  /** The knowledge-base entry an agent sent as the answer. */
  answeredWith?: string;
}

/** The desk a ticket is in. */
export function deskOf(ticket: Pick<Ticket, 'desk'>): Desk {
  return ticket.desk ?? 'office';
}
