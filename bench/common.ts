/**
 * Shared by the bench's processes: free ports, child processes that are always cleaned up,
 * a throwaway redis-server, LINE webhook bodies and signatures, INFO parsing, percentiles.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import type { Agent, RequestOptions } from 'node:http';
import { join } from 'node:path';
import { type RedisServer, startRedisServer } from '../test/support/redisServer.ts';

export const HOST = '127.0.0.1';
/** Channel secret and token the bench gives both the bot and the baseline. */
export const CHANNEL_SECRET = 'bench-channel-secret-0123456789ab';
export const CHANNEL_TOKEN = 'bench-channel-access-token';
/** The bot's apology when a turn fails (locales/ja.json `unavailable`): counted as an error. */
export const UNAVAILABLE_MARK = 'ただいま混み合っていて';

// ---- child processes ----------------------------------------------------------------------

const children = new Set<ChildProcess>();

/** Kills every child still running: SIGTERM, then SIGKILL after `graceMs`. */
export async function stopAll(graceMs = 3_000): Promise<void> {
  await Promise.all([...children].map((child) => stopChild(child, graceMs)));
}

/** Stops one child (SIGTERM, then SIGKILL) and waits for it to exit. */
export async function stopChild(child: ChildProcess, graceMs = 3_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) {
    children.delete(child);
    return;
  }
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
  children.delete(child);
}

/** Registers a child so that it is killed whatever way this process ends. */
export function track(child: ChildProcess): ChildProcess {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

let cleanupInstalled = false;
/** Last-resort cleanup: on exit (synchronous SIGKILL), on signals and on crashes. */
export function installCleanup(): void {
  if (cleanupInstalled) return;
  cleanupInstalled = true;
  process.on('exit', () => {
    for (const child of children) child.kill('SIGKILL');
  });
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      process.stderr.write(`\nbench: ${signal}, stopping children\n`);
      void stopAll(1_000).finally(() => process.exit(130));
    });
  }
  process.on('uncaughtException', (err) => {
    process.stderr.write(`bench: uncaught ${err.stack ?? err}\n`);
    void stopAll(1_000).finally(() => process.exit(1));
  });
  process.on('unhandledRejection', (err) => {
    process.stderr.write(`bench: unhandled rejection ${err instanceof Error ? err.stack : String(err)}\n`);
    void stopAll(1_000).finally(() => process.exit(1));
  });
}

export { freePort } from '../test/support/redisServer.ts';

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls `check` until it is true; throws with `what` after `timeoutMs`. */
export async function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs = 15_000, exited?: () => string | undefined): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const dead = exited?.();
    if (dead) throw new Error(`${what}: ${dead}`);
    if (await check().catch(() => false)) return;
    await sleep(50);
  }
  throw new Error(`${what}: not ready within ${timeoutMs} ms`);
}

/** A spawned process with its recent output kept for error messages. */
export interface Proc {
  child: ChildProcess;
  output: () => string;
  /** Set (to a description) once the process has exited. */
  exited: () => string | undefined;
}

/** Spawns and tracks a process, keeping the last few KB of its output. */
export function spawnTracked(command: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; onLine?: (line: string) => void } = {}): Proc {
  const child = track(spawn(command, args, { cwd: opts.cwd, env: opts.env, stdio: ['ignore', 'pipe', 'pipe'] }));
  let output = '';
  let partial = '';
  let exit: string | undefined;
  const collect = (chunk: Buffer) => {
    const text = chunk.toString();
    output = (output + text).slice(-8_000);
    if (opts.onLine) {
      const lines = (partial + text).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) opts.onLine(line);
    }
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  child.on('error', (err) => {
    exit = `failed to start: ${err.message}`;
  });
  child.on('exit', (code, signal) => {
    exit = `exited (code ${code}, signal ${signal})\n${output}`;
  });
  return { child, output: () => output, exited: () => exit };
}

// ---- redis-server -------------------------------------------------------------------------

/**
 * Starts a throwaway redis-server (no persistence) on a free port; retries if the port is taken.
 * The shared starter lives with the tests (test/support/redisServer.ts); here it is tracked, so
 * `stopAll` and the last-resort cleanup stop it with the bench's other children.
 */
export function startRedis(): Promise<RedisServer> {
  return startRedisServer({ onSpawn: track });
}

/** `INFO <section>` as a map of field → value. */
export function parseInfo(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\r\n')) {
    const i = line.indexOf(':');
    if (i > 0 && !line.startsWith('#')) out.set(line.slice(0, i), line.slice(i + 1));
  }
  return out;
}

/** `INFO commandstats` as command → calls. */
export function parseCommandStats(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const [key, value] of parseInfo(text)) {
    if (!key.startsWith('cmdstat_')) continue;
    const calls = /calls=(\d+)/.exec(value);
    if (calls) out.set(key.slice('cmdstat_'.length), Number(calls[1]));
  }
  return out;
}

/** Per-command difference `after - before`, without the bench's own commands. */
export function diffCommandStats(before: Map<string, number>, after: Map<string, number>): Map<string, number> {
  const own = /^(info|config|flushall|memory|dbsize|scan|unlink|hlen|hgetall|hvals|monitor|client|ping|select|hello|command|script)/;
  const out = new Map<string, number>();
  for (const [cmd, calls] of after) {
    if (own.test(cmd)) continue;
    const d = calls - (before.get(cmd) ?? 0);
    if (d > 0) out.set(cmd, d);
  }
  return out;
}

// ---- LINE webhook bodies ------------------------------------------------------------------

/** LINE's `X-Line-Signature`: base64 HMAC-SHA256 of the exact body bytes. */
export function sign(body: string | Buffer, secret = CHANNEL_SECRET): string {
  return createHmac('sha256', secret).update(body).digest('base64');
}

/** 26 characters like LINE's ULID-style webhook event ids. */
export function eventId(): string {
  return `01${randomBytes(12).toString('hex').toUpperCase()}`;
}

/** A LINE-like user id: `U` + 32 hex digits. `n` makes it deterministic. */
export function lineUserId(n: number, run = 'b'): string {
  const tag = Buffer.from(run).toString('hex').padStart(8, '0').slice(0, 8);
  return `U${tag}${n.toString(16).padStart(24, '0')}`;
}

/** The options of LINE's POST of `bytes` to the bot's webhook at `target`, signed. */
export function webhookRequest(target: URL, bytes: Buffer, agent?: Agent): RequestOptions {
  return {
    host: target.hostname,
    port: target.port,
    path: target.pathname,
    method: 'POST',
    ...(agent ? { agent } : {}),
    headers: { 'content-type': 'application/json', 'content-length': bytes.length, 'x-line-signature': sign(bytes) },
  };
}

/** A webhook body with one event, as LINE posts it. */
export function webhookBody(userId: string, replyToken: string, payload: { text: string } | { postback: string }): string {
  const base = {
    mode: 'active',
    timestamp: Date.now(),
    webhookEventId: eventId(),
    deliveryContext: { isRedelivery: false },
    source: { type: 'user', userId },
    replyToken,
  };
  const event =
    'text' in payload
      ? { type: 'message', ...base, message: { type: 'text', id: String(Math.floor(Math.random() * 1e15)), quoteToken: randomBytes(16).toString('hex'), text: payload.text } }
      : { type: 'postback', ...base, postback: { data: payload.postback } };
  return JSON.stringify({ destination: 'Ubot00000000000000000000000000000', events: [event] });
}

// ---- resident questions ------------------------------------------------------------------

/** One question of the labelled set (test/faq/questions.json). */
export interface LabelledQuestion {
  q: string;
  expect: string | null;
  kind: string;
  urgent?: string;
}

export const QUESTIONS_FILE = new URL('../test/faq/questions.json', import.meta.url);

/** Every question of the labelled set, urgent ones included. */
export function allQuestions(): LabelledQuestion[] {
  return JSON.parse(readFileSync(QUESTIONS_FILE, 'utf8')) as LabelledQuestion[];
}

/**
 * `n` questions residents type, evenly spaced over the labelled set without its urgent ones:
 * the set is grouped by entry, so the sample spans the entries, in and out of scope, and every
 * kind of writing (polite, casual, kana, easy Japanese, typos, widths, English, near misses).
 */
export function questionSample(n = 50): LabelledQuestion[] {
  const pool = allQuestions().filter((q) => !q.urgent && q.kind !== 'urgent');
  const step = pool.length / Math.min(n, pool.length);
  return Array.from({ length: Math.min(n, pool.length) }, (_, i) => pool[Math.floor(i * step)]!);
}

// ---- numbers ------------------------------------------------------------------------------

/** The q-th percentile (0..100) of `values` (nearest rank); 0 when empty. */
export function percentile(values: number[] | Float64Array, q: number): number {
  if (values.length === 0) return 0;
  const sorted = Float64Array.from(values).sort();
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((q / 100) * sorted.length) - 1));
  return sorted[rank] ?? 0;
}

export const round = (n: number, digits = 2): number => {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
};

/** Today's date in Japan time, plus `days`, as YYYY-MM-DD. */
export function jstDate(days = 0): string {
  const jst = new Date(Date.now() + 9 * 3_600_000 + days * 86_400_000);
  return jst.toISOString().slice(0, 10);
}

// ---- catalogs ------------------------------------------------------------------------------

/**
 * The shipped service, with sessions whose window is open now: `opens` is today (JST) and the
 * service's opening hour is moved to 00:00 so that it is open whatever the hour of the run.
 */
export function writeCatalog(dir: string, name: string, sessionIds: string[]): string {
  const shipped = JSON.parse(readFileSync(new URL('../data/catalog.json', import.meta.url), 'utf8')) as {
    services: { id: string; window: { opensAt: string } }[];
  };
  const service = { ...shipped.services[0]!, window: { ...shipped.services[0]!.window, opensAt: '00:00' } };
  const sessions = sessionIds.map((id) => ({
    id,
    serviceId: service.id,
    date: jstDate(16),
    place: { ja: '川崎区役所 ベンチ会議室', en: 'Kawasaki Ward Office, bench room' },
    host: { ja: '山下 りえ子', en: 'Rieko Yamashita' },
    opens: jstDate(0),
    closes: jstDate(14),
  }));
  const file = join(dir, `${name}.json`);
  writeFileSync(file, JSON.stringify({ services: [service], sessions }, null, 2));
  return file;
}

// ---- CPU accounting (Linux /proc) ------------------------------------------------------------

const TICK_MS = 10; // USER_HZ is 100 on Linux

/** User + system CPU time of a process so far, in ms (0 when it is gone). */
export function processCpuMs(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * TICK_MS;
  } catch {
    return 0;
  }
}

/** Whole-machine CPU time so far, in ms: busy and total (all cores), from /proc/stat. */
export function machineCpuMs(): { busy: number; total: number } {
  try {
    const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    const total = cpu.reduce((s, v) => s + v, 0);
    const idle = (cpu[3] ?? 0) + (cpu[4] ?? 0);
    return { busy: (total - idle) * TICK_MS, total: total * TICK_MS };
  } catch {
    return { busy: 0, total: 0 };
  }
}
