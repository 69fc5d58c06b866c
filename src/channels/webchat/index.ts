/**
 * The local web chat: `GET /` serves one page, `POST /webchat/messages` runs a turn and
 * answers with the channel-neutral replies as JSON, which the page renders as bubbles,
 * cards and buttons. It needs no account, so anyone can try the bot on their machine.
 * With an outbox, `GET /webchat/messages?conversationId=…&after=<cursor>` hands over what
 * staff sent outside a turn (the page polls it while visible; see `outbox.ts` for the cursor).
 */
import { createHash, createHmac, hkdfSync, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Server } from 'restify';
import { z } from 'zod';
import { LOCALES } from '../../domain.ts';
import type { TurnEngine } from '../../engine.ts';
import { BodyTooLargeError, readBody } from '../../http.ts';
import type { Limits } from '../../limits.ts';
import { errorFields, type Logger } from '../../log.ts';
import { CURSOR_PATTERN, type Outbox } from './outbox.ts';

const BODY_LIMIT = 16 * 1024;

/** Random id the page keeps in localStorage: the web chat's "user". */
const conversationIdSchema = z.string().regex(/^[A-Za-z0-9-]{16,64}$/);

const requestSchema = z.object({
  conversationId: conversationIdSchema,
  /** Random id per message, so that a retried POST does not run twice. */
  messageId: z.string().regex(/^[A-Za-z0-9-]{8,64}$/).optional(),
  locale: z.enum(LOCALES).optional(),
  input: z.discriminatedUnion('kind', [
    z.object({ kind: z.literal('text'), text: z.string().min(1).max(2000) }),
    z.object({ kind: z.literal('action'), data: z.string().min(1).max(300) }),
    z.object({ kind: z.literal('follow') }),
  ]),
});

const pollSchema = z.object({ conversationId: conversationIdSchema, after: z.string().regex(CURSOR_PATTERN).optional() });

export interface WebchatOptions {
  engine: TurnEngine;
  /** Turns per conversation and per address, new conversations per address. */
  limits: Limits;
  log: Logger;
  /** Replies sent outside a turn (staff in a handoff); without it, there is nothing to poll. */
  outbox?: Outbox;
  /**
   * A keyed hash of a source address: the only form in which an address is stored (the
   * person's holds and bookings, the limits' counters). Unkeyed, the 2^32 IPv4 addresses
   * could be hashed in minutes and matched.
   */
  addressKey: (address: string) => string;
}

/**
 * The web chat's keyed hash of addresses. Its key comes from `DATA_ENCRYPTION_KEY` (HKDF,
 * so it is neither that key nor usable to open anything), so that every instance computes
 * the same person for an address; without one (development) it is random per process.
 */
export function addressKeyOf(dataEncryptionKey: string | undefined): (address: string) => string {
  const key = dataEncryptionKey ? Buffer.from(hkdfSync('sha256', Buffer.from(dataEncryptionKey, 'base64'), '', 'citybot web chat address', 32)) : randomBytes(32);
  return (address) => createHmac('sha256', key).update(address).digest('base64url').slice(0, 22);
}

/**
 * The page's Content-Security-Policy: nothing from elsewhere, and only the page's own
 * inline script and style (by hash), so injected markup could run nothing.
 */
export function contentSecurityPolicy(page: string): string {
  const hashes = (tag: string) =>
    [...page.matchAll(new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`, 'g'))]
      .map((m) => `'sha256-${createHash('sha256').update(m[1] ?? '', 'utf8').digest('base64')}'`)
      .join(' ');
  return [
    "default-src 'self'",
    `script-src ${hashes('script') || "'none'"}`,
    `style-src ${hashes('style') || "'none'"}`,
    "connect-src 'self'",
    "img-src 'self' data:",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

/** Mounts the page and its API on `server`. */
export function mountWebchat(server: Server, opts: WebchatOptions): void {
  const page = readFileSync(new URL('./page.html', import.meta.url), 'utf8');
  const csp = contentSecurityPolicy(page);

  server.get('/', async (_req, res) => {
    res.setHeader('content-type', 'text/html; charset=utf-8');
    res.setHeader('content-security-policy', csp);
    res.setHeader('x-content-type-options', 'nosniff');
    res.setHeader('referrer-policy', 'no-referrer');
    res.setHeader('cache-control', 'no-cache');
    res.sendRaw(200, page);
  });

  server.post('/webchat/messages', async (req, res) => {
    // Replies can repeat what was typed (names, phone numbers): never cache them.
    res.setHeader('cache-control', 'no-store');
    // Only JSON: a cross-site form cannot send it without a CORS preflight, which fails.
    if (!/^application\/json\s*(;|$)/i.test(req.headers['content-type'] ?? '')) {
      opts.log.warn('webchat.unsupported_media_type');
      res.send(415, { error: 'expected application/json' });
      return;
    }
    let parsed: z.infer<typeof requestSchema>;
    try {
      parsed = requestSchema.parse(JSON.parse((await readBody(req, BODY_LIMIT)).toString('utf8')));
    } catch (err) {
      opts.log.warn('webchat.malformed_payload', errorFields(err));
      res.send(err instanceof BodyTooLargeError ? 413 : 400, { error: 'malformed payload' });
      return;
    }
    const key = `web:${parsed.conversationId}`;
    // The TCP peer: behind a reverse proxy every visitor shares the proxy's address (see README).
    const address = `address:${opts.addressKey(req.socket.remoteAddress ?? 'unknown')}`;
    const request = {
      conversationKey: key,
      // Every conversation from one address is one person for holds and bookings (see README).
      caller: { userKey: key, channel: 'webchat', personKey: `web-${address}` },
      ...(parsed.messageId ? { eventId: `web:${parsed.conversationId}:${parsed.messageId}` } : {}),
      input: parsed.input,
      ...(parsed.locale ? { locale: parsed.locale } : {}),
    };
    const { limits } = opts;
    const allowed =
      (await limits.take('webchatAddress', address)) &&
      (await limits.take('webchatConversation', key)) &&
      ((await opts.engine.known(key).catch(() => true)) || (await limits.take('webchatNewConversation', address)));
    if (!allowed) {
      // Nothing runs and nothing is stored: the page shows the polite answer and keeps its buttons.
      res.send(429, { replies: await opts.engine.refusal(request, 'limit.slowDown') });
      return;
    }
    const outcome = await opts.engine.run(request);
    if (outcome.status === 'failed') {
      // The turn did not run: the apology, with a status that tells the page to keep its buttons.
      res.send(503, { replies: outcome.replies });
      return;
    }
    // The conversation's language after the turn, which may have changed it: the page's own
    // words and `lang` follow. None after an erasure (the conversation is gone).
    if (outcome.status === 'duplicate') return void res.send(200, { replies: [] });
    const locale = outcome.status === 'done' ? outcome.locale : undefined;
    res.send(200, { replies: outcome.replies, ...(locale ? { locale } : {}) });
  });

  const { outbox } = opts;
  if (outbox) {
    server.get('/webchat/messages', async (req, res) => {
      res.setHeader('cache-control', 'no-store');
      const query = new URL(req.url ?? '/', 'http://localhost').searchParams;
      const parsed = pollSchema.safeParse({ conversationId: query.get('conversationId') ?? undefined, after: query.get('after') ?? undefined });
      if (!parsed.success) {
        opts.log.warn('webchat.malformed_poll');
        res.send(400, { error: 'malformed query' });
        return;
      }
      try {
        res.send(200, await outbox.poll(parsed.data.conversationId, parsed.data.after));
      } catch (err) {
        // The page polls again later with the same cursor: nothing it has not shown is removed.
        opts.log.warn('webchat.poll_failed', errorFields(err));
        res.send(503, { error: 'unavailable' });
      }
    });
  }
}
