/**
 * The job queue's contract, for BullMQ on a real redis-server and for the in-process queue:
 * a job runs once at its time, a repeat of its id is ignored (also after it ran), a cancelled
 * one never runs; and for BullMQ, two queues sharing Redis run a job once, so do two real
 * processes (instances) both scheduling slow jobs, and a job scheduled before a restart runs
 * after it.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createInterface } from 'node:readline';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { BullJobQueue } from '../../src/jobs/bullmq.ts';
import { type JobName, type JobQueue, MemoryJobQueue } from '../../src/jobs/queue.ts';
import { createLogger } from '../../src/log.ts';

const log = createLogger('silent');
type Ran = { name: JobName; id: string; sessionId: string; at: number };

const open: JobQueue[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((q) => q.close()));
});

function recorder() {
  const ran: Ran[] = [];
  return { ran, handler: async (name: JobName, data: { sessionId: string }, id: string) => void ran.push({ name, id, sessionId: data.sessionId, at: Date.now() }) };
}

const until = async (check: () => boolean, ms = 5_000) => {
  const end = Date.now() + ms;
  while (!check() && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
};

/** A BullMQ queue under `prefix` (a fresh one unless processes are to share it). */
const bull = (prefix = `test:${randomUUID().slice(0, 8)}:`) => new BullJobQueue({ url: inject('redisUrl'), prefix, now: Date.now, log });
const factories: [string, () => JobQueue][] = [
  ['memory', () => new MemoryJobQueue({ now: Date.now, log, tickMs: 20 })],
  ['bullmq', () => bull()],
];

describe.each(factories)('%s queue', (_name, make) => {
  const queue = () => {
    const q = make();
    open.push(q);
    return q;
  };

  it('runs a job once, at its time, with its name and data', async () => {
    const q = queue();
    const { ran, handler } = recorder();
    q.start(handler);
    const at = Date.now() + 300;
    await q.schedule('remind.dayOf.ABC-2345.s1', 'remind.dayOf', { sessionId: 's1', bookingId: 'ABC-2345' }, at);
    expect(await q.dueAt('remind.dayOf.ABC-2345.s1')).toBeGreaterThanOrEqual(at - 5);
    await until(() => ran.length > 0);
    expect(ran).toEqual([{ name: 'remind.dayOf', id: 'remind.dayOf.ABC-2345.s1', sessionId: 's1', at: expect.any(Number) }]);
    expect(ran[0]!.at).toBeGreaterThanOrEqual(at - 5);
    expect(await q.dueAt('remind.dayOf.ABC-2345.s1')).toBeUndefined();
  });

  it('ignores a second schedule of the same id, also once the job has run', async () => {
    const q = queue();
    const { ran, handler } = recorder();
    q.start(handler);
    await q.schedule('mail.confirmation.A', 'mail.confirmation', { sessionId: 's1', bookingId: 'A' }, Date.now());
    await q.schedule('mail.confirmation.A', 'mail.confirmation', { sessionId: 's2', bookingId: 'A' }, Date.now());
    await until(() => ran.length > 0);
    await q.schedule('mail.confirmation.A', 'mail.confirmation', { sessionId: 's3', bookingId: 'A' }, Date.now());
    await new Promise((r) => setTimeout(r, 300));
    expect(ran.map((r) => r.sessionId)).toEqual(['s1']);
  });

  it('never runs a cancelled job', async () => {
    const q = queue();
    const { ran, handler } = recorder();
    q.start(handler);
    await q.schedule('remind.dayBefore.B', 'remind.dayBefore', { sessionId: 's1', bookingId: 'B' }, Date.now() + 200);
    await q.cancel('remind.dayBefore.B');
    await q.cancel('remind.dayBefore.never-scheduled');
    expect(await q.dueAt('remind.dayBefore.B')).toBeUndefined();
    await new Promise((r) => setTimeout(r, 500));
    expect(ran).toEqual([]);
  });

  it('refuses an id with characters a queue key cannot take', async () => {
    await expect(queue().schedule('a:b', 'remind.dayOf', { sessionId: 's', bookingId: 'b' }, Date.now())).rejects.toThrow();
  });
});

describe('bullmq across processes', () => {
  it('two queues sharing Redis run a job exactly once', async () => {
    const prefix = `test:${randomUUID().slice(0, 8)}:`;
    const [one, two] = [bull(prefix), bull(prefix)];
    open.push(one, two);
    const { ran, handler } = recorder();
    one.start(handler);
    two.start(handler);
    for (let i = 0; i < 20; i++) {
      await (i % 2 ? one : two).schedule(`remind.dayOf.R${i}`, 'remind.dayOf', { sessionId: 's', bookingId: `R${i}` }, Date.now() + 100);
      // Both processes schedule it, as two turns racing on one booking would.
      await (i % 2 ? two : one).schedule(`remind.dayOf.R${i}`, 'remind.dayOf', { sessionId: 's', bookingId: `R${i}` }, Date.now() + 100);
    }
    await until(() => ran.length >= 20);
    await new Promise((r) => setTimeout(r, 300));
    expect(ran.map((r) => r.id).sort()).toEqual(Array.from({ length: 20 }, (_, i) => `remind.dayOf.R${i}`).sort());
  });

  it('two instances in processes of their own, both scheduling every job, run each once', async () => {
    const prefix = `test:${randomUUID().slice(0, 8)}:`;
    const count = 16;
    const ran: { id: string; pid: number }[] = [];
    const children: ChildProcess[] = [];
    try {
      const ready = [0, 1].map(() => {
        const child = spawn(process.execPath, ['--experimental-strip-types', new URL('./instance-process.ts', import.meta.url).pathname, inject('redisUrl'), prefix, String(count), '300'], {
          stdio: ['pipe', 'pipe', 'inherit'],
        });
        children.push(child);
        return new Promise<void>((resolve, reject) => {
          child.once('exit', (code) => reject(new Error(`instance exited (${code}) before it was ready`)));
          createInterface({ input: child.stdout! }).on('line', (line) => {
            if (line === 'ready') resolve();
            else ran.push(JSON.parse(line) as { id: string; pid: number });
          });
        });
      });
      await Promise.all(ready);
      // Both workers are up before anything is due; each instance holds at most 4 of the slow jobs at once.
      const due = Date.now() + 1_000;
      for (const child of children) child.stdin!.write(`${due}\n`);
      await until(() => ran.length >= count, 20_000);
      await new Promise((r) => setTimeout(r, 700));
      expect(ran.map((r) => r.id).sort()).toEqual(Array.from({ length: count }, (_, i) => `remind.dayOf.P${i}`).sort());
      expect(new Set(ran.map((r) => r.pid)).size).toBe(2);
    } finally {
      await Promise.all(
        children.map(
          (child) =>
            new Promise<void>((resolve) => {
              if (child.exitCode !== null) return resolve();
              child.once('exit', () => resolve());
              child.kill('SIGTERM');
            }),
        ),
      );
    }
  }, 40_000);

  it('runs after a restart what was scheduled before it', async () => {
    const prefix = `test:${randomUUID().slice(0, 8)}:`;
    const before = bull(prefix);
    await before.schedule('remind.dayOf.S', 'remind.dayOf', { sessionId: 's', bookingId: 'S' }, Date.now() + 400);
    await before.close();
    const after = bull(prefix);
    open.push(after);
    const { ran, handler } = recorder();
    after.start(handler);
    await until(() => ran.length > 0);
    expect(ran.map((r) => r.id)).toEqual(['remind.dayOf.S']);
  });
});

describe('a job that keeps failing (in-process queue, on the app clock)', () => {
  it('is tried 5 times with growing waits, then given up and reported once', async () => {
    let now = 1_750_000_000_000;
    const q = new MemoryJobQueue({ now: () => now, log, tickMs: 10 });
    open.push(q);
    const tries: number[] = [];
    const gaveUp: string[] = [];
    q.start(
      async () => {
        tries.push(now);
        throw new Error('LINE refused it');
      },
      (_name, _data, id) => void gaveUp.push(id),
    );
    await q.schedule('remind.dayOf.F', 'remind.dayOf', { sessionId: 's', bookingId: 'F' }, now);
    for (let i = 0; i < 8; i++) {
      await until(() => tries.length > i || gaveUp.length > 0, 500);
      now += 16 * 60_000;
    }
    expect(tries).toHaveLength(5);
    expect(gaveUp).toEqual(['remind.dayOf.F']);
    expect(await q.dueAt('remind.dayOf.F')).toBeUndefined();
  });
});
