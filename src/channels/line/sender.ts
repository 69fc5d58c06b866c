/**
 * Answers a LINE event: with the reply token while it is fresh, else (or when LINE rejects
 * it) by push, with retry keys derived from the event so a retried push is never delivered
 * twice. LINE takes at most 5 messages per call; further batches are pushed.
 */
import { HTTPFetchError, messagingApi } from '@line/bot-sdk';
import { errorFields, type Logger } from '../../log.ts';
import { stableUuid } from '../../uuid.ts';
import { batches, type LinePusher } from './push.ts';

export interface LineSenderOptions {
  channelAccessToken: string;
  apiBaseUrl: string;
  log: Logger;
  /** Pushes when the reply token cannot be used. */
  pusher: LinePusher;
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

export class LineSender {
  private readonly client: messagingApi.MessagingApiClient;
  private readonly log: Logger;
  private readonly pusher: LinePusher;

  constructor(opts: LineSenderOptions) {
    this.client = new messagingApi.MessagingApiClient({ channelAccessToken: opts.channelAccessToken, baseURL: opts.apiBaseUrl });
    this.log = opts.log;
    this.pusher = opts.pusher;
  }

  /**
   * Delivers `messages`: true once LINE accepted every batch, false when one could not be
   * delivered after every way was tried (never rejects).
   */
  async send(to: Destination, messages: messagingApi.Message[]): Promise<boolean> {
    let delivered = true;
    for (const [index, batch] of batches(messages).entries()) {
      if (index === 0 && to.replyToken && to.replyTokenFresh && (await this.reply(to.replyToken, batch))) continue;
      // The pusher has logged each failed attempt; the other batches are still tried.
      const pushed = await this.pusher.push(to.userId, batch, stableUuid(`${to.eventId}#${index}`)).then(
        () => true,
        () => false,
      );
      delivered &&= pushed;
    }
    return delivered;
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
}
