import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DateTime } from 'luxon';
import { afterAll, describe, expect, expectTypeOf, it } from 'vitest';
import type { z } from 'zod';
import { type Service, type Session, ZONE } from '../../src/domain.ts';
import {
  CATALOG_FILE,
  loadCatalog,
  openSessions,
  parseCatalog,
  serviceById,
  sessionById,
  serviceSchema,
  sessionSchema,
  sessionsOf,
} from '../../src/services/catalog.ts';
import { DataFileError } from '../../src/services/dataFile.ts';

const shippedJson = (): { services: Record<string, unknown>[]; sessions: Record<string, unknown>[] } =>
  JSON.parse(readFileSync(CATALOG_FILE, 'utf8'));

function errorOf(fn: () => unknown): DataFileError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(DataFileError);
    return err as DataFileError;
  }
  throw new Error('expected a DataFileError');
}

describe('the shipped catalog', () => {
  const catalog = loadCatalog(CATALOG_FILE);

  it('has the ombudsman service and its 12 FY2026 sessions', () => {
    expect(catalog.services.map((s) => s.id)).toEqual(['ombudsman']);
    expect(catalog.sessions).toHaveLength(12);
    expect(sessionsOf(catalog, 'ombudsman').map((s) => s.date)).toEqual([
      '2026-04-08', '2026-05-08', '2026-06-12', '2026-07-10', '2026-08-07', '2026-09-11',
      '2026-10-06', '2026-11-06', '2026-12-08', '2027-01-08', '2027-02-09', '2027-03-12',
    ]);
  });

  it('describes the service as domain.md does', () => {
    const service = serviceById(catalog, 'ombudsman')!;
    expect(service.modes).toEqual(['in_person', 'online']);
    expect(service.slotMinutes).toBe(30);
    expect(service.window).toEqual({ opensDayOfPreviousMonth: 15, closeBusinessDaysBefore: 2, opensAt: '09:00', closesAt: '17:00' });
    expect(service.office.phone).toBe('044-200-3691');
    expect(service.office.email).toBe('75sioz@city.kawasaki.jp');
    expect(service.alternatives[0]?.phone).toBe('044-200-3939');
    expect(service.precautions.version).toBe('2026-04');
    const camera = service.screening.filter((q) => q.modes.length === 1);
    expect(camera.map((q) => q.modes)).toEqual([['online']]);
  });

  it('looks sessions up by id', () => {
    expect(sessionById(catalog, '2026-12-08-asao')?.place.en).toBe('Asao Ward Office, 4F Meeting Room 2');
    expect(sessionById(catalog, 'nope')).toBeUndefined();
    expect(serviceById(catalog, 'nope')).toBeUndefined();
  });

  it('lists the sessions open for booking at a given instant', () => {
    const at = (iso: string) => openSessions(catalog, 'ombudsman', DateTime.fromISO(iso, { zone: ZONE })).map((s) => s.id);
    expect(at('2026-10-20T10:00')).toEqual(['2026-11-06-tama']);
    expect(at('2026-11-16T09:00')).toEqual(['2026-12-08-asao']);
    expect(at('2026-11-14T10:00')).toEqual([]);
    // Booking for June opens 05-15 while May's is still open until 05-01 17:00: no overlap in May.
    expect(at('2026-04-20T12:00')).toEqual(['2026-05-08-kawasaki']);
    expect(openSessions(catalog, 'unknown', DateTime.now())).toEqual([]);
  });

  it('yields exactly the domain types', () => {
    expectTypeOf<z.output<typeof serviceSchema>>().toEqualTypeOf<Service>();
    expectTypeOf<z.output<typeof sessionSchema>>().toEqualTypeOf<Session>();
  });
});

describe('a bad catalog', () => {
  it('names the path of an impossible date', () => {
    const json = shippedJson();
    json.sessions[3]!.date = '2026-13-40';
    const err = errorOf(() => parseCatalog(json));
    expect(err.message).toMatch(/^catalog: sessions\[3\]\.date: expected YYYY-MM-DD/);
  });

  it('names the path of a badly written date', () => {
    const json = shippedJson();
    json.sessions[0]!.opens = '2026/03/16';
    expect(errorOf(() => parseCatalog(json)).message).toContain('sessions[0].opens: expected YYYY-MM-DD');
  });

  it('names a session whose service does not exist', () => {
    const json = shippedJson();
    json.sessions[5]!.serviceId = 'tax';
    expect(errorOf(() => parseCatalog(json)).message).toContain('sessions[5].serviceId: unknown service "tax"');
  });

  it('names a missing Japanese text', () => {
    const json = shippedJson();
    delete (json.sessions[2]!.place as Record<string, unknown>).ja;
    expect(errorOf(() => parseCatalog(json)).message).toContain('sessions[2].place.ja:');
  });

  it('names a blank translation', () => {
    const json = shippedJson();
    (json.services[0]!.name as Record<string, unknown>).en = '  ';
    expect(errorOf(() => parseCatalog(json)).message).toContain('services[0].name.en: must not be empty');
  });

  it('joins several problems into one message', () => {
    const json = shippedJson();
    json.sessions[1]!.id = json.sessions[0]!.id;
    json.sessions[4]!.serviceId = 'x';
    const err = errorOf(() => parseCatalog(json));
    expect(err.problems).toHaveLength(2);
    expect(err.message).toContain('sessions[1].id: duplicate id');
    expect(err.message).toContain('; sessions[4].serviceId: unknown service "x"');
  });

  it('rejects a precaution for a mode the service does not offer', () => {
    const json = shippedJson();
    json.services[0]!.modes = ['in_person'];
    const err = errorOf(() => parseCatalog(json));
    expect(err.message).toMatch(/services\[0\]\.screening\[\d+\]\.modes\[0\]: mode "online"/);
    expect(err.message).toMatch(/services\[0\]\.precautions\.items\[\d+\]\.modes\[\d\]: mode "online"/);
  });

  it('rejects a service without modes, bad times and misspelt keys', () => {
    const json = shippedJson();
    const service = json.services[0]!;
    service.modes = [];
    (service.window as Record<string, unknown>).opensAt = '9:00';
    json.sessions[0]!.close = '2026-04-06';
    const err = errorOf(() => parseCatalog(json));
    expect(err.message).toContain('services[0].modes: must list at least one mode');
    expect(err.message).toContain('services[0].window.opensAt: expected HH:mm');
    expect(err.message).toMatch(/sessions\[0\]: .*"close"/);
  });

  it('rejects a catalog that is not an object', () => {
    expect(errorOf(() => parseCatalog([])).message).toMatch(/^catalog: /);
  });
});

describe('loadCatalog', () => {
  const dir = mkdtempSync(join(tmpdir(), 'catalog-test-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('names the file when it is not JSON', () => {
    const file = join(dir, 'broken.json');
    writeFileSync(file, '{ "services": [ ');
    const err = errorOf(() => loadCatalog(file));
    expect(err.message).toContain(file);
    expect(err.message).toContain('invalid JSON');
  });

  it('names the file when it does not exist', () => {
    const file = join(dir, 'missing.json');
    expect(errorOf(() => loadCatalog(file)).message).toContain(file);
  });

  it('names the file and the field when it does not validate', () => {
    const file = join(dir, 'bad.json');
    const json = shippedJson();
    json.sessions[3]!.date = '2026-13-40';
    writeFileSync(file, JSON.stringify(json));
    const err = errorOf(() => loadCatalog(file));
    expect(err.message).toContain(file);
    expect(err.message).toContain('sessions[3].date: expected YYYY-MM-DD');
  });
});

describe('slots that fit a phone', () => {
  it('refuses a service whose sessions would offer more times than LINE can show', () => {
    const raw = JSON.parse(readFileSync(new URL('../../data/catalog.json', import.meta.url), 'utf8'));
    raw.services[0].slotMinutes = 15;
    expect(() => parseCatalog(raw)).toThrow(/services\[0\]\.slotMinutes/);
  });
});
