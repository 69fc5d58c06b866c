/**
 * Storage ports: one small interface per need. Each has an in-process implementation
 * (`memory.ts`) and a Redis one (`redis.ts`); `test/stores/contract.test.ts` holds both
 * to the same contract.
 */
import type { Agent, Booking, Ticket, TicketCard, TicketOutcome } from '../domain.ts';

/** A conversation's stored state with its revision, for compare-and-set saves. */
export interface StoredConversation {
  /** Revision of this record: 1 after the first save, +1 on every save. */
  rev: number;
  state: unknown;
  /** The outbox: entries (as saved) whose delivery is not confirmed yet, in no order; absent when empty. */
  outbox?: unknown[];
}

/**
 * What a save does to the conversation's outbox. Its entries are kept beside the state, not
 * in it, so that marking one delivered is a small write that needs no compare-and-set.
 */
export interface OutboxChange {
  /** A new entry, under its id. */
  add?: { id: string; entry: unknown };
  /** Ids of entries to drop. */
  drop?: string[];
  /** When the oldest entry left was saved (ms since epoch); undefined: none is left. */
  unsentSince?: number;
}

/** Conversation state per user and channel. */
export interface ConversationStore {
  load(key: string): Promise<StoredConversation | null>;
  /**
   * `load` that also counts one turn of the conversation in a fixed window of `windowMs`
   * (from the first turn counted in it), kept beside the state so that the count costs no
   * round trip of its own: the record, and the turns of the window so far, this one included.
   * It counts for a key with no record too; `delete` forgets the count with the record.
   */
  loadCounting(key: string, nowMs: number, windowMs: number): Promise<{ stored: StoredConversation | null; turns: number }>;
  /**
   * Compare-and-set: writes `state` as revision `expectedRev + 1` only when the stored
   * revision is `expectedRev` (0 = no record). Returns false, writing nothing, otherwise.
   * The record expires `ttlMs` after the save.
   *
   * `outbox` changes the outbox in the same step (without it, the outbox stays as it is); a
   * conversation whose outbox is left with entries is listed by `unsent`.
   */
  save(key: string, expectedRev: number, state: unknown, ttlMs: number, outbox?: OutboxChange): Promise<boolean>;
  /** Drops outbox entry `id` (its replies were delivered); with none left, `unsent` stops listing it. */
  delivered(key: string, id: string): Promise<void>;
  delete(key: string): Promise<void>;
  /**
   * Keys of conversations saved with undelivered replies older than `beforeMs`, oldest first,
   * at most `limit`. May name a conversation that has expired since (its load is then null).
   */
  unsent(beforeMs: number, limit: number): Promise<string[]>;
}

/** Marks of events already seen (LINE `webhookEventId`, Teams activity id). */
export interface DedupeStore {
  /** True the first time `id` is claimed within `ttlMs`; false for a repeat. */
  claim(id: string, ttlMs: number): Promise<boolean>;
  /** Forgets a claim, so that a redelivery of a failed event runs again. */
  release(id: string): Promise<void>;
}

/** Live occupancy of one session at a moment. */
export interface Occupancy {
  /** Slot ids that hold a booking. */
  booked: Set<string>;
  /** Slot id → user key, for holds that have not expired. */
  held: Map<string, string>;
}

export type HoldResult =
  | { ok: true; expiresAt: number }
  | { ok: false; reason: 'taken' | 'already_booked' };

export type ConfirmResult =
  | { ok: true; booking: Booking }
  | { ok: false; reason: 'taken' | 'already_booked' | 'id_collision' };

/**
 * Slots, holds and bookings. Every method that changes occupancy is atomic: in Redis one
 * Lua script over keys of one session (one hash slot), in memory synchronous code.
 */
export interface BookingStore {
  occupancy(sessionId: string, nowMs: number): Promise<Occupancy>;
  /**
   * Holds `slotId` for `userKey` until `nowMs + ttlMs`. Fails with `taken` when the slot is
   * booked or held by someone else, with `already_booked` when the user has a booking in
   * the session. A user holds at most one slot per session: a new hold replaces the old.
   * Holding the slot one already holds extends it, but never to more than `maxMs` after the
   * user first took it, so that re-picking the same time cannot keep a slot for ever.
   */
  hold(sessionId: string, slotId: string, userKey: string, nowMs: number, ttlMs: number, maxMs: number): Promise<HoldResult>;
  /** Drops the user's hold in the session, if any. */
  releaseHold(sessionId: string, userKey: string): Promise<void>;
  /**
   * Turns the user's hold (or, if it expired, the still-free slot) into `booking`.
   * Fails with `taken` when someone else booked or holds the slot, `already_booked` when the
   * user has another booking in the session, `id_collision` when `booking.id` is in use.
   * Idempotent: confirming the same user's same slot again returns the existing booking.
   * `holderKey` (default `booking.userKey`) is whose hold is turned into the booking: an
   * agent booking for a caller holds under their own key, while one-booking-per-person is
   * checked on `booking.userKey` (the caller's phone number).
   */
  confirm(booking: Booking, nowMs: number, holderKey?: string): Promise<ConfirmResult>;
  get(sessionId: string, bookingId: string): Promise<Booking | null>;
  /** The user's bookings among the given sessions, in the order of `sessionIds`. */
  findByUser(userKey: string, sessionIds: string[]): Promise<Booking[]>;
  /** All bookings of a session, by slot. */
  listSession(sessionId: string): Promise<Booking[]>;
  /**
   * Forgets everything of the session (slots, holds, bookings with their contact details)
   * at `atMs`: personal data is kept no longer than the office needs it.
   */
  expireSession(sessionId: string, atMs: number): Promise<void>;
  /** Cancels the booking if it belongs to `userKey`; frees its slot. False if not found. */
  cancel(sessionId: string, bookingId: string, userKey: string): Promise<boolean>;
  /**
   * Moves `booking` (as stored, owned by its `userKey`) to `toSlotId` of its session in one
   * step: the old slot is freed only if the new one is taken. Fails with `taken` when the new
   * slot is booked or held by someone else (`holderKey`, default the owner, may hold it), and
   * with `changed` when the stored booking is no longer the one given (cancelled, moved).
   */
  move(booking: Booking, toSlotId: string, nowMs: number, holderKey?: string): Promise<MoveResult>;
  /**
   * Forgets the user in the session, for their request to erase their data: drops their hold,
   * deletes their booking and frees its slot; with `count`, the booking is kept only as one
   * more in the session's anonymous count (`erasedCount`). True when a booking was deleted.
   */
  forgetUser(sessionId: string, userKey: string, count: boolean): Promise<boolean>;
  /** Adds to one of the session's counters (what `stats` shows); they expire with the session. */
  count(sessionId: string, counter: SessionCounter, by?: number): Promise<void>;
  /** The session's counters (absent ones are 0). */
  counters(sessionId: string): Promise<Record<SessionCounter, number>>;
  /**
   * Records whether the citizen came; with `onlyIfUnmarked`, a mark already there stands (the
   * automatic no-show never overrides staff). True when written.
   */
  markAttendance(sessionId: string, bookingId: string, status: Attendance, onlyIfUnmarked: boolean): Promise<boolean>;
  /** Booking id → attendance, for the session's marked bookings. */
  attendance(sessionId: string): Promise<Map<string, Attendance>>;
  /** Puts `userKey` on the session's waitlist (once; joining again keeps the place); their place, from 1. */
  joinWaitlist(sessionId: string, userKey: string, atMs: number): Promise<number>;
  /** The user's place on the session's waitlist, from 1, or undefined. */
  waitlistPlace(sessionId: string, userKey: string): Promise<number | undefined>;
  /** Takes the first person off the session's waitlist (the one a freed slot is offered to). */
  nextWaiting(sessionId: string): Promise<string | undefined>;
  /** Records that the booking's day-before invitation went out at `atMs`. */
  markInvited(sessionId: string, bookingId: string, atMs: number): Promise<void>;
  /** Booking id → when its invitation went out (ms), for the session's invited bookings. */
  invited(sessionId: string): Promise<Map<string, number>>;
  /** How many bookings of the session were erased and counted by `forgetUser`: a number, nothing about whose. */
  erasedCount(sessionId: string): Promise<number>;
}

/** Outcome of an atomic ticket transition (claim, close). */
export type TicketTransition =
  | { ok: true; ticket: Ticket }
  | { ok: false; reason: 'not_found' | 'taken' | 'closed'; ticket?: Ticket };

/** Fields of a ticket that change after it is opened (consent given, re-categorised, forwarded). */
export type TicketPatch = Partial<Pick<Ticket, 'question' | 'suggestions' | 'category' | 'priority' | 'desk' | 'urgent'>> & {
  /** Back to `open` and unclaimed, as when an agent forwards it to another desk. */
  reopen?: boolean;
};

/** What a close records beside who and when. */
export interface TicketClosing {
  outcome?: TicketOutcome;
  answeredWith?: string;
}

/** Tickets for humans (handoff requests, unsure screening answers, inquiries, urgent messages). */
export interface TicketStore {
  create(ticket: Ticket): Promise<void>;
  get(id: string): Promise<Ticket | null>;
  /** Tickets not yet closed (open or claimed), oldest first. */
  listOpen(): Promise<Ticket[]>;
  /**
   * Atomically claims an open ticket for `agent`. Fails with `taken` (and the ticket, to
   * say by whom) when someone claimed it first, `closed` when it is closed.
   * Claiming a ticket one already holds succeeds again.
   */
  claim(id: string, agent: Agent, at: string): Promise<TicketTransition>;
  /** Atomically closes a ticket that is not closed yet (`closed` otherwise), with how it ended. */
  close(id: string, by: Agent | 'citizen', at: string, closing?: TicketClosing): Promise<TicketTransition>;
  /** Atomically changes a ticket that is not closed; `not_found` or `closed` otherwise. */
  update(id: string, patch: TicketPatch): Promise<TicketTransition>;
  /** Every ticket kept (open, claimed and closed ones not yet purged), oldest first. */
  listAll(): Promise<Ticket[]>;
  /**
   * Forgets tickets closed before `beforeMs` (with the question text they hold); returns
   * how many. Run periodically: what a citizen asked is kept no longer than configured.
   */
  purgeClosed(beforeMs: number): Promise<number>;
  /** Records where the ticket's staff card lives; the ticket is then found by its card. */
  setCard(id: string, card: TicketCard): Promise<void>;
  /** The ticket whose staff card is `activityId` (a thread's root). */
  findByCard(activityId: string): Promise<Ticket | null>;
  /** The user's latest ticket that is not closed. */
  activeFor(userKey: string): Promise<Ticket | null>;
  /**
   * For the user's request to erase their data: closes their tickets not closed yet (by the
   * citizen, at `at`) and removes from all their tickets what they wrote and who they are
   * (question, suggestions; the user key becomes `ERASED_USER`). The tickets then expire
   * with `purgeClosed` like any closed one. Returns the tickets changed, as now stored.
   */
  eraseUser(userKey: string, at: string): Promise<Ticket[]>;
}

/** The user key of a ticket whose citizen had their data erased. */
export const ERASED_USER = 'erased';

/** A conversation reference the bot keeps to write proactively (the Teams staff channel). */
export interface ChannelRecord {
  /** The channel's conversation reference, as the Teams SDK gives it (opaque here). */
  reference: unknown;
  /** `broken` after Teams answered 403/404 (bot removed or blocked); `reason` says which. */
  status: 'ok' | 'broken';
  reason?: string;
  updatedAt: string;
}

/** Named channel records (e.g. `staff`). */
export interface ChannelStore {
  get(name: string): Promise<ChannelRecord | null>;
  put(name: string, record: ChannelRecord): Promise<void>;
}

/** "Helpful" / "not helpful" taps per knowledge-base entry: counts only, nothing about who. */
export interface FeedbackStore {
  record(entryId: string, helpful: boolean): Promise<void>;
  /** Entry id → counts, for the entries that have any. */
  counts(): Promise<Map<string, { helpful: number; unhelpful: number }>>;
}

/** What a staff member did that the audit trail records. */
export type AuditAction =
  | 'bookings.listed'
  /** The office's list of a date or session, downloaded as CSV. */
  | 'bookings.exported'
  /** `link <session> <url>`: the online meeting's link of a session. */
  | 'session.link_set'
  /** `attended` / `noshow <reference>`: whether the citizen came. */
  | 'booking.marked'
  /** `cancel <reference>`: the booking's card, with the holder's contact details, before any cancel. */
  | 'booking.looked_up'
  | 'booking.cancelled'
  | 'ticket.claimed'
  | 'ticket.closed'
  | 'ticket.forwarded'
  | 'ticket.answered'
  /** A ticket's card (with its question) was posted or refreshed in a channel. */
  | 'ticket.shown'
  /** `triage`: the contact center's open tickets, with their questions. */
  | 'tickets.listed'
  /** `unanswered`: the report of questions, with a link to its CSV. */
  | 'unanswered.listed'
  /** The unanswered questions CSV, downloaded through a staff member's link. */
  | 'unanswered.exported'
  | 'audit.listed'
  /** A citizen deleted their data (staff `citizen`); records: how many bookings and tickets, no ids. */
  | 'privacy.erased';

/**
 * One audited staff access. It names people by staff id only and records by their ids:
 * never a citizen's name, phone, email or question.
 */
export interface AuditEntry {
  /** ISO time of the access. */
  at: string;
  /** The staff member's AAD object id, or `channel:<name>` for a card shown to a whole channel. */
  staff: string;
  action: AuditAction;
  /** Ids of the records touched: booking references, ticket ids, session ids, dates. */
  records: string[];
}

/**
 * The staff access audit trail: append-only, oldest entries dropped beyond a cap (in Redis
 * approximately, never fewer than the cap kept).
 */
export interface AuditStore {
  append(entry: AuditEntry): Promise<void>;
  /** The latest `n` entries, newest first. */
  recent(n: number): Promise<AuditEntry[]>;
}

/**
 * Which bot processes are running: each renews its own mark while it runs. An answer saved by
 * a process that is gone will never be sent by it; one saved by a live process may be on its way.
 */
export interface InstanceStore {
  /** Marks instance `id` alive for the next `ttlMs`. */
  beat(id: string, ttlMs: number): Promise<void>;
  /** The ones of `ids` whose mark has not expired. */
  alive(ids: string[]): Promise<Set<string>>;
  /** Drops the mark of a process that is stopping. */
  forget(id: string): Promise<void>;
}

/** A booking being moved to another session: the new one is made first, then the old one goes. */
export interface MoveIntent {
  from: { sessionId: string; bookingId: string };
  to: { sessionId: string; bookingId: string };
  /** When the move began (ms since epoch). */
  at: number;
}

/**
 * Moves across sessions under way, one per user key, so that one cut short (a crash between
 * making the new booking and cancelling the old) can be finished or dropped later. Ids only.
 */
export interface MoveIntentStore {
  begin(userKey: string, intent: MoveIntent): Promise<void>;
  end(userKey: string): Promise<void>;
  /** Every move under way, by user key. */
  list(): Promise<[string, MoveIntent][]>;
}

/** Meeting links staff set per session or per slot (over the catalog's `meetingUrl`). */
export interface MeetingLinkStore {
  /** With `slotId`, the link of that time only. */
  set(sessionId: string, url: string, slotId?: string): Promise<void>;
  /** The slot's own link, else the session's. */
  get(sessionId: string, slotId?: string): Promise<string | undefined>;
}

/** Citizens who blocked the account (LINE unfollow): they get no reminders; their bookings stay. */
export interface OptOutStore {
  add(userKey: string): Promise<void>;
  remove(userKey: string): Promise<void>;
  has(userKey: string): Promise<boolean>;
}

export type SessionCounter = 'cancelled' | 'changed' | 'invitations' | 'waitlisted';
export const SESSION_COUNTERS: readonly SessionCounter[] = ['cancelled', 'changed', 'invitations', 'waitlisted'];
export type Attendance = 'attended' | 'no_show';

export type MoveResult = { ok: true; booking: Booking } | { ok: false; reason: 'taken' | 'changed' };

/** Everything the bot keeps, behind one handle. */
export interface Store {
  kind: 'memory' | 'redis';
  conversations: ConversationStore;
  instances: InstanceStore;
  optOuts: OptOutStore;
  moves: MoveIntentStore;
  meetingLinks: MeetingLinkStore;
  dedupe: DedupeStore;
  bookings: BookingStore;
  tickets: TicketStore;
  channels: ChannelStore;
  feedback: FeedbackStore;
  audit: AuditStore;
  /** Resolves when the backing store answers; rejects otherwise. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
