/**
 * Transcripts of typed questions, on the test knowledge base (`test/fixtures/knowledge.json`):
 * answers, did-you-mean, consent before staff read a question, urgent messages first.
 */
import { DateTime } from 'luxon';
import { describe, expect, it } from 'vitest';
import type { Ticket } from '../../src/domain.ts';
import type { StaffNotifier } from '../../src/services/staff.ts';
import { StaffDeskService } from '../../src/staffDesk.ts';
import type { Reply } from '../../src/turn.ts';
import { createBot, en, FIRST, ja, like, TEST_BRAIN, toTimeStep, word } from '../support/chat.ts';

const entry = (id: string) => TEST_BRAIN.kb.entries.find((e) => e.id === id)!;
const DESK_PHONE = TEST_BRAIN.kb.desk.phone;

/** The answer card among the replies, if any. */
function card(replies: Reply[]) {
  return replies.find((r): r is Extract<Reply, { kind: 'card' }> => r.kind === 'card');
}

describe('a question at the menu', () => {
  it('gets a short answer card with the phone and its hours, a tap to call, and "helpful?"', async () => {
    const bot = createBot();
    const u = bot.user('menu');
    await u.type('ソファを捨てたいです');
    const answer = card(u.last)!;
    const waste = entry('waste');
    expect(answer).toMatchObject({ title: waste.title.ja, text: waste.answer.ja });
    expect(answer.fields).toEqual([{ label: ja('inquiry.phoneField'), value: `${waste.phone!.number} (${waste.phone!.hours.ja})` }]);
    expect(answer.links).toEqual([{ label: ja('inquiry.call', { phone: waste.phone!.number }), uri: 'tel:0449305300' }]);
    expect(u.buttons).toEqual([ja('inquiry.helpful'), ja('inquiry.notHelpful'), ja('menu.human'), ja('common.menu')]);
  });

  it('links to the city page where the entry has one', async () => {
    const bot = createBot();
    const u = bot.user('link');
    await u.type('住民票をコンビニで取りたい');
    expect(card(u.last)!.links).toEqual([{ label: ja('inquiry.openLink'), uri: entry('certificate').link }]);
  });

  it('counts "helpful" taps per entry, and thanks the citizen', async () => {
    const bot = createBot();
    const u = bot.user('fb');
    await u.type('ソファを捨てたいです');
    expect(await u.tap(ja('inquiry.helpful'))).toContain(ja('inquiry.thanks'));
    expect((await bot.store.feedback.counts()).get('waste')).toEqual({ helpful: 1, unhelpful: 0 });
  });

  it('answers an English question in English', async () => {
    const bot = createBot();
    const u = bot.user('en');
    await u.send({ kind: 'follow' });
    await u.tap(ja('menu.language'));
    await u.tap(en('language.name'));
    await u.type('How do I renew a library book?');
    expect(card(u.last)).toMatchObject({ title: entry('library-renewal').title.en, text: entry('library-renewal').answer.en });
    expect(u.buttons).toContain(en('inquiry.helpful'));
  });
});

describe('did you mean', () => {
  it('offers the close entries; choosing one answers it', async () => {
    const bot = createBot();
    const u = bot.user('dym');
    expect(await u.type('粗大ごみ')).toContain(ja('inquiry.didYouMean'));
    expect(u.buttons).toEqual(expect.arrayContaining([entry('waste').title.ja, entry('waste-fee').title.ja, ja('inquiry.none')]));
    await u.tap(entry('waste-fee').title.ja);
    expect(card(u.last)).toMatchObject({ title: entry('waste-fee').title.ja });
  });

  it('"none of these" asks whether staff may read the question, and a yes files it for the contact center', async () => {
    const bot = createBot();
    const u = bot.user('none');
    await u.type('粗大ごみ');
    expect(await u.tap(ja('inquiry.none'))).toContain(ja('inquiry.consentPrompt'));
    const said = await u.tap(ja('inquiry.consentYes'));
    const [ticket] = await bot.store.tickets.listOpen();
    expect(ticket).toMatchObject({ reason: 'inquiry', desk: 'contact_center', question: '粗大ごみ', priority: 'normal' });
    expect(said).toMatch(like('inquiry.sent', { ticket: ticket!.id }));
  });
});

describe('a question the bot cannot answer', () => {
  it('says so plainly, asks for consent, and files an inquiry with the nearest entries', async () => {
    const bot = createBot();
    const u = bot.user('unknown');
    const said = await u.type('道路に穴があいていて危ないです');
    expect(said).toContain(ja('inquiry.unknown'));
    expect(said).toContain(ja('inquiry.consentPrompt'));
    expect(await bot.store.tickets.listOpen()).toEqual([]);
    const sent = await u.tap(ja('inquiry.consentYes'));
    const [ticket] = await bot.store.tickets.listOpen();
    expect(ticket).toMatchObject({ reason: 'inquiry', desk: 'contact_center', question: '道路に穴があいていて危ないです', context: 'menu' });
    // 10:00 on a Tuesday: the contact center (8:00-21:00 daily) is open.
    expect(sent).toContain(ja('inquiry.soon'));
    expect(sent).toContain(DESK_PHONE);
  });

  it('outside the contact center hours says when staff will answer', async () => {
    const bot = createBot({ start: '2026-11-24T22:30:00+09:00' });
    const u = bot.user('late');
    await u.type('道路に穴があいていて危ないです');
    const sent = await u.tap(ja('inquiry.consentYes'));
    expect(sent).toMatch(like('inquiry.later'));
    expect(sent).toContain('8:00');
  });

  it('a no sends nothing and gives the phone instead', async () => {
    const bot = createBot();
    const u = bot.user('no');
    await u.type('道路に穴があいていて危ないです');
    const said = await u.tap(ja('inquiry.consentNo'));
    expect(said).toContain(ja('inquiry.notSent'));
    expect(said).toContain(DESK_PHONE);
    expect(await bot.store.tickets.listAll()).toEqual([]);
  });

  it('a yes tapped under an earlier question does not send a later one', async () => {
    const bot = createBot();
    const u = bot.user('stale-yes');
    await u.type('道路に穴があいていて危ないです');
    const earlierYes = u.data(ja('inquiry.consentYes'));
    await u.type('公園のベンチが壊れています');
    expect(await u.send({ kind: 'action', data: earlierYes })).toContain(ja('stale'));
    expect(await bot.store.tickets.listAll()).toEqual([]);
  });

  it('never answers a question about another city for Kawasaki', async () => {
    const bot = createBot();
    const u = bot.user('yokohama');
    const said = await u.type('横浜市で粗大ごみを出したい');
    expect(said).toContain(ja('inquiry.elsewhere'));
    expect(card(u.last)).toBeUndefined();
  });
});

describe('a question in the middle of booking', () => {
  it('is answered at the time step, and one tap goes back to the step with the slot still held', async () => {
    const bot = createBot();
    const u = bot.user('mid');
    await toTimeStep(u);
    await u.tap('9:30');
    const answered = await u.type('相談料はかかりますか？');
    expect(card(u.last)).toMatchObject({ title: entry('consultation-cost').title.ja });
    expect(answered).not.toContain(ja('unknown'));
    await u.tap(ja('inquiry.resume.booking'));
    expect(u.buttons).toContain(ja('booking.agree'));
    expect((await bot.store.bookings.occupancy(FIRST.id, bot.clock.now())).held.get('0930')).toBe(u.key);
  });

  it('a question typed as a name is answered, not stored, and the name is asked again', async () => {
    const bot = createBot();
    const u = bot.user('name');
    await toTimeStep(u);
    await u.tap('9:30');
    await u.tap(ja('booking.agree'));
    const said = await u.type('相談料はかかりますか？');
    expect(card(u.last)).toMatchObject({ title: entry('consultation-cost').title.ja });
    expect(said).toContain(ja('booking.namePrompt'));
    await u.type('川崎 花子');
    expect(u.said).toContain(ja('booking.phonePrompt'));
  });

  it('text that is neither a button nor a question still gets the old hint at a step, not a guess', async () => {
    const bot = createBot();
    const u = bot.user('hint');
    await u.type(word('book'));
    expect(await u.type('えーと')).toContain(ja('unknown'));
    // Shares words with an entry (粗大ごみ), but asks nothing: a try at the step.
    const said = await u.type('粗大ごみの件はあとにします');
    expect(said).toContain(ja('unknown'));
    expect(said).not.toContain(ja('inquiry.didYouMean'));
  });
});

describe('urgent messages come first', () => {
  it('in a booking field: the numbers at once, a high-priority ticket, and the name is not taken', async () => {
    const bot = createBot();
    const u = bot.user('urgent-field');
    await toTimeStep(u);
    await u.tap('9:30');
    await u.tap(ja('booking.agree'));
    const said = await u.type('隣の家から煙が出てる');
    expect(u.last[0]).toEqual({ kind: 'text', text: ja('urgent.fire') });
    const [ticket] = await bot.store.tickets.listOpen();
    expect(ticket).toMatchObject({ reason: 'urgent', priority: 'high', urgent: 'fire', desk: 'contact_center' });
    // The message itself reaches staff only with the citizen's yes.
    expect(ticket!.question).toBeUndefined();
    expect(said).toContain(ja('inquiry.consentPrompt'));
    await u.tap(ja('inquiry.consentYes'));
    expect((await bot.store.tickets.get(ticket!.id))?.question).toBe('隣の家から煙が出てる');
    expect((await bot.store.tickets.listOpen()).length).toBe(1);
    await u.tap(ja('inquiry.resume.booking'));
    expect(u.said).toContain(ja('booking.namePrompt'));
  });

  it('raises a request already waiting to urgent instead of leaving it behind', async () => {
    const bot = createBot();
    const u = bot.user('waiting');
    await u.type('道路に穴があいていて危ないです');
    await u.tap(ja('inquiry.consentYes'));
    await u.type('たすけて 知らない人が家に入ってきた');
    const tickets = await bot.store.tickets.listOpen();
    expect(tickets).toHaveLength(1);
    expect(tickets[0]).toMatchObject({ priority: 'high', urgent: 'violence', question: '道路に穴があいていて危ないです' });
  });

  it('a hedged thought of suicide still gets the helplines', async () => {
    const bot = createBot();
    const u = bot.user('hedged');
    await u.type('死にたいわけじゃないけど、もう疲れた');
    expect(u.last[0]).toEqual({ kind: 'text', text: ja('urgent.suicide') });
  });

  it('a calm question about an emergency number is not an alarm', async () => {
    const bot = createBot();
    const u = bot.user('calm');
    expect(await u.type('火事のときの避難所はどこ？')).not.toContain(ja('urgent.fire'));
    expect(await bot.store.tickets.listOpen()).toEqual([]);
  });

  it('during a relay with staff: the numbers, and staff read the message too', async () => {
    const said: { ticket: Ticket; text: string }[] = [];
    const notifier: StaffNotifier = {
      name: 'recording',
      ticketOpened: async (ticket) => ({ conversationId: 'staff', activityId: `card-${ticket.id}` }),
      ticketChanged: async () => undefined,
      citizenSaid: async (ticket, text) => void said.push({ ticket, text }),
    };
    const bot = createBot({ notifier });
    const desk = new StaffDeskService({ store: bot.store, catalog: bot.catalog, notifier, runTurn: (r) => bot.engine.run(r), delivered: (k, e) => bot.engine.delivered(k, e), messengers: [], log: { info() {}, warn() {}, error() {} } });
    const u = bot.user('relay');
    await u.type(word('human'));
    const [ticket] = await bot.store.tickets.listOpen();
    await desk.claim(ticket!.id, { id: 'aad-1', name: 'Suzuki' }, DateTime.fromMillis(bot.clock.now()));
    await u.type('母が倒れて意識がない');
    expect(u.last[0]).toEqual({ kind: 'text', text: ja('urgent.medical') });
    expect(said.map((s) => s.text)).toEqual(['母が倒れて意識がない']);
    expect((await bot.store.tickets.listOpen()).length).toBe(1);
  });
});

describe('small talk', () => {
  it('"hello" and "thank you" get a word back and the same step, not a search', async () => {
    const bot = createBot();
    const u = bot.user('polite');
    expect(await u.type('こんにちは')).toContain(ja('smallTalk.hello'));
    await u.type('ソファを捨てたいです');
    expect(await u.type('ありがとうございました！')).toContain(ja('smallTalk.thanks'));
    expect(await bot.store.tickets.listAll()).toEqual([]);
  });
});
