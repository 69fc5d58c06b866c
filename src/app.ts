/**
 * The composition root: builds the store, services, engine and channels from a parsed
 * config and mounts the routes. Nothing below it reads the environment.
 */
import type { AddressInfo } from 'node:net';
import restify from 'restify';
import type { DialogServices } from '../dialogs/types.ts';
import { mountLineWebhook } from './channels/line/webhook.ts';
import { LineSender } from './channels/line/sender.ts';
import { mountWebchat } from './channels/webchat/index.ts';
import type { Config } from './config.ts';
import { TurnEngine } from './engine.ts';
import { createLogger, errorFields, type Logger } from './log.ts';
import { CATALOG_FILE, type Catalog, loadCatalog } from './services/catalog.ts';
import { createDialogServices } from './services/index.ts';
import { createMemoryStore } from './stores/memory.ts';
import type { Store } from './stores/ports.ts';
import { createRedisStore } from './stores/redis.ts';

/** Parts a test (or another host) may supply instead of the defaults. */
export interface AppOverrides {
  store?: Store;
  catalog?: Catalog;
  log?: Logger;
  now?: () => number;
  /** Wait between LINE push retries (ms). */
  lineRetryDelayMs?: number;
}

export interface App {
  server: restify.Server;
  engine: TurnEngine;
  store: Store;
  catalog: Catalog;
  /** Starts listening; resolves with the bound port (use 0 for an ephemeral one). */
  listen(port: number, host?: string): Promise<number>;
  close(): Promise<void>;
}

/** Builds the application. Throws (CatalogError, ConfigError) when it cannot start. */
export async function createApp(config: Config, overrides: AppOverrides = {}): Promise<App> {
  const log = overrides.log ?? createLogger(config.logLevel);
  const now = overrides.now ?? Date.now;
  const catalog = overrides.catalog ?? loadCatalog(config.catalogFile ?? CATALOG_FILE);
  const store =
    overrides.store ?? (config.redisUrl ? await createRedisStore({ url: config.redisUrl, prefix: config.redisPrefix }) : createMemoryStore());
  if (store.kind === 'memory') log.warn('store.memory', { persistent: false, note: 'in-process-store:state-is-lost-on-restart' });

  const services: DialogServices = createDialogServices({ store, catalog, holdMinutes: config.holdMinutes, log });
  const engine = new TurnEngine({
    store,
    services,
    log,
    now,
    idleMs: config.idleMs,
    retentionMs: config.retentionMs,
    dedupeTtlMs: 24 * 3_600_000,
  });

  const server = restify.createServer({ name: 'kawasaki-city-bot', handleUncaughtExceptions: false });
  server.on('restifyError', (_req, _res, err, callback) => {
    log.error('http.error', errorFields(err));
    callback();
  });

  server.get('/healthz', async (_req, res) => {
    res.send(200, { status: 'ok' });
  });
  server.get('/readyz', async (_req, res) => {
    try {
      await store.ping();
      res.send(200, { status: 'ok', store: store.kind });
    } catch (err) {
      log.warn('readyz.store_unreachable', errorFields(err));
      res.send(503, { status: 'unavailable', store: store.kind });
    }
  });

  const { channelSecret, channelAccessToken } = config.line;
  mountLineWebhook(server, {
    ...(channelSecret ? { channelSecret } : {}),
    ...(channelAccessToken
      ? {
          sender: new LineSender({
            channelAccessToken,
            apiBaseUrl: config.line.apiBaseUrl,
            log,
            ...(overrides.lineRetryDelayMs !== undefined ? { retryDelayMs: overrides.lineRetryDelayMs } : {}),
          }),
        }
      : {}),
    engine,
    log,
    now,
    replyTokenMaxAgeMs: config.line.replyTokenMaxAgeMs,
  });
  if (config.webchatEnabled) mountWebchat(server, { engine, log });

  return {
    server,
    engine,
    store,
    catalog,
    listen: (port, host = config.host) =>
      new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => resolve((server.address() as AddressInfo).port));
      }),
    close: async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await store.close();
    },
  };
}
