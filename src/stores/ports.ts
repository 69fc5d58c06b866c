/**
 * Storage ports: one small interface per need. Each has an in-process implementation
 * (`memory.ts`) and a Redis one (`redis.ts`); `test/stores/contract.test.ts` holds both
 * to the same contract.
 */
import type { Booking, Ticket } from '../domain.ts';

/** A conversation's stored state with its revision, for compare-and-set saves. */
export interface StoredConversation {
  /** Revision of this record: 1 after the first save, +1 on every save. */
  rev: number;
  state: unknown;
}

/** Conversation state per user and channel. */
export interface ConversationStore {
  load(key: string): Promise<StoredConversation | null>;
  /**
   * Compare-and-set: writes `state` as revision `expectedRev + 1` only when the stored
   * revision is `expectedRev` (0 = no record). Returns false, writing nothing, otherwise.
   * The record expires `ttlMs` after the save.
   */
  save(key: string, expectedRev: number, state: unknown, ttlMs: number): Promise<boolean>;
  delete(key: string): Promise<void>;
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
   * Holding the slot one already holds extends it.
   */
  hold(sessionId: string, slotId: string, userKey: string, nowMs: number, ttlMs: number): Promise<HoldResult>;
  /** Drops the user's hold in the session, if any. */
  releaseHold(sessionId: string, userKey: string): Promise<void>;
  /**
   * Turns the user's hold (or, if it expired, the still-free slot) into `booking`.
   * Fails with `taken` when someone else booked or holds the slot, `already_booked` when the
   * user has another booking in the session, `id_collision` when `booking.id` is in use.
   * Idempotent: confirming the same user's same slot again returns the existing booking.
   */
  confirm(booking: Booking, nowMs: number): Promise<ConfirmResult>;
  get(sessionId: string, bookingId: string): Promise<Booking | null>;
  /** The user's bookings among the given sessions, in the order of `sessionIds`. */
  findByUser(userKey: string, sessionIds: string[]): Promise<Booking[]>;
  /** All bookings of a session, by slot. */
  listSession(sessionId: string): Promise<Booking[]>;
  /** Cancels the booking if it belongs to `userKey`; frees its slot. False if not found. */
  cancel(sessionId: string, bookingId: string, userKey: string): Promise<boolean>;
}

/** Tickets for humans (handoff requests, unsure screening answers). */
export interface TicketStore {
  create(ticket: Ticket): Promise<void>;
  get(id: string): Promise<Ticket | null>;
  /** Open tickets, oldest first. */
  listOpen(): Promise<Ticket[]>;
}

/** Everything the bot keeps, behind one handle. */
export interface Store {
  kind: 'memory' | 'redis';
  conversations: ConversationStore;
  dedupe: DedupeStore;
  bookings: BookingStore;
  tickets: TicketStore;
  /** Resolves when the backing store answers; rejects otherwise. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
