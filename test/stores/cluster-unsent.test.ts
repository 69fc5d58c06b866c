/**
 * The `unsent` index of LINE outboxes, now updated in steps of its own around the save script
 * (on Cluster it lives in another hash slot than the conversation), on every store including
 * the Cluster one: a refused save must not unlist a conversation that still has replies to send.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Store } from '../../src/stores/ports.ts';
import { storeFactories } from '../support/stores.ts';

const DAY_MS = 24 * 3_600_000;

describe.each(storeFactories())('%s store: the unsent index', (_name, create) => {
  let store: Store;
  beforeAll(async () => {
    store = await create();
  });
  afterAll(async () => {
    await store.close();
  });

  it('keeps a conversation listed, at or before its oldest reply, when a save on a stale revision is refused', async () => {
    const key = `unsent-${Math.random()}`;
    const add = (id: string, at: number) => ({ add: { id, entry: { event: id, at, replies: [] } }, unsentSince: at });
    const mine = async (beforeMs: number) => (await store.conversations.unsent(beforeMs, 1_000)).filter((k) => k === key);
    expect(await store.conversations.save(key, 0, { v: 1 }, DAY_MS, add('e1', 1_000))).toBe(true);
    expect(await store.conversations.save(key, 0, { v: 2 }, DAY_MS, add('e2', 2_000))).toBe(false);
    expect(await mine(1_001)).toEqual([key]);
    await store.conversations.delivered(key, 'e1');
    expect(await mine(Number.MAX_SAFE_INTEGER)).toEqual([]);
  });
});
