/**
 * A throwaway `redis-server` (no persistence, loopback only) for the tests and the bench, so
 * neither needs a running Redis nor ever touches a developer's own. Shared by the Vitest global
 * setup (`redis-global-setup.ts`), the LINE webhook's Redis-outage test (which kills it and
 * restarts it on the same port) and `bench/common.ts`.
 *
 * Plain Node only (no Vitest, no Redis client), so the bench can import it too.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { connect, createServer } from 'node:net';

const HOST = '127.0.0.1';
const START_ATTEMPTS = 5;
const READY_TIMEOUT_MS = 5_000;
const STOP_GRACE_MS = 3_000;
/** How much of the server's output is kept for error messages. */
const OUTPUT_LIMIT = 4_000;

/** A running redis-server. */
export interface RedisServer {
  port: number;
  /** `redis://127.0.0.1:<port>` */
  url: string;
  /** The process itself: for its pid, or to kill it outright (an outage test). */
  child: ChildProcess;
  /** Its recent output (stdout and stderr). */
  output(): string;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once it has exited. Safe to call twice. */
  stop(graceMs?: number): Promise<void>;
}

export interface StartRedisOptions {
  /**
   * Listen on this port (e.g. to restart a killed server where its clients expect it). Tried
   * once; without it the OS picks a free port, and a port taken in the meantime is retried.
   */
  port?: number;
  /** Called with each spawned process before it is ready, e.g. to track it for cleanup. */
  onSpawn?: (child: ChildProcess) => void;
  /** Where it writes files, should a test turn persistence on (`CONFIG SET appendonly yes`); default: the current directory. */
  dir?: string;
  /**
   * Keep an append-only file in `dir` (`appendonly yes`, `appendfsync everysec`, as the README
   * asks of production), so that a restart on the same `dir` finds the data again.
   */
  appendOnly?: boolean;
  /**
   * More arguments, made anew for each attempt (a Cluster node's bus port, a replica's master).
   * `configFile` goes first, as redis-server wants it (a sentinel's, which it rewrites).
   */
  args?: () => Promise<string[]> | string[];
  configFile?: string;
}

/**
 * Starts redis-server and waits until it answers PING. Throws an error naming
 * `apt-get install -y redis-server` when the binary is missing.
 */
export async function startRedisServer(opts: StartRedisOptions = {}): Promise<RedisServer> {
  const attempts = opts.port === undefined ? START_ATTEMPTS : 1;
  let lastError: unknown;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    // Another process can grab the port between our probe and redis-server's bind: retry.
    const port = opts.port ?? (await freePort());
    const server = spawnRedis(port, opts, (await opts.args?.()) ?? []);
    opts.onSpawn?.(server.child);
    try {
      await waitUntilReady(server, port);
    } catch (error) {
      await stopProcess(server.child);
      if (server.missing) throw missingRedisError();
      lastError = error;
      continue;
    }
    return {
      port,
      url: `redis://${HOST}:${port}`,
      child: server.child,
      output: () => server.output,
      stop: (graceMs = STOP_GRACE_MS) => stopProcess(server.child, graceMs),
    };
  }
  if (attempts === 1) throw lastError;
  const reason = lastError instanceof Error ? lastError.message : String(lastError);
  throw new Error(`redis-server did not start after ${attempts} attempts: ${reason}`, { cause: lastError });
}

interface RedisProcess {
  child: ChildProcess;
  /** Set when the binary is not installed. */
  missing: boolean;
  /** Output so far, for the error message when it does not come up. */
  output: string;
  exited: boolean;
}

function spawnRedis(port: number, { dir, appendOnly, configFile }: StartRedisOptions, args: string[]): RedisProcess {
  const persistence = appendOnly ? ['--appendonly', 'yes', '--appendfsync', 'everysec'] : ['--appendonly', 'no'];
  const base = ['--port', String(port), '--bind', HOST, '--save', '', ...persistence, ...(dir ? ['--dir', dir] : [])];
  const child = spawn('redis-server', [...(configFile ? [configFile] : []), ...base, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const server: RedisProcess = { child, missing: false, output: '', exited: false };
  const collect = (chunk: Buffer) => {
    server.output = (server.output + chunk.toString()).slice(-OUTPUT_LIMIT);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  child.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') server.missing = true;
    server.exited = true;
  });
  child.on('exit', () => {
    server.exited = true;
  });
  return server;
}

function missingRedisError(): Error {
  return new Error(
    'redis-server is not installed, and the tests and the bench need a real one. ' +
      'Install it with: apt-get install -y redis-server',
  );
}

/** A port that was free a moment ago: bind to port 0 and let the OS choose. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, HOST, () => {
      const address = probe.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      probe.close(() => (port ? resolve(port) : reject(new Error('no port from the OS'))));
    });
  });
}

async function waitUntilReady(server: RedisProcess, port: number): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (server.missing) throw missingRedisError();
    if (server.exited) throw new Error(`redis-server exited on port ${port}:\n${server.output}`);
    if (await answersPing(port)) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`redis-server did not answer PING on port ${port} within ${READY_TIMEOUT_MS} ms:\n${server.output}`);
}

/** One raw PING, so readiness needs no client library and cannot hang on a half-open port. */
export function answersPing(port: number, host = HOST): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, host);
    let reply = '';
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      reply += chunk.toString();
      if (reply.includes('\r\n')) done(reply.startsWith('+PONG'));
    });
  });
}

async function stopProcess(child: ChildProcess, graceMs = STOP_GRACE_MS): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}
