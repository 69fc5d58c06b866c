/**
 * What the bot counts for operations, in Prometheus' format (prom-client): turns, bookings,
 * holds, calls to LINE and Teams that failed, and what waits (tickets, jobs), plus Node's
 * process metrics. One `Metrics` per app, on a registry of its own (tests build several apps
 * in one process); the process metrics, which describe the process, are collected once per
 * process and added to each scrape.
 *
 * Label values come from small fixed sets only, never from a user, a ticket or a text: every
 * labelled child is made once, here, so that a turn costs a counter increment and a histogram
 * observation, no label object and no store read. What waits is read when Prometheus scrapes.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { TicketStatus } from './domain.ts';

/** Channels a turn is counted under; any other is `other`. */
const CHANNELS = ['line', 'webchat', 'teams', 'other'] as const;
type Channel = (typeof CHANNELS)[number];

/**
 * How a turn ended: `answered`; `duplicate` (a repeated event, dropped); `resent` (a repeated
 * event whose answer was never confirmed delivered); `limited` (refused by an abuse limit, the
 * turn did not run); `apology` (the store failed: the user is asked to try again);
 * `answered_unsaved` (the store failed after a booking was written: the user hears of it).
 */
export const TURN_RESULTS = ['answered', 'duplicate', 'resent', 'limited', 'apology', 'answered_unsaved'] as const;
export type TurnResult = (typeof TURN_RESULTS)[number];

const BOOKING_CHANGES = ['made', 'cancelled', 'moved'] as const;
export type BookingChange = (typeof BOOKING_CHANGES)[number];

/** A hold asked of the store: `held`, or refused because the time is `taken` (by someone else), `already_booked`, `closed`. */
const HOLD_RESULTS = ['held', 'taken', 'already_booked', 'closed'] as const;
export type HoldResult = (typeof HOLD_RESULTS)[number];

/** The LINE Messaging API calls the bot makes on the way of a turn. */
const LINE_ENDPOINTS = ['reply', 'push', 'loading', 'profile'] as const;
export type LineEndpoint = (typeof LINE_ENDPOINTS)[number];

/** Calls to the Bot Framework connector: new messages, card updates, answers within an inbound turn. */
const TEAMS_OPS = ['post', 'update', 'reply'] as const;
export type TeamsOp = (typeof TEAMS_OPS)[number];

/** A failed call: its HTTP status class (429 on its own: a rate limit), or no answer (`timeout`, `network`, `other`). */
const STATUS_CLASSES = ['4xx', '429', '5xx', 'timeout', 'network', 'other'] as const;
type StatusClass = (typeof STATUS_CLASSES)[number];

/** Job states a queue reports. */
const JOB_STATES = ['waiting', 'delayed', 'failed'] as const;
export type JobCounts = Record<(typeof JOB_STATES)[number], number>;

/** The ticket states counted: those not closed (closed ones are kept for weeks, and only as many as the retention makes). */
const TICKET_STATES = ['open', 'claimed'] as const satisfies TicketStatus[];
type TicketState = (typeof TICKET_STATES)[number];

/**
 * LINE's webhook wants its answer within 2 s (the bot acknowledges by 1.5 s): the buckets are
 * fine around those marks.
 */
const TURN_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10];

/** Tickets are read from the store at most this often, however often Prometheus scrapes. */
const TICKETS_READ_EVERY_MS = 10_000;

function statusClass(status: number | undefined, err: unknown): StatusClass {
  if (status !== undefined) return status === 429 ? '429' : status >= 500 ? '5xx' : status >= 400 ? '4xx' : 'other';
  if (err instanceof Error && err.name === 'TimeoutError') return 'timeout';
  const code = (err as { code?: unknown } | null)?.code ?? ((err as { cause?: { code?: unknown } } | null)?.cause?.code);
  return typeof code === 'string' ? 'network' : 'other';
}

/** The child of `counter` for `labels`, exported as 0 until counted (a rate over it then exists from the start). */
function zeroed(counter: Counter, ...labels: string[]): Counter.Internal {
  const child = counter.labels(...labels);
  child.inc(0);
  return child;
}

/** The child of `histogram` for `channel`, exported with empty buckets until observed. */
function zeroedHistogram(histogram: Histogram, channel: string): Histogram.Internal<string> {
  histogram.zero({ channel });
  return histogram.labels(channel);
}

let processRegistry: Registry | undefined;

/** Node's own metrics (CPU, memory, event loop lag, GC, handles), started on first use: one set of monitors per process. */
function processMetrics(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
  }
  return processRegistry;
}

/** A child per value of `values`, made once. */
function childrenOf<V extends string, C>(values: readonly V[], make: (value: V) => C): Record<V, C> {
  return Object.fromEntries(values.map((v) => [v, make(v)])) as Record<V, C>;
}

export interface TurnMetrics {
  /** One turn (or refusal) of `channel`, `seconds` after the channel asked for it. */
  turn(channel: string, result: TurnResult, seconds: number): void;
}

export interface BookingMetrics {
  booking(change: BookingChange): void;
  hold(result: HoldResult): void;
}

export interface LineMetrics {
  /** A call to LINE failed (`status`: its HTTP status, if LINE answered). */
  lineError(endpoint: LineEndpoint, status: number | undefined, err: unknown): void;
  /** A failed call is tried again. */
  lineRetry(endpoint: LineEndpoint, status: number | undefined, err: unknown): void;
}

export interface TeamsMetrics {
  teamsError(op: TeamsOp, status: number | undefined, err: unknown): void;
}

export class Metrics implements TurnMetrics, BookingMetrics, LineMetrics, TeamsMetrics {
  readonly registry: Registry;
  private readonly turns: Record<Channel, { results: Record<TurnResult, Counter.Internal>; duration: Histogram.Internal<string> }>;
  private readonly bookings: Record<BookingChange, Counter.Internal>;
  private readonly holds: Record<HoldResult, Counter.Internal>;
  private readonly lineErrors: Record<LineEndpoint, Record<StatusClass, Counter.Internal>>;
  private readonly lineRetries: Record<LineEndpoint, Record<StatusClass, Counter.Internal>>;
  private readonly teamsErrors: Record<TeamsOp, Record<StatusClass, Counter.Internal>>;

  constructor(registry = new Registry()) {
    this.registry = registry;
    const registers = [registry];
    const turns = new Counter({ name: 'citybot_turns_total', help: 'Turns by channel and how they ended (answered, duplicate, resent, limited, apology, answered_unsaved).', labelNames: ['channel', 'outcome'], registers });
    const duration = new Histogram({ name: 'citybot_turn_duration_seconds', help: 'Time from a channel asking for a turn to its answer, queueing behind the same conversation included.', labelNames: ['channel'], buckets: TURN_BUCKETS, registers });
    this.turns = childrenOf(CHANNELS, (channel) => ({ results: childrenOf(TURN_RESULTS, (r) => zeroed(turns, channel, r)), duration: zeroedHistogram(duration, channel) }));
    const bookings = new Counter({ name: 'citybot_bookings_total', help: 'Bookings made, cancelled and moved (to another time or session).', labelNames: ['change'], registers });
    this.bookings = childrenOf(BOOKING_CHANGES, (c) => zeroed(bookings, c));
    const holds = new Counter({ name: 'citybot_holds_total', help: 'Holds asked of the store: held, or refused (taken by someone else, already_booked, closed).', labelNames: ['result'], registers });
    this.holds = childrenOf(HOLD_RESULTS, (r) => zeroed(holds, r));
    const lineErrors = new Counter({ name: 'citybot_line_api_errors_total', help: 'Failed calls to the LINE Messaging API, by endpoint and status class (a push answered 409 was delivered: not counted).', labelNames: ['endpoint', 'status_class'], registers });
    this.lineErrors = childrenOf(LINE_ENDPOINTS, (e) => childrenOf(STATUS_CLASSES, (s) => zeroed(lineErrors, e, s)));
    const lineRetries = new Counter({ name: 'citybot_line_api_retries_total', help: 'Calls to the LINE Messaging API tried again, by endpoint and the status class of the failure.', labelNames: ['endpoint', 'status_class'], registers });
    this.lineRetries = childrenOf(LINE_ENDPOINTS, (e) => childrenOf(STATUS_CLASSES, (s) => zeroed(lineRetries, e, s)));
    const teamsErrors = new Counter({ name: 'citybot_teams_api_errors_total', help: 'Failed calls to the Bot Framework connector (Teams), by operation and status class.', labelNames: ['op', 'status_class'], registers });
    this.teamsErrors = childrenOf(TEAMS_OPS, (o) => childrenOf(STATUS_CLASSES, (s) => zeroed(teamsErrors, o, s)));
  }

  turn(channel: string, result: TurnResult, seconds: number): void {
    const of = this.turns[channel as Channel] ?? this.turns.other;
    of.results[result].inc();
    of.duration.observe(seconds);
  }

  booking(change: BookingChange): void {
    this.bookings[change].inc();
  }

  hold(result: HoldResult): void {
    this.holds[result].inc();
  }

  lineError(endpoint: LineEndpoint, status: number | undefined, err: unknown): void {
    this.lineErrors[endpoint][statusClass(status, err)].inc();
  }

  lineRetry(endpoint: LineEndpoint, status: number | undefined, err: unknown): void {
    this.lineRetries[endpoint][statusClass(status, err)].inc();
  }

  teamsError(op: TeamsOp, status: number | undefined, err: unknown): void {
    this.teamsErrors[op][statusClass(status, err)].inc();
  }

  /**
   * Reports the depth of each queue (by name, from the code) at every scrape; a queue that
   * cannot be read (Redis down) reports nothing. Called once.
   */
  watchQueues(queues: Record<string, () => Promise<JobCounts>>): void {
    const gauge: Gauge = new Gauge({
      name: 'citybot_job_queue_jobs',
      help: 'Jobs in a queue by state (waiting: due, delayed: not yet due, failed: gave up), read at scrape time.',
      labelNames: ['queue', 'state'],
      registers: [this.registry],
      collect: async () => {
        await Promise.all(
          Object.entries(queues).map(async ([queue, counts]) => {
            const now = await counts().catch(() => undefined);
            for (const state of JOB_STATES) {
              if (now) gauge.set({ queue, state }, now[state]);
              else gauge.remove({ queue, state });
            }
          }),
        );
      },
    });
  }

  /**
   * Reports the tickets not closed, read with `listOpen` (one sorted-set range and one hash
   * read on Redis) at most every 10 s, whatever the scrape interval; when it fails (the store
   * is down) nothing is reported. Called once.
   */
  watchTickets(listOpen: () => Promise<{ status: TicketStatus }[]>): void {
    let last: { at: number; counts: Promise<Record<TicketState, number> | undefined> } | undefined;
    const gauge: Gauge = new Gauge({
      name: 'citybot_tickets',
      help: 'Tickets not closed, by state (open: waiting for staff, claimed), read from the store at most every 10 s.',
      labelNames: ['state'],
      registers: [this.registry],
      collect: async () => {
        if (!last || Date.now() - last.at >= TICKETS_READ_EVERY_MS) {
          const counts = listOpen().then(
            (tickets) => childrenOf(TICKET_STATES, (state) => tickets.filter((t) => t.status === state).length),
            () => undefined,
          );
          last = { at: Date.now(), counts };
        }
        const counts = await last.counts;
        if (counts) for (const state of TICKET_STATES) gauge.set({ state }, counts[state]);
        else gauge.reset();
      },
    });
  }

  /** The text Prometheus scrapes. */
  async scrape(): Promise<{ contentType: string; body: string }> {
    const both = Registry.merge([this.registry, processMetrics()]);
    return { contentType: both.contentType, body: await both.metrics() };
  }
}

/**
 * `GET /metrics` for `metrics`: with `token`, only for `Authorization: Bearer <token>` (401
 * otherwise, compared in constant time); without, for anyone who reaches the listener.
 */
export function metricsRoute(metrics: Metrics, token: string | undefined): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  const expected = token === undefined ? undefined : createHash('sha256').update(token).digest();
  return async (req, res) => {
    const given = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    if (expected && !(given !== undefined && timingSafeEqual(createHash('sha256').update(given).digest(), expected))) {
      res.writeHead(401, { 'Content-Type': 'application/json', 'WWW-Authenticate': 'Bearer' });
      res.end(JSON.stringify({ error: 'a bearer token is required' }));
      return;
    }
    try {
      const { contentType, body } = await metrics.scrape();
      res.writeHead(200, { 'Content-Type': contentType, 'Cache-Control': 'no-store' });
      res.end(body);
    } catch {
      res.statusCode = 500;
      res.end();
    }
  };
}
