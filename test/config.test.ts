import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../src/app.ts';
import { ConfigError, loadConfig } from '../src/config.ts';
import { DataFileError } from '../src/services/dataFile.ts';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../src/log.ts';
import { type RedisServer, startRedisServer } from './support/redisServer.ts';
import { TEST_DATA_KEY } from './support/stores.ts';

describe('configuration', () => {
  it('runs with no environment at all: development, memory store, web chat on, Teams emulator mode, port 3978', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({ production: false, port: 3978, webchatEnabled: true, holdMinutes: 10, redisPrefix: 'citybot:' });
    expect(config.redis).toBeUndefined();
    expect(config.dataEncryptionKey).toBeUndefined();
    expect(config.teams.emulator).toBe(true);
    expect(config.line.apiBaseUrl).toBe('https://api.line.me');
    expect(loadConfig({ NODE_ENV: 'development', WEBCHAT_ENABLED: 'false' }).webchatEnabled).toBe(false);
    // .env.example as it is: blank means the default.
    expect(loadConfig({ NODE_ENV: '', WEBCHAT_ENABLED: '' })).toMatchObject({ production: false, webchatEnabled: true });
    expect(loadConfig({ ...PRODUCTION, WEBCHAT_ENABLED: '' }).webchatEnabled).toBe(false);
    expect(loadConfig({ NODE_ENV: 'test', TEAMS_UNAUTHENTICATED: 'true', STAFF_TEAM_ID: 'team' }).teams.emulator).toBe(true);
    // With an app id every request needs a token, in development too.
    expect(loadConfig({ MicrosoftAppId: 'app' }).teams.emulator).toBe(false);
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

  it('caps renewed holds at twice HOLD_MINUTES unless HOLD_MAX_MINUTES says otherwise, never below HOLD_MINUTES', () => {
    expect(loadConfig({}).holdMaxMinutes).toBe(20);
    expect(loadConfig({ HOLD_MINUTES: '15' }).holdMaxMinutes).toBe(30);
    expect(loadConfig({ HOLD_MAX_MINUTES: '12' }).holdMaxMinutes).toBe(12);
    expect(() => loadConfig({ HOLD_MINUTES: '15', HOLD_MAX_MINUTES: '12' })).toThrow(/HOLD_MAX_MINUTES/);
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

  it('takes an SMTP server only with a sender, and the reminders\' times', () => {
    expect(() => loadConfig({ SMTP_URL: 'smtp://127.0.0.1:2525' })).toThrow(/MAIL_FROM/);
    expect(() => loadConfig({ SMTP_URL: 'http://mail.example' })).toThrow(/SMTP_URL/);
    expect(loadConfig({ SMTP_URL: 'smtps://u:p@mail.example:465', MAIL_FROM: 'City <no-reply@city.example>' }).mail).toEqual({ smtpUrl: 'smtps://u:p@mail.example:465', from: 'City <no-reply@city.example>' });
    expect(loadConfig({}).reminders).toEqual({ quiet: { from: '21:00', to: '08:00' }, dayBeforeAt: '10:00', dayOfMinutesBefore: 60, offerMinutes: 60 });
    expect(loadConfig({ QUIET_HOURS: '22:30-07:00', REMINDER_DAY_BEFORE_AT: '17:00', REMINDER_MINUTES_BEFORE: '30', WAITLIST_HOLD_MINUTES: '30' }).reminders).toEqual({
      quiet: { from: '22:30', to: '07:00' },
      dayBeforeAt: '17:00',
      dayOfMinutesBefore: 30,
      offerMinutes: 30,
    });
    expect(() => loadConfig({ QUIET_HOURS: '9pm-8am' })).toThrow(/QUIET_HOURS/);
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

/** The least a production start needs (the Redis is checked only by `createApp`). */
const PRODUCTION = { NODE_ENV: 'production', REDIS_URL: 'redis://127.0.0.1:6379', DATA_ENCRYPTION_KEY: TEST_DATA_KEY };

/** The ConfigError `loadConfig` throws for `env`, or a failure when it throws none. */
function refusal(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error('the configuration was accepted');
}

describe('production configuration', () => {
  it('is accepted with Redis and a data key: web chat off, no Teams emulator mode, persistence checked', () => {
    const config = loadConfig(PRODUCTION);
    expect(config).toMatchObject({ production: true, webchatEnabled: false, redisPersistenceCheck: true });
    expect(config.teams.emulator).toBe(false);
    expect(loadConfig({ ...PRODUCTION, WEBCHAT_ENABLED: 'true' }).webchatEnabled).toBe(true);
    expect(loadConfig({ ...PRODUCTION, REDIS_PERSISTENCE_CHECK: 'off' }).redisPersistenceCheck).toBe(false);
    expect(loadConfig({ ...PRODUCTION, TEAMS_UNAUTHENTICATED: 'false' }).production).toBe(true);
  });

  it('refuses the Teams emulator flag', () => {
    expect(refusal({ ...PRODUCTION, TEAMS_UNAUTHENTICATED: 'true' }).message).toMatch(/^invalid configuration: TEAMS_UNAUTHENTICATED: refused in production/);
    expect(refusal({ ...PRODUCTION, TEAMS_UNAUTHENTICATED: 'true', STAFF_TEAM_ID: 'team' }).message).toMatch(/TEAMS_UNAUTHENTICATED/);
  });

  it('requires a data encryption key', () => {
    const { DATA_ENCRYPTION_KEY: _, ...withoutKey } = PRODUCTION;
    expect(refusal(withoutKey).message).toMatch(/^invalid configuration: DATA_ENCRYPTION_KEY: required in production/);
    expect(refusal({ ...withoutKey, DATA_ENCRYPTION_KEY: ' ' }).message).toMatch(/DATA_ENCRYPTION_KEY/);
  });

  it('refuses the in-memory store', () => {
    const { REDIS_URL: _, ...withoutRedis } = PRODUCTION;
    expect(refusal(withoutRedis).message).toMatch(/^invalid configuration: REDIS_URL: required in production/);
  });

  it('says every refusal at once, one line each', () => {
    const lines = refusal({ NODE_ENV: 'production', TEAMS_UNAUTHENTICATED: 'true' }).message.split('\n');
    expect(lines).toHaveLength(3);
    expect(lines.map((l) => /^invalid configuration: (\w+):/.exec(l)?.[1])).toEqual(['TEAMS_UNAUTHENTICATED', 'DATA_ENCRYPTION_KEY', 'REDIS_URL']);
  });

  it('refuses an unknown NODE_ENV rather than running as development', () => {
    expect(refusal({ ...PRODUCTION, NODE_ENV: 'prod' }).message).toMatch(/NODE_ENV/);
    expect(refusal({ REDIS_PERSISTENCE_CHECK: 'no' }).message).toMatch(/REDIS_PERSISTENCE_CHECK/);
  });
});

describe('production start-up against a real redis-server', () => {
  let redis: RedisServer;
  let admin: Redis;
  const dir = mkdtempSync(join(tmpdir(), 'redis-aof-'));
  const start = (env: Record<string, string>) => createApp(loadConfig({ ...PRODUCTION, REDIS_URL: redis.url, REDIS_PREFIX: 'config-test:', ...env }), { log: createLogger('silent') });

  beforeAll(async () => {
    // Its append-only file, once turned on, goes to a directory of its own.
    redis = await startRedisServer({ dir });
    admin = new Redis(redis.url);
  });
  afterAll(async () => {
    await admin?.quit();
    await redis?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses a Redis without an append-only file, even when it saves snapshots', async () => {
    await admin.config('SET', 'appendonly', 'no');
    await admin.config('SET', 'save', '3600 1');
    const refused = start({});
    await expect(refused).rejects.toBeInstanceOf(ConfigError);
    await expect(refused).rejects.toThrow(/^invalid configuration: REDIS_URL: .*appendonly/);
    await admin.config('SET', 'save', '');
  });

  it('accepts it with appendonly yes', async () => {
    await admin.config('SET', 'appendonly', 'yes');
    const app = await start({});
    try {
      expect(app.store.kind).toBe('redis');
    } finally {
      await app.close();
      await admin.config('SET', 'appendonly', 'no');
    }
  });

  it('when CONFIG is refused, says to set REDIS_PERSISTENCE_CHECK=off, and starts with it', async () => {
    await admin.call('ACL', 'SETUSER', 'managed', 'on', '>managed-secret', '~*', '&*', '+@all', '-config');
    const managed = { REDIS_URL: redis.url.replace('redis://', 'redis://managed:managed-secret@') };
    const refused = start(managed);
    await expect(refused).rejects.toBeInstanceOf(ConfigError);
    await expect(refused).rejects.toThrow(/^invalid configuration: REDIS_PERSISTENCE_CHECK: .*REDIS_PERSISTENCE_CHECK=off$/);
    const app = await start({ ...managed, REDIS_PERSISTENCE_CHECK: 'off' });
    await app.close();
  });

  it('development does not check it', async () => {
    const app = await createApp(loadConfig({ REDIS_URL: redis.url, REDIS_PREFIX: 'config-test:' }), { log: createLogger('silent') });
    await app.close();
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
