import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Booking } from '../../src/domain.ts';
import { createLogger } from '../../src/log.ts';
import { composeBookingMail } from '../../src/mail/compose.ts';
import { createMailer, type Mailer } from '../../src/mail/mailer.ts';
import { loadCatalog } from '../../src/services/catalog.ts';
import { SESSION_ID } from '../support/lineStub.ts';

const catalog = loadCatalog(fileURLToPath(new URL('../fixtures/catalog.json', import.meta.url)));
const FROM = 'Kawasaki City <no-reply@city.kawasaki.example>';
const REFUSED = 'refused@example.jp';

const booking: Booking = {
  id: 'K7M-4QXP',
  serviceId: 'ombudsman',
  sessionId: SESSION_ID,
  slotId: '0930',
  mode: 'in_person',
  userKey: 'line:U123',
  locale: 'ja',
  contact: { name: 'Hanako Kawasaki', phone: '09012345678', email: 'hanako@example.jp' },
  consent: { precautionsVersion: '2026-04', agreedAt: '2026-11-20T01:00:00.000Z' },
  createdAt: '2026-11-20T01:00:00.000Z',
};

/** What arrived at the test's SMTP server: envelope and raw message, in order. */
const received: { from: string; to: string[]; raw: Buffer }[] = [];
const logs: string[] = [];
let server: SMTPServer;
let mailer: Mailer;

beforeAll(async () => {
  server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onRcptTo(address, _session, callback) {
      callback(address.address === REFUSED ? Object.assign(new Error('mailbox unavailable'), { responseCode: 550 }) : null);
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        const from = session.envelope.mailFrom;
        received.push({ from: from ? from.address : '', to: session.envelope.rcptTo.map((r) => r.address), raw: Buffer.concat(chunks) });
        callback();
      });
    },
  });
  const port = await new Promise<number>((resolve) => {
    const listening = server.listen(0, '127.0.0.1', () => resolve((listening.address() as AddressInfo).port));
  });
  mailer = createMailer({ smtpUrl: `smtp://127.0.0.1:${port}`, from: FROM, log: createLogger('info', (line) => logs.push(line)) });
});

afterAll(async () => {
  await mailer.close();
  await new Promise<void>((resolve) => server.close(resolve));
});

beforeEach(() => {
  received.length = 0;
  logs.length = 0;
});

async function parsed(i: number): Promise<ParsedMail> {
  return simpleParser(received[i]!.raw);
}

describe('createMailer with an SMTP server', () => {
  it('delivers the confirmation: sender, recipient, the Japanese subject, the text and the .ics', async () => {
    const message = composeBookingMail('confirmation', booking, catalog);
    expect(mailer.configured).toBe(true);
    await mailer.send(message, 'mail:confirmation:K7M-4QXP');

    expect(received).toHaveLength(1);
    expect(received[0]!.from).toBe('no-reply@city.kawasaki.example');
    expect(received[0]!.to).toEqual(['hanako@example.jp']);
    const raw = received[0]!.raw.toString('latin1');
    const subjectHeader = /^Subject:.*(?:\r\n[ \t].*)*/m.exec(raw)![0];
    // Non-ASCII headers travel as MIME encoded-words, and decode back to the same subject.
    expect(subjectHeader).toMatch(/=\?UTF-8\?[BQ]\?/i);
    const mail = await parsed(0);
    expect(mail.from?.value).toEqual([{ name: 'Kawasaki City', address: 'no-reply@city.kawasaki.example' }]);
    expect(mail.to && !Array.isArray(mail.to) ? mail.to.value : []).toEqual([{ name: '', address: 'hanako@example.jp' }]);
    expect(mail.subject).toBe(message.subject);
    expect(mail.subject).toContain('ご予約を承りました');
    expect(mail.text?.trim()).toBe(message.text.trim());
    expect(mail.attachments).toHaveLength(1);
    const [ics] = mail.attachments;
    expect(ics!.filename).toBe('invite.ics');
    expect(ics!.contentType).toBe('text/calendar');
    expect(ics!.content.toString('utf8')).toBe(message.attachments![0]!.content);
    expect(ics!.content.toString('utf8')).toContain('DTSTART:20261208T003000Z');
    expect(ics!.content.toString('utf8')).toContain('SUMMARY:市民オンブズマン相談');
  });

  it('gives every send of one id the same Message-ID, and another id another one', async () => {
    const message = composeBookingMail('dayOf', booking, catalog);
    await mailer.send(message, 'mail:dayOf:K7M-4QXP');
    await mailer.send(message, 'mail:dayOf:K7M-4QXP');
    await mailer.send(message, 'mail:dayOf:K7M-5QXP');
    const [first, retry, other] = await Promise.all([parsed(0), parsed(1), parsed(2)]);
    expect(first.messageId).toMatch(/^<[0-9a-f]{32}@city\.kawasaki\.example>$/);
    expect(retry.messageId).toBe(first.messageId);
    expect(other.messageId).not.toBe(first.messageId);
  });

  it('logs the id only: never the address, the name or the phone', async () => {
    await mailer.send(composeBookingMail('confirmation', booking, catalog), 'mail:confirmation:K7M-4QXP');
    const sent = logs.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.event === 'mail.sent');
    expect(sent).toEqual([expect.objectContaining({ level: 'info', id: 'mail:confirmation:K7M-4QXP' })]);
    const all = logs.join('');
    for (const secret of ['hanako@example.jp', 'Hanako', 'Kawasaki', '09012345678', '090-1234-5678']) expect(all).not.toContain(secret);
  });

  it('rejects when the server refuses the message, and logs the failure by id and code', async () => {
    const message = { ...composeBookingMail('dayOf', booking, catalog), to: REFUSED };
    await expect(mailer.send(message, 'mail:dayOf:K7M-4QXP')).rejects.toThrow();
    expect(received).toHaveLength(0);
    const failed = logs.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.event === 'mail.failed');
    expect(failed).toMatchObject({ level: 'error', id: 'mail:dayOf:K7M-4QXP', error: 'Error', code: 'EENVELOPE' });
    expect(logs.join('')).not.toContain(REFUSED);
    expect(logs.some((l) => l.includes('"mail.sent"'))).toBe(false);
  });
});

describe('createMailer without an SMTP server', () => {
  it('is not configured, and send only logs by id that nothing was sent', async () => {
    const lines: string[] = [];
    const idle = createMailer({ log: createLogger('info', (line) => lines.push(line)) });
    expect(idle.configured).toBe(false);
    await expect(idle.send(composeBookingMail('confirmation', booking, catalog), 'mail:confirmation:K7M-4QXP')).resolves.toBeUndefined();
    await idle.close();
    expect(lines.map((l) => JSON.parse(l) as Record<string, unknown>)).toEqual([
      expect.objectContaining({ level: 'info', event: 'mail.not_sent', id: 'mail:confirmation:K7M-4QXP', reason: 'no-smtp' }),
    ]);
    expect(lines.join('')).not.toContain('hanako@example.jp');
  });

  it('refuses an SMTP server without a sender, naming MAIL_FROM', () => {
    const log = createLogger('silent');
    expect(() => createMailer({ smtpUrl: 'smtp://127.0.0.1:25', log })).toThrow(/MAIL_FROM/);
    expect(() => createMailer({ smtpUrl: 'smtp://127.0.0.1:25', from: 'Kawasaki City', log })).toThrow(/MAIL_FROM/);
  });
});
