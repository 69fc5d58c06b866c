/**
 * Reaching a LINE citizen outside a webhook turn (staff replies in a handoff): push only,
 * with retry keys derived from the caller's idempotency key.
 */
import type { Reply } from '../../turn.ts';
import type { CitizenMessenger } from '../../services/staff.ts';
import { stableUuid } from '../../uuid.ts';
import { batches, LinePusher, type LinePushOptions } from './push.ts';
import { renderLine } from './render.ts';

const USER_KEY_PREFIX = 'line:';

/** Reaches LINE citizens (`line:<userId>`) by push, e.g. staff replies in a handoff. */
export class LineMessenger implements CitizenMessenger {
  private readonly pusher: LinePusher;
  /** The LINE webhook's sweep pushes unsent outbox entries with the same retry keys. */
  readonly resumes = true;

  constructor(opts: LinePushOptions | { pusher: LinePusher }) {
    this.pusher = 'pusher' in opts ? opts.pusher : new LinePusher(opts);
  }

  handles(userKey: string): boolean {
    return userKey.startsWith(USER_KEY_PREFIX) && userKey.length > USER_KEY_PREFIX.length;
  }

  /**
   * Pushes `replies` rendered for LINE, 5 messages per call, batch `i` with retry key
   * `retryKey(idempotencyKey#i)`: delivering again with the same key sends nothing twice.
   * Rejects when a batch could not be delivered (a retry with the same key is then safe).
   */
  async deliver(userKey: string, replies: Reply[], idempotencyKey: string): Promise<void> {
    if (!this.handles(userKey)) throw new Error('not a LINE user key');
    const userId = userKey.slice(USER_KEY_PREFIX.length);
    const messages = renderLine(replies);
    for (const [index, batch] of batches(messages).entries()) {
      await this.pusher.push(userId, batch, stableUuid(`${idempotencyKey}#${index}`));
    }
  }
}
