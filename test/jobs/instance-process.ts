/**
 * One bot instance for the job queue's across-processes test, in a process of its own: a
 * BullJobQueue on `<url>` under `<prefix>` whose jobs take `<jobMs>`. Prints `ready` once its
 * worker is started; then reads one line from stdin, the due time (ms), and schedules jobs
 * `remind.dayOf.P0` … `P<count-1>` for it, as every instance's turns would; prints
 * `{"id","pid"}` for each job it runs. SIGTERM closes the queue.
 *
 * Usage: node --experimental-strip-types instance-process.ts <url> <prefix> <count> <jobMs>
 */
import { createInterface } from 'node:readline';
import { BullJobQueue } from '../../src/jobs/bullmq.ts';
import { createLogger } from '../../src/log.ts';

const [url, prefix, count, jobMs] = process.argv.slice(2);
const queue = new BullJobQueue({ url: url!, prefix: prefix!, now: Date.now, log: createLogger('silent') });
queue.start(async (_name, _data, id) => {
  process.stdout.write(`${JSON.stringify({ id, pid: process.pid })}\n`);
  await new Promise((resolve) => setTimeout(resolve, Number(jobMs)));
});
process.on('SIGTERM', () => void queue.close().then(() => process.exit(0)));
process.stdout.write('ready\n');

const lines = createInterface({ input: process.stdin });
lines.once('line', async (due) => {
  for (let i = 0; i < Number(count); i++) await queue.schedule(`remind.dayOf.P${i}`, 'remind.dayOf', { sessionId: 's', bookingId: `P${i}` }, Number(due));
});
