/**
 * A stub of the Bot Framework connector (what Teams' `serviceUrl` points at), as a real
 * HTTP server on an ephemeral port. It records what the bot sends:
 *
 * - `POST /v3/conversations/:conv/activities`            a new message (proactive)
 * - `POST /v3/conversations/:conv/activities/:replyTo`   a reply within a turn
 * - `PUT  /v3/conversations/:conv/activities/:id`        an update in place
 *
 * New messages get ids `act-1`, `act-2`, …. A conversation can be told to fail (e.g. 403,
 * as Teams answers when the bot was removed), threads of a failing channel included.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** An Adaptive Card as the bot sent it (loosely typed: tests read what they need). */
export interface SentCard {
  type: string;
  version?: string;
  fallbackText?: string;
  body: Record<string, unknown>[];
  actions?: Record<string, unknown>[];
}

/** An activity as the bot sent it. */
export interface SentActivity {
  type: string;
  id?: string;
  text?: string;
  textFormat?: string;
  replyToId?: string;
  summary?: string;
  attachments?: { contentType: string; content: SentCard }[];
  conversation?: { id: string };
  [key: string]: unknown;
}

export interface ConnectorCall {
  method: 'POST' | 'PUT';
  /** The conversation id from the path, decoded (threads end in `;messageid=<root>`). */
  conversationId: string;
  /** POST: the activity replied to (undefined for a new message). PUT: the activity updated. */
  activityId?: string;
  activity: SentActivity;
  /** What the stub answered. */
  status: number;
  /** The id given to a new message (POST answered 200). */
  id?: string;
}

export interface ConnectorStub {
  url: string;
  calls(): ConnectorCall[];
  /** Successful POSTs (new messages and replies), optionally in one conversation. */
  posts(conversationId?: string): ConnectorCall[];
  /** Successful PUTs, optionally of one activity. */
  updates(activityId?: string): ConnectorCall[];
  /** The bot's replies to one inbound activity. */
  repliesTo(activityId: string): ConnectorCall[];
  /** Answers `status` for this conversation and its threads until `heal`. */
  fail(conversationId: string, status: number): void;
  heal(conversationId: string): void;
  reset(): void;
  close(): Promise<void>;
}

const ROUTE = /^\/v3\/conversations\/([^/]+)\/activities(?:\/([^/]+))?\/?$/;

function base(conversationId: string): string {
  return conversationId.replace(/;messageid=[^;]+$/, '');
}

async function bodyOf(req: IncomingMessage): Promise<string> {
  let text = '';
  for await (const chunk of req) text += String(chunk);
  return text;
}

function answer(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

export async function startConnectorStub(): Promise<ConnectorStub> {
  let calls: ConnectorCall[] = [];
  let seq = 0;
  const failing = new Map<string, number>();

  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://stub');
    const match = ROUTE.exec(url.pathname);
    const method = req.method === 'PUT' ? 'PUT' : req.method === 'POST' ? 'POST' : undefined;
    const raw = await bodyOf(req);
    if (!match || !method) {
      answer(res, 404, { error: { code: 'NotFound', message: 'unknown route' } });
      return;
    }
    const conversationId = decodeURIComponent(match[1]!);
    const activityId = match[2] === undefined ? undefined : decodeURIComponent(match[2]);
    let activity: SentActivity;
    try {
      activity = JSON.parse(raw) as SentActivity;
    } catch {
      answer(res, 400, { error: { code: 'BadArgument', message: 'not JSON' } });
      return;
    }
    const fail = failing.get(base(conversationId));
    if (fail !== undefined) {
      calls.push({ method, conversationId, ...(activityId ? { activityId } : {}), activity, status: fail });
      answer(res, fail, { error: { code: fail === 403 ? 'BotNotInConversationRoster' : 'ConversationNotFound', message: 'stubbed failure' } });
      return;
    }
    if (method === 'PUT') {
      calls.push({ method, conversationId, ...(activityId ? { activityId } : {}), activity, status: 200 });
      answer(res, 200, { id: activityId });
      return;
    }
    const id = `act-${++seq}`;
    calls.push({ method, conversationId, ...(activityId ? { activityId } : {}), activity, status: 200, id });
    answer(res, 200, { id });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;

  const ok = () => calls.filter((c) => c.status === 200);
  return {
    url: `http://127.0.0.1:${port}`,
    calls: () => [...calls],
    posts: (conversationId) => ok().filter((c) => c.method === 'POST' && (conversationId === undefined || c.conversationId === conversationId)),
    updates: (activityId) => ok().filter((c) => c.method === 'PUT' && (activityId === undefined || c.activityId === activityId)),
    repliesTo: (activityId) => ok().filter((c) => c.method === 'POST' && c.activityId === activityId),
    fail: (conversationId, status) => {
      failing.set(base(conversationId), status);
    },
    heal: (conversationId) => {
      failing.delete(base(conversationId));
    },
    reset: () => {
      calls = [];
      failing.clear();
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The Adaptive Card of a sent activity, if it carries one. */
export function cardOf(activity: SentActivity): SentCard | undefined {
  return activity.attachments?.find((a) => a.contentType === 'application/vnd.microsoft.card.adaptive')?.content;
}

function cardTexts(node: unknown): string[] {
  if (Array.isArray(node)) return node.flatMap(cardTexts);
  if (typeof node !== 'object' || node === null) return [];
  const n = node as Record<string, unknown>;
  const own: string[] = [];
  if (n.type === 'TextBlock' && typeof n.text === 'string') own.push(n.text);
  if (n.type === 'FactSet' && Array.isArray(n.facts)) {
    for (const f of n.facts as { title: string; value: string }[]) own.push(`${f.title}: ${f.value}`);
  }
  if (typeof n.title === 'string' && typeof n.type === 'string' && n.type.startsWith('Action.')) own.push(`[${n.title}]`);
  return [...own, ...Object.entries(n).flatMap(([k, v]) => (k === 'data' ? [] : cardTexts(v)))];
}

/** Everything an activity shows: its text, and its card's texts, facts and [button titles]. */
export function shownText(activity: SentActivity): string {
  return [activity.text ?? '', ...cardTexts(cardOf(activity)?.body ?? []), ...cardTexts(cardOf(activity)?.actions ?? [])].join('\n');
}

/** Buttons of a sent card (in body ActionSets and in `actions`), with their Action.Submit data. */
export function buttonsOf(activity: SentActivity): { title: string; data: unknown }[] {
  const found: { title: string; data: unknown }[] = [];
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(walk);
    if (typeof node !== 'object' || node === null) return;
    const n = node as Record<string, unknown>;
    if (typeof n.type === 'string' && n.type.startsWith('Action.') && typeof n.title === 'string') found.push({ title: n.title, data: n.data });
    for (const [k, v] of Object.entries(n)) if (k !== 'data') walk(v);
  };
  const card = cardOf(activity);
  walk(card?.body ?? []);
  walk(card?.actions ?? []);
  return found;
}
