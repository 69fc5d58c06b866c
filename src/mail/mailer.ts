/**
 * Outgoing email through nodemailer, to the SMTP server of the configuration (`SMTP_URL`,
 * sender `MAIL_FROM`). Messages carry personal data (the citizen's address and name), so logs
 * name a message only by the caller's id (a job id such as `mail:confirmation:K7M-4QXP`).
 * Without a server the mailer only logs that a message was not sent, so a development bot
 * runs with no mail set-up and still shows what it would have sent, by id.
 */
import { createHash } from 'node:crypto';
import { createTransport } from 'nodemailer';
import addressparser from 'nodemailer/lib/addressparser';
import { errorFields, type Logger } from '../log.ts';

/** One email: plain text, optionally with attachments (e.g. a calendar file). */
export interface MailMessage {
  to: string;
  subject: string;
  text: string;
  attachments?: { filename: string; content: string; contentType: string }[];
}

/** Sends email, or logs by id that it did not because no SMTP server is configured. */
export interface Mailer {
  /** True when an SMTP server is configured (else messages are only logged by id). */
  readonly configured: boolean;
  /** Sends `message`; `id` names it in logs (a job id such as `mail:confirmation:ABC-2345`), never the address or content. Rejects when the server refused it. */
  send(message: MailMessage, id: string): Promise<void>;
  close(): Promise<void>;
}

/**
 * A mailer for `smtpUrl` (`smtp://host:port`, `smtps://user:pass@host:465`), sending as `from`
 * through a pool of connections; without `smtpUrl`, one that sends nothing.
 * Every send of the same `id` carries the same Message-ID, so a retried job that did reach the
 * server the first time is recognisable as the same message by the receiving side.
 * @throws Error naming MAIL_FROM when `smtpUrl` is set and `from` is missing or has no address with a domain.
 */
export function createMailer(opts: { smtpUrl?: string; from?: string; log: Logger }): Mailer {
  const { smtpUrl, from, log } = opts;
  if (!smtpUrl) {
    return {
      configured: false,
      send: async (_message, id) => log.info('mail.not_sent', { id, reason: 'no-smtp' }),
      close: async () => undefined,
    };
  }
  if (!from) throw new Error('MAIL_FROM is required when SMTP_URL is set');
  const domain = senderDomain(from);
  const transport = createTransport({ url: smtpUrl, pool: true });
  return {
    configured: true,
    async send(message, id) {
      try {
        await transport.sendMail({
          from,
          to: message.to,
          subject: message.subject,
          text: message.text,
          messageId: messageIdFor(id, domain),
          attachments: message.attachments ?? [],
        });
      } catch (err) {
        log.error('mail.failed', { id, ...errorFields(err) });
        throw err;
      }
      log.info('mail.sent', { id });
    },
    close: async () => transport.close(),
  };
}

/** The domain of the sender's address, for Message-IDs. */
function senderDomain(from: string): string {
  const [first] = addressparser(from, { flatten: true });
  const at = first?.address.lastIndexOf('@') ?? -1;
  const domain = at > 0 ? first!.address.slice(at + 1) : '';
  if (!domain) throw new Error('MAIL_FROM must be an email address such as "Kawasaki City <no-reply@example.jp>"');
  return domain;
}

/** A Message-ID derived from the message's id alone: the same for every attempt. */
function messageIdFor(id: string, domain: string): string {
  return `<${createHash('sha256').update(id).digest('hex').slice(0, 32)}@${domain}>`;
}
