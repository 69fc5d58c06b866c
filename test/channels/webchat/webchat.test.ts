/**
 * The local web chat over real HTTP: the page, the message API's validation and dedupe,
 * health endpoints, and whole conversations driven through POST /webchat/messages.
 */
import { createHash, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import type { Choice, Reply } from '../../../src/turn.ts';
import type { AppOverrides } from '../../../src/app.ts';
import { LOCALES } from '../../../src/domain.ts';
import { translator } from '../../../src/services/index.ts';
import { isReference } from '../../../src/services/reference.ts';
import { createMemoryStore } from '../../../src/stores/memory.ts';
import { fakeClock, type RunningApp, startApp } from '../../support/app.ts';

const ja = JSON.parse(readFileSync(new URL('../../../locales/ja.json', import.meta.url), 'utf8'));
const SESSION_ID = '2026-12-08-asao';

/** The app as of a day when the 2026-12-08 Asao session is open for booking. */
const clock = () => ({ now: fakeClock('2026-11-24T10:00:00+09:00').now });

let running: RunningApp | undefined;
afterEach(async () => {
  await running?.close();
  running = undefined;
});

async function start(env: Record<string, string> = {}, overrides: AppOverrides = {}): Promise<RunningApp> {
  running = await startApp(env, { ...clock(), ...overrides });
  return running;
}

function post(app: RunningApp, body: unknown, contentType = 'application/json'): Promise<Response> {
  return fetch(`${app.url}/webchat/messages`, {
    method: 'POST',
    headers: { 'content-type': contentType },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

/** One web chat user: posts turns and taps the buttons of the last answer by label. */
class Chat {
  readonly conversationId = randomUUID();
  last: Reply[] = [];
  private readonly app: RunningApp;
  constructor(app: RunningApp) {
    this.app = app;
  }

  async send(input: unknown, messageId: string = randomUUID()): Promise<Reply[]> {
    const res = await post(this.app, { conversationId: this.conversationId, messageId, locale: 'ja', input });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { replies: Reply[] };
    this.last = body.replies;
    return body.replies;
  }

  follow = () => this.send({ kind: 'follow' });
  type = (text: string) => this.send({ kind: 'text', text });

  /** The button on screen whose label starts with `label`. */
  choice(label: string): Choice {
    const all = this.choices();
    const found = all.find((c) => c.label.startsWith(label));
    if (!found) throw new Error(`no button "${label}" among ${JSON.stringify(all.map((c) => c.label))}`);
    return found;
  }
  choices(): Choice[] {
    return this.last.flatMap((r) => r.choices ?? []);
  }
  tap(label: string): Promise<Reply[]> {
    return this.send({ kind: 'action', data: this.choice(label).data });
  }
  texts(): string[] {
    return this.last.map((r) => r.text ?? '');
  }
  card(): Extract<Reply, { kind: 'card' }> {
    const card = this.last.find((r) => r.kind === 'card');
    if (!card || card.kind !== 'card') throw new Error(`no card in ${JSON.stringify(this.last)}`);
    return card;
  }
  field(label: string): string | undefined {
    return this.card().fields.find((f) => f.label === label)?.value;
  }
}

/** Menu → in person → all screening questions → 12/8 → 9:30 → agree: the name is asked. */
async function upToName(chat: Chat): Promise<void> {
  await chat.follow();
  await chat.tap(ja.menu.book);
  await chat.tap(ja.booking.mode.in_person);
  for (let i = 0; i < 10 && !chat.choices().some((c) => c.label.startsWith('12/8')); i++) await chat.tap(ja.booking.answer.yes);
  await chat.tap('12/8');
  await chat.tap('9:30');
  await chat.tap(ja.booking.agree);
  expect(chat.texts()).toEqual([ja.booking.namePrompt]);
}

describe('GET /', () => {
  it('serves the chat page with a strict Content-Security-Policy', async () => {
    const app = await start();
    const res = await fetch(`${app.url}/`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await res.text();
    expect(html).toMatch(/^<!doctype html>/i);
    expect(html).toContain('/webchat/messages');

    const csp = res.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("default-src 'self'");
    expect(csp).not.toContain('unsafe-inline');
    expect(csp).toContain("frame-ancestors 'none'");
    // The page's own inline script and style are allowed by hash, so the page still works.
    for (const tag of ['script', 'style']) {
      const body = html.match(new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`))?.[1];
      expect(body, tag).toBeDefined();
      expect(csp).toContain(`'sha256-${createHash('sha256').update(body ?? '').digest('base64')}'`);
    }
    // No external resources: everything the page needs is in it.
    expect(html).not.toMatch(/\b(src|href)=["']?(https?:)?\/\//i);
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
  });

  it('is not served when WEBCHAT_ENABLED=false, and neither is the API', async () => {
    const app = await start({ WEBCHAT_ENABLED: 'false' });
    expect((await fetch(`${app.url}/`)).status).toBe(404);
    const res = await post(app, { conversationId: randomUUID(), input: { kind: 'follow' } });
    expect(res.status).toBe(404);
    expect((await fetch(`${app.url}/healthz`)).status).toBe(200);
  });
});

describe('health', () => {
  it('GET /healthz answers ok', async () => {
    const app = await start();
    const res = await fetch(`${app.url}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok' });
  });

  it('GET /readyz names the memory store', async () => {
    const app = await start({}, { store: createMemoryStore() });
    const res = await fetch(`${app.url}/readyz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok', store: 'memory', staffChannel: 'unregistered', contactCenterChannel: 'unregistered', notifiers: { teams: 'ok' } });
  });
});

describe('POST /webchat/messages', () => {
  it('answers a follow with the greeting and the menu', async () => {
    const app = await start();
    const chat = new Chat(app);
    const replies = await chat.follow();
    expect(replies[0]).toEqual({ kind: 'text', text: ja.greeting });
    expect(chat.choices().map((c) => c.label)).toEqual([ja.menu.book, ja.menu.my, ja.menu.ask, ja.menu.human, ja.menu.language, ja.menu.help]);
    for (const c of chat.choices()) expect(() => JSON.parse(c.data)).not.toThrow();
  });

  it("carries the conversation's language, which a change in the chat moves, and marks each language button with its own", async () => {
    const app = await start();
    const conversationId = randomUUID();
    type Answer = { replies: Reply[]; locale?: string };
    const turn = async (input: unknown): Promise<Answer> => {
      // The page's language stays Korean: it only starts a conversation.
      const res = await post(app, { conversationId, messageId: randomUUID(), locale: 'ko', input });
      expect(res.status).toBe(200);
      return (await res.json()) as Answer;
    };
    const choicesOf = (answer: Answer) => answer.replies.flatMap((r) => (r.choices ?? []) as (Choice & { lang?: string })[]);
    const first = await turn({ kind: 'follow' });
    expect(first.locale).toBe('ko');
    expect(choicesOf(first).every((c) => c.lang === undefined)).toBe(true);
    const menu = choicesOf(first).find((c) => c.label === translator('ko')('menu.language'))!;
    const languages = choicesOf(await turn({ kind: 'action', data: menu.data }));
    expect(languages.map((c) => [c.label, c.lang])).toEqual(LOCALES.map((l) => [translator(l)('language.name'), l]));
    const changed = await turn({ kind: 'action', data: languages.find((c) => c.lang === 'vi')!.data });
    expect(changed.locale).toBe('vi');
    expect(changed.replies[0]).toEqual({ kind: 'text', text: translator('vi')('languageChanged') });
    expect((await turn({ kind: 'follow' })).locale).toBe('vi');
  });

  it('rejects malformed requests with 400 and keeps serving', async () => {
    const app = await start();
    const conversationId = randomUUID();
    const secret = 'ないしょの文字列0901234';
    const bad: [string, string | object][] = [
      ['bad JSON', '{"conversationId": '],
      ['not an object', '"hello"'],
      ['empty body', ''],
      ['missing conversationId', { input: { kind: 'follow' } }],
      ['short conversationId', { conversationId: 'abc', input: { kind: 'follow' } }],
      ['conversationId with odd characters', { conversationId: '../../etc/passwd/xxxxxxxx', input: { kind: 'follow' } }],
      ['missing input', { conversationId }],
      ['unknown input kind', { conversationId, input: { kind: 'image' } }],
      ['empty text', { conversationId, input: { kind: 'text', text: '' } }],
      ['oversized text', { conversationId, input: { kind: 'text', text: `${secret}${'あ'.repeat(2001)}` } }],
      ['oversized action data', { conversationId, input: { kind: 'action', data: 'x'.repeat(301) } }],
      ['bad messageId', { conversationId, messageId: 'a b', input: { kind: 'follow' } }],
      ['unknown locale', { conversationId, locale: 'fr', input: { kind: 'follow' } }],
    ];
    for (const [name, body] of bad) {
      const res = await post(app, body);
      expect(res.status, name).toBe(400);
      expect(await res.json(), name).toEqual({ error: 'malformed payload' });
    }

    // Larger than the body limit: refused before it is parsed.
    const huge = await post(app, { conversationId, input: { kind: 'text', text: 'x'.repeat(20_000) } });
    expect(huge.status).toBe(413);
    // Not JSON at all: a cross-site form post cannot drive a conversation.
    const form = await post(app, 'conversationId=x', 'application/x-www-form-urlencoded');
    expect(form.status).toBe(415);
    const plain = await post(app, JSON.stringify({ conversationId, input: { kind: 'follow' } }), 'text/plain');
    expect(plain.status).toBe(415);

    // Still alive, and the conversation starts normally.
    expect((await fetch(`${app.url}/healthz`)).status).toBe(200);
    const chat = new Chat(app);
    expect((await chat.follow())[0]?.text).toBe(ja.greeting);
    // What was typed never reaches the log.
    expect(app.logs.join('')).not.toContain(secret);
    expect(app.logs.some((l) => l.includes('webchat.malformed_payload'))).toBe(true);
  });

  it('runs a repeated messageId only once', async () => {
    const app = await start();
    const chat = new Chat(app);
    await chat.follow();
    const book = chat.choice(ja.menu.book).data;
    const messageId = randomUUID();

    const first = await chat.send({ kind: 'action', data: book }, messageId);
    expect(first.at(-1)?.text).toBe(ja.booking.modePrompt);
    const again = await chat.send({ kind: 'action', data: book }, messageId);
    expect(again).toEqual([]);

    // The conversation did not move: the mode question is still the current one.
    const help = await chat.type(ja.menu.help);
    expect(help.at(-1)?.text).toBe(ja.booking.modePrompt);
  });

  it('books a consultation from the menu to a reference, which "my bookings" then lists', async () => {
    const app = await start();
    const chat = new Chat(app);
    await upToName(chat);
    await chat.type('川崎 太郎');
    expect(chat.texts()).toEqual([ja.booking.phonePrompt]);
    await chat.type('090-1234-5678');
    expect(chat.texts()).toEqual([ja.booking.emailPrompt]);
    await chat.type('taro@example.jp');

    expect(chat.card().title).toBe(ja.booking.summaryTitle);
    expect(chat.field(ja.booking.field.date)).toBe('12月8日(火)');
    expect(chat.field(ja.booking.field.time)).toBe('9:30');
    expect(chat.field(ja.booking.field.mode)).toBe(ja.booking.mode.in_person);

    await chat.tap(ja.booking.confirm);
    const done = chat.card();
    expect(done.title).toBe(ja.booking.confirmedTitle);
    const reference = chat.field(ja.booking.field.reference) ?? '';
    expect(isReference(reference), reference).toBe(true);
    expect(done.text).toContain(reference);
    // Back at the menu.
    expect(chat.choices().map((c) => c.label)).toContain(ja.menu.my);

    const stored = await app.app.store.bookings.listSession(SESSION_ID);
    expect(stored.map((b) => [b.id, b.slotId, b.contact.name])).toEqual([[reference, '0930', '川崎 太郎']]);

    await chat.tap(ja.menu.my);
    expect(chat.texts()).toEqual([ja.my.listPrompt]);
    await chat.tap('12/8(火) 9:30');
    expect(chat.field(ja.booking.field.reference)).toBe(reference);

    // Personal data stays out of the log.
    const logs = app.logs.join('');
    for (const secret of ['川崎 太郎', '090-1234-5678', '09012345678', 'taro@example.jp']) expect(logs).not.toContain(secret);
  });

  it('re-asks an invalid phone number with the reason, keeping the name', async () => {
    const app = await start();
    const chat = new Chat(app);
    await upToName(chat);
    await chat.type('川崎 花子');

    await chat.type('12345');
    expect(chat.texts()).toEqual([ja.contact.invalid.phoneShape, ja.booking.phonePrompt]);
    await chat.type('090-1234-5678');
    // The next question is the email, not the name again.
    expect(chat.texts()).toEqual([ja.booking.emailPrompt]);
    await chat.type('hanako@example.jp');
    expect(chat.field(ja.booking.field.name)).toBe('川崎 花子');
    expect(chat.field(ja.booking.field.phone)).toBe('090-1234-5678');
  });

  it('accepts a phone number typed in full-width digits and hyphens, shown normalised', async () => {
    const app = await start();
    const chat = new Chat(app);
    await upToName(chat);
    await chat.type('川崎 次郎');
    await chat.type('０９０－１２３４－５６７８');
    expect(chat.texts()).toEqual([ja.booking.emailPrompt]);
    await chat.type('jiro@example.jp');
    expect(chat.field(ja.booking.field.phone)).toBe('090-1234-5678');

    await chat.tap(ja.booking.confirm);
    const [booking] = await app.app.store.bookings.listSession(SESSION_ID);
    expect(booking?.contact.phone).toBe('09012345678');
  });

  it('answers 503 with the apology when the turn cannot run, and the same message can be retried', async () => {
    const memory = createMemoryStore();
    let down = false;
    const store = {
      ...memory,
      conversations: {
        ...memory.conversations,
        load: (key: string) => (down ? Promise.reject(new Error('store down')) : memory.conversations.load(key)),
      },
    };
    const app = await start({}, { store });
    const chat = new Chat(app);
    await chat.follow();
    const body = { conversationId: chat.conversationId, messageId: randomUUID(), locale: 'ja', input: { kind: 'action', data: chat.choice(ja.menu.book).data } };

    down = true;
    const failed = await post(app, body);
    expect(failed.status).toBe(503);
    expect(await failed.json()).toEqual({ replies: [{ kind: 'text', text: ja.unavailable }] });

    down = false;
    const retried = await post(app, body);
    expect(retried.status).toBe(200);
    const { replies } = (await retried.json()) as { replies: Reply[] };
    expect(replies.at(-1)?.text).toBe(ja.booking.modePrompt);
  });
});
