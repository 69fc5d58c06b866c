/**
 * In-process store for local runs and tests. Every method body is synchronous, so each
 * operation is atomic exactly as a Lua script is in Redis; `test/stores/contract.test.ts`
 * holds it to the same contract as `redis.ts`.
 */
import type { Booking, Ticket } from '../domain.ts';
import { bySlot, DEFAULT_AUDIT_CAP, oldestFirst, ttlOf } from './shared.ts';
import { SESSION_COUNTERS } from './ports.ts';
import type {
  AuditEntry,
  AuditStore,
  BookingStore,
  ChannelRecord,
  ChannelStore,
  ConfirmResult,
  ConversationStore,
  DedupeStore,
  FeedbackStore,
  HoldResult,
  InstanceStore,
  Attendance,
  SessionCounter,
  MeetingLinkStore,
  MoveIntent,
  MoveIntentStore,
  OptOutStore,
  Occupancy,
  Store,
  StoredConversation,
  TicketStore,
  TicketTransition,
} from './ports.ts';
import { ERASED_USER } from './ports.ts';

/** Expired conversations and dedupe marks are swept at most this often. */
const SWEEP_EVERY_MS = 30_000;

/** One session's occupancy, laid out like the Redis hashes of the same name. */
interface SessionState {
  /** slotId → bookingId */
  booked: Map<string, string>;
  /** slotId → live-or-expired hold */
  holds: Map<string, { userKey: string; since: number; expiresAt: number }>;
  /** userKey → slotId of the user's hold */
  heldBy: Map<string, string>;
  /** userKey → bookingId */
  users: Map<string, string>;
  /** bookingId → booking JSON */
  bookings: Map<string, string>;
  /** Bookings erased at their owner's request and kept only as a count. */
  erased: number;
  counters: Map<SessionCounter, number>;
  /** bookingId → whether the citizen came */
  attendance: Map<string, Attendance>;
  /** bookingId → when its invitation went out (ms) */
  invited: Map<string, number>;
  /** userKeys waiting for a freed slot, first come first */
  waitlist: string[];
  /** When the whole session is forgotten (ms since epoch), like a Redis key TTL. */
  expiresAt?: number;
}

/** All tickets, laid out like the Redis keys of the same name under `{tickets}`. */
interface TicketState {
  /** ticketId → ticket JSON */
  byId: Map<string, string>;
  /** Ids of tickets not closed yet (ordered on read, as the sorted set is by score). */
  open: Set<string>;
  /** userKey → ids of the user's tickets not closed yet */
  user: Map<string, Set<string>>;
  /** card activityId → ticketId */
  cards: Map<string, string>;
}

/** How to build a memory store. */
export interface MemoryStoreOptions {
  /**
   * The clock its expiries (conversation and dedupe TTLs, a session's expiry) run on, in ms
   * since epoch; tests move a fake one instead of sleeping. Holds expire by the `nowMs` each
   * call passes, as in Redis.
   */
  now?: () => number;
  /** How many audit entries are kept; older ones are dropped (default `DEFAULT_AUDIT_CAP`). */
  auditCap?: number;
}

/**
 * Creates an empty in-process store (`kind: 'memory'`). Values are kept as JSON text, as in
 * Redis, so callers see the same copies-not-references and the same JSON round trip
 * (e.g. `Date` → string) whichever store they run on.
 */
export function createMemoryStore({ now: clock = Date.now, auditCap = DEFAULT_AUDIT_CAP }: MemoryStoreOptions = {}): Store {
  const conversations = new Map<string, { rev: number; json: string; expiresAt: number; outbox: Map<string, string> }>();
  /** Conversation key → its turn-count window (`loadCounting`), kept apart from the record as Redis keeps it beside the state. */
  const turnCounts = new Map<string, { start: number; turns: number; expiresAt: number }>();
  /** Conversation key → when its oldest undelivered reply was saved, like the Redis sorted set. */
  const unsent = new Map<string, number>();
  const dedupe = new Map<string, number>();
  const sessions = new Map<string, SessionState>();
  const tickets: TicketState = { byId: new Map(), open: new Set(), user: new Map(), cards: new Map() };
  const feedback = new Map<string, { helpful: number; unhelpful: number }>();
  const channels = new Map<string, string>();
  /** Audit entries as JSON, oldest first, like the Redis stream. */
  const audit: string[] = [];
  let lastSweep = clock();
  let closed = false;

  // Reads already ignore expired entries; this only bounds memory for keys never read again.
  function maybeSweep(now: number): void {
    if (now - lastSweep < SWEEP_EVERY_MS) return;
    lastSweep = now;
    for (const [key, record] of conversations) if (record.expiresAt <= now) conversations.delete(key);
    for (const [id, expiresAt] of dedupe) if (expiresAt <= now) dedupe.delete(id);
    for (const [key, count] of turnCounts) if (count.expiresAt <= now) turnCounts.delete(key);
  }

  function liveConversation(key: string, now: number) {
    const record = conversations.get(key);
    return record && record.expiresAt > now ? record : undefined;
  }

  /** The session's state, unless it has expired (then it is dropped, like a Redis key). */
  function liveSession(sessionId: string): SessionState | undefined {
    const state = sessions.get(sessionId);
    if (state?.expiresAt !== undefined && state.expiresAt <= clock()) {
      sessions.delete(sessionId);
      return undefined;
    }
    return state;
  }

  function session(sessionId: string): SessionState {
    let state = liveSession(sessionId);
    if (!state) {
      state = { booked: new Map(), holds: new Map(), heldBy: new Map(), users: new Map(), bookings: new Map(), erased: 0, counters: new Map(), attendance: new Map(), invited: new Map(), waitlist: [] };
      sessions.set(sessionId, state);
    }
    return state;
  }

  /** Holder of a live hold on the slot, or undefined. */
  function holder(s: SessionState, slotId: string, nowMs: number): string | undefined {
    const hold = s.holds.get(slotId);
    return hold && hold.expiresAt > nowMs ? hold.userKey : undefined;
  }

  // Same sweep as the Redis hold script: a session has few slots, so this is cheap, and it
  // keeps abandoned holds (and their heldBy entries) from piling up.
  function dropExpiredHolds(s: SessionState, nowMs: number): void {
    for (const [slotId, hold] of s.holds) {
      if (hold.expiresAt > nowMs) continue;
      s.holds.delete(slotId);
      if (s.heldBy.get(hold.userKey) === slotId) s.heldBy.delete(hold.userKey);
    }
  }

  /** Drops the user's hold, wherever it is in the session. */
  /** The person's entry goes with their booking (guarded: it may point at another one). */
  function forgetPerson(s: SessionState, booking: Booking): void {
    if (booking.personKey !== undefined && s.users.get(booking.personKey) === booking.id) s.users.delete(booking.personKey);
  }

  function dropUserHold(s: SessionState, userKey: string): void {
    const slotId = s.heldBy.get(userKey);
    if (slotId === undefined) return;
    if (s.holds.get(slotId)?.userKey === userKey) s.holds.delete(slotId);
    s.heldBy.delete(userKey);
  }

  function loadConversation(key: string): StoredConversation | null {
    const record = liveConversation(key, clock());
    if (!record) return null;
    const stored: StoredConversation = { rev: record.rev, state: JSON.parse(record.json) };
    if (record.outbox.size > 0) stored.outbox = [...record.outbox.values()].map((json) => JSON.parse(json) as unknown);
    return stored;
  }

  const conversationStore: ConversationStore = {
    async load(key) {
      return loadConversation(key);
    },
    async loadCounting(key, nowMs, windowMs) {
      const now = clock();
      maybeSweep(now);
      const count = turnCounts.get(key);
      const current = count && count.expiresAt > now && nowMs - count.start < windowMs ? count : undefined;
      const next = current ? { ...current, turns: current.turns + 1 } : { start: nowMs, turns: 1, expiresAt: now + windowMs };
      turnCounts.set(key, next);
      return { stored: loadConversation(key), turns: next.turns };
    },
    async save(key, expectedRev, state, ttlMs, change) {
      const now = clock();
      maybeSweep(now);
      const live = liveConversation(key, now);
      if ((live?.rev ?? 0) !== expectedRev) return false;
      const outbox = new Map(live?.outbox ?? []);
      if (change?.add) outbox.set(change.add.id, JSON.stringify(change.add.entry));
      for (const id of change?.drop ?? []) outbox.delete(id);
      conversations.set(key, { rev: expectedRev + 1, json: JSON.stringify(state), expiresAt: now + ttlOf(ttlMs), outbox });
      if (change) {
        if (change.unsentSince === undefined) unsent.delete(key);
        else unsent.set(key, change.unsentSince);
      }
      return true;
    },
    async delivered(key, id) {
      const record = conversations.get(key);
      record?.outbox.delete(id);
      if (!record || record.outbox.size === 0) unsent.delete(key);
    },
    async delete(key) {
      conversations.delete(key);
      turnCounts.delete(key);
      unsent.delete(key);
    },
    async unsent(beforeMs, limit) {
      return [...unsent]
        .filter(([, since]) => since < beforeMs)
        .sort((a, b) => a[1] - b[1])
        .slice(0, limit)
        .map(([key]) => key);
    },
  };

  const dedupeStore: DedupeStore = {
    async claim(id, ttlMs) {
      const now = clock();
      maybeSweep(now);
      const expiresAt = dedupe.get(id);
      if (expiresAt !== undefined && expiresAt > now) return false;
      dedupe.set(id, now + ttlOf(ttlMs));
      return true;
    },
    async release(id) {
      dedupe.delete(id);
    },
  };

  const bookingStore: BookingStore = {
    async occupancy(sessionId, nowMs): Promise<Occupancy> {
      const s = liveSession(sessionId);
      const occupancy: Occupancy = { booked: new Set(), held: new Map() };
      if (!s) return occupancy;
      for (const slotId of s.booked.keys()) occupancy.booked.add(slotId);
      for (const [slotId, hold] of s.holds) if (hold.expiresAt > nowMs) occupancy.held.set(slotId, hold.userKey);
      return occupancy;
    },

    async hold(sessionId, slotId, userKey, nowMs, ttlMs, maxMs): Promise<HoldResult> {
      const s = session(sessionId);
      if (s.users.has(userKey)) return { ok: false, reason: 'already_booked' };
      if (s.booked.has(slotId)) return { ok: false, reason: 'taken' };
      const current = holder(s, slotId, nowMs);
      if (current !== undefined && current !== userKey) return { ok: false, reason: 'taken' };
      // Holding the slot one holds again renews it, but never past since + max.
      const since = current === undefined ? nowMs : s.holds.get(slotId)!.since;
      const expiresAt = Math.min(nowMs + ttlOf(ttlMs), since + ttlOf(maxMs));
      dropExpiredHolds(s, nowMs);
      dropUserHold(s, userKey);
      s.holds.set(slotId, { userKey, since, expiresAt });
      s.heldBy.set(userKey, slotId);
      return { ok: true, expiresAt };
    },

    async releaseHold(sessionId, userKey) {
      const s = liveSession(sessionId);
      if (s) dropUserHold(s, userKey);
    },

    async confirm(booking, nowMs, holderKey = booking.userKey): Promise<ConfirmResult> {
      const s = session(booking.sessionId);
      const { slotId, userKey, personKey } = booking;
      const ownId = s.users.get(userKey) ?? (personKey === undefined ? undefined : s.users.get(personKey));
      if (ownId !== undefined) {
        const own = JSON.parse(s.bookings.get(ownId) ?? 'null') as Booking | null;
        if (own?.slotId === slotId && own.userKey === userKey) return { ok: true, booking: own };
        return { ok: false, reason: 'already_booked' };
      }
      if (s.booked.has(slotId)) return { ok: false, reason: 'taken' };
      const current = holder(s, slotId, nowMs);
      if (current !== undefined && current !== holderKey) return { ok: false, reason: 'taken' };
      if (s.bookings.has(booking.id)) return { ok: false, reason: 'id_collision' };
      const expired = s.holds.get(slotId);
      if (expired && expired.userKey !== holderKey && s.heldBy.get(expired.userKey) === slotId) {
        s.heldBy.delete(expired.userKey);
      }
      s.holds.delete(slotId);
      dropUserHold(s, holderKey);
      // A booked user cannot hold here any more: a hold of theirs would only block a slot.
      if (userKey !== holderKey) dropUserHold(s, userKey);
      const json = JSON.stringify(booking);
      s.booked.set(slotId, booking.id);
      s.users.set(userKey, booking.id);
      if (personKey !== undefined) s.users.set(personKey, booking.id);
      s.bookings.set(booking.id, json);
      return { ok: true, booking: JSON.parse(json) as Booking };
    },

    async get(sessionId, bookingId) {
      const json = liveSession(sessionId)?.bookings.get(bookingId);
      return json === undefined ? null : (JSON.parse(json) as Booking);
    },

    async findByUser(userKey, sessionIds) {
      const found: Booking[] = [];
      for (const sessionId of sessionIds) {
        const s = liveSession(sessionId);
        const id = s?.users.get(userKey);
        const json = id === undefined ? undefined : s?.bookings.get(id);
        if (json !== undefined) found.push(JSON.parse(json) as Booking);
      }
      return found;
    },

    async count(sessionId, counter, by = 1) {
      const s = session(sessionId);
      s.counters.set(counter, (s.counters.get(counter) ?? 0) + by);
    },
    async counters(sessionId) {
      const s = liveSession(sessionId);
      return Object.fromEntries(SESSION_COUNTERS.map((c) => [c, s?.counters.get(c) ?? 0])) as Record<SessionCounter, number>;
    },
    async markAttendance(sessionId, bookingId, status, onlyIfUnmarked) {
      const s = session(sessionId);
      if (onlyIfUnmarked && s.attendance.has(bookingId)) return false;
      s.attendance.set(bookingId, status);
      return true;
    },
    async attendance(sessionId) {
      return new Map(liveSession(sessionId)?.attendance ?? []);
    },
    async joinWaitlist(sessionId, userKey) {
      const s = session(sessionId);
      if (!s.waitlist.includes(userKey)) s.waitlist.push(userKey);
      return s.waitlist.indexOf(userKey) + 1;
    },
    async waitlistPlace(sessionId, userKey) {
      const place = (liveSession(sessionId)?.waitlist ?? []).indexOf(userKey);
      return place < 0 ? undefined : place + 1;
    },
    async nextWaiting(sessionId) {
      return liveSession(sessionId)?.waitlist.shift();
    },
    async markInvited(sessionId, bookingId, atMs) {
      session(sessionId).invited.set(bookingId, atMs);
    },
    async invited(sessionId) {
      return new Map(liveSession(sessionId)?.invited ?? []);
    },
    async expireSession(sessionId, atMs) {
      session(sessionId).expiresAt = atMs;
    },

    async listSession(sessionId) {
      const s = liveSession(sessionId);
      if (!s) return [];
      return bySlot([...s.bookings.values()].map((json) => JSON.parse(json) as Booking));
    },

    async move(booking, toSlotId, nowMs, holderKey = booking.userKey) {
      const s = liveSession(booking.sessionId);
      const json = s?.bookings.get(booking.id);
      const current = json === undefined ? undefined : (JSON.parse(json) as Booking);
      if (!s || !current || current.userKey !== booking.userKey || current.slotId !== booking.slotId) return { ok: false, reason: 'changed' };
      const held = holder(s, toSlotId, nowMs);
      if (s.booked.has(toSlotId) || (held !== undefined && held !== holderKey && held !== booking.userKey)) return { ok: false, reason: 'taken' };
      const moved: Booking = { ...current, slotId: toSlotId };
      s.booked.set(toSlotId, booking.id);
      if (s.booked.get(booking.slotId) === booking.id) s.booked.delete(booking.slotId);
      s.bookings.set(booking.id, JSON.stringify(moved));
      return { ok: true, booking: moved };
    },
    async cancel(sessionId, bookingId, userKey) {
      const s = liveSession(sessionId);
      const json = s?.bookings.get(bookingId);
      if (!s || json === undefined) return false;
      const booking = JSON.parse(json) as Booking;
      if (booking.userKey !== userKey) return false;
      s.bookings.delete(bookingId);
      if (s.booked.get(booking.slotId) === bookingId) s.booked.delete(booking.slotId);
      if (s.users.get(userKey) === bookingId) s.users.delete(userKey);
      forgetPerson(s, booking);
      return true;
    },

    async forgetUser(sessionId, userKey, count) {
      const s = liveSession(sessionId);
      if (!s) return false;
      dropUserHold(s, userKey);
      const id = s.users.get(userKey);
      if (id === undefined) return false;
      s.users.delete(userKey);
      const json = s.bookings.get(id);
      if (json === undefined) return false;
      const booking = JSON.parse(json) as Booking;
      s.bookings.delete(id);
      if (s.booked.get(booking.slotId) === id) s.booked.delete(booking.slotId);
      forgetPerson(s, booking);
      if (count) s.erased++;
      return true;
    },

    async erasedCount(sessionId) {
      return liveSession(sessionId)?.erased ?? 0;
    },
  };

  function readTicket(id: string): Ticket | null {
    const json = tickets.byId.get(id);
    return json === undefined ? null : (JSON.parse(json) as Ticket);
  }

  /** Stores the ticket and returns the copy a caller gets, as Redis would hand it back. */
  function writeTicket(ticket: Ticket): Ticket {
    const json = JSON.stringify(ticket);
    tickets.byId.set(ticket.id, json);
    return JSON.parse(json) as Ticket;
  }

  function unindexUser(userKey: string, id: string): void {
    const ids = tickets.user.get(userKey);
    ids?.delete(id);
    // An empty sorted set disappears in Redis; so does the entry here.
    if (ids?.size === 0) tickets.user.delete(userKey);
  }

  /** Tickets by id, oldest first; ids without a body are skipped. */
  function ticketsOf(ids: Iterable<string>): Ticket[] {
    return oldestFirst([...ids].flatMap((id) => readTicket(id) ?? []));
  }

  const ticketStore: TicketStore = {
    async create(ticket) {
      writeTicket(ticket);
      if (ticket.status === 'closed') return;
      tickets.open.add(ticket.id);
      let ids = tickets.user.get(ticket.userKey);
      if (!ids) tickets.user.set(ticket.userKey, (ids = new Set()));
      ids.add(ticket.id);
    },
    async get(id) {
      return readTicket(id);
    },
    async listOpen() {
      return ticketsOf(tickets.open);
    },
    async claim(id, agent, at): Promise<TicketTransition> {
      const ticket = readTicket(id);
      if (!ticket) return { ok: false, reason: 'not_found' };
      if (ticket.status === 'closed') return { ok: false, reason: 'closed', ticket };
      if (ticket.status === 'claimed') {
        // Claiming one's own ticket again (a double click, a retry) succeeds unchanged.
        return ticket.claimedBy?.id === agent.id ? { ok: true, ticket } : { ok: false, reason: 'taken', ticket };
      }
      return { ok: true, ticket: writeTicket({ ...ticket, status: 'claimed', claimedBy: agent, claimedAt: at }) };
    },
    async close(id, by, at, closing = {}): Promise<TicketTransition> {
      const ticket = readTicket(id);
      if (!ticket) return { ok: false, reason: 'not_found' };
      if (ticket.status === 'closed') return { ok: false, reason: 'closed', ticket };
      const closed = writeTicket({ ...ticket, ...closing, status: 'closed', closedBy: by, closedAt: at });
      tickets.open.delete(id);
      unindexUser(ticket.userKey, id);
      return { ok: true, ticket: closed };
    },
    async update(id, { reopen, ...patch }): Promise<TicketTransition> {
      const ticket = readTicket(id);
      if (!ticket) return { ok: false, reason: 'not_found' };
      if (ticket.status === 'closed') return { ok: false, reason: 'closed', ticket };
      const next: Ticket = { ...ticket, ...patch };
      if (reopen) {
        next.status = 'open';
        delete next.claimedBy;
        delete next.claimedAt;
      }
      return { ok: true, ticket: writeTicket(next) };
    },
    async listAll() {
      return ticketsOf(tickets.byId.keys());
    },
    async purgeClosed(beforeMs) {
      let purged = 0;
      for (const ticket of ticketsOf(tickets.byId.keys())) {
        if (ticket.status !== 'closed' || !(Date.parse(ticket.closedAt ?? '') < beforeMs)) continue;
        tickets.byId.delete(ticket.id);
        const card = ticket.card?.activityId;
        if (card !== undefined && tickets.cards.get(card) === ticket.id) tickets.cards.delete(card);
        purged++;
      }
      return purged;
    },
    async setCard(id, card) {
      const ticket = readTicket(id);
      if (!ticket) return;
      // A re-posted card replaces the old one: the old activity no longer finds the ticket.
      const old = ticket.card?.activityId;
      if (old !== undefined && old !== card.activityId && tickets.cards.get(old) === id) tickets.cards.delete(old);
      writeTicket({ ...ticket, card });
      tickets.cards.set(card.activityId, id);
    },
    async findByCard(activityId) {
      const id = tickets.cards.get(activityId);
      return id === undefined ? null : readTicket(id);
    },
    async activeFor(userKey) {
      return ticketsOf(tickets.user.get(userKey) ?? []).at(-1) ?? null;
    },
    async eraseUser(userKey, at) {
      const changed: Ticket[] = [];
      for (const ticket of ticketsOf(tickets.byId.keys())) {
        if (ticket.userKey !== userKey) continue;
        const { question: _question, suggestions: _suggestions, ...kept } = ticket;
        const closing = ticket.status === 'closed' ? {} : { status: 'closed' as const, closedBy: 'citizen' as const, closedAt: at };
        changed.push(writeTicket({ ...kept, ...closing, userKey: ERASED_USER }));
        tickets.open.delete(ticket.id);
      }
      tickets.user.delete(userKey);
      return changed;
    },
  };

  const feedbackStore: FeedbackStore = {
    async record(entryId, helpful) {
      const counts = feedback.get(entryId) ?? { helpful: 0, unhelpful: 0 };
      feedback.set(entryId, helpful ? { ...counts, helpful: counts.helpful + 1 } : { ...counts, unhelpful: counts.unhelpful + 1 });
    },
    async counts() {
      return new Map(feedback);
    },
  };

  const auditStore: AuditStore = {
    async append(entry) {
      audit.push(JSON.stringify(entry));
      if (audit.length > auditCap) audit.splice(0, audit.length - auditCap);
    },
    async recent(n) {
      const count = Math.min(audit.length, Math.max(0, Math.floor(n)));
      return audit
        .slice(audit.length - count)
        .reverse()
        .map((json) => JSON.parse(json) as AuditEntry);
    },
  };

  const links = new Map<string, string>();
  const meetingLinkStore: MeetingLinkStore = {
    async set(sessionId, url, slotId) {
      links.set(slotId ? `${sessionId}:${slotId}` : sessionId, url);
    },
    async get(sessionId, slotId) {
      return (slotId ? links.get(`${sessionId}:${slotId}`) : undefined) ?? links.get(sessionId);
    },
  };

  const moveIntents = new Map<string, string>();
  const moveStore: MoveIntentStore = {
    async begin(userKey, intent) {
      moveIntents.set(userKey, JSON.stringify(intent));
    },
    async end(userKey) {
      moveIntents.delete(userKey);
    },
    async list() {
      return [...moveIntents].map(([userKey, json]) => [userKey, JSON.parse(json) as MoveIntent]);
    },
  };

  const optedOut = new Set<string>();
  const optOutStore: OptOutStore = {
    async add(userKey) {
      optedOut.add(userKey);
    },
    async remove(userKey) {
      optedOut.delete(userKey);
    },
    async has(userKey) {
      return optedOut.has(userKey);
    },
  };

  const instanceMarks = new Map<string, number>();
  const instanceStore: InstanceStore = {
    async beat(id, ttlMs) {
      instanceMarks.set(id, clock() + ttlOf(ttlMs));
    },
    async alive(ids) {
      const now = clock();
      return new Set(ids.filter((id) => (instanceMarks.get(id) ?? 0) > now));
    },
    async forget(id) {
      instanceMarks.delete(id);
    },
  };

  const channelStore: ChannelStore = {
    async get(name) {
      const json = channels.get(name);
      return json === undefined ? null : (JSON.parse(json) as ChannelRecord);
    },
    async put(name, record) {
      channels.set(name, JSON.stringify(record));
    },
  };

  return {
    kind: 'memory',
    conversations: conversationStore,
    instances: instanceStore,
    optOuts: optOutStore,
    moves: moveStore,
    meetingLinks: meetingLinkStore,
    dedupe: dedupeStore,
    bookings: bookingStore,
    tickets: ticketStore,
    feedback: feedbackStore,
    audit: auditStore,
    channels: channelStore,
    async ping() {
      // Mirrors a closed Redis connection, so code paths that handle an outage can be tested.
      if (closed) throw new Error('memory store is closed');
    },
    async close() {
      closed = true;
    },
  };
}
