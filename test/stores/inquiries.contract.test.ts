/**
 * The store contract for inquiries: tickets that change after they open (consent, forward),
 * closing with an outcome, purging closed tickets with the questions they hold, and the
 * feedback counts. Run against memory, Redis and sealed Redis alike.
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Store } from '../../src/stores/ports.ts';
import { makeTicket, storeFactories } from '../support/stores.ts';

const agent = { id: 'aad-1', name: 'Sato' };

describe.each(storeFactories())('%s store: inquiries', (name, create) => {
  let store: Store;
  let counter = 0;
  const fresh = () => `Q-${++counter}`;

  beforeAll(async () => {
    store = await create();
  });
  afterAll(async () => {
    await store.close();
  });

  it('attaches the question and suggestions to an open ticket', async () => {
    const id = fresh();
    await store.tickets.create(makeTicket({ id, reason: 'urgent', desk: 'contact_center', priority: 'high' }));
    const updated = await store.tickets.update(id, { question: '道路に穴があいています', suggestions: ['contact-center'] });
    expect(updated).toMatchObject({ ok: true, ticket: { question: '道路に穴があいています', suggestions: ['contact-center'], priority: 'high' } });
    expect(await store.tickets.get(id)).toMatchObject({ question: '道路に穴があいています', desk: 'contact_center' });
  });

  it('forwarding reopens a claimed ticket in the other desk, unclaimed', async () => {
    const id = fresh();
    await store.tickets.create(makeTicket({ id, reason: 'inquiry', desk: 'contact_center' }));
    await store.tickets.claim(id, agent, '2026-12-01T00:00:00.000Z');
    const moved = await store.tickets.update(id, { desk: 'office', category: 'ombudsman', reopen: true });
    expect(moved.ok).toBe(true);
    const ticket = await store.tickets.get(id);
    expect(ticket).toMatchObject({ status: 'open', desk: 'office', category: 'ombudsman' });
    expect(ticket?.claimedBy).toBeUndefined();
    expect((await store.tickets.listOpen()).map((t) => t.id)).toContain(id);
  });

  it('does not change a closed ticket', async () => {
    const id = fresh();
    await store.tickets.create(makeTicket({ id }));
    await store.tickets.close(id, agent, '2026-12-01T00:00:00.000Z');
    expect(await store.tickets.update(id, { category: 'x' })).toMatchObject({ ok: false, reason: 'closed' });
    expect(await store.tickets.update('nope', { category: 'x' })).toEqual({ ok: false, reason: 'not_found' });
  });

  it('records how a ticket ended and which answer was sent', async () => {
    const id = fresh();
    await store.tickets.create(makeTicket({ id, reason: 'inquiry' }));
    const closed = await store.tickets.close(id, agent, '2026-12-01T01:00:00.000Z', { outcome: 'answered', answeredWith: 'bulky-waste' });
    expect(closed).toMatchObject({ ok: true, ticket: { status: 'closed', outcome: 'answered', answeredWith: 'bulky-waste' } });
    expect((await store.tickets.listAll()).find((t) => t.id === id)).toMatchObject({ outcome: 'answered' });
  });

  it('purges tickets closed before the cut-off, card and question with them, and keeps the rest', async () => {
    const old = fresh();
    const recent = fresh();
    const open = fresh();
    await store.tickets.create(makeTicket({ id: old, userKey: 'line:P1', question: '古い質問' }));
    await store.tickets.setCard(old, { conversationId: 'c', activityId: `card-${old}` });
    await store.tickets.create(makeTicket({ id: recent, userKey: 'line:P2' }));
    await store.tickets.create(makeTicket({ id: open, userKey: 'line:P3' }));
    await store.tickets.close(old, agent, '2026-01-01T00:00:00.000Z');
    await store.tickets.close(recent, agent, '2026-11-30T00:00:00.000Z');
    const purged = await store.tickets.purgeClosed(Date.parse('2026-06-01T00:00:00.000Z'));
    expect(purged).toBeGreaterThanOrEqual(1);
    expect(await store.tickets.get(old)).toBeNull();
    expect(await store.tickets.findByCard(`card-${old}`)).toBeNull();
    expect(await store.tickets.get(recent)).not.toBeNull();
    expect(await store.tickets.get(open)).not.toBeNull();
  });

  it('counts feedback per entry', async () => {
    await store.feedback.record('bulky-waste', true);
    await store.feedback.record('bulky-waste', true);
    await store.feedback.record('bulky-waste', false);
    await store.feedback.record('city-bus', false);
    const counts = await store.feedback.counts();
    expect(counts.get('bulky-waste')).toEqual({ helpful: 2, unhelpful: 1 });
    expect(counts.get('city-bus')).toEqual({ helpful: 0, unhelpful: 1 });
  });

  if (name === 'redis+sealed') {
    it('keeps the question sealed at rest', async () => {
      const id = `Q-${randomUUID()}`;
      await store.tickets.create(makeTicket({ id, question: '市役所の対応について' }));
      await store.tickets.update(id, { question: '市役所の対応について、もう一度' });
      const client = new Redis(inject('redisUrl'));
      try {
        const keys = await client.keys('*{tickets}:byId');
        const raw = (await Promise.all(keys.map((k) => client.hget(k, id)))).find((v) => v !== null);
        expect(raw).toBeDefined();
        expect(raw).not.toContain('市役所');
      } finally {
        client.disconnect();
      }
      expect((await store.tickets.get(id))?.question).toBe('市役所の対応について、もう一度');
    });
  }
});
