/**
 * The staff side of a handoff: where staff are told about tickets, how a citizen is reached
 * outside a webhook turn, and what staff can do (claim, reply, close). The Teams channel,
 * the LINE staff group and the outgoing webhook implement the notifier; LINE (push) and
 * the web chat (outbox) implement the messenger.
 */
import type { DateTime } from 'luxon';
import type { Reply } from '../turn.ts';
import type { Agent, Booking, Session, Ticket } from '../domain.ts';
import type { TicketTransition } from '../stores/ports.ts';

/** One place staff are told about tickets. Failures of one never block the others. */
export interface StaffNotifier {
  /** A short name for logs and `/readyz` (e.g. `teams`, `line-group`, `webhook`). */
  readonly name: string;
  /**
   * A new ticket. A notifier that posts a card (Teams) returns where it lives, so that the
   * card can be updated and its thread used for the relay.
   */
  ticketOpened(ticket: Ticket): Promise<{ conversationId: string; activityId: string } | void>;
  /** The ticket was claimed or closed: update the card in place / tell the group. */
  ticketChanged(ticket: Ticket): Promise<void>;
  /** The citizen wrote while the ticket is claimed: relay it into the ticket's thread. */
  citizenSaid(ticket: Ticket, text: string): Promise<void>;
}

/** Reaches a citizen outside a webhook turn (LINE push; the web chat's outbox). */
export interface CitizenMessenger {
  /** True when this messenger can reach the given user key (by its channel prefix). */
  handles(userKey: string): boolean;
  /** Sends `replies`; `idempotencyKey` makes a retried delivery arrive once (LINE retry key). */
  deliver(userKey: string, replies: Reply[], idempotencyKey: string): Promise<void>;
}

/** What staff can do with tickets and bookings (used by the Teams channel). */
export interface StaffDesk {
  /** Open and claimed tickets, oldest first. */
  queue(): Promise<Ticket[]>;
  get(ticketId: string): Promise<Ticket | null>;
  /** The ticket whose Teams card is the root of `activityId`'s thread. */
  ticketOfCard(activityId: string): Promise<Ticket | null>;
  /** Claims atomically; on success the card is updated and the citizen is told. */
  claim(ticketId: string, agent: Agent, now: DateTime): Promise<TicketTransition>;
  /** Closes; the card shows Closed and the citizen is told and gets the menu back. */
  close(ticketId: string, agent: Agent, now: DateTime): Promise<TicketTransition>;
  /**
   * Relays a staff message to the citizen of a claimed ticket. `messageId` (the Teams
   * activity id) makes a retried delivery arrive once. False when the ticket is not
   * claimed by this agent.
   */
  reply(ticketId: string, agent: Agent, text: string, messageId: string): Promise<boolean>;
  /** Bookings of the sessions held on `date` (YYYY-MM-DD, JST), by session and slot. */
  bookingsOn(date: string): Promise<Booking[]>;
  /** Bookings of one session, by slot. */
  bookingsOf(sessionId: string): Promise<Booking[]>;
  /**
   * The booking with this reference among the sessions that have not yet taken place (JST
   * date on or after `now`'s), with its session; null when there is none. Lets staff check
   * what they are about to cancel.
   */
  findBooking(reference: string, now: DateTime): Promise<StaffBooking | null>;
  /**
   * Cancels a booking by its reference, whoever holds it: a caller booked by an agent
   * (`phone:` key) or a citizen who booked on LINE or the web chat. Only sessions that have
   * not yet taken place count. The holder is NOT told: staff phone them. Returns the
   * cancelled booking, or null when there is no such booking (or it was cancelled first).
   */
  cancelBooking(reference: string, agent: Agent, now: DateTime): Promise<Booking | null>;
}

/** A booking as staff look it up: with its session, for the day and place. */
export interface StaffBooking {
  booking: Booking;
  session: Session;
}

/** Names the notifier failures so that `/readyz` can show them. */
export interface NotifierHealth {
  /** Notifier name → `ok` or a short reason (e.g. `broken:403`). */
  status(): Promise<Record<string, string>>;
}

/** A notifier for a bot with no staff channel configured: tickets wait in the store's queue. */
export const NO_STAFF_NOTIFIER: StaffNotifier = {
  name: 'none',
  ticketOpened: async () => undefined,
  ticketChanged: async () => undefined,
  citizenSaid: async () => undefined,
};
