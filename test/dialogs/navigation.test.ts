import { describe, expect, it } from 'vitest';
import { conversationStateSchema } from '../../dialogs/state.ts';
import { createBot, IDLE_MS, toSummary, toTimeStep } from '../support/chat.ts';

const SESSION = '2026-12-08-asao';

describe('global commands at any step', () => {
  it('back walks one step back, through the screening questions too', async () => {
    const bot = createBot();
    const u = bot.user('back');
    await u.type('予約する');
    await u.tap('対面');
    await u.tap('はい');
    expect(await u.type('戻る')).toContain('確認 1/5');
    expect(await u.tap('戻る')).toContain('相談の方法');
    expect(await u.tap('戻る')).toContain('ご用件を選んでください');
  });

  it('menu mid-flow returns to the menu and releases the held slot', async () => {
    const bot = createBot();
    const u = bot.user('menu');
    await toTimeStep(u);
    await u.tap('9:30');
    expect((await bot.store.bookings.occupancy(SESSION, bot.clock.now())).held.size).toBe(1);
    expect(await u.type('メニュー')).toContain('ご用件を選んでください');
    expect((await bot.store.bookings.occupancy(SESSION, bot.clock.now())).held.size).toBe(0);
  });

  it('cancel stops the booking and says nothing was booked', async () => {
    const bot = createBot();
    const u = bot.user('cancel');
    await toSummary(u);
    expect(await u.tap('やめる')).toContain('中止しました');
    expect(await bot.store.bookings.listSession(SESSION)).toHaveLength(0);
    expect((await bot.store.bookings.occupancy(SESSION, bot.clock.now())).held.size).toBe(0);
  });

  it('help explains and asks the same question again', async () => {
    const bot = createBot();
    const u = bot.user('help');
    await u.type('予約する');
    await u.tap('対面');
    const help = await u.type('ヘルプ');
    expect(help).toContain('ボタンを押して進めてください');
    expect(help).toContain('確認 1/5');
  });

  it('switches language mid-flow and asks the same question in English', async () => {
    const bot = createBot();
    const u = bot.user('lang');
    await u.type('予約する');
    await u.tap('対面');
    await u.type('language');
    expect(u.buttons).toEqual(['日本語', 'English']);
    const english = await u.tap('English');
    expect(english).toContain('I will speak English');
    expect(english).toContain('Question 1 of 5');
    expect(u.buttons).toEqual(['Yes', 'No', 'Not sure', 'Back']);
    await u.tap('Yes');
    expect(await u.type('メニュー')).toContain('What would you like to do?');
  });

  it('担当者と話したい at any step opens a ticket and keeps the conversation where it was', async () => {
    const bot = createBot();
    const u = bot.user('human');
    await toTimeStep(u);
    const answer = await u.type('担当者と話したい');
    expect(answer).toContain('担当者にお伝えしました');
    expect(answer).toContain('044-200-3691');
    expect(answer).toContain('時間を選んでください');
    const [ticket] = await bot.store.tickets.listOpen();
    expect(ticket).toMatchObject({ reason: 'requested', context: 'booking:time:in_person', locale: 'ja' });
  });

  it('typing the label of a shown button counts as tapping it', async () => {
    const bot = createBot();
    const u = bot.user('typist');
    await u.type('予約する');
    expect(await u.type('対面')).toContain('確認 1/5');
    expect(await u.type('はい')).toContain('確認 2/5');
  });

  it('unreadable text and stickers get a hint and the same question', async () => {
    const bot = createBot();
    const u = bot.user('confused');
    await u.type('予約する');
    expect(await u.type('えーと')).toContain('うまく読み取れませんでした');
    expect(u.said).toContain('相談の方法');
    expect(await u.send({ kind: 'unsupported' })).toContain('読み取れるのは文字とボタンだけです');
    expect(u.said).toContain('相談の方法');
  });

  it('a button from an earlier step, or a forged payload, is refused clearly', async () => {
    const bot = createBot();
    const u = bot.user('stale');
    await u.type('予約する');
    const mode = u.data('対面');
    await u.tap('対面');
    expect(await u.send({ kind: 'action', data: mode })).toContain('そのボタンは現在使えません');
    expect(await u.send({ kind: 'action', data: '{"a":"time","s":"x","v":"../../"}' })).toContain('そのボタンは現在使えません');
    expect(await u.send({ kind: 'action', data: 'not json' })).toContain('そのボタンは現在使えません');
    expect(u.said).toContain('確認 1/5');
  });

  it('an idle conversation expires: the user is told, and starts from the menu', async () => {
    const bot = createBot();
    const u = bot.user('idle');
    await toTimeStep(u);
    const stale = u.data('9:30');
    bot.clock.advance(IDLE_MS + 1);
    const back = await u.send({ kind: 'action', data: stale });
    expect(back).toContain('時間切れ');
    expect(back).toContain('ご用件を選んでください');
    expect(back).not.toContain('そのボタンは現在使えません');
    expect((await bot.store.bookings.occupancy(SESSION, bot.clock.now())).held.size).toBe(0);
    expect(await u.type('予約する')).toContain('相談の方法');
  });

  it('state from an older version of the bot starts over cleanly', async () => {
    const bot = createBot();
    const u = bot.user('old');
    await bot.store.conversations.save(u.key, 0, { v: 0, locale: 'en', flow: { name: 'wizard', page: 3 } }, 60_000);
    const answer = await u.type('menu');
    expect(answer).toContain('We updated this service');
    expect(answer).toContain('What would you like to do?');
    const stored = await bot.store.conversations.load(u.key);
    expect(conversationStateSchema.safeParse(stored?.state).success).toBe(true);
  });
});

describe('my bookings', () => {
  it('lists, shows and cancels a booking after a confirmation, freeing the slot', async () => {
    const bot = createBot();
    const u = bot.user('mine');
    expect(await u.type('予約の確認')).toContain('今後のご予約はありません');
    await toSummary(u, '11:00');
    await u.tap('予約する');

    expect(await u.tap('予約の確認')).toContain('今後のご予約です');
    expect(u.buttons).toEqual(['12/8(火) 11:00', '戻る']);
    const detail = await u.tap('12/8(火) 11:00');
    expect(detail).toContain('麻生区役所');
    expect(detail).toContain('川崎 花子');
    expect(await u.tap('予約を取り消す')).toContain('12月8日(火) 11:00のご予約を取り消しますか？');
    expect(await u.tap('いいえ')).toContain('ご予約の内容');
    await u.tap('予約を取り消す');
    expect(await u.tap('はい、取り消す')).toContain('を取り消しました');
    expect(await bot.store.bookings.listSession(SESSION)).toHaveLength(0);
    expect(await u.type('予約の確認')).toContain('今後のご予約はありません');
  });

  it("cannot open someone else's booking with a forged button", async () => {
    const bot = createBot();
    const owner = bot.user('owner');
    await toSummary(owner);
    await owner.tap('予約する');
    await owner.tap('予約の確認');
    const open = owner.data(/^12\/8/);

    const other = bot.user('other');
    await toSummary(other, '13:00');
    await other.tap('予約する');
    await other.tap('予約の確認');
    const answer = await other.send({ kind: 'action', data: open });
    expect(answer).toContain('そのご予約は見つかりませんでした');
    expect(answer).not.toContain('川崎 花子');
  });
});
