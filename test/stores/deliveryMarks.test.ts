/**
 * On one Redis server the delivery marks of concurrent turns share script calls (group commit
 * in src/stores/redis.ts): counted on a redis-server of this file's own, so that no other test's
 * commands are in the count.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import type { Store } from '../../src/stores/ports.ts';
import { createRedisStore } from '../../src/stores/redis.ts';
import { type RedisServer, startRedisServer } from '../support/redisServer.ts';

let server: RedisServer;
let store: Store;
let admin: Redis;

beforeAll(async () => {
  server = await startRedisServer();
  store = await createRedisStore({ target: { kind: 'single', url: server.url }, prefix: 'marks:' });
  admin = new Redis(server.url);
});
afterAll(async () => {
  admin.disconnect();
  await store.close();
  await server.stop();
});

/** Script calls so far (EVALSHA, or EVAL after a script cache miss). */
async function scriptCalls(): Promise<number> {
  const info = await admin.info('commandstats');
  return [...info.matchAll(/^cmdstat_(?:evalsha|eval):calls=(\d+)/gm)].reduce((sum, m) => sum + Number(m[1]), 0);
}

it('marks 200 turns delivered at once in a few script calls, not 200, and each mark lands', async () => {
  const keys = Array.from({ length: 200 }, (_, i) => `line:U${i}`);
  await Promise.all(keys.map((key) => store.conversations.save(key, 0, { v: 1 }, 60_000, { add: { id: 'e', entry: { event: 'e', at: 1, replies: [] } }, unsentSince: 1 })));
  const before = await scriptCalls();
  await Promise.all(keys.map((key) => store.conversations.delivered(key, 'e')));
  const calls = (await scriptCalls()) - before;
  expect(calls).toBeGreaterThan(0);
  expect(calls).toBeLessThanOrEqual(10);
  expect(await store.conversations.unsent(Number.MAX_SAFE_INTEGER, 1_000)).toEqual([]);
  for (const key of keys) expect((await store.conversations.load(key))?.outbox).toBeUndefined();
  // At rest a single mark still leaves at once, in one call.
  await store.conversations.save('line:Ulast', 0, { v: 1 }, 60_000, { add: { id: 'e', entry: { event: 'e', at: 1, replies: [] } }, unsentSince: 1 });
  const single = await scriptCalls();
  await store.conversations.delivered('line:Ulast', 'e');
  expect((await scriptCalls()) - single).toBe(1);
});
