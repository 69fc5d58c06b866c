/**
 * Reports for the knowledge base's editors, channel-neutral: the questions the bot could not
 * answer, grouped by similarity, with the entries agents finally sent and the citizens'
 * "helpful / not helpful" counts; its CSV export for Excel; and the short-lived signed links
 * under which the bot serves that export. Question text is personal data: it goes to staff
 * (Teams, the CSV behind a signed link), never to a log.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { DateTime } from 'luxon';
import { type Booking, formatPhone, type Locale, type Ticket, type TicketOutcome, type TicketStatus, ZONE } from '../domain.ts';
import type { Translate } from '../turn.ts';
import { slotsOf } from './calendar.ts';
import { type Catalog, serviceById, sessionById } from './catalog.ts';

/**
 * A question joins a group when it is at least this alike to the group's first question.
 * Tried on questions the knowledge base does not cover: two wordings of one matter ("a
 * hole in the road", "is the parking free / how many spaces") mostly score 0.6-0.8, while
 * different matters sharing a word ("the roadworks are noisy" / "the dog is noisy") reach
 * 0.4. Lower, unrelated gaps start to merge; a gap split in two groups misleads editors less.
 */
export const GROUP_SIMILARITY = 0.5;

/** One question the bot could not answer, as its ticket records it. */
export interface UnansweredQuestion {
  ticketId: string;
  question: string;
  locale: Locale;
  createdAt: string;
  status: TicketStatus;
  outcome?: TicketOutcome;
  /** The knowledge-base entry an agent finally sent. */
  answeredWith?: string;
}

/** Questions alike enough to be one gap in the knowledge base. */
export interface UnansweredGroup {
  count: number;
  /** The group's first (oldest) question, which the others were compared with. */
  example: string;
  questions: UnansweredQuestion[];
  /** Entries agents sent for questions of the group, most sent first. */
  answeredWith: { entryId: string; count: number }[];
}

/** "Helpful" / "not helpful" taps on one entry's answers. */
export interface EntryFeedback {
  entryId: string;
  helpful: number;
  unhelpful: number;
}

/** The `unanswered` report: groups (largest first) and the feedback counts (least helpful first). */
export interface UnansweredReport {
  /** Questions in all groups. */
  total: number;
  groups: UnansweredGroup[];
  feedback: EntryFeedback[];
}

/** How alike two questions are, 0-1 (`KnowledgePort.similarity`). */
export type Similarity = (a: string, b: string) => number;

/**
 * Builds the report from the tickets kept in the store: inquiry tickets (open, or closed and
 * not yet purged) whose question the citizen agreed to pass on. Greedy grouping, oldest
 * first: a question joins the first group whose first question is alike enough, else starts
 * one. Quadratic in the worst case, which the retention period keeps to a few thousand.
 */
export function unansweredReport(
  tickets: readonly Ticket[],
  feedback: ReadonlyMap<string, { helpful: number; unhelpful: number }>,
  similarity: Similarity,
  threshold = GROUP_SIMILARITY,
): UnansweredReport {
  const questions = tickets
    .filter((t): t is Ticket & { question: string } => t.reason === 'inquiry' && typeof t.question === 'string' && t.question.trim() !== '')
    .sort((a, b) => a.createdAt.localeCompare(b.createdAt))
    .map(
      (t): UnansweredQuestion => ({
        ticketId: t.id,
        question: t.question,
        locale: t.locale,
        createdAt: t.createdAt,
        status: t.status,
        ...(t.outcome ? { outcome: t.outcome } : {}),
        ...(t.answeredWith ? { answeredWith: t.answeredWith } : {}),
      }),
    );
  const groups: UnansweredQuestion[][] = [];
  for (const q of questions) {
    const home = groups.find((g) => similarity(g[0]!.question, q.question) >= threshold);
    if (home) home.push(q);
    else groups.push([q]);
  }
  return {
    total: questions.length,
    // Stable sort: equal counts stay oldest first.
    groups: groups.map(toGroup).sort((a, b) => b.count - a.count),
    feedback: [...feedback]
      .map(([entryId, c]) => ({ entryId, helpful: c.helpful, unhelpful: c.unhelpful }))
      .sort((a, b) => b.unhelpful - a.unhelpful || b.helpful - a.helpful || a.entryId.localeCompare(b.entryId)),
  };
}

function toGroup(questions: UnansweredQuestion[]): UnansweredGroup {
  const sent = new Map<string, number>();
  for (const q of questions) if (q.answeredWith) sent.set(q.answeredWith, (sent.get(q.answeredWith) ?? 0) + 1);
  return {
    count: questions.length,
    example: questions[0]!.question,
    questions,
    answeredWith: [...sent].map(([entryId, count]) => ({ entryId, count })).sort((a, b) => b.count - a.count || a.entryId.localeCompare(b.entryId)),
  };
}

// ---- CSV ---------------------------------------------------------------------------------

/** The CSV's header row. */
export const CSV_COLUMNS = ['group', 'count', 'question', 'language', 'created', 'status', 'outcome', 'answered_with'] as const;

/** Excel runs a cell starting with one of these as a formula (OWASP "CSV injection"). */
const FORMULA_START = /^[=+\-@\t\r]/;

/**
 * One CSV cell: a leading formula character is neutralised with `'` (Excel shows the text
 * as typed), and a cell with a comma, a quote or a line break is quoted with its quotes
 * doubled (RFC 4180).
 */
export function csvCell(value: string | number): string {
  let text = String(value);
  if (typeof value === 'string' && FORMULA_START.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/**
 * The report as CSV that Excel opens correctly: UTF-8 with a byte-order mark (without it
 * Excel reads Japanese as Shift_JIS), CRLF line ends, one row per question, numbered by group.
 */
export function unansweredCsv(report: UnansweredReport): string {
  const rows: (string | number)[][] = [[...CSV_COLUMNS]];
  report.groups.forEach((group, i) => {
    for (const q of group.questions) {
      const created = DateTime.fromISO(q.createdAt, { zone: ZONE });
      rows.push([i + 1, group.count, q.question, q.locale, created.isValid ? created.toFormat('yyyy-MM-dd HH:mm') : q.createdAt, q.status, q.outcome ?? '', q.answeredWith ?? '']);
    }
  });
  return `\uFEFF${rows.map((r) => r.map(csvCell).join(',')).join('\r\n')}\r\n`;
}

/** The office's list's columns, named by `report.bookings.<column>` in the locale. */
export const BOOKINGS_CSV_COLUMNS = ['reference', 'date', 'start', 'end', 'mode', 'place', 'name', 'phone', 'email', 'language', 'bookedAt', 'bookedBy'] as const;

/**
 * A session's (or a day's) bookings as CSV for Excel, in `t`'s language (the office's:
 * Japanese): UTF-8 with a byte-order mark, CRLF, JST times, and phone numbers hyphenated
 * (`090-1234-5678`), which Excel keeps as text where a bare `09012345678` would become a
 * number without its leading zero. Sorted by date and time.
 */
export function bookingsCsv(bookings: Booking[], catalog: Catalog, t: Translate, locale: Locale): string {
  const rows: string[][] = [BOOKINGS_CSV_COLUMNS.map((c) => t(`report.bookings.${c}`))];
  const sorted = [...bookings].sort((a, b) => (sessionById(catalog, a.sessionId)?.date ?? '').localeCompare(sessionById(catalog, b.sessionId)?.date ?? '') || a.slotId.localeCompare(b.slotId));
  for (const b of sorted) {
    const session = sessionById(catalog, b.sessionId);
    const service = session && serviceById(catalog, session.serviceId);
    const slot = service && slotsOf(service).find((s) => s.id === b.slotId);
    const created = DateTime.fromISO(b.createdAt, { zone: ZONE });
    rows.push([
      b.id,
      session?.date ?? '',
      slot?.start ?? b.slotId,
      slot?.end ?? '',
      t(`booking.mode.${b.mode}`),
      b.mode === 'online' ? t('booking.online') : (session?.place[locale] ?? ''),
      b.contact.name,
      formatPhone(b.contact.phone),
      b.contact.email,
      b.locale,
      created.isValid ? created.toFormat('yyyy-MM-dd HH:mm') : b.createdAt,
      b.bookedBy?.name ?? '',
    ]);
  }
  return `\uFEFF${rows.map((r) => r.map(csvCell).join(',')).join('\r\n')}\r\n`;
}

// ---- signed links ------------------------------------------------------------------------

/** Where the bot serves the unanswered-questions CSV. */
export const UNANSWERED_CSV_PATH = '/reports/unanswered.csv';
/** Where the bot serves the office's list of bookings (`?target=<date or session id>`). */
export const BOOKINGS_CSV_PATH = '/reports/bookings.csv';

/** How long a report link works: long enough to click, short enough that a forwarded link soon dies. */
export const REPORT_LINK_TTL_MS = 10 * 60_000;

/**
 * Signs and checks report links: `?exp=<unix seconds>&sig=<HMAC-SHA256(path, exp), base64url>`.
 * The path is signed too, so that a link to one report never opens another.
 */
export class ReportLinks {
  private readonly secret: Buffer;
  private readonly now: () => number;

  /** Without a secret a random one is made: links then work on this process only. */
  constructor(secret: string | undefined, now: () => number) {
    this.secret = secret ? Buffer.from(secret, 'utf8') : randomBytes(32);
    this.now = now;
  }

  /**
   * A link to `path` under `origin` (`https://bot.example.jp`) valid for `REPORT_LINK_TTL_MS`;
   * with `by` (a staff id, signed with the rest) the download is audited as theirs; with
   * `target` (what the report is of, signed too) a link opens that report only.
   */
  url(origin: string, path: string = UNANSWERED_CSV_PATH, by?: string, target?: string): string {
    const exp = String(Math.floor((this.now() + REPORT_LINK_TTL_MS) / 1000));
    const of = target === undefined ? '' : `target=${encodeURIComponent(target)}&`;
    const staff = by === undefined ? '' : `&by=${encodeURIComponent(by)}`;
    return `${origin}${path}?${of}exp=${exp}${staff}&sig=${this.sign(path, exp, by, target)}`;
  }

  /** True when `sig` signs `path`, `exp`, `by` and `target` (as the link gave them), and `exp` has not passed. */
  verify(path: string, exp: unknown, sig: unknown, by?: string, target?: string): boolean {
    if (typeof exp !== 'string' || !/^\d{1,12}$/.test(exp) || typeof sig !== 'string') return false;
    const expected = Buffer.from(this.sign(path, exp, by, target));
    const given = Buffer.from(sig);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return false;
    return Number(exp) * 1000 > this.now();
  }

  private sign(path: string, exp: string, by?: string, target?: string): string {
    const signed = [path, exp, ...(by === undefined ? [] : [by]), ...(target === undefined ? [] : [`target=${target}`])].join('\n');
    return createHmac('sha256', this.secret).update(signed).digest('base64url');
  }
}
