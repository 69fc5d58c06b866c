/**
 * The turn engine on its own (memory store, fake clock): idle expiry, stored state that no
 * longer parses, event ids a failed turn leaves unmarked, and compare-and-set re-runs.
 */
import { DateTime } from 'luxon';
import { describe, expect, it } from 'vitest';
import en from '../../locales/en.json' with { type: 'json' };
import ja from '../../locales/ja.json' with { type: 'json' };
import type { DialogServices, Reply } from '../../src/turn.ts';
import { STATE_VERSION } from '../../dialogs/state.ts';
import { TurnEngine, type TurnOutcome, type TurnRequest } from '../../src/engine.ts';
import { createLogger } from '../../src/log.ts';
import { BookingService } from '../../src/services/booking.ts';
import { createDialogServices } from '../../src/services/index.ts';
import { createMemoryStore } from '../../src/stores/memory.ts';
import type { Store } from '../../src/stores/ports.ts';
import { fakeClock } from '../support/app.ts';
import { createBot, FIRST, ja as chatJa, QUESTIONS, screening, TEST_CATALOG, toSummary } from '../support/chat.ts';

const NOW_ISO = '2026-11-24T10:00:00+09:00';
const IDLE_MS = 30 * 60_000;
const catalog = TEST_CATALOG;

/** An engine wired as src/app.ts wires it, over `store`. */
function setup(store: Store = createMemoryStore()) {
  const clock = fakeClock(NOW_ISO);
  const logs: string[] = [];
  const log = createLogger('info', (line) => logs.push(line));
  const services: DialogServices = createDialogServices({ store, catalog, holdMinutes: 10, log });
  const engine = new TurnEngine({
    store,
    services,
    log,
    now: clock.now,
    idleMs: IDLE_MS,
    retentionMs: 24 * 3_600_000,
  });
  const key = 'line:Uengine';
  let n = 0;
  const run = (input: TurnRequest['input'], eventId: string | null = `e${++n}`): Promise<TurnOutcome> =>
    engine.run({ conversationKey: key, caller: { userKey: key, channel: 'line' }, ...(eventId ? { eventId } : {}), input });
  const text = (t: string, eventId?: string) => run({ kind: 'text', text: t }, eventId);
  const tap = (action: object, eventId?: string) => run({ kind: 'action', data: JSON.stringify(action) }, eventId);
  return { engine, store, clock, logs, key, run, text, tap };
}

/** All the words of the replies, one reply a line. */
function words(outcome: TurnOutcome): string {
  expect(outcome.status).not.toBe('duplicate');
  const replies: Reply[] = outcome.status === 'duplicate' ? [] : outcome.replies;
  return replies.map((r) => (r.kind === 'text' ? r.text : [r.title, ...r.fields.map((f) => f.value), r.text ?? ''].join(' '))).join('\n');
}

function replies(outcome: TurnOutcome): Reply[] {
  return outcome.status === 'duplicate' ? [] : outcome.replies;
}

async function flowOf(store: Store, key: string): Promise<unknown> {
  return ((await store.conversations.load(key))?.state as { flow?: unknown } | undefined)?.flow;
}

describe('idle expiry', () => {
  it('tells a returning user mid-booking that the conversation expired, and starts at the menu', async () => {
    const { store, clock, key, text, tap } = setup();
    await text('予約する');
    expect(words(await tap({ a: 'mode', v: 'in_person' }))).toContain(screening('in_person', 1));
    expect(await flowOf(store, key)).toMatchObject({ name: 'booking', step: 'screening' });

    clock.advance(IDLE_MS + 60_000);
    const back = await tap({ a: 'answer', v: 'yes' });
    expect(back.status).toBe('done');
    const said = replies(back);
    expect(said[0]).toMatchObject({ kind: 'text', text: ja.expired });
    // The old button does not answer the old question, nor greet as a new follower.
    expect(words(back)).not.toContain(screening('in_person', 2));
    expect(words(back)).not.toContain(ja.greeting);
    expect(words(back)).toContain(ja.menu.prompt);
    expect(said.at(-1)?.choices?.map((c) => c.label)).toContain(ja.menu.book);
    expect(await flowOf(store, key)).toEqual({ name: 'menu' });

    // Another button from the old screen now just shows the menu again.
    const again = await tap({ a: 'time', s: FIRST.id, v: '0930' });
    expect(words(again)).not.toContain(ja.expired);
    expect(words(again)).toContain(ja.menu.prompt);
    expect(await flowOf(store, key)).toEqual({ name: 'menu' });
  });

  it('answers typed text after expiry from the menu, with the notice first', async () => {
    const { store, clock, key, text, tap } = setup();
    await text('予約する');
    await tap({ a: 'mode', v: 'in_person' });
    clock.advance(IDLE_MS + 1);
    const back = await text('予約する');
    expect(replies(back)[0]).toMatchObject({ text: ja.expired });
    // "予約する" at the menu starts a new booking.
    expect(words(back)).toContain(ja.booking.modePrompt);
    expect(await flowOf(store, key)).toMatchObject({ name: 'booking', step: 'mode' });
  });

  it('does not expire a conversation within the idle time, nor one at the menu', async () => {
    const { clock, text, tap } = setup();
    await text('予約する');
    clock.advance(IDLE_MS - 60_000);
    expect(words(await tap({ a: 'mode', v: 'in_person' }))).toContain(screening('in_person', 1));
    await text('メニュー');
    clock.advance(IDLE_MS * 4);
    expect(words(await text('ヘルプ'))).not.toContain(ja.expired);
  });
});

describe('stored state that no longer fits', () => {
  it('resets an unknown shape or version cleanly with the reset notice', async () => {
    for (const junk of [
      { v: STATE_VERSION + 1, locale: 'ja', at: 0, flow: { name: 'menu' } },
      { v: STATE_VERSION, locale: 'ja', at: Date.parse(NOW_ISO), flow: { name: 'wizard', step: 42 } },
      'not even an object',
      null,
      [1, 2, 3],
    ]) {
      const { store, key, text } = setup();
      expect(await store.conversations.save(key, 0, junk, 60_000)).toBe(true);
      const outcome = await text('ヘルプ');
      expect(outcome.status).toBe('done');
      expect(replies(outcome)[0]).toMatchObject({ text: ja.reset });
      expect(words(outcome)).toContain(ja.help);
      const stored = await store.conversations.load(key);
      expect(stored?.rev).toBe(2);
      expect(stored?.state).toMatchObject({ v: STATE_VERSION, flow: { name: 'menu' } });
      // And the next turn runs normally.
      expect(words(await text('予約する'))).not.toContain(ja.reset);
    }
  });

  it('keeps the language of a record it has to reset', async () => {
    const { store, key, text } = setup();
    await store.conversations.save(key, 0, { v: 999, locale: 'en', flow: {} }, 60_000);
    const outcome = await text('help');
    expect(replies(outcome)[0]).toMatchObject({ text: en.reset });
  });

  it('resets a booking that refers to a service no longer in the catalog', async () => {
    const { store, key, tap } = setup();
    const state = {
      v: STATE_VERSION,
      locale: 'ja',
      at: Date.parse(NOW_ISO),
      flow: { name: 'booking', step: 'mode', serviceId: 'retired-service', contact: {} },
    };
    await store.conversations.save(key, 0, state, 60_000);
    const outcome = await tap({ a: 'mode', v: 'in_person' });
    expect(outcome.status).toBe('done');
    expect(replies(outcome)[0]).toMatchObject({ text: ja.reset });
    expect(await flowOf(store, key)).toEqual({ name: 'menu' });
  });
});

/** A memory store whose parts can be made to fail or race. */
function faultyStore() {
  const base = createMemoryStore();
  const faults = { loadThrows: 0, saveThrows: 0, alwaysLose: false };
  const store: Store = {
    ...base,
    conversations: {
      ...base.conversations,
      async load(key) {
        if (faults.loadThrows > 0) {
          faults.loadThrows--;
          throw new Error('connection lost');
        }
        return base.conversations.load(key);
      },
      async save(key, rev, state, ttl) {
        if (faults.saveThrows > 0) {
          faults.saveThrows--;
          throw new Error('connection lost');
        }
        if (faults.alwaysLose) return false;
        return base.conversations.save(key, rev, state, ttl);
      },
    },
  };
  return { store, base, faults };
}

describe('a booking written when the save fails', () => {
  /** A bot whose conversation saves fail once `faults.save` is set, and whose booking confirm may run and then lose its answer. */
  function fragileBot() {
    const base = createMemoryStore();
    const faults = { save: false, confirmLost: false };
    const store: Store = {
      ...base,
      conversations: {
        ...base.conversations,
        async save(key, rev, state, ttl) {
          if (faults.save) throw new Error('connection lost');
          return base.conversations.save(key, rev, state, ttl);
        },
      },
      bookings: {
        ...base.bookings,
        async confirm(...args: Parameters<Store['bookings']['confirm']>) {
          const result = await base.bookings.confirm(...args);
          // The script ran; its answer never came back (Redis dropped right after it).
          if (faults.confirmLost) throw new Error('connection lost');
          return result;
        },
      },
    };
    return { bot: createBot({ store }), base, faults };
  }

  it('gives the reference, not "try again", when Redis drops right after the booking', async () => {
    const { bot, base, faults } = fragileBot();
    const u = bot.user('dropped');
    await toSummary(u);
    faults.save = true;
    const said = await u.tap(chatJa('booking.confirm'));
    const [booking] = await base.bookings.listSession(FIRST.id);
    expect(booking).toBeDefined();
    expect(said).toContain(chatJa('booking.confirmedTitle'));
    expect(said).toContain(booking!.id);
    expect(said).not.toContain(ja.unavailable);
  });

  it('says the booking may exist (check my bookings) when the confirm lost its answer, and confirming again returns the same booking', async () => {
    const { bot, base, faults } = fragileBot();
    const u = bot.user('lost');
    await toSummary(u);
    faults.confirmLost = true;
    faults.save = true;
    const said = await u.tap(chatJa('booking.confirm'));
    expect(said).toContain(ja.booking.uncertain);
    expect(said).not.toContain(ja.unavailable);
    const written = await base.bookings.listSession(FIRST.id);
    expect(written).toHaveLength(1);

    faults.confirmLost = false;
    faults.save = false;
    expect(await u.tap(chatJa('booking.confirm'))).toContain(written[0]!.id);
    expect(await base.bookings.listSession(FIRST.id)).toHaveLength(1);
  });
});

describe('dedupe', () => {
  it('drops a repeated event: no second reply, no second state change', async () => {
    const { store, key, text } = setup();
    expect((await text('予約する', 'line:E1')).status).toBe('done');
    expect(await text('予約する', 'line:E1')).toEqual({ status: 'duplicate' });
    expect((await store.conversations.load(key))?.rev).toBe(1);
  });

  it('does not mark the event of a failed turn, so that the redelivery runs', async () => {
    const { store, faults } = faultyStore();
    const { key, text } = setup(store);
    faults.saveThrows = 1;
    const failed = await text('予約する', 'line:E2');
    expect(failed.status).toBe('failed');
    expect(words(failed)).toContain(ja.unavailable);
    expect(await store.conversations.load(key)).toBeNull();

    const redelivered = await text('予約する', 'line:E2');
    expect(redelivered.status).toBe('done');
    expect(words(redelivered)).toContain(ja.booking.modePrompt);
    expect(await text('予約する', 'line:E2')).toEqual({ status: 'duplicate' });
    expect((await store.conversations.load(key))?.rev).toBe(1);
  });

  it('answers politely when the store fails on load', async () => {
    const { store, faults } = faultyStore();
    const { text, logs } = setup(store);
    faults.loadThrows = 1;
    const failed = await text('ヘルプ', 'line:E3');
    expect(failed).toEqual({ status: 'failed', replies: [{ kind: 'text', text: ja.unavailable }] });
    expect(logs.some((l) => l.includes('turn.failed'))).toBe(true);
  });
});

describe('a failed turn and an expired conversation', () => {
  it('apologises in the language of the stored conversation', async () => {
    const { store, faults } = faultyStore();
    const { text } = setup(store);
    await text('language');
    await text('English');
    faults.saveThrows = 1;
    const failed = await text('menu');
    expect(failed.status).toBe('failed');
    expect(words(failed)).toContain('Sorry, the service is busy');
  });

  it('releases the slot held by a conversation that expired, even when holds outlive the idle limit', async () => {
    const store = createMemoryStore();
    const { clock, text, tap } = setup(store);
    const longHolds = new BookingService(store.bookings, store.moves, catalog, 120);
    await text('予約する');
    await tap({ a: 'mode', v: 'in_person' });
    for (let i = 0; i < QUESTIONS.in_person; i++) await tap({ a: 'answer', v: 'yes' });
    await tap({ a: 'date', v: FIRST.id });
    await tap({ a: 'time', s: FIRST.id, v: '0930' });
    // Re-hold for two hours, as a deployment with HOLD_MINUTES above IDLE_MINUTES would.
    await longHolds.hold(FIRST.id, '0930', 'line:Uengine', DateTime.fromMillis(clock.now()));
    clock.advance(IDLE_MS + 60_000);
    expect(words(await text('メニュー'))).toContain(ja.expired);
    expect((await store.bookings.occupancy(FIRST.id, clock.now())).held.size).toBe(0);
  });
});

describe('compare-and-set', () => {
  it('re-runs a turn that lost the race on the state another process saved', async () => {
    const { store, base } = faultyStore();
    const { key, tap, text } = setup(store);
    await text('メニュー');
    // Another process moves the user into the booking while this turn is running.
    let raced = false;
    const save = store.conversations.save;
    store.conversations.save = async (k, rev, state, ttl) => {
      if (!raced) {
        raced = true;
        const other = await base.conversations.load(k);
        const s = other!.state as Record<string, unknown>;
        await base.conversations.save(k, rev, { ...s, flow: { name: 'booking', step: 'mode', serviceId: 'ombudsman', contact: {} } }, ttl);
      }
      return save(k, rev, state, ttl);
    };
    const outcome = await tap({ a: 'mode', v: 'in_person' });
    // Run again on the newer state: the mode tap now fits, and only that run's replies are sent.
    expect(words(outcome)).toContain(screening('in_person', 1));
    expect(words(outcome)).not.toContain(ja.stale);
    expect((await store.conversations.load(key))?.rev).toBe(3);
  });

  it('gives up politely, leaving the event unmarked, when the record keeps changing', async () => {
    const { store, faults } = faultyStore();
    const { text } = setup(store);
    faults.alwaysLose = true;
    const outcome = await text('ヘルプ', 'line:E4');
    expect(outcome.status).toBe('failed');
    faults.alwaysLose = false;
    expect((await text('ヘルプ', 'line:E4')).status).toBe('done');
  });
});
