/**
 * The web chat outbox in Redis, so that a staff reply queued by one instance reaches a page
 * polling any other (no sticky sessions). Per conversation, two keys in one hash slot:
 *
 * - `{p}{w:<conversationId>}:out`  stream of waiting replies (field `r`: the reply's JSON,
 *   sealed when the store seals), at most `maxPerConversation`, none older than `ttlMs`
 * - `{p}{w:<conversationId>}:seen` sorted set of delivered idempotency keys (hashed) → when
 *
 * Both expire `ttlMs` after the last delivery. The stream's ids are the cursors of
 * `outbox.ts`; each delivery and each poll is one script, so two instances answering polls
 * of one conversation never both hand over what one of them acknowledged. Needs Redis 6.2
 * (XTRIM MINID, exclusive XRANGE).
 */
import { createHash } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import { isSealed, type Sealer } from '../../stores/sealing.ts';
import type { Reply } from '../../turn.ts';
import { checkCursor, conversationOf, FIRST_CURSOR, isWebchatKey, type Outbox, type OutboxPoll } from './outbox.ts';

/** Redis's clock in ms: stream ids are on it, so ages are too. */
const NOW = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

/** KEYS: out, seen. ARGV: key hash, ttlMs, maxPerConversation, maxKeys, replies…; 1 when queued, 0 when seen. */
const DELIVER = `${NOW}
local ttl = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - ttl)
if redis.call('ZADD', KEYS[2], 'NX', now, ARGV[1]) == 0 then return 0 end
redis.call('ZREMRANGEBYRANK', KEYS[2], 0, -(tonumber(ARGV[4]) + 1))
redis.call('PEXPIRE', KEYS[2], ttl)
for i = 5, #ARGV do redis.call('XADD', KEYS[1], 'MAXLEN', ARGV[3], '*', 'r', ARGV[i]) end
if #ARGV >= 5 then
  redis.call('XTRIM', KEYS[1], 'MINID', now - ttl + 1)
  redis.call('PEXPIRE', KEYS[1], ttl)
end
return 1
`;

/**
 * KEYS: out. ARGV: cursor ('' takes everything), ttlMs; id, reply, id, reply…. An emptied
 * stream is trimmed, not deleted, so that it keeps its last id and new ids stay ahead.
 */
const POLL = `${NOW}
redis.call('XTRIM', KEYS[1], 'MINID', now - tonumber(ARGV[2]) + 1)
local cursor = ARGV[1]
local entries
if cursor == '' then
  entries = redis.call('XRANGE', KEYS[1], '-', '+')
  if #entries > 0 then redis.call('XTRIM', KEYS[1], 'MAXLEN', 0) end
else
  redis.call('XTRIM', KEYS[1], 'MINID', cursor)
  redis.call('XDEL', KEYS[1], cursor)
  entries = redis.call('XRANGE', KEYS[1], '(' .. cursor, '+')
end
local out = {}
for _, e in ipairs(entries) do
  out[#out + 1] = e[1]
  out[#out + 1] = e[2][2]
end
return out
`;

const COMMANDS = {
  cbWebchatDeliver: { numberOfKeys: 2, lua: DELIVER },
  cbWebchatPoll: { numberOfKeys: 1, lua: POLL },
};

type Scripted = Record<keyof typeof COMMANDS, (...args: (string | number)[]) => Promise<unknown>>;

export interface RedisWebchatOutboxOptions {
  /** A connection of the app's (a node, or a Cluster: each script stays in one slot). */
  redis: Redis | Cluster;
  /** Key prefix (the store's). */
  prefix: string;
  /** Seals the replies (staff write free text), as the store seals conversation state. */
  sealer?: Sealer;
  /** Waiting replies kept per conversation (default 50); the oldest go first. */
  maxPerConversation?: number;
  /** How long replies and seen keys are kept (ms, default one hour). */
  ttlMs?: number;
  /** Idempotency keys remembered per conversation (default 200). */
  maxKeysPerConversation?: number;
}

export class RedisWebchatOutbox implements Outbox {
  private readonly redis: Scripted;
  private readonly prefix: string;
  private readonly sealer: Sealer | undefined;
  private readonly maxPerConversation: number;
  private readonly ttlMs: number;
  private readonly maxKeys: number;

  constructor(opts: RedisWebchatOutboxOptions) {
    // ioredis loads each script once per connection (EVALSHA, EVAL after a Redis restart).
    for (const [name, command] of Object.entries(COMMANDS)) opts.redis.defineCommand(name, command);
    this.redis = opts.redis as unknown as Scripted;
    this.prefix = opts.prefix;
    this.sealer = opts.sealer;
    this.maxPerConversation = opts.maxPerConversation ?? 50;
    this.ttlMs = opts.ttlMs ?? 3_600_000;
    this.maxKeys = opts.maxKeysPerConversation ?? 200;
  }

  handles(userKey: string): boolean {
    return isWebchatKey(userKey);
  }

  async deliver(userKey: string, replies: Reply[], idempotencyKey: string): Promise<void> {
    const base = this.keyBase(conversationOf(userKey));
    // Hashed: a fixed size, and nothing of the key itself stored.
    const keyHash = createHash('sha256').update(idempotencyKey).digest('base64url').slice(0, 22);
    const encoded = replies.map((r) => (this.sealer ? this.sealer.seal(JSON.stringify(r)) : JSON.stringify(r)));
    await this.redis.cbWebchatDeliver(`${base}out`, `${base}seen`, keyHash, this.ttlMs, this.maxPerConversation, this.maxKeys, ...encoded);
  }

  async poll(conversationId: string, cursor?: string): Promise<OutboxPoll> {
    if (cursor !== undefined) checkCursor(cursor);
    const flat = (await this.redis.cbWebchatPoll(`${this.keyBase(conversationId)}out`, cursor ?? '', this.ttlMs)) as string[];
    const replies: Reply[] = [];
    for (let i = 1; i < flat.length; i += 2) replies.push(this.decode(flat[i]!));
    return { replies, cursor: flat.at(-2) ?? cursor ?? FIRST_CURSOR };
  }

  private keyBase(conversationId: string): string {
    return `${this.prefix}{w:${conversationId}}:`;
  }

  private decode(text: string): Reply {
    if (!isSealed(text)) return JSON.parse(text) as Reply;
    if (!this.sealer) throw new Error('a sealed web chat reply was read without a data encryption key');
    return JSON.parse(this.sealer.open(text)) as Reply;
  }
}
