import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningApp, startApp } from './support/app.ts';

describe('requests for what does not exist', () => {
  let running: RunningApp;
  beforeAll(async () => {
    running = await startApp();
  });
  afterAll(() => running.close());

  it('a prober\'s unknown path or method gets 404 / 405 and a warning, not an error in the logs', async () => {
    expect((await fetch(`${running.url}/wp-login.php`)).status).toBe(404);
    expect((await fetch(`${running.url}/healthz`, { method: 'DELETE' })).status).toBe(405);
    const lines = running.logs.map((l) => JSON.parse(l) as { level: string; event: string; status?: number });
    expect(lines.filter((l) => l.event === 'http.client_error').map((l) => [l.level, l.status])).toEqual([
      ['warn', 404],
      ['warn', 405],
    ]);
    expect(lines.some((l) => l.level === 'error')).toBe(false);
  });
});
