/**
 * One turn, whatever the channel:
 *
 *   per-conversation order → load state (and dedupe) → dialog → save (compare-and-set) → replies
 *
 * - A repeated event id stops at dedupe: the conversation record remembers the ids of its
 *   last events, saved with the state, so a failed turn leaves no mark and its redelivery runs.
 * - A channel that confirms delivery (LINE) asks for an outbox: the turn's replies are saved
 *   beside its state, in the same compare-and-set, and stay there until `delivered` removes
 *   them. A repeated event whose replies are still there is answered with them again (the
 *   process may have crashed between the save and the send), never with silence.
 * - Events of one conversation run one after another in this process (KeyedQueue); across
 *   processes the save is a compare-and-set on the record's revision, and a lost race
 *   reloads and runs the turn again. Dialog effects are idempotent for that reason (a hold or
 *   booking of one's own is returned again, a citizen with an open ticket gets that one); a
 *   message relayed to staff may, in that rare race, appear twice in the staff thread.
 * - Stored state that no longer parses, or that has been idle too long, starts over
 *   cleanly and the user is told so.
 * - Any failure of the store becomes a polite apology, never a crash; but a turn whose dialog
 *   did what a failed save cannot undo (a booking written) says what the dialog said.
 */
import { randomUUID } from 'node:crypto';
import { DateTime } from 'luxon';
import { ask, runDialog } from '../dialogs/index.ts';
import { journeyOf } from '../dialogs/journeys.ts';
import { type ConversationState, conversationStateSchema, freshState } from '../dialogs/state.ts';
import { StaleStateError } from '../dialogs/types.ts';
import type { Caller, DialogServices, Input, Reply } from './turn.ts';
import { say } from '../dialogs/format.ts';
import { isLocale, type Locale, ZONE } from './domain.ts';
import { KeyedQueue } from './keyedQueue.ts';
import { errorFields, type Logger, pseudonym } from './log.ts';
import type { TurnMetrics, TurnResult } from './metrics.ts';
import type { OutboxChange, Store, StoredConversation } from './stores/ports.ts';

/** One event from a channel, already translated. */
export interface TurnRequest {
  /** Whose conversation: channel and user, e.g. `line:U123`. */
  conversationKey: string;
  caller: Caller;
  /** The channel's event id, prefixed by channel; repeated ids are dropped. */
  eventId?: string;
  input: Input;
  /** Language for a conversation that has none yet (e.g. the browser's). */
  locale?: Locale;
  /**
   * Asked only when the conversation has no stored record, for the language to start it in
   * (e.g. from the user's LINE profile); undefined falls back to `locale`. Must not reject.
   */
  suggestLocale?: () => Promise<Locale | undefined>;
  /**
   * Keep the replies in the conversation's outbox until the channel calls `delivered` (needs
   * `eventId`): a redelivery of the event before then is answered with them (`resend`).
   */
  outbox?: true;
  /**
   * At most `turns` turns of this conversation per `windowMs`, counted as its state is read
   * (no round trip of its own): beyond them the turn does not run, stores nothing, and the
   * user is asked to slow down (`limited`). `name` is the limit's name in logs.
   */
  limit?: { name: string; turns: number; windowMs: number };
}

export type TurnOutcome =
  /**
   * `locale`: the saved conversation's language after the turn (none when the turn erased it);
   * `languageSet`: the same, only when the turn made it new or changed it.
   */
  | { status: 'done'; replies: Reply[]; locale?: Locale; languageSet?: Locale }
  | { status: 'duplicate' }
  /**
   * A repeated event whose replies were never confirmed delivered (saved at `savedAt`): the
   * channel sends them again, unless their first send may still be under way (`by`).
   */
  | { status: 'resend'; replies: Reply[]; savedAt: number; by: Sender }
  /** Over the request's `limit`: the slow-down, in the conversation's language; nothing was stored. */
  | { status: 'limited'; replies: Reply[] }
  | { status: 'failed'; replies: Reply[] };

export interface EngineOptions {
  store: Store;
  services: DialogServices;
  log: Logger;
  /** Clock in ms since epoch; tests pass a fake one. */
  now: () => number;
  /** A conversation idle longer than this starts over. */
  idleMs: number;
  /** How long a conversation record is kept after its last turn. */
  retentionMs: number;
  /**
   * Renew this process's mark in the store this often (its mark lives 3 times as long), so
   * that other processes can tell its unsent answers from those of a process that died.
   * Unset: no mark (a single process, or tests); entries of other engines then count as gone.
   */
  heartbeatMs?: number;
  /** Counts each turn by how it ended, and times it. */
  metrics?: TurnMetrics;
}

/**
 * Event ids remembered per conversation. A redelivery repeats a recent event of the same
 * user, so a short list in the conversation record dedupes it: the mark is saved with the
 * state in the same compare-and-set, so it can neither outlive a failed turn nor be lost by
 * a successful one, and costs no key or round trip of its own.
 */
const REMEMBERED_EVENTS = 16;

/** Event ids stored with a conversation, read even from a record that no longer parses. */
function answeredEvents(raw: unknown): string[] {
  const events = (raw as { events?: unknown } | null | undefined)?.events;
  return Array.isArray(events) ? events.filter((e): e is string => typeof e === 'string') : [];
}

/**
 * Undelivered turns kept per conversation. Normally the outbox holds at most the turn being
 * sent; a few more cover a channel that was down for several turns, and the bound keeps the
 * record small (the oldest is dropped: its redelivery is then treated as a duplicate).
 */
const OUTBOX_TURNS = 3;

interface OutboxEntry {
  event: string;
  /** When the turn was saved (ms since epoch). */
  at: number;
  /** The engine (process) that saved it: only that one can know whether it is still sending. */
  by?: string;
  replies: Reply[];
}

/**
 * Who saved an outbox entry: this process (which knows whether it is still sending it),
 * another one that is running (and may be sending it), or one that has stopped or died
 * (which never will).
 */
export type Sender = 'me' | 'live' | 'gone';

/** A turn's replies still waiting in its conversation's outbox. */
export interface Undelivered {
  conversationKey: string;
  eventId: string;
  savedAt: number;
  by: Sender;
  replies: Reply[];
}

/** When the oldest of `outbox` was saved, for the store's index of undelivered replies. */
const unsentSince = (outbox: OutboxEntry[]): number | undefined => (outbox.length > 0 ? Math.min(...outbox.map((e) => e.at)) : undefined);

/** A conversation's undelivered replies, oldest first (entries of another shape are passed over). */
function outboxOf(stored: StoredConversation | null): OutboxEntry[] {
  return (stored?.outbox ?? [])
    .filter(
      (e): e is OutboxEntry => typeof e === 'object' && e !== null && typeof (e as OutboxEntry).event === 'string' && typeof (e as OutboxEntry).at === 'number' && Array.isArray((e as OutboxEntry).replies),
    )
    .sort((a, b) => a.at - b.at);
}

/** The language kept in a stored state, read even from a record that no longer parses. */
function keptLocale(raw: unknown): Locale | undefined {
  const kept = (raw as { locale?: unknown } | null | undefined)?.locale;
  return isLocale(kept) ? kept : undefined;
}

/** What a turn learnt before it failed. */
interface Seen {
  locale?: Locale;
  /** Replies of a dialog result marked `committed`, said even if the save then fails. */
  committed?: Reply[];
  /** The saved conversation's language. */
  saved?: Locale;
  /** The same, when the turn made it new or changed it. */
  languageSet?: Locale;
}

/** Compare-and-set attempts before a turn gives up (only reached under heavy cross-process contention). */
const MAX_ATTEMPTS = 8;

/** Runs turns. One instance per process. */
export class TurnEngine {
  private readonly opts: EngineOptions;
  private readonly queue = new KeyedQueue();
  /** Tells this process's outbox entries from those of earlier runs or other processes. */
  private readonly id = randomUUID();
  private heartbeat?: NodeJS.Timeout;

  constructor(opts: EngineOptions) {
    this.opts = opts;
    const every = opts.heartbeatMs;
    if (every !== undefined) {
      const beat = () => void opts.store.instances.beat(this.id, 3 * every).catch((err) => opts.log.warn('engine.heartbeat_failed', errorFields(err)));
      beat();
      this.heartbeat = setInterval(beat, every);
      this.heartbeat.unref();
    }
  }

  /** Stops renewing this process's mark and drops it: what it left unsent is then anyone's to send. */
  async close(): Promise<void> {
    clearInterval(this.heartbeat);
    if (this.heartbeat) await this.opts.store.instances.forget(this.id).catch(() => undefined);
  }

  /** Who saved each of these entries (`by` ids). */
  private async senders(ids: (string | undefined)[]): Promise<(by: string | undefined) => Sender> {
    const others = [...new Set(ids.filter((id): id is string => id !== undefined && id !== this.id))];
    const alive = others.length > 0 ? await this.opts.store.instances.alive(others).catch(() => new Set(others)) : new Set<string>();
    return (by) => (by === this.id ? 'me' : by !== undefined && alive.has(by) ? 'live' : 'gone');
  }

  /** Runs one event in its conversation's order. Never rejects. */
  run(request: TurnRequest): Promise<TurnOutcome> {
    const started = performance.now();
    return this.queue.run(request.conversationKey, () => this.turn(request, started));
  }

  /** Counts a turn that ended as `result`, timed from `started` (when the channel asked). */
  private counted(request: TurnRequest, started: number, result: TurnResult): void {
    this.opts.metrics?.turn(request.caller.channel, result, (performance.now() - started) / 1000);
  }

  /**
   * The channel delivered the replies of `eventId`: they leave the outbox (a later redelivery
   * is then a plain duplicate). A small write beside the state, which no turn's save can undo;
   * a failure is logged, not thrown (the entry then stays, and a redelivery or the channel's
   * sweep sends it again, with the same retry keys).
   */
  async delivered(conversationKey: string, eventId: string): Promise<void> {
    await this.opts.store.conversations.delivered(conversationKey, eventId).catch((err) => {
      this.opts.log.warn('turn.delivery_unmarked', { user: pseudonym(conversationKey), ...errorFields(err) });
    });
  }

  /**
   * Replies saved before `beforeMs` and never confirmed delivered, oldest conversations first
   * (at most `limit` of them): what a crash, or a channel that was down, left unsent.
   */
  async undelivered(beforeMs: number, limit: number): Promise<Undelivered[]> {
    const { store } = this.opts;
    const found: { conversationKey: string; entry: OutboxEntry }[] = [];
    for (const conversationKey of await store.conversations.unsent(beforeMs, limit)) {
      const stored = await store.conversations.load(conversationKey);
      // Expired since it was listed: nothing left to send, only the index entry to drop.
      if (!stored) {
        await store.conversations.delete(conversationKey);
        continue;
      }
      for (const entry of outboxOf(stored)) if (entry.at < beforeMs) found.push({ conversationKey, entry });
    }
    const senderOf = await this.senders(found.map((f) => f.entry.by));
    return found.map(({ conversationKey, entry: e }) => ({ conversationKey, eventId: e.event, savedAt: e.at, by: senderOf(e.by), replies: e.replies }));
  }

  /** True when the conversation has a stored record (read only). */
  async known(conversationKey: string): Promise<boolean> {
    return (await this.opts.store.conversations.load(conversationKey)) !== null;
  }

  /**
   * A turn refused before it runs (a rate limit): the locale key's text in the conversation's
   * language. Reads the conversation, writes nothing.
   */
  async refusal(request: TurnRequest, key: string): Promise<Reply[]> {
    const started = performance.now();
    const locale = (await this.localeOf(request.conversationKey)) ?? request.locale ?? 'ja';
    this.counted(request, started, 'limited');
    return [say(this.opts.services.translator(locale)(key))];
  }

  /** The language a stored conversation speaks; undefined when there is none (or the store is down). */
  async localeOf(conversationKey: string): Promise<Locale | undefined> {
    return keptLocale((await this.opts.store.conversations.load(conversationKey).catch(() => null))?.state);
  }

  private async turn(request: TurnRequest, started: number): Promise<TurnOutcome> {
    const { log } = this.opts;
    // The language of the stored conversation, once loaded, so that even an apology speaks it;
    // and the replies of a dialog that did something the failed save cannot undo (a booking).
    const seen: Seen = {};
    try {
      for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
        // The turn is counted once, by its first read: a lost race is not another turn.
        const result = await this.attempt(request, seen, attempt === 1);
        if (result === 'limited') {
          log.warn('limit.reached', { limit: request.limit!.name, user: pseudonym(request.conversationKey) });
          this.counted(request, started, 'limited');
          return { status: 'limited', replies: [say(this.opts.services.translator(seen.locale ?? request.locale ?? 'ja')('limit.slowDown'))] };
        }
        if (result === 'duplicate') {
          log.info('turn.duplicate', { channel: request.caller.channel });
          this.counted(request, started, 'duplicate');
          return { status: 'duplicate' };
        }
        if (result && 'resend' in result) {
          log.info('turn.resend', { channel: request.caller.channel });
          const by = (await this.senders([result.resend.by]))(result.resend.by);
          this.counted(request, started, 'resent');
          return { status: 'resend', replies: result.resend.replies, savedAt: result.resend.at, by };
        }
        if (result) {
          this.counted(request, started, 'answered');
          return { status: 'done', replies: result, ...(seen.saved ? { locale: seen.saved } : {}), ...(seen.languageSet ? { languageSet: seen.languageSet } : {}) };
        }
        log.info('turn.conflict', { attempt, user: pseudonym(request.conversationKey) });
        // Two processes racing on one conversation would otherwise retry in lockstep.
        await new Promise((r) => setTimeout(r, Math.random() * 2 ** attempt));
      }
      throw new Error('conversation kept changing under this turn');
    } catch (err) {
      log.error('turn.failed', { channel: request.caller.channel, user: pseudonym(request.conversationKey), committed: !!seen.committed, ...errorFields(err) });
      // A booking was written (or may have been): the citizen hears that, not "try again".
      this.counted(request, started, seen.committed ? 'answered_unsaved' : 'apology');
      if (seen.committed) return { status: 'done', replies: seen.committed };
      const t = this.opts.services.translator(seen.locale ?? request.locale ?? 'ja');
      return { status: 'failed', replies: [say(t('unavailable'))] };
    }
  }

  /**
   * One load → dialog → save: the replies, `duplicate` for an event this conversation has
   * already answered (`resend` with its replies when they were never confirmed delivered),
   * `limited` when the load that `counts` the turn finds it over the request's limit, or
   * undefined when another turn saved first.
   */
  private async attempt(request: TurnRequest, seen: Seen, counts: boolean): Promise<Reply[] | 'duplicate' | 'limited' | { resend: OutboxEntry } | undefined> {
    const { store, services, now, retentionMs } = this.opts;
    const nowMs = now();
    const { limit } = request;
    const { stored, turns } =
      limit && counts
        ? await store.conversations.loadCounting(request.conversationKey, nowMs, limit.windowMs)
        : { stored: await store.conversations.load(request.conversationKey), turns: 0 };
    if (limit && turns > limit.turns) {
      const kept = keptLocale(stored?.state);
      if (kept) seen.locale = kept;
      return 'limited';
    }
    const answered = answeredEvents(stored?.state);
    const outbox = outboxOf(stored);
    if (request.eventId && answered.includes(request.eventId)) {
      const unsent = outbox.find((e) => e.event === request.eventId);
      return unsent ? { resend: unsent } : 'duplicate';
    }
    const suggested = stored?.state === undefined ? await request.suggestLocale?.() : undefined;
    const { state, notice, expired } = this.restore(stored?.state, suggested ? { ...request, locale: suggested } : request, nowMs);
    seen.locale = state.locale;
    const t = services.translator(state.locale);
    const ctx = { input: request.input, caller: request.caller, now: DateTime.fromMillis(nowMs, { zone: ZONE }), services };
    // A hold may be configured to outlive the idle limit; an expired conversation must not keep it.
    if (expired) await journeyOf(expired)?.release?.(ctx, expired);
    const before = notice ? [say(t(notice))] : [];

    let result;
    if (notice === 'expired' && request.input.kind === 'action') {
      // A button from the expired conversation means nothing now: just show the menu.
      result = { replies: await ask(ctx, state), state };
    } else {
      try {
        result = await runDialog(ctx, state);
      } catch (err) {
        if (!(err instanceof StaleStateError)) throw err;
        const fresh = freshState(state.locale, nowMs);
        result = await runDialog(ctx, fresh);
        before.push(say(t('reset')));
      }
    }
    if (result.forget) {
      // The citizen's data was erased: no record of them is kept, not even the event ids.
      await store.conversations.delete(request.conversationKey);
      return [...before, ...result.replies];
    }
    const replies = [...before, ...result.replies];
    if (result.committed) seen.committed = replies;
    const events = request.eventId ? [...answered, request.eventId].slice(-REMEMBERED_EVENTS) : answered;
    const next: ConversationState = { ...result.state, at: nowMs, ...(events.length > 0 ? { events } : {}) };
    let change: OutboxChange | undefined;
    if (request.outbox && request.eventId) {
      const entry: OutboxEntry = { event: request.eventId, at: nowMs, by: this.id, replies };
      const kept = [...outbox, entry].slice(-OUTBOX_TURNS);
      const drop = outbox.filter((e) => !kept.includes(e)).map((e) => e.event);
      change = { add: { id: entry.event, entry }, ...(drop.length > 0 ? { drop } : {}), unsentSince: unsentSince(kept)! };
    }
    const saved = await store.conversations.save(request.conversationKey, stored?.rev ?? 0, next, retentionMs, change);
    if (saved) seen.saved = next.locale;
    if (saved && next.locale !== keptLocale(stored?.state)) seen.languageSet = next.locale;
    return saved ? replies : undefined;
  }

  private restore(
    raw: unknown,
    request: TurnRequest,
    nowMs: number,
  ): { state: ConversationState; notice?: 'expired' | 'reset'; expired?: ConversationState['flow'] } {
    const locale = request.locale ?? 'ja';
    if (raw === undefined) return { state: freshState(locale, nowMs) };
    const parsed = conversationStateSchema.safeParse(raw);
    if (!parsed.success) {
      return { state: freshState(keptLocale(raw) ?? locale, nowMs), notice: 'reset' };
    }
    const state = parsed.data;
    // A conversation with staff lasts as long as its ticket, however slowly staff answer.
    const expires = state.flow.name !== 'menu' && state.flow.name !== 'handoff';
    if (expires && nowMs - state.at > this.opts.idleMs) {
      return { state: freshState(state.locale, nowMs), notice: 'expired', expired: state.flow };
    }
    return { state };
  }
}
