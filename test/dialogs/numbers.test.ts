/**
 * What the dialogs give a channel to present choices with, and the typed fallback for them:
 * a button's number typed instead of a tap, the lists whose numbers are shown, the morning and
 * afternoon headings of times, and the quoted question whose notification says only what it is.
 */
import { describe, expect, it } from 'vitest';
import type { Reply } from '../../src/turn.ts';
import { createBot, day, FIRST, ja, like, QUESTIONS, screening, startingWith, toSummary, toTimeStep, word } from '../support/chat.ts';

const lastWithChoices = (replies: Reply[]) => replies.findLast((r) => (r.choices?.length ?? 0) > 0)!;

describe('a button typed as its number', () => {
  it('taps the n-th button shown at the step, in half or full width', async () => {
    const bot = createBot();
    const u = bot.user('numbers');
    await u.type(word('book'));
    // A number with no button is not understood, and the step stays.
    expect(await u.type('9')).toContain(ja('unknown'));
    expect(u.said).toContain(ja('booking.modePrompt'));
    // In person, online, back: 2 is online.
    expect(await u.type('２')).toContain(screening('online', 1));
    for (let i = 0; i < QUESTIONS.online; i++) await u.type('1');
    expect(u.said).toContain(ja('booking.datePrompt'));
    expect(await u.type('1.')).toMatch(like('booking.timePrompt', { date: day(FIRST.date) }));
  });

  it('a number that is an hour on a shown time means that time, not the button of that number', async () => {
    const bot = createBot();
    const u = bot.user('hour');
    await toTimeStep(u);
    expect(await u.type('10')).toContain(ja('booking.held', { date: day(FIRST.date), time: '10:00', until: '10:10' }));
  });

  it('confirms a booking typed as 1 at the summary, where Book it is the first button', async () => {
    const bot = createBot();
    const u = bot.user('summary');
    await toSummary(u);
    expect(u.buttons[0]).toBe(ja('booking.confirm'));
    expect(await u.type('1')).toContain(ja('booking.confirmedTitle'));
    expect(await bot.store.bookings.listSession(FIRST.id)).toHaveLength(1);
  });

  it('is told in the help text', async () => {
    const bot = createBot();
    const u = bot.user('help');
    expect(await u.type(word('help'))).toContain(ja('helpNumbers'));
  });
});

describe('choices as a channel presents them', () => {
  it('numbers the dates, the bookings and the other days, whose labels are long to type; not the times', async () => {
    const bot = createBot();
    const u = bot.user('lists');
    await u.type(word('book'));
    await u.tap(ja('booking.mode.in_person'));
    for (let i = 0; i < QUESTIONS.in_person; i++) await u.tap(ja('booking.answer.yes'));
    expect(lastWithChoices(u.last).numbered).toBe(true);
    await u.tap(startingWith(day(FIRST.date, true)));
    expect(lastWithChoices(u.last).numbered).toBeUndefined();
    await u.tap('9:30');
    await u.tap(ja('booking.agree'));
    await u.type('川崎 花子');
    await u.type('090-1234-5678');
    await u.type('hanako@example.jp');
    await u.tap(ja('booking.confirm'));
    await u.type(word('my'));
    expect(lastWithChoices(u.last).numbered).toBe(true);
  });

  it('puts each time under the morning or the afternoon', async () => {
    const bot = createBot();
    const u = bot.user('groups');
    await toTimeStep(u);
    const choices = lastWithChoices(u.last).choices!;
    expect(choices.filter((c) => c.group === ja('common.morning')).map((c) => c.label)).toEqual(['9:00', '9:30', '10:00', '10:30', '11:00', '11:30']);
    expect(choices.filter((c) => c.group === ja('common.afternoon')).map((c) => c.label)).toEqual(['13:00', '13:30', '14:00', '14:30', '15:00', '15:30']);
    expect(choices.find((c) => c.label === ja('common.back'))?.group).toBeUndefined();
  });

  it('quotes the question the citizen may send to staff, and says only what it is in its alt text', async () => {
    const bot = createBot();
    const u = bot.user('quoted');
    const question = '家の前の道路に穴があいていて危ないです';
    await u.type(question);
    const consent = lastWithChoices(u.last);
    expect(consent.kind === 'text' && consent.text).toContain(ja('inquiry.quoted', { text: question }));
    expect(consent.alt).toBe(ja('inquiry.consentPrompt'));
  });

  it('says what the booked card is in its alt text, without the reference', async () => {
    const bot = createBot();
    const u = bot.user('booked');
    await toSummary(u);
    await u.tap(ja('booking.confirm'));
    const card = u.last.find((r) => r.kind === 'card')!;
    expect(card.alt).toBe(`${ja('booking.confirmedTitle')}\n${ja('booking.referenceInside')}`);
  });
});
