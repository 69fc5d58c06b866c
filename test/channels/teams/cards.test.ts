/**
 * Every card the Teams channel sends, checked against what the Teams mobile apps render:
 * schema 1.2 with 1.2's elements and properties only, a fallback text without personal
 * data, and within Teams' 28 KB a message, at the sizes a busy office reaches (120 open
 * tickets, 120 bookings of a day, a 5,000-character question). Lists page with "more".
 */
import { describe, expect, it } from 'vitest';
import { describeStep } from '../../../dialogs/journeys.ts';
import { type Outgoing, bookingsMessage, cancelConfirmCard, type DescribeStep, queueMessage, renderReplies, ticketCard, ticketSummary, triageMessage, unansweredMessage } from '../../../src/channels/teams/cards.ts';
import staffText from '../../../src/channels/teams/staff-text.json' with { type: 'json' };
import { type Booking, LOCALES, type Ticket } from '../../../src/domain.ts';
import { defaultQuestionBrain, translator } from '../../../src/services/index.ts';
import type { UnansweredReport } from '../../../src/services/reports.ts';
import { TEST_CATALOG } from '../../support/chat.ts';
import { makeBooking, makeTicket } from '../../support/stores.ts';
import { expectTeamsMobileCard } from './mobileCard.ts';

const steps: DescribeStep = (step, locale) => describeStep(step, translator(locale));
const brain = defaultQuestionBrain();
const entry = (id: string) => brain.matcher.get(id);
const ENTRY_IDS = brain.kb.entries.map((e) => e.id);
const NOW = Date.parse('2026-11-24T01:00:00Z');

/** A question as long as LINE lets a citizen write one, emoji included. */
const QUESTION = `道路の穴について👨‍👩‍👧🇯🇵 ${'近所の道路に大きな穴があいていて危ないです。'.repeat(230)}`.slice(0, 5000);
const NAME = '川崎 太郎'.padEnd(40, '郎');
const EMAIL = `${'a'.repeat(240)}@example.jp`;
const PERSONAL = [QUESTION.slice(0, 20), NAME, EMAIL, '09012345678', 'line:U'];

function ticket(i: number, over: Partial<Ticket> = {}): Ticket {
  const inquiry = i % 2 === 0;
  return makeTicket({
    id: `T${String(i).padStart(2, '0')}-ABCD`,
    userKey: `line:U${i}`,
    locale: LOCALES[i % LOCALES.length]!,
    createdAt: new Date(NOW - i * 60_000).toISOString(),
    priority: i % 7 === 0 ? 'high' : 'normal',
    ...(inquiry ? { reason: 'inquiry', desk: 'contact_center', question: QUESTION, suggestions: ENTRY_IDS.slice(0, 3) } : {}),
    ...(i % 5 === 0 ? { status: 'claimed', claimedBy: { id: 'aad-1', name: '鈴木 一郎' }, claimedAt: new Date(NOW).toISOString() } : {}),
    ...over,
  });
}

const TICKETS = Array.from({ length: 120 }, (_, i) => ticket(i + 1));

function booking(i: number): Booking {
  return makeBooking({
    id: `K${String(i).padStart(2, '0')}-ABCD`,
    sessionId: '2026-12-08-asao',
    slotId: `${String(9 + (i % 8)).padStart(2, '0')}${i % 2 ? '30' : '00'}`,
    userKey: `line:U${i}`,
    contact: { name: NAME, phone: '09012345678', email: EMAIL },
    ...(i % 3 === 0 ? { bookedBy: { id: 'aad-2', name: '田中 花子' } } : {}),
  });
}

const BOOKINGS = Array.from({ length: 120 }, (_, i) => booking(i + 1));

const REPORT: UnansweredReport = {
  total: 360,
  groups: Array.from({ length: 120 }, (_, i) => ({
    count: 3,
    example: QUESTION,
    questions: [],
    answeredWith: ENTRY_IDS.slice(0, 3).map((entryId) => ({ entryId, count: i })),
  })),
  feedback: ENTRY_IDS.slice(0, 30).map((entryId, i) => ({ entryId, helpful: i, unhelpful: 30 - i })),
};

/** The card of a message, after checking it is one. */
function cardOf(message: Outgoing) {
  if (message.kind !== 'card') throw new Error(`a ${message.kind} message, not a card`);
  return message.card;
}

/** The "more" buttons of a card, with their payloads. */
function moreOf(message: Outgoing): { title: string; data: Record<string, unknown> }[] {
  return ((cardOf(message).actions ?? []) as { data?: Record<string, unknown>; title: string }[]).filter((a) => a.data?.staff === 'more') as { title: string; data: Record<string, unknown> }[];
}

/** Pages through a list by its "more" buttons, as staff tapping them would. */
function pages(first: Outgoing, next: (offset: number) => Outgoing): Outgoing[] {
  const all = [first];
  for (let more = moreOf(first)[0]; more; more = moreOf(all.at(-1)!)[0]) {
    all.push(next(more.data.offset as number));
    expect(all.length).toBeLessThan(20);
  }
  return all;
}

/** Every card the channel can send, at full size, in both staff languages. */
function everyCard(): { name: string; message: Outgoing }[] {
  const cards: { name: string; message: Outgoing }[] = [];
  for (const locale of ['ja', 'en'] as const) {
    const view = { locale, describeStep: steps, entry, nowMs: NOW };
    const closed = { status: 'closed' as const, closedBy: { id: 'aad-1', name: '鈴木 一郎' }, closedAt: new Date(NOW).toISOString(), outcome: 'answered' as const, answeredWith: ENTRY_IDS[0]! };
    for (const [name, t] of [
      ['handoff', ticket(1)],
      ['handoff claimed', ticket(5)],
      ['handoff closed', ticket(3, closed)],
      ['inquiry', ticket(2)],
      ['urgent', ticket(14, { reason: 'urgent', urgent: 'fire' })],
      ['inquiry closed', ticket(4, closed)],
    ] as const) {
      cards.push({ name: `${name} (${locale})`, message: { kind: 'card', card: ticketCard(t, view), summary: ticketSummary(t, locale) } });
      cards.push({ name: `${name}, forwarded (${locale})`, message: { kind: 'card', card: ticketCard(t, { ...view, forwarded: { by: { id: 'aad-1', name: '鈴木 一郎' }, at: new Date(NOW).toISOString() } }), summary: ticketSummary(t, locale) } });
    }
    const lists = [
      ['queue', pages(queueMessage(TICKETS, NOW, locale), (offset) => queueMessage(TICKETS, NOW, locale, offset))],
      ['triage', pages(triageMessage(TICKETS, NOW, locale), (offset) => triageMessage(TICKETS, NOW, locale, offset))],
      ['unanswered', pages(unansweredMessage(REPORT, (id) => entry(id)?.title[locale] ?? id, 'https://bot.example.jp/reports/unanswered.csv?sig=x', locale), (offset) => unansweredMessage(REPORT, (id) => entry(id)?.title[locale] ?? id, 'https://bot.example.jp/reports/unanswered.csv?sig=x', locale, offset))],
      ['bookings', pages(bookingsMessage(BOOKINGS, '2026-12-08', locale, { target: '2026-12-08', csvUrl: 'https://bot.example.jp/reports/bookings.csv?sig=x' }), (offset) => bookingsMessage(BOOKINGS, '2026-12-08', locale, { target: '2026-12-08', offset }))],
    ] as const;
    for (const [name, all] of lists) all.forEach((message, i) => cards.push({ name: `${name} page ${i + 1} (${locale})`, message }));
    const session = TEST_CATALOG.sessions[0]!;
    cards.push({ name: `cancel (${locale})`, message: cancelConfirmCard({ booking: booking(1), session }, locale) });
    const replies = renderReplies(
      [
        { kind: 'text', text: 'お名前を入力してください', choices: Array.from({ length: 13 }, (_, i) => ({ label: `選択肢${i}`, data: `{"a":"x${i}"}` })) },
        { kind: 'card', title: '予約内容', fields: [{ label: '氏名', value: NAME }], text: QUESTION, links: [{ label: '電話', uri: 'tel:0442003939' }], choices: [{ label: '確定', data: '{"a":"ok"}' }] },
        { kind: 'text', text: QUESTION.repeat(4), choices: [{ label: 'OK', data: '{"a":"ok"}' }] },
      ],
      locale,
    );
    replies.forEach((message, i) => cards.push({ name: `dialog reply ${i + 1} (${locale})`, message }));
  }
  return cards;
}

describe('cards for the Teams mobile apps', () => {
  const cards = everyCard().filter((c) => c.message.kind === 'card');

  it.each(cards.map((c) => [c.name, c.message] as const))('%s: schema 1.2, 1.2 elements and properties only, a fallback text, under 28 KB', (_name, message) => {
    expectTeamsMobileCard(cardOf(message), message.kind === 'card' ? message.summary : '');
  });

  it('no fallback text carries personal data', () => {
    for (const { name, message } of cards) for (const personal of PERSONAL) expect(cardOf(message).fallbackText, name).not.toContain(personal);
  });
});

describe('lists in pages', () => {
  it('the queue shows 20 tickets a card; "more" shows the next 20, and every ticket comes once, in order', () => {
    const all = pages(queueMessage(TICKETS, NOW, 'en'), (offset) => queueMessage(TICKETS, NOW, 'en', offset));
    expect(all).toHaveLength(6);
    const ids = all.flatMap((m) => JSON.stringify(cardOf(m).body).match(/T\d{2,3}-ABCD/g) ?? []);
    expect(ids).toEqual(TICKETS.map((t) => t.id));
    expect(moreOf(all[0]!)).toEqual([{ type: 'Action.Submit', title: staffText.en['list.more'].replace('{{n}}', '100'), data: { staff: 'more', list: 'queue', offset: 20 } }]);
    expect(JSON.stringify(cardOf(all[1]!).body)).toContain(staffText.en['list.page'].replace('{{from}}', '21').replace('{{to}}', '40').replace('{{count}}', '120'));
    expect(moreOf(all.at(-1)!)).toEqual([]);
  });

  it('a page past the end of a list that has shrunk shows its last page', () => {
    const few = TICKETS.slice(0, 25);
    const page = queueMessage(few, NOW, 'en', 40);
    expect(JSON.stringify(cardOf(page).body).match(/T\d{2,3}-ABCD/g)).toEqual(few.slice(20).map((t) => t.id));
  });

  it('bookings page 15 at a time and their "more" names the list', () => {
    const all = pages(bookingsMessage(BOOKINGS, '2026-12-08', 'ja', { target: '2026-12-08' }), (offset) => bookingsMessage(BOOKINGS, '2026-12-08', 'ja', { target: '2026-12-08', offset }));
    expect(all).toHaveLength(8);
    expect(moreOf(all[0]!)[0]!.data).toEqual({ staff: 'more', list: 'bookings', offset: 15, target: '2026-12-08' });
    expect(all.flatMap((m) => JSON.stringify(cardOf(m).body).match(/K\d{2,3}-ABCD/g) ?? [])).toEqual(BOOKINGS.map((b) => b.id));
  });

  it('a list small enough for one card has no "more" and no page line', () => {
    const one = queueMessage(TICKETS.slice(0, 3), NOW, 'en');
    expect(moreOf(one)).toEqual([]);
    expect(JSON.stringify(cardOf(one))).not.toContain('Showing');
  });
});

describe('long texts', () => {
  it('a text longer than a Teams message goes as several, split between sentences, none cut', () => {
    const text = '長い説明の文です。'.repeat(2000);
    const out = renderReplies([{ kind: 'text', text }], 'ja');
    expect(out.length).toBeGreaterThan(1);
    for (const m of out) expect(m.kind === 'text' && m.text.length <= 8000 && m.text.endsWith('。')).toBe(true);
    expect(out.map((m) => (m.kind === 'text' ? m.text : '')).join('')).toBe(text);
  });
});

describe("the citizen's language", () => {
  it('is named on the ticket cards in both staff languages, for every language the bot speaks', () => {
    for (const staff of ['ja', 'en'] as const) {
      for (const locale of LOCALES) {
        const name = staffText[staff][`language.${locale}`];
        for (const t of [ticket(1, { locale }), ticket(2, { locale })]) {
          const facts = JSON.stringify(ticketCard(t, { locale: staff, describeStep: steps, entry, nowMs: NOW }).body);
          expect(facts).toContain(JSON.stringify({ title: staffText[staff]['card.language'], value: name }));
        }
      }
    }
  });
});
