/**
 * Sends messages to a LINE user: with the reply token while it is fresh, else (or when
 * LINE rejects it) by push. Pushes carry an `X-Line-Retry-Key` derived from the event, so
 * a retried push is never delivered twice. LINE takes at most 5 messages per call.
 */
import { createHash } from 'node:crypto';
import { HTTPFetchError, messagingApi } from '@line/bot-sdk';
import { errorFields, type Logger } from '../../log.ts';

const MAX_MESSAGES_PER_CALL = 5;
const PUSH_ATTEMPTS = 3;

export interface LineSenderOptions {
  channelAccessToken: string;
  apiBaseUrl: string;
  log: Logger;
  /** Wait between push attempts (ms); tests shorten it. */
  retryDelayMs?: number;
}

/** Where to send, and what the event offers for replying. */
export interface Destination {
  userId: string;
  /** Seed for retry keys: the same event always yields the same keys. */
  eventId: string;
  replyToken?: string;
  /** Whether the reply token is still young enough to try. */
  replyTokenFresh: boolean;
}

/** A UUID (the form LINE requires) that is a pure function of `seed`. */
export function retryKey(seed: string): string {
  const h = createHash('sha256').update(seed).digest('hex');
  const variant = ((parseInt(h[16]!, 16) & 0x3) | 0x8).toString(16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

export class LineSender {
  private readonly client: messagingApi.MessagingApiClient;
  private readonly log: Logger;
  private readonly retryDelayMs: number;

  constructor(opts: LineSenderOptions) {
    this.client = new messagingApi.MessagingApiClient({ channelAccessToken: opts.channelAccessToken, baseURL: opts.apiBaseUrl });
    this.log = opts.log;
    this.retryDelayMs = opts.retryDelayMs ?? 500;
  }

  /** Delivers `messages`; resolves when LINE accepted them or every way was tried. */
  async send(to: Destination, messages: messagingApi.Message[]): Promise<void> {
    const batches: messagingApi.Message[][] = [];
    for (let i = 0; i < messages.length; i += MAX_MESSAGES_PER_CALL) batches.push(messages.slice(i, i + MAX_MESSAGES_PER_CALL));
    for (const [index, batch] of batches.entries()) {
      if (index === 0 && to.replyToken && to.replyTokenFresh && (await this.reply(to.replyToken, batch))) continue;
      await this.push(to.userId, batch, retryKey(`${to.eventId}#${index}`));
    }
  }

  private async reply(replyToken: string, messages: messagingApi.Message[]): Promise<boolean> {
    try {
      await this.client.replyMessage({ replyToken, messages });
      return true;
    } catch (err) {
      this.log.warn('line.reply_failed', { status: err instanceof HTTPFetchError ? err.status : undefined, ...errorFields(err) });
      return false;
    }
  }

  private async push(userId: string, messages: messagingApi.Message[], key: string): Promise<void> {
    for (let attempt = 1; attempt <= PUSH_ATTEMPTS; attempt++) {
      try {
        await this.client.pushMessage({ to: userId, messages }, key);
        return;
      } catch (err) {
        const status = err instanceof HTTPFetchError ? err.status : undefined;
        // 409: LINE already accepted a request with this retry key, so it was delivered.
        if (status === 409) return;
        const retriable = status === undefined || status >= 500 || status === 429;
        this.log.warn('line.push_failed', { status, attempt, retriable, ...errorFields(err) });
        if (!retriable || attempt === PUSH_ATTEMPTS) return;
        await new Promise((r) => setTimeout(r, this.retryDelayMs * attempt));
      }
    }
  }
}
