/**
 * What the bot shows in Teams, as plain data: Adaptive Cards (ticket cards, lists) and the
 * channel-neutral dialog replies rendered for Teams. No SDK types here, so the cards
 * survive a move from botbuilder to another Teams SDK unchanged.
 */
import { DateTime } from 'luxon';
import { type Agent, type Booking, type Desk, deskOf, formatPhone, type Session, type Ticket, ZONE } from '../../domain.ts';
import type { KnowledgeEntry } from '../../services/knowledge.ts';
import type { UnansweredReport } from '../../services/reports.ts';
import type { SessionStats } from '../../services/staff.ts';
import type { AuditEntry } from '../../stores/ports.ts';
import { clip, splitText } from '../../graphemes.ts';
import type { Choice, Link, Reply } from '../../turn.ts';
import type { ClosingOutcome, StaffList } from './activity.ts';
import { phrase, phraseIfAny, type StaffLocale } from './text.ts';

/**
 * Text a citizen typed, shown as typed. Adaptive Card facts render a little Markdown, of
 * which only links could mislead staff; a zero-width space between `]` and `(` breaks one.
 */
function literal(text: string): string {
  return text.replaceAll('](', ']\u200b(');
}

/** An Adaptive Card (https://adaptivecards.io), as JSON. */
export interface AdaptiveCard {
  type: 'AdaptiveCard';
  $schema: string;
  version: string;
  body: object[];
  actions?: object[];
  /** What a client that cannot show the card shows instead (no personal data). */
  fallbackText: string;
  msteams: { width: 'Full' };
}

/** One message to send: text, or a card with a short summary for notifications. */
export type Outgoing =
  /** `plain` when the text is someone's own words (the citizen's), so Teams renders no markup in it. */
  | { kind: 'text'; text: string; plain?: boolean }
  | { kind: 'card'; card: AdaptiveCard; summary: string };

/** A staff card button's payload (Action.Submit `data`); validated again when it comes back (`activity.ts`). */
export type StaffSubmit =
  | { staff: 'claim' | 'close'; ticketId: string; outcome?: ClosingOutcome }
  | { staff: 'answer'; ticketId: string; entryId: string }
  | { staff: 'forward'; ticketId: string; desk: Desk }
  | { staff: 'cancelBooking'; reference: string }
  /** The next page of a list, from `offset`; `target` is the date or session of a bookings list. */
  | { staff: 'more'; list: StaffList; offset: number; target?: string };

/**
 * Teams renders cards up to schema 1.5 on the desktop and the web but only up to 1.2 on its
 * mobile apps, where staff on the move read tickets: every card is 1.2, with 1.2's elements
 * and properties only (a test checks them against a list).
 */
const VERSION = '1.2';
const SCHEMA = 'http://adaptivecards.io/schemas/adaptive-card.json';
/** Buttons per row: more get cut off on a phone. */
const BUTTONS_PER_ROW = 3;
/** Rows of a list card (`queue`, `triage`, groups of `unanswered`); the next page is a tap on "more" away. */
const PAGE_ROWS = 20;
/** Bookings in one card: each carries contact details, and Teams refuses a message much over 28 KB. */
const PAGE_BOOKINGS = 15;
/** Characters of a question shown in a list row (the card shows it whole). */
const SNIPPET = 60;
/**
 * Longest text message, in UTF-16 code units: Teams takes about 28 KB a message through the
 * connector, and a code unit is at most 3 bytes of UTF-8. Longer texts go as several messages.
 */
const TEXT_MAX = 8000;

/** A card to send, with what a client that cannot show it shows instead (`fallbackText`: no personal data). */
function card(body: object[], actions: object[] | undefined, fallbackText: string): AdaptiveCard {
  return {
    type: 'AdaptiveCard',
    $schema: SCHEMA,
    version: VERSION,
    body,
    ...(actions?.length ? { actions } : {}),
    fallbackText,
    msteams: { width: 'Full' },
  };
}

/** The card an Action.ShowCard opens inside its parent (no version or fallback of its own). */
function subCard(actions: object[]): object {
  return { type: 'AdaptiveCard', body: [], actions };
}

/** The first line of `text`, cut within `max` characters. */
function snippet(text: string, max = SNIPPET): string {
  return clip(text.split(/\r?\n/)[0]!.trim(), max);
}

/**
 * `rows` from `offset` (moved back to the last page when the list has shrunk since), at most
 * `size`; `left` counts the rows after them.
 */
function pageOf<T>(rows: T[], offset: number, size: number): { shown: T[]; from: number; left: number } {
  const from = Math.max(0, Math.min(offset, Math.floor((rows.length - 1) / size) * size));
  const shown = rows.slice(from, from + size);
  return { shown, from, left: rows.length - from - shown.length };
}

/** Which rows of how many a page shows, when the list has more than one page. */
function pageLine(locale: StaffLocale, from: number, shown: number, count: number): object[] {
  if (shown >= count) return [];
  return [textBlock(phrase(locale, 'list.page', { from: from + 1, to: from + shown, count }), { isSubtle: true, spacing: 'None' })];
}

/** The button that shows the next page of a list, when there is one. */
function moreActions(locale: StaffLocale, list: StaffList, next: number, left: number, target?: string): object[] {
  if (left <= 0) return [];
  return [submit(phrase(locale, 'list.more', { n: left }), { staff: 'more', list, offset: next, ...(target ? { target } : {}) })];
}

/** Messages as Teams takes them: a text longer than one message goes as several, split between sentences. */
export function fitted(messages: Outgoing[]): Outgoing[] {
  return messages.flatMap((m) => (m.kind === 'text' && m.text.length > TEXT_MAX ? splitText(m.text, TEXT_MAX, Infinity).parts.map((text) => ({ ...m, text })) : [m]));
}

function textBlock(text: string, extra: Record<string, unknown> = {}): object {
  return { type: 'TextBlock', text, wrap: true, ...extra };
}

function factSet(facts: { title: string; value: string }[]): object {
  return { type: 'FactSet', facts: facts.map((f) => ({ title: f.title, value: f.value || '-' })) };
}

/** `2026-11-24T01:00:00Z` → `2026-11-24 10:00` (JST), the way staff read times. */
export function jst(iso: string | undefined): string {
  if (!iso) return '-';
  const t = DateTime.fromISO(iso, { zone: ZONE });
  return t.isValid ? t.toFormat('yyyy-MM-dd HH:mm') : '-';
}

/**
 * A ticket's step name (`booking:screening:in_person`) in words for staff, in `locale`. The
 * journeys own those words, so the composition root passes this in (see `dialogs/journeys.ts`).
 */
export type DescribeStep = (step: string, locale: StaffLocale) => string;

function codeText(locale: StaffLocale, prefix: string, code: string): string {
  return phraseIfAny(locale, `${prefix}.${code}`) ?? code;
}

function statusText(ticket: Ticket, locale: StaffLocale): string {
  if (ticket.status === 'claimed') {
    return phrase(locale, 'status.claimed', { name: ticket.claimedBy?.name ?? '-', time: jst(ticket.claimedAt) });
  }
  if (ticket.status === 'closed') {
    return ticket.closedBy === 'citizen' || ticket.closedBy === undefined
      ? phrase(locale, 'status.closedByCitizen', { time: jst(ticket.closedAt) })
      : phrase(locale, 'status.closed', { name: ticket.closedBy.name, time: jst(ticket.closedAt) });
  }
  return phrase(locale, 'status.open');
}

function submit(title: string, data: StaffSubmit | { action: string }, style?: 'positive' | 'destructive'): object {
  return { type: 'Action.Submit', title, data, ...(style ? { style } : {}) };
}

/** What a ticket card is drawn with besides the ticket. */
export interface CardView {
  /** Language of the card (staff UI). */
  locale: StaffLocale;
  describeStep: DescribeStep;
  /** A knowledge-base entry by id, for an inquiry's suggested answers. */
  entry: (id: string) => KnowledgeEntry | undefined;
  /** Now, for the age of the ticket. */
  nowMs: number;
  /** Set when this card is the one the ticket left behind in the old desk's channel. */
  forwarded?: { by: Agent; at: string };
}

/** The other desk: where a ticket card's Forward button sends it. */
function otherDesk(desk: Desk): Desk {
  return desk === 'office' ? 'contact_center' : 'office';
}

function deskName(locale: StaffLocale, desk: Desk): string {
  return phrase(locale, desk === 'office' ? 'desk.office' : 'desk.contact_center');
}

/** The status line, or where the ticket went when this card is the one left behind. */
function statusFact(ticket: Ticket, view: CardView): { title: string; value: string } {
  const { locale, forwarded } = view;
  const value = forwarded
    ? phrase(locale, 'status.forwarded', { desk: deskName(locale, deskOf(ticket)), name: forwarded.by.name, time: jst(forwarded.at) })
    : statusText(ticket, locale);
  return { title: phrase(locale, 'card.status'), value };
}

/**
 * The buttons of a live ticket: Claim while open, Forward to the other desk, Close. An
 * inquiry closes with an outcome, chosen in a small sub-card so that the card stays narrow.
 */
function ticketActions(ticket: Ticket, view: CardView, withOutcomes: boolean): object[] {
  const { locale } = view;
  if (ticket.status === 'closed' || view.forwarded) return [];
  const id = ticket.id;
  const to = otherDesk(deskOf(ticket));
  const claim = ticket.status === 'open' ? [submit(phrase(locale, 'card.claim'), { staff: 'claim', ticketId: id }, 'positive')] : [];
  const close = withOutcomes
    ? {
        type: 'Action.ShowCard',
        title: phrase(locale, 'card.closeAs'),
        card: subCard((['answered', 'no_reply', 'spam'] as const).map((outcome) => submit(phrase(locale, `outcome.${outcome}`), { staff: 'close', ticketId: id, outcome }))),
      }
    : submit(phrase(locale, 'card.close'), { staff: 'close', ticketId: id });
  const forward = submit(phrase(locale, to === 'office' ? 'card.forwardTo.office' : 'card.forwardTo.contact_center'), { staff: 'forward', ticketId: id, desk: to });
  return [...claim, close, forward];
}

/** A question and its suggestions go on the inquiry card; a plain handoff on the ticket card. */
function isInquiry(ticket: Ticket): boolean {
  return ticket.reason === 'inquiry' || ticket.reason === 'urgent' || ticket.question !== undefined || (ticket.suggestions?.length ?? 0) > 0;
}

/**
 * The staff card of a ticket, in whichever desk's channel it is: the inquiry card for a
 * question or an urgent message, the handoff card otherwise.
 */
export function ticketCard(ticket: Ticket, view: CardView): AdaptiveCard {
  return isInquiry(ticket) ? inquiryCard(ticket, view) : handoffCard(ticket, view);
}

/**
 * The card of a request for a person. It carries what staff need to triage (reason,
 * category, priority, language, what the citizen was doing, when) and nothing that
 * identifies the citizen: no name, phone or message text. Buttons follow the ticket's
 * state: Claim, Close and Forward while open, Close and Forward while claimed, none once
 * closed (or forwarded away from this card).
 */
function handoffCard(ticket: Ticket, view: CardView): AdaptiveCard {
  const { locale } = view;
  const high = ticket.priority === 'high';
  const body = [
    textBlock(phrase(locale, 'card.title', { id: ticket.id }), { size: 'Medium', weight: 'Bolder', ...(high ? { color: 'Attention' } : {}) }),
    factSet([
      { title: phrase(locale, 'card.reason'), value: codeText(locale, 'reason', ticket.reason) },
      { title: phrase(locale, 'card.category'), value: ticket.category },
      { title: phrase(locale, 'card.priority'), value: codeText(locale, 'priority', ticket.priority) },
      { title: phrase(locale, 'card.language'), value: codeText(locale, 'language', ticket.locale) },
      { title: phrase(locale, 'card.summary'), value: view.describeStep(ticket.context, locale) },
      { title: phrase(locale, 'card.created'), value: jst(ticket.createdAt) },
      statusFact(ticket, view),
      ...outcomeFacts(ticket, view),
    ]),
  ];
  return card(body, ticketActions(ticket, view, false), ticketSummary(ticket, locale));
}

function outcomeFacts(ticket: Ticket, view: CardView): { title: string; value: string }[] {
  const { locale } = view;
  if (ticket.status !== 'closed' || !ticket.outcome) return [];
  const title = ticket.answeredWith ? view.entry(ticket.answeredWith)?.title[locale] : undefined;
  const value = title ? phrase(locale, 'outcome.answeredWith', { title }) : codeText(locale, 'outcome', ticket.outcome);
  return [{ title: phrase(locale, 'card.outcome'), value }];
}

function urgentKind(ticket: Ticket, locale: StaffLocale): string | undefined {
  return ticket.urgent ? codeText(locale, 'urgent', ticket.urgent) : undefined;
}

function inquiryTitle(ticket: Ticket, locale: StaffLocale): string {
  const kind = urgentKind(ticket, locale);
  return kind ? phrase(locale, 'inquiry.urgentTitle', { id: ticket.id, kind }) : phrase(locale, 'inquiry.title', { id: ticket.id });
}

/**
 * The card of a question the bot could not answer (or an urgent message): the question
 * exactly as the citizen wrote it, once they agreed to pass it on (else a note that they
 * have not), the triage facts, and the three nearest knowledge-base entries, each with a
 * one-line preview and "send this answer". The citizen's words are shown to staff only;
 * the card's summary and fallback text never carry them.
 */
function inquiryCard(ticket: Ticket, view: CardView): AdaptiveCard {
  const { locale } = view;
  const high = ticket.priority === 'high';
  const entries = (ticket.suggestions ?? []).flatMap((id) => view.entry(id) ?? []);
  const live = ticket.status !== 'closed' && !view.forwarded;
  const body: object[] = [
    textBlock(inquiryTitle(ticket, locale), { size: 'Medium', weight: 'Bolder', ...(high ? { color: 'Attention' } : {}) }),
    ticket.question !== undefined
      ? { type: 'Container', style: 'emphasis', items: [textBlock(phrase(locale, 'inquiry.question'), { isSubtle: true, size: 'Small' }), textBlock(literal(ticket.question))] }
      : textBlock(phrase(locale, 'inquiry.notShared'), { isSubtle: true }),
    factSet([
      { title: phrase(locale, 'card.language'), value: codeText(locale, 'language', ticket.locale) },
      { title: phrase(locale, 'card.category'), value: ticket.category },
      { title: phrase(locale, 'inquiry.department'), value: entries[0]?.department[locale] ?? '-' },
      { title: phrase(locale, 'card.priority'), value: [codeText(locale, 'priority', ticket.priority), urgentKind(ticket, locale)].filter(Boolean).join(' · ') },
      { title: phrase(locale, 'card.created'), value: `${jst(ticket.createdAt)} (${age(ticket.createdAt, view.nowMs, locale)})` },
      statusFact(ticket, view),
      ...outcomeFacts(ticket, view),
    ]),
  ];
  if (entries.length > 0) {
    body.push(textBlock(phrase(locale, 'inquiry.suggestions'), { weight: 'Bolder', separator: true, spacing: 'Medium' }));
    for (const entry of entries) {
      body.push({
        type: 'Container',
        spacing: 'Small',
        items: [
          textBlock(`**${entry.title[locale]}**`),
          textBlock(snippet(entry.answer[locale]), { isSubtle: true, maxLines: 1, wrap: false, spacing: 'None' }),
          ...(live ? [{ type: 'ActionSet', actions: [submit(phrase(locale, 'inquiry.send'), { staff: 'answer', ticketId: ticket.id, entryId: entry.id }, 'positive')] }] : []),
        ],
      });
    }
  }
  return card(body, ticketActions(ticket, view, true), ticketSummary(ticket, locale));
}

/** The notification line of a ticket card (shown in the activity feed; no personal data). */
export function ticketSummary(ticket: Ticket, locale: StaffLocale): string {
  const title = isInquiry(ticket) ? inquiryTitle(ticket, locale) : phrase(locale, 'card.title', { id: ticket.id });
  return `${title}: ${codeText(locale, 'reason', ticket.reason)} (${codeText(locale, 'priority', ticket.priority)})`;
}

function age(fromIso: string, nowMs: number, locale: StaffLocale): string {
  const minutes = Math.max(0, Math.floor((nowMs - Date.parse(fromIso)) / 60_000));
  if (!Number.isFinite(minutes)) return '-';
  if (minutes < 60) return phrase(locale, 'age.minutes', { n: minutes });
  if (minutes < 48 * 60) return phrase(locale, 'age.hours', { n: Math.floor(minutes / 60) });
  return phrase(locale, 'age.days', { n: Math.floor(minutes / 1440) });
}

/** Who has a ticket of a list: waiting, or claimed by whom. */
function holder(t: Ticket, locale: StaffLocale): string {
  return t.status === 'claimed' ? phrase(locale, 'queue.claimedBy', { name: t.claimedBy?.name ?? '-' }) : phrase(locale, 'queue.waiting');
}

/** The `queue` answer: one line per ticket, oldest first, `PAGE_ROWS` from `offset`, then a "more" button. */
export function queueMessage(tickets: Ticket[], nowMs: number, locale: StaffLocale, offset = 0): Outgoing {
  if (tickets.length === 0) return { kind: 'text', text: phrase(locale, 'queue.empty') };
  const title = phrase(locale, 'queue.title', { count: tickets.length });
  const { shown, from, left } = pageOf(tickets, offset, PAGE_ROWS);
  const rows = shown.map((t) =>
    textBlock(
      [`**${t.id}**`, codeText(locale, 'reason', t.reason), codeText(locale, 'priority', t.priority), codeText(locale, 'language', t.locale), age(t.createdAt, nowMs, locale), holder(t, locale)].join(' · '),
      { spacing: 'Small' },
    ),
  );
  const body = [textBlock(title, { weight: 'Bolder' }), ...pageLine(locale, from, shown.length, tickets.length), ...rows];
  return { kind: 'card', card: card(body, moreActions(locale, 'queue', from + shown.length, left), title), summary: title };
}

/**
 * The `triage` answer: the contact center's open tickets in the order given (high priority
 * first, then oldest first), urgent ones marked with their kind, each with the start of the
 * question when the citizen shared it. `PAGE_ROWS` rows from `offset`, then a "more" button.
 */
export function triageMessage(tickets: Ticket[], nowMs: number, locale: StaffLocale, offset = 0): Outgoing {
  if (tickets.length === 0) return { kind: 'text', text: phrase(locale, 'triage.empty') };
  const title = phrase(locale, 'triage.title', { count: tickets.length });
  const { shown, from, left } = pageOf(tickets, offset, PAGE_ROWS);
  const rows = shown.map((t) => {
    const high = t.priority === 'high';
    const mark = high ? `**${[codeText(locale, 'priority', 'high'), urgentKind(t, locale)].filter(Boolean).join(': ')}**` : codeText(locale, 'priority', t.priority);
    const question = t.question !== undefined ? literal(snippet(t.question)) : phrase(locale, 'triage.notShared');
    const line = [`**${t.id}**`, mark, codeText(locale, 'language', t.locale), t.category, age(t.createdAt, nowMs, locale), holder(t, locale), question].join(' · ');
    return textBlock(line, { spacing: 'Small', ...(high ? { color: 'Attention' } : {}) });
  });
  const body = [textBlock(title, { weight: 'Bolder' }), ...pageLine(locale, from, shown.length, tickets.length), ...rows];
  return { kind: 'card', card: card(body, moreActions(locale, 'triage', from + shown.length, left), title), summary: title };
}

/**
 * The `unanswered` answer: the groups of questions the bot could not answer (largest
 * first, each with its count, an example and the entries agents sent), the feedback counts
 * per entry, and a button to the CSV of every question (`csvUrl`, a short-lived signed link).
 * Both lists show `PAGE_ROWS` from `offset`, then a "more" button. Question texts are for
 * staff: this goes to Teams only.
 */
export function unansweredMessage(report: UnansweredReport, entryTitle: (id: string) => string, csvUrl: string, locale: StaffLocale, offset = 0): Outgoing {
  const title = phrase(locale, 'unanswered.title', { count: report.total, groups: report.groups.length });
  // One page of each list: as many pages as the longer of the two has.
  const longest: unknown[] = report.groups.length >= report.feedback.length ? report.groups : report.feedback;
  const { from, shown, left } = pageOf(longest, offset, PAGE_ROWS);
  const body: object[] = [
    textBlock(title, { size: 'Medium', weight: 'Bolder' }),
    ...pageLine(locale, from, shown.length, longest.length),
    textBlock(phrase(locale, 'unanswered.staffOnly'), { isSubtle: true, spacing: 'None' }),
  ];
  if (report.total === 0) body.push(textBlock(phrase(locale, 'unanswered.empty')));
  for (const group of report.groups.slice(from, from + PAGE_ROWS)) {
    const sent = group.answeredWith.map((a) => `${entryTitle(a.entryId)} (${a.count})`).join(', ');
    body.push({
      type: 'Container',
      separator: true,
      items: [
        textBlock(`**${phrase(locale, 'unanswered.group', { count: group.count })}** · ${literal(snippet(group.example, 80))}`),
        textBlock(sent ? phrase(locale, 'unanswered.sent', { entries: sent }) : phrase(locale, 'unanswered.notSent'), { isSubtle: true, spacing: 'None' }),
      ],
    });
  }
  const feedback = report.feedback.slice(from, from + PAGE_ROWS);
  if (feedback.length > 0 || from === 0) {
    body.push(textBlock(phrase(locale, 'unanswered.feedback'), { weight: 'Bolder', separator: true, spacing: 'Medium' }));
    if (feedback.length === 0) body.push(textBlock(phrase(locale, 'unanswered.noFeedback'), { isSubtle: true }));
    else body.push(factSet(feedback.map((f) => ({ title: entryTitle(f.entryId), value: `${f.helpful} / ${f.unhelpful}` }))));
  }
  const download = { type: 'Action.OpenUrl', title: phrase(locale, 'unanswered.csv'), url: csvUrl };
  return { kind: 'card', card: card(body, [download, ...moreActions(locale, 'unanswered', from + shown.length, left)], title), summary: title };
}

/** A slot id (`0930`) as staff read it (`09:30`). */
function slotTime(slotId: string): string {
  return /^\d{4}$/.test(slotId) ? `${slotId.slice(0, 2)}:${slotId.slice(2)}` : slotId;
}

/** A stored phone number (digits only) as staff dial it (`090-1234-5678`). */
function phoneText(phone: string): string {
  return /^\d{10,11}$/.test(phone) ? formatPhone(phone) : phone;
}

/** How a list of bookings is shown: which list it is (`target`, the date or session its "more" button asks for), its CSV, the invitations sent, the page. */
export interface BookingsView {
  target: string;
  /** A button downloads the list as the office's CSV. */
  csvUrl?: string;
  /** Booking id → when its day-before invitation went out (ms). */
  invited?: Map<string, number>;
  offset?: number;
}

/**
 * A day's or session's bookings with the contact details the office needs to send
 * invitations, `PAGE_BOOKINGS` from the view's offset, then a "more" button. Each row starts
 * with the booking's reference, which `cancel <reference>` takes. For staff eyes only: this
 * goes to Teams, never to a log.
 */
export function bookingsMessage(bookings: Booking[], what: string, locale: StaffLocale, view: BookingsView): Outgoing {
  if (bookings.length === 0) return { kind: 'text', text: phrase(locale, 'bookings.empty', { what }) };
  const { invited = new Map<string, number>() } = view;
  const title = phrase(locale, 'bookings.title', { what, count: bookings.length });
  const { shown, from, left } = pageOf(bookings, view.offset ?? 0, PAGE_BOOKINGS);
  const body: object[] = [textBlock(title, { size: 'Medium', weight: 'Bolder' }), ...pageLine(locale, from, shown.length, bookings.length)];
  for (const b of shown) {
    body.push({
      type: 'Container',
      separator: true,
      items: [
        textBlock(`**${slotTime(b.slotId)}** · ${b.sessionId} · ${b.id}`),
        factSet([
          { title: phrase(locale, 'bookings.name'), value: literal(b.contact.name) },
          { title: phrase(locale, 'bookings.phone'), value: phoneText(b.contact.phone) },
          { title: phrase(locale, 'bookings.email'), value: literal(b.contact.email) },
          { title: phrase(locale, 'bookings.mode'), value: codeText(locale, 'mode', b.mode) },
          ...(b.bookedBy ? [{ title: phrase(locale, 'bookings.bookedBy'), value: b.bookedBy.name }] : []),
          { title: phrase(locale, 'bookings.invitation'), value: invited.has(b.id) ? jst(new Date(invited.get(b.id)!).toISOString()) : phrase(locale, 'bookings.notInvited') },
        ]),
      ],
    });
  }
  body.push(textBlock(phrase(locale, 'bookings.cancelHint'), { isSubtle: true, spacing: 'Medium' }));
  const download = view.csvUrl ? [{ type: 'Action.OpenUrl', title: phrase(locale, 'bookings.csv'), url: view.csvUrl }] : [];
  return { kind: 'card', card: card(body, [...download, ...moreActions(locale, 'bookings', from + shown.length, left, view.target)], title), summary: title };
}

/** `stats`: one line per session, numbers only. */
export function statsMessage(rows: SessionStats[], locale: StaffLocale): Outgoing {
  const lines = rows.map((r) => `- ${r.date} · ${r.sessionId} · ${phrase(locale, 'stats.row', { ...r })}`);
  return { kind: 'text', text: [phrase(locale, 'stats.title'), ...lines].join('\n'), plain: true };
}

/** Record ids shown per audit line; a listing of a busy day names dozens of bookings. */
const MAX_AUDIT_RECORDS = 6;

/**
 * The `audit` answer: one compact line per entry (JST time, staff id, action, record ids,
 * the ids cut after `MAX_AUDIT_RECORDS`). Ids only, as the trail holds nothing else.
 */
export function auditMessage(entries: AuditEntry[], locale: StaffLocale): Outgoing {
  if (entries.length === 0) return { kind: 'text', text: phrase(locale, 'audit.empty') };
  const lines = entries.map((e) => {
    const shown = e.records.slice(0, MAX_AUDIT_RECORDS).join(', ');
    const more = e.records.length > MAX_AUDIT_RECORDS ? ` +${e.records.length - MAX_AUDIT_RECORDS}` : '';
    return `- ${jst(e.at)} · ${e.staff} · ${e.action}${shown ? ` · ${shown}${more}` : ''}`;
  });
  return { kind: 'text', text: [phrase(locale, 'audit.title', { count: entries.length }), ...lines].join('\n'), plain: true };
}

/**
 * The first step of `cancel <reference>`: the booking as staff must check it before it
 * goes (day, time, who, how), and a Confirm button that sends the reference back. Nothing
 * is cancelled until it is pressed. For staff eyes only, as the bookings list.
 */
export function cancelConfirmCard(found: { booking: Booking; session: Session }, locale: StaffLocale): Outgoing {
  const { booking: b, session } = found;
  const title = phrase(locale, 'cancel.confirmTitle', { reference: b.id });
  const body = [
    textBlock(title, { size: 'Medium', weight: 'Bolder' }),
    factSet([
      { title: phrase(locale, 'cancel.date'), value: session.date },
      { title: phrase(locale, 'cancel.time'), value: slotTime(b.slotId) },
      { title: phrase(locale, 'cancel.place'), value: session.place[locale] },
      { title: phrase(locale, 'bookings.name'), value: literal(b.contact.name) },
      { title: phrase(locale, 'bookings.phone'), value: phoneText(b.contact.phone) },
      { title: phrase(locale, 'bookings.mode'), value: codeText(locale, 'mode', b.mode) },
      ...(b.bookedBy ? [{ title: phrase(locale, 'bookings.bookedBy'), value: b.bookedBy.name }] : []),
    ]),
    textBlock(phrase(locale, 'cancel.notNotified'), { isSubtle: true }),
  ];
  return {
    kind: 'card',
    card: card(body, [submit(phrase(locale, 'cancel.confirm'), { staff: 'cancelBooking', reference: b.id }, 'destructive')], title),
    summary: title,
  };
}

/** The answer once a booking is cancelled: what went, and that its holder must be phoned. */
export function cancelledText(booking: Booking, agentName: string, locale: StaffLocale): string {
  return phrase(locale, 'cancel.done', {
    name: agentName,
    reference: booking.id,
    session: booking.sessionId,
    time: slotTime(booking.slotId),
    phone: phoneText(booking.contact.phone),
  });
}

/** Link buttons of a card reply: a page (`https:`) or a number to call (`tel:`); anything else is dropped. */
function linkRow(links: Link[] | undefined): object[] {
  const safe = (links ?? []).filter((l) => /^(https:|tel:)/i.test(l.uri));
  return safe.length > 0 ? [{ type: 'ActionSet', actions: safe.map((l) => ({ type: 'Action.OpenUrl', title: l.label, url: l.uri })) }] : [];
}

function buttonRows(choices: Choice[]): object[] {
  const rows: object[] = [];
  for (let i = 0; i < choices.length; i += BUTTONS_PER_ROW) {
    rows.push({ type: 'ActionSet', actions: choices.slice(i, i + BUTTONS_PER_ROW).map((c) => submit(c.label, { action: c.data })) });
  }
  return rows;
}

/**
 * Dialog replies → Teams messages, in order. Text without buttons stays text; text with
 * buttons becomes a card whose Action.Submit buttons send `{ action: <choice data> }`
 * back (read as an `action` input); a card reply becomes a card with a FactSet, its links
 * as Action.OpenUrl buttons (a page, or a number to call). A text too long for one message
 * goes before its card as text messages, the card keeping its last part. The cards' fallback
 * says only that the card needs a newer Teams: a dialog's words may be personal.
 */
export function renderReplies(replies: Reply[], locale: StaffLocale): Outgoing[] {
  const out: Outgoing[] = [];
  const fallback = phrase(locale, 'card.fallback');
  /** The text messages a long text needs before its card, and what the card shows. */
  const lead = (text: string | undefined): string | undefined => {
    if (!text || text.length <= TEXT_MAX) return text;
    const { parts } = splitText(text, TEXT_MAX, Infinity);
    for (const part of parts.slice(0, -1)) out.push({ kind: 'text', text: part });
    return parts.at(-1);
  };
  for (const reply of replies) {
    const choices = reply.choices ?? [];
    if (reply.kind === 'text') {
      if (choices.length === 0) {
        if (reply.text.length > 0) out.push(...fitted([{ kind: 'text', text: reply.text }]));
        continue;
      }
      const text = lead(reply.text);
      out.push({ kind: 'card', card: card([...(text ? [textBlock(text)] : []), ...buttonRows(choices)], undefined, fallback), summary: clip(reply.text, 100) });
      continue;
    }
    const text = lead(reply.text);
    const body = [
      textBlock(reply.title, { weight: 'Bolder' }),
      ...(reply.fields.length > 0 ? [factSet(reply.fields.map((f) => ({ title: f.label, value: f.value })))] : []),
      ...(text ? [textBlock(text)] : []),
      ...linkRow(reply.links),
      ...buttonRows(choices),
    ];
    out.push({ kind: 'card', card: card(body, undefined, fallback), summary: clip(reply.title, 100) });
  }
  return out;
}
