/**
 * The citizen's journeys on LINE as LINE for PC sees them, over real HTTP against the stub of
 * LINE's API: a booking made with the buttons inside the bubbles alone (no quick reply, which
 * LINE for PC does not show), one made by typing labels and the numbers shown, and every
 * journey's answers scanned for what a lock screen shows (alt texts and text messages): none of
 * the citizen's contact details or typed words, and never more than three messages an answer.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { fakeClock, type RunningApp, startApp } from '../../support/app.ts';
import { day, ja, startingWith } from '../../support/chat.ts';
import { eventFactory, type LineEvent, type LineStub, lineUserId, NOW_ISO, postWebhook, REFERENCE, SESSION_ID, type SentMessage, startLineStub } from '../../support/lineStub.ts';
import { answerButtons, type BubbleButton, bubbleButtons, wordsOf } from './flex.ts';

const SECRET = 'journeys-channel-secret-0123456789ab';
const SESSION_DATE = '2026-12-08';

let stub: LineStub;
let running: RunningApp;
const clock = fakeClock(NOW_ISO);
const ev = eventFactory(clock.now);

beforeAll(async () => {
  stub = await startLineStub();
  running = await startApp(
    { LINE_CHANNEL_SECRET: SECRET, LINE_CHANNEL_ACCESS_TOKEN: 'test-token', LINE_API_BASE_URL: stub.url, LINE_TURNS_PER_MINUTE: '1000' },
    { now: clock.now, lineRetryDelayMs: 5, lineSweepEveryMs: 3_600_000 },
  );
});
afterAll(async () => {
  await running?.close();
  await stub?.close();
});
beforeEach(() => {
  stub.reset();
  clock.set(NOW_ISO);
});

/** A LINE citizen: sends events, keeps every answer, and taps or types what the last one shows. */
class Citizen {
  readonly userId = lineUserId();
  /** Every answer, in order. */
  readonly answers: SentMessage[][] = [];

  get last(): SentMessage[] {
    return this.answers.at(-1) ?? [];
  }

  async send(event: LineEvent): Promise<SentMessage[]> {
    expect((await postWebhook(running.url, [event], SECRET)).status).toBe(200);
    const mine = () => stub.sent().filter((c) => c.kind === 'reply' && c.replyToken === event.replyToken && c.status === 200);
    await stub.waitFor(() => mine().length > 0);
    const messages = mine().flatMap((c) => c.messages);
    this.answers.push(messages);
    return messages;
  }

  type(text: string): Promise<SentMessage[]> {
    return this.send(ev.text(this.userId, text));
  }

  /** The button of the last answer's bubbles whose label is `label` (or matches it); never a quick reply. */
  button(label: string | RegExp, within: SentMessage[] = this.last): BubbleButton {
    const all = answerButtons(within);
    const found = all.find((b) => (typeof label === 'string' ? b.label === label : label.test(b.label)));
    if (!found) throw new Error(`no button ${String(label)} in the bubbles, among [${all.map((b) => b.label).join(', ')}]`);
    return found;
  }

  /** Taps a button inside a bubble: its postback, as LINE sends it. */
  tap(label: string | RegExp, within?: SentMessage[]): Promise<SentMessage[]> {
    return this.send(ev.postback(this.userId, this.button(label, within).data));
  }
}

/** Every choice of every answer is a button inside a bubble (the quick replies are only a shortcut to them). */
function expectReachableEverywhere(answers: SentMessage[][]): void {
  for (const answer of answers) {
    const inBubbles = new Set(answerButtons(answer).map((b) => b.data));
    for (const item of answer.flatMap((m) => m.quickReply?.items ?? [])) expect(inBubbles.has(item.action.data!), item.action.label).toBe(true);
  }
}

const CONTACT = { name: '山田 花子', phone: '090-8765-4321', email: 'hanako.yamada@example.jp' };
/** What must never reach a lock screen: the contact details in every form the bot may print them, and the typed question. */
const QUESTION = '家の前の道路に穴があいていて危ないです';
const SECRETS = ['山田', '花子', CONTACT.phone, '09087654321', '8765', CONTACT.email, 'hanako', QUESTION, '穴があいて'];

/** From the menu to the summary of 9:30 on the Asao session, tapping inside the bubbles only. */
async function bookByBubbles(c: Citizen, contact = CONTACT): Promise<void> {
  await c.send(ev.follow(c.userId));
  await c.tap(ja('menu.book'));
  await c.tap(ja('booking.mode.in_person'));
  for (let i = 0; i < 5; i++) await c.tap(ja('booking.answer.yes'));
  await c.tap(startingWith(day(SESSION_DATE, true)));
  await c.tap('9:30');
  await c.tap(ja('booking.agree'));
  await c.type(contact.name);
  await c.type(contact.phone);
  await c.type(contact.email);
}

describe('a booking on LINE for PC', () => {
  it('is made with the buttons inside the bubbles alone, Confirm and Edit in the summary bubble', async () => {
    const c = new Citizen();
    await bookByBubbles(c);
    const summary = c.last.find((m) => m.altText === ja('booking.summaryTitle'));
    expect(summary).toBeDefined();
    expect(bubbleButtons(summary!).map((b) => b.label)).toEqual([
      ja('booking.confirm'),
      ja('booking.edit.slot'),
      ja('booking.edit.name'),
      ja('booking.edit.phone'),
      ja('booking.edit.email'),
      ja('booking.stop'),
    ]);
    await c.tap(ja('booking.edit.name'), [summary!]);
    await c.type('山田 はな');
    const done = await c.tap(ja('booking.confirm'), [c.last.find((m) => m.altText === ja('booking.summaryTitle'))!]);
    const reference = REFERENCE.exec(JSON.stringify(done))?.[0];
    expect(reference).toBeDefined();
    const [booking] = (await running.app.store.bookings.listSession(SESSION_ID)).filter((b) => b.userKey === `line:${c.userId}`);
    expect(booking).toMatchObject({ id: reference, slotId: '0930', mode: 'in_person', contact: { name: '山田 はな', phone: '09087654321', email: CONTACT.email } });
    expectReachableEverywhere(c.answers);
    await running.app.store.bookings.cancel(SESSION_ID, reference!, `line:${c.userId}`);
  });

  it('shows the morning and the afternoon under their headings, every time on one screen', async () => {
    const c = new Citizen();
    await c.type(ja('menu.book'));
    await c.tap(ja('booking.mode.in_person'));
    for (let i = 0; i < 5; i++) await c.tap(ja('booking.answer.yes'));
    const [times] = await c.tap(startingWith(day(SESSION_DATE, true)));
    const words = wordsOf([times!]);
    expect(words.indexOf(ja('common.morning'))).toBeLessThan(words.indexOf(ja('common.afternoon')));
    const body = JSON.stringify((times!.contents as { body: unknown }).body);
    expect(body.indexOf('"11:30"')).toBeLessThan(body.indexOf(ja('common.afternoon')));
    expect(body.indexOf(ja('common.afternoon'))).toBeLessThan(body.indexOf('"13:00"'));
    expect(answerButtons([times!]).map((b) => b.label)).toEqual(['9:00', '9:30', '10:00', '10:30', '11:00', '11:30', '13:00', '13:30', '14:00', '14:30', '15:00', '15:30', ja('common.back')]);
  });

  it('shows the online precautions as one list bubble after the hold, not five messages', async () => {
    const c = new Citizen();
    await c.type(ja('menu.book'));
    await c.tap(ja('booking.mode.online'));
    for (let i = 0; i < 6; i++) await c.tap(ja('booking.answer.yes'));
    await c.tap(startingWith(day(SESSION_DATE, true)));
    const precautions = await c.tap('10:00');
    expect(precautions.map((m) => m.type)).toEqual(['text', 'flex']);
    expect(precautions[1]!.altText).toBe(`${ja('booking.precautionsTitle')}\n${ja('booking.precautionsPrompt')}`);
    expect(bubbleButtons(precautions[1]!).map((b) => b.label)).toEqual([ja('booking.agree'), ja('booking.disagree'), ja('common.back')]);
    // Leaving lets go of the time.
    await c.tap(ja('booking.disagree'));
  });
});

describe('a booking by typing', () => {
  it('is made by typing the labels and the numbers shown, never tapping', async () => {
    const c = new Citizen();
    await c.type(ja('menu.book'));
    await c.type(ja('booking.mode.in_person'));
    // "Yes" is the first button of each screening question: typed as 1, in half and full width.
    for (const typed of ['1', '１', '1.', '1', '1']) expect(wordsOf(await c.type(typed))).not.toContain(ja('unknown'));
    // The dates are numbered in the bubble: the number shown is the number that works.
    const date = c.button(startingWith(day(SESSION_DATE, true)));
    expect(date.number).toBeGreaterThan(0);
    expect(wordsOf(await c.type(String(date.number)))).toContain(ja('common.morning'));
    await c.type('9:30');
    await c.type(ja('booking.agree'));
    await c.type(CONTACT.name);
    await c.type(CONTACT.phone);
    await c.type(CONTACT.email);
    // Confirm is the summary's first button.
    expect(c.button(ja('booking.confirm')).data).toBe(answerButtons(c.last)[0]!.data);
    const done = await c.type('1');
    const reference = REFERENCE.exec(JSON.stringify(done))?.[0];
    const [booking] = (await running.app.store.bookings.listSession(SESSION_ID)).filter((b) => b.userKey === `line:${c.userId}`);
    expect(booking).toMatchObject({ id: reference, slotId: '0930' });
    expect(c.answers.flatMap((a) => a).filter((m) => m.type === 'text' && m.text === ja('unknown'))).toHaveLength(0);
    await running.app.store.bookings.cancel(SESSION_ID, reference!, `line:${c.userId}`);
  });
});

describe('what a lock screen shows', () => {
  it('in every journey: no contact details or typed words in any alt text or text message, and at most three messages an answer', async () => {
    // Booking, then my bookings: the details, a change of time, a cancellation.
    const a = new Citizen();
    await bookByBubbles(a);
    await a.tap(ja('booking.confirm'));
    await a.type(ja('menu.my'));
    await a.tap(startingWith(day(SESSION_DATE, true)));
    expect(wordsOf(a.last)).toContain(CONTACT.name);
    await a.tap(ja('my.change'));
    await a.tap('10:00');
    await a.type(ja('menu.my'));
    await a.tap(startingWith(day(SESSION_DATE, true)));
    await a.tap(ja('my.cancel'));
    await a.tap(ja('my.cancelYes'));
    // A question the bot cannot answer, quoted back in the consent question, then sent to staff.
    const consent = await a.type(QUESTION);
    expect(wordsOf(consent)).toContain(QUESTION);
    await a.tap(ja('inquiry.consentYes'));
    // Asking for a person, and the help text.
    await a.type(ja('menu.human'));
    await a.type(ja('menu.help'));

    // Another citizen books and has their data erased (the upcoming booking is counted).
    const b = new Citizen();
    await bookByBubbles(b);
    await b.tap(ja('booking.confirm'));
    const explained = await b.type(ja('erasure.entry'));
    expect(wordsOf(explained)).toContain(ja('erasure.upcoming', { count: 1 }));
    // The help text and the three messages of the question: still three messages.
    const helped = await b.type(ja('menu.help'));
    expect(wordsOf(helped)).toContain(ja('help'));
    expect(wordsOf(helped)).toContain(ja('erasure.confirmPrompt'));
    await b.tap(ja('erasure.confirm'));

    const answers = [...a.answers, ...b.answers];
    expect(answers.length).toBeGreaterThan(40);
    for (const answer of answers) {
      expect(answer.length).toBeGreaterThan(0);
      expect(answer.length).toBeLessThanOrEqual(3);
      for (const m of answer) {
        const preview = m.type === 'text' ? m.text! : m.altText!;
        expect(preview.length).toBeGreaterThan(0);
        for (const secret of SECRETS) expect(preview, `${m.type} preview`).not.toContain(secret);
        if (m.type === 'flex') expect(Buffer.byteLength(JSON.stringify(m.contents))).toBeLessThanOrEqual(30_000);
      }
    }
    // The cards say what they are.
    const alts = answers.flat().flatMap((m) => (m.altText ? [m.altText] : []));
    expect(alts).toContain(ja('booking.summaryTitle'));
    expect(alts).toContain(`${ja('booking.confirmedTitle')}\n${ja('booking.referenceInside')}`);
    expect(alts).toContain(ja('my.detailTitle'));
    expect(alts).toContain(ja('inquiry.consentPrompt'));
    expectReachableEverywhere(answers);
  });
});
