/**
 * Scheduled work (the messages after a booking): a port with two implementations, BullMQ on
 * Redis (`bullmq.ts`, shared by every process) and an in-process one for the memory store.
 *
 * A job carries ids only (which booking, which message), never personal data: the handler
 * reads the booking when the job fires, so a booking cancelled or erased in between leaves
 * its jobs with nothing to send. Handlers must be idempotent: a queue runs a job at least once
 * (a process that dies mid-job leaves it to be run again), and what they send carries a key
 * derived from the job id (LINE's retry key, the email's Message-ID).
 */
import { errorFields, type Logger } from '../log.ts';
import type { JobCounts } from '../metrics.ts';

/** The messages of a booking's lifecycle. */
export type JobName = 'mail.confirmation' | 'remind.dayBefore' | 'remind.dayOf' | 'attendance.check' | 'waitlist.lapse';

export interface JobData {
  sessionId: string;
  /** The booking (for `waitlist.lapse`: the slot whose offer lapses). */
  bookingId: string;
}

/** Runs one job; rejects to have it tried again later. */
export type JobHandler = (name: JobName, data: JobData, id: string) => Promise<void>;
/** Hears of a job that failed every attempt (and will not run again). */
export type GaveUpHandler = (name: JobName, data: JobData, id: string) => void;

export interface JobQueue {
  /**
   * Runs `name` at `atMs` (ms since epoch; now or past: at once), once: a job of the same id
   * already waiting is kept as it is. Ids are `[A-Za-z0-9._-]`.
   */
  schedule(id: string, name: JobName, data: JobData, atMs: number): Promise<void>;
  /** Drops a job that has not run yet; unknown ids are ignored. */
  cancel(id: string): Promise<void>;
  /** When the job `id` is due (ms), or undefined when none is waiting. */
  dueAt(id: string): Promise<number | undefined>;
  /** Jobs due and not yet running (waiting), not yet due (delayed), and given up (failed), for the metrics. */
  counts(): Promise<JobCounts>;
  /** Starts running due jobs with `handler`; `gaveUp` hears of those that failed every attempt. */
  start(handler: JobHandler, gaveUp?: GaveUpHandler): void;
  /** Stops taking jobs and waits for those running. */
  close(): Promise<void>;
}

/** Tries before a failing job is given up (and logged); the waits double from 30 s. */
export const JOB_ATTEMPTS = 5;
export const JOB_RETRY_BASE_MS = 30_000;

export const JOB_ID = /^[A-Za-z0-9._-]{1,200}$/;

/**
 * The in-process queue (memory store, development): due times follow the app's clock, checked
 * every `tickMs`, so a test that moves the clock sees its jobs fire. Lost on restart, like
 * everything else the memory store holds.
 */
export class MemoryJobQueue implements JobQueue {
  private readonly jobs = new Map<string, { name: JobName; data: JobData; at: number; attempt: number }>();
  /** Ids of jobs that ran: scheduling one again does nothing (as BullMQ keeps completed jobs). */
  private readonly done = new Set<string>();
  /** Jobs given up since the process started. */
  private failed = 0;
  private readonly now: () => number;
  private readonly log: Logger;
  private readonly tickMs: number;
  private timer?: NodeJS.Timeout;
  private running = Promise.resolve();

  constructor(opts: { now: () => number; log: Logger; tickMs?: number }) {
    this.now = opts.now;
    this.log = opts.log;
    this.tickMs = opts.tickMs ?? 250;
  }

  async schedule(id: string, name: JobName, data: JobData, atMs: number): Promise<void> {
    if (!JOB_ID.test(id)) throw new Error('invalid job id');
    if (!this.jobs.has(id) && !this.done.has(id)) this.jobs.set(id, { name, data, at: atMs, attempt: 0 });
  }

  async cancel(id: string): Promise<void> {
    this.jobs.delete(id);
  }

  async dueAt(id: string): Promise<number | undefined> {
    return this.jobs.get(id)?.at;
  }

  async counts(): Promise<JobCounts> {
    const now = this.now();
    const due = [...this.jobs.values()].filter((job) => job.at <= now).length;
    return { waiting: due, delayed: this.jobs.size - due, failed: this.failed };
  }

  start(handler: JobHandler, gaveUp?: GaveUpHandler): void {
    const tick = () => {
      this.running = this.running.then(() => this.runDue(handler, gaveUp));
    };
    this.timer = setInterval(tick, this.tickMs);
    this.timer.unref();
    tick();
  }

  private async runDue(handler: JobHandler, gaveUp?: GaveUpHandler): Promise<void> {
    const now = this.now();
    const due = [...this.jobs].filter(([, job]) => job.at <= now).sort((a, b) => a[1].at - b[1].at);
    for (const [id, job] of due) {
      try {
        await handler(job.name, job.data, id);
        this.jobs.delete(id);
        this.done.add(id);
      } catch (err) {
        job.attempt++;
        if (job.attempt >= JOB_ATTEMPTS) {
          this.jobs.delete(id);
          this.failed++;
          this.log.error('job.gave_up', { job: job.name, attempts: job.attempt, ...errorFields(err) });
          gaveUp?.(job.name, job.data, id);
        } else {
          job.at = now + JOB_RETRY_BASE_MS * 2 ** (job.attempt - 1);
          this.log.warn('job.failed', { job: job.name, attempt: job.attempt, ...errorFields(err) });
        }
      }
    }
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }
}
