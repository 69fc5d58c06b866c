/**
 * Helpers for running one test suite against every store implementation.
 */
import { randomUUID } from 'node:crypto';
import { inject } from 'vitest';
import type { Booking, Ticket } from '../../src/domain.ts';
import { createMemoryStore } from '../../src/stores/memory.ts';
import type { Store } from '../../src/stores/ports.ts';
import { createRedisStore } from '../../src/stores/redis.ts';
import { createSealer } from '../../src/stores/sealing.ts';

/** A named way to make a fresh, empty store (`redis+sealed` encrypts personal data at rest). */
export type StoreFactory = [name: string, create: () => Promise<Store>];

/** A fixed test key: 32 bytes, base64. */
export const TEST_DATA_KEY = Buffer.alloc(32, 7).toString('base64');

/**
 * One factory per implementation, for `describe.each`. Each Redis store gets its own
 * connection to the run's redis-server (see `redis-global-setup.ts`) and a random key prefix,
 * so test files running in parallel never see each other's keys.
 */
export function storeFactories(): StoreFactory[] {
  return [
    ['memory', async () => createMemoryStore()],
    ['redis', () => createRedisStore({ url: inject('redisUrl'), prefix: `test:${randomUUID()}:` })],
    ['redis+sealed', () => createRedisStore({ url: inject('redisUrl'), prefix: `test:${randomUUID()}:`, sealer: createSealer(TEST_DATA_KEY) })],
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

/** Resolves after `ms`, to let a short real TTL run out. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
