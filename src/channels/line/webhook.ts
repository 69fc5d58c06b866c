/**
 * `POST /line/webhook`: LINE's events → turns → replies.
 *
 * The signature is checked on the raw bytes before anything is parsed. Each event is validated
 * on its own: a bad one is skipped (logged by index and type) and the rest still run; only a
 * body that is not an object with an `events` array answers 400. Events in `standby` mode
 * (another module owns the chat) are acknowledged and nothing more. Events of one user
 * run in order, different users in parallel. The answer to LINE waits for the turns (they
 * take milliseconds) but never longer than `ackDeadlineMs`, well inside LINE's 2 seconds;
 * slower turns finish after. A turn that fails (e.g. Redis down) answers the user with an
 * apology and LINE with 200: the user is told to try again rather than left waiting for a
 * redelivery that may not be enabled. Only an unexpected crash of the handler answers 500.
 *
 * A turn's replies wait in the conversation's outbox (saved with its state) until LINE
 * accepted them. A redelivered event whose replies never were (the bot crashed, or LINE
 * was unreachable) is answered from there by push, with the retry keys of the first send:
 * LINE shows the answer once even if the first push did reach it. What no redelivery will
 * ask for (the webhook was acknowledged, then the process died or LINE stayed down) is
 * found by a sweep of the outboxes, at start-up and then every `sweepEveryMs`: at once when
 * the process that saved it is gone, after a while when it was this one's own failed send.
 *
 * Around a turn: one still running after `loadingAfterMs` shows LINE's loading animation (fast
 * turns make no call for it); a new conversation starts in the language of the user's LINE
 * profile, asked only then; and a conversation whose language was set or changed links the
 * user to that language's rich menu, after the answer has gone.
 */
import { validateSignature } from '@line/bot-sdk';
import type { Server } from 'restify';
import { z } from 'zod';
import type { Input } from '../../turn.ts';
import type { TurnEngine } from '../../engine.ts';
import { BodyTooLargeError, readBody } from '../../http.ts';
import { KeyedQueue } from '../../keyedQueue.ts';
import type { Locale } from '../../domain.ts';
import { errorFields, type Logger } from '../../log.ts';
import { renderLine } from './render.ts';
import type { messagingApi } from '@line/bot-sdk';
import type { Destination, LineSender } from './sender.ts';

const BODY_LIMIT = 1024 * 1024;
/**
 * How long a user's next answer waits for the previous one to reach LINE. The LINE client
 * has no timeout of its own, so a hung call must not hold that user's answers for minutes.
 */
const SEND_ORDER_WAIT_MS = 10_000;
/** The sweep looks at answers older than this: younger ones are normally on their way. */
const SWEEP_MIN_AGE_MS = 2_000;
/**
 * An answer this process failed to send (LINE down through every retry) is tried again by the
 * sweep once it is this old, and then at most this often.
 */
const RETRY_OWN_AFTER_MS = 10_000;
/** An answer of another running process is its own sweep's to send; this long, and it is anyone's. */
const TAKE_OVER_AFTER_MS = 60_000;
/** Answers whose last sweep attempt is remembered (the oldest are forgotten first). */
const TRIED_KEPT = 10_000;
/** Conversations looked at per sweep (oldest first); the next sweep takes the rest. */
const SWEEP_BATCH = 200;
/**
 * An answer still unsent after this long is dropped from the outbox (and logged): by then the
 * citizen has moved on or blocked the account, and it would only keep coming back.
 */
const OUTBOX_GIVE_UP_MS = 6 * 3_600_000;

/** The parts of LINE's webhook event the bot uses; anything else is passed over. */
const eventSchema = z.object({
  type: z.string(),
  mode: z.string(),
  webhookEventId: z.string().min(1),
  timestamp: z.number(),
  replyToken: z.string().optional(),
  source: z.object({ type: z.string(), userId: z.string().optional() }).optional(),
  message: z.object({ type: z.string(), text: z.string().optional() }).optional(),
  postback: z.object({ data: z.string() }).optional(),
});
/** Events are checked one by one (see `validEvents`), so that one bad event does not cost the others. */
const bodySchema = z.object({ destination: z.string().optional(), events: z.array(z.unknown()) });
type LineEvent = z.infer<typeof eventSchema>;

export interface LineWebhookOptions {
  channelSecret?: string;
  sender?: LineSender;
  engine: TurnEngine;
  /** Turns per LINE user (the requests all come from LINE's servers, so not per address). */
  turnLimit: { turns: number; windowMs: number };
  log: Logger;
  now: () => number;
  replyTokenMaxAgeMs: number;
  ackDeadlineMs?: number;
  /** How often the outboxes are swept for answers never sent (default 2 s). */
  sweepEveryMs?: number;
  /** The user followed (true) or blocked (false) the account: `line:<userId>`. */
  following?: (userKey: string, follows: boolean) => Promise<void>;
  /** A turn still running after this long shows the loading animation (needs `sender`); unset: never. */
  loadingAfterMs?: number;
  /** Links a user to their language's rich menu; never rejects. */
  richMenus?: { link(userId: string, locale: Locale): Promise<void> };
}

/** What a LINE event means to a dialog; undefined for events the bot does not act on. */
function toInput(event: LineEvent): Input | undefined {
  switch (event.type) {
    case 'follow':
      return { kind: 'follow' };
    case 'postback':
      return event.postback ? { kind: 'action', data: event.postback.data } : undefined;
    case 'message':
      return event.message?.type === 'text' && event.message.text !== undefined
        ? { kind: 'text', text: event.message.text }
        : { kind: 'unsupported' };
    default:
      return undefined;
  }
}

/** The events that parse; each one that does not is logged by position and type, never by content. */
function validEvents(candidates: unknown[], log: Logger): LineEvent[] {
  const events: LineEvent[] = [];
  candidates.forEach((candidate, index) => {
    const parsed = eventSchema.safeParse(candidate);
    if (parsed.success) {
      events.push(parsed.data);
      return;
    }
    const type = typeof candidate === 'object' && candidate !== null ? (candidate as { type?: unknown }).type : undefined;
    log.warn('line.event_invalid', { index, ...(typeof type === 'string' ? { type } : {}) });
  });
  return events;
}

/** The mounted webhook: what a shutdown waits for. */
export interface LineWebhook {
  /** Stops sweeping; resolves once every turn and send under way (also those after the ack) has finished. */
  idle(): Promise<void>;
}

/** Mounts the webhook route on `server`. */
export function mountLineWebhook(server: Server, opts: LineWebhookOptions): LineWebhook {
  const { log } = opts;
  // The work of each request, which may outlive the request itself (ack before done).
  const inFlight = new Set<Promise<unknown>>();
  const ackDeadlineMs = opts.ackDeadlineMs ?? 1500;
  // Over the limit a turn does not run, so nothing of it is stored: the user is asked to slow down.
  const limit = { name: 'lineUser', ...opts.turnLimit };
  // One user's answers leave in the order of their turns, also when the events came in
  // separate requests: a later answer must not overtake an earlier one still in flight.
  const sends = new KeyedQueue();
  // Events whose answer this process is sending now: a redelivery of one waits for that send.
  const sending = new Set<string>();

  /**
   * Sends one turn's answer in the user's order and marks it delivered once LINE took it. The
   * order wait is bounded; the delivery mark follows LINE, not the wait.
   */
  const deliver = (userId: string, eventId: string, markAs: string | undefined, to: () => Destination, messages: messagingApi.Message[]): Promise<void> =>
    sends.run(userId, async () => {
      const sender = opts.sender!;
      sending.add(eventId);
      const sent = sender
        .send(to(), messages)
        .then((delivered) => (delivered && markAs ? opts.engine.delivered(`line:${userId}`, markAs) : undefined))
        .finally(() => sending.delete(eventId));
      let timer: NodeJS.Timeout | undefined;
      const stuck = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, SEND_ORDER_WAIT_MS);
      });
      await Promise.race([sent, stuck]).finally(() => clearTimeout(timer));
    });

  /**
   * `turn`, with the chat's loading animation started should it take longer than `loadingAfterMs`.
   * Turns run for one-to-one chats only (see `runAll`), the only chats LINE shows it in.
   */
  const withLoading = async <T>(userId: string, turn: Promise<T>): Promise<T> => {
    const { sender, loadingAfterMs } = opts;
    if (!sender || loadingAfterMs === undefined) return turn;
    const timer = setTimeout(() => void sender.startLoading(userId), loadingAfterMs);
    try {
      return await turn;
    } finally {
      clearTimeout(timer);
    }
  };

  const runEvent = async (event: LineEvent, userId: string): Promise<void> => {
    if (event.type === 'follow' || event.type === 'unfollow') {
      await opts.following?.(`line:${userId}`, event.type === 'follow').catch((err) => log.warn('line.following_unrecorded', errorFields(err)));
    }
    const input = toInput(event);
    if (!input) return;
    const key = `line:${userId}`;
    const eventId = `line:${event.webhookEventId}`;
    const sender = opts.sender;
    // The profile is asked for once, and only if the engine finds no stored conversation.
    let profileLocale: Promise<Locale | undefined> | undefined;
    const suggestLocale = sender ? { suggestLocale: () => (profileLocale ??= sender.profileLocale(userId)) } : {};
    const request = { conversationKey: key, caller: { userKey: key, channel: 'line' }, eventId, input, outbox: true as const, limit, ...suggestLocale };
    const outcome = await withLoading(userId, opts.engine.run(request));
    if (outcome.status === 'duplicate' || !sender) return;
    // The first send of this answer may still be on its way: from here, or from another running
    // process (LINE delivered the event to both). Left to it (and, should it fail, to the sweep).
    // Saved by a process that is gone, or sent from here without success, it goes again now:
    // the retry key lets LINE drop it should the first push have arrived after all.
    if (outcome.status === 'resend' && (outcome.by === 'live' || (outcome.by === 'me' && sending.has(eventId)))) return;
    // The apology of a failed turn (or the slow-down of a limited one) and the real answer of
    // its redelivery are different messages: with the same retry key LINE would drop the answer as a repeat (409).
    const answer = outcome.status === 'done' || outcome.status === 'resend';
    const seed = answer ? event.webhookEventId : `${event.webhookEventId}:${outcome.status}`;
    await deliver(
      userId,
      answer ? eventId : seed,
      answer ? eventId : undefined,
      // Judged when the answer leaves: waiting for an earlier answer may have aged the token.
      // A resend pushes: only a push carries the retry key that lets LINE drop a repeat.
      () => ({
        userId,
        eventId: seed,
        ...(event.replyToken ? { replyToken: event.replyToken } : {}),
        replyTokenFresh: outcome.status !== 'resend' && opts.now() - event.timestamp < opts.replyTokenMaxAgeMs,
      }),
      renderLine(outcome.replies),
    );
    if (outcome.status === 'done' && outcome.languageSet && opts.richMenus) {
      const linked = opts.richMenus.link(userId, outcome.languageSet).finally(() => inFlight.delete(linked));
      inFlight.add(linked);
    }
  };

  // When the sweep last tried an answer: one LINE keeps refusing is not pushed every sweep.
  const tried = new Map<string, number>();
  /** Pushes what the outboxes still hold from turns no redelivery will ask about again. */
  const sweep = async (): Promise<void> => {
    if (!opts.sender) return;
    const nowMs = opts.now();
    for (const item of await opts.engine.undelivered(nowMs - SWEEP_MIN_AGE_MS, SWEEP_BATCH)) {
      if (!item.conversationKey.startsWith('line:')) continue;
      const age = nowMs - item.savedAt;
      if (item.by === 'me' && (sending.has(item.eventId) || age < RETRY_OWN_AFTER_MS || nowMs - (tried.get(item.eventId) ?? 0) < RETRY_OWN_AFTER_MS)) continue;
      if (item.by === 'live' && age < TAKE_OVER_AFTER_MS) continue;
      tried.delete(item.eventId);
      tried.set(item.eventId, nowMs);
      if (tried.size > TRIED_KEPT) tried.delete(tried.keys().next().value!);
      const userId = item.conversationKey.slice('line:'.length);
      if (age > OUTBOX_GIVE_UP_MS) {
        log.warn('line.outbox_abandoned', { ageMinutes: Math.round(age / 60_000) });
        await opts.engine.delivered(item.conversationKey, item.eventId);
        continue;
      }
      log.info('line.outbox_resent', { ageSeconds: Math.round(age / 1_000) });
      // The retry keys of the first send: a LINE event's from its webhook event id, a staff
      // action's (LineMessenger) from its idempotency key, which is the outbox entry's id.
      const seed = item.eventId.startsWith('line:') ? item.eventId.slice('line:'.length) : item.eventId;
      await deliver(userId, item.eventId, item.eventId, () => ({ userId, eventId: seed, replyTokenFresh: false }), renderLine(item.replies));
    }
  };
  let sweeping: Promise<void> = Promise.resolve();
  const sweepNow = () => {
    sweeping = sweeping.then(sweep).catch((err) => log.warn('line.outbox_sweep_failed', errorFields(err)));
  };
  let sweepTimer: NodeJS.Timeout | undefined;
  if (opts.sender) {
    sweepNow();
    sweepTimer = setInterval(sweepNow, opts.sweepEveryMs ?? 2_000);
    sweepTimer.unref();
  }

  const runAll = async (events: LineEvent[]): Promise<void> => {
    const byUser = new Map<string, LineEvent[]>();
    for (const event of events) {
      // In standby another module (e.g. a human-operator desk) owns the chat: LINE forbids
      // answering, and a turn would move a conversation the citizen is not having with us.
      if (event.mode !== 'active') continue;
      // Only one-to-one chats: in a group (e.g. the staff LINE group) the bot only posts.
      const userId = event.source?.type === 'user' ? event.source.userId : undefined;
      if (!userId) continue;
      byUser.set(userId, [...(byUser.get(userId) ?? []), event]);
    }
    await Promise.all(
      [...byUser].map(async ([userId, mine]) => {
        for (const event of mine) await runEvent(event, userId);
      }),
    );
  };

  server.post('/line/webhook', async (req, res) => {
    if (!opts.channelSecret) {
      res.send(503, { error: 'LINE channel is not configured' });
      return;
    }
    let raw: Buffer;
    try {
      raw = await readBody(req, BODY_LIMIT);
    } catch (err) {
      if (err instanceof BodyTooLargeError) {
        // The rest of the body is never read, so the connection cannot carry another request:
        // close it rather than leave the client's next request on it waiting for ever.
        res.send(413, { error: 'body too large' }, { connection: 'close' });
        return;
      }
      res.send(400, { error: 'unreadable body' });
      return;
    }
    const signature = req.header('x-line-signature');
    if (!signature || !validateSignature(raw, opts.channelSecret, signature)) {
      log.warn('line.signature_rejected', { bytes: raw.length, present: !!signature });
      res.send(401, { error: 'invalid signature' });
      return;
    }
    let body: z.infer<typeof bodySchema>;
    try {
      body = bodySchema.parse(JSON.parse(raw.toString('utf8')));
    } catch (err) {
      log.warn('line.malformed_payload', { bytes: raw.length, ...errorFields(err) });
      res.send(400, { error: 'malformed payload' });
      return;
    }
    const events = validEvents(body.events, log);
    const work = runAll(events).catch((err) => {
      log.error('line.events_failed', errorFields(err));
      throw err;
    });
    const tracked = work.catch(() => undefined).finally(() => inFlight.delete(tracked));
    inFlight.add(tracked);
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<'late'>((resolve) => {
      timer = setTimeout(() => resolve('late'), ackDeadlineMs);
    });
    try {
      const finished = await Promise.race([work.then(() => 'done' as const), deadline]);
      if (finished === 'late') {
        log.warn('line.ack_before_done', { events: events.length });
        work.catch(() => undefined);
      }
      res.send(200, {});
    } catch {
      res.send(500, { error: 'processing failed' });
    } finally {
      clearTimeout(timer);
    }
  });

  return {
    idle: async () => {
      clearInterval(sweepTimer);
      await Promise.all([...inFlight, sweeping]);
    },
  };
}
