/**
 * Answers a LINE event: with the reply token while it is fresh, else (or when LINE rejects
 * it) by push, with retry keys derived from the event so a retried push is never delivered
 * twice. LINE takes at most 5 messages per call; further batches are pushed.
 *
 * Also what the webhook asks LINE around a turn: the loading animation for a slow one, and
 * the language of a new user's profile.
 */
import { HTTPFetchError, type messagingApi } from '@line/bot-sdk';
import type { Locale } from '../../domain.ts';
import { errorFields, type Logger } from '../../log.ts';
import type { LineMetrics } from '../../metrics.ts';
import { stableUuid } from '../../uuid.ts';
import { LineApiClient } from './client.ts';
import { batches, type LinePusher, withTimeout } from './push.ts';

/** How long the loading animation may show (LINE: 5-60, in steps of 5); the next message ends it sooner. */
const LOADING_SECONDS = 20;
/** Longest wait for LINE to start the loading animation. */
const LOADING_TIMEOUT_MS = 5_000;

/**
 * The language the bot speaks for a LINE profile's `language` (a BCP 47 tag such as `en`,
 * `zh-Hans`, `zh-Hant`); undefined for one it does not. Traditional Chinese readers get
 * Simplified Chinese: closer to what they read than Japanese.
 */
export function localeOfLanguage(language: string | undefined): Locale | undefined {
  const primary = language?.split('-')[0]?.toLowerCase();
  return primary === 'ja' || primary === 'en' || primary === 'zh' || primary === 'ko' || primary === 'vi' ? primary : undefined;
}

export interface LineSenderOptions {
  channelAccessToken: string;
  apiBaseUrl: string;
  log: Logger;
  /** Pushes when the reply token cannot be used. */
  pusher: LinePusher;
  /** Longest wait for a user's profile (ms, default 1 000): it holds up a new conversation's first answer. */
  profileTimeoutMs?: number;
  /** Counts failed calls (the pusher counts its own). */
  metrics?: LineMetrics;
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
  private readonly client: LineApiClient;
  private readonly log: Logger;
  private readonly pusher: LinePusher;
  private readonly profileTimeoutMs: number;
  private readonly metrics: LineMetrics | undefined;

  constructor(opts: LineSenderOptions) {
    this.client = new LineApiClient({ channelAccessToken: opts.channelAccessToken, baseURL: opts.apiBaseUrl });
    this.log = opts.log;
    this.pusher = opts.pusher;
    this.profileTimeoutMs = opts.profileTimeoutMs ?? 1_000;
    this.metrics = opts.metrics;
  }

  /** Shows the loading animation in a one-to-one chat until the next message. Never rejects; a failure is logged. */
  async startLoading(userId: string): Promise<void> {
    try {
      await withTimeout(this.client.showLoadingAnimation({ chatId: userId, loadingSeconds: LOADING_SECONDS }), LOADING_TIMEOUT_MS);
    } catch (err) {
      this.log.warn('line.loading_failed', { status: err instanceof HTTPFetchError ? err.status : undefined, ...errorFields(err) });
      this.metrics?.lineError('loading', err instanceof HTTPFetchError ? err.status : undefined, err);
    }
  }

  /**
   * The language of the user's LINE profile, as one the bot speaks; undefined when the profile
   * has none the bot speaks, or LINE fails or is slow (logged). Never rejects.
   */
  async profileLocale(userId: string): Promise<Locale | undefined> {
    try {
      const profile = await withTimeout(this.client.getProfile(userId), this.profileTimeoutMs);
      return localeOfLanguage(profile.language);
    } catch (err) {
      this.log.warn('line.profile_failed', { status: err instanceof HTTPFetchError ? err.status : undefined, ...errorFields(err) });
      this.metrics?.lineError('profile', err instanceof HTTPFetchError ? err.status : undefined, err);
      return undefined;
    }
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
      this.metrics?.lineError('reply', err instanceof HTTPFetchError ? err.status : undefined, err);
      return false;
    }
  }
}
