/**
 * Redis store (ioredis). Each step that changes occupancy is one Lua script over the keys of
 * one booking session, which share a hash tag and so a Cluster hash slot:
 *
 * - `{p}{s:<sessionId>}:booked`   hash slotId → bookingId
 * - `{p}{s:<sessionId>}:holds`    hash slotId → `userKey|sinceMs|expiresAtMs`
 * - `{p}{s:<sessionId>}:heldBy`   hash userKey → slotId
 * - `{p}{s:<sessionId>}:users`    hash userKey → bookingId
 * - `{p}{s:<sessionId>}:bookings` hash bookingId → booking JSON
 * - `{p}{s:<sessionId>}:erased`   string, how many bookings were erased at their owners' request
 * - `{p}conv:<key>`               hash `r` (revision), `s` (state JSON), `o:<eventId>` (an outbox
 *                                 entry: a turn's replies not yet delivered), with a TTL
 * - `{p}unsent`                   sorted set of conversation keys with outbox entries, scored
 *                                 by when the oldest was saved (ms)
 * - `{p}dedupe:<id>`              string, `SET NX PX`
 * - `{p}instance:<id>`            string, a running process's mark (`SET PX`, renewed each second)
 * - `{p}optout`                   set of user keys that blocked the account (LINE unfollow)
 * - `{p}moves`                    hash userKey → a move across sessions under way (ids only)
 * - `{p}meetinglinks`             hash sessionId → the meeting link staff set (over the catalog's)
 * - `{p}{tickets}:byId`           hash ticketId → ticket JSON
 * - `{p}{tickets}:open`           sorted set of ids of tickets not closed (open or claimed),
 *                                 scored by createdAt (ms)
 * - `{p}{tickets}:user:<userKey>` sorted set of the user's tickets not closed, same scores
 * - `{p}{tickets}:cards`          hash card activityId → ticketId
 * - `{p}{tickets}:closed`         sorted set of closed tickets' ids, scored by closedAt (ms),
 *                                 for purging them (and the questions they hold) on time
 * - `{p}feedback`                 hash `<entryId>:1` / `<entryId>:0` → helpful / not helpful count
 * - `{p}channel:<name>`           string, channel record JSON (no TTL)
 * - `{p}audit`                    stream of staff accesses, field `e` = entry JSON, `MAXLEN ~` the cap
 *
 * (`{p}` is the prefix.) Scripts return flat arrays, so replies look the same under RESP2
 * and RESP3.
 */
import type { ChainableCommander } from 'ioredis';
import { createRedisClient, dataNodes, type RedisClient, type RedisTarget } from './connection.ts';
import type { Booking, Ticket } from '../domain.ts';
import { SESSION_COUNTERS } from './ports.ts';
import { isSealed, type Sealer } from './sealing.ts';
import { bySlot, DEFAULT_AUDIT_CAP, oldestFirst, ticketScore, ttlOf } from './shared.ts';
import type {
  AuditEntry,
  AuditStore,
  BookingStore,
  ChannelRecord,
  ChannelStore,
  ConversationStore,
  DedupeStore,
  FeedbackStore,
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

/** Where to connect and how to namespace keys. */
export interface RedisStoreOptions {
  /** One node, e.g. `redis://127.0.0.1:6379`; or give `target`. */
  url?: string;
  /** A Sentinel group or a Cluster (or one node), as the config names it. */
  target?: RedisTarget;
  /**
   * After each booking change (confirm, move, cancel), wait until this many replicas have it
   * (`WAIT`), at most `timeoutMs`; a change not on enough of the replicas connected by then
   * rejects with `ReplicaWaitError` (it is written on the master, but promoting a replica
   * without it would lose it), so that a booking told to the citizen survives a failover.
   * With fewer replicas connected (after a failover, before the old master is back) it waits
   * for those there are. Default: no wait.
   */
  wait?: { replicas: number; timeoutMs: number };
  /** A wait that ended with fewer replicas than asked for, just before the change rejects. */
  onWaitShort?: (acked: number) => void;
  /** Put before every key, e.g. `citybot:`; lets several bots or test files share one Redis. */
  prefix: string;
  /**
   * Connection errors (refused, reset, timeouts). They never throw: commands reject instead,
   * so a turn can answer politely. Ignored unless given.
   */
  onError?: (error: Error) => void;
  /**
   * Encrypts personal data at rest: conversation state (contact details are typed into it)
   * and bookings (all but the fields the scripts route on). Values written without it are
   * still read, so turning it on needs no migration.
   */
  sealer?: Sealer;
  /** How many audit entries are kept, approximately (`MAXLEN ~`; default `DEFAULT_AUDIT_CAP`). */
  auditCap?: number;
}

/** A booking change that fewer replicas than asked for acknowledged in time (`WAIT`). */
export class ReplicaWaitError extends Error {
  constructor(acked: number, wanted: number) {
    super(`${acked} of ${wanted} replicas acknowledged the write in time`);
    this.name = 'ReplicaWaitError';
  }
}

/**
 * How long any command may take, connected or not: the app must still answer the user
 * within LINE's 2 s when Redis hangs.
 */
const COMMAND_TIMEOUT_MS = 1_500;

/** A hold's value as the Lua `parseHold` reads it: the user key may contain '|'. */
function parseHold(value: string): { userKey: string; expiresAt: number } {
  const bar = value.lastIndexOf('|');
  const rest = value.slice(0, bar);
  const since = rest.lastIndexOf('|');
  const userKey = since >= 0 && /^\d+$/.test(rest.slice(since + 1)) ? rest.slice(0, since) : rest;
  return { userKey, expiresAt: Number(value.slice(bar + 1)) };
}

/** Shared Lua helpers, prepended to the booking scripts. */
const LIB = `
-- A hold is 'userKey|sinceMs|expiresAtMs' (since: when the user first took the slot); match
-- up to the last two '|' since user keys may contain one. A hold written before the start
-- was stored ('userKey|expiresAtMs') counts as taken at its expiry.
local function parseHold(v)
  local user, since, exp = string.match(v, '^(.*)|(%d+)|(%d+)$')
  if not user then
    user, exp = string.match(v, '^(.*)|([^|]+)$')
    since = exp
  end
  return user, tonumber(exp), tonumber(since)
end
-- Expired holds count as absent, so no timer is needed to free a slot.
local function liveHolder(holds, slot, now)
  local v = redis.call('HGET', holds, slot)
  if not v then return nil end
  local user, exp = parseHold(v)
  if exp > now then return user end
  return nil
end
-- Only delete the hold if it is still this user's: the slot may have moved on after expiry.
local function dropUserHold(holds, heldBy, user)
  local slot = redis.call('HGET', heldBy, user)
  if not slot then return end
  local v = redis.call('HGET', holds, slot)
  if v and parseHold(v) == user then redis.call('HDEL', holds, slot) end
  redis.call('HDEL', heldBy, user)
end
`;

/**
 * KEYS booked holds heldBy users; ARGV slotId userKey nowMs ttlMs maxMs.
 * Returns {1, expiresAt} or {0, reason}.
 */
const HOLD = `${LIB}
local booked, holds, heldBy, users = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local slot, user, now, ttl, max = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
-- One booking per person per session: a booked user must not start holding again.
if redis.call('HEXISTS', users, user) == 1 then return {0, 'already_booked'} end
if redis.call('HEXISTS', booked, slot) == 1 then return {0, 'taken'} end
local holder = liveHolder(holds, slot, now)
if holder and holder ~= user then return {0, 'taken'} end
-- Holding the slot one holds again renews it, but never past since + max.
local since = now
if holder then
  local _, _, heldSince = parseHold(redis.call('HGET', holds, slot))
  since = heldSince
end
local expiresAt = math.min(now + ttl, since + max)
-- A session has few slots: sweeping its expired holds here keeps abandoned ones from piling up.
local all = redis.call('HGETALL', holds)
for i = 1, #all, 2 do
  local u, exp = parseHold(all[i + 1])
  if exp <= now then
    redis.call('HDEL', holds, all[i])
    if redis.call('HGET', heldBy, u) == all[i] then redis.call('HDEL', heldBy, u) end
  end
end
-- One hold per user per session: a new hold replaces the old one (or extends the same slot).
dropUserHold(holds, heldBy, user)
redis.call('HSET', holds, slot, user .. '|' .. string.format('%d', since) .. '|' .. string.format('%d', expiresAt))
redis.call('HSET', heldBy, user, slot)
return {1, string.format('%d', expiresAt)}
`;

/** KEYS holds heldBy; ARGV userKey. */
const RELEASE_HOLD = `${LIB}
dropUserHold(KEYS[1], KEYS[2], ARGV[1])
return 1
`;

/**
 * KEYS booked holds heldBy users bookings; ARGV bookingId slotId userKey nowMs bookingJson
 * holderKey personKey. `userKey` is who is booked (one booking per person), `holderKey`
 * whose hold becomes the booking (the same, or the agent booking for a caller), `personKey`
 * ('' = none) the person behind several conversations, who is booked with `userKey`.
 * Returns {'ok'}, {'own', existingJson} or {reason}.
 */
const CONFIRM = `${LIB}
local booked, holds, heldBy, users, bookings = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local id, slot, user, now, holdKey, person = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), ARGV[6], ARGV[7]
-- A user already booked here: the client returns it when it is this slot (a retried
-- confirm is idempotent) and refuses otherwise (one booking per person per session).
local ownId = redis.call('HGET', users, user)
if not ownId and person ~= '' then ownId = redis.call('HGET', users, person) end
if ownId then return {'own', redis.call('HGET', bookings, ownId) or ''} end
if redis.call('HEXISTS', booked, slot) == 1 then return {'taken'} end
-- An expired hold (anyone's) does not block: the still-free slot can be booked.
local holder = liveHolder(holds, slot, now)
if holder and holder ~= holdKey then return {'taken'} end
-- Booking ids are read aloud and looked up per session, so they must be unique in it.
if redis.call('HEXISTS', bookings, id) == 1 then return {'id_collision'} end
local v = redis.call('HGET', holds, slot)
if v then
  local previous = parseHold(v)
  redis.call('HDEL', holds, slot)
  if redis.call('HGET', heldBy, previous) == slot then redis.call('HDEL', heldBy, previous) end
end
dropUserHold(holds, heldBy, holdKey)
-- A booked user cannot hold here any more: a hold of theirs would only block a slot.
if user ~= holdKey then dropUserHold(holds, heldBy, user) end
redis.call('HSET', booked, slot, id)
redis.call('HSET', users, user, id)
if person ~= '' then redis.call('HSET', users, person, id) end
redis.call('HSET', bookings, id, ARGV[5])
return {'ok'}
`;

/** KEYS booked users bookings; ARGV bookingId userKey. Returns 1 when cancelled. */
const CANCEL = `
local booked, users, bookings = KEYS[1], KEYS[2], KEYS[3]
local id, user = ARGV[1], ARGV[2]
local json = redis.call('HGET', bookings, id)
if not json then return 0 end
local booking = cjson.decode(json)
-- Only the owner may cancel; a booking id alone is guessable.
if booking.userKey ~= user then return 0 end
redis.call('HDEL', bookings, id)
-- Guarded deletes: never free a slot or user entry that points at another booking.
if redis.call('HGET', booked, booking.slotId) == id then redis.call('HDEL', booked, booking.slotId) end
if redis.call('HGET', users, user) == id then redis.call('HDEL', users, user) end
local person = booking.personKey
if type(person) == 'string' and redis.call('HGET', users, person) == id then redis.call('HDEL', users, person) end
return 1
`;

/**
 * KEYS booked holds bookings; ARGV bookingId userKey fromSlot toSlot movedJson nowMs holderKey.
 * Moves a booking within its session in one step. Returns {'ok'} or {reason}.
 */
const MOVE = `${LIB}
local booked, holds, bookings = KEYS[1], KEYS[2], KEYS[3]
local id, user, from, to, now, holdKey = ARGV[1], ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[6]), ARGV[7]
local json = redis.call('HGET', bookings, id)
if not json then return {'changed'} end
local current = cjson.decode(json)
if current.userKey ~= user or current.slotId ~= from then return {'changed'} end
if redis.call('HEXISTS', booked, to) == 1 then return {'taken'} end
local holder = liveHolder(holds, to, now)
if holder and holder ~= holdKey and holder ~= user then return {'taken'} end
redis.call('HSET', booked, to, id)
if redis.call('HGET', booked, from) == id then redis.call('HDEL', booked, from) end
redis.call('HSET', bookings, id, ARGV[5])
return {'ok'}
`;

/**
 * KEYS booked holds heldBy users bookings erased; ARGV userKey count. Forgets the user in the
 * session: their hold, their booking and its slot; with count (1) the booking stays only as
 * one more in `erased`, which expires with the session. Returns 1 when a booking was deleted.
 */
const FORGET_USER = `${LIB}
local booked, holds, heldBy, users, bookings, erased = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local user = ARGV[1]
local ttl = redis.call('PTTL', bookings)
dropUserHold(holds, heldBy, user)
local id = redis.call('HGET', users, user)
if not id then return 0 end
redis.call('HDEL', users, user)
local json = redis.call('HGET', bookings, id)
if not json then return 0 end
local booking = cjson.decode(json)
redis.call('HDEL', bookings, id)
if redis.call('HGET', booked, booking.slotId) == id then redis.call('HDEL', booked, booking.slotId) end
local person = booking.personKey
if type(person) == 'string' and redis.call('HGET', users, person) == id then redis.call('HDEL', users, person) end
if ARGV[2] == '1' then
  redis.call('INCR', erased)
  if ttl > 0 then redis.call('PEXPIRE', erased, ttl) end
end
return 1
`;

/** KEYS booked holds. A script only so both reads are one consistent snapshot. */
const OCCUPANCY = `
return {redis.call('HKEYS', KEYS[1]), redis.call('HGETALL', KEYS[2])}
`;

/**
 * KEYS index values; ARGV field. Reads a value through an index hash (users → bookings,
 * cards → tickets) in one round trip, and so one pipelined command per session.
 */
const LOOKUP = `
local id = redis.call('HGET', KEYS[1], ARGV[1])
if not id then return false end
return redis.call('HGET', KEYS[2], id)
`;

/**
 * KEYS byId; ARGV ticketId agentJson at. Claims an open ticket; the ticket JSON is decoded
 * and re-encoded with cjson (field order may change, values do not).
 * Returns {'ok', json}, {'taken' | 'closed', json} or {'not_found'}.
 */
const CLAIM_TICKET = `
local json = redis.call('HGET', KEYS[1], ARGV[1])
if not json then return {'not_found'} end
local ticket = cjson.decode(json)
if ticket.status == 'closed' then return {'closed', json} end
local agent = cjson.decode(ARGV[2])
if ticket.status == 'claimed' then
  -- Claiming one's own ticket again (a double click, a retry) succeeds unchanged.
  local by = ticket.claimedBy
  if type(by) == 'table' and by.id == agent.id then return {'ok', json} end
  return {'taken', json}
end
ticket.status = 'claimed'
ticket.claimedBy = agent
ticket.claimedAt = ARGV[3]
json = cjson.encode(ticket)
redis.call('HSET', KEYS[1], ARGV[1], json)
return {'ok', json}
`;

/**
 * KEYS byId open userTickets closed; ARGV ticketId userKey byJson at closingJson atMs. The
 * client names the user's index from a read of the ticket (keys must be declared for
 * Cluster); a ticket re-created for another user in between answers {'moved'} and the
 * client reads again. Returns {'ok', json}, {'closed', json}, {'not_found'} or {'moved'}.
 */
const CLOSE_TICKET = `
local json = redis.call('HGET', KEYS[1], ARGV[1])
if not json then return {'not_found'} end
local ticket = cjson.decode(json)
if ticket.status == 'closed' then return {'closed', json} end
if ticket.userKey ~= ARGV[2] then return {'moved'} end
for k, v in pairs(cjson.decode(ARGV[5])) do ticket[k] = v end
ticket.status = 'closed'
ticket.closedBy = cjson.decode(ARGV[3])
ticket.closedAt = ARGV[4]
json = cjson.encode(ticket)
redis.call('HSET', KEYS[1], ARGV[1], json)
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('ZADD', KEYS[4], ARGV[6], ARGV[1])
return {'ok', json}
`;

/**
 * KEYS byId; ARGV ticketId patchJson reopen. Changes a ticket that is not closed; `reopen`
 * (1) makes it open and unclaimed again. Returns {'ok', json}, {'closed', json} or {'not_found'}.
 */
const UPDATE_TICKET = `
local json = redis.call('HGET', KEYS[1], ARGV[1])
if not json then return {'not_found'} end
local ticket = cjson.decode(json)
if ticket.status == 'closed' then return {'closed', json} end
for k, v in pairs(cjson.decode(ARGV[2])) do ticket[k] = v end
if ARGV[3] == '1' then
  ticket.status = 'open'
  ticket.claimedBy = nil
  ticket.claimedAt = nil
end
json = cjson.encode(ticket)
redis.call('HSET', KEYS[1], ARGV[1], json)
return {'ok', json}
`;

/** KEYS byId closed cards; ARGV beforeMs. Forgets tickets closed before then; returns how many. */
const PURGE_CLOSED = `
local ids = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', '(' .. ARGV[1])
for _, id in ipairs(ids) do
  local json = redis.call('HGET', KEYS[1], id)
  if json then
    local ticket = cjson.decode(json)
    local card = type(ticket.card) == 'table' and ticket.card.activityId
    if card and redis.call('HGET', KEYS[3], card) == id then redis.call('HDEL', KEYS[3], card) end
    redis.call('HDEL', KEYS[1], id)
  end
  redis.call('ZREM', KEYS[2], id)
end
return #ids
`;

/**
 * KEYS byId open userTickets closed; ARGV userKey byJson at atMs erasedUser. Closes the user's
 * tickets not closed yet and strips every ticket of theirs of its question, suggestions and
 * user key. One pass over all tickets kept (bounded by INQUIRY_RETENTION_DAYS), for a request
 * that is rare. Returns the changed tickets' JSON.
 */
const ERASE_USER_TICKETS = `
local changed = {}
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  local id = all[i]
  local ticket = cjson.decode(all[i + 1])
  if ticket.userKey == ARGV[1] then
    if ticket.status ~= 'closed' then
      ticket.status = 'closed'
      ticket.closedBy = cjson.decode(ARGV[2])
      ticket.closedAt = ARGV[3]
      redis.call('ZREM', KEYS[2], id)
      redis.call('ZADD', KEYS[4], ARGV[4], id)
    end
    ticket.question = nil
    ticket.suggestions = nil
    ticket.userKey = ARGV[5]
    local json = cjson.encode(ticket)
    redis.call('HSET', KEYS[1], id, json)
    table.insert(changed, json)
  end
end
redis.call('DEL', KEYS[3])
return changed
`;

/** KEYS hash. Its fields and values as one flat array, whatever the protocol. */
const HASH_PAIRS = `return redis.call('HGETALL', KEYS[1])`;

/**
 * KEYS byId cards; ARGV ticketId cardJson. A re-posted card replaces the old one, whose
 * activity then no longer finds the ticket. Unknown tickets are left alone.
 */
const SET_CARD = `
local json = redis.call('HGET', KEYS[1], ARGV[1])
if not json then return 0 end
local ticket = cjson.decode(json)
local card = cjson.decode(ARGV[2])
local old = type(ticket.card) == 'table' and ticket.card.activityId
if old and old ~= card.activityId and redis.call('HGET', KEYS[2], old) == ARGV[1] then
  redis.call('HDEL', KEYS[2], old)
end
ticket.card = card
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(ticket))
redis.call('HSET', KEYS[2], card.activityId, ARGV[1])
return 1
`;

/** KEYS userTickets byId. The user's latest ticket not closed, in one round trip. */
const ACTIVE_TICKET = `
local ids = redis.call('ZREVRANGE', KEYS[1], 0, 0)
if #ids == 0 then return false end
return redis.call('HGET', KEYS[2], ids[1])
`;

/**
 * KEYS conversation; ARGV expectedRev stateJson ttlMs addId ('' = none) addJson dropIds….
 * Compare-and-set, so that two processes handling the same user cannot both write on top of
 * one revision. The `unsent` index is one key for every conversation, so in another hash slot
 * on Cluster: the client updates it in steps of its own around this one (see `save`).
 */
const SAVE_CONVERSATION = `
local current = tonumber(redis.call('HGET', KEYS[1], 'r') or '0')
if current ~= tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'r', tostring(current + 1), 's', ARGV[2])
if ARGV[4] ~= '' then redis.call('HSET', KEYS[1], 'o:' .. ARGV[4], ARGV[5]) end
for i = 6, #ARGV do redis.call('HDEL', KEYS[1], 'o:' .. ARGV[i]) end
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
`;

/**
 * KEYS conversation unsent; ARGV expectedRev stateJson ttlMs member index ('keep' | 'drop' |
 * score) addId addJson dropIds…. The same compare-and-set with the `unsent` index updated
 * inside it, in one round trip: for a single node or a Sentinel group, where every key is on
 * one server (the bench's text turn: 4 round trips against 8 in steps).
 */
const SAVE_CONVERSATION_INDEXED = `
local current = tonumber(redis.call('HGET', KEYS[1], 'r') or '0')
if current ~= tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'r', tostring(current + 1), 's', ARGV[2])
if ARGV[6] ~= '' then redis.call('HSET', KEYS[1], 'o:' .. ARGV[6], ARGV[7]) end
for i = 8, #ARGV do redis.call('HDEL', KEYS[1], 'o:' .. ARGV[i]) end
redis.call('PEXPIRE', KEYS[1], ARGV[3])
if ARGV[5] == 'drop' then
  redis.call('ZREM', KEYS[2], ARGV[4])
elseif ARGV[5] ~= 'keep' then
  redis.call('ZADD', KEYS[2], ARGV[5], ARGV[4])
end
return 1
`;

/**
 * KEYS unsent conversation…; ARGV eventId… member… (one of each per conversation). Drops one
 * outbox entry of each conversation, and its index entry with its last one (the fields besides
 * the outbox: the revision, the state, the turn count). Delivery marks of many turns in one call.
 */
const OUTBOX_DELIVERED_INDEXED = `
local n = #KEYS - 1
for i = 1, n do
  local k = KEYS[i + 1]
  redis.call('HDEL', k, 'o:' .. ARGV[i])
  if redis.call('HLEN', k) - redis.call('HEXISTS', k, 'l') <= 2 then redis.call('ZREM', KEYS[1], ARGV[n + i]) end
end
return n
`;

/** KEYS index; ARGV score member. Lists the member at `score`, or keeps an earlier score it has. */
const INDEX_EARLIER = `
local current = redis.call('ZSCORE', KEYS[1], ARGV[2])
if current and tonumber(current) <= tonumber(ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2])
return 1
`;

/**
 * KEYS hash bookings; ARGV op ('incr' | 'set' | 'setnx') field value. A write to one of a
 * session's small hashes (counters, attendance) that expires with the session's bookings.
 * Returns 1 when written.
 */
const SESSION_WRITE = `
local written = 1
if ARGV[1] == 'incr' then redis.call('HINCRBY', KEYS[1], ARGV[2], ARGV[3])
elseif ARGV[1] == 'setnx' then written = redis.call('HSETNX', KEYS[1], ARGV[2], ARGV[3])
else redis.call('HSET', KEYS[1], ARGV[2], ARGV[3]) end
local ttl = redis.call('PTTL', KEYS[2])
if ttl > 0 then redis.call('PEXPIRE', KEYS[1], ttl) end
return written
`;

/** KEYS hash; the whole hash as a flat array (the same under RESP2 and RESP3). */
const HASH_ALL = `return redis.call('HGETALL', KEYS[1])`;

/**
 * KEYS conversation; ARGV eventId ('' = none). Drops one outbox entry; returns how many are
 * left (the fields besides the revision, the state and the turn count).
 */
const OUTBOX_DELIVERED = `
if ARGV[1] ~= '' then redis.call('HDEL', KEYS[1], 'o:' .. ARGV[1]) end
local n = redis.call('HLEN', KEYS[1]) - redis.call('HEXISTS', KEYS[1], 'l')
if n < 2 then return 0 end
return n - 2
`;

/**
 * KEYS conversation; ARGV nowMs windowMs. Counts one turn in field `l` ("windowStart:turns",
 * a fixed window from its first turn), then returns the whole hash as a flat array. A key
 * that did not exist expires with the window (a save then gives it the record's lifetime).
 */
const LOAD_COUNTING = `
local now = tonumber(ARGV[1])
local start, turns = now, 1
local kept = redis.call('HGET', KEYS[1], 'l')
if kept then
  local s, n = string.match(kept, '^(%d+):(%d+)$')
  if s and now - tonumber(s) < tonumber(ARGV[2]) then start, turns = tonumber(s), tonumber(n) + 1 end
end
local fresh = redis.call('EXISTS', KEYS[1]) == 0
redis.call('HSET', KEYS[1], 'l', string.format('%d:%d', start, turns))
if fresh then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return redis.call('HGETALL', KEYS[1])
`;

/**
 * KEYS stream; ARGV count. The `e` field of the latest entries, newest first, as a flat
 * array: XREVRANGE's nested reply differs between RESP2 and RESP3, a list of strings does not.
 */
const AUDIT_RECENT = `
local entries = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', ARGV[1])
local out = {}
for i = 1, #entries do
  local fields = entries[i][2]
  for j = 1, #fields, 2 do
    if fields[j] == 'e' then out[#out + 1] = fields[j + 1] end
  end
end
return out
`;

/**
 * Loaded once per connection by ioredis (EVALSHA, falling back to EVAL after a Redis restart).
 * No `readOnly` flags: EVALSHA_RO would need Redis 7, and every read goes to the master (replicas,
 * under Sentinel or in a Cluster, are there for failover).
 */
const SCRIPTS = {
  cbHold: { numberOfKeys: 4, lua: HOLD },
  cbReleaseHold: { numberOfKeys: 2, lua: RELEASE_HOLD },
  cbConfirm: { numberOfKeys: 5, lua: CONFIRM },
  cbCancel: { numberOfKeys: 3, lua: CANCEL },
  cbMove: { numberOfKeys: 3, lua: MOVE },
  cbForgetUser: { numberOfKeys: 6, lua: FORGET_USER },
  cbEraseUserTickets: { numberOfKeys: 4, lua: ERASE_USER_TICKETS },
  cbOccupancy: { numberOfKeys: 2, lua: OCCUPANCY },
  cbLookup: { numberOfKeys: 2, lua: LOOKUP },
  cbClaimTicket: { numberOfKeys: 1, lua: CLAIM_TICKET },
  cbCloseTicket: { numberOfKeys: 4, lua: CLOSE_TICKET },
  cbUpdateTicket: { numberOfKeys: 1, lua: UPDATE_TICKET },
  cbPurgeClosed: { numberOfKeys: 3, lua: PURGE_CLOSED },
  cbHashPairs: { numberOfKeys: 1, lua: HASH_PAIRS },
  cbSetCard: { numberOfKeys: 2, lua: SET_CARD },
  cbActiveTicket: { numberOfKeys: 2, lua: ACTIVE_TICKET },
  cbSaveConversation: { numberOfKeys: 1, lua: SAVE_CONVERSATION },
  cbSaveConversationIndexed: { numberOfKeys: 2, lua: SAVE_CONVERSATION_INDEXED },
  /** Called with the number of keys first: a batch names one conversation per mark. */
  cbOutboxDeliveredIndexed: { lua: OUTBOX_DELIVERED_INDEXED },
  cbIndexEarlier: { numberOfKeys: 1, lua: INDEX_EARLIER },
  cbHashAll: { numberOfKeys: 1, lua: HASH_ALL },
  cbSessionWrite: { numberOfKeys: 2, lua: SESSION_WRITE },
  cbOutboxDelivered: { numberOfKeys: 1, lua: OUTBOX_DELIVERED },
  cbLoadCounting: { numberOfKeys: 1, lua: LOAD_COUNTING },
  cbAuditRecent: { numberOfKeys: 1, lua: AUDIT_RECENT },
};

type Arg = string | number;

/** Delivery marks sent in one script call at most. */
const MARKS_PER_CALL = 128;

/**
 * Group commit: `send` gets every item queued while its previous call was under way (at most
 * `max` a call), so that under load many small writes share one round trip, while at rest each
 * leaves at the end of its tick. Each item's promise settles with the call that carried it.
 */
function groupCommit<T>(send: (items: T[]) => Promise<unknown>, max: number): (item: T) => Promise<void> {
  const queue: { item: T; resolve: () => void; reject: (err: unknown) => void }[] = [];
  let busy = false;
  const next = (): void => {
    const batch = queue.splice(0, max);
    if (batch.length === 0) {
      busy = false;
      return;
    }
    send(batch.map((b) => b.item)).then(
      () => batch.forEach((b) => b.resolve()),
      (err: unknown) => batch.forEach((b) => b.reject(err)),
    ).finally(next);
  };
  return (item) =>
    new Promise<void>((resolve, reject) => {
      queue.push({ item, resolve, reject });
      if (busy) return;
      busy = true;
      process.nextTick(next);
    });
}
/** ioredis adds one method per script at runtime; this is their type. */
type ScriptedRedis = RedisClient & Record<keyof typeof SCRIPTS, (...args: Arg[]) => Promise<unknown>>;
type ScriptedPipeline = ChainableCommander &
  Record<keyof typeof SCRIPTS, (...args: Arg[]) => ChainableCommander>;

/**
 * Connects to Redis and returns a store (`kind: 'redis'`). Rejects when Redis cannot be
 * reached at startup, so a misconfigured deployment fails loudly. Once connected, an outage
 * makes commands (and `ping()`) reject within about a second and a half instead of
 * queueing, while ioredis reconnects in the background.
 */
export async function createRedisStore(opts: RedisStoreOptions): Promise<Store> {
  const { prefix } = opts;
  const redis = createRedisClient(targetOf(opts), {
    lazyConnect: true,
    // The commands of concurrent turns issued in one tick leave in one write (bench: Redis CPU per turn halved).
    enableAutoPipelining: true,
    connectTimeout: COMMAND_TIMEOUT_MS,
    commandTimeout: COMMAND_TIMEOUT_MS,
    maxRetriesPerRequest: 1,
    scripts: SCRIPTS,
  }) as ScriptedRedis;
  // Without a listener an 'error' event would crash the process during an outage.
  redis.on('error', (error: Error) => opts.onError?.(error));
  try {
    await redis.connect();
  } catch (error) {
    redis.disconnect();
    throw error;
  }
  // From now on fail fast while disconnected rather than hold a user's turn in a queue.
  redis.options.enableOfflineQueue = false;

  const sessionKeys = (sessionId: string) => {
    const base = `${prefix}{s:${sessionId}}:`;
    return {
      booked: `${base}booked`,
      holds: `${base}holds`,
      heldBy: `${base}heldBy`,
      users: `${base}users`,
      bookings: `${base}bookings`,
      erased: `${base}erased`,
      counters: `${base}counters`,
      attendance: `${base}attendance`,
      invited: `${base}invited`,
      waitlist: `${base}waitlist`,
    };
  };
  const { sealer } = opts;
  // The scripts read a booking's id, slot and owner; everything else is sealed.
  const encodeBooking = (booking: Booking): string => {
    if (!sealer) return JSON.stringify(booking);
    const { id, sessionId, slotId, userKey, personKey } = booking;
    return JSON.stringify({ id, sessionId, slotId, userKey, personKey, sealed: sealer.seal(JSON.stringify(booking)) });
  };
  const decodeBooking = (json: string): Booking => {
    const stored = JSON.parse(json) as Booking & { sealed?: string };
    if (typeof stored.sealed !== 'string') return stored;
    if (!sealer) throw new Error('a sealed booking was read without a data encryption key');
    return JSON.parse(sealer.open(stored.sealed)) as Booking;
  };
  const encodeState = (state: unknown): string => (sealer ? sealer.seal(JSON.stringify(state)) : JSON.stringify(state));
  const decodeState = (text: string): unknown => {
    if (!isSealed(text)) return JSON.parse(text);
    if (!sealer) throw new Error('a sealed conversation was read without a data encryption key');
    return JSON.parse(sealer.open(text));
  };
  const conversationKey = (key: string) => `${prefix}conv:${key}`;
  const unsentKey = `${prefix}unsent`;
  const dedupeKey = (id: string) => `${prefix}dedupe:${id}`;
  const ticketsById = `${prefix}{tickets}:byId`;
  const ticketsOpen = `${prefix}{tickets}:open`;
  const ticketsCards = `${prefix}{tickets}:cards`;
  const ticketsClosed = `${prefix}{tickets}:closed`;
  const feedbackKey = `${prefix}feedback`;
  const auditKey = `${prefix}audit`;
  const auditCap = opts.auditCap ?? DEFAULT_AUDIT_CAP;
  // The question a citizen agreed to pass to staff is personal data: sealed like bookings.
  const encodeTicket = (ticket: Ticket): string =>
    JSON.stringify(sealer && ticket.question !== undefined ? { ...ticket, question: sealer.seal(ticket.question) } : ticket);
  const parseTicket = (json: string | null | undefined): Ticket | null => {
    if (json == null) return null;
    const ticket = JSON.parse(json) as Ticket;
    // cjson writes an empty Lua table as an object; suggestions are never stored empty, but be sure.
    if (ticket.suggestions !== undefined && !Array.isArray(ticket.suggestions)) delete ticket.suggestions;
    if (ticket.question === undefined || !isSealed(ticket.question)) return ticket;
    if (!sealer) throw new Error('a sealed ticket was read without a data encryption key');
    return { ...ticket, question: sealer.open(ticket.question) };
  };
  /** A ticket script's flat reply (`{outcome, ticketJson?}`) as a transition. */
  const transition = ([outcome, json]: [string, string?]): TicketTransition => {
    const ticket = parseTicket(json);
    if (outcome === 'ok' && ticket) return { ok: true, ticket };
    const reason = outcome as 'not_found' | 'taken' | 'closed';
    return ticket ? { ok: false, reason, ticket } : { ok: false, reason };
  };
  const userTickets = (userKey: string) => `${prefix}{tickets}:user:${userKey}`;
  const channelKey = (name: string) => `${prefix}channel:${name}`;

  const reportIndexError = (error: Error) => opts.onError?.(error);
  /**
   * Every key on one server (a single node, a Sentinel group): the `unsent` index is updated
   * inside the conversation's scripts. On a Cluster it is in another hash slot, so in steps.
   */
  const oneServer = targetOf(opts).kind !== 'cluster';
  /**
   * Takes a conversation off the `unsent` index, then looks again: an outbox entry saved in
   * between (its own listing done before this removal) lists it again, at about its time.
   */
  const unlist = async (key: string): Promise<void> => {
    await redis.zrem(unsentKey, key);
    if (Number(await redis.cbOutboxDelivered(conversationKey(key), '')) > 0) await redis.zadd(unsentKey, 'NX', Date.now(), key);
  };

  /** A conversation hash's fields (`r` revision, `s` state, `o:<id>` outbox, `l` turn count) as a record, and its count. */
  const conversationOf = (fields: string[]): { stored: StoredConversation | null; turns: number } => {
    let rev: string | undefined;
    let json: string | undefined;
    let turns = 0;
    const outbox: unknown[] = [];
    for (let i = 0; i + 1 < fields.length; i += 2) {
      const [name, value] = [fields[i]!, fields[i + 1]!];
      if (name === 'r') rev = value;
      else if (name === 's') json = value;
      else if (name === 'l') turns = Number(value.slice(value.indexOf(':') + 1));
      else if (name.startsWith('o:')) outbox.push(decodeState(value));
    }
    const stored = rev === undefined || json === undefined ? null : { rev: Number(rev), state: decodeState(json), ...(outbox.length > 0 ? { outbox } : {}) };
    return { stored, turns };
  };

  /** On one server, the delivery marks of concurrent turns leave together (see `groupCommit`). */
  const markDelivered = groupCommit<{ key: string; id: string }>(
    (marks) => redis.cbOutboxDeliveredIndexed(1 + marks.length, unsentKey, ...marks.map((m) => conversationKey(m.key)), ...marks.map((m) => m.id), ...marks.map((m) => m.key)),
    MARKS_PER_CALL,
  );

  const conversations: ConversationStore = {
    async load(key) {
      return conversationOf((await redis.cbHashAll(conversationKey(key))) as string[]).stored;
    },
    async loadCounting(key, nowMs, windowMs) {
      return conversationOf((await redis.cbLoadCounting(conversationKey(key), Math.floor(nowMs), ttlOf(windowMs))) as string[]);
    },
    async save(key, expectedRev, state, ttlMs, change) {
      if (oneServer) {
        const index = !change ? 'keep' : change.unsentSince === undefined ? 'drop' : change.unsentSince;
        const add = change?.add ? [change.add.id, encodeState(change.add.entry)] : ['', ''];
        return (await redis.cbSaveConversationIndexed(conversationKey(key), unsentKey, expectedRev, encodeState(state), ttlOf(ttlMs), key, index, ...add, ...(change?.drop ?? []))) === 1;
      }
      const since = change?.unsentSince;
      // Listed before its outbox entry is written: a crash between the two steps leaves the
      // entry findable by the sweep (an entry listed too early costs the sweep one read).
      if (since !== undefined) await redis.cbIndexEarlier(unsentKey, since, key);
      const add = change?.add ? [change.add.id, encodeState(change.add.entry)] : ['', ''];
      const saved = (await redis.cbSaveConversation(conversationKey(key), expectedRev, encodeState(state), ttlOf(ttlMs), ...add, ...(change?.drop ?? []))) === 1;
      // The index is only a hint from here on: the save stands whatever these steps meet.
      if (!change || (!saved && since === undefined)) return saved;
      const settled = saved
        ? since !== undefined ? redis.zadd(unsentKey, since, key) : unlist(key)
        : // Refused: the listing made above is undone only when the outbox is empty.
          redis.cbOutboxDelivered(conversationKey(key), '').then((left) => (Number(left) === 0 ? unlist(key) : undefined));
      await settled.catch(reportIndexError);
      return saved;
    },
    async delivered(key, id) {
      if (oneServer) return markDelivered({ key, id });
      if (Number(await redis.cbOutboxDelivered(conversationKey(key), id)) === 0) await unlist(key).catch(reportIndexError);
    },
    async delete(key) {
      await redis.del(conversationKey(key));
      await redis.zrem(unsentKey, key);
    },
    async unsent(beforeMs, limit) {
      return redis.zrangebyscore(unsentKey, '-inf', `(${beforeMs}`, 'LIMIT', 0, limit);
    },
  };

  const dedupe: DedupeStore = {
    async claim(id, ttlMs) {
      return (await redis.set(dedupeKey(id), '1', 'PX', ttlOf(ttlMs), 'NX')) === 'OK';
    },
    async release(id) {
      await redis.del(dedupeKey(id));
    },
  };

  const wait = opts.wait && opts.wait.replicas > 0 ? opts.wait : undefined;
  /**
   * Runs one booking script, followed with `WAIT` and `ROLE` (which lists the replicas
   * connected) when replicas are asked for: in one pipeline, so on the connection (and, on
   * Cluster, the node) that ran the script, whose writes WAIT counts. A short wait rejects: the
   * booking dialog then says it cannot tell whether the booking was made (as when the
   * connection drops), and a retried confirm finds it.
   */
  const replicated = async (script: 'cbConfirm' | 'cbMove' | 'cbCancel', ...args: Arg[]): Promise<unknown> => {
    if (!wait) return redis[script](...args);
    const pipeline = (redis.pipeline() as ScriptedPipeline)[script](...args).call('WAIT', wait.replicas, wait.timeoutMs).call('ROLE');
    const [[error, reply] = [null, undefined], [waitError, waited] = [null, 0], [, role] = [null, []]] = (await pipeline.exec()) ?? [];
    if (error) throw error;
    const acked = waitError ? 0 : Number(waited);
    // ['master', offset, [[host, port, offset], …]]
    const connected = Array.isArray(role) && Array.isArray(role[2]) ? role[2].length : wait.replicas;
    const wanted = Math.min(wait.replicas, connected);
    if (acked < wanted) {
      opts.onWaitShort?.(acked);
      throw new ReplicaWaitError(acked, wanted);
    }
    return reply;
  };

  const bookings: BookingStore = {
    async occupancy(sessionId, nowMs) {
      const k = sessionKeys(sessionId);
      const [booked, holds] = (await redis.cbOccupancy(k.booked, k.holds)) as [string[], string[]];
      const occupancy: Occupancy = { booked: new Set(booked), held: new Map() };
      for (let i = 0; i + 1 < holds.length; i += 2) {
        const hold = parseHold(holds[i + 1] ?? '');
        if (hold.expiresAt > nowMs) occupancy.held.set(holds[i] ?? '', hold.userKey);
      }
      return occupancy;
    },

    async hold(sessionId, slotId, userKey, nowMs, ttlMs, maxMs) {
      const k = sessionKeys(sessionId);
      const [ok, detail] = (await redis.cbHold(
        k.booked, k.holds, k.heldBy, k.users,
        slotId, userKey, nowMs, ttlOf(ttlMs), ttlOf(maxMs),
      )) as [number, string];
      return ok === 1 ? { ok: true, expiresAt: Number(detail) } : { ok: false, reason: detail as 'taken' | 'already_booked' };
    },

    async releaseHold(sessionId, userKey) {
      const k = sessionKeys(sessionId);
      await redis.cbReleaseHold(k.holds, k.heldBy, userKey);
    },

    async confirm(booking, nowMs, holderKey = booking.userKey) {
      const k = sessionKeys(booking.sessionId);
      const json = encodeBooking(booking);
      const [outcome, existing] = (await replicated(
        'cbConfirm', k.booked, k.holds, k.heldBy, k.users, k.bookings,
        booking.id, booking.slotId, booking.userKey, nowMs, json, holderKey, booking.personKey ?? '',
      )) as [string, string?];
      if (outcome === 'ok') return { ok: true, booking };
      if (outcome === 'own') {
        const own = existing ? decodeBooking(existing) : null;
        // The same booking again (a retried confirm); not another conversation's of the same person.
        return own?.slotId === booking.slotId && own.userKey === booking.userKey ? { ok: true, booking: own } : { ok: false, reason: 'already_booked' };
      }
      return { ok: false, reason: outcome as 'taken' | 'id_collision' };
    },

    async get(sessionId, bookingId) {
      const json = await redis.hget(sessionKeys(sessionId).bookings, bookingId);
      return json == null ? null : decodeBooking(json);
    },

    async findByUser(userKey, sessionIds) {
      // One command per session, each in its session's slot; sent together (ioredis writes
      // each at once, and a Cluster client sends each to its node), so one round trip.
      const replies = await Promise.all(sessionIds.map((sessionId) => {
        const k = sessionKeys(sessionId);
        return redis.cbLookup(k.users, k.bookings, userKey);
      }));
      return replies.flatMap((json) => (typeof json === 'string' ? [decodeBooking(json)] : []));
    },

    async count(sessionId, counter, by = 1) {
      const k = sessionKeys(sessionId);
      await redis.cbSessionWrite(k.counters, k.bookings, 'incr', counter, by);
    },
    async counters(sessionId) {
      const flat = (await redis.cbHashAll(sessionKeys(sessionId).counters)) as string[];
      const out = Object.fromEntries(SESSION_COUNTERS.map((c) => [c, 0])) as Record<SessionCounter, number>;
      for (let i = 0; i + 1 < flat.length; i += 2) if ((SESSION_COUNTERS as readonly string[]).includes(flat[i]!)) out[flat[i] as SessionCounter] = Number(flat[i + 1]);
      return out;
    },
    async markAttendance(sessionId, bookingId, status, onlyIfUnmarked) {
      const k = sessionKeys(sessionId);
      return (await redis.cbSessionWrite(k.attendance, k.bookings, onlyIfUnmarked ? 'setnx' : 'set', bookingId, status)) === 1;
    },
    async attendance(sessionId) {
      const flat = (await redis.cbHashAll(sessionKeys(sessionId).attendance)) as string[];
      return new Map(Array.from({ length: flat.length / 2 }, (_, i) => [flat[2 * i]!, flat[2 * i + 1] as Attendance]));
    },
    async joinWaitlist(sessionId, userKey, atMs) {
      const k = sessionKeys(sessionId);
      const [, rank] = (await redis.multi().zadd(k.waitlist, 'NX', atMs, userKey).zrank(k.waitlist, userKey).exec()) ?? [];
      return Number(rank?.[1]) + 1;
    },
    async waitlistPlace(sessionId, userKey) {
      const rank = await redis.zrank(sessionKeys(sessionId).waitlist, userKey);
      return rank === null ? undefined : Number(rank) + 1;
    },
    async nextWaiting(sessionId) {
      const popped = (await redis.zpopmin(sessionKeys(sessionId).waitlist)) as string[];
      return popped[0];
    },
    async markInvited(sessionId, bookingId, atMs) {
      const k = sessionKeys(sessionId);
      await redis.cbSessionWrite(k.invited, k.bookings, 'set', bookingId, atMs);
    },
    async invited(sessionId) {
      const flat = (await redis.cbHashAll(sessionKeys(sessionId).invited)) as string[];
      return new Map(Array.from({ length: flat.length / 2 }, (_, i) => [flat[2 * i]!, Number(flat[2 * i + 1])]));
    },
    async expireSession(sessionId, atMs) {
      const k = sessionKeys(sessionId);
      const multi = redis.multi();
      for (const key of [k.booked, k.holds, k.heldBy, k.users, k.bookings, k.erased, k.counters, k.attendance, k.invited, k.waitlist]) multi.pexpireat(key, atMs);
      await multi.exec();
    },

    async listSession(sessionId) {
      const jsons = await redis.hvals(sessionKeys(sessionId).bookings);
      return bySlot(jsons.map(decodeBooking));
    },

    async move(booking, toSlotId, nowMs, holderKey = booking.userKey) {
      const k = sessionKeys(booking.sessionId);
      const moved: Booking = { ...booking, slotId: toSlotId };
      const [outcome] = (await replicated('cbMove', k.booked, k.holds, k.bookings, booking.id, booking.userKey, booking.slotId, toSlotId, encodeBooking(moved), nowMs, holderKey)) as [string];
      return outcome === 'ok' ? { ok: true, booking: moved } : { ok: false, reason: outcome as 'taken' | 'changed' };
    },
    async cancel(sessionId, bookingId, userKey) {
      const k = sessionKeys(sessionId);
      return (await replicated('cbCancel', k.booked, k.users, k.bookings, bookingId, userKey)) === 1;
    },

    async forgetUser(sessionId, userKey, count) {
      const k = sessionKeys(sessionId);
      return (await redis.cbForgetUser(k.booked, k.holds, k.heldBy, k.users, k.bookings, k.erased, userKey, count ? '1' : '0')) === 1;
    },

    async erasedCount(sessionId) {
      return Number((await redis.get(sessionKeys(sessionId).erased)) ?? 0);
    },
  };

  const tickets: TicketStore = {
    async create(ticket) {
      // MULTI so a ticket is never listed without its body, or stored but never listed.
      const multi = redis.multi().hset(ticketsById, ticket.id, encodeTicket(ticket));
      if (ticket.status !== 'closed') {
        const score = ticketScore(ticket);
        multi.zadd(ticketsOpen, score, ticket.id).zadd(userTickets(ticket.userKey), score, ticket.id);
      }
      const replies = await multi.exec();
      const failed = replies?.find(([error]) => error)?.[0];
      if (failed) throw failed;
    },
    async get(id) {
      return parseTicket(await redis.hget(ticketsById, id));
    },
    async listOpen() {
      const ids = await redis.zrange(ticketsOpen, 0, '-1');
      if (ids.length === 0) return [];
      const jsons = await redis.hmget(ticketsById, ...ids);
      return jsons.flatMap((json) => parseTicket(json) ?? []);
    },
    async claim(id, agent, at) {
      const reply = (await redis.cbClaimTicket(ticketsById, id, JSON.stringify(agent), at)) as [string, string?];
      return transition(reply);
    },
    async close(id, by, at, closing = {}) {
      // Bounded: only a ticket re-created for another user between read and script moves.
      for (let attempt = 0; attempt < 3; attempt++) {
        const ticket = parseTicket(await redis.hget(ticketsById, id));
        if (!ticket) return { ok: false, reason: 'not_found' };
        const reply = (await redis.cbCloseTicket(
          ticketsById, ticketsOpen, userTickets(ticket.userKey), ticketsClosed,
          id, ticket.userKey, JSON.stringify(by), at, JSON.stringify(closing), Date.parse(at) || 0,
        )) as [string, string?];
        if (reply[0] !== 'moved') return transition(reply);
      }
      throw new Error(`ticket ${id} kept changing owner while being closed`);
    },
    async update(id, { reopen, ...patch }) {
      const sealed = sealer && patch.question !== undefined ? { ...patch, question: sealer.seal(patch.question) } : patch;
      return transition((await redis.cbUpdateTicket(ticketsById, id, JSON.stringify(sealed), reopen ? '1' : '0')) as [string, string?]);
    },
    async listAll() {
      const jsons = await redis.hvals(ticketsById);
      return oldestFirst(jsons.flatMap((json) => parseTicket(json) ?? []));
    },
    async purgeClosed(beforeMs) {
      return Number(await redis.cbPurgeClosed(ticketsById, ticketsClosed, ticketsCards, Math.floor(beforeMs)));
    },
    async setCard(id, card) {
      await redis.cbSetCard(ticketsById, ticketsCards, id, JSON.stringify(card));
    },
    async findByCard(activityId) {
      return parseTicket((await redis.cbLookup(ticketsCards, ticketsById, activityId)) as string | null);
    },
    async activeFor(userKey) {
      return parseTicket((await redis.cbActiveTicket(userTickets(userKey), ticketsById)) as string | null);
    },
    async eraseUser(userKey, at) {
      const jsons = (await redis.cbEraseUserTickets(
        ticketsById, ticketsOpen, userTickets(userKey), ticketsClosed,
        userKey, JSON.stringify('citizen'), at, Date.parse(at) || 0, ERASED_USER,
      )) as string[];
      return oldestFirst(jsons.flatMap((json) => parseTicket(json) ?? []));
    },
  };

  const feedback: FeedbackStore = {
    async record(entryId, helpful) {
      await redis.hincrby(feedbackKey, `${entryId}:${helpful ? 1 : 0}`, 1);
    },
    async counts() {
      const pairs = (await redis.cbHashPairs(feedbackKey)) as string[];
      const counts = new Map<string, { helpful: number; unhelpful: number }>();
      for (let i = 0; i + 1 < pairs.length; i += 2) {
        const field = pairs[i]!;
        const id = field.slice(0, field.lastIndexOf(':'));
        const current = counts.get(id) ?? { helpful: 0, unhelpful: 0 };
        if (field.endsWith(':1')) current.helpful += Number(pairs[i + 1]);
        else current.unhelpful += Number(pairs[i + 1]);
        counts.set(id, current);
      }
      return counts;
    },
  };

  const audit: AuditStore = {
    async append(entry) {
      await redis.xadd(auditKey, 'MAXLEN', '~', auditCap, '*', 'e', JSON.stringify(entry));
    },
    async recent(n) {
      const count = Math.max(0, Math.floor(n));
      if (count === 0) return [];
      const jsons = (await redis.cbAuditRecent(auditKey, count)) as string[];
      return jsons.map((json) => JSON.parse(json) as AuditEntry);
    },
  };

  const channels: ChannelStore = {
    async get(name) {
      const json = await redis.get(channelKey(name));
      return json == null ? null : (JSON.parse(json) as ChannelRecord);
    },
    async put(name, record) {
      await redis.set(channelKey(name), JSON.stringify(record));
    },
  };

  const linksKey = `${prefix}meetinglinks`;
  const meetingLinks: MeetingLinkStore = {
    async set(sessionId, url, slotId) {
      await redis.hset(linksKey, slotId ? `${sessionId}:${slotId}` : sessionId, url);
    },
    async get(sessionId, slotId) {
      const [slot, session] = await redis.hmget(linksKey, slotId ? `${sessionId}:${slotId}` : sessionId, sessionId);
      return slot ?? session ?? undefined;
    },
  };

  const movesKey = `${prefix}moves`;
  const moves: MoveIntentStore = {
    async begin(userKey, intent) {
      await redis.hset(movesKey, userKey, JSON.stringify(intent));
    },
    async end(userKey) {
      await redis.hdel(movesKey, userKey);
    },
    async list() {
      const flat = (await redis.cbHashAll(movesKey)) as string[];
      return Array.from({ length: flat.length / 2 }, (_, i) => [flat[2 * i]!, JSON.parse(flat[2 * i + 1]!) as MoveIntent]);
    },
  };

  const optOutKey = `${prefix}optout`;
  const optOuts: OptOutStore = {
    async add(userKey) {
      await redis.sadd(optOutKey, userKey);
    },
    async remove(userKey) {
      await redis.srem(optOutKey, userKey);
    },
    async has(userKey) {
      return (await redis.sismember(optOutKey, userKey)) === 1;
    },
  };

  const instanceKey = (id: string) => `${prefix}instance:${id}`;
  const instances: InstanceStore = {
    async beat(id, ttlMs) {
      await redis.set(instanceKey(id), '1', 'PX', ttlOf(ttlMs));
    },
    async alive(ids) {
      // One EXISTS per mark (each in its own slot on Cluster), sent together.
      const replies = await Promise.all(ids.map((id) => redis.exists(instanceKey(id))));
      return new Set(ids.filter((_, i) => replies[i] === 1));
    },
    async forget(id) {
      await redis.del(instanceKey(id));
    },
  };

  return {
    kind: 'redis',
    conversations,
    instances,
    optOuts,
    moves,
    meetingLinks,
    dedupe,
    bookings,
    tickets,
    channels,
    feedback,
    audit,
    async ping() {
      await redis.ping();
    },
    async close() {
      try {
        await redis.quit();
      } catch {
        // Already down: QUIT cannot be sent, so just drop the socket and stop reconnecting.
        redis.disconnect();
      }
    },
  };
}

/** The store's target: `target`, or the one node at `url`. */
function targetOf(opts: { url?: string; target?: RedisTarget }): RedisTarget {
  if (opts.target) return opts.target;
  if (opts.url) return { kind: 'single', url: opts.url };
  throw new Error('a Redis store needs a url or a target');
}

/**
 * Whether Redis keeps an append-only file, so that confirmed bookings survive a restart:
 * `yes`, `no`, or `refused` when the server does not allow `CONFIG GET` (managed Redis, an
 * ACL without it). Asks every node that holds data (the one node, the sentinels' master, each
 * Cluster node: any `no` or `refused` answers for all). Connects once for the question and
 * disconnects; rejects when Redis cannot be reached.
 */
export async function appendOnlyOf(target: RedisTarget): Promise<'yes' | 'no' | 'refused'> {
  const redis = createRedisClient(target, { lazyConnect: true, connectTimeout: COMMAND_TIMEOUT_MS, commandTimeout: COMMAND_TIMEOUT_MS, maxRetriesPerRequest: 0 });
  // Errors reach the caller through the commands' rejections.
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    const answers = await Promise.all(dataNodes(redis).map(async (node) => {
      let reply: unknown;
      try {
        reply = await node.call('CONFIG', 'GET', 'appendonly');
      } catch (error) {
        // An error reply (NOPERM, unknown command) is the server refusing CONFIG; anything else is not.
        if (error instanceof Error && error.name === 'ReplyError') return 'refused';
        throw error;
      }
      // ['appendonly', 'yes']
      return Array.isArray(reply) && String(reply[1]) === 'yes' ? 'yes' : 'no';
    }));
    return answers.includes('refused') ? 'refused' : answers.includes('no') ? 'no' : 'yes';
  } finally {
    redis.disconnect();
  }
}
