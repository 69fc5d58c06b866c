/**
 * Where Redis is and how to reach it: one node by URL, a Sentinel group (the client asks the
 * sentinels for the master and follows a failover) or a Cluster (the client routes each command
 * to the node of its hash slot). Every Redis user (the store, the abuse limits, the job queue)
 * gets its client here, so all of them follow the same topology.
 */
import { Cluster, Redis, type RedisOptions } from 'ioredis';

export interface RedisNode {
  host: string;
  port: number;
}

/** How Redis is deployed (from `REDIS_URL`, `REDIS_SENTINELS` or `REDIS_CLUSTER_NODES`). */
export type RedisTarget =
  | { kind: 'single'; url: string }
  | {
      kind: 'sentinel';
      sentinels: RedisNode[];
      /** The master group's name (`sentinel monitor <name> …`). */
      name: string;
      /** The data nodes' password (`requirepass`), if any. */
      password?: string;
      /** The sentinels' own password, if any. */
      sentinelPassword?: string;
    }
  | { kind: 'cluster'; nodes: RedisNode[]; password?: string };

export type RedisClient = Redis | Cluster;

/** Connection settings of one user of Redis; `lazyConnect` etc. as ioredis takes them. */
export type ClientOptions = Pick<
  RedisOptions,
  'lazyConnect' | 'connectTimeout' | 'commandTimeout' | 'maxRetriesPerRequest' | 'enableOfflineQueue' | 'scripts' | 'enableAutoPipelining'
>;

/** Parses `host:port,host:port` (IPv6 as `[::1]:26379`); throws on a malformed entry. */
export function parseNodes(list: string): RedisNode[] {
  return list
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map((entry) => {
      const match = /^\[?([^\]]+?)\]?:(\d{1,5})$/.exec(entry);
      const port = Number(match?.[2]);
      if (!match || port < 1 || port > 65535) throw new Error(`expected host:port, got "${entry}"`);
      return { host: match[1]!, port };
    });
}

/**
 * A new client for `target`. On a Cluster, `scripts` are defined on the Cluster client
 * (each runs on the node of its keys' slot) and the per-node options go to every node.
 */
export function createRedisClient(target: RedisTarget, opts: ClientOptions): RedisClient {
  if (target.kind === 'single') return new Redis(target.url, opts);
  if (target.kind === 'sentinel') {
    return new Redis({
      ...opts,
      sentinels: target.sentinels,
      name: target.name,
      ...(target.password ? { password: target.password } : {}),
      ...(target.sentinelPassword ? { sentinelPassword: target.sentinelPassword } : {}),
    });
  }
  const { lazyConnect, enableOfflineQueue, scripts, enableAutoPipelining, ...perNode } = opts;
  return new Cluster(target.nodes, {
    ...(lazyConnect === undefined ? {} : { lazyConnect }),
    ...(enableOfflineQueue === undefined ? {} : { enableOfflineQueue }),
    ...(scripts ? { scripts } : {}),
    ...(enableAutoPipelining === undefined ? {} : { enableAutoPipelining }),
    redisOptions: { ...perNode, ...(target.password ? { password: target.password } : {}) },
  });
}

/** The nodes that hold data: the one node, the sentinels' current master, or every Cluster node. */
export function dataNodes(client: RedisClient): Redis[] {
  return client instanceof Cluster ? client.nodes('all') : [client];
}
