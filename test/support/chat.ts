/**
 * A transcript harness: a user talking to the real engine and dialogs over a memory store
 * with a fake clock, tapping buttons by their visible label as a person would.
 *
 * Transcripts run on a catalog of their own (`test/fixtures/catalog.json`, its sessions on
 * fixed dates around the fake clock's 2026-11-24), not the shipped one, and say what they
 * expect in locale keys (`ja(key, params)`, `like(key)`), so that a new year's catalog or a
 * reworded sentence does not break them.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { formatDate } from '../../dialogs/format.ts';
import { LOCALES, type Locale, local, type Mode } from '../../src/domain.ts';
import { TurnEngine } from '../../src/engine.ts';
import { createLogger } from '../../src/log.ts';
import { type Catalog, loadCatalog } from '../../src/services/catalog.ts';
import { loadConfig } from '../../src/config.ts';
import { createDialogServices, translator } from '../../src/services/index.ts';
import { buildQuestionBrain, type QuestionBrain } from '../../src/services/questions.ts';
import type { StaffNotifier } from '../../src/services/staff.ts';
import { createMemoryStore } from '../../src/stores/memory.ts';
import type { Store } from '../../src/stores/ports.ts';
import type { Reply, Translate } from '../../src/turn.ts';
import { fakeClock } from './app.ts';

export const IDLE_MS = 30 * 60_000;

/** The transcripts' catalog: the ombudsman service and four sessions on fixed dates. */
export const TEST_CATALOG_FILE = fileURLToPath(new URL('../fixtures/catalog.json', import.meta.url));
export const TEST_CATALOG: Catalog = loadCatalog(TEST_CATALOG_FILE);
export const SERVICE = TEST_CATALOG.services[0]!;

function sessionOf(id: string) {
  const session = TEST_CATALOG.sessions.find((s) => s.id === id);
  if (!session) throw new Error(`no session ${id} in the test catalog`);
  return session;
}

/** The session open at the fake clock's start (2026-11-24), and the next one (open from 2026-12-15). */
export const FIRST = sessionOf('2026-12-08-asao');
export const NEXT = sessionOf('2027-01-08-nakahara');

export const ja: Translate = translator('ja');
export const en: Translate = translator('en');

/** The first word of a keyword list (`keywords.<name>`): what a person types instead of tapping. */
export function word(name: string, t: Translate = ja): string {
  return t(`keywords.${name}`).split('|')[0]!;
}

/** A calendar day as the bot writes it (`format.date`, or `format.shortDate` on buttons). */
export function day(iso: string, short = false, locale: Locale = 'ja'): string {
  return formatDate(iso, locale, translator(locale), short);
}

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** A button label or text that starts with `text`. */
export function startingWith(text: string): RegExp {
  return new RegExp(`^${escape(text)}`);
}

const TEMPLATES = Object.fromEntries(LOCALES.map((l) => [l, JSON.parse(readFileSync(new URL(`../../locales/${l}.json`, import.meta.url), 'utf8')) as unknown])) as Record<Locale, unknown>;

/**
 * The locale text of `key` as a pattern: the given `params` filled in, every other
 * `{{placeholder}}` matching anything on its line. For sentences whose parameters the test
 * does not know (a ticket id, a time of day).
 */
export function like(key: string, params: Record<string, string | number> = {}, locale: Locale = 'ja'): RegExp {
  const template = key.split('.').reduce<unknown>((o, k) => (o as Record<string, unknown> | undefined)?.[k], TEMPLATES[locale]);
  if (typeof template !== 'string') throw new Error(`no locale text ${key}`);
  const pattern = template
    .split(/(\{\{\w+\}\})/)
    .map((part) => {
      const name = /^\{\{(\w+)\}\}$/.exec(part)?.[1];
      if (name === undefined) return escape(part);
      return name in params ? escape(String(params[name])) : '[^\\n]*?';
    })
    .join('');
  return new RegExp(pattern);
}

/** The screening questions that apply to a mode, in order. */
export function questionsFor(mode: Mode) {
  return SERVICE.screening.filter((q) => q.modes.includes(mode));
}

/** The n-th (from 1) screening prompt of a mode, as the bot asks it. */
export function screening(mode: Mode, n: number, locale: Locale = 'ja'): string {
  const questions = questionsFor(mode);
  return translator(locale)('booking.screeningPrompt', { n, total: questions.length, question: local(questions[n - 1]!.question, locale) });
}

/** The menu's buttons, in order. */
export const MENU = [ja('menu.book'), ja('menu.my'), ja('menu.ask'), ja('menu.human'), ja('menu.language'), ja('menu.help')];

/** The transcripts' knowledge base: five entries whose bands are known (`test/fixtures/knowledge.json`). */
export const TEST_KNOWLEDGE_FILE = fileURLToPath(new URL('../fixtures/knowledge.json', import.meta.url));
export const TEST_BRAIN: QuestionBrain = buildQuestionBrain(loadConfig({}).faq, TEST_KNOWLEDGE_FILE);

/** A bot with its store, clock, catalog and knowledge base, for several users. */
export function createBot(opts: { store?: Store; catalog?: Catalog; start?: string; notifier?: StaffNotifier } = {}) {
  const store = opts.store ?? createMemoryStore();
  const catalog = opts.catalog ?? TEST_CATALOG;
  const clock = fakeClock(opts.start);
  const logs: string[] = [];
  const log = createLogger('info', (l) => logs.push(l));
  const engine = new TurnEngine({
    store,
    services: createDialogServices({ store, catalog, holdMinutes: 10, log, brain: TEST_BRAIN, ...(opts.notifier ? { notifier: opts.notifier } : {}) }),
    log,
    now: clock.now,
    idleMs: IDLE_MS,
    retentionMs: 24 * 3_600_000,
  });
  return { store, catalog, clock, engine, logs, user: (id: string) => new ChatUser(engine, id), lineUser: (id: string) => new ChatUser(engine, id, undefined, 'line'), agent: (id: string) => new ChatUser(engine, id, { id, name: `Agent ${id}` }) };
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

  /** `channel` `line` makes a LINE citizen (`line:<id>`), for what only LINE users can do. */
  constructor(engine: TurnEngine, id: string, agent?: { id: string; name: string }, channel = 'test') {
    this.engine = engine;
    this.key = `${channel}:${id}`;
    this.caller = { userKey: this.key, channel, ...(agent ? { agent } : {}) };
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

/** Screening questions of the test catalog's service: fewer in person than online. */
export const QUESTIONS = { in_person: questionsFor('in_person').length, online: questionsFor('online').length } as const;

/** Walks a user from the menu to the time step of the first session. */
export async function toTimeStep(user: ChatUser, mode: Mode = 'in_person'): Promise<void> {
  await user.type(word('book'));
  await user.tap(ja(`booking.mode.${mode}`));
  for (let i = 0; i < QUESTIONS[mode]; i++) await user.tap(ja('booking.answer.yes'));
  await user.tap(startingWith(day(FIRST.date, true)));
}

/** Walks a user from the menu to the summary, holding `time`. */
export async function toSummary(user: ChatUser, time = '9:30', mode: Mode = 'in_person'): Promise<void> {
  await toTimeStep(user, mode);
  await user.tap(time);
  await user.tap(ja('booking.agree'));
  await user.type('川崎 花子');
  await user.type('090-1234-5678');
  await user.type('hanako@example.jp');
}
