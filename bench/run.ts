/**
 * `npm run bench`: the bot against the floors of its own stack, on this machine, in one run.
 *
 * Starts a throwaway redis-server (free port), a stub LINE API (bench/stub.ts, which also
 * drives simulated users), the floor's restify route twice (bench/baseline.ts) and the bot as in
 * production (`node src/main.ts`, its own process, REDIS_URL set, LOG_LEVEL=warn), then:
 *
 *  1. two floors vs the bot, one text turn per request, 50 connections (autocannon), in
 *     alternating windows so that other load on the machine hits all alike: the same minimal
 *     route with its LINE call by `node:http` keep-alive (the plain floor) and by the SDK's
 *     MessagingApiClient (the SDK floor, `baseline` in the JSON);
 *  2. Redis commands per turn (INFO commandstats; MONITOR on a small sample to tell the
 *     commands a client sends from those run inside Lua scripts) and Redis memory per
 *     conversation and per booking (INFO memory used_memory);
 *  3. the opening rush: 2,000 users run the whole booking conversation at once for 12 slots on
 *     one process, and 20,000 on two (the driver alternates between their ports), one Redis;
 *  4. two bot processes vs one (the load generator alternates between the two ports);
 *  5. a question turn: 2,000 users at the menu type resident questions (50 of
 *     test/faq/questions.json, in and out of scope, none urgent), in the same alternating
 *     windows, against the same baseline; its Redis round trips and conversation size;
 *  6. the question matcher in-process (bench/matcher.ts, its own process, once the servers are
 *     stopped): the urgent check and the match per question over the whole labelled set, and
 *     the one-off cost of building it (the morphological analyser's load, RSS);
 *  7. the size of the LINE answers of the key booking steps (bench/bytes.ts, its own process).
 *
 * Every figure that depends on the machine is also given as a ratio to the baseline or to
 * one process measured in the same run. The last line printed is one JSON object.
 * Env: BENCH_SECONDS (window length, default 2; 6 windows per configuration, 12 s in all), BENCH_RUSH_USERS (2000, one process), BENCH_BIG_RUSH_USERS (20000, two processes),
 * BENCH_CPU_PROF=1 (write .cpuprofile files of the first bot and of both floors into bench/.prof/;
 * summarise them with `node bench/profile.ts FILE`).
 */
import { type ChildProcess, fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon, { type AutocannonRequest } from 'autocannon';
import { Cluster, Redis } from 'ioredis';
import { clusterUnsupported, startRedisCluster } from '../test/support/redisCluster.ts';
import {
  CHANNEL_SECRET,
  CHANNEL_TOKEN,
  diffCommandStats,
  freePort,
  HOST,
  installCleanup,
  writeCatalog,
  lineUserId,
  machineCpuMs,
  parseCommandStats,
  parseInfo,
  percentile,
  processCpuMs,
  questionSample,
  type Proc,
  round,
  sign,
  sleep,
  spawnTracked,
  startRedis,
  stopAll,
  stopChild,
  track,
  waitUntil,
  webhookBody,
} from './common.ts';
import type { MatcherFigures } from './matcher.ts';
import type { RunResult, RunSpec } from './stub.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const SECONDS = Number(process.env.BENCH_SECONDS ?? 2);
const ROUNDS = 6;
const CONNECTIONS = 50;
const WARM_USERS = 2_000;
const RUSH_USERS = Number(process.env.BENCH_RUSH_USERS ?? 2_000);
const BIG_RUSH_USERS = Number(process.env.BENCH_BIG_RUSH_USERS ?? 20_000);
const MEMORY_SESSIONS = 10;
const SLOTS_PER_SESSION = 12;
const PREFIX = 'citybot:';
const RUSH_SESSION = 'bench-rush';
const PROFILE = process.env.BENCH_CPU_PROF === '1';
/** Users at the menu who type the question turn's questions. */
const QUESTION_USERS = 2_000;
const QUESTIONS = questionSample(50);
/** Rounds of the whole labelled set in the matcher's micro-benchmark (after a warm-up round). */
const MATCHER_ROUNDS = 3;

const log = (line = '') => process.stdout.write(`${line}\n`);
const kb = (bytes: number) => `${round(bytes / 1024, 2)} KB`;

installCleanup();
const tmp = mkdtempSync(join(tmpdir(), 'citybot-bench-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));

// ---- processes -----------------------------------------------------------------------------

interface Stub {
  url: string;
  child: ChildProcess;
  call<T>(msg: object): Promise<T>;
}

async function startStub(): Promise<Stub> {
  const child = track(fork(join(ROOT, 'bench/stub.ts'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
  const pending = new Map<number, (m: Record<string, unknown>) => void>();
  let nextId = 1;
  const url = await new Promise<string>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`stub exited (${code})`)));
    child.on('message', (m: Record<string, unknown>) => {
      if (typeof m.ready === 'string') resolve(m.ready);
      const id = m.id as number | undefined;
      if (id !== undefined) pending.get(id)?.(m);
    });
  });
  return {
    url,
    child,
    call: <T>(msg: object) =>
      new Promise<T>((resolve, reject) => {
        const id = nextId++;
        pending.set(id, (m) => {
          pending.delete(id);
          if (typeof m.error === 'string') reject(new Error(m.error));
          else resolve((m.result ?? m.stats) as T);
        });
        child.send({ ...msg, id });
      }),
  };
}

/** Warn/error events the bot logged (LOG_LEVEL=warn), by event name. */
const botEvents = new Map<string, number>();

async function startBot(name: string, env: Record<string, string>, profile = false): Promise<{ name: string; url: string; proc: Proc }> {
  const port = await freePort();
  const args = profile ? ['--cpu-prof', `--cpu-prof-dir=${join(ROOT, 'bench/.prof')}`, `--cpu-prof-name=${name}.cpuprofile`, 'src/main.ts'] : ['src/main.ts'];
  const proc = spawnTracked(process.execPath, args, {
    cwd: ROOT,
    env: { ...process.env, ...env, PORT: String(port), HOST, LOG_LEVEL: 'warn', WEBCHAT_ENABLED: 'false' },
    onLine: (line) => {
      try {
        const { level, event } = JSON.parse(line) as { level?: string; event?: string };
        if (level && event) botEvents.set(`${level}:${event}`, (botEvents.get(`${level}:${event}`) ?? 0) + 1);
      } catch {
        if (line.trim()) botEvents.set(`output:${line.slice(0, 60)}`, (botEvents.get(`output:${line.slice(0, 60)}`) ?? 0) + 1);
      }
    },
  });
  const url = `http://${HOST}:${port}`;
  await waitUntil(`bot ${name}`, async () => (await fetch(`${url}/readyz`)).ok, 60_000, proc.exited);
  return { name, url, proc };
}

/** The floor route (bench/baseline.ts), its LINE call `plain` (node:http keep-alive) or through the SDK. */
async function startBaseline(env: Record<string, string>, line: 'plain' | 'sdk'): Promise<{ url: string; proc: Proc }> {
  let port = 0;
  const args = PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${join(ROOT, 'bench/.prof')}`, `--cpu-prof-name=baseline-${line}.cpuprofile`, 'bench/baseline.ts'] : ['bench/baseline.ts'];
  const proc = spawnTracked(process.execPath, args, {
    cwd: ROOT,
    env: { ...process.env, ...env, PORT: '0', BASELINE_LINE: line },
    onLine: (line) => {
      const m = /^listening (\d+)/.exec(line);
      if (m) port = Number(m[1]);
    },
  });
  await waitUntil(`baseline ${line}`, async () => port > 0, 15_000, proc.exited);
  return { url: `http://${HOST}:${port}`, proc };
}

// ---- load with autocannon ------------------------------------------------------------------

interface Window {
  responses: number;
  ok: number;
  errors: number;
  seconds: number;
  latencies: number[];
}

/**
 * `seconds` of 50 connections posting one fresh, signed text event per request. With several
 * texts, a user's next request carries the next text (user i, then text i + ⌊i / users⌋).
 */
async function cannon(urls: string[], seconds: number, users: string[], texts: string | readonly string[]): Promise<Window> {
  let i = 0;
  const latencies: number[] = [];
  const list = typeof texts === 'string' ? [texts] : texts;
  const setupRequest = (req: AutocannonRequest) => {
    const n = i++;
    const text = list[(n + Math.floor(n / users.length)) % list.length]!;
    const body = webhookBody(users[n % users.length]!, randomBytes(16).toString('hex'), { text });
    return { ...req, method: 'POST', path: '/line/webhook', body, headers: { ...req.headers, 'content-type': 'application/json', 'x-line-signature': sign(body) } };
  };
  const started = performance.now();
  const instance = autocannon({ url: urls, connections: CONNECTIONS, duration: seconds, timeout: 10, requests: [{ method: 'POST', path: '/line/webhook', setupRequest }] });
  let ok = 0;
  instance.on('response', (_client: unknown, status: number, _bytes: number, ms: number) => {
    latencies.push(ms);
    if (status === 200) ok++;
  });
  const result = await instance;
  return { responses: latencies.length, ok, errors: result.errors + result.non2xx, seconds: (performance.now() - started) / 1000, latencies };
}

/** CPU time (ms) of each part of the set-up, and of the whole machine. */
interface Cpu {
  server: number;
  redis: number;
  stub: number;
  loadgen: number;
  machineBusy: number;
  machineTotal: number;
}
const cpuZero = (): Cpu => ({ server: 0, redis: 0, stub: 0, loadgen: 0, machineBusy: 0, machineTotal: 0 });

/** A measured window: load figures, turns that reached LINE, Redis commands and CPU used. */
interface Measured extends Window {
  turns: number;
  apologies: number;
  commands: Map<string, number>;
  cpu: Cpu;
}

function mergeMeasured(windows: Measured[]): Measured {
  const commands = new Map<string, number>();
  const cpu = cpuZero();
  for (const w of windows) {
    for (const [c, n] of w.commands) commands.set(c, (commands.get(c) ?? 0) + n);
    for (const k of Object.keys(cpu) as (keyof Cpu)[]) cpu[k] += w.cpu[k];
  }
  const add = (f: (w: Measured) => number) => windows.reduce((s, w) => s + f(w), 0);
  return {
    responses: add((w) => w.responses),
    ok: add((w) => w.ok),
    errors: add((w) => w.errors),
    seconds: add((w) => w.seconds),
    latencies: windows.flatMap((w) => w.latencies),
    turns: add((w) => w.turns),
    apologies: add((w) => w.apologies),
    commands,
    cpu,
  };
}

const figures = (w: Window) => ({
  rps: round(w.ok / w.seconds, 0),
  p50: round(percentile(w.latencies, 50), 2),
  p99: round(percentile(w.latencies, 99), 2),
});

/** A bench script in its own process: its figures (its last line of output). */
async function runScript<T>(script: string, args: string[] = [], nodeFlags: string[] = []): Promise<T> {
  const proc = spawnTracked(process.execPath, [...nodeFlags, script, ...args], { cwd: ROOT });
  await new Promise<void>((resolve) => {
    if (proc.exited()) resolve();
    else proc.child.once('exit', () => resolve());
  });
  const last = proc.output().trim().split('\n').at(-1) ?? '';
  try {
    return JSON.parse(last) as T;
  } catch {
    throw new Error(`${script}: ${proc.exited() ?? 'no figures'}\n${proc.output()}`);
  }
}

// ---- redis helpers -------------------------------------------------------------------------

/** Where a rush keeps its data: one redis-server, or a Cluster (figures summed over its masters). */
interface RushRedis {
  client: Redis | Cluster;
  nodes(): Redis[];
}
const single = (r: Redis): RushRedis => ({ client: r, nodes: () => [r] });

async function usedMemory(r: Redis | RushRedis): Promise<number> {
  const nodes = r instanceof Redis ? [r] : r.nodes();
  const each = await Promise.all(nodes.map(async (n) => Number(parseInfo(await n.info('memory')).get('used_memory'))));
  return each.reduce((s, n) => s + n, 0);
}
async function commandStats(r: Redis | RushRedis): Promise<Map<string, number>> {
  const nodes = r instanceof Redis ? [r] : r.nodes();
  const out = new Map<string, number>();
  for (const n of nodes) for (const [cmd, calls] of parseCommandStats(await n.info('commandstats'))) out.set(cmd, (out.get(cmd) ?? 0) + calls);
  return out;
}
async function unlinkMatching(r: Redis, pattern: string): Promise<number> {
  let cursor = '0';
  let n = 0;
  do {
    const [next, keys] = await r.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) n += await r.unlink(...keys);
  } while (cursor !== '0');
  return n;
}
async function countMatching(r: Redis, pattern: string): Promise<number> {
  let cursor = '0';
  let n = 0;
  do {
    const [next, keys] = await r.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    n += keys.length;
  } while (cursor !== '0');
  return n;
}
const perTurn = (diff: Map<string, number>, turns: number) =>
  [...diff].sort((a, b) => b[1] - a[1]).map(([cmd, n]) => `${cmd} ${round(n / turns, 2)}`).join(', ');
const sum = (m: Map<string, number>) => [...m.values()].reduce((s, n) => s + n, 0);

// ---- the run -------------------------------------------------------------------------------

async function main(): Promise<void> {
  const t0 = performance.now();
  log(`# citybot bench — node ${process.version}, ${cpus().length} cores (${cpus()[0]?.model.trim()}), load avg ${loadavg().map((l) => round(l, 2)).join(' ')}`);
  const rushCatalog = writeCatalog(tmp, 'rush', [RUSH_SESSION]);
  const memorySessions = Array.from({ length: MEMORY_SESSIONS }, (_, i) => `bench-mem-${i}`);
  const memoryCatalog = writeCatalog(tmp, 'memory', memorySessions);
  if (PROFILE) mkdirSync(join(ROOT, 'bench/.prof'), { recursive: true });

  const redisServer = await startRedis();
  const r = new Redis(redisServer.url, { maxRetriesPerRequest: 1 });
  const stub = await startStub();
  const stats = () => stub.call<{ reply: number; push: number; unavailable: number; other: number }>({ cmd: 'stats' });
  const lineApiEnv = { LINE_CHANNEL_SECRET: CHANNEL_SECRET, LINE_CHANNEL_ACCESS_TOKEN: CHANNEL_TOKEN, LINE_API_BASE_URL: stub.url };
  const lineEnv = { ...lineApiEnv, REDIS_URL: redisServer.url };
  // The load generator's users each send far more turns a minute than a person can: without
  // this, most of their turns would be refused by the per-user limit (no dialog, no save) and
  // the bench would time the refusal rather than the turn.
  const botEnv = { ...lineEnv, REDIS_PREFIX: PREFIX, LINE_TURNS_PER_MINUTE: '10000' };
  // The big rush runs on a 3-master Redis Cluster (test/support/redisCluster.ts) where this machine can run one.
  const noCluster = clusterUnsupported();
  const cluster = noCluster ? undefined : await startRedisCluster();
  for (const node of cluster?.servers ?? []) track(node.child);
  const clusterEnv = cluster && { ...lineApiEnv, REDIS_PREFIX: PREFIX, LINE_TURNS_PER_MINUTE: '10000', CATALOG_FILE: rushCatalog, REDIS_CLUSTER_NODES: cluster.nodes.map((n) => `${n.host}:${n.port}`).join(',') };
  // All processes start now, from one snapshot of the source; bot3 (many sessions) waits idle for the memory phase.
  const [plain, baseline, bot1, bot2, bot3] = await Promise.all([
    startBaseline(lineEnv, 'plain'),
    startBaseline(lineEnv, 'sdk'),
    startBot('bot1', { ...botEnv, CATALOG_FILE: rushCatalog }, PROFILE),
    startBot('bot2', { ...botEnv, CATALOG_FILE: rushCatalog }),
    startBot('bot3', { ...botEnv, CATALOG_FILE: memoryCatalog }),
  ]);
  // Idle until the big rush.
  const clusterBots = clusterEnv ? await Promise.all([startBot('bot4', clusterEnv), startBot('bot5', clusterEnv)]) : undefined;
  log(`redis-server ${redisServer.url}, LINE stub ${stub.url}, baselines ${plain.url} (plain) ${baseline.url} (SDK), bots ${bot1.url} ${bot2.url}`);

  // -- conversations: N users brought to the first screening question -------------------------
  await r.flushall();
  const memEmpty = await usedMemory(r);
  const warm = await stub.call<RunResult>({ cmd: 'run', spec: { kind: 'prewarm', urls: [bot1.url], users: WARM_USERS, run: 'warm', concurrency: 100 } satisfies RunSpec });
  if (warm.errors > 0) throw new Error(`pre-warm failed: ${JSON.stringify(warm.errorKinds)}`);
  const memWarm = await usedMemory(r);
  const bytesPerConversation = (memWarm - memEmpty) / WARM_USERS;
  const convKey = `${PREFIX}conv:line:${lineUserId(0, 'warm')}`;
  const convBytes = Number(await r.memory('USAGE', convKey));
  const [, dedupeKeys] = await r.scan('0', 'MATCH', `${PREFIX}dedupe:*`, 'COUNT', 100);
  const dedupeBytes = dedupeKeys[0] ? Number(await r.memory('USAGE', dedupeKeys[0])) : 0;
  const keysPerConversation = (await r.dbsize()) / WARM_USERS;
  const warmUsers = Array.from({ length: WARM_USERS }, (_, i) => lineUserId(i, 'warm'));
  // Users at the menu, for the question turn (after the memory figures above, which are theirs alone).
  let questionPhaseMs = 0;
  /** Runs `f`, adding its time to the question turn's share of the run. */
  const questionPhase = async <T>(f: () => Promise<T>): Promise<T> => {
    const start = performance.now();
    try {
      return await f();
    } finally {
      questionPhaseMs += performance.now() - start;
    }
  };
  const atMenu = await questionPhase(() => stub.call<RunResult>({ cmd: 'run', spec: { kind: 'menu', urls: [bot1.url], users: QUESTION_USERS, run: 'ask', concurrency: 100 } satisfies RunSpec }));
  if (atMenu.errors > 0) throw new Error(`bringing users to the menu failed: ${JSON.stringify(atMenu.errorKinds)}`);
  const askUsers = Array.from({ length: QUESTION_USERS }, (_, i) => lineUserId(i, 'ask'));
  const questionTexts = QUESTIONS.map((q) => q.q);
  const sampleKinds = new Map<string, number>();
  for (const q of QUESTIONS) sampleKinds.set(q.kind, (sampleKinds.get(q.kind) ?? 0) + 1);

  // -- throughput: baseline, one bot, two bots, in alternating windows ------------------------
  log(`\n## 1-2. Throughput, ${CONNECTIONS} connections, text turn "ヘルプ" by ${WARM_USERS} users mid-conversation (${ROUNDS} × ${SECONDS} s windows, alternating)`);
  log(`question turn: ${QUESTION_USERS} users at the menu type ${QUESTIONS.length} questions of test/faq/questions.json (${QUESTIONS.filter((q) => q.expect === null).length} out of scope; ${[...sampleKinds].map(([k, n]) => `${k} ${n}`).join(', ')}), in the same windows; brought to the menu in ${round(atMenu.drainMs / 1000, 1)} s`);
  const cpuNow = (servers: Proc[]): Cpu => {
    const machine = machineCpuMs();
    const self = process.cpuUsage();
    return {
      server: servers.reduce((s, p) => s + processCpuMs(p.child.pid), 0),
      redis: processCpuMs(redisServer.child.pid),
      stub: processCpuMs(stub.child.pid),
      loadgen: (self.user + self.system) / 1000,
      machineBusy: machine.busy,
      machineTotal: machine.total,
    };
  };
  const measure = async (servers: { url: string; proc: Proc }[], seconds: number, users = warmUsers, texts: string | readonly string[] = 'ヘルプ'): Promise<Measured> => {
    const c0 = await commandStats(r);
    const s0 = await stats();
    const cpu0 = cpuNow(servers.map((x) => x.proc));
    const w = await cannon(servers.map((x) => x.url), seconds, users, texts);
    await sleep(300);
    const cpu1 = cpuNow(servers.map((x) => x.proc));
    const s1 = await stats();
    const commands = diffCommandStats(c0, await commandStats(r));
    const cpu = cpuZero();
    for (const k of Object.keys(cpu) as (keyof Cpu)[]) cpu[k] = cpu1[k] - cpu0[k];
    return { ...w, turns: s1.reply + s1.push - s0.reply - s0.push, apologies: s1.unavailable - s0.unavailable, commands, cpu };
  };
  await cannon([plain.url], 2, warmUsers, 'ヘルプ');
  await cannon([baseline.url], 2, warmUsers, 'ヘルプ');
  await cannon([bot1.url], 2, warmUsers, 'ヘルプ');
  await cannon([bot2.url], 2, warmUsers, 'ヘルプ');
  await questionPhase(() => cannon([bot1.url], 1, askUsers, questionTexts));
  const plainW: Measured[] = [];
  const baseW: Measured[] = [];
  const oneW: Measured[] = [];
  const askW: Measured[] = [];
  const twoW: Measured[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    plainW.push(await measure([plain], SECONDS));
    baseW.push(await measure([baseline], SECONDS));
    oneW.push(await measure([bot1], SECONDS));
    askW.push(await questionPhase(() => measure([bot1], SECONDS, askUsers, questionTexts)));
    twoW.push(await measure([bot1, bot2], SECONDS));
  }
  const [floor, base, one, ask, two] = [mergeMeasured(plainW), mergeMeasured(baseW), mergeMeasured(oneW), mergeMeasured(askW), mergeMeasured(twoW)];
  const f = figures(floor);
  const b = figures(base);
  const o = figures(one);
  const q = figures(ask);
  const t = figures(two);
  const errorsThroughput = floor.errors + base.errors + one.errors + two.errors + one.apologies + two.apologies;
  const questionErrors = ask.errors + ask.apologies;
  const ratio = round(o.rps / b.rps, 3);
  const plainRatio = round(o.rps / f.rps, 3);
  const plainP99Ratio = round(o.p99 / f.p99, 2);
  const questionRatio = round(q.rps / b.rps, 3);
  const questionP99Ratio = round(q.p99 / b.p99, 2);
  const twoRatio = round(t.rps / o.rps, 3);
  // The server's CPU per turn is steadier than requests/s on a shared machine: their ratio is what
  // throughput would be if the server process alone were the limit.
  const cpuRatio = round(base.cpu.server / base.turns / (one.cpu.server / one.turns), 3);
  const questionCpuRatio = round(base.cpu.server / base.turns / (ask.cpu.server / ask.turns), 3);
  const cpuCells = (m: Measured) => {
    const per = (ms: number) => round(ms / m.turns, 3);
    const ours = m.cpu.server + m.cpu.redis + m.cpu.stub + m.cpu.loadgen;
    return `${per(m.cpu.server)} | ${per(m.cpu.redis)} | ${per(m.cpu.stub)} | ${per(m.cpu.loadgen)} | ${round((100 * m.cpu.machineBusy) / m.cpu.machineTotal, 0)}% (others ${round((100 * Math.max(0, m.cpu.machineBusy - ours)) / m.cpu.machineTotal, 0)}%)`;
  };
  const vs = (x: { rps: number; p99: number }) => `${round(x.rps / f.rps, 3)} / ${round(x.p99 / f.p99, 2)} | ${round(x.rps / b.rps, 3)} / ${round(x.p99 / b.p99, 2)}`;
  log(`floors: the same route (sig+GET+SET+reply), its LINE call by node:http keep-alive ("plain") or by the SDK's MessagingApiClient (fetch)`);
  log(`| what                           | req/s | p50 ms | p99 ms | vs plain floor: rps / p99 | vs SDK floor: rps / p99 | CPU ms/turn: server | redis | LINE stub | load gen | machine busy |`);
  log(`|--------------------------------|------:|-------:|-------:|------------------------|------------------------|------:|------:|------:|------:|------:|`);
  log(`| plain floor (node:http)        | ${f.rps} | ${f.p50} | ${f.p99} | ${vs(f)} | ${cpuCells(floor)} |`);
  log(`| SDK floor (MessagingApiClient) | ${b.rps} | ${b.p50} | ${b.p99} | ${vs(b)} | ${cpuCells(base)} |`);
  log(`| bot, 1 process                 | ${o.rps} | ${o.p50} | ${o.p99} | ${vs(o)} | ${cpuCells(one)} |`);
  log(`| bot, 1 process, question turn  | ${q.rps} | ${q.p50} | ${q.p99} | ${vs(q)} | ${cpuCells(ask)} |`);
  log(`| bot, 2 processes (RR)          | ${t.rps} | ${t.p50} | ${t.p99} | ${vs(t)} | ${cpuCells(two)} |`);
  log(`errors (non-2xx, socket, bot apologies): ${errorsThroughput}; question turn: ${questionErrors}; 2 processes vs 1: ${twoRatio}× the requests/s; baseline/bot server CPU per turn: ${cpuRatio}, per question turn: ${questionCpuRatio}`);
  const botCommands = one.commands;
  const botTurns = one.turns;
  const baseCommandsPerTurn = round(sum(base.commands) / base.turns, 2);
  const rate = (w: Measured) => w.ok / w.seconds;
  const plainPairRatios = oneW.map((w, i) => rate(w) / rate(plainW[i]!)).sort((x, y) => x - y);
  log(`bot/plain floor per window pair: median ${round(percentile(plainPairRatios, 50), 3)}, range ${round(plainPairRatios[0]!, 3)}–${round(plainPairRatios.at(-1)!, 3)}`);
  const pairRatios = oneW.map((w, i) => rate(w) / rate(baseW[i]!)).sort((x, y) => x - y);
  log(`bot/SDK floor per window pair: median ${round(percentile(pairRatios, 50), 3)}, range ${round(pairRatios[0]!, 3)}–${round(pairRatios.at(-1)!, 3)}`);
  const askRatios = askW.map((w, i) => rate(w) / rate(baseW[i]!)).sort((x, y) => x - y);
  log(`question turn/baseline per window pair: median ${round(percentile(askRatios, 50), 3)}, range ${round(askRatios[0]!, 3)}–${round(askRatios.at(-1)!, 3)}`);
  const othersShare = Math.max(...[floor, base, one, ask, two].map((m) => (m.cpu.machineBusy - m.cpu.server - m.cpu.redis - m.cpu.stub - m.cpu.loadgen) / m.cpu.machineTotal));
  if (othersShare > 0.2) log(`note: other work used up to ${round(100 * othersShare, 0)}% of the machine during these windows; requests/s ratios are noisy, CPU per turn less so`);

  // -- Redis commands per ordinary turn ------------------------------------------------------
  const cmdsPerTurn = round(sum(botCommands) / botTurns, 2);
  const questionCmdsPerTurn = round(sum(ask.commands) / ask.turns, 2);
  // MONITOR on a small sample tells top-level commands from those a Lua script runs.
  const monitorSample = async (users: string[], texts: string | readonly string[]) => {
    const monitor = await r.monitor();
    let topLevel = 0;
    let inLua = 0;
    let open = true;
    const names = new Map<string, number>();
    monitor.on('monitor', (_time: string, args: string[], source: string) => {
      if (!open) return; // MONITOR goes on until the connection closes: later commands are not this sample's
      const name = String(args[0]).toLowerCase();
      // Each process's own clockwork, whatever the traffic: its liveness mark (every second),
      // the sweep of unsent answers (every 2 s), and the job worker's waiting for jobs (BullMQ,
      // keys under `{jobs}`; a text or question turn schedules none). Not a turn's.
      const key = String(args[1] ?? '');
      if ((name === 'set' && key.includes('instance:')) || (name === 'zrangebyscore' && key.endsWith('unsent'))) return;
      if (args.some((a) => String(a).includes('{jobs}:'))) return;
      if (source === 'lua') inLua++;
      else if (!/^(monitor|info)$/.test(name)) {
        topLevel++;
        names.set(name, (names.get(name) ?? 0) + 1);
      }
    });
    const stats0 = await stats();
    await cannon([bot1.url], 1, users, texts);
    await sleep(300);
    const turns = (await stats()).reply - stats0.reply;
    open = false;
    monitor.disconnect();
    return { turns, perTurn: round(topLevel / turns, 2), inLua: round(inLua / turns, 2), names };
  };
  const helpSample = await monitorSample(warmUsers, 'ヘルプ');
  const askSample = await questionPhase(() => monitorSample(askUsers, questionTexts));
  const { turns: sampleTurns, names: topNames, perTurn: topPerTurn } = helpSample;
  // Where the question turn leaves its users, and what it keeps of them.
  const askStates = await Promise.all(askUsers.map((u) => r.hget(`${PREFIX}conv:line:${u}`, 's')));
  const stillAtMenu = askStates.filter((s) => s !== null && (JSON.parse(s) as { flow?: { name?: string } }).flow?.name === 'menu').length;
  const askConvBytes = (await Promise.all(askUsers.slice(0, 200).map((u) => r.memory('USAGE', `${PREFIX}conv:line:${u}`)))).map(Number);
  const askConvBytesMean = askConvBytes.reduce((s, n) => s + n, 0) / askConvBytes.length;
  const askTickets = await countMatching(r, `${PREFIX}{tickets}*`);
  log(`\n## 3. Redis per turn and memory`);
  log(`commands per "ヘルプ" turn (INFO commandstats, ${botTurns} turns): ${cmdsPerTurn} = ${perTurn(botCommands, botTurns)}; baseline: ${baseCommandsPerTurn}`);
  log(`  of which sent by the bot (MONITOR sample, ${sampleTurns} turns): ${topPerTurn} round trips = ${perTurn(topNames, sampleTurns)}; ${helpSample.inLua} run inside Lua`);
  log(`commands per question turn (INFO commandstats, ${ask.turns} turns): ${questionCmdsPerTurn} = ${perTurn(ask.commands, ask.turns)}`);
  log(`  of which sent by the bot (MONITOR sample, ${askSample.turns} turns): ${askSample.perTurn} round trips = ${perTurn(askSample.names, askSample.turns)}; ${askSample.inLua} run inside Lua`);
  log(`  after the question turns: ${stillAtMenu} of ${QUESTION_USERS} users still at the menu; their conversation hash ${Math.round(askConvBytesMean)} B on average (MEMORY USAGE, 200 users; it keeps the last question); ticket keys: ${askTickets}`);
  log(`memory per conversation at the 1st screening question (${WARM_USERS} users, 2 turns each): ${kb(bytesPerConversation)} used_memory, ${round(keysPerConversation, 2)} keys`);
  log(`  MEMORY USAGE: conversation hash ${convBytes} B (it holds the last event ids for dedupe)${dedupeBytes > 0 ? `, plus a separate dedupe key of ${dedupeBytes} B per event` : ''}`);

  // -- the opening rush ----------------------------------------------------------------------
  const rush = async (label: string, bots: { url: string; proc: Proc }[], rushUsers = RUSH_USERS, where: RushRedis = single(r)) => {
    await Promise.all(where.nodes().map((n) => n.flushall()));
    const m0 = await usedMemory(where);
    const c0 = await commandStats(where);
    const s0 = await stats();
    const cpu0 = cpuNow(bots.map((x) => x.proc));
    const res = await stub.call<RunResult>({ cmd: 'run', spec: { kind: 'book', urls: bots.map((x) => x.url), users: rushUsers, run: label, maxSockets: 256 } satisfies RunSpec });
    await sleep(300);
    const cpu1 = cpuNow(bots.map((x) => x.proc));
    const serverCpuPerTurn = (cpu1.server - cpu0.server) / res.turns;
    const s1 = await stats();
    const cmds = diffCommandStats(c0, await commandStats(where));
    const m1 = await usedMemory(where);
    const keys = (k: string) => `${PREFIX}{s:${RUSH_SESSION}}:${k}`;
    const c = where.client;
    const [booked, users, bookingsHash, holds] = await Promise.all([c.hlen(keys('booked')), c.hlen(keys('users')), c.hgetall(keys('bookings')), c.hlen(keys('holds'))]);
    const stored = Object.keys(bookingsHash).sort();
    const slots = new Set(Object.values(bookingsHash).map((j) => (JSON.parse(j) as { slotId: string }).slotId));
    const consistent = booked === stored.length && users === stored.length && slots.size === stored.length && stored.join() === [...res.references].sort().join();
    const unavailable = s1.unavailable - s0.unavailable;
    return { res, booked, stored: stored.length, consistent, holds, cmdsPerTurn: sum(cmds) / res.turns, bytesPerUser: (m1 - m0) / rushUsers, unavailable, pushes: s1.push - s0.push, serverCpuPerTurn };
  };
  const printRush = (label: string, users: number, x: Awaited<ReturnType<typeof rush>>) => {
    const { res } = x;
    log(`| ${label} | ${users} | ${res.booked} | ${x.stored}${x.consistent ? ' ✓' : ' ✗ MISMATCH'} | ${res.errors}${res.errors ? ` ${JSON.stringify(res.errorKinds)}` : ''} | ${res.full} (${res.fullAtDate} at date, ${res.fullAtTime} at time) | ${res.takenRetries} | ${res.turns} | ${round(res.drainMs / 1000, 1)} s | ${res.turnsPerSecond} | ${res.turnP50Ms} | ${res.turnP99Ms} | ${res.turnMaxMs} | ${res.ackP99Ms} | ${kb(x.bytesPerUser)} |`);
  };
  const bigOn = cluster ? `a 3-master Redis Cluster` : `one redis-server (no Cluster here: ${noCluster})`;
  log(`\n## 4-5. Opening rush: whole booking conversation, 1 session × ${SLOTS_PER_SESSION} slots: ${RUSH_USERS} users at once on 1 process and one redis-server, ${BIG_RUSH_USERS} on 2 processes and ${bigOn}`);
  const rush1 = await rush('rush1', [bot1]);
  const clusterClient = cluster && new Cluster(cluster.nodes, { redisOptions: { maxRetriesPerRequest: 1 } });
  if (clusterClient) await new Promise((resolve) => clusterClient.once('ready', resolve));
  // The Cluster's bots have been idle: a first round of users warms them up as the others were.
  if (clusterBots) await stub.call<RunResult>({ cmd: 'run', spec: { kind: 'prewarm', urls: clusterBots.map((b) => b.url), users: 1_000, run: 'cwarm', concurrency: 100 } satisfies RunSpec });
  const rush2 = clusterClient && clusterBots
    ? await rush('rush2', clusterBots, BIG_RUSH_USERS, { client: clusterClient, nodes: () => clusterClient.nodes('master') })
    : await rush('rush2', [bot1, bot2], BIG_RUSH_USERS);
  clusterClient?.disconnect();
  // The bots first: a Cluster stopped under running bots has them log its connection errors.
  await Promise.all((clusterBots ?? []).map((b) => stopChild(b.proc.child)));
  await cluster?.stop();
  const unanswered1 = RUSH_USERS - rush1.res.booked - rush1.res.full;
  const unanswered2 = BIG_RUSH_USERS - rush2.res.booked - rush2.res.full;
  log(`| bots | users | booked (replies) | bookings in Redis | errors | told full | "taken" retries | turns | drain | turns/s | p50 ms | p99 ms | max ms | webhook answer p99 ms (from its connection) | used_memory per user |`);
  log(`|------|-----:|-----:|-----:|-----:|------|-----:|-----:|-----:|-----:|-----:|-----:|-----:|-----:|-----:|`);
  printRush('1 process  ', RUSH_USERS, rush1);
  printRush('2 processes', BIG_RUSH_USERS, rush2);
  log(`unanswered users: ${unanswered1} (1 process), ${unanswered2} (2 processes); pushes instead of replies: ${rush1.pushes + rush2.pushes}; bot apologies: ${rush1.unavailable + rush2.unavailable}`);
  log(`a user told full read: ${JSON.stringify(rush1.res.fullSample)}`);
  log(`bot CPU per rush turn: ${round(rush1.serverCpuPerTurn, 3)} ms (1 process), ${round(rush2.serverCpuPerTurn, 3)} ms (2 processes); Redis commands per rush turn (incl. Lua): ${round(rush1.cmdsPerTurn, 2)}`);

  // -- memory per booking --------------------------------------------------------------------
  await Promise.all([stopChild(bot1.proc.child), stopChild(bot2.proc.child), stopChild(baseline.proc.child), stopChild(plain.proc.child)]);
  await r.flushall();
  const mb0 = await usedMemory(r);
  const bookers = MEMORY_SESSIONS * SLOTS_PER_SESSION;
  const mem = await stub.call<RunResult>({ cmd: 'run', spec: { kind: 'book', urls: [bot3.url], users: bookers, run: 'mem', sessionIds: memorySessions, concurrency: 20 } satisfies RunSpec });
  const mb1 = await usedMemory(r);
  const bookedConvBytes = Number(await r.memory('USAGE', `${PREFIX}conv:line:${lineUserId(0, 'mem')}`));
  const sampleBooking = Object.values(await r.hgetall(`${PREFIX}{s:${memorySessions[0]}}:bookings`))[0] ?? '';
  await unlinkMatching(r, `${PREFIX}conv:*`);
  await unlinkMatching(r, `${PREFIX}dedupe:*`);
  await sleep(1_000); // let serverCron shrink the key tables after the deletes
  const mb2 = await usedMemory(r);
  const bytesPerBooking = (mb2 - mb0) / mem.booked;
  const bytesPerBookedConversation = (mb1 - mb2) / bookers;
  log(`memory per booking (${mem.booked} bookings over ${MEMORY_SESSIONS} sessions, ${mem.errors} errors): ${kb(bytesPerBooking)} for the booking itself;`);
  log(`  ${kb(bytesPerBookedConversation)} per booked user's conversation (${round(mem.turns / bookers, 1)} turns; its state and its dedupe ids)`);
  await stopChild(bot3.proc.child);
  log(`  MEMORY USAGE of a booked user's conversation hash: ${bookedConvBytes} B; one booking's JSON: ${sampleBooking.length} B`);

  // -- the matcher in-process (no server running now) -------------------------------------------
  const matcherStart = performance.now();
  const mx = await runScript<MatcherFigures>('bench/matcher.ts', [String(MATCHER_ROUNDS)], ['--expose-gc']);
  const matcherPhaseMs = performance.now() - matcherStart;
  log(`\n## 6. Question matcher in-process (bench/matcher.ts: buildQuestionBrain(loadConfig({}).faq), as defaultQuestionBrain())`);
  log(`build once: morphological analyser (Lindera/IPADIC) ${mx.reader_load_ms} ms, knowledge base and index ${mx.index_build_ms} ms; RSS +${mx.rss_increase_mb} MB (${mx.rss_mb} MB in all)`);
  log(`per question, urgent check + match, ${mx.questions} questions × ${mx.rounds} rounds after a warm-up round: p50 ${mx.p50_ms} ms, p99 ${mx.p99_ms} ms, max ${mx.max_ms} ms`);
  log(`the question turn's ${QUESTIONS.length} questions: ${mx.sample_bands.answer ?? 0} answered, ${mx.sample_bands.suggest ?? 0} "did you mean", ${mx.sample_bands.unknown ?? 0} not known (consent asked); urgent: ${mx.sample_urgent}`);

  const lineBytes = await runScript<{ meanBytes: Record<'ja' | 'en', number> }>('bench/bytes.ts');
  log(`\n## 7. LINE answer size (bench/bytes.ts): messages JSON of the key booking steps, mean ${lineBytes.meanBytes.ja} B in Japanese, ${lineBytes.meanBytes.en} B in English`);

  const events = [...botEvents].map(([e, n]) => `${e} ×${n}`).join(', ');
  log(`\nbot warnings/errors logged: ${events || 'none'}`);

  // -- targets ---------------------------------------------------------------------------------
  const targets = {
    throughput_ge_60pct: ratio >= 0.6,
    p99_le_2x: o.p99 <= 2 * b.p99,
    plain_throughput_ge_50pct: plainRatio >= 0.5,
    plain_p99_le_2x: o.p99 <= 2 * f.p99,
    cmds_le_4_per_turn: topPerTurn <= 4,
    memory_le_2kb_per_conversation: Math.max(bytesPerConversation, rush1.bytesPerUser, rush2.bytesPerUser, bytesPerBookedConversation, askConvBytesMean) <= 2048,
    rush_exactly_12: rush1.res.booked === SLOTS_PER_SESSION && rush1.stored === SLOTS_PER_SESSION && rush1.consistent,
    rush_0_errors: rush1.res.errors === 0 && rush1.unavailable === 0,
    rush_all_answered: unanswered1 === 0,
    two_process_rush_exactly_12: rush2.res.booked === SLOTS_PER_SESSION && rush2.stored === SLOTS_PER_SESSION && rush2.consistent && rush2.res.errors === 0,
    two_process_rush_0_errors: rush2.res.errors === 0 && rush2.unavailable === 0,
    two_process_rush_all_answered: unanswered2 === 0,
    two_process_rush_webhook_p99_lt_1s: rush2.res.ackP99Ms < 1_000,
    question_throughput_ge_60pct: questionRatio >= 0.6,
    question_p99_le_2x: q.p99 <= 2 * b.p99,
    question_cmds_le_4_per_turn: askSample.perTurn <= 4,
    question_0_errors: questionErrors === 0,
    matcher_p99_lt_2ms: mx.p99_ms < 2,
  };
  log(`\n## Targets`);
  for (const [name, met] of Object.entries(targets)) log(`${met ? 'met   ' : 'MISSED'} ${name}`);
  log(`total time ${round((performance.now() - t0) / 1000, 1)} s, of which the question turn ${round(questionPhaseMs / 1000, 1)} s and the matcher ${round(matcherPhaseMs / 1000, 1)} s`);

  const summary = {
    baseline_rps: b.rps,
    bot_rps: o.rps,
    ratio,
    plain_baseline_rps: f.rps,
    plain_baseline_p99_ms: f.p99,
    plain_ratio: plainRatio,
    plain_p99_ratio: plainP99Ratio,
    cpu_ratio: cpuRatio,
    baseline_p50_ms: b.p50,
    bot_p50_ms: o.p50,
    baseline_p99_ms: b.p99,
    bot_p99_ms: o.p99,
    p99_ratio: round(o.p99 / b.p99, 2),
    throughput_errors: errorsThroughput,
    redis_cmds_per_turn: cmdsPerTurn,
    redis_roundtrips_per_turn: topPerTurn,
    redis_bytes_per_conversation: Math.round(bytesPerConversation),
    redis_bytes_per_rush_user: Math.round(rush1.bytesPerUser),
    redis_bytes_per_booked_conversation: Math.round(bytesPerBookedConversation),
    redis_bytes_per_booking: Math.round(bytesPerBooking),
    rush_users: RUSH_USERS,
    rush_bookings: rush1.res.booked,
    rush_redis_bookings: rush1.stored,
    rush_errors: rush1.res.errors + rush1.unavailable,
    rush_told_full: rush1.res.full,
    rush_drain_ms: rush1.res.drainMs,
    rush_p99_ms: rush1.res.turnP99Ms,
    two_process_rps: t.rps,
    two_process_ratio: twoRatio,
    two_process_rush_bookings: rush2.res.booked,
    two_process_rush_redis_bookings: rush2.stored,
    two_process_rush_errors: rush2.res.errors + rush2.unavailable,
    two_process_rush_drain_ms: rush2.res.drainMs,
    two_process_rush_p99_ms: rush2.res.turnP99Ms,
    rush20k_users: BIG_RUSH_USERS,
    rush20k_redis: cluster ? 'cluster-3-masters' : 'single',
    rush20k_bookings: rush2.res.booked,
    rush20k_errors: rush2.res.errors + rush2.unavailable,
    rush20k_unanswered: unanswered2,
    rush20k_webhook_p99_ms: rush2.res.ackP99Ms,
    rush20k_redis_bytes_per_user: Math.round(rush2.bytesPerUser),
    question_rps: q.rps,
    question_ratio: questionRatio,
    question_cpu_ratio: questionCpuRatio,
    question_p50_ms: q.p50,
    question_p99_ms: q.p99,
    question_p99_ratio: questionP99Ratio,
    question_errors: questionErrors,
    question_redis_cmds_per_turn: questionCmdsPerTurn,
    question_redis_roundtrips_per_turn: askSample.perTurn,
    question_conversation_bytes: Math.round(askConvBytesMean),
    matcher_questions: mx.questions,
    matcher_p50_ms: mx.p50_ms,
    matcher_p99_ms: mx.p99_ms,
    matcher_reader_load_ms: mx.reader_load_ms,
    matcher_index_build_ms: mx.index_build_ms,
    matcher_rss_increase_mb: mx.rss_increase_mb,
    line_answer_bytes_ja: lineBytes.meanBytes.ja,
    line_answer_bytes_en: lineBytes.meanBytes.en,
    targets_met: Object.values(targets).filter(Boolean).length,
    targets_total: Object.keys(targets).length,
  };
  r.disconnect();
  stub.child.disconnect();
  await stopAll();
  log(JSON.stringify(summary));
}

main().then(
  () => process.exit(0),
  async (err: Error) => {
    process.stderr.write(`bench failed: ${err.stack ?? err}\n`);
    await stopAll(1_000);
    process.exit(1);
  },
);
