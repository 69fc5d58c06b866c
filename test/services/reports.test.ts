/**
 * The reports module: grouping the questions the bot could not answer, the CSV export for
 * Excel, and the signed links the bot serves it under.
 */
import { describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { loadCatalog } from '../../src/services/catalog.ts';
import { defaultQuestionBrain, translator } from '../../src/services/index.ts';
import { bookingsCsv, csvCell, ReportLinks, UNANSWERED_CSV_PATH, unansweredCsv, unansweredReport } from '../../src/services/reports.ts';
import { makeBooking, makeTicket } from '../support/stores.ts';

/**
 * A similarity under the test's control (the matcher's own is tuned on its own set): two
 * questions are alike when they name the same thing.
 */
const THINGS = ['穴', 'ベンチ'];
const similarity = (a: string, b: string) => (THINGS.some((w) => a.includes(w) && b.includes(w)) ? 0.8 : 0.1);

function inquiry(id: string, question: string | undefined, createdAt: string, extra: Parameters<typeof makeTicket>[0] = {}) {
  return makeTicket({ id, reason: 'inquiry', desk: 'contact_center', createdAt, ...(question !== undefined ? { question } : {}), ...extra });
}

describe('unansweredReport', () => {
  const tickets = [
    inquiry('T-1', '道路に穴があいていて危ないです', '2026-11-20T01:00:00.000Z', { status: 'closed', outcome: 'answered', answeredWith: 'contact-center' }),
    inquiry('T-2', '公園のベンチが壊れています', '2026-11-21T01:00:00.000Z'),
    inquiry('T-3', '道路の穴が危ない', '2026-11-22T01:00:00.000Z', { status: 'closed', outcome: 'answered', answeredWith: 'contact-center' }),
    inquiry('T-4', '家の前の道路に穴があります', '2026-11-23T01:00:00.000Z'),
    // Not the bot's misses: no consent to share, an urgent message, a plain handoff.
    inquiry('T-5', undefined, '2026-11-23T02:00:00.000Z'),
    makeTicket({ id: 'T-6', reason: 'urgent', priority: 'high', question: '道路に穴があいていて危ない', createdAt: '2026-11-23T03:00:00.000Z' }),
    makeTicket({ id: 'T-7', reason: 'requested', createdAt: '2026-11-23T04:00:00.000Z' }),
  ];

  it('groups alike questions, largest group first, with the entries agents sent', () => {
    const report = unansweredReport(tickets, new Map(), similarity);
    expect(report.total).toBe(4);
    expect(report.groups.map((g) => [g.count, g.example])).toEqual([
      [3, '道路に穴があいていて危ないです'],
      [1, '公園のベンチが壊れています'],
    ]);
    expect(report.groups[0]!.questions.map((q) => q.ticketId)).toEqual(['T-1', 'T-3', 'T-4']);
    expect(report.groups[0]!.answeredWith).toEqual([{ entryId: 'contact-center', count: 2 }]);
    expect(report.groups[1]!.answeredWith).toEqual([]);
  });

  it('a stricter threshold splits what a looser one joins', () => {
    expect(unansweredReport(tickets, new Map(), similarity, 0.9).groups).toHaveLength(4);
    expect(unansweredReport(tickets, new Map(), similarity, 0.05).groups).toHaveLength(1);
  });

  it("with the matcher's similarity, two wordings of one matter meet and another matter stays apart", () => {
    const real = (a: string, b: string) => defaultQuestionBrain().matcher.similarity(a, b);
    const report = unansweredReport([tickets[0]!, tickets[1]!, tickets[2]!], new Map(), real);
    expect(report.groups.map((g) => g.questions.map((q) => q.ticketId))).toEqual([['T-1', 'T-3'], ['T-2']]);
  });

  it('lists the feedback counts, least helpful first', () => {
    const feedback = new Map([
      ['bulky-waste', { helpful: 5, unhelpful: 1 }],
      ['certificate-fee-hours', { helpful: 0, unhelpful: 3 }],
    ]);
    expect(unansweredReport([], feedback, similarity).feedback).toEqual([
      { entryId: 'certificate-fee-hours', helpful: 0, unhelpful: 3 },
      { entryId: 'bulky-waste', helpful: 5, unhelpful: 1 },
    ]);
  });
});

describe('CSV for Excel', () => {
  it('quotes commas, quotes and line breaks (RFC 4180) and neutralises formulas', () => {
    expect(csvCell('plain')).toBe('plain');
    expect(csvCell('a,b')).toBe('"a,b"');
    expect(csvCell('say "hi"')).toBe('"say ""hi"""');
    expect(csvCell('two\nlines')).toBe('"two\nlines"');
    expect(csvCell('=HYPERLINK("http://x")')).toBe(`"'=HYPERLINK(""http://x"")"`);
    for (const start of ['+', '-', '@']) expect(csvCell(`${start}1`)).toBe(`'${start}1`);
    expect(csvCell(-1)).toBe('-1');
  });

  it('starts with a byte-order mark, ends rows with CRLF, one row per question', () => {
    const report = unansweredReport(
      [inquiry('T-1', 'ごみ, "粗大"\n2行目', '2026-11-24T01:00:00.000Z', { status: 'closed', outcome: 'spam' }), inquiry('T-2', '=1+1', '2026-11-24T02:00:00.000Z')],
      new Map(),
      () => 0,
    );
    const csv = unansweredCsv(report);
    const bytes = Buffer.from(csv, 'utf8');
    expect([...bytes.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    expect(csv.slice(1).split('\r\n')).toEqual([
      'group,count,question,language,created,status,outcome,answered_with',
      '1,1,"ごみ, ""粗大""\n2行目",ja,2026-11-24 10:00,closed,spam,',
      "2,1,'=1+1,ja,2026-11-24 11:00,open,,",
      '',
    ]);
  });
});

describe('ReportLinks', () => {
  const origin = 'https://bot.example.jp';
  const SECRET = 'a-report-link-secret-of-32-chars!';

  function parts(url: string) {
    const u = new URL(url);
    return { path: u.pathname, exp: u.searchParams.get('exp') ?? undefined, sig: u.searchParams.get('sig') ?? undefined };
  }

  it('a link works for ten minutes, then not', () => {
    let now = Date.parse('2026-11-24T01:00:00Z');
    const links = new ReportLinks(SECRET, () => now);
    const { path, exp, sig } = parts(links.url(origin));
    expect(path).toBe(UNANSWERED_CSV_PATH);
    expect(links.verify(path, exp, sig)).toBe(true);
    now += 10 * 60_000 - 1000;
    expect(links.verify(path, exp, sig)).toBe(true);
    now += 1000;
    expect(links.verify(path, exp, sig)).toBe(false);
  });

  it('refuses a changed expiry, signature, path or secret', () => {
    const now = () => Date.parse('2026-11-24T01:00:00Z');
    const links = new ReportLinks(SECRET, now);
    const { path, exp, sig } = parts(links.url(origin));
    expect(links.verify(path, String(Number(exp) + 3600), sig)).toBe(false);
    expect(links.verify(path, exp, `${sig!.slice(0, -1)}${sig!.endsWith('A') ? 'B' : 'A'}`)).toBe(false);
    expect(links.verify('/reports/other.csv', exp, sig)).toBe(false);
    expect(links.verify(path, exp, undefined)).toBe(false);
    expect(links.verify(path, 'soon', sig)).toBe(false);
    expect(new ReportLinks('another-secret-of-at-least-32-chars', now).verify(path, exp, sig)).toBe(false);
    // Without a configured secret each process signs with its own.
    expect(new ReportLinks(undefined, now).verify(path, exp, sig)).toBe(false);
  });
});

describe("the office's list of bookings as CSV", () => {
  const catalog = loadCatalog(fileURLToPath(new URL('../fixtures/catalog.json', import.meta.url)));
  const session = catalog.sessions[0]!;
  const t = translator('ja');

  it('opens in Excel as written: BOM, Japanese headers, CRLF, JST times, phone numbers as text, sorted by time', () => {
    const late = makeBooking({ id: 'LAT-2345', sessionId: session.id, slotId: '1300', mode: 'online', createdAt: '2026-11-24T15:30:00.000Z' });
    const early = makeBooking({ id: 'EAR-2345', sessionId: session.id, slotId: '0930', bookedBy: { id: 'a1', name: '職員A' }, contact: { name: '川崎 太郎', phone: '09012345678', email: '=HYPERLINK("x")' } });
    const bytes = Buffer.from(bookingsCsv([late, early], catalog, t, 'ja'), 'utf8');
    expect([...bytes.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    const lines = bytes.toString('utf8').slice(1).split('\r\n');
    expect(lines[0]).toBe('予約番号,日付,開始,終了,相談方法,場所,お名前,電話番号,メールアドレス,言語,予約日時,代理予約した職員');
    expect(lines[1]).toBe(`EAR-2345,${session.date},09:30,10:00,${t('booking.mode.in_person')},${session.place.ja},川崎 太郎,090-1234-5678,"'=HYPERLINK(""x"")",ja,2025-05-01 18:00,職員A`);
    // 15:30 UTC is 00:30 the next day in Japan.
    expect(lines[2]).toContain(`LAT-2345,${session.date},13:00`);
    expect(lines[2]).toContain(`,${t('booking.online')},`);
    expect(lines[2]).toContain(',2026-11-25 00:30,');
    expect(lines.at(-1)).toBe('');
  });
});
