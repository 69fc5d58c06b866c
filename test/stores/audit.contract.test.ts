/**
 * The store contract for the staff access audit trail: append-only, newest first, bounded
 * by a cap, ids only. Run against memory, Redis and sealed Redis alike.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { AuditEntry, Store } from '../../src/stores/ports.ts';
import { storeFactories } from '../support/stores.ts';

const CAP = 5;

function entry(n: number, overrides: Partial<AuditEntry> = {}): AuditEntry {
  return { at: new Date(Date.UTC(2026, 0, 1, 9, 0, n)).toISOString(), staff: 'aad-1', action: 'ticket.claimed', records: [`T-${n}`], ...overrides };
}

describe.each(storeFactories({ auditCap: CAP }))('%s store: audit', (_name, create) => {
  let store: Store | undefined;
  const fresh = async () => (store = await create());
  afterEach(async () => {
    await store?.close();
    store = undefined;
  });

  it('is empty at first', async () => {
    const s = await fresh();
    expect(await s.audit.recent(20)).toEqual([]);
  });

  it('gives back what was appended, newest first, field for field', async () => {
    const s = await fresh();
    const listed = entry(1, { action: 'bookings.listed', records: ['2026-01-05', 'ABC-2345', 'ABC-6789'] });
    const cancelled = entry(2, { staff: 'aad-2', action: 'booking.cancelled', records: ['ABC-2345', 'S1'] });
    const shown = entry(3, { staff: 'channel:staff', action: 'ticket.shown', records: ['T-9'] });
    for (const e of [listed, cancelled, shown]) await s.audit.append(e);
    expect(await s.audit.recent(20)).toEqual([shown, cancelled, listed]);
  });

  it('keeps an entry with no records', async () => {
    const s = await fresh();
    await s.audit.append(entry(1, { action: 'audit.listed', records: [] }));
    expect(await s.audit.recent(1)).toEqual([entry(1, { action: 'audit.listed', records: [] })]);
  });

  it('returns at most n entries, the latest', async () => {
    const s = await fresh();
    for (let n = 1; n <= 4; n++) await s.audit.append(entry(n));
    expect((await s.audit.recent(2)).map((e) => e.records[0])).toEqual(['T-4', 'T-3']);
    expect(await s.audit.recent(0)).toEqual([]);
    expect(await s.audit.recent(-3)).toEqual([]);
  });

  it('drops the oldest entries beyond the cap, never the newest', async () => {
    const s = await fresh();
    // Redis trims `MAXLEN ~` by whole stream nodes (100 entries by default): enough entries
    // for several nodes show the trim, whichever store.
    const total = 350;
    for (let n = 1; n <= total; n++) await s.audit.append(entry(n));
    const kept = await s.audit.recent(total);
    expect(kept.length).toBeGreaterThanOrEqual(CAP);
    expect(kept.length).toBeLessThan(total - 100);
    expect(kept.slice(0, CAP).map((e) => e.records[0])).toEqual(['T-350', 'T-349', 'T-348', 'T-347', 'T-346']);
  });
});
