/**
 * The messages after a booking, end to end over real HTTP: a citizen books on LINE; the
 * confirmation email reaches a real SMTP server (smtp-server) with its calendar file; as the
 * app's clock moves, the day-before invitation and the day-of reminder reach the stub LINE API
 * by push, each once, at their times; cancelling stops them, and so does blocking the account.
 * The Redis store runs the same through BullMQ.
 */
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { DateTime } from 'luxon';
import { type ParsedMail, simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { ZONE } from '../../src/domain.ts';
import { stableUuid } from '../../src/uuid.ts';
import { fakeClock, type RunningApp, startApp } from '../support/app.ts';
import { eventFactory, eventsToTimeStep, type LineEvent, type LineStub, lineUserId, NOW_ISO, postWebhook, REFERENCE, SESSION_ID, startLineStub, tap, textOf } from '../support/lineStub.ts';

const SECRET = 'lifecycle-channel-secret-0123456789';
const clock = fakeClock(NOW_ISO);
const ev = eventFactory(clock.now);
let line: LineStub;
let smtp: SMTPServer;
let smtpUrl = '';
const mails: ParsedMail[] = [];
let running: RunningApp | undefined;

beforeAll(async () => {
  line = await startLineStub();
  smtp = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream, _session, callback) {
      simpleParser(stream).then((mail) => {
        mails.push(mail);
        callback();
      }, callback);
    },
  });
  await new Promise<void>((resolve) => smtp.listen(0, '127.0.0.1', resolve));
  smtpUrl = `smtp://127.0.0.1:${(smtp.server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await line?.close();
  await new Promise<void>((resolve) => smtp.close(() => resolve()));
});
beforeEach(() => {
  line.reset();
  mails.length = 0;
  clock.set(NOW_ISO);
});
afterEach(async () => {
  await running?.close();
  running = undefined;
});

async function start(env: Record<string, string> = {}): Promise<RunningApp> {
  running = await startApp(
    { LINE_CHANNEL_SECRET: SECRET, LINE_CHANNEL_ACCESS_TOKEN: 'test-token', LINE_API_BASE_URL: line.url, SMTP_URL: smtpUrl, MAIL_FROM: 'Kawasaki City <no-reply@city.kawasaki.example>', ...env },
    { now: clock.now, lineRetryDelayMs: 5 },
  );
  return running;
}

/** One event; waits for its reply and returns the reply's text. */
async function step(app: RunningApp, event: LineEvent): Promise<string> {
  expect((await postWebhook(app.url, [event], SECRET)).status).toBe(200);
  await line.waitFor(() => line.sent().some((c) => c.kind === 'reply' && c.replyToken === event.replyToken && c.status === 200));
  return JSON.stringify(line.sent().find((c) => c.replyToken === event.replyToken)!.messages);
}

/** Books 9:30 on the Asao session for a new LINE user; the user and the reference. */
async function book(app: RunningApp): Promise<{ user: string; reference: string }> {
  const user = lineUserId();
  for (const event of eventsToTimeStep(ev, user)) await step(app, event);
  await step(app, ev.postback(user, tap.time('0930')));
  await step(app, ev.postback(user, tap.agree()));
  await step(app, ev.text(user, '川崎 花子'));
  await step(app, ev.text(user, '090-1234-5678'));
  await step(app, ev.text(user, 'hanako@example.jp'));
  const done = await step(app, ev.postback(user, tap.confirm()));
  return { user, reference: done.match(REFERENCE)![0] };
}

const pushes = (user: string) => line.sent().filter((c) => c.kind === 'push' && c.to === user && c.status === 200);
const key = (name: string, reference: string) => stableUuid(`${name}.${SESSION_ID}.${reference}#0`);
/** Moves the app's clock to a JST time and gives the queue a moment to run what is due. */
async function at(isoJst: string): Promise<void> {
  clock.set(DateTime.fromISO(isoJst, { zone: ZONE }).toISO()!);
  await new Promise((r) => setTimeout(r, 600));
}

describe('after a LINE booking (in-process queue, the clock moved by hand)', () => {
  it('emails the confirmation at once, then pushes the invitation the day before at 10:00 and the reminder at 8:30, once each', async () => {
    const app = await start();
    const { user, reference } = await book(app);

    await expect.poll(() => mails.length).toBe(1);
    const [mail] = mails;
    expect(mail!.to).toMatchObject({ text: 'hanako@example.jp' });
    expect(mail!.subject).toContain(reference);
    expect(mail!.text).toContain(reference);
    expect(mail!.attachments.map((a) => a.filename)).toEqual(['invite.ics']);
    expect(mail!.attachments[0]!.content.toString()).toContain('DTSTART:20261208T003000Z');

    await at('2026-12-07T09:59');
    expect(pushes(user)).toHaveLength(0);
    await at('2026-12-07T10:00');
    await expect.poll(() => pushes(user).length).toBe(1);
    expect(pushes(user)[0]!.retryKey).toBe(key('remind.dayBefore', reference));
    expect(textOf(pushes(user)[0]!)).toContain(reference);
    expect(textOf(pushes(user)[0]!)).toContain('麻生区役所');

    await at('2026-12-08T08:29');
    expect(pushes(user)).toHaveLength(1);
    await at('2026-12-08T08:30');
    await expect.poll(() => pushes(user).length).toBe(2);
    expect(pushes(user)[1]!.retryKey).toBe(key('remind.dayOf', reference));

    await at('2026-12-08T12:00');
    expect(pushes(user)).toHaveLength(2);
    expect(mails).toHaveLength(1);
    // No address, name or phone in the log lines of all this.
    for (const secret of ['hanako@example.jp', '川崎 花子', '09012345678']) expect(app.logs.join('\n')).not.toContain(secret);
  });

  it('sends nothing more for a booking staff cancelled', async () => {
    const app = await start();
    const { user, reference } = await book(app);
    await expect.poll(() => mails.length).toBe(1);
    expect(await app.app.desk.cancelBooking(reference, { id: 'staff-1', name: 'Staff' }, DateTime.fromMillis(clock.now(), { zone: ZONE }))).not.toBeNull();
    await at('2026-12-07T10:00');
    await at('2026-12-08T08:30');
    expect(pushes(user)).toHaveLength(0);
  });

  it('sends no reminder to a citizen who blocked the account; following again brings them back', async () => {
    const app = await start();
    const { user } = await book(app);
    const unfollow = { type: 'unfollow', mode: 'active', timestamp: clock.now(), webhookEventId: randomUUID(), source: { type: 'user', userId: user }, deliveryContext: { isRedelivery: false } };
    expect((await postWebhook(app.url, [unfollow as unknown as LineEvent], SECRET)).status).toBe(200);
    await at('2026-12-07T10:00');
    expect(pushes(user)).toHaveLength(0);
    expect(app.logs.some((l) => l.includes('lifecycle.opted_out'))).toBe(true);
    const reference = (await app.app.store.bookings.listSession(SESSION_ID)).find((b) => b.userKey === `line:${user}`)!.id;
    await step(app, ev.follow(user));
    await at('2026-12-08T08:30');
    await expect.poll(() => pushes(user).map((c) => c.retryKey)).toEqual([key('remind.dayOf', reference)]);
  });
});

describe('after a LINE booking on Redis (BullMQ)', () => {
  it('emails the confirmation once, through the shared queue', async () => {
    const app = await start({ REDIS_URL: inject('redisUrl'), REDIS_PREFIX: `test:${randomUUID().slice(0, 12)}:` });
    const { reference } = await book(app);
    await expect.poll(() => mails.length, { timeout: 10_000 }).toBe(1);
    expect(mails[0]!.subject).toContain(reference);
    await new Promise((r) => setTimeout(r, 500));
    expect(mails).toHaveLength(1);
  });
});
