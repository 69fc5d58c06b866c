/**
 * LINE's loading animation, over real HTTP against the LINE stub: a turn still running after
 * the threshold starts it in the user's chat; a fast turn makes no call for it; a failed call
 * is logged and costs the turn nothing; group and room chats never get it.
 *
 * The slow turn is a new conversation whose LINE profile is slow to come (the stub's delay).
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import ja from '../../../locales/ja.json' with { type: 'json' };
import { fakeClock, type RunningApp, startApp } from '../../support/app.ts';
import { eventFactory, type LineEvent, type LineStub, lineUserId, NOW_ISO, postWebhook, startLineStub, textOf } from '../../support/lineStub.ts';

const SECRET = 'test-channel-secret-0123456789abcdef';
/** The threshold in these tests, and how slow the slow profile is. */
const LOADING_AFTER_MS = 300;
const SLOW_PROFILE_MS = 900;
const clock = fakeClock(NOW_ISO);
const ev = eventFactory(clock.now);

let stub: LineStub;
let running: RunningApp;

const loadingCalls = () => stub.calls.filter((c) => c.path === '/v2/bot/chat/loading/start');

async function send(...events: LineEvent[]): Promise<void> {
  expect((await postWebhook(running.url, events, SECRET)).status).toBe(200);
  await stub.waitFor(() => events.every((e) => stub.sent().some((c) => c.replyToken === e.replyToken && c.status === 200)));
}

beforeAll(async () => {
  stub = await startLineStub();
  running = await startApp(
    { LINE_CHANNEL_SECRET: SECRET, LINE_CHANNEL_ACCESS_TOKEN: 'test-token', LINE_API_BASE_URL: stub.url, LINE_LOADING_AFTER_MS: String(LOADING_AFTER_MS) },
    { now: clock.now, lineRetryDelayMs: 5, lineSweepEveryMs: 3_600_000, lineProfileTimeoutMs: 2_000 },
  );
});
afterAll(async () => {
  await running?.close();
  await stub?.close();
});
beforeEach(() => {
  stub.reset();
});

describe('the loading animation', () => {
  it('starts for a turn still running after the threshold, in that user chat, before the answer', async () => {
    const user = lineUserId();
    stub.setProfile(user, { language: 'en' });
    stub.delay('/v2/bot/profile/', SLOW_PROFILE_MS);
    const follow = ev.follow(user);
    await send(follow);
    const [loading] = loadingCalls();
    expect(loading?.body).toEqual({ chatId: user, loadingSeconds: 20 });
    expect(loading?.status).toBe(202);
    expect(loading?.headers.authorization).toBe('Bearer test-token');
    const order = stub.calls.map((c) => c.path);
    expect(order.indexOf('/v2/bot/chat/loading/start')).toBeLessThan(order.indexOf('/v2/bot/message/reply'));
    expect(loadingCalls()).toHaveLength(1);
  });

  it('makes no call for a fast turn', async () => {
    const user = lineUserId();
    await send(ev.follow(user));
    stub.reset();
    const book = ev.text(user, '予約する');
    await send(book);
    // Past the threshold: a timer left running would have called by now.
    await new Promise((r) => setTimeout(r, LOADING_AFTER_MS + 200));
    expect(loadingCalls()).toHaveLength(0);
    // A known conversation: no profile to wait for either.
    expect(stub.calls.filter((c) => c.path.startsWith('/v2/bot/profile/'))).toHaveLength(0);
  });

  it('logs a failed call without the user, and answers all the same', async () => {
    const user = lineUserId();
    stub.delay('/v2/bot/profile/', SLOW_PROFILE_MS);
    stub.failNext('/v2/bot/chat/loading/start', 1, 500);
    const follow = ev.follow(user);
    await send(follow);
    expect(loadingCalls().map((c) => c.status)).toEqual([500]);
    expect(textOf(stub.sent().find((c) => c.replyToken === follow.replyToken)!)).toContain(ja.greeting);
    const failed = running.logs.filter((l) => l.includes('line.loading_failed'));
    expect(failed).toHaveLength(1);
    expect(JSON.parse(failed[0]!)).toMatchObject({ status: 500 });
    expect(running.logs.join('\n')).not.toContain(user);
  });

  it('never starts in a group or a room, where no turn runs', async () => {
    const member = lineUserId();
    stub.delay('/v2/bot/profile/', SLOW_PROFILE_MS);
    const inGroup = { ...ev.text(member, '予約する'), source: { type: 'group', groupId: 'Cstaffgroup', userId: member } };
    const inRoom = { ...ev.text(member, '予約する'), source: { type: 'room', roomId: 'Rroom', userId: member } };
    expect((await postWebhook(running.url, [inGroup, inRoom] as unknown as LineEvent[], SECRET)).status).toBe(200);
    await new Promise((r) => setTimeout(r, LOADING_AFTER_MS + 200));
    expect(stub.calls).toHaveLength(0);
  });
});
