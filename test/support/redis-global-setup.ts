/**
 * Vitest global setup: one throwaway `redis-server` for the whole run, on a port the OS picks,
 * so the tests need no running Redis and never touch a developer's own. Test files reach it
 * through `inject('redisUrl')` and keep apart by key prefix (see `stores.ts`).
 */
import type { TestProject } from 'vitest/node';
import { startRedisServer } from './redisServer.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** `redis://127.0.0.1:<port>` of the test run's redis-server. */
    redisUrl: string;
  }
}

/** Starts redis-server, provides `redisUrl`, and returns the teardown that stops it. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const server = await startRedisServer();
  // Safety net for a run that dies without teardown: never leave a server behind.
  const killOnExit = () => server.child.kill('SIGKILL');
  process.once('exit', killOnExit);
  project.provide('redisUrl', server.url);
  return async () => {
    process.off('exit', killOnExit);
    await server.stop();
  };
}
