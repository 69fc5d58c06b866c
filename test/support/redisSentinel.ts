/**
 * A throwaway Sentinel group on ports the OS picks (loopback only, no persistence): one master,
 * one replica and three sentinels (quorum 2) that fail over half a second after the master stops
 * answering. For the tests that kill the master and check what survives.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { type RedisServer, startRedisServer } from './redisServer.ts';

const run = promisify(execFile);
const HOST = '127.0.0.1';
export const SENTINEL_NAME = 'citybot';
const SENTINELS = 3;
const READY_TIMEOUT_MS = 20_000;

export interface SentinelGroup {
  master: RedisServer;
  replica: RedisServer;
  sentinels: RedisServer[];
  /** As `REDIS_SENTINELS` takes them. */
  sentinelNodes: { host: string; port: number }[];
  /** The port of the master the sentinels name now. */
  masterPort(): Promise<number>;
  /** Stops every process and removes their files. */
  stop(): Promise<void>;
}

const cli = async (port: number, ...args: string[]) => (await run('redis-cli', ['-h', HOST, '-p', String(port), ...args], { timeout: 5_000 })).stdout;

async function until(what: string, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`the Sentinel group: ${what} within ${READY_TIMEOUT_MS} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * Starts the master, its replica (waits until it is in sync) and the sentinels (waits until
 * each knows the replica and the two other sentinels, so that a failover can be agreed).
 */
export async function startSentinelGroup(): Promise<SentinelGroup> {
  const dir = await mkdtemp(join(tmpdir(), 'citybot-sentinel-'));
  const servers: RedisServer[] = [];
  const stop = async () => {
    await Promise.all(servers.map((s) => s.stop()));
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const master = await startRedisServer({ dir });
    servers.push(master);
    const replica = await startRedisServer({ dir, args: () => ['--replicaof', HOST, String(master.port)] });
    servers.push(replica);
    await until('the replica did not sync', async () => (await cli(replica.port, 'info', 'replication')).includes('master_link_status:up'));
    const sentinels = await Promise.all(Array.from({ length: SENTINELS }, async (_, i) => {
      const configFile = join(dir, `sentinel-${i}.conf`);
      // Sentinel rewrites its file (its id, what it learned): one per sentinel, written before each start.
      const config = [
        `sentinel monitor ${SENTINEL_NAME} ${HOST} ${master.port} 2`,
        `sentinel down-after-milliseconds ${SENTINEL_NAME} 500`,
        `sentinel failover-timeout ${SENTINEL_NAME} 10000`,
        '',
      ].join('\n');
      const sentinel = await startRedisServer({ configFile, args: async () => (await writeFile(configFile, config), ['--sentinel']) });
      servers.push(sentinel);
      return sentinel;
    }));
    for (const sentinel of sentinels) {
      await until('a sentinel did not find the others and the replica', async () => {
        const info = (await cli(sentinel.port, 'sentinel', 'master', SENTINEL_NAME)).split('\n');
        const field = (name: string) => Number(info[info.indexOf(name) + 1]);
        return field('num-other-sentinels') === SENTINELS - 1 && field('num-slaves') === 1;
      });
    }
    return {
      master,
      replica,
      sentinels,
      sentinelNodes: sentinels.map((s) => ({ host: HOST, port: s.port })),
      async masterPort() {
        const reply = await cli(sentinels[0]!.port, 'sentinel', 'get-master-addr-by-name', SENTINEL_NAME);
        return Number(reply.trim().split('\n')[1]);
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
