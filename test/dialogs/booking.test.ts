import { describe, expect, it } from 'vitest';
import { createBot, QUESTIONS, toSummary, toTimeStep } from '../support/chat.ts';

const SESSION = '2026-12-08-asao';
const REFERENCE = /[2-9A-HJKMNP-TV-Z]{3}-[2-9A-HJKMNP-TV-Z]{4}/;

describe('booking a consultation', () => {
  it('books in person end to end and records consent and normalised contact details', async () => {
    const bot = createBot();
    const u = bot.user('a');
    expect(await u.send({ kind: 'follow' })).toContain('川崎市のチャット窓口');
    expect(u.buttons).toEqual(['予約する', '予約の確認', '担当者と話したい', 'Language / 言語', '使い方']);

    expect(await u.tap('予約する')).toContain('相談の方法を選んでください');
    expect(u.buttons).toEqual(['対面', 'オンライン（Webex）', '戻る']);
    expect(await u.tap('対面')).toContain(`確認 1/${QUESTIONS.in_person}`);
    for (let i = 2; i <= QUESTIONS.in_person; i++) expect(await u.tap('はい')).toContain(`確認 ${i}/${QUESTIONS.in_person}`);

    const dates = await u.tap('はい');
    expect(dates).toContain('12月8日(火) 麻生区役所');
    expect(dates).toContain('空き12枠');
    expect(u.buttons).toEqual(['12/8(火) 残12', '戻る']);

    expect(await u.tap('12/8(火) 残12')).toContain('時間を選んでください');
    expect(u.buttons).toEqual(['9:00', '9:30', '10:00', '10:30', '11:00', '11:30', '13:00', '13:30', '14:00', '14:30', '15:00', '15:30', '戻る']);

    const precautions = await u.tap('9:30');
    expect(precautions).toContain('12月8日(火) 9:30を');
    expect(u.last.length).toBeGreaterThan(2);
    expect(u.buttons).toEqual(['同意する', '同意しない', '戻る']);

    expect(await u.tap('同意する')).toContain('お名前');
    expect(await u.type('  川崎　花子 ')).toContain('電話番号');
    expect(await u.type('０９０－１２３４－５６７８')).toContain('メールアドレス');
    const summary = await u.type('hanako@example.jp');
    expect(summary).toContain('予約内容の確認');
    expect(summary).toContain('お名前: 川崎 花子');
    expect(summary).toContain('電話番号: 090-1234-5678');
    expect(summary).toContain('場所: 麻生区役所');

    const done = await u.tap('予約する');
    expect(done).toContain('予約が完了しました');
    const reference = done.match(REFERENCE)?.[0];
    expect(reference).toBeDefined();
    expect(u.buttons).toContain('予約の確認');

    const [booking] = await bot.store.bookings.listSession(SESSION);
    expect(booking).toMatchObject({
      id: reference,
      slotId: '0930',
      mode: 'in_person',
      contact: { name: '川崎 花子', phone: '09012345678', email: 'hanako@example.jp' },
      consent: { precautionsVersion: '2026-04', agreedAt: '2026-11-24T01:00:00.000Z' },
    });
  });

  it('asks the camera question and shows every online precaution in short chunks', async () => {
    const bot = createBot();
    const u = bot.user('online');
    await u.type('予約する');
    expect(await u.tap('オンライン（Webex）')).toContain(`確認 1/${QUESTIONS.online}`);
    for (let i = 1; i < QUESTIONS.online; i++) await u.tap('はい');
    expect(u.said).toMatch(/カメラ/);
    await u.tap('はい');
    await u.tap(/^12\/8/);
    await u.tap('10:00');
    const chunks = u.last.filter((r) => r.kind === 'text' && r.text.startsWith('ご予約の前にお読みください'));
    expect(chunks.length).toBeGreaterThan(1);
    for (const chunk of chunks) expect(chunk.kind === 'text' && chunk.text.split('\n').length).toBeLessThanOrEqual(5);
    expect(u.said).toMatch(/録音|録画/);
    await u.tap('同意する');
    await u.type('Taro Kawasaki');
    await u.type('044-200-3691');
    await u.type('taro@example.com');
    const done = await u.tap('予約する');
    expect(done).toContain('Webex');
    expect(done).toContain('場所: オンライン（Webex）');
  });

  it.each(Array.from({ length: QUESTIONS.online }, (_, i) => i))('a clear "no" to screening question %i explains why and offers alternatives', async (index) => {
    const bot = createBot();
    const u = bot.user(`no${index}`);
    await u.type('予約する');
    await u.tap('オンライン（Webex）');
    for (let i = 0; i < index; i++) await u.tap('はい');
    const answer = await u.tap('いいえ');
    const question = bot.catalog.services[0]!.screening.filter((q) => q.modes.includes('online'))[index]!;
    expect(answer).toContain(question.noReason.ja);
    expect(answer).toContain('044-200-3691');
    expect(answer).toContain('044-200-3939');
    expect(u.buttons).toContain('予約する');
    expect(await bot.store.bookings.occupancy(SESSION, bot.clock.now())).toEqual({ booked: new Set(), held: new Map() });
  });

  it('"not sure" never refuses: it opens a ticket and says a person will answer', async () => {
    const bot = createBot();
    const u = bot.user('unsure');
    await u.type('予約する');
    await u.tap('対面');
    await u.tap('はい');
    const answer = await u.tap('わからない');
    expect(answer).toContain('担当者が確認');
    expect(answer).toContain('044-200-3691');
    const [ticket] = await bot.store.tickets.listOpen();
    expect(ticket).toMatchObject({ reason: 'screening_unsure', serviceId: 'ombudsman', userKey: u.key, context: 'booking:screening:in_person' });
    expect(answer).toContain(ticket!.id);
  });

  it('re-asks only the wrong field, with the reason, and keeps the others', async () => {
    const bot = createBot();
    const u = bot.user('typo');
    await toTimeStep(u);
    await u.tap('9:30');
    await u.tap('同意する');
    await u.type('川崎 花子');
    expect(await u.type('12345')).toContain('電話番号の形になっていません');
    expect(u.said).toContain('連絡のつく電話番号');
    expect(await u.type('090-1234-abcd')).toContain('数字とハイフン');
    await u.type('09012345678');
    expect(await u.type('hanako@')).toContain('メールアドレスの形になっていません');
    const summary = await u.type('hanako@example.jp');
    expect(summary).toContain('お名前: 川崎 花子');
    expect(summary).toContain('電話番号: 090-1234-5678');
  });

  it('lets the citizen correct one field from the summary and returns to it', async () => {
    const bot = createBot();
    const u = bot.user('edit');
    await toSummary(u);
    expect(await u.tap('電話番号を直す')).toContain('電話番号');
    const summary = await u.type('044-200-3691');
    expect(summary).toContain('予約内容の確認');
    expect(summary).toContain('電話番号: 044-200-3691');
    expect(summary).toContain('お名前: 川崎 花子');
  });

  it('a hold that expired is still booked while the slot is free', async () => {
    const bot = createBot();
    const u = bot.user('slow');
    await toSummary(u);
    bot.clock.advance(20 * 60_000);
    expect(await u.tap('予約する')).toContain('予約が完了しました');
  });

  it('when the hold expired and someone took the slot, offers the nearest free times and keeps the details', async () => {
    const bot = createBot();
    const slow = bot.user('slow');
    const fast = bot.user('fast');
    await toSummary(slow, '10:00');
    bot.clock.advance(11 * 60_000);
    await toSummary(fast, '10:00');
    expect(await fast.tap('予約する')).toContain('予約が完了しました');

    const gone = await slow.tap('予約する');
    expect(gone).toContain('ほかの方の予約が入りました');
    expect(slow.buttons.slice(0, 3)).toEqual(['12/8(火) 9:30', '12/8(火) 10:30', '12/8(火) 9:00']);
    const summary = await slow.tap('12/8(火) 10:30');
    expect(summary).toContain('予約内容の確認');
    expect(summary).toContain('時間: 10:30');
    expect(summary).toContain('お名前: 川崎 花子');
    expect(await slow.tap('予約する')).toContain('予約が完了しました');
    expect((await bot.store.bookings.listSession(SESSION)).map((b) => b.slotId)).toEqual(['1000', '1030']);
  });

  it('a slot held by someone else is not offered, and a stale tap on it says it was taken', async () => {
    const bot = createBot();
    const first = bot.user('first');
    const second = bot.user('second');
    await toTimeStep(first);
    await toTimeStep(second);
    await first.tap('9:30');
    const taken = await second.tap('9:30');
    expect(taken).toContain('たった今ほかの方が選びました');
    expect(second.buttons).not.toContain('9:30');
    expect(second.buttons).toContain('10:00');
  });

  it('one booking per person per session', async () => {
    const bot = createBot();
    const u = bot.user('twice');
    await toSummary(u);
    await u.tap('予約する');
    await toTimeStep(u);
    expect(await u.tap('10:00')).toContain('すでにご予約があります');
    expect(await bot.store.bookings.listSession(SESSION)).toHaveLength(1);
  });

  it('changing the mode after agreeing asks the new precautions and frees the slot', async () => {
    const bot = createBot();
    const u = bot.user('switcher');
    await toSummary(u);
    for (let i = 0; i < 20; i++) {
      if (u.said.includes('相談の方法')) break;
      await u.type('戻る');
    }
    expect(u.said).toContain('相談の方法');
    await u.tap('オンライン（Webex）');
    expect((await bot.store.bookings.occupancy(SESSION, bot.clock.now())).held.size).toBe(0);
    for (let i = 0; i < QUESTIONS.online; i++) await u.tap('はい');
    await u.tap(/^12\/8/);
    expect(await u.tap('9:30')).toContain('ご予約の前にお読みください');
    expect(u.said).toMatch(/録音|録画/);
  });

  it('choosing another date lets go of the slot held in the first', async () => {
    const bot = createBot({ start: '2026-12-15T10:00:00+09:00' });
    const catalog = bot.catalog;
    expect(catalog.sessions.some((s) => s.id === '2027-01-08-nakahara')).toBe(true);
    const u = bot.user('hopper');
    await u.type('予約する');
    await u.tap('対面');
    for (let i = 0; i < QUESTIONS.in_person; i++) await u.tap('はい');
    await u.tap(/^1\/8/);
    await u.tap('9:30');
    await u.type('戻る');
    await u.type('戻る');
    expect(u.said).toContain('日にちを選んでください');
    await u.tap(/^1\/8/);
    expect((await bot.store.bookings.occupancy('2027-01-08-nakahara', bot.clock.now())).held.size).toBe(1);
  });

  it('a booking is kept for 30 days after its session, then forgotten', async () => {
    const bot = createBot();
    const calls: [string, number][] = [];
    const expire = bot.store.bookings.expireSession.bind(bot.store.bookings);
    bot.store.bookings.expireSession = async (sessionId, atMs) => {
      calls.push([sessionId, atMs]);
      return expire(sessionId, atMs);
    };
    const u = bot.user('kept');
    await toSummary(u);
    await u.tap('予約する');
    expect(calls).toEqual([[SESSION, Date.parse('2027-01-08T00:00:00+09:00')]]);
  });

  it('declining the precautions books nothing and frees the slot', async () => {
    const bot = createBot();
    const u = bot.user('decline');
    await toTimeStep(u);
    await u.tap('9:30');
    expect(await u.tap('同意しない')).toContain('同意いただけない場合は予約できません');
    expect((await bot.store.bookings.occupancy(SESSION, bot.clock.now())).held.size).toBe(0);
  });

  it('when no session is open, says when booking opens next', async () => {
    const bot = createBot({ start: '2026-12-05T10:00:00+09:00' });
    const u = bot.user('early');
    await u.type('予約する');
    await u.tap('対面');
    for (let i = 0; i < QUESTIONS.in_person; i++) await u.tap('はい');
    expect(u.said).toContain('現在、予約を受け付けている日程はありません');
    expect(u.said).toContain('1月8日(金)の回は12月15日(火)から受け付けます');
  });

  it('offers only sessions whose window is open, with free counts', async () => {
    const bot = createBot({ start: '2026-12-15T09:30:00+09:00' });
    const u = bot.user('january');
    await u.type('予約する');
    await u.tap('対面');
    for (let i = 0; i < QUESTIONS.in_person; i++) await u.tap('はい');
    expect(u.buttons).toEqual(['1/8(金) 残12', '戻る']);
  });
});

describe('a full session', () => {
  it('offers the other open dates, or when booking opens next and whom to call', async () => {
    const bot = createBot({ start: '2026-12-04T10:00:00+09:00' });
    const now = bot.clock.now();
    for (const [i, slot] of ['0900', '0930', '1000', '1030', '1100', '1130', '1300', '1330', '1400', '1430', '1500', '1530'].entries()) {
      await bot.store.bookings.hold(SESSION, slot, `other-${i}`, now, 60 * 60_000);
    }
    const u = bot.user('late');
    await u.type('予約する');
    await u.tap('対面');
    for (let i = 0; i < QUESTIONS.in_person; i++) await u.tap('はい');
    const said = u.said;
    expect(said).toMatch(/12月8日\(火\) 麻生区役所[^\n]*：満席/);
    expect(said).toContain('1月8日(金)の回は12月15日(火)から受け付けます');
    expect(said).toContain('044-200-3939');
    expect(u.buttons).toEqual(['戻る', 'メニュー']);
  });

  it('when the session fills while choosing a time, the answer lists the other dates', async () => {
    const bot = createBot({ start: '2026-12-15T10:00:00+09:00' });
    const u = bot.user('chooser');
    await u.type('予約する');
    await u.tap('対面');
    for (let i = 0; i < QUESTIONS.in_person; i++) await u.tap('はい');
    await u.tap(/^1\/8/);
    const now = bot.clock.now();
    for (const [i, slot] of ['0900', '0930', '1000', '1030', '1100', '1130', '1300', '1330', '1400', '1430', '1500', '1530'].entries()) {
      await bot.store.bookings.hold('2027-01-08-nakahara', slot, `other-${i}`, now, 60 * 60_000);
    }
    const said = await u.tap('9:00');
    expect(said).toContain('たった今ほかの方が選びました');
    // Every open session is full, so one sentence says so (not "this one is full" as well).
    expect(said).not.toContain('その日程は満席になりました');
    expect(said).toContain('受付中の日程はすべて満席です');
    expect(said).toContain('044-200-3691');
  });
});
