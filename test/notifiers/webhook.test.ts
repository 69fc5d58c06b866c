/**
 * The outgoing webhook against a real `node:http` receiver: the payload, the signature over
 * the exact bytes, retries (500 → 500 → 200) with one Idempotency-Key, no retry on 400,
 * rejection after the last failure, and a timeout.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { signature, WebhookError, WebhookNotifier, type WebhookPayload } from '../../src/notifiers/webhook.ts';
import { AGENT, captureLog, ticket } from './fixtures.ts';

const SECRET = 'webhook-secret-0123456789';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

interface Received {
  headers: IncomingHttpHeaders;
  raw: Buffer;
  status: number;
}

/** A receiver that answers with the scripted statuses in turn (then 200), or hangs. */
class Receiver {
  readonly received: Received[] = [];
  script: number[] = [];
  hang = false;
  url = '';
  private server!: Server;

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        if (this.hang) return;
        const status = this.script.shift() ?? 200;
        this.received.push({ headers: req.headers, raw: Buffer.concat(chunks), status });
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(status < 300 ? '{"ok":true}' : '{"error":"nope"}');
      });
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/hooks/tickets`;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((r) => this.server.close(() => r()));
  }
}

/** How a receiver checks the signature: HMAC over the raw bytes, constant-time compare. */
function verifies(raw: Buffer, header: string | string[] | undefined, secret: string): boolean {
  if (typeof header !== 'string' || !header.startsWith('sha256=')) return false;
  const expected = Buffer.from(createHmac('sha256', secret).update(raw).digest('hex'));
  const given = Buffer.from(header.slice('sha256='.length));
  return given.length === expected.length && timingSafeEqual(given, expected);
}

let receiver: Receiver;
beforeEach(async () => {
  receiver = new Receiver();
  await receiver.start();
});
afterEach(() => receiver.close());

function notifier(opts: { log?: ReturnType<typeof captureLog>['log']; timeoutMs?: number; attempts?: number } = {}) {
  return new WebhookNotifier({
    url: receiver.url,
    secret: SECRET,
    log: opts.log ?? captureLog().log,
    baseDelayMs: 5,
    ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}),
    ...(opts.attempts !== undefined ? { attempts: opts.attempts } : {}),
  });
}

describe('WebhookNotifier', () => {
  it('POSTs ticket.opened as JSON, signed over the exact bytes', async () => {
    await notifier().ticketOpened(ticket());
    expect(receiver.received).toHaveLength(1);
    const [r] = receiver.received;
    expect(r!.headers['content-type']).toBe('application/json');
    expect(verifies(r!.raw, r!.headers['x-signature'], SECRET)).toBe(true);
    expect(verifies(r!.raw, r!.headers['x-signature'], 'another-secret')).toBe(false);
    // A single changed byte breaks it.
    const tampered = Buffer.from(r!.raw);
    tampered[tampered.length - 2] = tampered[tampered.length - 2]! ^ 1;
    expect(verifies(tampered, r!.headers['x-signature'], SECRET)).toBe(false);
    expect(r!.headers['x-signature']).toBe(signature(r!.raw, SECRET));
    expect(r!.headers['idempotency-key']).toMatch(UUID);

    const body = JSON.parse(r!.raw.toString('utf8')) as WebhookPayload;
    expect(body).toEqual({
      type: 'ticket.opened',
      ticket: {
        id: 'TK7-ABCD',
        reason: 'requested',
        priority: 'high',
        category: 'ombudsman',
        locale: 'ja',
        status: 'open',
        desk: 'office',
        createdAt: '2026-11-24T01:00:00.000Z',
        context: 'booking:time:in_person',
      },
    });
    // The citizen's user key is personal data: it is not sent.
    expect(r!.raw.toString('utf8')).not.toContain('U0123456789abcdef');
  });

  it('POSTs ticket.changed with who claimed it and when it closed', async () => {
    const n = notifier();
    await n.ticketChanged(ticket({ status: 'claimed', claimedBy: AGENT, claimedAt: '2026-11-24T01:05:00.000Z' }));
    await n.ticketChanged(ticket({ status: 'closed', claimedBy: AGENT, closedBy: AGENT, closedAt: '2026-11-24T01:30:00.000Z' }));
    const [claimed, closed] = receiver.received.map((r) => JSON.parse(r.raw.toString('utf8')) as WebhookPayload);
    expect(claimed).toMatchObject({ type: 'ticket.changed', ticket: { status: 'claimed', claimedBy: AGENT } });
    expect(claimed!.ticket.closedAt).toBeUndefined();
    expect(closed).toMatchObject({ type: 'ticket.changed', ticket: { status: 'closed', closedAt: '2026-11-24T01:30:00.000Z' } });
    const keys = receiver.received.map((r) => r.headers['idempotency-key']);
    expect(new Set(keys).size).toBe(2);
  });

  it('derives the Idempotency-Key from (ticket, event) only', async () => {
    await notifier().ticketOpened(ticket());
    await notifier().ticketOpened(ticket());
    await notifier().ticketOpened(ticket({ id: 'TK7-WXYZ' }));
    const keys = receiver.received.map((r) => r.headers['idempotency-key']);
    expect(keys[1]).toBe(keys[0]);
    expect(keys[2]).not.toBe(keys[0]);
  });

  it('retries 500 → 500 → 200 with the same body and Idempotency-Key', async () => {
    receiver.script = [500, 500, 200];
    await notifier().ticketOpened(ticket());
    const got = receiver.received;
    expect(got.map((r) => r.status)).toEqual([500, 500, 200]);
    expect(new Set(got.map((r) => r.headers['idempotency-key'])).size).toBe(1);
    expect(new Set(got.map((r) => r.raw.toString('hex'))).size).toBe(1);
    for (const r of got) expect(verifies(r.raw, r.headers['x-signature'], SECRET)).toBe(true);
  });

  it('retries 429', async () => {
    receiver.script = [429, 200];
    await notifier().ticketOpened(ticket());
    expect(receiver.received.map((r) => r.status)).toEqual([429, 200]);
  });

  it('does not retry a 400, and rejects', async () => {
    receiver.script = [400];
    const err = await notifier().ticketOpened(ticket()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WebhookError);
    expect((err as WebhookError).status).toBe(400);
    expect(receiver.received).toHaveLength(1);
  });

  it('does not follow a redirect (the signed body goes to the configured URL only)', async () => {
    receiver.script = [307];
    const err = await notifier().ticketOpened(ticket()).catch((e: unknown) => e);
    expect((err as WebhookError).code).toBe('http_307');
    expect(receiver.received).toHaveLength(1);
  });

  it('rejects after the last failure, logging codes but no ticket content', async () => {
    const { log, lines } = captureLog();
    receiver.script = [500, 502, 503, 200];
    const err = await notifier({ log }).ticketOpened(ticket()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WebhookError);
    expect((err as WebhookError).code).toBe('http_503');
    expect(receiver.received).toHaveLength(3);
    expect(lines.map((l) => JSON.parse(l).event)).toEqual(['webhook.failed', 'webhook.failed', 'webhook.failed']);
    for (const l of lines) {
      expect(l).not.toContain('booking:time');
      expect(l).not.toContain('U0123456789abcdef');
    }
  });

  it('gives up on a receiver that does not answer (timeout), after retrying', async () => {
    receiver.hang = true;
    const started = Date.now();
    const err = await notifier({ timeoutMs: 100, attempts: 2 }).ticketOpened(ticket()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WebhookError);
    expect((err as WebhookError).code).toBe('timeout');
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('retries a network error (nothing listening) and rejects', async () => {
    await receiver.close();
    const err = await notifier().ticketOpened(ticket()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WebhookError);
    expect((err as WebhookError).status).toBeUndefined();
    expect((err as WebhookError).code).toBe('ECONNREFUSED');
    await receiver.start(); // for afterEach
  });

  it('sends nothing for what the citizen says', async () => {
    await notifier().citizenSaid(ticket({ status: 'claimed', claimedBy: AGENT }), '住所は川崎市…');
    expect(receiver.received).toHaveLength(0);
  });
});
