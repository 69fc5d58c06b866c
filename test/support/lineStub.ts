/**
 * A stand-in for the LINE Messaging API (a real `node:http` server on an ephemeral port),
 * plus helpers to build, sign and post webhook bodies the way LINE does.
 *
 * The stub records every request and answers reply/push with 200 `{}`; tests can make the
 * next N reply calls fail with 400 (an invalid or used reply token) or the next N push
 * calls fail with 500. Like LINE, it answers 409 to a push whose `X-Line-Retry-Key` was
 * already accepted (and delivers nothing).
 *
 * It also plays the rest of the Messaging API the bot uses: profiles (`setProfile`), the
 * loading animation, and rich menus (create, list, delete, image upload as on the api-data
 * host, aliases, the default menu, per-user links), checked against LINE's limits; `delay`
 * and `failNext` slow or break them by path.
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

/** A rich menu as the stub holds it: LINE's rich menu object, its id, and its uploaded image. */
export interface StubRichMenu {
  richMenuId: string;
  size: { width: number; height: number };
  selected: boolean;
  name: string;
  chatBarText: string;
  areas: { bounds: { x: number; y: number; width: number; height: number }; action: { type: string; label?: string; data?: string; displayText?: string } }[];
  image?: { contentType: string; data: Buffer };
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
  /** Message calls (reply, push) received but not answered yet (while paused). */
  pending(): number;
  /** The profile `GET /v2/bot/profile/{userId}` answers (default: a display name and no language). */
  setProfile(userId: string, profile: { displayName?: string; language?: string }): void;
  /** Calls whose path starts with `prefix` (profile, loading, rich menu) are answered after `ms`. */
  delay(prefix: string, ms: number): void;
  /** The next `n` calls whose path starts with `prefix` (profile, loading, rich menu) fail with `status`. */
  failNext(prefix: string, n: number, status?: number): void;
  /** The channel's rich menus, oldest first. */
  richMenus(): StubRichMenu[];
  /** Rich menu aliases: alias id → rich menu id. */
  aliases(): Map<string, string>;
  /** The default rich menu's id, if one is set. */
  defaultRichMenu(): string | undefined;
  /** The rich menu linked to this user, if any. */
  linkedRichMenu(userId: string): string | undefined;
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
  const profiles = new Map<string, { displayName?: string; language?: string }>();
  const delays = new Map<string, number>();
  const failures = new Map<string, { n: number; status: number }>();
  const menus = new Map<string, StubRichMenu>();
  const aliases = new Map<string, string>();
  const links = new Map<string, string>();
  let defaultMenu: string | undefined;
  const byPrefix = <T>(map: Map<string, T>, path: string): [string, T] | undefined => [...map].find(([prefix]) => path.startsWith(prefix));

  /** The endpoints beyond reply and push: undefined for a path the stub does not know. */
  const otherApi = (method: string, path: string, body: unknown, raw: Buffer, contentType: string | undefined): { status: number; answer: unknown } | undefined => {
    const fail = (status: number, message: string) => ({ status, answer: { message } });
    let m: RegExpExecArray | null;
    if (method === 'GET' && (m = /^\/v2\/bot\/profile\/([^/]+)$/.exec(path))) {
      const userId = decodeURIComponent(m[1]!);
      return { status: 200, answer: { userId, displayName: 'LINE user', ...profiles.get(userId) } };
    }
    if (method === 'POST' && path === '/v2/bot/chat/loading/start') {
      const { chatId, loadingSeconds } = (body ?? {}) as { chatId?: unknown; loadingSeconds?: unknown };
      if (typeof chatId !== 'string' || typeof loadingSeconds !== 'number' || loadingSeconds < 5 || loadingSeconds > 60 || loadingSeconds % 5 !== 0) return fail(400, 'The request body has 1 error(s)');
      return { status: 202, answer: {} };
    }
    if (method === 'POST' && path === '/v2/bot/richmenu') {
      const problem = richMenuProblem(body);
      if (problem) return fail(400, problem);
      const richMenuId = `richmenu-${randomUUID().replace(/-/g, '')}`;
      menus.set(richMenuId, { ...(body as Omit<StubRichMenu, 'richMenuId'>), richMenuId });
      return { status: 200, answer: { richMenuId } };
    }
    if (method === 'GET' && path === '/v2/bot/richmenu/list') {
      return { status: 200, answer: { richmenus: [...menus.values()].map(({ image: _, ...menu }) => menu) } };
    }
    if (method === 'GET' && path === '/v2/bot/richmenu/alias/list') {
      return { status: 200, answer: { aliases: [...aliases].map(([richMenuAliasId, richMenuId]) => ({ richMenuAliasId, richMenuId })) } };
    }
    if (method === 'POST' && path === '/v2/bot/richmenu/alias') {
      const { richMenuAliasId: alias, richMenuId } = (body ?? {}) as { richMenuAliasId?: string; richMenuId?: string };
      if (typeof alias !== 'string' || !/^[\w-]{1,32}$/.test(alias)) return fail(400, 'invalid richMenuAliasId');
      if (aliases.has(alias)) return fail(400, 'conflict richmenu alias id');
      if (!menus.get(richMenuId ?? '')?.image) return fail(400, 'richmenu not found or has no image');
      aliases.set(alias, richMenuId!);
      return { status: 200, answer: {} };
    }
    if ((m = /^\/v2\/bot\/richmenu\/alias\/([\w-]+)$/.exec(path))) {
      const alias = m[1]!;
      if (!aliases.has(alias)) return fail(404, 'richmenu alias not found');
      if (method === 'GET') return { status: 200, answer: { richMenuAliasId: alias, richMenuId: aliases.get(alias) } };
      if (method === 'POST') {
        const { richMenuId } = (body ?? {}) as { richMenuId?: string };
        if (!menus.get(richMenuId ?? '')?.image) return fail(400, 'richmenu not found or has no image');
        aliases.set(alias, richMenuId!);
        return { status: 200, answer: {} };
      }
    }
    if (method === 'POST' && (m = /^\/v2\/bot\/richmenu\/([\w-]+)\/content$/.exec(path))) {
      const menu = menus.get(m[1]!);
      if (!menu) return fail(404, 'Not found');
      if (menu.image) return fail(400, 'An image has already been uploaded to the richmenu');
      if (contentType !== 'image/png' && contentType !== 'image/jpeg') return fail(415, 'Unsupported media type');
      if (raw.length > 1024 * 1024) return fail(413, 'Request entity too large');
      menu.image = { contentType, data: raw };
      return { status: 200, answer: {} };
    }
    if (method === 'DELETE' && (m = /^\/v2\/bot\/richmenu\/(richmenu-\w+)$/.exec(path))) {
      const id = m[1]!;
      if (!menus.has(id)) return fail(404, 'Not found');
      if ([...aliases.values()].includes(id)) return fail(400, 'the richmenu has an alias');
      menus.delete(id);
      for (const [user, linked] of links) if (linked === id) links.delete(user);
      if (defaultMenu === id) defaultMenu = undefined;
      return { status: 200, answer: {} };
    }
    // A user's link, or the default (`all`).
    if (method === 'POST' && (m = /^\/v2\/bot\/user\/([^/]+)\/richmenu\/([\w-]+)$/.exec(path))) {
      const user = decodeURIComponent(m[1]!);
      const menu = menus.get(m[2]!);
      if (!menu) return fail(404, 'richmenu not found');
      if (!menu.image) return fail(400, 'must upload richmenu image before applying it to user');
      if (user === 'all') defaultMenu = menu.richMenuId;
      else links.set(user, menu.richMenuId);
      return { status: 200, answer: {} };
    }
    return undefined;
  };

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const path = (req.url ?? '').split('?')[0] ?? '';
      const raw = Buffer.concat(chunks);
      const text = raw.toString('utf8');
      let body: unknown = text;
      try {
        body = text ? JSON.parse(text) : undefined;
      } catch {
        // keep the raw text
      }
      const method = req.method ?? '';
      if (isOtherPath(path)) {
        await gate;
        const wait = byPrefix(delays, path)?.[1];
        if (wait) await new Promise((r) => setTimeout(r, wait));
        const failure = byPrefix(failures, path)?.[1];
        let result: { status: number; answer: unknown };
        if (failure && failure.n > 0) {
          failure.n--;
          result = { status: failure.status, answer: { message: 'Internal server error' } };
        } else {
          const contentType = req.headers['content-type']?.split(';')[0]?.trim();
          result = otherApi(method, path, body, raw, contentType) ?? { status: 404, answer: { message: 'Not found' } };
        }
        // `{}` for a call without a JSON body (a GET, an image), so that tests reading `body` fields of every call can.
        const binary = req.headers['content-type']?.startsWith('image/') ?? false;
        calls.push({ method, path, headers: req.headers, body: binary || body === undefined ? {} : body, status: result.status });
        const out = JSON.stringify(result.answer);
        res.writeHead(result.status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(out) });
        res.end(out);
        return;
      }
      if (req.url === '/v2/bot/message/reply' && replyDelays.n > 0) {
        replyDelays.n--;
        await new Promise((r) => setTimeout(r, replyDelays.ms));
      }
      if (gate) {
        waiting++;
        await gate;
        waiting--;
      }
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
      calls.push({ method, path, headers: req.headers, body, status });
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
    setProfile: (userId, profile) => {
      profiles.set(userId, profile);
    },
    delay: (prefix, ms) => {
      delays.set(prefix, ms);
    },
    failNext: (prefix, n, status = 500) => {
      failures.set(prefix, { n, status });
    },
    richMenus: () => [...menus.values()],
    aliases: () => new Map(aliases),
    defaultRichMenu: () => defaultMenu,
    linkedRichMenu: (userId) => links.get(userId),
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
      for (const state of [profiles, delays, failures, menus, aliases, links]) state.clear();
      defaultMenu = undefined;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The paths `otherApi` answers: held while paused like the others, but not counted in `pending`. */
function isOtherPath(path: string): boolean {
  return path.startsWith('/v2/bot/profile/') || path === '/v2/bot/chat/loading/start' || path.startsWith('/v2/bot/richmenu') || /^\/v2\/bot\/user\/[^/]+\/richmenu/.test(path);
}

/** What LINE would refuse in a rich menu object (its documented limits), or undefined. */
function richMenuProblem(body: unknown): string | undefined {
  const menu = body as Partial<StubRichMenu> | undefined;
  const size = menu?.size;
  if (!size || size.width < 800 || size.width > 2500 || size.height < 250 || size.width / size.height < 1.45) return 'invalid size';
  if (typeof menu.selected !== 'boolean') return 'selected is required';
  if (typeof menu.name !== 'string' || menu.name.length < 1 || menu.name.length > 300) return 'invalid name';
  if (typeof menu.chatBarText !== 'string' || menu.chatBarText.length < 1 || menu.chatBarText.length > 14) return 'invalid chatBarText';
  if (!Array.isArray(menu.areas) || menu.areas.length < 1 || menu.areas.length > 20) return 'invalid areas';
  for (const { bounds: b, action } of menu.areas) {
    if (!b || b.x < 0 || b.y < 0 || b.width <= 0 || b.height <= 0 || b.x + b.width > size.width || b.y + b.height > size.height) return 'area out of bounds';
    if (action?.type !== 'postback') return 'unexpected action type';
    if (action.label !== undefined && (action.label.length < 1 || action.label.length > 20)) return 'invalid action label';
    if (typeof action.data !== 'string' || action.data.length > 300) return 'invalid postback data';
    if (action.displayText !== undefined && (action.displayText.length < 1 || action.displayText.length > 300)) return 'invalid displayText';
  }
  return undefined;
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
