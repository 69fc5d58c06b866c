/**
 * The bot on a real 3-master Redis Cluster (started once for this file): the configuration of
 * the three Redis deployments, the production persistence check on every node, and a booking
 * rush through the LINE webhook whose store, limits and job queue all run on the Cluster. The
 * store contract suites run on the Cluster too (the `redis+cluster+sealed` store of
 * `test/support/stores.ts`).
 */
import { randomUUID } from 'node:crypto';
import { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import ja from '../../locales/ja.json' with { type: 'json' };
import { createApp } from '../../src/app.ts';
import { ConfigError, loadConfig } from '../../src/config.ts';
import { createLogger } from '../../src/log.ts';
import { fakeClock, type RunningApp, startApp } from '../support/app.ts';
import {
  eventFactory,
  eventsToTimeStep,
  type LineEvent,
  type LineStub,
  lineUserId,
  NOW_ISO,
  postWebhook,
  REFERENCE,
  SESSION_ID,
  startLineStub,
  tap,
  textOf,
} from '../support/lineStub.ts';
import { clusterUnsupported, type RedisClusterServer, redisCapability, startRedisCluster } from '../support/redisCluster.ts';
import { TEST_DATA_KEY } from '../support/stores.ts';

const SECRET = 'cluster-secret-0123456789abcdef';
const USERS = 100;
const PRECAUTIONS_HEADER = 'ご予約の前にお読みください';

describe('Redis configuration', () => {
  it('takes one node, a Sentinel group or Cluster seed nodes, and only one of them', () => {
    expect(loadConfig({ REDIS_URL: 'redis://10.0.0.1:6379' }).redis).toEqual({ kind: 'single', url: 'redis://10.0.0.1:6379' });
    expect(loadConfig({ REDIS_SENTINELS: 'a:26379, b:26380,[::1]:26381', REDIS_SENTINEL_NAME: 'citybot', REDIS_PASSWORD: 'pw', REDIS_SENTINEL_PASSWORD: 'spw' }).redis).toEqual({
      kind: 'sentinel',
      sentinels: [{ host: 'a', port: 26379 }, { host: 'b', port: 26380 }, { host: '::1', port: 26381 }],
      name: 'citybot',
      password: 'pw',
      sentinelPassword: 'spw',
    });
    expect(loadConfig({ REDIS_CLUSTER_NODES: 'n1:7000,n2:7001' }).redis).toEqual({ kind: 'cluster', nodes: [{ host: 'n1', port: 7000 }, { host: 'n2', port: 7001 }] });
    expect(loadConfig({}).redisWait).toEqual({ replicas: 0, timeoutMs: 500 });
    expect(loadConfig({ REDIS_WAIT_REPLICAS: '1', REDIS_WAIT_TIMEOUT_MS: '200' }).redisWait).toEqual({ replicas: 1, timeoutMs: 200 });

    expect(() => loadConfig({ REDIS_URL: 'redis://x:1', REDIS_CLUSTER_NODES: 'n1:7000' })).toThrow(/REDIS_URL, REDIS_CLUSTER_NODES: set only one of them/);
    expect(() => loadConfig({ REDIS_SENTINELS: 'a:26379' })).toThrow(/REDIS_SENTINEL_NAME: required with REDIS_SENTINELS/);
    expect(() => loadConfig({ REDIS_CLUSTER_NODES: 'n1' })).toThrow(/REDIS_CLUSTER_NODES: expected host:port, got "n1"/);
    expect(() => loadConfig({ REDIS_CLUSTER_NODES: 'n1:99999' })).toThrow(ConfigError);
  });

  it('lets production run on a Sentinel group or a Cluster, and on nothing less', () => {
    const production = { NODE_ENV: 'production', DATA_ENCRYPTION_KEY: TEST_DATA_KEY };
    expect(() => loadConfig(production)).toThrow(/REDIS_URL: required in production, or REDIS_SENTINELS or REDIS_CLUSTER_NODES/);
    expect(loadConfig({ ...production, REDIS_SENTINELS: 'a:26379', REDIS_SENTINEL_NAME: 'm' }).redis?.kind).toBe('sentinel');
    expect(loadConfig({ ...production, REDIS_CLUSTER_NODES: 'n1:7000' }).redis?.kind).toBe('cluster');
  });
});

describe.runIf(redisCapability('the Redis Cluster tests', clusterUnsupported()))('on a 3-master Redis Cluster', () => {
  let cluster: RedisClusterServer;
  let admin: Cluster;
  let stub: LineStub;
  const clock = fakeClock(NOW_ISO);
  const ev = eventFactory(clock.now);
  const nodes = () => cluster.nodes.map((n) => `${n.host}:${n.port}`).join(',');

  beforeAll(async () => {
    [cluster, stub] = await Promise.all([startRedisCluster(), startLineStub()]);
    admin = new Cluster(cluster.nodes);
  });
  afterAll(async () => {
    admin?.disconnect();
    await stub?.close();
    await cluster?.stop();
  });

  it('refuses a production start-up while one node keeps no append-only file', async () => {
    const start = () =>
      createApp(loadConfig({ NODE_ENV: 'production', DATA_ENCRYPTION_KEY: TEST_DATA_KEY, REDIS_CLUSTER_NODES: nodes(), REDIS_PREFIX: 'cluster-aof:' }), { log: createLogger('silent') });
    const masters = admin.nodes('master');
    try {
      // Whichever node it is.
      for (const without of masters) {
        await Promise.all(masters.map((node) => node.config('SET', 'appendonly', node === without ? 'no' : 'yes')));
        await expect(start()).rejects.toThrow(/^invalid configuration: REDIS_URL: .*appendonly/);
      }
      await Promise.all(masters.map((node) => node.config('SET', 'appendonly', 'yes')));
      const app = await start();
      expect(app.store.kind).toBe('redis');
      await app.close();
    } finally {
      await Promise.all(admin.nodes('master').map((node) => node.config('SET', 'appendonly', 'no')));
    }
  });

  describe(`${USERS} citizens, one slot, through the webhook`, () => {
    let running: RunningApp;
    const prefix = `test:${randomUUID().replace(/-/g, '')}:`;

    const replyTexts = (event: LineEvent) =>
      stub
        .sent()
        .filter((c) => c.kind === 'reply' && c.replyToken === event.replyToken && c.status === 200)
        .map((c) => textOf(c));
    const post = async (events: LineEvent[]) => expect((await postWebhook(running.url, events, SECRET)).status).toBe(200);
    const allAnswered = (events: LineEvent[]) => {
      const tokens = new Set(events.map((e) => e.replyToken));
      return stub.waitFor((calls) => {
        const seen = new Set(calls.filter((c) => c.path === '/v2/bot/message/reply' && c.status === 200).map((c) => (c.body as { replyToken?: string }).replyToken));
        return [...tokens].every((t) => seen.has(t));
      }, 30_000);
    };

    beforeAll(async () => {
      running = await startApp(
        { LINE_CHANNEL_SECRET: SECRET, LINE_CHANNEL_ACCESS_TOKEN: 'test-token', LINE_API_BASE_URL: stub.url, REDIS_CLUSTER_NODES: nodes(), REDIS_PREFIX: prefix, DATA_ENCRYPTION_KEY: TEST_DATA_KEY },
        { now: clock.now, lineRetryDelayMs: 5 },
      );
      expect(running.app.store.kind).toBe('redis');
    });
    afterAll(async () => {
      await running?.close();
    });

    it('gives the slot to exactly one, books it once, and spreads the keys over the nodes', async () => {
      const users = Array.from({ length: USERS }, () => lineUserId());
      const preludes = users.map((u) => eventsToTimeStep(ev, u));
      await Promise.all(preludes.map((events) => post(events)));
      await allAnswered(preludes.flat());

      const taps = users.map((u) => ev.postback(u, tap.time('0930')));
      await Promise.all(taps.map((event) => post([event])));
      await allAnswered(taps);
      const outcomes = taps.map((event) => replyTexts(event));
      for (const texts of outcomes) expect(texts).toHaveLength(1);
      const winners = users.filter((_, i) => outcomes[i]![0]!.includes(PRECAUTIONS_HEADER));
      expect(winners).toHaveLength(1);
      expect(outcomes.filter((texts) => texts[0]!.includes(ja.booking.taken))).toHaveLength(USERS - 1);

      const winner = winners[0]!;
      const rest = [ev.postback(winner, tap.agree()), ev.text(winner, '幸 太郎'), ev.text(winner, '044-200-2111'), ev.text(winner, 'taro@example.jp'), ev.postback(winner, tap.confirm())];
      await post(rest);
      await allAnswered(rest);
      expect(JSON.stringify(stub.sent().find((c) => c.replyToken === rest.at(-1)!.replyToken)!.messages)).toMatch(REFERENCE);
      const bookings = await running.app.store.bookings.listSession(SESSION_ID);
      expect(bookings).toHaveLength(1);
      expect(bookings[0]).toMatchObject({ slotId: '0930', userKey: `line:${winner}` });
      // My bookings finds it through the lookup over every session (one command per slot).
      const my = ev.text(winner, '予約の確認');
      await post([my]);
      await allAnswered([my]);
      expect(replyTexts(my).join('\n')).toContain(ja.my.listPrompt);

      // Conversations (each with its turn count), the booking session and the job queue live on several nodes.
      const perNode = await Promise.all(admin.nodes('master').map(async (node) => (await node.keys(`${prefix}*`)).length));
      expect(perNode.filter((n) => n > 0).length).toBeGreaterThanOrEqual(2);
      const all = (await Promise.all(admin.nodes('master').map((node) => node.keys(`${prefix}*`)))).flat();
      expect(all.some((k) => k.startsWith(`${prefix}{jobs}`))).toBe(true);
      expect(await admin.hget(`${prefix}conv:line:${winner}`, 'l')).toMatch(/^\d+:\d+$/);
      expect(stub.sent().filter((c) => textOf(c).includes(ja.unavailable))).toHaveLength(0);
    }, 90_000);
  });
});
