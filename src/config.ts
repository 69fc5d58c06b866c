/**
 * The environment, parsed once with zod. Nothing else reads `process.env`.
 * `.env.example` documents every variable.
 */
import { z } from 'zod';
import type { FaqThresholds } from './services/faq.ts';
import { parseNodes, type RedisTarget } from './stores/connection.ts';
import type { LimitRules } from './limits.ts';
import type { LifecycleTimes } from './services/lifecycle.ts';

const flag = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');
const blankToUndefined = (v: unknown) => (typeof v === 'string' && v.trim() === '' ? undefined : v);

const envSchema = z.object({
  /** `production` refuses unsafe settings at start-up (see `productionProblems`); anything else is development. */
  NODE_ENV: z.preprocess(blankToUndefined, z.enum(['production', 'development', 'test']).default('development')),
  PORT: z.coerce.number().int().min(0).max(65535).default(3978),
  HOST: z.string().default('0.0.0.0'),
  REDIS_URL: z.preprocess(blankToUndefined, z.url({ protocol: /^rediss?$/ }).optional()),
  /** A Sentinel group instead of REDIS_URL: the sentinels (`host:port,…`) and the master's name. */
  REDIS_SENTINELS: z.preprocess(blankToUndefined, z.string().optional()),
  REDIS_SENTINEL_NAME: z.preprocess(blankToUndefined, z.string().regex(/^[\w.-]{1,64}$/).optional()),
  /** A Cluster instead of REDIS_URL: some of its nodes (`host:port,…`); the rest are discovered. */
  REDIS_CLUSTER_NODES: z.preprocess(blankToUndefined, z.string().optional()),
  /** The data nodes' password with REDIS_SENTINELS or REDIS_CLUSTER_NODES (REDIS_URL carries its own). */
  REDIS_PASSWORD: z.preprocess(blankToUndefined, z.string().optional()),
  /** The sentinels' own password, if they have one. */
  REDIS_SENTINEL_PASSWORD: z.preprocess(blankToUndefined, z.string().optional()),
  /** After each booking change, wait until this many replicas have it (`WAIT`); 0: do not wait. */
  REDIS_WAIT_REPLICAS: z.coerce.number().int().min(0).max(10).default(0),
  /** How long that wait may take (ms) before the booking is answered anyway (and logged). */
  REDIS_WAIT_TIMEOUT_MS: z.coerce.number().int().min(1).max(10_000).default(500),
  REDIS_PREFIX: z.string().regex(/^[\w:.-]{1,64}$/).default('citybot:'),
  /** `off` skips production's start-up check of the append-only file, for managed Redis where CONFIG is disabled. */
  REDIS_PERSISTENCE_CHECK: z.enum(['on', 'off']).default('on'),
  DATA_ENCRYPTION_KEY: z.preprocess(
    blankToUndefined,
    z
      .string()
      .refine((v) => Buffer.from(v, 'base64').length === 32, 'expected 32 bytes, base64-encoded (openssl rand -base64 32)')
      .optional(),
  ),
  CATALOG_FILE: z.preprocess(blankToUndefined, z.string().optional()),
  KNOWLEDGE_FILE: z.preprocess(blankToUndefined, z.string().optional()),
  // Where the matcher's bands split (0-1); the defaults come from `npm run eval:faq`'s sweep.
  FAQ_ANSWER_MIN: z.coerce.number().min(0).max(1).default(0.3),
  FAQ_ANSWER_MARGIN: z.coerce.number().min(0).max(1).default(0.06),
  FAQ_OFFER_MIN: z.coerce.number().min(0).max(1).default(0.175),
  INQUIRY_RETENTION_DAYS: z.coerce.number().int().min(1).max(3650).default(90),
  /** How many staff access audit entries are kept (the oldest are dropped beyond). */
  AUDIT_MAX_ENTRIES: z.coerce.number().int().min(1000).max(10_000_000).default(100_000),
  LINE_CHANNEL_SECRET: z.preprocess(blankToUndefined, z.string().optional()),
  LINE_CHANNEL_ACCESS_TOKEN: z.preprocess(blankToUndefined, z.string().optional()),
  LINE_API_BASE_URL: z.url().default('https://api.line.me'),
  /** LINE's host for uploads (rich menu images). */
  LINE_API_DATA_BASE_URL: z.url().default('https://api-data.line.me'),
  /** A LINE turn still running after this long shows the chat's loading animation. */
  LINE_LOADING_AFTER_MS: z.coerce.number().int().min(0).max(60_000).default(700),
  /** The Chromium that `npm run line:richmenu` draws the rich menu images with. */
  CHROMIUM_PATH: z.string().min(1).default('/usr/bin/chromium'),
  /** Past this age a reply token is not tried (LINE's limit is about one minute). */
  LINE_REPLY_TOKEN_MAX_AGE_SECONDS: z.coerce.number().int().min(0).max(60).default(50),
  /** On SIGTERM, how long turns and sends in flight may take before the process exits anyway. */
  SHUTDOWN_DEADLINE_SECONDS: z.coerce.number().min(0).max(120).default(10),
  /** Unset: on in development, off in production. */
  WEBCHAT_ENABLED: z.preprocess(blankToUndefined, flag.optional()),
  HOLD_MINUTES: z.coerce.number().int().min(1).max(60).default(10),
  /** Re-picking the same time renews a hold, up to this long after it was first taken. Unset: 2 × HOLD_MINUTES. */
  HOLD_MAX_MINUTES: z.coerce.number().int().min(1).max(120).optional(),
  // Abuse limits: turns per LINE user (counted with the conversation, src/engine.ts); and (see
  // src/limits.ts) turns per web chat conversation and per web chat address, new web chat
  // conversations per address, new tickets per user (urgent ones exempt).
  LINE_TURNS_PER_MINUTE: z.coerce.number().int().min(1).max(10_000).default(30),
  WEBCHAT_TURNS_PER_MINUTE: z.coerce.number().int().min(1).max(10_000).default(30),
  WEBCHAT_ADDRESS_TURNS_PER_MINUTE: z.coerce.number().int().min(1).max(100_000).default(120),
  WEBCHAT_NEW_CONVERSATIONS_PER_HOUR: z.coerce.number().int().min(1).max(100_000).default(20),
  TICKETS_PER_HOUR: z.coerce.number().int().min(1).max(1_000).default(3),
  IDLE_MINUTES: z.coerce.number().int().min(1).max(24 * 60).default(30),
  STATE_RETENTION_HOURS: z.coerce.number().int().min(1).max(24 * 30).default(24),
  BOOKING_RETENTION_DAYS: z.coerce.number().int().min(1).max(3650).default(30),
  LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error', 'silent']).default('info'),
  // Teams (Bot Framework). Without an app id, development takes unauthenticated activities
  // from loopback serviceUrls only (the local emulator); production refuses every one.
  MicrosoftAppId: z.preprocess(blankToUndefined, z.string().optional()),
  MicrosoftAppPassword: z.preprocess(blankToUndefined, z.string().optional()),
  MicrosoftAppType: z.preprocess(blankToUndefined, z.enum(['MultiTenant', 'SingleTenant', 'UserAssignedMSI']).optional()),
  MicrosoftAppTenantId: z.preprocess(blankToUndefined, z.string().optional()),
  /** Lets staff ids work without MicrosoftAppId: the local emulator and tests only (refused in production). */
  TEAMS_UNAUTHENTICATED: flag.default(false),
  STAFF_TEAM_ID: z.preprocess(blankToUndefined, z.string().optional()),
  STAFF_TENANT_ID: z.preprocess(blankToUndefined, z.string().optional()),
  /** The contact center's team; unset: the staff team is also the contact center. */
  CONTACT_CENTER_TEAM_ID: z.preprocess(blankToUndefined, z.string().optional()),
  /** Signs the short-lived links of staff reports (CSV export); unset: a random secret per process. */
  REPORT_LINK_SECRET: z.preprocess(blankToUndefined, z.string().min(32).optional()),
  /**
   * Lets an office without Teams download its list of bookings (`GET /reports/bookings.csv`
   * with `Authorization: Bearer <token>`); at least 32 characters. Unset: signed Teams links only.
   */
  REPORTS_TOKEN: z.preprocess(blankToUndefined, z.string().min(32).optional()),
  /**
   * Prometheus' scrape (`GET /metrics`): on the main port only with `Authorization: Bearer
   * <METRICS_TOKEN>` (at least 32 characters); unset, the main port does not serve it.
   */
  METRICS_TOKEN: z.preprocess(blankToUndefined, z.string().min(32).optional()),
  /** A second listener that serves `/metrics` only (asking for METRICS_TOKEN too, when set); unset: none. */
  METRICS_PORT: z.preprocess(blankToUndefined, z.coerce.number().int().min(0).max(65535).optional()),
  /** Where that listener binds; production refuses one off loopback without METRICS_TOKEN. */
  METRICS_HOST: z.string().min(1).default('127.0.0.1'),
  /** Where browsers reach the bot (`https://bot.example.jp`), for links in staff replies; unset: the Teams request's host. */
  PUBLIC_BASE_URL: z.preprocess(blankToUndefined, z.url({ protocol: /^https?$/ }).optional()),
  // Other places staff hear of tickets.
  STAFF_LINE_GROUP_ID: z.preprocess(blankToUndefined, z.string().optional()),
  STAFF_WEBHOOK_URL: z.preprocess(blankToUndefined, z.url().optional()),
  STAFF_WEBHOOK_SECRET: z.preprocess(blankToUndefined, z.string().min(16).optional()),
  // Email after a booking. Without SMTP_URL nothing is sent (start-up says so; the log names each message by id only).
  SMTP_URL: z.preprocess(blankToUndefined, z.url({ protocol: /^smtps?$/ }).optional()),
  MAIL_FROM: z.preprocess(blankToUndefined, z.string().min(3).optional()),
  /** No reminder is sent between these JST times (`21:00-08:00`); one due then moves to the edge. */
  QUIET_HOURS: z.string().regex(/^([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-3]):[0-5]\d$/).default('21:00-08:00'),
  /** When the day-before invitation goes (JST). */
  REMINDER_DAY_BEFORE_AT: z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/).default('10:00'),
  /** How long before the appointment the reminder of the day goes. */
  REMINDER_MINUTES_BEFORE: z.coerce.number().int().min(10).max(12 * 60).default(60),
  /** How long a freed time is held for the first person on a session's waitlist. */
  WAITLIST_HOLD_MINUTES: z.coerce.number().int().min(10).max(24 * 60).default(60),
});

/** Parsed configuration, with units in the names. */
export interface Config {
  /** `NODE_ENV=production`: unsafe settings were refused, and the Redis persistence is checked at start-up. */
  production: boolean;
  port: number;
  host: string;
  /** Where Redis is: one node, a Sentinel group or a Cluster; unset: the in-memory store. */
  redis?: RedisTarget;
  /** Replicas each booking change waits for (`WAIT`), and for how long at most. */
  redisWait: { replicas: number; timeoutMs: number };
  redisPrefix: string;
  /** In production, start-up requires the Redis to keep an append-only file (`REDIS_PERSISTENCE_CHECK=off` skips it). */
  redisPersistenceCheck: boolean;
  /** Key (base64, 32 bytes) that seals personal data in Redis. */
  dataEncryptionKey?: string;
  catalogFile?: string;
  knowledgeFile?: string;
  /** Where the question matcher's bands split. */
  faq: FaqThresholds;
  /** Days after a ticket closes that the citizen's question text is kept. */
  inquiryRetentionDays: number;
  /** How many staff access audit entries the store keeps. */
  auditMaxEntries: number;
  line: {
    channelSecret?: string;
    channelAccessToken?: string;
    apiBaseUrl: string;
    apiDataBaseUrl: string;
    replyTokenMaxAgeMs: number;
    loadingAfterMs: number;
    /** Turns per LINE user per minute, counted with the conversation (src/engine.ts), not by src/limits.ts. */
    turnsPerMinute: number;
  };
  /** Chromium, for drawing the rich menu images (`npm run line:richmenu`; the bot itself never starts it). */
  chromiumPath: string;
  /** How long `close()` waits for turns and sends in flight. */
  shutdownDeadlineMs: number;
  webchatEnabled: boolean;
  holdMinutes: number;
  /** How long after it was first taken a hold may be renewed to. */
  holdMaxMinutes: number;
  /** Abuse limits per user and address (src/limits.ts). */
  limits: LimitRules;
  idleMs: number;
  retentionMs: number;
  /** Days after its session that a booking (with contact details) is kept. */
  bookingRetentionDays: number;
  logLevel: 'debug' | 'info' | 'warn' | 'error' | 'silent';
  teams: {
    appId?: string;
    appPassword?: string;
    appType?: string;
    tenantId?: string;
    staffTeamId?: string;
    staffTenantId?: string;
    /** The contact center's team; unset: the staff team is also the contact center. */
    contactCenterTeamId?: string;
    /**
     * No app id in development: unauthenticated activities are taken from loopback
     * serviceUrls only (the local emulator, the tests' stub connector). In production, or
     * with an app id, false: every request needs a valid Bot Framework token.
     */
    emulator: boolean;
  };
  /** Secret of the signed report links (at least 32 characters); unset: random per process. */
  reportLinkSecret?: string;
  /** Bearer token of the bookings CSV for offices without Teams; unset: no token access. */
  reportsToken?: string;
  /** `/metrics`: its bearer token, and the listener of its own (`port`, on `host`) if any. */
  metrics: { token?: string; port?: number; host: string };
  /** The bot's public origin for links in staff replies, without a trailing slash. */
  publicBaseUrl?: string;
  staff: { lineGroupId?: string; webhookUrl?: string; webhookSecret?: string };
  mail: { smtpUrl?: string; from?: string };
  /** The messages after a booking (src/services/lifecycle.ts). */
  reminders: LifecycleTimes;
}

/** Copies the defined entries only (the config types use optional fields, not `undefined`). */
function defined<T extends Record<string, unknown>>(o: T): { [K in keyof T]?: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as { [K in keyof T]?: Exclude<T[K], undefined> };
}

/** Thrown with every invalid variable named, so start-up can stop with a clear message. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

type ParsedEnv = z.infer<typeof envSchema>;

/** What production refuses, one line each: settings that expose citizens' data or lose it on a restart. */
function productionProblems(e: ParsedEnv): string[] {
  const problems: string[] = [];
  if (e.TEAMS_UNAUTHENTICATED) {
    problems.push('TEAMS_UNAUTHENTICATED: refused in production (the emulator mode is for development only): set MicrosoftAppId and its credentials instead');
  }
  if (!e.DATA_ENCRYPTION_KEY) {
    problems.push('DATA_ENCRYPTION_KEY: required in production, to seal personal data in Redis (openssl rand -base64 32)');
  }
  if (!e.REDIS_URL && !e.REDIS_SENTINELS && !e.REDIS_CLUSTER_NODES) {
    problems.push('REDIS_URL: required in production, or REDIS_SENTINELS or REDIS_CLUSTER_NODES (the in-memory store loses every booking and conversation on restart)');
  }
  if (e.METRICS_PORT !== undefined && !e.METRICS_TOKEN && !['127.0.0.1', '::1', 'localhost'].includes(e.METRICS_HOST)) {
    problems.push('METRICS_HOST: a metrics listener off loopback needs METRICS_TOKEN in production (or METRICS_HOST=127.0.0.1 behind a local agent)');
  }
  return problems;
}

/** The Redis deployment named by the environment: at most one of the three ways. */
function redisTarget(e: ParsedEnv): RedisTarget | undefined {
  const given = [e.REDIS_URL && 'REDIS_URL', e.REDIS_SENTINELS && 'REDIS_SENTINELS', e.REDIS_CLUSTER_NODES && 'REDIS_CLUSTER_NODES'].filter(Boolean);
  if (given.length > 1) throw new ConfigError(`invalid configuration: ${given.join(', ')}: set only one of them`);
  const nodes = (name: string, list: string) => {
    try {
      const parsed = parseNodes(list);
      if (parsed.length === 0) throw new Error('no node given');
      return parsed;
    } catch (error) {
      throw new ConfigError(`invalid configuration: ${name}: ${(error as Error).message}`);
    }
  };
  const password = e.REDIS_PASSWORD ? { password: e.REDIS_PASSWORD } : {};
  if (e.REDIS_URL) return { kind: 'single', url: e.REDIS_URL };
  if (e.REDIS_SENTINELS) {
    if (!e.REDIS_SENTINEL_NAME) throw new ConfigError('invalid configuration: REDIS_SENTINEL_NAME: required with REDIS_SENTINELS (the name the sentinels monitor the master by)');
    return {
      kind: 'sentinel',
      sentinels: nodes('REDIS_SENTINELS', e.REDIS_SENTINELS),
      name: e.REDIS_SENTINEL_NAME,
      ...password,
      ...(e.REDIS_SENTINEL_PASSWORD ? { sentinelPassword: e.REDIS_SENTINEL_PASSWORD } : {}),
    };
  }
  if (e.REDIS_CLUSTER_NODES) return { kind: 'cluster', nodes: nodes('REDIS_CLUSTER_NODES', e.REDIS_CLUSTER_NODES), ...password };
  return undefined;
}

/** Parses the environment (`process.env` by default). */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`invalid configuration: ${problems.join('; ')}`);
  }
  const e = parsed.data;
  // Unauthenticated, the staff team and tenant ids are whatever a request claims: anyone
  // could read bookings' contact details or take over the staff channel.
  if ((e.STAFF_TEAM_ID || e.STAFF_TENANT_ID || e.CONTACT_CENTER_TEAM_ID) && !e.MicrosoftAppId && !e.TEAMS_UNAUTHENTICATED) {
    throw new ConfigError(
      'invalid configuration: MicrosoftAppId: required when STAFF_TEAM_ID, CONTACT_CENTER_TEAM_ID or STAFF_TENANT_ID is set (TEAMS_UNAUTHENTICATED=true only for the local emulator)',
    );
  }
  if (e.HOLD_MAX_MINUTES !== undefined && e.HOLD_MAX_MINUTES < e.HOLD_MINUTES) {
    throw new ConfigError('invalid configuration: HOLD_MAX_MINUTES: must be at least HOLD_MINUTES');
  }
  if (e.SMTP_URL && !e.MAIL_FROM) {
    throw new ConfigError('invalid configuration: MAIL_FROM: required when SMTP_URL is set (e.g. "Kawasaki City <no-reply@city.kawasaki.jp>")');
  }
  if (e.STAFF_WEBHOOK_URL && !e.STAFF_WEBHOOK_SECRET) {
    throw new ConfigError('invalid configuration: STAFF_WEBHOOK_SECRET: required when STAFF_WEBHOOK_URL is set');
  }
  const redis = redisTarget(e);
  const production = e.NODE_ENV === 'production';
  const refused = production ? productionProblems(e) : [];
  if (refused.length > 0) throw new ConfigError(refused.map((p) => `invalid configuration: ${p}`).join('\n'));
  return {
    production,
    port: e.PORT,
    host: e.HOST,
    ...(redis ? { redis } : {}),
    redisWait: { replicas: e.REDIS_WAIT_REPLICAS, timeoutMs: e.REDIS_WAIT_TIMEOUT_MS },
    redisPrefix: e.REDIS_PREFIX,
    redisPersistenceCheck: e.REDIS_PERSISTENCE_CHECK === 'on',
    ...(e.DATA_ENCRYPTION_KEY ? { dataEncryptionKey: e.DATA_ENCRYPTION_KEY } : {}),
    ...(e.CATALOG_FILE ? { catalogFile: e.CATALOG_FILE } : {}),
    ...(e.KNOWLEDGE_FILE ? { knowledgeFile: e.KNOWLEDGE_FILE } : {}),
    faq: { answer: e.FAQ_ANSWER_MIN, margin: e.FAQ_ANSWER_MARGIN, offer: e.FAQ_OFFER_MIN },
    inquiryRetentionDays: e.INQUIRY_RETENTION_DAYS,
    auditMaxEntries: e.AUDIT_MAX_ENTRIES,
    line: {
      ...(e.LINE_CHANNEL_SECRET ? { channelSecret: e.LINE_CHANNEL_SECRET } : {}),
      ...(e.LINE_CHANNEL_ACCESS_TOKEN ? { channelAccessToken: e.LINE_CHANNEL_ACCESS_TOKEN } : {}),
      apiBaseUrl: e.LINE_API_BASE_URL,
      apiDataBaseUrl: e.LINE_API_DATA_BASE_URL,
      replyTokenMaxAgeMs: e.LINE_REPLY_TOKEN_MAX_AGE_SECONDS * 1000,
      loadingAfterMs: e.LINE_LOADING_AFTER_MS,
      turnsPerMinute: e.LINE_TURNS_PER_MINUTE,
    },
    chromiumPath: e.CHROMIUM_PATH,
    shutdownDeadlineMs: e.SHUTDOWN_DEADLINE_SECONDS * 1000,
    // The web chat needs no account: in production it is served only when asked for.
    webchatEnabled: e.WEBCHAT_ENABLED ?? !production,
    holdMinutes: e.HOLD_MINUTES,
    holdMaxMinutes: e.HOLD_MAX_MINUTES ?? 2 * e.HOLD_MINUTES,
    limits: {
      webchatConversation: { points: e.WEBCHAT_TURNS_PER_MINUTE, seconds: 60 },
      webchatAddress: { points: e.WEBCHAT_ADDRESS_TURNS_PER_MINUTE, seconds: 60 },
      webchatNewConversation: { points: e.WEBCHAT_NEW_CONVERSATIONS_PER_HOUR, seconds: 3_600 },
      tickets: { points: e.TICKETS_PER_HOUR, seconds: 3_600 },
    },
    idleMs: e.IDLE_MINUTES * 60_000,
    retentionMs: e.STATE_RETENTION_HOURS * 3_600_000,
    bookingRetentionDays: e.BOOKING_RETENTION_DAYS,
    logLevel: e.LOG_LEVEL,
    teams: {
      ...defined({
        appId: e.MicrosoftAppId,
        appPassword: e.MicrosoftAppPassword,
        appType: e.MicrosoftAppType,
        tenantId: e.MicrosoftAppTenantId,
        staffTeamId: e.STAFF_TEAM_ID,
        staffTenantId: e.STAFF_TENANT_ID,
        contactCenterTeamId: e.CONTACT_CENTER_TEAM_ID,
      }),
      emulator: !production && !e.MicrosoftAppId,
    },
    ...(e.REPORT_LINK_SECRET ? { reportLinkSecret: e.REPORT_LINK_SECRET } : {}),
    ...(e.REPORTS_TOKEN ? { reportsToken: e.REPORTS_TOKEN } : {}),
    metrics: { ...defined({ token: e.METRICS_TOKEN, port: e.METRICS_PORT }), host: e.METRICS_HOST },
    ...(e.PUBLIC_BASE_URL ? { publicBaseUrl: e.PUBLIC_BASE_URL.replace(/\/+$/, '') } : {}),
    staff: defined({ lineGroupId: e.STAFF_LINE_GROUP_ID, webhookUrl: e.STAFF_WEBHOOK_URL, webhookSecret: e.STAFF_WEBHOOK_SECRET }),
    mail: defined({ smtpUrl: e.SMTP_URL, from: e.MAIL_FROM }),
    reminders: {
      quiet: { from: e.QUIET_HOURS.slice(0, 5), to: e.QUIET_HOURS.slice(6) },
      dayBeforeAt: e.REMINDER_DAY_BEFORE_AT,
      dayOfMinutesBefore: e.REMINDER_MINUTES_BEFORE,
      offerMinutes: e.WAITLIST_HOLD_MINUTES,
    },
  };
}
