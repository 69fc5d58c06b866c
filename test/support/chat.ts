/**
 * A transcript harness: a user talking to the real engine and dialogs over a memory store
 * with a fake clock, tapping buttons by their visible label as a person would.
 */
import type { Reply } from '../../src/turn.ts';
import { TurnEngine } from '../../src/engine.ts';
import { createLogger } from '../../src/log.ts';
import { CATALOG_FILE, type Catalog, loadCatalog } from '../../src/services/catalog.ts';
import { createDialogServices } from '../../src/services/index.ts';
import type { StaffNotifier } from '../../src/services/staff.ts';
import { createMemoryStore } from '../../src/stores/memory.ts';
import type { Store } from '../../src/stores/ports.ts';
import { fakeClock } from './app.ts';

export const IDLE_MS = 30 * 60_000;

/** A bot with its store, clock and catalog, for several users. */
export function createBot(opts: { store?: Store; catalog?: Catalog; start?: string; notifier?: StaffNotifier } = {}) {
  const store = opts.store ?? createMemoryStore();
  const catalog = opts.catalog ?? loadCatalog(CATALOG_FILE);
  const clock = fakeClock(opts.start);
  const logs: string[] = [];
  const log = createLogger('info', (l) => logs.push(l));
  const engine = new TurnEngine({
    store,
    services: createDialogServices({ store, catalog, holdMinutes: 10, log, ...(opts.notifier ? { notifier: opts.notifier } : {}) }),
    log,
    now: clock.now,
    idleMs: IDLE_MS,
    retentionMs: 24 * 3_600_000,
  });
  return { store, catalog, clock, engine, logs, user: (id: string) => new ChatUser(engine, id), agent: (id: string) => new ChatUser(engine, id, { id, name: `Agent ${id}` }) };
}

/** Everything a reply says, as one string (texts, card titles and fields). */
export function textOf(replies: Reply[]): string {
  return replies
    .map((r) => (r.kind === 'text' ? r.text : [r.title, ...r.fields.map((f) => `${f.label}: ${f.value}`), r.text ?? ''].join('\n')))
    .join('\n');
}

export class ChatUser {
  readonly key: string;
  /** The bot's replies to the last message. */
  last: Reply[] = [];
  private readonly engine: TurnEngine;
  private seq = 0;

  readonly caller: { userKey: string; channel: string; agent?: { id: string; name: string } };

  constructor(engine: TurnEngine, id: string, agent?: { id: string; name: string }) {
    this.engine = engine;
    this.key = `test:${id}`;
    this.caller = { userKey: this.key, channel: 'test', ...(agent ? { agent } : {}) };
  }

  /** Labels of the buttons currently shown. */
  get buttons(): string[] {
    return this.last.flatMap((r) => r.choices ?? []).map((c) => c.label);
  }

  /** The last replies as text. */
  get said(): string {
    return textOf(this.last);
  }

  async send(input: Parameters<TurnEngine['run']>[0]['input']): Promise<string> {
    const outcome = await this.engine.run({
      conversationKey: this.key,
      caller: this.caller,
      eventId: `${this.key}:${++this.seq}`,
      input,
    });
    this.last = outcome.status === 'duplicate' ? [] : outcome.replies;
    return this.said;
  }

  type(text: string): Promise<string> {
    return this.send({ kind: 'text', text });
  }

  /** Taps the shown button whose label equals (string) or matches (RegExp) `label`. */
  tap(label: string | RegExp): Promise<string> {
    const choice = this.last
      .flatMap((r) => r.choices ?? [])
      .find((c) => (typeof label === 'string' ? c.label === label : label.test(c.label)));
    if (!choice) throw new Error(`no button ${String(label)} among [${this.buttons.join(', ')}]`);
    return this.send({ kind: 'action', data: choice.data });
  }

  /** Taps the same button data again later (a stale button). */
  data(label: string | RegExp): string {
    const choice = this.last.flatMap((r) => r.choices ?? []).find((c) => (typeof label === 'string' ? c.label === label : label.test(c.label)));
    if (!choice) throw new Error(`no button ${String(label)}`);
    return choice.data;
  }
}

/** Screening answers for the shipped ombudsman service: 5 questions in person, 6 online. */
export const QUESTIONS = { in_person: 5, online: 6 } as const;

/** Walks a user from the menu to the time step of the 2026-12-08 session. */
export async function toTimeStep(user: ChatUser, mode: 'in_person' | 'online' = 'in_person'): Promise<void> {
  await user.type('予約する');
  await user.tap(mode === 'online' ? 'オンライン（Webex）' : '対面');
  for (let i = 0; i < QUESTIONS[mode]; i++) await user.tap('はい');
  await user.tap(/^12\/8/);
}

/** Walks a user from the menu to the summary, holding `time`. */
export async function toSummary(user: ChatUser, time = '9:30', mode: 'in_person' | 'online' = 'in_person'): Promise<void> {
  await toTimeStep(user, mode);
  await user.tap(time);
  await user.tap('同意する');
  await user.type('川崎 花子');
  await user.type('090-1234-5678');
  await user.type('hanako@example.jp');
}
