/**
 * The language of a LINE conversation outside its replies, over real HTTP against the LINE
 * stub: a new conversation starts in the language of the user's LINE profile (asked once, and
 * only for a new conversation), and the user is linked to the rich menu of the conversation's
 * language when it is set or changes.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import en from '../../../locales/en.json' with { type: 'json' };
import ja from '../../../locales/ja.json' with { type: 'json' };
import zh from '../../../locales/zh.json' with { type: 'json' };
import { LOCALES, type Locale } from '../../../src/domain.ts';
import { fakeClock, type RunningApp, startApp } from '../../support/app.ts';
import { eventFactory, type LineEvent, type LineStub, lineUserId, NOW_ISO, postWebhook, startLineStub, textOf } from '../../support/lineStub.ts';

const SECRET = 'test-channel-secret-0123456789abcdef';
const clock = fakeClock(NOW_ISO);
const ev = eventFactory(clock.now);
/** A 1×1 PNG: the stub wants an image before a menu can be linked. */
const PIXEL = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgYGD4DwABBAEAwS2OUAAAAABJRU5ErkJggg==', 'base64');

let stub: LineStub;

function lineEnv(extra: Record<string, string> = {}): Record<string, string> {
  return { LINE_CHANNEL_SECRET: SECRET, LINE_CHANNEL_ACCESS_TOKEN: 'test-token', LINE_API_BASE_URL: stub.url, ...extra };
}

async function api(method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<Record<string, string>> {
  const res = await fetch(`${stub.url}${path}`, {
    method,
    headers: { 'content-type': contentType },
    ...(body === undefined ? {} : { body: Buffer.isBuffer(body) ? new Uint8Array(body) : JSON.stringify(body) }),
  });
  expect(res.status, `${method} ${path}`).toBe(200);
  return (await res.json()) as Record<string, string>;
}

/** A rich menu per language with its alias, as `npm run line:richmenu` leaves them (without drawing images). */
async function seedRichMenus(): Promise<Record<Locale, string>> {
  const ids = {} as Record<Locale, string>;
  for (const locale of LOCALES) {
    const { richMenuId } = await api('POST', '/v2/bot/richmenu', {
      size: { width: 2500, height: 843 },
      selected: true,
      name: `kawasaki-city-bot:${locale}`,
      chatBarText: 'Menu',
      areas: [{ bounds: { x: 0, y: 0, width: 2500, height: 843 }, action: { type: 'postback', data: '{"a":"menu"}' } }],
    });
    await api('POST', `/v2/bot/richmenu/${richMenuId}/content`, PIXEL, 'image/png');
    await api('POST', '/v2/bot/richmenu/alias', { richMenuAliasId: `richmenu-${locale}`, richMenuId });
    ids[locale] = richMenuId!;
  }
  return ids;
}

/** Posts the events and waits until each got its reply. */
async function send(running: RunningApp, ...events: LineEvent[]): Promise<void> {
  expect((await postWebhook(running.url, events, SECRET)).status).toBe(200);
  await stub.waitFor(() => events.every((e) => stub.sent().some((c) => c.replyToken === e.replyToken && c.status === 200)));
}

function replyText(event: LineEvent): string {
  return textOf(stub.sent().find((c) => c.replyToken === event.replyToken)!);
}

const profileCalls = (user: string) => stub.calls.filter((c) => c.path === `/v2/bot/profile/${user}`);
const linkCalls = (user: string) => stub.calls.filter((c) => c.method === 'POST' && c.path.startsWith(`/v2/bot/user/${user}/richmenu/`));

beforeAll(async () => {
  stub = await startLineStub();
});
afterAll(async () => {
  await stub?.close();
});

describe('a new conversation starts in the language of the LINE profile', () => {
  let running: RunningApp;
  beforeAll(async () => {
    running = await startApp(lineEnv(), { now: clock.now, lineRetryDelayMs: 5, lineSweepEveryMs: 3_600_000, lineProfileTimeoutMs: 300 });
  });
  afterAll(async () => {
    await running?.close();
  });
  beforeEach(() => {
    stub.reset();
  });

  it('greets a user whose profile says en in English, and asks for the profile only once', async () => {
    const user = lineUserId();
    stub.setProfile(user, { language: 'en' });
    const follow = ev.follow(user);
    await send(running, follow);
    expect(replyText(follow)).toContain(en.greeting);
    expect(replyText(follow)).not.toContain(ja.greeting);
    const book = ev.text(user, en.menu.book);
    await send(running, book);
    expect(replyText(book)).toContain(en.booking.modePrompt);
    expect(profileCalls(user)).toHaveLength(1);
    expect(profileCalls(user)[0]!.headers.authorization).toBe('Bearer test-token');
  });

  it('maps the profile tags to the languages the bot speaks; anything else is Japanese', async () => {
    const cases: [string | undefined, string][] = [
      ['zh-Hans', zh.greeting],
      ['zh-Hant', zh.greeting],
      ['ja', ja.greeting],
      ['fr', ja.greeting],
      [undefined, ja.greeting],
    ];
    for (const [language, greeting] of cases) {
      const user = lineUserId();
      stub.setProfile(user, language === undefined ? {} : { language });
      const follow = ev.follow(user);
      await send(running, follow);
      expect(replyText(follow), String(language)).toContain(greeting);
    }
  });

  it('starts in Japanese when the profile fails or is slower than the timeout, and answers all the same', async () => {
    const failing = lineUserId();
    stub.setProfile(failing, { language: 'en' });
    stub.failNext('/v2/bot/profile/', 1, 500);
    const first = ev.follow(failing);
    await send(running, first);
    expect(replyText(first)).toContain(ja.greeting);

    const slow = lineUserId();
    stub.setProfile(slow, { language: 'en' });
    stub.delay('/v2/bot/profile/', 800);
    const second = ev.follow(slow);
    await send(running, second);
    expect(replyText(second)).toContain(ja.greeting);
    const logs = running.logs.filter((l) => l.includes('line.profile_failed'));
    expect(logs).toHaveLength(2);
    for (const l of logs) {
      expect(l).not.toContain(failing);
      expect(l).not.toContain(slow);
    }
  });

  it('never asks for the profile of a conversation it already has, and keeps its language', async () => {
    const user = lineUserId();
    const first = ev.text(user, '予約する');
    await send(running, first);
    expect(profileCalls(user)).toHaveLength(1);
    // The user switches LINE to English later: the conversation stays as it is.
    stub.setProfile(user, { language: 'en' });
    const next = ev.text(user, 'メニュー');
    await send(running, next);
    expect(replyText(next)).toContain(ja.menu.prompt);
    expect(profileCalls(user)).toHaveLength(1);
  });
});

describe('the rich menu follows the conversation language', () => {
  let running: RunningApp;
  beforeAll(async () => {
    stub.reset();
    running = await startApp(lineEnv(), { now: clock.now, lineRetryDelayMs: 5, lineSweepEveryMs: 3_600_000 });
  });
  afterAll(async () => {
    await running?.close();
  });

  it('links no one, and says so once, while no menus are set up', async () => {
    const users = [lineUserId(), lineUserId()];
    for (const user of users) await send(running, ev.follow(user));
    await stub.waitFor((calls) => calls.filter((c) => c.path === '/v2/bot/richmenu/alias/richmenu-ja').length >= 1);
    await new Promise((r) => setTimeout(r, 100));
    for (const user of users) expect(linkCalls(user)).toHaveLength(0);
    // The missing alias is remembered: the second user's turn did not ask again.
    expect(stub.calls.filter((c) => c.path.startsWith('/v2/bot/richmenu/alias/'))).toHaveLength(1);
    expect(running.logs.filter((l) => l.includes('line.richmenu_not_set_up'))).toHaveLength(1);
  });

  it("links a new user to their language's menu, and again only when the language changes", async () => {
    // The check for missing menus is redone after 10 minutes.
    clock.advance(11 * 60_000);
    const ids = await seedRichMenus();
    const user = lineUserId();
    stub.setProfile(user, { language: 'en' });
    await send(running, ev.follow(user));
    await stub.waitFor(() => stub.linkedRichMenu(user) !== undefined);
    expect(stub.linkedRichMenu(user)).toBe(ids.en);

    // A turn that leaves the language as it is links nothing.
    await send(running, ev.text(user, en.menu.book));
    // The language command, then a language button.
    await send(running, ev.postback(user, { a: 'language' }));
    const setKo = ev.postback(user, { a: 'setLanguage', v: 'ko' });
    await send(running, setKo);
    await stub.waitFor(() => stub.linkedRichMenu(user) === ids.ko);
    await send(running, ev.text(user, 'menu'));
    await new Promise((r) => setTimeout(r, 100));
    expect(linkCalls(user).map((c) => c.path)).toEqual([`/v2/bot/user/${user}/richmenu/${ids.en}`, `/v2/bot/user/${user}/richmenu/${ids.ko}`]);
    // Each alias was read once.
    expect(stub.calls.filter((c) => c.path === '/v2/bot/richmenu/alias/richmenu-ko')).toHaveLength(1);
    expect(running.logs.join('\n')).not.toContain(user);
  });

  it('follows the aliases to new menus after the setup was run again', async () => {
    // The English menu's id is known from the test before; a re-run replaces that menu.
    const old = (await api('GET', '/v2/bot/richmenu/alias/richmenu-en')).richMenuId!;
    const { richMenuId } = await api('POST', '/v2/bot/richmenu', {
      size: { width: 2500, height: 843 },
      selected: true,
      name: 'kawasaki-city-bot:en',
      chatBarText: 'Menu',
      areas: [{ bounds: { x: 0, y: 0, width: 2500, height: 843 }, action: { type: 'postback', data: '{"a":"menu"}' } }],
    });
    await api('POST', `/v2/bot/richmenu/${richMenuId}/content`, PIXEL, 'image/png');
    await api('POST', '/v2/bot/richmenu/alias/richmenu-en', { richMenuId });
    await api('DELETE', `/v2/bot/richmenu/${old}`);

    const user = lineUserId();
    stub.setProfile(user, { language: 'zh' });
    await send(running, ev.follow(user));
    await stub.waitFor(() => stub.linkedRichMenu(user) !== undefined);
    await send(running, ev.postback(user, { a: 'setLanguage', v: 'en' }));
    await stub.waitFor(() => stub.linkedRichMenu(user) === richMenuId);
    // The link to the deleted menu was refused; the alias was read again.
    expect(linkCalls(user).map((c) => c.status)).toEqual([200, 404, 200]);
    expect(running.logs.some((l) => l.includes('line.richmenu_link_failed'))).toBe(false);
  });
});
