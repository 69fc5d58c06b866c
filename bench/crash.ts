/**
 * `npm run bench:crash`: `kill -9` of the bot and of redis-server at random moments of a
 * booking rush, and what the citizens saw. Prints, per run and in total:
 *
 * - bookings in Redis against references delivered (each booking's reference reached its
 *   owner; no reference was told of a booking Redis does not hold);
 * - double bookings (a person with two, a slot with two, more than the slots);
 * - silent turns: events LINE delivered (answered 200) that never got an answer or an
 *   apology, after LINE's redeliveries and the bot's outbox sweep;
 * - answers shown twice, apologies, redeliveries, kills.
 *
 * What is real: the bot (`src/main.ts`, `NODE_ENV=production`, sealed data), redis-server
 * with the README's persistence (`appendonly yes`, `appendfsync everysec`) restarted on its
 * own files, and HTTP on loopback. This process plays LINE: a stub of the Messaging API that
 * behaves as LINE documents (a reply token works once and for about a minute; a push whose
 * `X-Line-Retry-Key` was accepted before answers 409 and is not shown again), and a webhook
 * delivery that redelivers an event (same id and reply token, `isRedelivery: true`) while the
 * bot does not answer it with 2xx, as LINE does with redelivery turned on.
 *
 * Each simulated citizen books like `bench/stub.ts`'s, with a pause before each tap; after an
 * apology or a silence they tap again (a new event), as a person would.
 *
 * Settings (env): CRASH_USERS (200), CRASH_RUNS (3), CRASH_BOT_KILLS (3 per run),
 * CRASH_REDIS_KILLS (1 per run), CRASH_SEED (random).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import ja from '../locales/ja.json' with { type: 'json' };
import { stableUuid } from '../src/uuid.ts';
import { startRedisServer, type RedisServer } from '../test/support/redisServer.ts';
import {
  CHANNEL_SECRET,
  CHANNEL_TOKEN,
  eventId,
  freePort,
  HOST,
  installCleanup,
  lineUserId,
  percentile,
  type Proc,
  sleep,
  spawnTracked,
  stopAll,
  track,
  waitUntil,
  webhookRequest,
  writeCatalog,
} from './common.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const USERS = Number(process.env.CRASH_USERS ?? 200);
const RUNS = Number(process.env.CRASH_RUNS ?? 3);
const BOT_KILLS = Number(process.env.CRASH_BOT_KILLS ?? 3);
const REDIS_KILLS = Number(process.env.CRASH_REDIS_KILLS ?? 1);
const SESSION = 'crash-session';
/** A slot's length in the shipped catalog gives 12 slots a session. */
const SLOTS = 12;

/** LINE gives up on a webhook that has not answered in this long (and redelivers it). */
const WEBHOOK_TIMEOUT_MS = 2_000;
/** Waits before LINE's redeliveries of one event (then it stops trying). */
const REDELIVERY_BACKOFF_MS = [500, 1_000, 2_000, 4_000, 8_000, 8_000, 8_000, 8_000];
/** How long a citizen waits for an answer before calling the turn silent (covers the bot's outbox sweep). */
const ANSWER_WAIT_MS = 40_000;
const REPLY_TOKEN_LIFE_MS = 60_000;
/** A citizen's pause before a tap (uniform, ms). */
const THINK_MS: [number, number] = [50, 600];
/** Taps of one step after an apology or silence, before the citizen gives up. */
const STEP_TRIES = 4;
/** A booking reference, not the tail of a phone number. */
const REFERENCE = /(?<![0-9A-Z-])[2-9A-Z]{3}-[2-9A-Z]{4}(?![0-9A-Z-])/g;
const APOLOGY_MARKS = [ja.unavailable.slice(0, 12), ja.limit.slowDown.slice(0, 12)];

// ---- randomness (seeded, so a run can be repeated) ----------------------------------------

const SEED = Number(process.env.CRASH_SEED ?? randomBytes(4).readUInt32LE());
let rngState = SEED || 1;
/** xorshift32 in [0, 1). */
function random(): number {
  rngState ^= rngState << 13;
  rngState ^= rngState >>> 17;
  rngState ^= rngState << 5;
  return (rngState >>> 0) / 4_294_967_296;
}
const between = ([lo, hi]: [number, number]) => lo + random() * (hi - lo);

// ---- LINE: the Messaging API stub -----------------------------------------------------------

interface LineMessage {
  type: string;
  text?: string;
  altText?: string;
  contents?: unknown;
  quickReply?: { items: { action: { data?: string; label?: string } }[] };
}
interface Delivery {
  apology: boolean;
  messages: LineMessage[];
}
interface Counts {
  turns: number;
  redeliveries: number;
  /** Events LINE stopped redelivering without ever getting a 2xx. */
  undeliverable: number;
  silent: number;
  apologies: number;
  /** Events whose answer LINE showed more than once (a reply and a push of the same turn). */
  shownTwice: number;
  /** From the event's first post to its answer, for the answered ones (ms). */
  answerMs: number[];
}

const tokens = new Map<string, { event: string; issuedAt: number; used: boolean }>();
const userOfToken = new Map<string, string>();
/** Retry key → event and whether it is the apology's key (the bot derives both from the event id). */
const retryKeys = new Map<string, { event: string; apology: boolean }>();
const acceptedKeys = new Set<string>();
/** Event → first-batch deliveries shown to the citizen. */
const shown = new Map<string, Delivery[]>();
const waiters = new Map<string, (d: Delivery) => void>();
/** User → every text LINE showed them, for the references they were told. */
const seenBy = new Map<string, string[]>();

function textOf(messages: LineMessage[]): string {
  return messages.map((m) => `${m.text ?? ''} ${m.altText ?? ''} ${m.contents ? JSON.stringify(m.contents) : ''}`).join('\n');
}

function show(userId: string | undefined, event: string | undefined, firstBatch: boolean, messages: LineMessage[]): void {
  const text = textOf(messages);
  if (userId) seenBy.set(userId, [...(seenBy.get(userId) ?? []), text]);
  if (!event || !firstBatch) return;
  const delivery = { apology: APOLOGY_MARKS.some((m) => text.includes(m)), messages };
  shown.set(event, [...(shown.get(event) ?? []), delivery]);
  waiters.get(event)?.(delivery);
}

const lineApi = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const answer = (status: number, body: object) => {
      const out = JSON.stringify(body);
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(out) });
      res.end(out);
    };
    let body: { replyToken?: string; to?: string; messages?: LineMessage[] };
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      answer(400, { message: 'The request body has 1 error(s)' });
      return;
    }
    const path = (req.url ?? '').split('?')[0];
    if (path === '/v2/bot/message/reply') {
      const token = body.replyToken === undefined ? undefined : tokens.get(body.replyToken);
      if (!token || token.used || Date.now() - token.issuedAt > REPLY_TOKEN_LIFE_MS) {
        answer(400, { message: 'Invalid reply token' });
        return;
      }
      token.used = true;
      show(userOfToken.get(body.replyToken!), token.event, true, body.messages ?? []);
      answer(200, {});
      return;
    }
    if (path === '/v2/bot/message/push') {
      const key = req.headers['x-line-retry-key'];
      if (typeof key === 'string' && acceptedKeys.has(key)) {
        answer(409, { message: 'The retry key is already accepted' });
        return;
      }
      if (typeof key === 'string') acceptedKeys.add(key);
      const known = typeof key === 'string' ? retryKeys.get(key) : undefined;
      show(body.to, known?.event, known !== undefined, body.messages ?? []);
      answer(200, {});
      return;
    }
    answer(404, { message: 'Not found' });
  });
});
// ---- LINE: webhook delivery -----------------------------------------------------------------

let botUrl = '';

function post(body: string): Promise<number> {
  return new Promise((resolve) => {
    const target = new URL('/line/webhook', botUrl);
    const bytes = Buffer.from(body);
    const req = request(webhookRequest(target, bytes), (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', () => resolve(0));
    });
    req.setTimeout(WEBHOOK_TIMEOUT_MS, () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve(0));
    req.end(bytes);
  });
}

type Payload = { text: string } | { postback: object };

/**
 * One tap or message of a citizen, as LINE delivers it: posted until the bot answers 2xx (or
 * LINE gives up), then the citizen waits for what LINE shows them. Undefined: nothing came.
 */
async function turn(userId: string, payload: Payload, counts: Counts): Promise<Delivery | undefined> {
  const id = eventId();
  const replyToken = randomBytes(16).toString('hex');
  tokens.set(replyToken, { event: id, issuedAt: Date.now(), used: false });
  userOfToken.set(replyToken, userId);
  for (let batch = 0; batch < 3; batch++) {
    retryKeys.set(stableUuid(`${id}#${batch}`), { event: id, apology: false });
    for (const why of ['failed', 'limited']) retryKeys.set(stableUuid(`${id}:${why}#${batch}`), { event: id, apology: true });
  }
  let timer: NodeJS.Timeout | undefined;
  const answered = new Promise<Delivery | undefined>((resolve) => {
    waiters.set(id, resolve);
    timer = setTimeout(() => resolve(undefined), ANSWER_WAIT_MS);
  });
  const base = {
    type: 'text' in payload ? 'message' : 'postback',
    mode: 'active',
    timestamp: Date.now(),
    webhookEventId: id,
    source: { type: 'user', userId },
    replyToken,
    ...('text' in payload
      ? { message: { type: 'text', id: String(Math.floor(random() * 1e15)), quoteToken: randomBytes(16).toString('hex'), text: payload.text } }
      : { postback: { data: JSON.stringify(payload.postback) } }),
  };
  counts.turns++;
  const postedAt = Date.now();
  let accepted = false;
  for (let attempt = 0; attempt <= REDELIVERY_BACKOFF_MS.length && !accepted; attempt++) {
    if (attempt > 0) {
      counts.redeliveries++;
      await sleep(REDELIVERY_BACKOFF_MS[attempt - 1]!);
    }
    const event = { ...base, deliveryContext: { isRedelivery: attempt > 0 } };
    const status = await post(JSON.stringify({ destination: 'Ubot00000000000000000000000000000', events: [event] }));
    accepted = status >= 200 && status < 300;
  }
  if (!accepted) counts.undeliverable++;
  const delivery = await answered;
  clearTimeout(timer);
  waiters.delete(id);
  if (!delivery) {
    if (accepted) counts.silent++;
    return undefined;
  }
  if (delivery.apology) counts.apologies++;
  counts.answerMs.push(Date.now() - postedAt);
  return delivery;
}

// ---- a citizen ------------------------------------------------------------------------------

interface Tap {
  a: string;
  v?: unknown;
}
function taps(messages: LineMessage[]): Tap[] {
  return (messages.at(-1)?.quickReply?.items ?? []).flatMap((item) => {
    try {
      return item.action.data ? [JSON.parse(item.action.data) as Tap] : [];
    } catch {
      return [];
    }
  });
}

type Outcome = 'booked' | 'full' | 'gave_up' | 'unexpected';

/**
 * One citizen's booking. Each step is tapped again after an apology or a silence; `want`
 * says whether an answer is the one the step waits for.
 */
async function citizen(n: number, run: string, counts: Counts): Promise<Outcome> {
  const userId = lineUserId(n, run);
  const step = async (payload: Payload): Promise<LineMessage[] | undefined> => {
    for (let tries = 0; tries < STEP_TRIES; tries++) {
      await sleep(between(THINK_MS));
      const delivery = await turn(userId, payload, counts);
      if (delivery && !delivery.apology) return delivery.messages;
    }
    return undefined;
  };
  let m = await step({ text: '予約する' });
  if (!m) return 'gave_up';
  m = await step({ postback: { a: 'mode', v: 'in_person' } });
  for (let q = 0; q < 5; q++) {
    if (!m) return 'gave_up';
    if (!taps(m).some((t) => t.a === 'answer')) return 'unexpected';
    m = await step({ postback: { a: 'answer', v: 'yes' } });
  }
  if (!m) return 'gave_up';
  const dates = taps(m).filter((t) => t.a === 'date');
  if (dates.length === 0) return 'full';
  m = await step({ postback: dates[0]! });
  for (let attempt = 0; attempt < 30; attempt++) {
    if (!m) return 'gave_up';
    if (taps(m).some((t) => t.a === 'agree')) break;
    const times = taps(m).filter((t) => t.a === 'time');
    if (times.length === 0) return 'full';
    m = await step({ postback: times[Math.floor(random() * times.length)]! });
  }
  if (!m || !taps(m).some((t) => t.a === 'agree')) return m ? 'unexpected' : 'gave_up';
  for (const payload of [{ postback: { a: 'agree', v: true } }, { text: '川崎 花子' }, { text: '090-1234-5678' }, { text: `citizen${n}@example.jp` }]) {
    m = await step(payload);
    if (!m) return 'gave_up';
  }
  if (!taps(m!).some((t) => t.a === 'confirm')) return 'unexpected';
  m = await step({ postback: { a: 'confirm' } });
  if (!m) return 'gave_up';
  return textOf(m).match(REFERENCE) ? 'booked' : 'unexpected';
}

// ---- the bot and redis-server -------------------------------------------------------------

interface Bot {
  proc: Proc;
}

async function startBot(env: Record<string, string>, port: number): Promise<Bot> {
  const proc = spawnTracked(process.execPath, ['src/main.ts'], { cwd: ROOT, env: { ...process.env, ...env, PORT: String(port), HOST } });
  await waitUntil('bot', async () => (await fetch(`${botUrl}/readyz`)).ok, 30_000, proc.exited);
  return { proc };
}

function killNow(proc: { child: { kill(signal: NodeJS.Signals): boolean; once(e: 'exit', f: () => void): unknown } }): Promise<void> {
  return new Promise((resolve) => {
    proc.child.once('exit', () => resolve());
    proc.child.kill('SIGKILL');
  });
}

// ---- one run ------------------------------------------------------------------------------

interface RunReport {
  run: number;
  users: number;
  botKills: number;
  redisKills: number;
  outcomes: Record<Outcome, number>;
  bookingsInRedis: number;
  referencesDelivered: number;
  /** Bookings whose reference never reached their owner. */
  bookedNotTold: number;
  /** References told of bookings Redis does not hold. */
  toldNotBooked: number;
  doubleBookings: number;
  counts: Counts;
  seconds: number;
}

async function runOnce(run: number, dir: string, catalog: string): Promise<RunReport> {
  const tag = `k${run}`;
  const prefix = `crash${run}:`;
  const counts: Counts = { turns: 0, redeliveries: 0, undeliverable: 0, silent: 0, apologies: 0, shownTwice: 0, answerMs: [] };
  const redisDir = mkdtempSync(join(dir, `redis${run}-`));
  let redis: RedisServer = await startRedisServer({ dir: redisDir, appendOnly: true, onSpawn: track });
  const botPort = await freePort();
  botUrl = `http://${HOST}:${botPort}`;
  const env = {
    NODE_ENV: 'production',
    REDIS_URL: redis.url,
    REDIS_PREFIX: prefix,
    DATA_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
    LINE_CHANNEL_SECRET: CHANNEL_SECRET,
    LINE_CHANNEL_ACCESS_TOKEN: CHANNEL_TOKEN,
    LINE_API_BASE_URL: `http://${HOST}:${(lineApi.address() as AddressInfo).port}`,
    CATALOG_FILE: catalog,
    LOG_LEVEL: 'warn',
  };
  let bot = await startBot(env, botPort);
  const started = Date.now();

  const outcomes: Record<Outcome, number> = { booked: 0, full: 0, gave_up: 0, unexpected: 0 };
  let rushDone = false;
  const rush = Promise.all(
    Array.from({ length: USERS }, (_, n) =>
      citizen(n, tag, counts).then(
        (o) => {
          outcomes[o]++;
        },
        () => {
          outcomes.unexpected++;
        },
      ),
    ),
  ).finally(() => {
    rushDone = true;
  });

  // The kills, in a random order, each a random moment after the bot (or Redis) is back.
  const plan = [...Array<'bot'>(BOT_KILLS).fill('bot'), ...Array<'redis'>(REDIS_KILLS).fill('redis')].sort(() => random() - 0.5);
  let botKills = 0;
  let redisKills = 0;
  for (const target of plan) {
    await sleep(between([300, 2_500]));
    if (rushDone) break;
    if (target === 'bot') {
      await killNow(bot.proc);
      botKills++;
      bot = await startBot(env, botPort);
    } else {
      await killNow(redis);
      redisKills++;
      redis = await startRedisServer({ port: redis.port, dir: redisDir, appendOnly: true, onSpawn: track });
    }
  }
  await rush;

  // What Redis holds now, read as the office would (the booking's own fields are not sealed).
  const client = new Redis(redis.url, { lazyConnect: true });
  await client.connect();
  const bookings = (await client.hvals(`${prefix}{s:${SESSION}}:bookings`)).map((json) => JSON.parse(json) as { id: string; slotId: string; userKey: string });
  client.disconnect();
  const perUser = new Map<string, number>();
  const perSlot = new Map<string, number>();
  for (const b of bookings) {
    perUser.set(b.userKey, (perUser.get(b.userKey) ?? 0) + 1);
    perSlot.set(b.slotId, (perSlot.get(b.slotId) ?? 0) + 1);
  }
  const extra = (m: Map<string, number>) => [...m.values()].reduce((s, c) => s + Math.max(0, c - 1), 0);
  const doubleBookings = extra(perUser) + extra(perSlot) + Math.max(0, bookings.length - SLOTS);

  // References each owner was shown, against the bookings Redis holds.
  const told = new Set<string>();
  let bookedNotTold = 0;
  for (const b of bookings) {
    const userId = b.userKey.replace(/^line:/, '');
    const seen = (seenBy.get(userId) ?? []).join('\n');
    if (seen.includes(b.id)) told.add(b.id);
    else bookedNotTold++;
  }
  const allTold = new Set<string>();
  for (let n = 0; n < USERS; n++) for (const text of seenBy.get(lineUserId(n, tag)) ?? []) for (const r of text.match(REFERENCE) ?? []) allTold.add(r);
  const held = new Set(bookings.map((b) => b.id));
  const toldNotBooked = [...allTold].filter((r) => !held.has(r)).length;
  for (const [, deliveries] of shown) if (deliveries.filter((d) => !d.apology).length > 1) counts.shownTwice++;

  await killNow(bot.proc);
  await redis.stop();
  shown.clear();
  seenBy.clear();
  tokens.clear();
  userOfToken.clear();
  retryKeys.clear();
  return {
    run,
    users: USERS,
    botKills,
    redisKills,
    outcomes,
    bookingsInRedis: bookings.length,
    referencesDelivered: told.size,
    bookedNotTold,
    toldNotBooked,
    doubleBookings,
    counts,
    seconds: Math.round((Date.now() - started) / 100) / 10,
  };
}

// ---- main ---------------------------------------------------------------------------------

installCleanup();
const tmp = mkdtempSync(join(tmpdir(), 'citybot-crash-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));
await new Promise<void>((resolve) => lineApi.listen(0, HOST, resolve));
const catalog = writeCatalog(tmp, 'crash', [SESSION]);
process.stdout.write(`crash bench: ${RUNS} runs × ${USERS} users, ${BOT_KILLS} bot and ${REDIS_KILLS} redis kill -9 per run, seed ${SEED}\n`);
const reports: RunReport[] = [];
try {
  for (let run = 1; run <= RUNS; run++) {
    const r = await runOnce(run, tmp, catalog);
    reports.push(r);
    const c = r.counts;
    process.stdout.write(
      `run ${r.run}: kills bot ${r.botKills} redis ${r.redisKills} | bookings in Redis ${r.bookingsInRedis}, references delivered ${r.referencesDelivered}` +
        ` (booked not told ${r.bookedNotTold}, told not booked ${r.toldNotBooked}), double ${r.doubleBookings}` +
        ` | turns ${c.turns}, silent ${c.silent}, shown twice ${c.shownTwice}, apologies ${c.apologies}, redeliveries ${c.redeliveries}, never accepted ${c.undeliverable}` +
        `, answer p50 ${percentile(c.answerMs, 50)} ms p99 ${percentile(c.answerMs, 99)} ms max ${percentile(c.answerMs, 100)} ms` +
        ` | citizens booked ${r.outcomes.booked}, full ${r.outcomes.full}, gave up ${r.outcomes.gave_up}, unexpected ${r.outcomes.unexpected} | ${r.seconds} s\n`,
    );
  }
} finally {
  lineApi.closeAllConnections();
  lineApi.close();
  await stopAll();
}
const sum = (f: (r: RunReport) => number) => reports.reduce((s, r) => s + f(r), 0);
const total = {
  runs: reports.length,
  users: sum((r) => r.users),
  bot_kills: sum((r) => r.botKills),
  redis_kills: sum((r) => r.redisKills),
  bookings_in_redis: sum((r) => r.bookingsInRedis),
  references_delivered: sum((r) => r.referencesDelivered),
  booked_not_told: sum((r) => r.bookedNotTold),
  told_not_booked: sum((r) => r.toldNotBooked),
  double_bookings: sum((r) => r.doubleBookings),
  turns: sum((r) => r.counts.turns),
  silent_turns: sum((r) => r.counts.silent),
  shown_twice: sum((r) => r.counts.shownTwice),
  apologies: sum((r) => r.counts.apologies),
  redeliveries: sum((r) => r.counts.redeliveries),
  never_accepted: sum((r) => r.counts.undeliverable),
  answer_p99_ms: percentile(reports.flatMap((r) => r.counts.answerMs), 99),
  answer_max_ms: percentile(reports.flatMap((r) => r.counts.answerMs), 100),
  gave_up: sum((r) => r.outcomes.gave_up),
  unexpected: sum((r) => r.outcomes.unexpected),
  seed: SEED,
};
process.stdout.write(`${JSON.stringify(total)}\n`);
const ok = total.booked_not_told === 0 && total.told_not_booked === 0 && total.double_bookings === 0 && total.silent_turns === 0;
process.exit(ok ? 0 : 1);
