/**
 * Abuse limits over real HTTP with a real Redis (the counts live there): a burst of LINE
 * messages from one user beyond the limit, web chat turns and new conversations from one
 * address. Limited turns get the polite slow-down in the user's language and store nothing.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import en from '../../locales/en.json' with { type: 'json' };
import ja from '../../locales/ja.json' with { type: 'json' };
import type { Reply } from '../../src/turn.ts';
import { fakeClock, type RunningApp, startApp } from '../support/app.ts';
import { eventFactory, type LineStub, lineUserId, NOW_ISO, postWebhook, startLineStub, textOf } from '../support/lineStub.ts';

const SECRET = 'limits-secret-0123456789abcdef';
const clock = fakeClock(NOW_ISO);
const ev = eventFactory(clock.now);

let stub: LineStub;
let running: RunningApp | undefined;

beforeAll(async () => {
  stub = await startLineStub();
});
afterAll(async () => {
  await stub.close();
});
afterEach(async () => {
  await running?.close();
  running = undefined;
  stub.reset();
});

/** A Redis key prefix of its own, so the counts start from zero. */
function redisEnv(extra: Record<string, string>): Record<string, string> {
  return { REDIS_URL: inject('redisUrl'), REDIS_PREFIX: `test:${randomUUID().replace(/-/g, '').slice(0, 20)}:`, ...extra };
}

describe('LINE: turns per user', () => {
  it('answers a burst beyond the limit with the slow-down and stores nothing of those turns', async () => {
    running = await startApp(
      redisEnv({ LINE_CHANNEL_SECRET: SECRET, LINE_CHANNEL_ACCESS_TOKEN: 'test-token', LINE_API_BASE_URL: stub.url, LINE_TURNS_PER_MINUTE: '5' }),
      { now: clock.now },
    );
    const user = lineUserId();
    const other = lineUserId();
    const burst = Array.from({ length: 12 }, (_, i) => ev.text(user, `メニュー ${i}`));
    const neighbour = ev.text(other, 'メニュー');
    const res = await postWebhook(running.url, [...burst, neighbour], SECRET);
    expect(res.status).toBe(200);
    await stub.waitFor(() => stub.sent().filter((c) => c.status === 200).length === burst.length + 1);

    const answerOf = (token?: string) => textOf(stub.sent().find((c) => c.replyToken === token)!);
    const limited = burst.filter((e) => answerOf(e.replyToken) === ja.limit.slowDown);
    expect(limited).toEqual(burst.slice(5));
    // Another user is not held back by this one.
    expect(answerOf(neighbour.replyToken)).not.toBe(ja.limit.slowDown);
    const stored = await running.app.store.conversations.load(`line:${user}`);
    const events = (stored?.state as { events?: string[] }).events ?? [];
    expect(events).toEqual(burst.slice(0, 5).map((e) => `line:${e.webhookEventId}`));
    expect(running.logs.join('\n')).not.toContain(user);

    // A minute after the first turn of the window, the user is answered again.
    clock.advance(60_000);
    const later = ev.text(user, 'メニュー');
    await postWebhook(running.url, [later], SECRET);
    await stub.waitFor(() => stub.sent().some((c) => c.replyToken === later.replyToken));
    expect(answerOf(later.replyToken)).not.toBe(ja.limit.slowDown);
  });
});

/** Posts one web chat turn; the status and the replies. */
async function chat(conversationId: string, input: unknown, locale: 'ja' | 'en' = 'ja'): Promise<{ status: number; replies: Reply[] }> {
  const res = await fetch(`${running!.url}/webchat/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ conversationId, messageId: randomUUID(), locale, input }),
  });
  return { status: res.status, replies: ((await res.json()) as { replies: Reply[] }).replies };
}

describe('web chat: per conversation and per address', () => {
  it('caps new conversations from one address per hour; the ones it has go on', async () => {
    running = await startApp(redisEnv({ WEBCHAT_NEW_CONVERSATIONS_PER_HOUR: '3' }), { now: clock.now });
    const ids = Array.from({ length: 5 }, () => randomUUID());
    const first = await Promise.all(ids.map((id) => chat(id, { kind: 'follow' }, 'en')));
    expect(first.map((r) => r.status).sort()).toEqual([200, 200, 200, 429, 429]);
    for (const [i, r] of first.entries()) {
      const stored = await running.app.store.conversations.load(`web:${ids[i]}`);
      if (r.status === 429) {
        expect(r.replies.map((x) => x.kind === 'text' && x.text)).toEqual([en.limit.slowDown]);
        expect(stored).toBeNull();
      } else {
        expect(stored).not.toBeNull();
      }
    }
    const kept = ids[first.findIndex((r) => r.status === 200)]!;
    expect((await chat(kept, { kind: 'text', text: 'menu' })).status).toBe(200);
  });

  it('caps turns per conversation and per address, in the conversation\'s language', async () => {
    running = await startApp(redisEnv({ WEBCHAT_TURNS_PER_MINUTE: '3', WEBCHAT_ADDRESS_TURNS_PER_MINUTE: '5' }), { now: clock.now });
    const one = randomUUID();
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await chat(one, { kind: 'text', text: 'menu' }, i === 0 ? 'en' : 'ja')).status);
    expect(statuses).toEqual([200, 200, 200, 429]);
    const limited = await chat(one, { kind: 'text', text: 'menu' }, 'ja');
    // The stored conversation speaks English: the slow-down does too.
    expect(limited.replies.map((x) => x.kind === 'text' && x.text)).toEqual([en.limit.slowDown]);
    const two = randomUUID();
    // The address has had 5 turns this minute: a fresh conversation from it waits too.
    expect((await chat(two, { kind: 'follow' })).status).toBe(429);
    expect(await running.app.store.conversations.load(`web:${two}`)).toBeNull();
  });
});
