/**
 * A stand-in for the LINE Messaging API (a real `node:http` server on an ephemeral port),
 * plus helpers to build, sign and post webhook bodies the way LINE does.
 *
 * The stub records every request and answers reply/push with 200 `{}`; tests can make the
 * next N reply calls fail with 400 (an invalid or used reply token) or the next N push
 * calls fail with 500. Like LINE, it answers 409 to a push whose `X-Line-Retry-Key` was
 * already accepted (and delivers nothing).
 */
import { createHmac, randomUUID } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request the stub received. */
export interface StubCall {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  /** The JSON body, or the raw text when it was not JSON. */
  body: unknown;
  /** The status the stub answered with. */
  status: number;
}

/** A LINE message as the bot sent it (only the parts the tests look at). */
export interface SentMessage {
  type: string;
  text?: string;
  altText?: string;
  contents?: unknown;
  quickReply?: { items: { type: string; action: { type: string; label: string; data?: string; displayText?: string } }[] };
}

/** The message-sending calls (reply or push), with the target user where LINE says it. */
export interface SentCall {
  kind: 'reply' | 'push';
  /** Reply token (reply) — the stub cannot know the user of a reply by itself. */
  replyToken?: string;
  /** `to` (push). */
  to?: string;
  retryKey?: string;
  messages: SentMessage[];
  status: number;
}

export interface LineStub {
  url: string;
  /** Every request, in the order the stub answered them (= the order LINE accepted them). */
  calls: StubCall[];
  /** Successful and failed reply/push calls, in arrival order. */
  sent(): SentCall[];
  /** The next `n` reply calls fail with 400 `{"message":"Invalid reply token"}`. */
  failNextReplies(n: number): void;
  /** The next `n` push calls fail with 500. */
  failNextPushes(n: number): void;
  /** The next `n` reply calls are answered only after `ms` (a slow moment at LINE). */
  delayNextReplies(n: number, ms: number): void;
  /** Holds every answer until the returned function is called (LINE being slow). */
  pause(): () => void;
  /** Requests received but not answered yet (while paused). */
  pending(): number;
  /** Resolves once `predicate` holds over the recorded calls (polls; rejects after `timeoutMs`). */
  waitFor(predicate: (calls: StubCall[]) => boolean, timeoutMs?: number): Promise<void>;
  reset(): void;
  close(): Promise<void>;
}

export async function startLineStub(): Promise<LineStub> {
  const calls: StubCall[] = [];
  let replyFailures = 0;
  let pushFailures = 0;
  /** Retry keys of accepted pushes: LINE answers 409 to a second request with one. */
  const acceptedKeys = new Set<string>();
  let gate: Promise<void> | undefined;
  let waiting = 0;
  let replyDelays = { n: 0, ms: 0 };

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      if (req.url === '/v2/bot/message/reply' && replyDelays.n > 0) {
        replyDelays.n--;
        await new Promise((r) => setTimeout(r, replyDelays.ms));
      }
      if (gate) {
        waiting++;
        await gate;
        waiting--;
      }
      const text = Buffer.concat(chunks).toString('utf8');
      let body: unknown = text;
      try {
        body = text ? JSON.parse(text) : undefined;
      } catch {
        // keep the raw text
      }
      const path = (req.url ?? '').split('?')[0] ?? '';
      let status = 200;
      let answer: unknown = {};
      if (req.method === 'POST' && path === '/v2/bot/message/reply') {
        if (replyFailures > 0) {
          replyFailures--;
          status = 400;
          answer = { message: 'Invalid reply token' };
        }
      } else if (req.method === 'POST' && path === '/v2/bot/message/push') {
        const key = req.headers['x-line-retry-key'];
        if (typeof key === 'string' && acceptedKeys.has(key)) {
          status = 409;
          answer = { message: 'The retry key is already accepted' };
        } else if (pushFailures > 0) {
          pushFailures--;
          status = 500;
          answer = { message: 'Internal server error' };
        } else if (typeof key === 'string') {
          acceptedKeys.add(key);
        }
      } else {
        status = 404;
        answer = { message: 'Not found' };
      }
      calls.push({ method: req.method ?? '', path, headers: req.headers, body, status });
      const out = JSON.stringify(answer);
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(out) });
      res.end(out);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  const sent = (): SentCall[] =>
    calls
      .filter((c) => c.path === '/v2/bot/message/reply' || c.path === '/v2/bot/message/push')
      .map((c) => {
        const b = (c.body ?? {}) as { replyToken?: string; to?: string; messages?: SentMessage[] };
        const retry = c.headers['x-line-retry-key'];
        return {
          kind: c.path.endsWith('/reply') ? 'reply' : 'push',
          ...(b.replyToken !== undefined ? { replyToken: b.replyToken } : {}),
          ...(b.to !== undefined ? { to: b.to } : {}),
          ...(typeof retry === 'string' ? { retryKey: retry } : {}),
          messages: b.messages ?? [],
          status: c.status,
        };
      });

  return {
    url: `http://127.0.0.1:${port}`,
    calls,
    sent,
    failNextReplies: (n) => {
      replyFailures = n;
    },
    failNextPushes: (n) => {
      pushFailures = n;
    },
    delayNextReplies: (n, ms) => {
      replyDelays = { n, ms };
    },
    pause() {
      let open!: () => void;
      gate = new Promise<void>((resolve) => {
        open = resolve;
      });
      return () => {
        gate = undefined;
        open();
      };
    },
    pending: () => waiting,
    async waitFor(predicate, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (!predicate(calls)) {
        if (Date.now() > deadline) throw new Error(`LINE stub: condition not met within ${timeoutMs} ms (${calls.length} calls)`);
        await new Promise((r) => setTimeout(r, 10));
      }
    },
    reset() {
      calls.length = 0;
      replyFailures = 0;
      pushFailures = 0;
      replyDelays = { n: 0, ms: 0 };
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

// ---- webhook side ------------------------------------------------------------------------

/** LINE's `X-Line-Signature`: base64 HMAC-SHA256 of the exact body bytes with the channel secret. */
export function sign(body: string | Buffer, secret: string): string {
  return createHmac('sha256', secret).update(body).digest('base64');
}

/** A webhook event as LINE sends it (the parts the bot reads, plus the usual extras). */
export interface LineEvent {
  type: string;
  /** `standby` when another module owns the chat: LINE then sends no reply token. */
  mode: 'active' | 'standby';
  timestamp: number;
  webhookEventId: string;
  deliveryContext: { isRedelivery: boolean };
  source: { type: 'user'; userId: string };
  replyToken?: string;
  message?: Record<string, unknown>;
  postback?: { data: string };
}

/** Builds events for one user with fresh ids, stamped with `now()` (the fake clock). */
export function eventFactory(now: () => number) {
  const base = (userId: string, type: string): LineEvent => ({
    type,
    mode: 'active',
    timestamp: now(),
    webhookEventId: `01${randomUUID().replace(/-/g, '').toUpperCase().slice(0, 24)}`,
    deliveryContext: { isRedelivery: false },
    source: { type: 'user', userId },
    replyToken: randomUUID().replace(/-/g, ''),
  });
  return {
    text: (userId: string, text: string): LineEvent => ({
      ...base(userId, 'message'),
      message: { type: 'text', id: String(Math.floor(Math.random() * 1e15)), quoteToken: randomUUID(), text },
    }),
    postback: (userId: string, data: string | object): LineEvent => ({
      ...base(userId, 'postback'),
      postback: { data: typeof data === 'string' ? data : JSON.stringify(data) },
    }),
    follow: (userId: string): LineEvent => ({ ...base(userId, 'follow') }),
    sticker: (userId: string): LineEvent => ({
      ...base(userId, 'message'),
      message: { type: 'sticker', id: String(Math.floor(Math.random() * 1e15)), packageId: '446', stickerId: '1988', stickerResourceType: 'STATIC' },
    }),
  };
}

/** The event as LINE sends it while another module owns the chat: standby, no reply token. */
export function standby(event: LineEvent): LineEvent {
  const { replyToken: _, ...rest } = event;
  return { ...rest, mode: 'standby' };
}

/** The webhook body LINE posts. */
export function webhookBody(events: LineEvent[]): string {
  return JSON.stringify({ destination: 'Ubot0000000000000000000000000000', events });
}

/** A unique LINE-like user id (`U` + 32 hex digits). */
export function lineUserId(): string {
  return `U${randomUUID().replace(/-/g, '')}`;
}

/**
 * Posts `body` (string or events) to the webhook, signed with `secret` over the exact bytes
 * sent. `signature: null` sends no signature; a string sends that one instead.
 */
export async function postWebhook(
  url: string,
  body: string | LineEvent[],
  secret: string,
  opts: { signature?: string | null } = {},
): Promise<Response> {
  const bytes = Buffer.from(typeof body === 'string' ? body : webhookBody(body), 'utf8');
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  const signature = opts.signature === undefined ? sign(bytes, secret) : opts.signature;
  if (signature !== null) headers['x-line-signature'] = signature;
  return fetch(`${url}/line/webhook`, { method: 'POST', headers, body: bytes });
}

/** The texts of a sent call's messages (alt text for Flex), joined by newlines. */
export function textOf(call: Pick<SentCall, 'messages'>): string {
  return call.messages.map((m) => m.text ?? m.altText ?? '').join('\n');
}

// ---- the booking flow ---------------------------------------------------------------------

/** The session and slot the booking tests use (window open 2026-11-16 → 2026-12-04). */
export const SESSION_ID = '2026-12-08-asao';
/** The fake clock's start: inside that booking window. */
export const NOW_ISO = '2026-11-24T10:00:00+09:00';
/** A booking reference as the bot shows it. */
export const REFERENCE = /[2-9A-Z]{3}-[2-9A-Z]{4}/;

/** Postback payloads of the booking flow (see dialogs/actions.ts). */
export const tap = {
  mode: (v: 'in_person' | 'online' = 'in_person') => ({ a: 'mode', v }),
  yes: () => ({ a: 'answer', v: 'yes' }),
  date: (v = SESSION_ID) => ({ a: 'date', v }),
  time: (v = '0930', s = SESSION_ID) => ({ a: 'time', s, v }),
  agree: () => ({ a: 'agree', v: true }),
  confirm: () => ({ a: 'confirm' }),
};

/** Events that take a user from the menu to the time step (in person: 5 screening questions). */
export function eventsToTimeStep(ev: ReturnType<typeof eventFactory>, userId: string): LineEvent[] {
  return [
    ev.text(userId, '予約する'),
    ev.postback(userId, tap.mode('in_person')),
    ...Array.from({ length: 5 }, () => ev.postback(userId, tap.yes())),
    ev.postback(userId, tap.date()),
  ];
}
