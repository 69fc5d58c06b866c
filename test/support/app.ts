/**
 * Starts the real application on an ephemeral port for HTTP tests, with its config built
 * from an env-like object (as in production) and optional overrides (store, clock).
 */
import { type App, type AppOverrides, createApp } from '../../src/app.ts';
import { loadConfig } from '../../src/config.ts';
import { createLogger } from '../../src/log.ts';

export interface RunningApp {
  app: App;
  url: string;
  /** Log lines written by the app (JSON), for assertions that no personal data leaks. */
  logs: string[];
  close(): Promise<void>;
}

/** A clock that tests move by hand. */
export function fakeClock(startIso = '2026-11-24T10:00:00+09:00') {
  let now = Date.parse(startIso);
  return {
    now: () => now,
    set: (iso: string) => {
      now = Date.parse(iso);
    },
    advance: (ms: number) => {
      now += ms;
    },
  };
}

export async function startApp(env: Record<string, string> = {}, overrides: AppOverrides = {}): Promise<RunningApp> {
  const logs: string[] = [];
  const config = loadConfig({ LOG_LEVEL: 'info', ...env });
  const app = await createApp(config, { log: createLogger('info', (line) => logs.push(line)), ...overrides });
  const port = await app.listen(0, '127.0.0.1');
  return { app, url: `http://127.0.0.1:${port}`, logs, close: () => app.close() };
}
