/**
 * The staff side of a handoff: where staff are told about tickets, how a citizen is reached
 * outside a webhook turn, and what staff can do (claim, reply, close). The Teams channel,
 * the LINE staff group and the outgoing webhook implement the notifier; LINE (push) and
 * the web chat (outbox) implement the messenger.
 */
import type { DateTime } from 'luxon';
import type { Reply } from '../turn.ts';
import type { Agent, Booking, Desk, Session, Ticket, TicketCard, TicketOutcome } from '../domain.ts';
import type { Attendance, AuditEntry, TicketTransition } from '../stores/ports.ts';
import type { UnansweredReport } from './reports.ts';

/** One place staff are told about tickets. Failures of one never block the others. */
export interface StaffNotifier {
  /** A short name for logs and `/readyz` (e.g. `teams`, `line-group`, `webhook`). */
  readonly name: string;
  /**
   * A new ticket. A notifier that posts a card (Teams) returns where it lives, so that the
   * card can be updated and its thread used for the relay.
   */
  ticketOpened(ticket: Ticket): Promise<{ conversationId: string; activityId: string } | void>;
  /** The ticket was claimed, closed or changed (question, category): update the card in place / tell the group. */
  ticketChanged(ticket: Ticket): Promise<void>;
  /**
   * The ticket moved to another desk (`ticket.desk`, open again): the old card shows where it
   * went, and a notifier that posts cards posts a new one for the new desk and returns where.
   * Optional: a notifier without it hears of the move as a change (`ticketChanged`).
   */
  ticketForwarded?(ticket: Ticket, forwarding: Forwarding): Promise<TicketCard | void>;
  /** The citizen wrote while the ticket is claimed: relay it into the ticket's thread. */
  citizenSaid(ticket: Ticket, text: string): Promise<void>;
  /** Something staff must fix before a message can go out (the office's channel). Optional. */
  alert?(alert: StaffAlert): Promise<void>;
}

/** What `stats` shows of one session: numbers only. */
export interface SessionStats {
  sessionId: string;
  date: string;
  booked: number;
  attended: number;
  noShows: number;
  cancelled: number;
  changed: number;
  invitations: number;
  waitlisted: number;
}

/**
 * Something staff must see: an online session without its meeting link, found when a
 * booking's invitation was due; or a message to a citizen that failed every attempt.
 */
export interface StaffAlert {
  kind: 'meeting_link_missing' | 'message_failed';
  sessionId: string;
  date: string;
  /** The booking whose invitation could not go. */
  reference: string;
}

/** Where a forwarded ticket came from, and who moved it when. */
export interface Forwarding {
  from: Desk;
  /** The card the ticket had in the old desk's channel, if one was posted. */
  card?: TicketCard;
  by: Agent;
  /** ISO time of the move. */
  at: string;
}

/** Reaches a citizen outside a webhook turn (LINE push; the web chat's outbox). */
export interface CitizenMessenger {
  /** True when this messenger can reach the given user key (by its channel prefix). */
  handles(userKey: string): boolean;
  /** Sends `replies`; `idempotencyKey` makes a retried delivery arrive once (LINE retry key). */
  deliver(userKey: string, replies: Reply[], idempotencyKey: string): Promise<void>;
  /**
   * The channel sends again what waits in a conversation's outbox (LINE's sweep), with retry
   * keys from the outbox entry's id: what staff said then survives a crash before the push.
   */
  readonly resumes?: boolean;
}

/**
 * What staff can do with tickets and bookings (used by the Teams channel). Each read of
 * personal data and each change is recorded in the audit trail with the staff id and the
 * records' ids; a read that cannot be recorded rejects.
 */
export interface StaffDesk {
  /** Open and claimed tickets, oldest first. */
  queue(): Promise<Ticket[]>;
  get(ticketId: string): Promise<Ticket | null>;
  /** The ticket whose Teams card is the root of `activityId`'s thread. */
  ticketOfCard(activityId: string): Promise<Ticket | null>;
  /** Claims atomically; on success the card is updated and the citizen is told. */
  claim(ticketId: string, agent: Agent, now: DateTime): Promise<TicketTransition>;
  /** Closes (with how it ended, when given); the card shows Closed and the citizen is told and gets the menu back. */
  close(ticketId: string, agent: Agent, now: DateTime, outcome?: TicketOutcome): Promise<TicketTransition>;
  /**
   * Sends the knowledge-base entry `entryId` to the citizen as the answer to their question
   * ("an answer from staff" and the entry's card), then closes the ticket as answered with
   * that entry and updates the card; the citizen gets no separate "closed" message. Anyone
   * may answer an open ticket; a claimed one only its claimer (`taken` otherwise). Rejects
   * when the answer could not be delivered (the ticket then stays as it was).
   */
  sendAnswer(ticketId: string, entryId: string, agent: Agent, now: DateTime): Promise<AnswerResult>;
  /**
   * Moves a ticket to another desk: open and unclaimed again in the new desk's queue, with a
   * new card in its channel; the old card shows it was forwarded. A claimed ticket is
   * forwarded by its claimer only (`taken` otherwise).
   */
  forward(ticketId: string, toDesk: Desk, agent: Agent, now: DateTime): Promise<ForwardResult>;
  /** Re-categorises an open or claimed ticket; the card is updated. Categories are those of `categories()`. */
  recategorise(ticketId: string, category: string, agent: Agent): Promise<RecategoriseResult>;
  /** The categories a ticket may be given: the knowledge base's, the services' and `general`. */
  categories(): readonly string[];
  /** Open and claimed contact-center tickets: high priority first, then oldest first; read by `staffId`. */
  triage(staffId: string): Promise<Ticket[]>;
  /**
   * The questions the bot could not answer, grouped, with what agents sent and the feedback
   * counts; `listed` in Teams (with the CSV link) or `exported` as the CSV, by `staffId`.
   */
  unanswered(staffId: string, purpose: 'listed' | 'exported'): Promise<UnansweredReport>;
  /**
   * Relays a staff message (plain text) to the citizen of a claimed ticket. `messageId` (the
   * Teams activity id) makes a retried delivery arrive once. Not `sent` when the ticket is
   * not claimed by this agent; `unsent` is the end of a message too long for a chat, which
   * was left out (empty when all of it went).
   */
  reply(ticketId: string, agent: Agent, text: string, messageId: string): Promise<{ sent: false } | { sent: true; unsent: string }>;
  /** Bookings of the sessions held on `date` (YYYY-MM-DD, JST), by session and slot; read by `staffId`. */
  bookingsOn(date: string, staffId: string, purpose?: 'listed' | 'exported'): Promise<Booking[]>;
  /** Records whether the citizen of an upcoming (or today's) booking came; the booking, or null when there is none. */
  markAttendance(reference: string, status: Attendance, agent: Agent, now: DateTime): Promise<Booking | null>;
  /** Sets the online meeting's link of a session of the catalog; false when there is no such session. */
  setMeetingLink(sessionId: string, url: string, agent: Agent, slotId?: string): Promise<boolean>;
  /** Booking id → when its day-before invitation went out (ms), over these sessions. */
  invitations(sessionIds: string[]): Promise<Map<string, number>>;
  /** The counts of each session of a date (YYYY-MM-DD) or of one session id; empty when there is none. */
  stats(target: string): Promise<SessionStats[]>;
  /** Bookings of one session, by slot; read by `staffId`. */
  bookingsOf(sessionId: string, staffId: string, purpose?: 'listed' | 'exported'): Promise<Booking[]>;
  /** The latest `n` audit entries, newest first; that `staffId` read them is recorded too. */
  recentAudit(n: number, staffId: string): Promise<AuditEntry[]>;
  /**
   * The booking with this reference among the sessions that have not yet taken place (JST
   * date on or after `now`'s), with its session; null when there is none. Lets staff check
   * what they are about to cancel. A booking found is recorded in the audit trail.
   */
  findBooking(reference: string, staffId: string, now: DateTime): Promise<StaffBooking | null>;
  /**
   * Cancels a booking by its reference, whoever holds it: a caller booked by an agent
   * (`phone:` key) or a citizen who booked on LINE or the web chat. Only sessions that have
   * not yet taken place count. The holder is NOT told: staff phone them. Returns the
   * cancelled booking, or null when there is no such booking (or it was cancelled first).
   */
  cancelBooking(reference: string, agent: Agent, now: DateTime): Promise<Booking | null>;
}

/** What `sendAnswer` did: the closed ticket, or why not (`no_entry`: no such knowledge-base entry). */
export type AnswerResult = TicketTransition | { ok: false; reason: 'no_entry'; ticket?: undefined };

/** What `forward` did: the moved ticket, or why not (`same_desk`: it is already there). */
export type ForwardResult = TicketTransition | { ok: false; reason: 'same_desk'; ticket: Ticket };

/** What `recategorise` did: the changed ticket, or why not (`unknown_category`). */
export type RecategoriseResult = TicketTransition | { ok: false; reason: 'unknown_category'; ticket?: undefined };

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
