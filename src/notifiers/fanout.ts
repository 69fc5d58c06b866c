/**
 * One notifier over several (Teams, the LINE staff group, a webhook): every call goes to all
 * of them at once and waits for all with `Promise.allSettled`, so one that fails or hangs
 * (bounded by a timeout) never keeps the others from being told. Failures are logged by
 * notifier name and error class/code, never with message text, and never rejected to the
 * caller: a ticket stays open whether or not staff could be told. `status()` gives each
 * notifier's last outcome for `/readyz`.
 */
import type { Ticket } from '../domain.ts';
import { errorFields, type Logger } from '../log.ts';
import type { Forwarding, NotifierHealth, StaffAlert, StaffNotifier } from '../services/staff.ts';

export interface FanoutOptions {
  log: Logger;
  /** Longest wait for one notifier (ms, default 30 000); past it the call counts as failed. */
  timeoutMs?: number;
}

export type NotifierStatus = 'ok' | 'failing';

type CardLocation = { conversationId: string; activityId: string };

/**
 * A notifier may declare `relaysCitizen = false` (the LINE group, the webhook): it is then
 * not called for `citizenSaid`, and a no-op cannot mark it healthy again.
 */
type MaybeRelaying = StaffNotifier & { readonly relaysCitizen?: boolean };

class NotifierTimeoutError extends Error {
  readonly code = 'timeout';
  constructor() {
    super('notifier did not finish in time');
    this.name = 'TimeoutError';
  }
}

export class FanoutNotifier implements StaffNotifier, NotifierHealth {
  readonly name = 'fanout';
  private readonly notifiers: MaybeRelaying[];
  private readonly log: Logger;
  private readonly timeoutMs: number;
  private readonly outcomes = new Map<string, NotifierStatus>();

  constructor(notifiers: StaffNotifier[], opts: FanoutOptions) {
    const names = new Set<string>();
    for (const n of notifiers) {
      if (names.has(n.name)) throw new Error(`two notifiers named ${n.name}`);
      names.add(n.name);
      this.outcomes.set(n.name, 'ok');
    }
    this.notifiers = [...notifiers];
    this.log = opts.log;
    this.timeoutMs = opts.timeoutMs ?? 30_000;
  }

  /** Tells every notifier; resolves with the first card location returned (in notifier order). */
  async ticketOpened(ticket: Ticket): Promise<CardLocation | void> {
    const results = await this.all('ticketOpened', ticket.id, this.notifiers, (n) => n.ticketOpened(ticket));
    return firstCard(results);
  }

  async ticketChanged(ticket: Ticket): Promise<void> {
    await this.all('ticketChanged', ticket.id, this.notifiers, (n) => n.ticketChanged(ticket));
  }

  /** Tells every notifier; resolves with the first new card location returned, as `ticketOpened`. */
  async ticketForwarded(ticket: Ticket, forwarding: Forwarding): Promise<CardLocation | void> {
    const results = await this.all('ticketForwarded', ticket.id, this.notifiers, (n) =>
      n.ticketForwarded ? n.ticketForwarded(ticket, forwarding) : n.ticketChanged(ticket),
    );
    return firstCard(results);
  }

  /** Rejects only when no notifier that relays took the message, so the citizen can be told. */
  async citizenSaid(ticket: Ticket, text: string): Promise<void> {
    const relaying = this.notifiers.filter((n) => n.relaysCitizen !== false);
    const results = await this.all('citizenSaid', ticket.id, relaying, (n) => n.citizenSaid(ticket, text));
    if (results.length > 0 && !results.some((r) => r.status === 'fulfilled')) throw new Error('no staff channel took the message');
  }

  /** Tells every notifier that takes alerts. */
  async alert(alert: StaffAlert): Promise<void> {
    const alerting = this.notifiers.filter((n) => n.alert !== undefined);
    await this.all('alert', alert.reference, alerting, (n) => n.alert!(alert));
  }

  /** Notifier name → `ok` or `failing`, by the last outcome (`ok` before any call). */
  async status(): Promise<Record<string, NotifierStatus>> {
    return Object.fromEntries(this.outcomes);
  }

  /** Calls every notifier; `record` (a ticket id or booking reference) names the call in the log. */
  private all<T>(op: string, record: string, notifiers: StaffNotifier[], call: (n: StaffNotifier) => Promise<T>): Promise<PromiseSettledResult<T>[]> {
    return Promise.allSettled(
      notifiers.map(async (n) => {
        try {
          // Called inside the try, so that a notifier throwing synchronously is caught too.
          const value = await this.bounded(call(n));
          this.outcomes.set(n.name, 'ok');
          return value;
        } catch (err) {
          this.outcomes.set(n.name, 'failing');
          this.log.warn('notifier.failed', { notifier: n.name, op, ticket: record, ...errorFields(err) });
          throw err;
        }
      }),
    );
  }

  private bounded<T>(p: Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new NotifierTimeoutError()), this.timeoutMs);
    });
    return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
  }
}

function firstCard(results: PromiseSettledResult<unknown>[]): CardLocation | undefined {
  for (const r of results) {
    if (r.status === 'fulfilled' && isCard(r.value)) return { conversationId: r.value.conversationId, activityId: r.value.activityId };
  }
  return undefined;
}

function isCard(v: unknown): v is CardLocation {
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof (v as CardLocation).conversationId === 'string' &&
    typeof (v as CardLocation).activityId === 'string'
  );
}
