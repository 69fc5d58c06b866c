/**
 * The web chat's way to reach a citizen outside a turn (staff claimed, replied, closed):
 * there is no push, so replies wait until the page polls `GET /webchat/messages`.
 *
 * Each waiting reply has an id (`<ms>-<seq>`, ordered). A poll carries the cursor of the last
 * answer the page got (`after`): what is at or before it is acknowledged and removed, what
 * comes after it is returned with the new cursor. An answer lost on the way is so returned
 * again by the next poll, on any instance, and one the page got never is. A poll without a
 * cursor (a page loaded before cursors) takes everything, as before.
 *
 * Bounded per conversation: at most `maxPerConversation` waiting replies (the oldest are
 * dropped), nothing older than `ttlMs` (the page is gone). A delivery whose idempotency key
 * was seen in the last `ttlMs` is ignored, so a retried delivery shows once even after the
 * page took the first. Here in memory, for one process (at most `maxConversations`
 * conversations); `redisOutbox.ts` keeps it in Redis for several instances.
 */
import type { Reply } from '../../turn.ts';
import type { CitizenMessenger } from '../../services/staff.ts';

const USER_KEY_PREFIX = 'web:';

/** A waiting reply's id, as Redis stream ids look: milliseconds, a sequence within them. */
export const CURSOR_PATTERN = /^\d{1,15}-\d{1,15}$/;
/** The cursor before every id. */
export const FIRST_CURSOR = '0-0';

/** What a poll hands over: the replies after the cursor, oldest first, and the cursor after them. */
export interface OutboxPoll {
  replies: Reply[];
  cursor: string;
}

/** The outbox of either kind: `WebchatOutbox` (this process) or `RedisWebchatOutbox`. */
export interface Outbox extends CitizenMessenger {
  /**
   * Acknowledges (removes) what is at or before `after` and returns what comes after it;
   * without `after`, returns and removes everything waiting for `conversationId`.
   */
  poll(conversationId: string, after?: string): Promise<OutboxPoll>;
}

/** The conversation of a web chat user key (`web:<conversationId>`); throws for another channel's. */
export function conversationOf(userKey: string): string {
  if (!isWebchatKey(userKey)) throw new Error('not a web chat user key');
  return userKey.slice(USER_KEY_PREFIX.length);
}

export function isWebchatKey(userKey: string): boolean {
  return userKey.startsWith(USER_KEY_PREFIX) && userKey.length > USER_KEY_PREFIX.length;
}

/** Throws unless `cursor` is an id. */
export function checkCursor(cursor: string): void {
  if (!CURSOR_PATTERN.test(cursor)) throw new Error('malformed outbox cursor');
}

export interface WebchatOutboxOptions {
  /** Waiting replies kept per conversation (default 50); the oldest go first. */
  maxPerConversation?: number;
  /** How long replies and seen keys are kept (ms, default one hour). */
  ttlMs?: number;
  /** Conversations kept at once (default 10 000); the least recently written go first. */
  maxConversations?: number;
  /** Idempotency keys remembered per conversation (default 200). */
  maxKeysPerConversation?: number;
  now?: () => number;
}

type Id = readonly [ms: number, seq: number];

interface Pending {
  id: Id;
  reply: Reply;
  at: number;
}

interface Box {
  pending: Pending[];
  /** Idempotency key → when it was delivered. */
  keys: Map<string, number>;
  touchedAt: number;
  lastId: Id;
}

const parseId = (text: string): Id => {
  const [ms, seq] = text.split('-');
  return [Number(ms), Number(seq)];
};
const formatId = ([ms, seq]: Id): string => `${ms}-${seq}`;
const after = (a: Id, b: Id): boolean => a[0] > b[0] || (a[0] === b[0] && a[1] > b[1]);

/** The outbox in this process's memory. */
export class WebchatOutbox implements Outbox {
  private readonly boxes = new Map<string, Box>();
  private readonly maxPerConversation: number;
  private readonly ttlMs: number;
  private readonly maxConversations: number;
  private readonly maxKeys: number;
  private readonly now: () => number;

  constructor(opts: WebchatOutboxOptions = {}) {
    this.maxPerConversation = opts.maxPerConversation ?? 50;
    this.ttlMs = opts.ttlMs ?? 3_600_000;
    this.maxConversations = opts.maxConversations ?? 10_000;
    this.maxKeys = opts.maxKeysPerConversation ?? 200;
    this.now = opts.now ?? Date.now;
  }

  handles(userKey: string): boolean {
    return isWebchatKey(userKey);
  }

  /** Queues `replies` for the conversation of `userKey` (`web:<conversationId>`), once per key. */
  async deliver(userKey: string, replies: Reply[], idempotencyKey: string): Promise<void> {
    const conversationId = conversationOf(userKey);
    const now = this.now();
    const box = this.boxOf(conversationId, now);
    this.prune(box, now);
    if (box.keys.has(idempotencyKey)) return;
    box.keys.set(idempotencyKey, now);
    while (box.keys.size > this.maxKeys) box.keys.delete(box.keys.keys().next().value as string);
    for (const reply of replies) {
      // Time-based like Redis's, so that ids stay ahead of a cursor from before a restart.
      const ms = Math.max(now, box.lastId[0]);
      box.lastId = [ms, ms === box.lastId[0] ? box.lastId[1] + 1 : 0];
      box.pending.push({ id: box.lastId, reply, at: now });
    }
    if (box.pending.length > this.maxPerConversation) box.pending.splice(0, box.pending.length - this.maxPerConversation);
  }

  async poll(conversationId: string, cursor?: string): Promise<OutboxPoll> {
    if (cursor !== undefined) checkCursor(cursor);
    const box = this.boxes.get(conversationId);
    if (!box) return { replies: [], cursor: cursor ?? FIRST_CURSOR };
    this.prune(box, this.now());
    let given: Pending[];
    if (cursor === undefined) {
      given = box.pending;
      box.pending = [];
    } else {
      const acknowledged = parseId(cursor);
      box.pending = box.pending.filter((p) => after(p.id, acknowledged));
      given = box.pending;
    }
    if (box.pending.length === 0 && box.keys.size === 0) this.boxes.delete(conversationId);
    const last = given.at(-1);
    return { replies: given.map((p) => p.reply), cursor: last ? formatId(last.id) : (cursor ?? FIRST_CURSOR) };
  }

  private boxOf(conversationId: string, now: number): Box {
    let box = this.boxes.get(conversationId);
    if (box) {
      // Re-insert, so that the map's order is least recently written first.
      this.boxes.delete(conversationId);
    } else {
      box = { pending: [], keys: new Map(), touchedAt: now, lastId: [0, 0] };
      this.sweep(now);
    }
    box.touchedAt = now;
    this.boxes.set(conversationId, box);
    return box;
  }

  private prune(box: Box, now: number): void {
    const cutoff = now - this.ttlMs;
    box.pending = box.pending.filter((p) => p.at > cutoff);
    for (const [key, at] of box.keys) if (at <= cutoff) box.keys.delete(key);
  }

  /** Drops expired conversations, then the least recently written beyond the limit. */
  private sweep(now: number): void {
    const cutoff = now - this.ttlMs;
    for (const [id, box] of this.boxes) {
      if (box.touchedAt > cutoff) break; // in order of writing: the rest are newer
      this.boxes.delete(id);
    }
    while (this.boxes.size >= this.maxConversations) this.boxes.delete(this.boxes.keys().next().value as string);
  }
}
