/**
 * The composition root: builds the store, services, engine and channels from a parsed
 * config and mounts the routes. Nothing below it reads the environment.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DateTime } from 'luxon';
import restify from 'restify';
import { describeStep } from '../dialogs/journeys.ts';
import { LineApiClient } from './channels/line/client.ts';
import { LineMessenger } from './channels/line/messenger.ts';
import { LinePusher } from './channels/line/push.ts';
import { RichMenuLinker } from './channels/line/richmenu.ts';
import { LineSender } from './channels/line/sender.ts';
import { mountLineWebhook } from './channels/line/webhook.ts';
import { createTeamsChannel } from './channels/teams/index.ts';
import { addressKeyOf, mountWebchat } from './channels/webchat/index.ts';
import { type Outbox, WebchatOutbox } from './channels/webchat/outbox.ts';
import { RedisWebchatOutbox } from './channels/webchat/redisOutbox.ts';
import { type Config, ConfigError } from './config.ts';
import { ZONE } from './domain.ts';
import { TurnEngine, type TurnRequest } from './engine.ts';
import { createLimits } from './limits.ts';
import { createLogger, errorFields, type Logger } from './log.ts';
import { Metrics, metricsRoute } from './metrics.ts';
import { CATALOG_FILE, type Catalog, loadCatalog, sessionById } from './services/catalog.ts';
import { createDialogServices, questionBrain, translator } from './services/index.ts';
import { BOOKINGS_CSV_PATH, bookingsCsv, ReportLinks, UNANSWERED_CSV_PATH, unansweredCsv } from './services/reports.ts';
import { isIsoDate } from './services/calendar.ts';
import type { CitizenMessenger, StaffDesk, StaffNotifier } from './services/staff.ts';
import { FanoutNotifier } from './notifiers/fanout.ts';
import { LineGroupNotifier } from './notifiers/lineGroup.ts';
import { WebhookNotifier } from './notifiers/webhook.ts';
import { createMemoryStore } from './stores/memory.ts';
import type { Store } from './stores/ports.ts';
import { createRedisClient, type RedisTarget } from './stores/connection.ts';
import { appendOnlyOf, createRedisStore } from './stores/redis.ts';
import { createSealer } from './stores/sealing.ts';
import { StaffDeskService } from './staffDesk.ts';
import { BullJobQueue } from './jobs/bullmq.ts';
import { type JobQueue, MemoryJobQueue } from './jobs/queue.ts';
import { createMailer } from './mail/mailer.ts';
import { BookingLifecycle } from './services/lifecycle.ts';
import type { DialogServices } from './turn.ts';

/** Parts a test (or another host) may supply instead of the defaults. */
export interface AppOverrides {
  store?: Store;
  catalog?: Catalog;
  log?: Logger;
  now?: () => number;
  /** Wait between LINE push retries (ms). */
  lineRetryDelayMs?: number;
  /** First wait between staff webhook retries (ms). */
  webhookRetryDelayMs?: number;
  /** How often the LINE outboxes are swept (ms); tests that move the clock by hand set it long. */
  lineSweepEveryMs?: number;
  /** Longest wait for a LINE user's profile (ms). */
  lineProfileTimeoutMs?: number;
}

/** How often this process renews its mark in the store (what it saved but never sent is another's to send once the mark lapses). */
const HEARTBEAT_MS = 1_000;

/** How often moves across sessions cut short are looked for (and once at start). */
const RECONCILE_EVERY_MS = 60_000;

/** How often closed inquiry tickets past their retention are purged (and once at start). */
const PURGE_EVERY_MS = 60 * 60_000;

export interface App {
  server: restify.Server;
  engine: TurnEngine;
  desk: StaffDesk;
  store: Store;
  catalog: Catalog;
  /** Starts listening (and the metrics listener, when METRICS_PORT is set); resolves with the bound port (use 0 for an ephemeral one). */
  listen(port: number, host?: string): Promise<number>;
  /** The metrics listener's bound port, once listening; undefined without one. */
  metricsPort(): number | undefined;
  close(): Promise<void>;
}

/**
 * Production's start-up check that Redis keeps an append-only file: without one, a restart of
 * Redis loses the bookings confirmed since its last snapshot. Throws a ConfigError saying what to set.
 */
async function requireAppendOnly(target: RedisTarget): Promise<void> {
  const appendOnly = await appendOnlyOf(target);
  if (appendOnly === 'refused') {
    throw new ConfigError(
      'invalid configuration: REDIS_PERSISTENCE_CHECK: this Redis refuses CONFIG GET, so its persistence cannot be checked: make sure it keeps an append-only file (appendonly yes), then set REDIS_PERSISTENCE_CHECK=off',
    );
  }
  if (appendOnly === 'no') {
    throw new ConfigError(
      'invalid configuration: REDIS_URL: this Redis keeps no append-only file (CONFIG GET appendonly is no), so a restart loses confirmed bookings: set appendonly yes (appendfsync everysec)',
    );
  }
}

/** The Redis store, sealing personal data when a key is configured (and saying when it is not). */
async function redisStore(config: Config, target: RedisTarget, log: Logger): Promise<Store> {
  if (config.production && config.redisPersistenceCheck) await requireAppendOnly(target);
  if (config.production && !config.redisPersistenceCheck) log.warn('store.persistence_unchecked', { note: 'persistence-check-off:the-provider-must-keep-redis-persistent' });
  if (!config.dataEncryptionKey) log.warn('store.unsealed', { note: 'set-DATA_ENCRYPTION_KEY-to-encrypt-personal-data-at-rest' });
  return createRedisStore({
    target,
    prefix: config.redisPrefix,
    wait: config.redisWait,
    onWaitShort: (acked) => log.warn('redis.replicas_short', { acked, wanted: config.redisWait.replicas }),
    auditCap: config.auditMaxEntries,
    onError: (err) => log.warn('redis.connection', errorFields(err)),
    ...(config.dataEncryptionKey ? { sealer: createSealer(config.dataEncryptionKey) } : {}),
  });
}

/** Compares secrets in constant time (lengths may differ). */
function safeEqual(given: string, expected: string): boolean {
  const [a, b] = [createHash('sha256').update(given).digest(), createHash('sha256').update(expected).digest()];
  return timingSafeEqual(a, b);
}

/** Builds the application. Throws (DataFileError, ConfigError) when it cannot start. */
export async function createApp(config: Config, overrides: AppOverrides = {}): Promise<App> {
  const log = overrides.log ?? createLogger(config.logLevel);
  const now = overrides.now ?? Date.now;
  const catalog = overrides.catalog ?? loadCatalog(config.catalogFile ?? CATALOG_FILE);
  const store = overrides.store ?? (config.redis ? await redisStore(config, config.redis, log) : createMemoryStore({ auditCap: config.auditMaxEntries }));
  if (store.kind === 'memory') log.warn('store.memory', { persistent: false, note: 'in-process-store:state-is-lost-on-restart' });
  // This app's counters, on a registry of its own.
  const metrics = new Metrics();
  metrics.watchTickets(() => store.tickets.listOpen());

  // Staff hear of tickets in Teams, and optionally in a LINE group and through a webhook.
  const { channelSecret, channelAccessToken } = config.line;
  const lineRetry = overrides.lineRetryDelayMs !== undefined ? { retryDelayMs: overrides.lineRetryDelayMs } : {};
  // One pusher for every push to LINE: late replies, staff messages, the staff group.
  const pusher = channelAccessToken ? new LinePusher({ channelAccessToken, apiBaseUrl: config.line.apiBaseUrl, log, metrics, ...lineRetry }) : undefined;

  const brain = questionBrain(config.faq, config.knowledgeFile);
  const teams = createTeamsChannel({
    ...config.teams,
    ...(config.publicBaseUrl ? { publicBaseUrl: config.publicBaseUrl } : {}),
    channels: store.channels,
    audit: store.audit,
    dedupe: store.dedupe,
    log,
    metrics,
    now,
    describeStep: (step, locale) => describeStep(step, translator(locale)),
    entry: (id) => brain.matcher.get(id),
  });
  const notifiers: StaffNotifier[] = [teams.notifier];
  if (config.staff.lineGroupId && pusher) notifiers.push(new LineGroupNotifier({ groupId: config.staff.lineGroupId, pusher }));
  if (config.staff.webhookUrl && config.staff.webhookSecret) {
    notifiers.push(new WebhookNotifier({ url: config.staff.webhookUrl, secret: config.staff.webhookSecret, log, ...(overrides.webhookRetryDelayMs !== undefined ? { baseDelayMs: overrides.webhookRetryDelayMs } : {}) }));
  }
  const notifier = new FanoutNotifier(notifiers, { log });
  // Abuse limits count in the store's Redis (on a connection of their own), so they hold across instances.
  const limitsRedis = store.kind === 'redis' && config.redis ? createRedisClient(config.redis, { lazyConnect: true, enableAutoPipelining: true, enableOfflineQueue: false, maxRetriesPerRequest: 1, commandTimeout: 1_500 }) : undefined;
  limitsRedis?.on('error', (err: Error) => log.warn('limits.redis_connection', errorFields(err)));
  await limitsRedis?.connect();
  const limits = createLimits({ rules: config.limits, prefix: config.redisPrefix, log, ...(limitsRedis ? { redis: limitsRedis } : {}) });

  // The messages after a booking: jobs on Redis (every instance runs them, each once), or in this process.
  const mailer = createMailer({ ...config.mail, log });
  if (!mailer.configured) log.warn('mail.not_configured', { note: 'no-SMTP_URL:emails-are-logged-by-id-not-sent' });
  const jobs: JobQueue = store.kind === 'redis' && config.redis ? new BullJobQueue({ target: config.redis, prefix: config.redisPrefix, now, log }) : new MemoryJobQueue({ now, log });
  metrics.watchQueues({ lifecycle: () => jobs.counts() });
  const lifecycle = new BookingLifecycle({
    catalog,
    jobs,
    bookings: store.bookings,
    optOuts: store.optOuts,
    meetingLinks: store.meetingLinks,
    mailer,
    ...(pusher ? { line: new LineMessenger({ pusher }) } : {}),
    staff: { notifier, dedupe: store.dedupe },
    times: config.reminders,
    log,
    now,
    // Called once jobs run, by which time the engine below exists.
    localeOf: async (userKey) => (await engine.localeOf(userKey)) ?? 'ja',
  });

  const services: DialogServices = createDialogServices({ store, catalog, holdMinutes: config.holdMinutes, holdMaxMinutes: config.holdMaxMinutes, bookingRetentionDays: config.bookingRetentionDays, log, notifier, limits, brain, bookingEvents: lifecycle, metrics });
  const engine = new TurnEngine({
    store,
    services,
    log,
    now,
    idleMs: config.idleMs,
    retentionMs: config.retentionMs,
    heartbeatMs: HEARTBEAT_MS,
    metrics,
  });

  const server = restify.createServer({ name: 'kawasaki-city-bot', handleUncaughtExceptions: false });
  // Set by close(): a request still arriving (on a kept-alive connection) is turned away.
  let closing = false;
  server.pre((_req, res, next) => {
    if (!closing) return next();
    res.send(503, { error: 'shutting down' }, { connection: 'close' });
    return next(false);
  });
  server.on('restifyError', (_req, _res, err, callback) => {
    // A request for a path or method that does not exist (a prober, a typo) is the caller's
    // mistake, not the bot's: a warning, so that errors stay the bot's own failures.
    const status = (err as { statusCode?: unknown }).statusCode;
    if (typeof status === 'number' && status >= 400 && status < 500) log.warn('http.client_error', { ...errorFields(err), status });
    else log.error('http.error', errorFields(err));
    callback();
  });

  // Prometheus' scrape: on this (public) port only with METRICS_TOKEN; else on METRICS_PORT alone (see listen).
  const scrape = metricsRoute(metrics, config.metrics.token);
  if (config.metrics.token) server.get('/metrics', async (req, res) => scrape(req, res));
  let metricsServer: HttpServer | undefined;

  server.get('/healthz', async (_req, res) => {
    res.send(200, { status: 'ok' });
  });
  // Only the store decides readiness; a broken staff channel is shown, not fatal: tickets wait.
  server.get('/readyz', async (_req, res) => {
    const details = async () => ({
      staffChannel: await teams.health('office').catch(() => 'unknown'),
      // `unregistered` is no fault here: the contact center's cards then go to the staff channel.
      contactCenterChannel: await teams.health('contact_center').catch(() => 'unknown'),
      notifiers: await notifier.status(),
    });
    try {
      await store.ping();
      res.send(200, { status: 'ok', store: store.kind, ...(await details()) });
    } catch (err) {
      log.warn('readyz.store_unreachable', errorFields(err));
      res.send(503, { status: 'unavailable', store: store.kind });
    }
  });

  // Staff reach citizens outside a webhook turn: LINE by push, the web chat through its outbox,
  // in the store's Redis (on the limits' connection) when there is one, so any instance answers a poll.
  const sealing = config.dataEncryptionKey ? { sealer: createSealer(config.dataEncryptionKey) } : {};
  const webchatOutbox = (): Outbox => (limitsRedis ? new RedisWebchatOutbox({ redis: limitsRedis, prefix: config.redisPrefix, ...sealing }) : new WebchatOutbox());
  const outbox = config.webchatEnabled ? webchatOutbox() : undefined;
  const messengers: CitizenMessenger[] = [];
  if (pusher) messengers.push(new LineMessenger({ pusher }));
  if (outbox) messengers.push(outbox);
  const runTurn = (request: TurnRequest) => engine.run(request);
  const delivered = (conversationKey: string, eventId: string) => engine.delivered(conversationKey, eventId);
  const desk = new StaffDeskService({ store, catalog, notifier, knowledge: services.knowledge, runTurn, delivered, messengers, log, bookingEvents: lifecycle });
  if (!config.reportLinkSecret) log.warn('reports.random_link_secret', { note: 'set-REPORT_LINK_SECRET-when-several-instances-serve-the-bot' });
  const reportLinks = new ReportLinks(config.reportLinkSecret, now);
  teams.mount(server, {
    desk,
    runTurn,
    unansweredCsvUrl: (origin, staffId) => reportLinks.url(origin, UNANSWERED_CSV_PATH, staffId),
    bookingsCsvUrl: (origin, staffId, target) => reportLinks.url(origin, BOOKINGS_CSV_PATH, staffId, target),
  });

  // The office's list of a date's or a session's bookings: a signed link from Teams (audited as
  // the staff member's), or the office's bearer token (REPORTS_TOKEN), audited as `token:reports`.
  server.get(BOOKINGS_CSV_PATH, async (req, res) => {
    const query = new URL(req.url ?? '/', 'http://bot').searchParams;
    res.setHeader('Cache-Control', 'no-store');
    const target = query.get('target') ?? '';
    const by = query.get('by') ?? undefined;
    const bearer = /^Bearer (.+)$/.exec(req.header('authorization') ?? '')?.[1];
    const byToken = bearer !== undefined && config.reportsToken !== undefined && safeEqual(bearer, config.reportsToken);
    const byLink = by !== undefined && reportLinks.verify(BOOKINGS_CSV_PATH, query.get('exp') ?? undefined, query.get('sig') ?? undefined, by, target);
    if (!byToken && !byLink) {
      log.warn('reports.link_refused', { report: 'bookings', token: bearer !== undefined });
      res.send(bearer !== undefined ? 401 : 403, { error: 'this link is not valid or has expired: ask the bot for a new one' });
      return;
    }
    const staffId = byToken ? 'token:reports' : by!;
    let bookings;
    if (isIsoDate(target)) bookings = await desk.bookingsOn(target, staffId, 'exported');
    else if (sessionById(catalog, target)) bookings = await desk.bookingsOf(target, staffId, 'exported');
    else {
      res.send(400, { error: 'target: a date (YYYY-MM-DD) or a session id of the catalog' });
      return;
    }
    const body = Buffer.from(bookingsCsv(bookings, catalog, translator('ja'), 'ja'), 'utf8');
    log.info('reports.downloaded', { report: 'bookings', rows: bookings.length });
    res.writeHead(200, {
      'Content-Type': 'text/csv; charset=utf-8',
      'Content-Disposition': `attachment; filename="bookings-${target}.csv"`,
      'Content-Length': body.length,
    });
    res.end(body);
  });

  // The questions citizens asked, for staff who follow a signed link from Teams (10 minutes).
  server.get(UNANSWERED_CSV_PATH, async (req, res) => {
    const query = new URL(req.url ?? '/', 'http://bot').searchParams;
    res.setHeader('Cache-Control', 'no-store');
    const by = query.get('by') ?? undefined;
    if (by === undefined || !reportLinks.verify(UNANSWERED_CSV_PATH, query.get('exp') ?? undefined, query.get('sig') ?? undefined, by)) {
      log.warn('reports.link_refused', { report: 'unanswered' });
      res.send(403, { error: 'this link is not valid or has expired: ask the bot for a new one' });
      return;
    }
    const report = await desk.unanswered(by, 'exported');
    const body = Buffer.from(unansweredCsv(report), 'utf8');
    log.info('reports.downloaded', { report: 'unanswered', questions: report.total });
    res.writeHead(200, {
      'Content-Type': 'text/csv; charset=utf-8',
      'Content-Disposition': 'attachment; filename="unanswered.csv"',
      'Content-Length': body.length,
    });
    res.end(body);
  });

  // What citizens asked is kept INQUIRY_RETENTION_DAYS after their ticket closes, then forgotten.
  const purge = () => {
    store.tickets
      .purgeClosed(now() - config.inquiryRetentionDays * 86_400_000)
      .then((count) => log.info('tickets.purged', { count }))
      .catch((err) => log.warn('tickets.purge_failed', errorFields(err)));
  };
  purge();
  const purgeTimer = setInterval(purge, PURGE_EVERY_MS);
  purgeTimer.unref();
  // A move to another session cut short by a crash is finished (or dropped) here.
  const reconcile = () => {
    services.bookings
      .reconcileMoves(DateTime.fromMillis(now(), { zone: ZONE }))
      .then((count) => count > 0 && log.warn('bookings.moves_finished', { count }))
      .catch((err) => log.warn('bookings.reconcile_failed', errorFields(err)));
  };
  reconcile();
  const reconcileTimer = setInterval(reconcile, RECONCILE_EVERY_MS);
  reconcileTimer.unref();

  const line = mountLineWebhook(server, {
    ...(channelSecret ? { channelSecret } : {}),
    ...(channelAccessToken && pusher
      ? {
          sender: new LineSender({ channelAccessToken, apiBaseUrl: config.line.apiBaseUrl, log, pusher, metrics, ...(overrides.lineProfileTimeoutMs !== undefined ? { profileTimeoutMs: overrides.lineProfileTimeoutMs } : {}) }),
          richMenus: new RichMenuLinker({ client: new LineApiClient({ channelAccessToken, baseURL: config.line.apiBaseUrl }), log, now }),
        }
      : {}),
    loadingAfterMs: config.line.loadingAfterMs,
    engine,
    turnLimit: { turns: config.line.turnsPerMinute, windowMs: 60_000 },
    log,
    now,
    replyTokenMaxAgeMs: config.line.replyTokenMaxAgeMs,
    ...(overrides.lineSweepEveryMs !== undefined ? { sweepEveryMs: overrides.lineSweepEveryMs } : {}),
    // Blocking the account (unfollow) stops the reminders; following again resumes them.
    following: (userKey, follows) => (follows ? store.optOuts.remove(userKey) : store.optOuts.add(userKey)),
  });
  jobs.start(lifecycle.handler, lifecycle.gaveUp);
  if (outbox) mountWebchat(server, { engine, limits, log, outbox, addressKey: addressKeyOf(config.dataEncryptionKey) });

  return {
    server,
    engine,
    desk,
    store,
    catalog,
    listen: async (port, host = config.host) => {
      const { port: metricsPort, host: metricsHost } = config.metrics;
      if (metricsPort !== undefined && !metricsServer) {
        const only = createServer((req, res) => {
          if (req.method === 'GET' && req.url?.split('?')[0] === '/metrics') void scrape(req, res);
          else {
            res.statusCode = 404;
            res.end();
          }
        });
        await new Promise<void>((resolve, reject) => {
          only.once('error', reject);
          only.listen(metricsPort, metricsHost, resolve);
        });
        metricsServer = only;
        log.info('metrics.listening', { port: (only.address() as AddressInfo).port, host: metricsHost });
      }
      return new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => resolve((server.address() as AddressInfo).port));
      });
    },
    metricsPort: () => (metricsServer?.address() as AddressInfo | null | undefined)?.port,
    // New requests are refused at once; turns and sends under way (LINE answers after the
    // ack among them) finish, within the shutdown deadline; then the store closes.
    close: async () => {
      closing = true;
      clearInterval(purgeTimer);
      clearInterval(reconcileTimer);
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<'late'>((resolve) => {
        timer = setTimeout(() => resolve('late'), config.shutdownDeadlineMs);
      });
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      const drained = Promise.all([stopped, line.idle()]).then(() => 'done' as const);
      if ((await Promise.race([drained, deadline])) === 'late') {
        log.warn('server.shutdown_deadline', { deadlineMs: config.shutdownDeadlineMs });
        server.server.closeAllConnections();
      }
      clearTimeout(timer);
      metricsServer?.closeAllConnections();
      if (metricsServer) await new Promise((resolve) => metricsServer?.close(resolve));
      await jobs.close();
      await mailer.close();
      await engine.close();
      await store.close();
      limitsRedis?.disconnect();
    },
  };
}
