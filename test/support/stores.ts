/**
 * Helpers for running one test suite against every store implementation.
 */
import { randomUUID } from 'node:crypto';
import { Cluster, Redis } from 'ioredis';
import { afterAll, expect, inject } from 'vitest';
import type { Booking, Ticket } from '../../src/domain.ts';
import { createMemoryStore } from '../../src/stores/memory.ts';
import type { Store } from '../../src/stores/ports.ts';
import { createRedisStore } from '../../src/stores/redis.ts';
import { createSealer } from '../../src/stores/sealing.ts';
import type { RedisTarget } from '../../src/stores/connection.ts';
import { clusterUnsupported, type RedisClusterServer, redisCapability, startRedisCluster } from './redisCluster.ts';

/**
 * Expiry as a store sees it, checked without sleeping: a short real TTL raced the test on a
 * busy machine. The memory store runs on a fake clock that is moved; Redis's clock cannot
 * be moved, so the expiry time Redis recorded for each key is read instead.
 */
export interface StoreTime {
  /** Now for the store: the fake clock's (memory), the machine's (Redis runs on it). */
  now(): number;
  /**
   * Checks that each key (as named under the store's prefix, e.g. `conv:<key>`) expires
   * between `earliest` and `latest` (ms since epoch) and is `present` until then, and then
   * lets it expire: the memory clock moves to `latest`, Redis is told the time has come.
   */
  expire(keys: string[], earliest: number, latest: number, present: () => Promise<boolean>): Promise<void>;
}

/**
 * A named way to make a fresh, empty store (`redis+sealed` encrypts personal data at rest),
 * and the expiry view of a store it made.
 */
export type StoreFactory = [name: string, create: () => Promise<Store>, timeOf: (store: Store) => StoreTime];

/** A fixed test key: 32 bytes, base64. */
export const TEST_DATA_KEY = Buffer.alloc(32, 7).toString('base64');

/**
 * A 3-master Redis Cluster for this test file: started by the first store that asks for it,
 * stopped after the file's tests.
 */
let cluster: Promise<RedisClusterServer> | undefined;
function clusterOfThisFile(): Promise<RedisClusterServer> {
  if (!cluster) {
    cluster = startRedisCluster();
    const started = cluster;
    afterAll(async () => (await started).stop());
  }
  return cluster;
}

/**
 * One factory per implementation, for `describe.each`. Each Redis store gets its own
 * connection to the run's redis-server (see `redis-global-setup.ts`) and a random key prefix,
 * so test files running in parallel never see each other's keys; `redis+cluster+sealed` runs on a
 * Cluster of the file's own (skipped, saying so, where redis-server cannot run one; never in
 * CI). `auditCap` is passed to every store made.
 */
export function storeFactories({ auditCap }: { auditCap?: number } = {}): StoreFactory[] {
  const cap = auditCap === undefined ? {} : { auditCap };
  let clock = Date.now();
  const memoryTime: StoreTime = {
    now: () => clock,
    async expire(_keys, earliest, latest, present) {
      clock = earliest - 1;
      expect(await present()).toBe(true);
      clock = latest;
    },
  };
  const made = new WeakMap<Store, { prefix: string; target: RedisTarget }>();
  const redis = (sealed: boolean, onCluster = false) => async () => {
    const prefix = `test:${randomUUID()}:`;
    const target: RedisTarget = onCluster ? { kind: 'cluster', nodes: (await clusterOfThisFile()).nodes } : { kind: 'single', url: inject('redisUrl') };
    const store = await createRedisStore({ target, prefix, ...cap, ...(sealed ? { sealer: createSealer(TEST_DATA_KEY) } : {}) });
    made.set(store, { prefix, target });
    return store;
  };
  const redisTime = (store: Store): StoreTime => ({
    now: () => Date.now(),
    async expire(keys, earliest, latest, present) {
      const of = made.get(store);
      if (of === undefined) throw new Error('not a store of this factory');
      const { prefix, target } = of;
      const client = target.kind === 'cluster' ? new Cluster(target.nodes) : new Redis(inject('redisUrl'));
      try {
        for (const key of keys) {
          const at = Number(await client.call('PEXPIRETIME', `${prefix}${key}`));
          expect(at, key).toBeGreaterThanOrEqual(earliest);
          expect(at, key).toBeLessThanOrEqual(latest);
        }
        expect(await present()).toBe(true);
        // An expiry time in the past removes the key, exactly as reaching it would.
        for (const key of keys) await client.pexpireat(`${prefix}${key}`, 1);
      } finally {
        client.disconnect();
      }
    },
  });
  return [
    ['memory', async () => createMemoryStore({ now: () => clock, ...cap }), () => memoryTime],
    ['redis', redis(false), redisTime],
    ['redis+sealed', redis(true), redisTime],
    ...(redisCapability('the redis+cluster+sealed store', clusterUnsupported()) ? ([['redis+cluster+sealed', redis(true, true), redisTime]] as StoreFactory[]) : []),
  ];
}

/**
 * A valid booking with readable defaults; override what the test is about.
 */
export function makeBooking(overrides: Partial<Booking> = {}): Booking {
  return {
    id: 'ABC-2345',
    serviceId: 'ombudsman',
    sessionId: 'S1',
    slotId: '0930',
    mode: 'in_person',
    userKey: 'line:U1',
    locale: 'ja',
    contact: { name: '川崎 太郎', phone: '09012345678', email: 'taro@example.jp' },
    consent: { precautionsVersion: '2025-04', agreedAt: '2025-05-01T09:00:00.000Z' },
    createdAt: '2025-05-01T09:00:00.000Z',
    ...overrides,
  };
}

/** A valid open ticket; override what the test is about. */
export function makeTicket(overrides: Partial<Ticket> = {}): Ticket {
  return {
    id: 'T-1',
    userKey: 'line:U1',
    channel: 'line',
    locale: 'ja',
    reason: 'requested',
    priority: 'normal',
    category: 'ombudsman',
    context: 'menu',
    status: 'open',
    createdAt: '2025-05-01T09:00:00.000Z',
    ...overrides,
  };
}

/** A booking id for the n-th booking of a test (`ABC-0001`, ...), unique within it. */
export function bookingId(n: number): string {
  return `ABC-${String(n).padStart(4, '0')}`;
}
