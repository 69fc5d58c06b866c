/**
 * LineApiClient (the LINE calls of a turn over a keep-alive pool) against the LINE API stub:
 * the SDK's request and answer shapes, its `HTTPFetchError` for a refused call, the retry
 * key, a network failure's code, and kept-alive connections reused for calls one after another.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { HTTPFetchError } from '@line/bot-sdk';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LineApiClient } from '../../../src/channels/line/client.ts';
import { freePort } from '../../support/redisServer.ts';
import { type LineStub, lineUserId, startLineStub } from '../../support/lineStub.ts';

let stub: LineStub;
beforeEach(async () => {
  stub = await startLineStub();
});
afterEach(() => stub.close());

const client = () => new LineApiClient({ channelAccessToken: 'test-token', baseURL: stub.url });

describe('LineApiClient', () => {
  it('replies with the token and the messages, as the SDK sends them', async () => {
    await expect(client().replyMessage({ replyToken: 'tok-1', messages: [{ type: 'text', text: 'hello' }] })).resolves.toEqual({});
    const [call] = stub.calls;
    expect(call).toMatchObject({ method: 'POST', path: '/v2/bot/message/reply', body: { replyToken: 'tok-1', messages: [{ type: 'text', text: 'hello' }] } });
    expect(call!.headers.authorization).toBe('Bearer test-token');
    expect(call!.headers['content-type']).toBe('application/json');
  });

  it("rejects a refused call with the SDK's HTTPFetchError: status, headers and body", async () => {
    stub.failNextReplies(1);
    const err = await client().replyMessage({ replyToken: 'used', messages: [{ type: 'text', text: 'x' }] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HTTPFetchError);
    const e = err as HTTPFetchError;
    expect(e.status).toBe(400);
    expect(e.statusText).toBe('Bad Request');
    expect(e.message).toBe('400 - Bad Request');
    expect(e.headers.get('content-type')).toContain('application/json');
    expect(JSON.parse(e.body)).toEqual({ message: 'Invalid reply token' });
  });

  it('pushes with X-Line-Retry-Key; the same key again is a 409', async () => {
    const key = '123e4567-e89b-42d3-a456-426614174000';
    const to = lineUserId();
    await client().pushMessage({ to, messages: [{ type: 'text', text: 'once' }] }, key);
    const again = await client().pushMessage({ to, messages: [{ type: 'text', text: 'once' }] }, key).catch((e: unknown) => e);
    expect(again).toBeInstanceOf(HTTPFetchError);
    expect((again as HTTPFetchError).status).toBe(409);
    expect(stub.sent().map((s) => [s.retryKey, s.status])).toEqual([
      [key, 200],
      [key, 409],
    ]);
  });

  it('reads answers: profile, rich menu alias; the path parts are encoded', async () => {
    const user = lineUserId();
    stub.setProfile(user, { language: 'en' });
    await expect(client().getProfile(user)).resolves.toMatchObject({ userId: user, language: 'en' });
    const err = await client().getRichMenuAlias('richmenu-ja').catch((e: unknown) => e);
    expect((err as HTTPFetchError).status).toBe(404);
    await client().showLoadingAnimation({ chatId: user, loadingSeconds: 20 });
    expect(stub.calls.map((c) => `${c.method} ${c.path} ${c.status}`)).toEqual([
      `GET /v2/bot/profile/${user} 200`,
      'GET /v2/bot/richmenu/alias/richmenu-ja 404',
      'POST /v2/bot/chat/loading/start 202',
    ]);
  });

  it('rejects a network failure with its code', async () => {
    const port = await freePort();
    const err = await new LineApiClient({ channelAccessToken: 't', baseURL: `http://127.0.0.1:${port}` }).replyMessage({ replyToken: 'x', messages: [] }).catch((e: unknown) => e);
    expect(err).not.toBeInstanceOf(HTTPFetchError);
    expect((err as { code?: string }).code).toBe('ECONNREFUSED');
  });

  it('sends calls one after another over kept-alive connections, not one each', async () => {
    let connections = 0;
    const server = createServer((req, res) => {
      req.resume();
      req.on('end', () => res.writeHead(200, { 'content-type': 'application/json', 'content-length': 2 }).end('{}'));
    });
    server.on('connection', () => connections++);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const c = new LineApiClient({ channelAccessToken: 't', baseURL: `http://127.0.0.1:${(server.address() as AddressInfo).port}` });
      for (let i = 0; i < 20; i++) await c.replyMessage({ replyToken: `t${i}`, messages: [{ type: 'text', text: 'x' }] });
      // A socket is free again a moment after its answer was read: the next call may open a second one.
      expect(connections).toBeLessThanOrEqual(2);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
