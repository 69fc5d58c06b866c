/**
 * The web chat's way to reach a citizen outside a turn (staff claimed, replied, closed):
 * there is no push, so replies wait here until the page polls `GET /webchat/messages`.
 *
 * In memory, per conversation, and bounded: at most `maxPerConversation` waiting replies
 * (the oldest are dropped), nothing older than `ttlMs` (the page is gone), at most
 * `maxConversations` conversations. A delivery whose idempotency key was seen in the last
 * `ttlMs` is ignored, so a retried delivery shows once even after the page took the first.
 * One process only: with several instances behind a balancer, the poll must reach the
 * instance that holds the conversation (or the outbox must move to the shared store).
 */
import type { Reply } from '../../turn.ts';
import type { CitizenMessenger } from '../../services/staff.ts';

const USER_KEY_PREFIX = 'web:';

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

interface Pending {
  reply: Reply;
  at: number;
}

interface Box {
  pending: Pending[];
  /** Idempotency key → when it was delivered. */
  keys: Map<string, number>;
  touchedAt: number;
}

export class WebchatOutbox implements CitizenMessenger {
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
    return userKey.startsWith(USER_KEY_PREFIX) && userKey.length > USER_KEY_PREFIX.length;
  }

  /** Queues `replies` for the conversation of `userKey` (`web:<conversationId>`), once per key. */
  async deliver(userKey: string, replies: Reply[], idempotencyKey: string): Promise<void> {
    if (!this.handles(userKey)) throw new Error('not a web chat user key');
    const conversationId = userKey.slice(USER_KEY_PREFIX.length);
    const now = this.now();
    const box = this.boxOf(conversationId, now);
    this.prune(box, now);
    if (box.keys.has(idempotencyKey)) return;
    box.keys.set(idempotencyKey, now);
    while (box.keys.size > this.maxKeys) box.keys.delete(box.keys.keys().next().value as string);
    for (const reply of replies) box.pending.push({ reply, at: now });
    if (box.pending.length > this.maxPerConversation) box.pending.splice(0, box.pending.length - this.maxPerConversation);
  }

  /** The replies waiting for `conversationId`, oldest first; they are removed. */
  take(conversationId: string): Reply[] {
    const box = this.boxes.get(conversationId);
    if (!box) return [];
    const now = this.now();
    this.prune(box, now);
    const replies = box.pending.map((p) => p.reply);
    box.pending = [];
    if (box.keys.size === 0) this.boxes.delete(conversationId);
    return replies;
  }

  /** How many replies wait in all (for tests and metrics). */
  size(): number {
    let n = 0;
    for (const box of this.boxes.values()) n += box.pending.length;
    return n;
  }

  private boxOf(conversationId: string, now: number): Box {
    let box = this.boxes.get(conversationId);
    if (box) {
      // Re-insert, so that the map's order is least recently written first.
      this.boxes.delete(conversationId);
    } else {
      box = { pending: [], keys: new Map(), touchedAt: now };
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
