/**
 * The job queue on Redis, with BullMQ: every process adds jobs and runs them, and BullMQ's
 * locks give each job to one worker at a time. Keys live under `<prefix>{jobs}`, one hash tag,
 * so that BullMQ's multi-key scripts stay in one Cluster slot. Completed jobs are kept a week:
 * scheduling the same id again within that time does nothing, so a turn that runs twice (a
 * lost compare-and-set race) cannot send a message twice.
 */
import { Job, Queue, Worker } from 'bullmq';
import { createRedisClient, type RedisClient, type RedisTarget } from '../stores/connection.ts';
import { errorFields, type Logger } from '../log.ts';
import type { JobCounts } from '../metrics.ts';
import { type GaveUpHandler, JOB_ATTEMPTS, JOB_ID, JOB_RETRY_BASE_MS, type JobData, type JobHandler, type JobName, type JobQueue } from './queue.ts';

const QUEUE = 'lifecycle';
const KEEP_DONE_SECONDS = 7 * 24 * 3600;
/** Jobs one process runs at once. */
const CONCURRENCY = 4;
/** How long closing waits for each part (a job under way, the queue's own connection). */
const CLOSE_WAIT_MS = 3_000;

export interface BullJobQueueOptions {
  /** One node (`url`), or a Sentinel group or Cluster (`target`). */
  url?: string;
  target?: RedisTarget;
  /** The store's key prefix; the queue's keys go under `<prefix>{jobs}`. */
  prefix: string;
  now: () => number;
  log: Logger;
}

export class BullJobQueue implements JobQueue {
  private readonly opts: BullJobQueueOptions;
  private readonly target: RedisTarget;
  private readonly connection: RedisClient;
  private readonly queue: Queue;
  private worker?: Worker;
  private workerConnection?: RedisClient;

  constructor(opts: BullJobQueueOptions) {
    this.opts = opts;
    if (!opts.target && !opts.url) throw new Error('a job queue on Redis needs a url or a target');
    this.target = opts.target ?? { kind: 'single', url: opts.url! };
    // Adding jobs fails fast in an outage (the caller logs it); the worker's blocking reads need no retry limit.
    this.connection = createRedisClient(this.target, { maxRetriesPerRequest: 1, enableOfflineQueue: true });
    this.connection.on('error', (err: Error) => opts.log.warn('jobs.redis_connection', errorFields(err)));
    this.queue = new Queue(QUEUE, { connection: this.connection, prefix: `${opts.prefix}{jobs}` });
    this.queue.on('error', (err: Error) => opts.log.warn('jobs.queue_error', errorFields(err)));
  }

  async schedule(id: string, name: JobName, data: JobData, atMs: number): Promise<void> {
    if (!JOB_ID.test(id)) throw new Error('invalid job id');
    await this.queue.add(name, data, {
      jobId: id,
      delay: Math.max(0, atMs - this.opts.now()),
      attempts: JOB_ATTEMPTS,
      backoff: { type: 'exponential', delay: JOB_RETRY_BASE_MS },
      removeOnComplete: { age: KEEP_DONE_SECONDS },
      removeOnFail: { age: KEEP_DONE_SECONDS },
    });
  }

  async cancel(id: string): Promise<void> {
    const job = await Job.fromId(this.queue, id);
    if (job && ((await job.isDelayed()) || (await job.isWaiting()))) await job.remove();
  }

  async dueAt(id: string): Promise<number | undefined> {
    const job = await Job.fromId(this.queue, id);
    if (!job || !((await job.isDelayed()) || (await job.isWaiting()))) return undefined;
    return job.timestamp + (job.delay ?? 0);
  }

  async counts(): Promise<JobCounts> {
    const { waiting = 0, delayed = 0, failed = 0 } = await this.queue.getJobCounts('waiting', 'delayed', 'failed');
    return { waiting, delayed, failed };
  }

  start(handler: JobHandler, gaveUp?: GaveUpHandler): void {
    const { log, prefix } = this.opts;
    this.workerConnection = createRedisClient(this.target, { maxRetriesPerRequest: null });
    this.workerConnection.on('error', (err: Error) => log.warn('jobs.redis_connection', errorFields(err)));
    this.worker = new Worker(QUEUE, (job) => handler(job.name as JobName, job.data as JobData, job.id!), {
      connection: this.workerConnection,
      prefix: `${prefix}{jobs}`,
      concurrency: CONCURRENCY,
    });
    this.worker.on('failed', (job, err) => {
      const attempts = job?.attemptsMade ?? 0;
      const fields = { job: job?.name ?? 'unknown', attempt: attempts, ...errorFields(err) };
      if (attempts >= JOB_ATTEMPTS) {
        log.error('job.gave_up', fields);
        if (job) gaveUp?.(job.name as JobName, job.data as JobData, job.id!);
      } else log.warn('job.failed', fields);
    });
    this.worker.on('error', (err: Error) => log.warn('jobs.worker_error', errorFields(err)));
  }

  /**
   * Lets a running job finish, within `CLOSE_WAIT_MS`; then the connections go, at once if
   * Redis is not there to answer (a QUIT would otherwise wait for it in the offline queue).
   */
  async close(): Promise<void> {
    const { log } = this.opts;
    const within = (what: string, step: Promise<unknown>) =>
      Promise.race([step.then(() => true), new Promise<false>((resolve) => setTimeout(() => resolve(false), CLOSE_WAIT_MS).unref())]).then(
        (done) => done || log.warn('jobs.close_timeout', { step: what }),
        (err: unknown) => log.warn('jobs.close_failed', { step: what, ...errorFields(err) }),
      );
    if (this.worker) await within('worker', this.worker.close());
    await within('queue', this.queue.close());
    for (const connection of [this.connection, this.workerConnection]) connection?.disconnect();
  }
}
