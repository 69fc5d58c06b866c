/**
 * Tells another system (a CRM, a queue) about tickets by POSTing JSON to a URL:
 *
 *   { "type": "ticket.opened" | "ticket.changed" | "ticket.forwarded", "ticket": { id, reason,
 *     priority, category, locale, status, desk, createdAt, claimedBy?, closedAt?, outcome?,
 *     context } }
 *
 * signed with `X-Signature: sha256=<hex HMAC-SHA256 of the exact body bytes>` and carrying an
 * `Idempotency-Key` derived from (ticket id, event), the same on every retry. Network errors,
 * timeouts, 5xx and 429 are retried with exponential backoff; other 4xx are not. What the
 * citizen writes never leaves this way (it is personal data).
 */
import { createHmac } from 'node:crypto';
import { deskOf, type Desk, type Ticket, type TicketOutcome } from '../domain.ts';
import { stableUuid } from '../uuid.ts';
import type { Logger } from '../log.ts';
import type { Forwarding, StaffNotifier } from '../services/staff.ts';
import { changeEvent, stepName } from './format.ts';

export interface WebhookNotifierOptions {
  /** `STAFF_WEBHOOK_URL`. */
  url: string;
  /** `STAFF_WEBHOOK_SECRET`: the receiver checks `X-Signature` with it. */
  secret: string;
  log: Logger;
  /** Tries per event (default 3). */
  attempts?: number;
  /** Wait before the 2nd try (ms, doubled for each next one; default 500). Tests shorten it. */
  baseDelayMs?: number;
  /** Longest wait for one answer (ms, default 5 000). */
  timeoutMs?: number;
}

export type WebhookEventType = 'ticket.opened' | 'ticket.changed' | 'ticket.forwarded';

/** What the receiver gets. */
export interface WebhookPayload {
  type: WebhookEventType;
  ticket: {
    id: string;
    reason: Ticket['reason'];
    priority: Ticket['priority'];
    category: string;
    locale: Ticket['locale'];
    status: Ticket['status'];
    /** Whose queue it is in (the office or the contact center). */
    desk: Desk;
    createdAt: string;
    claimedBy?: { id: string; name: string };
    closedAt?: string;
    outcome?: TicketOutcome;
    context: string;
  };
}

/** The receiver did not take the event. `code` (e.g. `http_503`, `timeout`) is safe to log. */
export class WebhookError extends Error {
  readonly status: number | undefined;
  readonly code: string;
  constructor(status: number | undefined, code: string) {
    super(status === undefined ? `webhook failed (${code})` : `webhook answered ${status}`);
    this.name = 'WebhookError';
    this.status = status;
    this.code = code;
  }
}

/** `sha256=<hex>`: HMAC-SHA256 of `body` (the exact bytes sent) with `secret`. */
export function signature(body: string | Buffer, secret: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

export function payloadOf(type: WebhookEventType, t: Ticket): WebhookPayload {
  return {
    type,
    ticket: {
      id: t.id,
      reason: t.reason,
      priority: t.priority,
      category: t.category,
      locale: t.locale,
      status: t.status,
      desk: deskOf(t),
      createdAt: t.createdAt,
      ...(t.claimedBy ? { claimedBy: { id: t.claimedBy.id, name: t.claimedBy.name } } : {}),
      ...(t.closedAt ? { closedAt: t.closedAt } : {}),
      ...(t.outcome ? { outcome: t.outcome } : {}),
      context: stepName(t.context) ?? '',
    },
  };
}

export class WebhookNotifier implements StaffNotifier {
  readonly name = 'webhook';
  /** The relay of what citizens write happens in Teams only (see `FanoutNotifier`). */
  readonly relaysCitizen = false;
  private readonly url: string;
  private readonly secret: string;
  private readonly log: Logger;
  private readonly attempts: number;
  private readonly baseDelayMs: number;
  private readonly timeoutMs: number;

  constructor(opts: WebhookNotifierOptions) {
    if (!/^https?:\/\//.test(opts.url)) throw new Error('webhook url must be http(s)');
    if (!opts.secret) throw new Error('webhook secret is required');
    this.url = opts.url;
    this.secret = opts.secret;
    this.log = opts.log;
    this.attempts = Math.max(1, opts.attempts ?? 3);
    this.baseDelayMs = opts.baseDelayMs ?? 500;
    this.timeoutMs = opts.timeoutMs ?? 5_000;
  }

  ticketOpened(ticket: Ticket): Promise<void> {
    return this.send(payloadOf('ticket.opened', ticket), `${ticket.id}#opened`);
  }

  ticketChanged(ticket: Ticket): Promise<void> {
    return this.send(payloadOf('ticket.changed', ticket), `${ticket.id}#${changeEvent(ticket.status)}`);
  }

  ticketForwarded(ticket: Ticket, forwarding: Forwarding): Promise<void> {
    return this.send(payloadOf('ticket.forwarded', ticket), `${ticket.id}#forwarded:${forwarding.at}`);
  }

  /** Nothing: the citizen's words are personal data and do not leave by webhook. */
  async citizenSaid(_ticket: Ticket, _text: string): Promise<void> {}

  /** POSTs the payload until it is taken; rejects with `WebhookError` after the last failure. */
  private async send(payload: WebhookPayload, event: string): Promise<void> {
    const body = JSON.stringify(payload);
    const headers = {
      'content-type': 'application/json',
      'x-signature': signature(body, this.secret),
      'idempotency-key': stableUuid(`webhook:${event}`),
    };
    for (let attempt = 1; ; attempt++) {
      let failure: WebhookError;
      try {
        // A redirect is not followed (the signed body must not go elsewhere): it counts as a 3xx refusal.
        const res = await fetch(this.url, { method: 'POST', headers, body, redirect: 'manual', signal: AbortSignal.timeout(this.timeoutMs) });
        await res.body?.cancel().catch(() => undefined);
        if (res.ok) return;
        failure = new WebhookError(res.status, `http_${res.status}`);
      } catch (err) {
        failure = new WebhookError(undefined, codeOf(err));
      }
      const retriable = failure.status === undefined || failure.status >= 500 || failure.status === 429;
      this.log.warn('webhook.failed', { type: payload.type, ticket: payload.ticket.id, status: failure.status, code: failure.code, attempt, retriable });
      if (!retriable || attempt >= this.attempts) throw failure;
      await new Promise((r) => setTimeout(r, this.baseDelayMs * 2 ** (attempt - 1)));
    }
  }
}

function codeOf(err: unknown): string {
  if (err instanceof Error) {
    if (err.name === 'TimeoutError' || err.name === 'AbortError') return 'timeout';
    const code = (err.cause as { code?: unknown } | undefined)?.code ?? (err as { code?: unknown }).code;
    if (typeof code === 'string' && /^[\w-]{1,40}$/.test(code)) return code;
  }
  return 'network';
}
