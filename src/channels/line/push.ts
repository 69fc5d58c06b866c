/**
 * Pushing to LINE: bounded attempts with backoff and a timeout per attempt, each push with
 * an `X-Line-Retry-Key`, so that a retried push arrives once. LINE answers 409 to a key it
 * already accepted, which means "delivered". Used for replies whose token is too old, for
 * staff messages to citizens, and for the staff LINE group.
 */
import { HTTPFetchError, type messagingApi } from '@line/bot-sdk';
import { errorFields, type Logger } from '../../log.ts';
import type { LineMetrics } from '../../metrics.ts';
import { LineApiClient } from './client.ts';

/** LINE takes at most 5 messages per call. */
const MAX_MESSAGES_PER_CALL = 5;

export interface LinePushOptions {
  channelAccessToken: string;
  /** `https://api.line.me`, or a stub in tests. */
  apiBaseUrl: string;
  log: Logger;
  /** Tries per push (default 3). */
  attempts?: number;
  /** Base wait between tries (ms, doubled each time; default 500). Tests shorten it. */
  retryDelayMs?: number;
  /** Longest wait for one answer from LINE (ms, default 10 000); then it is tried again. */
  timeoutMs?: number;
  /** Counts failed attempts and retries. */
  metrics?: LineMetrics;
}

/** A push LINE did not accept. Carries the status (no message text) for logs and health. */
export class LinePushError extends Error {
  readonly status: number | undefined;
  readonly code: string;
  constructor(status: number | undefined, code: string) {
    super(status === undefined ? `LINE push failed (${code})` : `LINE push failed with ${status}`);
    this.name = 'LinePushError';
    this.status = status;
    this.code = code;
  }
}

class AttemptTimeoutError extends Error {
  constructor() {
    super('LINE did not answer in time');
    this.name = 'TimeoutError';
  }
}

/** Pushes messages with a retry key; resolves once LINE accepted them (or already had). */
export class LinePusher {
  private readonly client: LineApiClient;
  private readonly log: Logger;
  private readonly attempts: number;
  private readonly retryDelayMs: number;
  private readonly timeoutMs: number;
  private readonly metrics: LineMetrics | undefined;

  constructor(opts: LinePushOptions) {
    this.client = new LineApiClient({ channelAccessToken: opts.channelAccessToken, baseURL: opts.apiBaseUrl });
    this.log = opts.log;
    this.attempts = Math.max(1, opts.attempts ?? 3);
    this.retryDelayMs = opts.retryDelayMs ?? 500;
    this.timeoutMs = opts.timeoutMs ?? 10_000;
    this.metrics = opts.metrics;
  }

  /**
   * Pushes `messages` (at most 5) to `to` (a user or group id) with retry key `key` (a UUID,
   * see `retryKey`). Retries network errors, timeouts, 5xx and 429; 409 counts as delivered.
   * Rejects with `LinePushError` when LINE refused it or every attempt failed.
   */
  async push(to: string, messages: messagingApi.Message[], key: string): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      let status: number | undefined;
      let err: unknown;
      try {
        await withTimeout(this.client.pushMessage({ to, messages }, key), this.timeoutMs);
        return;
      } catch (e) {
        err = e;
        status = e instanceof HTTPFetchError ? e.status : undefined;
      }
      // 409: LINE already accepted a request with this retry key, so it was delivered.
      if (status === 409) return;
      const retriable = status === undefined || status >= 500 || status === 429;
      this.log.warn('line.push_failed', { status, attempt, retriable, ...errorFields(err) });
      this.metrics?.lineError('push', status, err);
      if (!retriable || attempt >= this.attempts) {
        throw new LinePushError(status, status === undefined ? codeOf(err) : `http_${status}`);
      }
      this.metrics?.lineRetry('push', status, err);
      await new Promise((r) => setTimeout(r, this.retryDelayMs * 2 ** (attempt - 1)));
    }
  }
}

/**
 * `p`, or a rejection once `ms` have passed: the LINE client has no timeout of its own. A late
 * answer is dropped (for a push, its retry key keeps the retry harmless).
 */
export function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new AttemptTimeoutError()), ms);
  });
  p.catch(() => undefined);
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

function codeOf(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code ?? (err.cause as { code?: unknown } | undefined)?.code;
    if (typeof code === 'string' && /^[\w-]{1,40}$/.test(code)) return code;
    if (err.name === 'TimeoutError') return 'timeout';
  }
  return 'network';
}

/** Splits `messages` into LINE-sized batches. */
export function batches<T>(messages: T[], size = MAX_MESSAGES_PER_CALL): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < messages.length; i += size) out.push(messages.slice(i, i + size));
  return out;
}

