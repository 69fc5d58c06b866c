/**
 * The bench's LINE side, in its own process (forked by run.ts, driven over IPC):
 *
 * - a stub of the LINE Messaging API (`POST /v2/bot/message/reply` and `/push`) that answers
 *   200 `{}` and counts calls, replies carrying the bot's apology, and bytes; the profile
 *   (`GET /v2/bot/profile/<user>`, language `ja`) a new conversation asks for; and the loading
 *   animation a slow turn starts (202);
 * - a driver of simulated LINE users: each user is a sequential loop of signed webhook posts
 *   (as LINE delivers one user's events one by one), all users concurrent. A user waits for
 *   the bot's reply to reach this stub (by reply token, or by push to the user id), reads the
 *   quick-reply buttons in it and taps one, like a person would.
 *
 * Keeping the stub and the driver in one process means a reply is matched to its turn
 * without another round trip, and turn latency is measured on one clock: from the moment
 * the event is posted to the moment the bot's reply arrives at "LINE".
 */
import { randomBytes, randomInt } from 'node:crypto';
import { Agent, createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { HOST, lineUserId, percentile, round, UNAVAILABLE_MARK, webhookBody, webhookRequest } from './common.ts';

// ---- the stub LINE API --------------------------------------------------------------------

interface LineMessage {
  type: string;
  text?: string;
  altText?: string;
  quickReply?: { items: { action: { data?: string; label?: string } }[] };
}
interface Received {
  at: number;
  kind: 'reply' | 'push';
  raw: string;
  messages: LineMessage[];
}

const counters = { reply: 0, push: 0, unavailable: 0, other: 0, profile: 0, loading: 0, bytes: 0 };
/** Turns waiting for their reply: key = reply token, or `push:<userId>`. */
const waiters = new Map<string, (r: Received) => void>();

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const at = performance.now();
    const raw = Buffer.concat(chunks).toString('utf8');
    const path = (req.url ?? '').split('?')[0] ?? '';
    const kind = path === '/v2/bot/message/reply' ? 'reply' : path === '/v2/bot/message/push' ? 'push' : undefined;
    if (req.method === 'POST' && kind) {
      counters[kind]++;
      counters.bytes += raw.length;
      if (raw.includes(UNAVAILABLE_MARK)) counters.unavailable++;
      if (waiters.size > 0) {
        const body = JSON.parse(raw) as { replyToken?: string; to?: string; messages?: LineMessage[] };
        const key = kind === 'reply' ? body.replyToken : `push:${body.to}`;
        const waiter = key === undefined ? undefined : waiters.get(key);
        waiter?.({ at, kind, raw, messages: body.messages ?? [] });
      }
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': 2 });
      res.end('{}');
      return;
    }
    // A slow turn starts the loading animation: LINE answers 202 with an empty object.
    if (req.method === 'POST' && path === '/v2/bot/chat/loading/start') {
      counters.loading++;
      res.writeHead(202, { 'content-type': 'application/json', 'content-length': 2 });
      res.end('{}');
      return;
    }
    // A new conversation asks for the citizen's profile (its language), as LINE answers it.
    if (req.method === 'GET' && path.startsWith('/v2/bot/profile/')) {
      counters.profile++;
      const body = JSON.stringify({ userId: path.slice('/v2/bot/profile/'.length), displayName: 'bench', language: 'ja' });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
      return;
    }
    counters.other++;
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end('{"message":"Not found"}');
  });
});
server.keepAliveTimeout = 60_000;

// ---- simulated users ----------------------------------------------------------------------

/** What run.ts asks the driver to do. */
export interface RunSpec {
  /**
   * `prewarm`: stop at the first screening question; `book`: the whole booking conversation;
   * `menu`: one turn, "メニュー", leaving the user at the menu (where questions are typed).
   */
  kind: 'prewarm' | 'book' | 'menu';
  /** Bot base URLs; requests go round-robin over them (a load balancer per request). */
  urls: string[];
  users: number;
  /** Tag in the user ids, so runs do not share users. */
  run: string;
  /** User i prefers session `sessionIds[i % n]` at the date step (else the first offered). */
  sessionIds?: string[];
  /** Users in flight at once (default: all of them). */
  concurrency?: number;
  /** Connections per bot URL (like LINE's delivery pool). */
  maxSockets?: number;
  replyTimeoutMs?: number;
}

export interface RunResult {
  users: number;
  booked: number;
  prewarmed: number;
  /** Users told there is no date or time left. */
  full: number;
  fullAtDate: number;
  fullAtTime: number;
  /** Users whose conversation ended in an error (HTTP error, no reply, apology, unexpected reply). */
  errors: number;
  errorKinds: Record<string, number>;
  /** Times a user tapped a time that was gone by then ("taken") and picked another. */
  takenRetries: number;
  references: string[];
  /** What a user told "full" read (first one seen). */
  fullSample: string;
  turns: number;
  turnP50Ms: number;
  turnP99Ms: number;
  turnMaxMs: number;
  /** The webhook's HTTP answer from the moment the request had a connection (LINE's 2 s clock), p99. */
  ackP99Ms: number;
  drainMs: number;
  turnsPerSecond: number;
}

class TurnError extends Error {
  readonly kind: string;
  constructor(kind: string) {
    super(kind);
    this.kind = kind;
  }
}

interface Tap {
  a: string;
  v?: unknown;
  s?: string;
}

/** The buttons of a reply (LINE shows them as quick replies on the last message). */
function taps(messages: LineMessage[]): Tap[] {
  const items = messages.at(-1)?.quickReply?.items ?? [];
  return items.flatMap((item) => {
    try {
      return item.action.data ? [JSON.parse(item.action.data) as Tap] : [];
    } catch {
      return [];
    }
  });
}

function textOf(messages: LineMessage[]): string {
  return messages.map((m) => m.text ?? m.altText ?? '').join('\n');
}

/** The reply as a person sees it: its texts, then its buttons. */
function shown(messages: LineMessage[]): string {
  const labels = (messages.at(-1)?.quickReply?.items ?? []).map((i) => i.action.label ?? '?');
  return `${textOf(messages)} [${labels.join(' | ')}]`;
}

const REFERENCE = /[2-9A-Z]{3}-[2-9A-Z]{4}/;

async function runUsers(spec: RunSpec): Promise<RunResult> {
  const agents = spec.urls.map(() => new Agent({ keepAlive: true, maxSockets: spec.maxSockets ?? 256 }));
  const targets = spec.urls.map((u) => new URL('/line/webhook', u));
  const timeoutMs = spec.replyTimeoutMs ?? 60_000;
  let next = 0;
  const turnMs: number[] = [];
  const ackMs: number[] = [];
  const result: RunResult = {
    users: spec.users, booked: 0, prewarmed: 0, full: 0, fullAtDate: 0, fullAtTime: 0, errors: 0, errorKinds: {},
    takenRetries: 0, references: [], fullSample: '', turns: 0, turnP50Ms: 0, turnP99Ms: 0, turnMaxMs: 0, ackP99Ms: 0,
    drainMs: 0, turnsPerSecond: 0,
  };

  /** Posts; resolves with the status and when the request got a connection (LINE's own clock starts then). */
  const post = (i: number, body: string): Promise<{ status: number; sentAt: number }> =>
    new Promise((resolve, reject) => {
      let sentAt = 0;
      const target = targets[i]!;
      const bytes = Buffer.from(body);
      const req = request(webhookRequest(target, bytes, agents[i]), (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, sentAt }));
        res.on('error', reject);
      });
      req.once('socket', () => {
        sentAt = performance.now();
      });
      req.setTimeout(timeoutMs, () => req.destroy(new Error('timeout')));
      req.on('error', reject);
      req.end(bytes);
    });

  /** One event of one user: post it, wait for the bot's answer at "LINE", return its messages. */
  const turn = async (userId: string, payload: { text: string } | { postback: object }): Promise<LineMessage[]> => {
    const replyToken = randomBytes(16).toString('hex');
    const body = webhookBody(userId, replyToken, 'text' in payload ? payload : { postback: JSON.stringify(payload.postback) });
    let timer: NodeJS.Timeout | undefined;
    const replied = new Promise<Received>((resolve, reject) => {
      const done = (r: Received) => {
        waiters.delete(replyToken);
        waiters.delete(`push:${userId}`);
        clearTimeout(timer);
        resolve(r);
      };
      waiters.set(replyToken, done);
      waiters.set(`push:${userId}`, done);
      timer = setTimeout(() => {
        waiters.delete(replyToken);
        waiters.delete(`push:${userId}`);
        reject(new TurnError('no_reply'));
      }, timeoutMs);
    });
    replied.catch(() => undefined);
    const t0 = performance.now();
    const target = next++ % targets.length;
    let status = 0;
    try {
      const posted = await post(target, body);
      status = posted.status;
      ackMs.push(performance.now() - posted.sentAt);
    } catch {
      status = 0;
    }
    if (status !== 200) {
      // A failed webhook gets no reply: stop waiting for one.
      waiters.delete(replyToken);
      waiters.delete(`push:${userId}`);
      clearTimeout(timer);
      throw new TurnError(status === 0 ? 'http_failed' : `http_${status}`);
    }
    const r = await replied;
    result.turns++;
    turnMs.push(r.at - t0);
    if (r.raw.includes(UNAVAILABLE_MARK)) throw new TurnError('bot_apologised');
    return r.messages;
  };

  const expect = (ok: boolean, kind: string) => {
    if (!ok) throw new TurnError(kind);
  };

  /** One citizen's conversation. */
  const user = async (n: number): Promise<void> => {
    const id = lineUserId(n, spec.run);
    if (spec.kind === 'menu') {
      expect(taps(await turn(id, { text: 'メニュー' })).some((t) => t.a === 'ask'), 'no_menu');
      result.prewarmed++;
      return;
    }
    let m = await turn(id, { text: '予約する' });
    expect(taps(m).some((t) => t.a === 'mode'), 'no_mode_prompt');
    m = await turn(id, { postback: { a: 'mode', v: 'in_person' } });
    expect(taps(m).some((t) => t.a === 'answer'), 'no_screening_prompt');
    if (spec.kind === 'prewarm') {
      result.prewarmed++;
      return;
    }
    for (let q = 0; q < 5; q++) {
      expect(taps(m).some((t) => t.a === 'answer'), 'no_screening_prompt');
      m = await turn(id, { postback: { a: 'answer', v: 'yes' } });
    }
    const dates = taps(m).filter((t) => t.a === 'date');
    if (dates.length === 0) {
      expect(taps(m).length > 0 && textOf(m).length > 0, 'no_date_step');
      result.full++;
      result.fullAtDate++;
      result.fullSample ||= shown(m);
      return;
    }
    const preferred = spec.sessionIds?.[n % spec.sessionIds.length];
    const date = dates.find((d) => d.v === preferred) ?? dates[0]!;
    m = await turn(id, { postback: date });
    let held = false;
    for (let attempt = 0; attempt < 30 && !held; attempt++) {
      const times = taps(m).filter((t) => t.a === 'time');
      if (times.length === 0) {
        expect(taps(m).length > 0 && textOf(m).length > 0, 'no_time_step');
        result.full++;
        result.fullAtTime++;
        result.fullSample ||= shown(m);
        return;
      }
      m = await turn(id, { postback: times[randomInt(times.length)]! });
      held = taps(m).some((t) => t.a === 'agree');
      if (!held) result.takenRetries++;
    }
    expect(held, 'never_held');
    m = await turn(id, { postback: { a: 'agree', v: true } });
    m = await turn(id, { text: '川崎 花子' });
    m = await turn(id, { text: '090-1234-5678' });
    m = await turn(id, { text: `citizen${n}@example.jp` });
    expect(taps(m).some((t) => t.a === 'confirm'), 'no_summary');
    m = await turn(id, { postback: { a: 'confirm' } });
    // In the booked card's body: its alt text (notifications) leaves the reference out.
    const reference = REFERENCE.exec(JSON.stringify(m))?.[0];
    expect(reference !== undefined, 'not_confirmed');
    result.booked++;
    result.references.push(reference!);
  };

  const start = performance.now();
  let cursor = 0;
  const worker = async () => {
    while (cursor < spec.users) {
      const n = cursor++;
      try {
        await user(n);
      } catch (err) {
        const kind = err instanceof TurnError ? err.kind : `exception:${(err as Error).message}`;
        result.errors++;
        result.errorKinds[kind] = (result.errorKinds[kind] ?? 0) + 1;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(spec.concurrency ?? spec.users, spec.users) }, worker));
  result.drainMs = round(performance.now() - start, 0);
  for (const agent of agents) agent.destroy();
  result.turnP50Ms = round(percentile(turnMs, 50), 1);
  result.turnP99Ms = round(percentile(turnMs, 99), 1);
  result.turnMaxMs = round(percentile(turnMs, 100), 1);
  result.ackP99Ms = round(percentile(ackMs, 99), 1);
  result.turnsPerSecond = round(result.turns / (result.drainMs / 1000), 0);
  return result;
}

// ---- IPC with run.ts ----------------------------------------------------------------------

type Command = { id: number; cmd: 'stats' } | { id: number; cmd: 'run'; spec: RunSpec };

process.on('message', (msg: Command) => {
  const answer = (body: object) => process.send?.({ id: msg.id, ...body });
  if (msg.cmd === 'stats') {
    answer({ stats: { ...counters } });
    return;
  }
  if (msg.cmd === 'run') {
    runUsers(msg.spec).then(
      (result) => answer({ result }),
      (err: Error) => answer({ error: err.stack ?? String(err) }),
    );
  }
});
process.on('disconnect', () => process.exit(0));

server.listen(0, HOST, () => {
  process.send?.({ ready: `http://${HOST}:${(server.address() as AddressInfo).port}` });
});
