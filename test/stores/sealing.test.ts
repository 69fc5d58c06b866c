import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it, inject } from 'vitest';
import { createRedisStore } from '../../src/stores/redis.ts';
import { createSealer } from '../../src/stores/sealing.ts';
import { makeBooking, TEST_DATA_KEY } from '../support/stores.ts';

describe('personal data sealed at rest in Redis', () => {
  const raw = new Redis(inject('redisUrl'));
  afterAll(() => raw.quit());

  /** Every value under `prefix`, as Redis holds it. */
  async function dump(prefix: string): Promise<string> {
    const keys = await raw.keys(`${prefix}*`);
    const values = await Promise.all(
      keys.map(async (k) => ((await raw.type(k)) === 'hash' ? JSON.stringify(await raw.hgetall(k)) : String(await raw.get(k)))),
    );
    return values.join('\n');
  }

  it('keeps names, phones and emails out of Redis, and reads them back', async () => {
    const prefix = `test:${randomUUID()}:`;
    const store = await createRedisStore({ url: inject('redisUrl'), prefix, sealer: createSealer(TEST_DATA_KEY) });
    const booking = makeBooking({ contact: { name: '川崎 花子', phone: '09012345678', email: 'hanako@example.jp' } });
    await store.bookings.hold(booking.sessionId, booking.slotId, booking.userKey, 0, 60_000, 120_000);
    expect((await store.bookings.confirm(booking, 0)).ok).toBe(true);
    await store.conversations.save('line:U1', 0, { flow: { contact: { name: '川崎 花子', phone: '09012345678' } } }, 60_000);

    const stored = await dump(prefix);
    for (const secret of ['川崎', '花子', '09012345678', 'hanako@example.jp']) expect(stored).not.toContain(secret);
    expect(await store.bookings.get(booking.sessionId, booking.id)).toEqual(booking);
    expect((await store.conversations.load('line:U1'))?.state).toEqual({ flow: { contact: { name: '川崎 花子', phone: '09012345678' } } });
    // The scripts still route on the clear fields: cancelling works.
    expect(await store.bookings.cancel(booking.sessionId, booking.id, booking.userKey)).toBe(true);
    await store.close();
  });

  it('reads values written before sealing was turned on', async () => {
    const prefix = `test:${randomUUID()}:`;
    const plain = await createRedisStore({ url: inject('redisUrl'), prefix });
    const booking = makeBooking();
    await plain.bookings.confirm(booking, 0);
    await plain.close();
    const sealed = await createRedisStore({ url: inject('redisUrl'), prefix, sealer: createSealer(TEST_DATA_KEY) });
    expect(await sealed.bookings.get(booking.sessionId, booking.id)).toEqual(booking);
    await sealed.close();
  });

  it('refuses a key of the wrong size, and a tampered value', () => {
    expect(() => createSealer(Buffer.alloc(16).toString('base64'))).toThrow(/32 bytes/);
    const sealer = createSealer(TEST_DATA_KEY);
    const sealed = sealer.seal('secret');
    const tampered = sealed.slice(0, -4) + (sealed.endsWith('AAAA') ? 'BBBB' : 'AAAA');
    expect(() => sealer.open(tampered)).toThrow();
  });
});
