/**
 * Helpers both stores use, so that the memory store orders and expires exactly as the
 * Redis store does (`test/stores/contract.test.ts` holds them to one contract).
 */
import type { Booking, Ticket } from '../domain.ts';

/**
 * Redis rejects a zero PX/PEXPIRE and rounds to whole milliseconds; clamping the same way
 * here keeps both stores' expiry identical.
 */
export function ttlOf(ttlMs: number): number {
  return Math.max(1, Math.ceil(ttlMs));
}

/** Bookings sorted by slot id (`HHmm`, so lexical order is time order). */
export function bySlot(bookings: Booking[]): Booking[] {
  return bookings.sort((a, b) => compare(a.slotId, b.slotId));
}

/**
 * The sorted-set score of a ticket: `createdAt` in epoch ms, 0 when unparsable so a bad
 * timestamp cannot make Redis reject the ticket.
 */
export function ticketScore(ticket: Ticket): number {
  const ms = Date.parse(ticket.createdAt);
  return Number.isFinite(ms) ? ms : 0;
}

/** Tickets oldest first, ties by id: the order of a Redis sorted set scored by `ticketScore`. */
export function oldestFirst(tickets: Ticket[]): Ticket[] {
  return tickets.sort((a, b) => ticketScore(a) - ticketScore(b) || compare(a.id, b.id));
}

/** How many audit entries a store keeps unless told otherwise (`AUDIT_MAX_ENTRIES`). */
export const DEFAULT_AUDIT_CAP = 100_000;

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
