/**
 * What dialogs may ask of the services. Dialogs depend on these interfaces only, so the
 * same dialog runs against memory in tests and Redis in production.
 */
import type { DateTime } from 'luxon';
import type { Booking, Localized, OfficeHours, Session, Slot, Ticket } from '../domain.ts';
import type { FaqResult } from './faq.ts';
import type { KnowledgeEntry } from './knowledge.ts';
import type { UrgentCategory } from './urgent.ts';

/** An open session and how many slots are still free in it. */
export interface SessionAvailability {
  session: Session;
  free: number;
}

/** A concrete slot to offer. */
export interface SlotOffer {
  session: Session;
  slot: Slot;
}

/**
 * Everything needed to book, collected by the booking dialog: a booking but for the
 * reference and time the service gives it.
 */
export type BookingDraft = Omit<Booking, 'id' | 'createdAt'> & {
  /** Whose hold becomes the booking when it is not `userKey` (an agent booking for a caller). */
  holderKey?: string;
};

/** Why a booking step failed, in domain words; `onFailure` in dialogs/booking.ts maps them to messages. */
export type BookingFailure = 'taken' | 'already_booked' | 'closed';

export type HoldOutcome = { ok: true; expiresAt: number } | { ok: false; reason: BookingFailure };
export type BookOutcome = { ok: true; booking: Booking } | { ok: false; reason: BookingFailure };

/** Booking as the dialogs see it: offers, holds, bookings and cancellations. */
export interface BookingPort {
  /** How long a hold keeps a slot for the citizen. */
  readonly holdMinutes: number;
  /** Sessions of the service whose booking window is open at `now`, by date, with free counts. */
  /** The service's sessions open for booking, with their free times (a hold of `holderKey`'s counts as free to them). */
  openSessions(serviceId: string, now: DateTime, holderKey?: string): Promise<SessionAvailability[]>;
  /** Slots of the session that are free (or held by this user), in time order. */
  freeSlots(sessionId: string, userKey: string, now: DateTime): Promise<Slot[]>;
  /**
   * Holds the slot for `userKey` (whoever holds: the person, see `Caller.personKey`),
   * replacing their hold in this session and dropping those in other sessions: one live
   * hold per person.
   */
  hold(sessionId: string, slotId: string, userKey: string, now: DateTime): Promise<HoldOutcome>;
  releaseHold(sessionId: string, userKey: string): Promise<void>;
  /** Books atomically, with a fresh unambiguous reference. */
  book(draft: BookingDraft, now: DateTime): Promise<BookOutcome>;
  /** Free slots nearest in time to the wanted one: same session first, then other open sessions. */
  nearestFree(sessionId: string, slotId: string, userKey: string, now: DateTime, limit: number): Promise<SlotOffer[]>;
  /** The user's bookings in sessions that have not yet taken place, by date. */
  upcomingFor(userKey: string, now: DateTime): Promise<Booking[]>;
  get(sessionId: string, bookingId: string): Promise<Booking | null>;
  /**
   * Cancels the user's booking while the session's booking window is open (`closed` after its
   * cut-off: changes then go through the office by phone); false when there is no such booking.
   */
  cancel(sessionId: string, bookingId: string, userKey: string, now: DateTime): Promise<boolean | 'closed'>;
  /**
   * Moves the citizen's booking to another free time of its session, in one step, up to the
   * booking cut-off (`closed` after it): `taken` when that time went to someone else (the
   * booking then stays where it was), `changed` when the booking is no longer as shown.
   */
  move(booking: Booking, toSlotId: string, now: DateTime): Promise<MoveOutcome>;
  /**
   * Moves the citizen's booking to a free time of another open session: the new booking is
   * made first (under a new reference), then the old one is cancelled. A move cut short
   * between the two is finished by `reconcileMoves`.
   */
  moveAcross(booking: Booking, toSessionId: string, toSlotId: string, holderKey: string, now: DateTime): Promise<MoveOutcome>;
  /** Finishes moves across sessions cut short (run by the app at start-up and every minute); how many. */
  reconcileMoves(now: DateTime): Promise<number>;
  /** Gives up the times held for the citizen where they have no booking (an offer from the waitlist); how many. */
  declineOffers(userKey: string, now: DateTime): Promise<number>;
  /** Puts the citizen on a full session's waitlist (counted for staff); their place, from 1. */
  joinWaitlist(sessionId: string, userKey: string, now: DateTime): Promise<number>;
  /** The citizen's place on each open session's waitlist they are on. */
  waitlistPlaces(serviceId: string, userKey: string, now: DateTime): Promise<{ session: Session; place: number }[]>;
  /** Until when the citizen may cancel a booking of this session themselves (the booking cut-off). */
  cancellableUntil(sessionId: string): DateTime | undefined;
  /**
   * Erases the user from every session: their holds go, their bookings in sessions still to
   * come are cancelled (the slots freed), those in past sessions are deleted and kept only as
   * a count per session.
   */
  eraseUser(userKey: string, now: DateTime): Promise<{ cancelled: number; counted: number }>;
}

/** What the booking rules tell of bookings written and cancelled (the messages after a booking). */
export interface BookingEvents {
  booked(booking: Booking, now: DateTime): Promise<void>;
  /**
   * The booking now has another time (`booking` as it is after the move); `from`, when it
   * moved to another session, is the booking it replaced there.
   */
  moved(booking: Booking, now: DateTime, from?: { sessionId: string; bookingId: string }): Promise<void>;
  cancelled(sessionId: string, bookingId: string): Promise<void>;
  /** A held time was given up (a waitlist offer declined): free for the next person. */
  released(sessionId: string, now: DateTime): Promise<void>;
}

export type MoveOutcome = { ok: true; booking: Booking } | { ok: false; reason: 'taken' | 'changed' | 'closed' | 'already_booked' };

/** Fields the caller supplies when opening a ticket. */
export type TicketRequest = Pick<Ticket, 'userKey' | 'channel' | 'locale' | 'reason' | 'priority' | 'category' | 'serviceId' | 'context'> &
  Partial<Pick<Ticket, 'desk' | 'question' | 'suggestions' | 'urgent'>> & {
    /** The person behind the conversation (`Caller.personKey`): whose hourly ticket budget it takes. Not stored. */
    personKey?: string;
  };

/** What `open` says instead of a ticket when the citizen opened too many this hour (TICKETS_PER_HOUR). */
export interface TicketsLimited {
  limited: true;
}

/** Reaching a person, as the dialogs see it. */
export interface HandoffPort {
  /**
   * Opens a ticket and tells staff. A failed notification never loses the ticket. An urgent
   * request always opens one; another is refused (no ticket, staff not told) when it would be
   * a new ticket beyond the user's hourly budget.
   */
  open(request: TicketRequest & { reason: 'urgent' }, now: DateTime): Promise<Ticket>;
  open(request: TicketRequest, now: DateTime): Promise<Ticket | TicketsLimited>;
  /** Relays the citizen's message into the ticket's staff thread; false when it could not reach staff. */
  relay(ticketId: string, text: string): Promise<boolean>;
  /** The citizen ends the conversation with staff. */
  end(ticketId: string, now: DateTime): Promise<void>;
  /**
   * Adds the question (given with the citizen's consent) to a ticket already open, e.g. the
   * one an urgent message opened; staff see it on the card. False when the ticket is closed.
   */
  attachQuestion(ticketId: string, question: string, suggestions: string[]): Promise<boolean>;
  /** Raises a ticket already waiting to high priority for an urgent message; the ticket as it now is. */
  escalate(ticketId: string, urgent: string): Promise<Ticket>;
  /**
   * Closes the user's open tickets and removes their question text and user key from all
   * their tickets; staff cards are updated. Returns how many tickets changed.
   */
  eraseUser(userKey: string, now: DateTime): Promise<number>;
}

/** What erasing a citizen's data did, in counts only (the staff's trace of it). */
export interface ErasureReport {
  /** Upcoming bookings cancelled, their slots freed. */
  cancelled: number;
  /** Past bookings deleted and kept only as an anonymous count. */
  counted: number;
  /** Tickets closed or stripped of the citizen's text. */
  tickets: number;
}

/** The citizen's right to have their data deleted, as the dialogs see it. */
export interface ErasurePort {
  /**
   * Erases everything kept of the user but their conversation record, which the engine
   * deletes after the turn (`TurnResult.forget`). Idempotent: a second run finds nothing.
   */
  eraseUser(userKey: string, now: DateTime): Promise<ErasureReport>;
}

/** The contact center as citizens are told of it. */
export interface ContactDesk {
  name: Localized;
  phone: string;
  hours: Localized;
  open: OfficeHours;
}

/** Typed questions, as the dialogs see them: answers, urgent messages, feedback. */
export interface KnowledgePort {
  /** The band the question falls in, with the entries it is nearest to. */
  match(text: string): FaqResult;
  entry(id: string): KnowledgeEntry | undefined;
  /** The emergency a message is about, checked before anything else. */
  urgent(text: string): UrgentCategory | undefined;
  /** True for text that reads as a question (a polite question ending), not as a name or a button's word. */
  looksLikeQuestion(text: string): boolean;
  /** Counts a "helpful" / "not helpful" tap (nothing about who tapped). */
  feedback(entryId: string, helpful: boolean): Promise<void>;
  /** How alike two questions are (0-1), for grouping the ones the bot could not answer. */
  similarity(a: string, b: string): number;
  /** Every entry, in the order of the data file. */
  entries(): readonly KnowledgeEntry[];
  readonly desk: ContactDesk;
}
