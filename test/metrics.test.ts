/**
 * The parts of `/metrics` the end-to-end test does not reach: the queues' depth (the in-process
 * queue and BullMQ on a real redis-server), a channel outside the fixed set, the safe default
 * (no token and no listener: nothing served) and production's refusal of an open listener.
 */
import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { loadConfig } from '../src/config.ts';
import { BullJobQueue } from '../src/jobs/bullmq.ts';
import { JOB_ATTEMPTS, type JobQueue, MemoryJobQueue } from '../src/jobs/queue.ts';
import { createLogger } from '../src/log.ts';
import { Metrics } from '../src/metrics.ts';
import { fakeClock, type RunningApp, startApp } from './support/app.ts';
import { TEST_DATA_KEY } from './support/stores.ts';

const log = createLogger('silent');
const open: JobQueue[] = [];
let running: RunningApp | undefined;
afterEach(async () => {
  await Promise.all(open.splice(0).map((q) => q.close()));
  await running?.close();
  running = undefined;
});

const factories: [string, () => JobQueue][] = [
  ['memory', () => new MemoryJobQueue({ now: Date.now, log })],
  ['bullmq', () => new BullJobQueue({ url: inject('redisUrl'), prefix: `test:${randomUUID().slice(0, 8)}:`, now: Date.now, log })],
];

/** The samples of `name` in the registry, as `labels → value`. */
async function values(metrics: Metrics, name: string): Promise<Map<string, number>> {
  const metric = (await metrics.registry.getMetricsAsJSON()).find((m) => m.name === name);
  return new Map((metric?.values ?? []).map((v) => [JSON.stringify(v.labels), v.value]));
}

describe.each(factories)('the %s queue on /metrics', (_name, make) => {
  it('reports the jobs due (waiting) and those not yet due (delayed)', async () => {
    const queue = make();
    open.push(queue);
    // Not started: nothing runs them.
    await queue.schedule('mail.confirmation.ABC-2345', 'mail.confirmation', { sessionId: 's1', bookingId: 'ABC-2345' }, Date.now() - 1_000);
    await queue.schedule('remind.dayOf.ABC-2345', 'remind.dayOf', { sessionId: 's1', bookingId: 'ABC-2345' }, Date.now() + 3_600_000);
    await queue.schedule('remind.dayBefore.ABC-2345', 'remind.dayBefore', { sessionId: 's1', bookingId: 'ABC-2345' }, Date.now() + 3_600_000);
    const metrics = new Metrics();
    metrics.watchQueues({ lifecycle: () => queue.counts() });
    const depth = await values(metrics, 'citybot_job_queue_jobs');
    expect(depth.get(JSON.stringify({ queue: 'lifecycle', state: 'waiting' }))).toBe(1);
    expect(depth.get(JSON.stringify({ queue: 'lifecycle', state: 'delayed' }))).toBe(2);
    expect(depth.get(JSON.stringify({ queue: 'lifecycle', state: 'failed' }))).toBe(0);
  });
});

describe('/metrics', () => {
  it('counts a job the in-process queue gave up as failed', async () => {
    const clock = fakeClock();
    const queue = new MemoryJobQueue({ now: clock.now, log, tickMs: 10 });
    open.push(queue);
    let tries = 0;
    queue.start(async () => {
      tries++;
      // The next try is due at once.
      clock.advance(24 * 3_600_000);
      throw new Error('smtp down');
    });
    await queue.schedule('mail.confirmation.ABC-2345', 'mail.confirmation', { sessionId: 's1', bookingId: 'ABC-2345' }, clock.now());
    await expect.poll(() => tries, { timeout: 5_000 }).toBe(JOB_ATTEMPTS);
    const metrics = new Metrics();
    metrics.watchQueues({ lifecycle: () => queue.counts() });
    await expect.poll(async () => (await values(metrics, 'citybot_job_queue_jobs')).get(JSON.stringify({ queue: 'lifecycle', state: 'failed' }))).toBe(1);
  });

  it('counts a turn of a channel outside its fixed set as `other`, never under the name it was given', async () => {
    const metrics = new Metrics();
    metrics.turn('line:U0123456789abcdef0123456789abcdef', 'answered', 0.02);
    const turns = await values(metrics, 'citybot_turns_total');
    expect(turns.get(JSON.stringify({ channel: 'other', outcome: 'answered' }))).toBe(1);
    expect([...turns.keys()].join()).not.toContain('U0123456789');
  });

  it('is served nowhere by default: no METRICS_TOKEN, no METRICS_PORT', async () => {
    running = await startApp();
    expect((await fetch(`${running.url}/metrics`)).status).toBe(404);
    expect(running.app.metricsPort()).toBeUndefined();
  });

  it('in production, a metrics listener off loopback needs METRICS_TOKEN', () => {
    const production = { NODE_ENV: 'production', REDIS_URL: 'redis://127.0.0.1:6379', DATA_ENCRYPTION_KEY: TEST_DATA_KEY };
    expect(() => loadConfig({ ...production, METRICS_PORT: '9464', METRICS_HOST: '0.0.0.0' })).toThrow(/METRICS_HOST/);
    expect(loadConfig({ ...production, METRICS_PORT: '9464', METRICS_HOST: '0.0.0.0', METRICS_TOKEN: 'x'.repeat(32) }).metrics).toEqual({ port: 9464, host: '0.0.0.0', token: 'x'.repeat(32) });
    expect(loadConfig({ ...production, METRICS_PORT: '9464' }).metrics).toEqual({ port: 9464, host: '127.0.0.1' });
    expect(() => loadConfig({ METRICS_TOKEN: 'too-short' })).toThrow(/METRICS_TOKEN/);
  });
});
