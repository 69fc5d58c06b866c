import { describe, expect, it } from 'vitest';
import { createApp } from '../src/app.ts';
import { ConfigError, loadConfig } from '../src/config.ts';
import { DataFileError } from '../src/services/dataFile.ts';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../src/log.ts';

describe('configuration', () => {
  it('runs with no environment at all: memory store, web chat on, port 3978', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({ port: 3978, webchatEnabled: true, holdMinutes: 10, redisPrefix: 'citybot:' });
    expect(config.redisUrl).toBeUndefined();
    expect(config.line.apiBaseUrl).toBe('https://api.line.me');
  });

  it('names every invalid variable', () => {
    expect.assertions(4);
    try {
      loadConfig({ PORT: 'eighty', REDIS_URL: 'http://x', HOLD_MINUTES: '0' });
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as Error).message).toMatch(/PORT/);
      expect((err as Error).message).toMatch(/REDIS_URL/);
      expect((err as Error).message).toMatch(/HOLD_MINUTES/);
    }
  });

  it('refuses staff ids without Bot Framework authentication, unless told it is the emulator', () => {
    expect(() => loadConfig({ STAFF_TEAM_ID: 'team' })).toThrow(/MicrosoftAppId/);
    expect(loadConfig({ STAFF_TEAM_ID: 'team', MicrosoftAppId: 'app' }).teams.staffTeamId).toBe('team');
    // The contact center's team is staff too: the same rule.
    expect(() => loadConfig({ CONTACT_CENTER_TEAM_ID: 'cc' })).toThrow(/MicrosoftAppId/);
    expect(loadConfig({ CONTACT_CENTER_TEAM_ID: 'cc', TEAMS_UNAUTHENTICATED: 'true' }).teams.contactCenterTeamId).toBe('cc');
    expect(loadConfig({ STAFF_TEAM_ID: 'team', TEAMS_UNAUTHENTICATED: 'true' }).teams.staffTeamId).toBe('team');
  });

  it('takes a report link secret of at least 32 characters, and a public origin without its trailing slash', () => {
    expect(() => loadConfig({ REPORT_LINK_SECRET: 'too-short' })).toThrow(/REPORT_LINK_SECRET/);
    expect(loadConfig({ REPORT_LINK_SECRET: 'x'.repeat(32) }).reportLinkSecret).toBe('x'.repeat(32));
    expect(loadConfig({}).reportLinkSecret).toBeUndefined();
    expect(loadConfig({ PUBLIC_BASE_URL: 'https://bot.example.jp/' }).publicBaseUrl).toBe('https://bot.example.jp');
    expect(() => loadConfig({ PUBLIC_BASE_URL: 'ftp://bot.example.jp' })).toThrow(/PUBLIC_BASE_URL/);
  });

  it('takes a 32-byte data encryption key and refuses any other', () => {
    const key = Buffer.alloc(32, 1).toString('base64');
    expect(loadConfig({ DATA_ENCRYPTION_KEY: key }).dataEncryptionKey).toBe(key);
    expect(() => loadConfig({ DATA_ENCRYPTION_KEY: 'c2hvcnQ=' })).toThrow(/DATA_ENCRYPTION_KEY/);
  });

  it('a bad catalog file stops start-up with the field at fault', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'catalog-'));
    const file = join(dir, 'catalog.json');
    const good = JSON.parse((await import('node:fs')).readFileSync(new URL('../data/catalog.json', import.meta.url), 'utf8'));
    good.sessions[2].date = '2026-02-30';
    writeFileSync(file, JSON.stringify(good));
    const start = createApp(loadConfig({ CATALOG_FILE: file }), { log: createLogger('silent') });
    await expect(start).rejects.toThrow(DataFileError);
    await expect(start).rejects.toThrow(/sessions\[2\]\.date/);
  });
});

describe('log lines', () => {
  it('redact free text, email addresses and phone numbers, and keep ids', async () => {
    const { createLogger: make } = await import('../src/log.ts');
    const lines: string[] = [];
    const log = make('info', (l) => lines.push(l));
    log.info('probe', { a: 'hanako@example.jp', b: '09012345678', c: '川崎 花子', d: '19:team@thread.tacv2', e: 'booking:time', f: 12 });
    const line = JSON.parse(lines[0]!);
    expect(line).toMatchObject({ a: '[redacted]', b: '[redacted]', c: '[redacted]', d: '19:team@thread.tacv2', e: 'booking:time', f: 12 });
  });
});
