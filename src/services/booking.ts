import type { DateTime } from 'luxon';
import type { Booking, Session, Slot } from '../domain.ts';
import type { BookingStore, MoveIntentStore } from '../stores/ports.ts';
import { bookingWindow, isBookingOpen, parseIsoDate, slotStart, slotsOf } from './calendar.ts';
import { type Catalog, openSessions, serviceById, sessionById, upcomingSessions } from './catalog.ts';
import { errorFields, type Logger } from '../log.ts';
import type { BookingMetrics } from '../metrics.ts';
import type {
  BookingDraft,
  BookingEvents,
  BookingPort,
  BookOutcome,
  HoldOutcome,
  MoveOutcome,
  SessionAvailability,
  SlotOffer,
} from './ports.ts';
import { newReference } from './reference.ts';

/** A move's note younger than this may belong to a move still under way: reconciliation leaves it. */
const MOVE_SETTLE_MS = 60_000;

/** Attempts at a fresh reference before giving up; a clash is already ~1 in 10^10. */
const REFERENCE_ATTEMPTS = 5;

/**
 * Booking rules on top of the store: only sessions whose window is open, only free slots,
 * holds that expire, and references that are unique. The store makes each change atomic;
 * this class decides what to offer and what to ask of it.
 */
export class BookingService implements BookingPort {
  readonly holdMinutes: number;
  private readonly store: BookingStore;
  private readonly moves: MoveIntentStore;
  private readonly catalog: Catalog;

  private readonly retentionDays: number;
  private readonly holdMaxMinutes: number;
  private readonly events: BookingEvents | undefined;
  private readonly log: Logger | undefined;
  private readonly metrics: BookingMetrics | undefined;

  /**
   * `retentionDays`: how long after a session its bookings (contact details) are kept;
   * `holdMaxMinutes`: how long after it was first taken a renewed hold may last; `events`
   * hears of bookings written and cancelled (the messages after a booking), and a failure
   * there is logged, never the booking's; `metrics` counts holds and bookings made, cancelled and moved.
   */
  constructor(
    store: BookingStore,
    moves: MoveIntentStore,
    catalog: Catalog,
    holdMinutes: number,
    retentionDays = 30,
    holdMaxMinutes = 2 * holdMinutes,
    listener?: { events: BookingEvents; log: Logger },
    metrics?: BookingMetrics,
  ) {
    this.store = store;
    this.moves = moves;
    this.catalog = catalog;
    this.holdMinutes = holdMinutes;
    this.retentionDays = retentionDays;
    this.holdMaxMinutes = holdMaxMinutes;
    this.events = listener?.events;
    this.log = listener?.log;
    this.metrics = metrics;
  }

  /** Tells the listener; its failure is logged (the booking stands, and so does the cancel). */
  private async tell(what: string, call: (events: BookingEvents) => Promise<void>): Promise<void> {
    if (!this.events) return;
    await call(this.events).catch((err) => this.log?.error('booking.events_failed', { what, ...errorFields(err) }));
  }

  async openSessions(serviceId: string, now: DateTime, holderKey?: string): Promise<SessionAvailability[]> {
    const service = serviceById(this.catalog, serviceId);
    if (!service) return [];
    const total = slotsOf(service).length;
    const sessions = openSessions(this.catalog, serviceId, now);
    return Promise.all(
      sessions.map(async (session) => {
        const { booked, held } = await this.store.occupancy(session.id, now.toMillis());
        const heldByOthers = [...held].filter(([, holder]) => holder !== holderKey).map(([slot]) => slot);
        const taken = new Set([...booked, ...heldByOthers]);
        return { session, free: total - taken.size };
      }),
    );
  }

  async freeSlots(sessionId: string, userKey: string, now: DateTime): Promise<Slot[]> {
    const found = this.lookup(sessionId);
    if (!found || !isBookingOpen(found.session, found.service, now)) return [];
    const { booked, held } = await this.store.occupancy(sessionId, now.toMillis());
    return slotsOf(found.service).filter((slot) => {
      const holder = held.get(slot.id);
      return !booked.has(slot.id) && (holder === undefined || holder === userKey);
    });
  }

  async hold(sessionId: string, slotId: string, userKey: string, now: DateTime): Promise<HoldOutcome> {
    if (!this.isOpenSlot(sessionId, slotId, now)) return { ok: false, reason: 'closed' };
    const held = await this.store.hold(sessionId, slotId, userKey, now.toMillis(), this.holdMinutes * 60_000, this.holdMaxMinutes * 60_000);
    this.metrics?.hold(held.ok ? 'held' : held.reason);
    // One live hold per person: the holds they had in other sessions go.
    if (held.ok) {
      const others = upcomingSessions(this.catalog, now).filter((s) => s.id !== sessionId);
      await Promise.all(others.map((s) => this.store.releaseHold(s.id, userKey)));
    }
    return held;
  }

  releaseHold(sessionId: string, userKey: string): Promise<void> {
    return this.store.releaseHold(sessionId, userKey);
  }

  async book(draft: BookingDraft, now: DateTime): Promise<BookOutcome> {
    if (!this.isOpenSlot(draft.sessionId, draft.slotId, now)) return { ok: false, reason: 'closed' };
    const { holderKey, ...fields } = draft;
    for (let attempt = 0; attempt < REFERENCE_ATTEMPTS; attempt++) {
      const booking: Booking = { ...fields, id: newReference(), createdAt: now.toUTC().toISO()! };
      const result = await this.store.confirm(booking, now.toMillis(), holderKey ?? booking.userKey);
      if (result.ok) {
        // A retried confirm returns the first booking: only a new one counts.
        if (result.booking.id === booking.id) this.metrics?.booking('made');
        await this.keepUntilRetention(booking.sessionId);
        // The booking returned (a retried confirm returns the first one): its messages are scheduled once, by id.
        await this.tell('booked', (events) => events.booked(result.booking, now));
      }
      if (result.ok || result.reason !== 'id_collision') return result as BookOutcome;
    }
    throw new Error('no free booking reference after several attempts');
  }

  async nearestFree(
    sessionId: string,
    slotId: string,
    userKey: string,
    now: DateTime,
    limit: number,
  ): Promise<SlotOffer[]> {
    const wanted = this.lookup(sessionId);
    if (!wanted) return [];
    const wantedSlot = slotsOf(wanted.service).find((s) => s.id === slotId);
    const anchor = wantedSlot ? slotStart(wanted.session, wantedSlot).toMillis() : now.toMillis();
    const distance = (offer: SlotOffer): number => Math.abs(slotStart(offer.session, offer.slot).toMillis() - anchor);

    const sameSession = (await this.freeSlots(sessionId, userKey, now)).map((slot) => ({ session: wanted.session, slot }));
    const offers = sameSession.sort((a, b) => distance(a) - distance(b)).slice(0, limit);
    if (offers.length >= limit) return offers;

    for (const { session } of await this.openSessions(wanted.service.id, now)) {
      if (session.id === sessionId) continue;
      const slots = await this.freeSlots(session.id, userKey, now);
      offers.push(...slots.map((slot) => ({ session, slot })).sort((a, b) => distance(a) - distance(b)).slice(0, limit - offers.length));
      if (offers.length >= limit) break;
    }
    return offers;
  }

  async upcomingFor(userKey: string, now: DateTime): Promise<Booking[]> {
    const sessionIds = upcomingSessions(this.catalog, now).map((s) => s.id);
    return this.store.findByUser(userKey, sessionIds);
  }

  get(sessionId: string, bookingId: string): Promise<Booking | null> {
    return this.store.get(sessionId, bookingId);
  }

  async declineOffers(userKey: string, now: DateTime): Promise<number> {
    let released = 0;
    for (const session of upcomingSessions(this.catalog, now)) {
      const { held } = await this.store.occupancy(session.id, now.toMillis());
      if (![...held.values()].includes(userKey)) continue;
      if ((await this.store.findByUser(userKey, [session.id])).length > 0) continue;
      await this.store.releaseHold(session.id, userKey);
      released++;
      await this.tell('released', (events) => events.released(session.id, now));
    }
    return released;
  }

  async joinWaitlist(sessionId: string, userKey: string, now: DateTime): Promise<number> {
    const already = await this.store.waitlistPlace(sessionId, userKey);
    const place = await this.store.joinWaitlist(sessionId, userKey, now.toMillis());
    if (already === undefined) {
      await this.store.count(sessionId, 'waitlisted');
      await this.keepUntilRetention(sessionId);
    }
    return place;
  }

  async waitlistPlaces(serviceId: string, userKey: string, now: DateTime): Promise<{ session: Session; place: number }[]> {
    const places = await Promise.all(openSessions(this.catalog, serviceId, now).map(async (session) => ({ session, place: await this.store.waitlistPlace(session.id, userKey) })));
    return places.filter((p): p is { session: Session; place: number } => p.place !== undefined);
  }

  cancellableUntil(sessionId: string): DateTime | undefined {
    const found = this.lookup(sessionId);
    return found && bookingWindow(found.session, found.service).closesAt;
  }

  async move(booking: Booking, toSlotId: string, now: DateTime): Promise<MoveOutcome> {
    const until = this.cancellableUntil(booking.sessionId);
    if (until && now >= until) return { ok: false, reason: 'closed' };
    const found = this.lookup(booking.sessionId);
    if (!found || !slotsOf(found.service).some((s) => s.id === toSlotId)) return { ok: false, reason: 'taken' };
    const moved = await this.store.move(booking, toSlotId, now.toMillis());
    if (moved.ok) {
      this.metrics?.booking('moved');
      await this.tell('moved', (events) => events.moved(moved.booking, now));
    }
    return moved;
  }

  async moveAcross(booking: Booking, toSessionId: string, toSlotId: string, holderKey: string, now: DateTime): Promise<MoveOutcome> {
    const until = this.cancellableUntil(booking.sessionId);
    if (until && now >= until) return { ok: false, reason: 'closed' };
    if (!this.isOpenSlot(toSessionId, toSlotId, now)) return { ok: false, reason: 'taken' };
    const current = await this.store.get(booking.sessionId, booking.id);
    if (!current || current.userKey !== booking.userKey) return { ok: false, reason: 'changed' };
    const target = this.lookup(toSessionId)!;
    const next: Booking = { ...current, id: newReference(), sessionId: toSessionId, serviceId: target.service.id, slotId: toSlotId, createdAt: now.toUTC().toISO()! };
    // Written before the first step: a crash after it leaves a note that says what to finish.
    await this.moves.begin(booking.userKey, { from: { sessionId: booking.sessionId, bookingId: booking.id }, to: { sessionId: toSessionId, bookingId: next.id }, at: now.toMillis() });
    const made = await this.store.confirm(next, now.toMillis(), holderKey);
    if (made.ok) await this.keepUntilRetention(toSessionId);
    if (!made.ok || made.booking.id !== next.id) {
      // Not made (the time went, or the person is booked there already): nothing moved.
      await this.moves.end(booking.userKey);
      return { ok: false, reason: made.ok ? 'already_booked' : made.reason === 'id_collision' ? 'taken' : made.reason };
    }
    await this.finishMove(booking.userKey, { sessionId: booking.sessionId, bookingId: booking.id }, made.booking, now);
    this.metrics?.booking('moved');
    return { ok: true, booking: made.booking };
  }

  /**
   * Finishes the moves across sessions that a crash cut short: where the new booking was
   * made, the old one is cancelled; where it was not, nothing moved and the note goes.
   * Idempotent; the app runs it at start-up and every minute. Returns how many it finished.
   */
  async reconcileMoves(now: DateTime): Promise<number> {
    let finished = 0;
    for (const [userKey, intent] of await this.moves.list()) {
      const made = await this.store.get(intent.to.sessionId, intent.to.bookingId);
      if (made && made.userKey === userKey) {
        await this.finishMove(userKey, intent.from, made, now);
        finished++;
      } else if (now.toMillis() - intent.at > MOVE_SETTLE_MS) {
        // Old enough that the first step cannot still be under way: it never happened.
        await this.moves.end(userKey);
      }
    }
    return finished;
  }

  /** A session's bookings (contact details) are forgotten `retentionDays` after it. */
  private async keepUntilRetention(sessionId: string): Promise<void> {
    const session = sessionById(this.catalog, sessionId)!;
    await this.store.expireSession(sessionId, parseIsoDate(session.date).plus({ days: this.retentionDays + 1 }).toMillis());
  }

  private async finishMove(userKey: string, from: { sessionId: string; bookingId: string }, made: Booking, now: DateTime): Promise<void> {
    // Tolerates an old booking already gone (a second run of the same finish).
    await this.store.cancel(from.sessionId, from.bookingId, userKey);
    await this.tell('moved', (events) => events.moved(made, now, from));
    await this.moves.end(userKey);
  }

  async cancel(sessionId: string, bookingId: string, userKey: string, now: DateTime): Promise<boolean | 'closed'> {
    const until = this.cancellableUntil(sessionId);
    if (until && now >= until) return 'closed';
    const cancelled = await this.store.cancel(sessionId, bookingId, userKey);
    if (cancelled) {
      this.metrics?.booking('cancelled');
      await this.tell('cancelled', (events) => events.cancelled(sessionId, bookingId));
    }
    return cancelled;
  }

  async eraseUser(userKey: string, now: DateTime): Promise<{ cancelled: number; counted: number }> {
    const upcoming = new Set(upcomingSessions(this.catalog, now).map((s) => s.id));
    // Every session of the catalog: a past one keeps its bookings until BOOKING_RETENTION_DAYS.
    const erased = await Promise.all(
      this.catalog.sessions.map(async (s) => ({ upcoming: upcoming.has(s.id), deleted: await this.store.forgetUser(s.id, userKey, !upcoming.has(s.id)) })),
    );
    return {
      cancelled: erased.filter((e) => e.deleted && e.upcoming).length,
      counted: erased.filter((e) => e.deleted && !e.upcoming).length,
    };
  }

  private lookup(sessionId: string) {
    const session: Session | undefined = sessionById(this.catalog, sessionId);
    const service = session && serviceById(this.catalog, session.serviceId);
    return session && service ? { session, service } : undefined;
  }

  private isOpenSlot(sessionId: string, slotId: string, now: DateTime): boolean {
    const found = this.lookup(sessionId);
    return !!found && isBookingOpen(found.session, found.service, now) && slotsOf(found.service).some((s) => s.id === slotId);
  }
}
