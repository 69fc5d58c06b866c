/**
 * The bot on a real Sentinel group (one master, one replica, three sentinels; started once for
 * this file): a booking change waits for the replica (`REDIS_WAIT_REPLICAS`), and when the
 * master is killed (SIGKILL) in the middle of a booking stream the bot answers again after the
 * failover and every booking a citizen was told about is on the new master. Prints what the
 * wait costs per booking.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import ja from '../../locales/ja.json' with { type: 'json' };
import type { RedisTarget } from '../../src/stores/connection.ts';
import type { Store } from '../../src/stores/ports.ts';
import { createRedisStore, ReplicaWaitError } from '../../src/stores/redis.ts';
import { fakeClock, type RunningApp, startApp } from '../support/app.ts';
import { eventFactory, type LineEvent, type LineStub, lineUserId, NOW_ISO, postWebhook, REFERENCE, SESSION_ID, startLineStub, tap, textOf } from '../support/lineStub.ts';
import { redisCapability, redisCliMissing } from '../support/redisCluster.ts';
import { SENTINEL_NAME, type SentinelGroup, startSentinelGroup } from '../support/redisSentinel.ts';
import { bookingId, makeBooking, TEST_DATA_KEY } from '../support/stores.ts';

const SECRET = 'sentinel-secret-0123456789abcdef';
const T = Date.parse(NOW_ISO);
/** The session's twelve times (09:00-12:00 and 13:00-16:00, 30 minutes each). */
const SLOTS = ['0900', '0930', '1000', '1030', '1100', '1130', '1300', '1330', '1400', '1430', '1500', '1530'];

describe.runIf(redisCapability('the Redis Sentinel tests', redisCliMissing()))('on a Sentinel group (master, replica, 3 sentinels)', () => {
  let group: SentinelGroup;
  let target: RedisTarget;

  beforeAll(async () => {
    group = await startSentinelGroup();
    target = { kind: 'sentinel', sentinels: group.sentinelNodes, name: SENTINEL_NAME };
  }, 60_000);
  afterAll(async () => {
    await group?.stop();
  });

  describe('a store that waits for one replica', () => {
    let store: Store;
    const shorts: number[] = [];

    beforeAll(async () => {
      store = await createRedisStore({ target, prefix: 'test:wait:', wait: { replicas: 1, timeoutMs: 300 }, onWaitShort: (acked) => shorts.push(acked) });
    });
    afterAll(async () => {
      await store?.close();
    });

    it('answers a booking only once the replica has it: a stopped replica makes it uncertain, a retry then confirms it', async () => {
      const booking = makeBooking({ id: bookingId(1), sessionId: 'wait-1', slotId: '0930', userKey: 'line:waiter' });
      group.replica.child.kill('SIGSTOP');
      try {
        const started = Date.now();
        await expect(store.bookings.confirm(booking, T)).rejects.toBeInstanceOf(ReplicaWaitError);
        expect(Date.now() - started).toBeGreaterThanOrEqual(250);
        expect(shorts).toEqual([0]);
      } finally {
        group.replica.child.kill('SIGCONT');
      }
      // Written on the master all along; confirming again is idempotent and now replicated.
      expect(await store.bookings.confirm(booking, T)).toMatchObject({ ok: true });
      expect(shorts).toEqual([0]);
    });

    it('costs this much per booking (printed, not asserted)', async () => {
      const plain = await createRedisStore({ target, prefix: 'test:nowait:' });
      // A timeout no loaded machine reaches: this measures the wait, it does not test it.
      const waiting = await createRedisStore({ target, prefix: 'test:cost:', wait: { replicas: 1, timeoutMs: 5_000 } });
      const timeOf = async (s: Store, tag: string) => {
        const times: number[] = [];
        for (let i = 0; i < 200; i++) {
          const started = performance.now();
          await s.bookings.confirm(makeBooking({ id: bookingId(i), sessionId: `cost-${tag}-${i % 10}`, slotId: SLOTS[Math.floor(i / 10) % 12]!, userKey: `line:cost-${i}` }), T);
          times.push(performance.now() - started);
        }
        times.sort((a, b) => a - b);
        return { p50: times[100]!.toFixed(3), p99: times[198]!.toFixed(3) };
      };
      try {
        const without = await timeOf(plain, 'plain');
        const withWait = await timeOf(waiting, 'wait');
        console.log(`confirm latency on loopback, 200 in a row (ms): without WAIT p50 ${without.p50} p99 ${without.p99}; with WAIT 1 p50 ${withWait.p50} p99 ${withWait.p99}`);
      } finally {
        await plain.close();
        await waiting.close();
      }
    });
  });

  describe('the bot, when the master is killed mid-stream', () => {
    let running: RunningApp;
    let stub: LineStub;
    const clock = fakeClock(NOW_ISO);
    const ev = eventFactory(clock.now);

    beforeAll(async () => {
      stub = await startLineStub();
      running = await startApp(
        {
          LINE_CHANNEL_SECRET: SECRET,
          LINE_CHANNEL_ACCESS_TOKEN: 'test-token',
          LINE_API_BASE_URL: stub.url,
          REDIS_SENTINELS: group.sentinelNodes.map((n) => `${n.host}:${n.port}`).join(','),
          REDIS_SENTINEL_NAME: SENTINEL_NAME,
          REDIS_PREFIX: 'test:failover:',
          REDIS_WAIT_REPLICAS: '1',
          REDIS_WAIT_TIMEOUT_MS: '1000',
          LINE_TURNS_PER_MINUTE: '1000',
          DATA_ENCRYPTION_KEY: TEST_DATA_KEY,
        },
        { now: clock.now, lineRetryDelayMs: 5 },
      );
    });
    afterAll(async () => {
      await running?.close();
      await stub?.close();
    });

    /** The texts of the reply to `event`, once there is one (within 20 s: never a silence). */
    const answer = async (event: LineEvent): Promise<string> => {
      expect((await postWebhook(running.url, [event], SECRET)).status).toBe(200);
      await stub.waitFor((calls) => calls.some((c) => c.path === '/v2/bot/message/reply' && c.status === 200 && (c.body as { replyToken?: string }).replyToken === event.replyToken), 20_000);
      return stub
        .sent()
        .filter((c) => c.kind === 'reply' && c.replyToken === event.replyToken && c.status === 200)
        .map((c) => JSON.stringify(c.messages) + textOf(c))
        .join('\n');
    };
    /** Sends the step again (a citizen tapping again) while the bot apologizes, for up to 30 s. */
    const step = async (make: () => LineEvent): Promise<string> => {
      const deadline = Date.now() + 30_000;
      for (;;) {
        const reply = await answer(make());
        if (!(reply.includes(ja.unavailable) || reply.includes(ja.booking.uncertain)) || Date.now() > deadline) return reply;
        await sleep(250);
      }
    };
    /** One citizen books `slot` from the menu; returns the reference the bot gave, if any. */
    const book = async (slot: string): Promise<string | undefined> => {
      const user = lineUserId();
      const steps = [
        () => ev.text(user, '予約する'),
        () => ev.postback(user, tap.mode('in_person')),
        ...Array.from({ length: 5 }, () => () => ev.postback(user, tap.yes())),
        () => ev.postback(user, tap.date()),
        () => ev.postback(user, tap.time(slot)),
        () => ev.postback(user, tap.agree()),
        () => ev.text(user, '幸 太郎'),
        () => ev.text(user, '044-200-2111'),
        () => ev.text(user, 'taro@example.jp'),
      ];
      for (const make of steps) await step(make);
      return REFERENCE.exec(await step(() => ev.postback(user, tap.confirm())))?.[0];
    };

    it('answers again after the failover, and every booking it told of is on the new master', async () => {
      const oldMaster = group.master.port;
      // Four citizens book; the master dies while four more are on their way.
      const before = await Promise.all(SLOTS.slice(0, 4).map((slot) => book(slot)));
      const after = SLOTS.slice(4, 8).map(async (slot, i) => {
        await sleep(i * 150);
        return book(slot);
      });
      await sleep(300);
      group.master.child.kill('SIGKILL');
      const told = [...before, ...(await Promise.all(after))];
      expect(await group.masterPort()).toBe(group.replica.port);
      expect(group.replica.port).not.toBe(oldMaster);

      expect(before.every((ref) => ref !== undefined)).toBe(true);
      // The bot came back: citizens who were mid-way when the master died were told a reference too.
      expect(told.slice(4).filter((ref) => ref !== undefined).length).toBeGreaterThan(0);
      const stored = new Set((await running.app.store.bookings.listSession(SESSION_ID)).map((b) => b.id));
      for (const ref of told) if (ref !== undefined) expect(stored, `booking ${ref}`).toContain(ref);
    }, 90_000);
  });
});
