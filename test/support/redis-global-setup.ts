/**
 * Vitest global setup: one throwaway `redis-server` for the whole run, on a port the OS picks,
 * so the tests need no running Redis and never touch a developer's own. Test files reach it
 * through `inject('redisUrl')` and keep apart by key prefix (see `stores.ts`).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { connect, createServer } from 'node:net';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    /** `redis://127.0.0.1:<port>` of the test run's redis-server. */
    redisUrl: string;
  }
}

const HOST = '127.0.0.1';
const START_ATTEMPTS = 5;
const READY_TIMEOUT_MS = 5_000;

/** Starts redis-server, provides `redisUrl`, and returns the teardown that stops it. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  let lastError: unknown;
  for (let attempt = 1; attempt <= START_ATTEMPTS; attempt++) {
    // Another process can grab the port between our probe and redis-server's bind: retry.
    const port = await freePort();
    const server = spawnRedis(port);
    try {
      await waitUntilReady(server, port);
    } catch (error) {
      await stop(server.child);
      if (server.missing) throw missingRedisError();
      lastError = error;
      continue;
    }
    // Safety net for a run that dies without teardown: never leave a server behind.
    const killOnExit = () => server.child.kill('SIGKILL');
    process.once('exit', killOnExit);
    project.provide('redisUrl', `redis://${HOST}:${port}`);
    return async () => {
      process.off('exit', killOnExit);
      await stop(server.child);
    };
  }
  throw new Error(`redis-server did not start after ${START_ATTEMPTS} attempts`, { cause: lastError });
}

interface RedisProcess {
  child: ChildProcess;
  /** Set when the binary is not installed. */
  missing: boolean;
  /** Output so far, for the error message when it does not come up. */
  output: string;
  exited: boolean;
}

function spawnRedis(port: number): RedisProcess {
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', HOST, '--save', '', '--appendonly', 'no'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const server: RedisProcess = { child, missing: false, output: '', exited: false };
  const collect = (chunk: Buffer) => {
    server.output = (server.output + chunk.toString()).slice(-4_000);
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
    'redis-server is not installed, and the store tests need a real one. ' +
      'Install it with: apt-get install -y redis-server',
  );
}

/** A port that was free a moment ago: bind to port 0 and let the OS choose. */
function freePort(): Promise<number> {
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

/** One raw PING, so the setup needs no client library and cannot hang on a half-open port. */
function answersPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, HOST);
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

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 3_000);
  await exited;
  clearTimeout(timer);
}
