import { describe, expect, it } from 'vitest';
import { LOCALES, local } from '../../src/domain.ts';
import { translator } from '../../src/services/index.ts';
import type { Reply } from '../../src/turn.ts';
import { type ChatUser, createBot, day, FIRST, ja, like, QUESTIONS, screening, SERVICE, textOf } from '../support/chat.ts';

/** Replies of a transcript: every text the bot wrote, to look for untranslated or unfilled text. */
function seen(all: Reply[][]): string {
  return all.map(textOf).join('\n');
}

async function inLanguage(u: ChatUser, locale: (typeof LOCALES)[number]): Promise<Reply[][]> {
  await u.send({ kind: 'follow' });
  await u.tap(ja('menu.language'));
  const t = translator(locale);
  expect(await u.tap(t('language.name'))).toContain(t('languageChanged'));
  return [u.last];
}

describe.each(LOCALES)('a citizen speaking %s', (locale) => {
  const t = translator(locale);

  it('books, finds the booking under "my bookings" and cancels it, all in that language', async () => {
    const bot = createBot();
    const u = bot.user(`lang-${locale}`);
    const log = await inLanguage(u, locale);
    const say = async (step: Promise<string>) => {
      const text = await step;
      log.push(u.last);
      return text;
    };

    expect(await say(u.tap(t('menu.book')))).toContain(t('booking.modePrompt'));
    expect(await say(u.tap(t('booking.mode.in_person')))).toContain(screening('in_person', 1, locale));
    for (let i = 1; i < QUESTIONS.in_person; i++) await say(u.tap(t('booking.answer.yes')));
    expect(await say(u.tap(t('booking.answer.yes')))).toContain(t('booking.dateLine', { date: day(FIRST.date, false, locale), place: local(FIRST.place, locale), free: 12 }));
    expect(await say(u.tap(t('booking.dateLabel', { date: day(FIRST.date, true, locale), free: 12 })))).toMatch(like('booking.timePrompt', { date: day(FIRST.date, false, locale), place: local(FIRST.place, locale), minutes: 10 }, locale));
    expect(await say(u.tap(/9:30$/))).toMatch(like('booking.held', { date: day(FIRST.date, false, locale), time: '9:30' }, locale));
    expect(await say(u.tap(t('booking.agree')))).toContain(t('booking.namePrompt'));
    await say(u.type('Kawasaki Hanako'));
    await say(u.type('090-1234-5678'));
    expect(await say(u.type('hanako@example.jp'))).toContain(t('booking.summaryTitle'));
    const done = await say(u.tap(t('booking.confirm')));
    expect(done).toContain(t('booking.confirmedTitle'));
    const [booking] = await bot.store.bookings.listSession(FIRST.id);
    expect(booking?.locale).toBe(locale);
    expect(done).toContain(t('booking.confirmedText', { reference: booking!.id }));

    expect(await say(u.tap(t('menu.my')))).toContain(t('my.listPrompt'));
    expect(await say(u.tap(t('my.label', { date: day(FIRST.date, true, locale), time: '9:30' })))).toContain(t('my.detailTitle'));
    expect(await say(u.tap(t('my.cancel')))).toContain(t('my.cancelConfirm', { date: day(FIRST.date, false, locale), time: '9:30' }));
    expect(await say(u.tap(t('my.cancelYes')))).toContain(t('my.cancelled', { reference: booking!.id }));

    const all = seen(log);
    expect(all).not.toMatch(/\{\{|\}\}/);
    // The service's own words come in the language too (or its visible fallback).
    expect(all).toContain(local(SERVICE.description, locale));
    if (locale !== 'ja' && locale !== 'easy') expect(all).not.toContain(ja('booking.modePrompt'));
  });

  it('asks a question: the answer card, then "didn\'t help" and a ticket for staff, in that language', async () => {
    const bot = createBot();
    const u = bot.user(`ask-${locale}`);
    const log = await inLanguage(u, locale);
    expect(await u.tap(t('menu.ask'))).toContain(t('inquiry.prompt'));
    await u.type('How do I renew a library book?');
    log.push(u.last);
    expect(u.buttons).toContain(t('inquiry.notHelpful'));
    await u.tap(t('inquiry.notHelpful'));
    log.push(u.last);
    expect(textOf(u.last)).toContain(t('inquiry.sorry'));
    const tickets = await bot.store.tickets.listOpen();
    expect(tickets.every((ticket) => ticket.locale === locale)).toBe(true);
    expect(seen(log)).not.toMatch(/\{\{|\}\}/);
  });
});
