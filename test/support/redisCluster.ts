/**
 * A throwaway 3-master Redis Cluster (no replicas, no persistence, loopback only) on ports the
 * OS picks, for the tests that run the store and the app on Cluster. Each node is a
 * `redis-server --cluster-enabled yes` with its own config file and bus port in a temporary
 * folder; `redis-cli --cluster create` assigns the slots.
 */
import { execFile, execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort, type RedisServer, startRedisServer } from './redisServer.ts';

const run = promisify(execFile);
const HOST = '127.0.0.1';
const MASTERS = 3;
const READY_TIMEOUT_MS = 15_000;

export interface RedisClusterServer {
  /** Seed nodes, as `REDIS_CLUSTER_NODES` takes them. */
  nodes: { host: string; port: number }[];
  servers: RedisServer[];
  /** Stops every node and removes their files. */
  stop(): Promise<void>;
}

/**
 * Why this machine cannot run a Cluster here, or undefined when it can: `redis-cli` is needed
 * to create it, and `--cluster-port` (a bus port of our own, not port + 10000, which can pass
 * 65535 for an ephemeral port) needs redis-server 7.
 */
export function clusterUnsupported(): string | undefined {
  const cli = redisCliMissing();
  if (cli) return cli;
  try {
    const version = /v=(\d+)\./.exec(execFileSync('redis-server', ['--version'], { encoding: 'utf8' }))?.[1];
    if (Number(version) < 7) return `redis-server ${version} has no --cluster-port (needs 7 or later)`;
  } catch {
    return 'redis-server is not installed (apt-get install -y redis-server)';
  }
  return undefined;
}

/** Why `redis-cli` (which creates a Cluster and watches a Sentinel group) cannot run, or undefined. */
export function redisCliMissing(): string | undefined {
  try {
    execFileSync('redis-cli', ['--version'], { stdio: 'pipe' });
    return undefined;
  } catch {
    return 'redis-cli is not installed (apt-get install -y redis-tools)';
  }
}

/**
 * What a suite that needs a Cluster or a Sentinel group does on a machine that cannot run one
 * (`reason`): in CI it fails (a missing capability must not pass as green), elsewhere it says
 * so on the console and the caller skips.
 */
export function redisCapability(what: string, reason: string | undefined): boolean {
  if (!reason) return true;
  if (process.env.CI) throw new Error(`${what}: cannot run on this machine, and CI must run it: ${reason}`);
  console.warn(`SKIPPED ${what}: cannot run on this machine: ${reason}`);
  return false;
}

/** Starts the nodes, creates the cluster and waits until every node says `cluster_state:ok`. */
export async function startRedisCluster(): Promise<RedisClusterServer> {
  const dir = await mkdtemp(join(tmpdir(), 'citybot-cluster-'));
  const servers: RedisServer[] = [];
  const stop = async () => {
    await Promise.all(servers.map((s) => s.stop()));
    await rm(dir, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < MASTERS; i++) {
      servers.push(
        await startRedisServer({
          dir,
          args: async () => ['--cluster-enabled', 'yes', '--cluster-config-file', `nodes-${i}-${Date.now()}.conf`, '--cluster-port', String(await freePort()), '--cluster-node-timeout', '2000'],
        }),
      );
    }
    const addresses = servers.map((s) => `${HOST}:${s.port}`);
    await run('redis-cli', ['--cluster', 'create', ...addresses, '--cluster-replicas', '0', '--cluster-yes'], { timeout: READY_TIMEOUT_MS });
    await waitUntilOk(servers);
  } catch (error) {
    await stop();
    throw error;
  }
  return { nodes: servers.map((s) => ({ host: HOST, port: s.port })), servers, stop };
}

async function waitUntilOk(servers: RedisServer[]): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    const states = await Promise.all(
      servers.map(async (s) => (await run('redis-cli', ['-h', HOST, '-p', String(s.port), 'cluster', 'info'])).stdout),
    );
    if (states.every((info) => info.includes('cluster_state:ok') && info.includes('cluster_known_nodes:3'))) return;
    if (Date.now() > deadline) throw new Error(`the Redis Cluster did not reach cluster_state:ok within ${READY_TIMEOUT_MS} ms:\n${states.join('\n')}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
