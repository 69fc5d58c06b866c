/**
 * What the bot shows in Teams, as plain data: Adaptive Cards (ticket cards, lists) and the
 * channel-neutral dialog replies rendered for Teams. No SDK types here, so the cards
 * survive a move from botbuilder to another Teams SDK unchanged.
 */
import { DateTime } from 'luxon';
import { type Booking, formatPhone, type Locale, type Session, type Ticket, ZONE } from '../../domain.ts';
import type { Choice, Reply } from '../../turn.ts';
import { phrase, phraseIfAny } from './text.ts';


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
  msteams?: { width: 'Full' };
}

/** One message to send: text, or a card with a short summary for notifications. */
export type Outgoing =
  /** `plain` when the text is someone's own words (the citizen's), so Teams renders no markup in it. */
  | { kind: 'text'; text: string; plain?: boolean }
  | { kind: 'card'; card: AdaptiveCard; summary: string };

/** A staff card button's payload (Action.Submit `data`); validated again when it comes back. */
export type StaffSubmit = { staff: 'claim' | 'close'; ticketId: string } | { staff: 'cancelBooking'; reference: string };

/** Teams renders cards up to schema 1.5 on every client; 1.4 keeps older mobile clients working. */
const VERSION = '1.4';
const SCHEMA = 'http://adaptivecards.io/schemas/adaptive-card.json';
/** Buttons per row: more get cut off on a phone. */
const BUTTONS_PER_ROW = 3;
/** Bookings listed in one card; Teams refuses cards much over 28 KB. */
const MAX_BOOKINGS = 40;

function card(body: object[], actions?: object[]): AdaptiveCard {
  return { type: 'AdaptiveCard', $schema: SCHEMA, version: VERSION, body, ...(actions?.length ? { actions } : {}), msteams: { width: 'Full' } };
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
export type DescribeStep = (step: string, locale: Locale) => string;

function codeText(locale: Locale, prefix: string, code: string): string {
  return phraseIfAny(locale, `${prefix}.${code}`) ?? code;
}

function statusText(ticket: Ticket, locale: Locale): string {
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

/**
 * The staff card of a ticket. It carries what staff need to triage (reason, category,
 * priority, language, what the citizen was doing, when) and nothing that identifies the
 * citizen: no name, phone or message text. Buttons follow the ticket's state: Claim and
 * Close while open, Close while claimed, none once closed.
 */
export function ticketCard(ticket: Ticket, locale: Locale, describeStep: DescribeStep): AdaptiveCard {
  const high = ticket.priority === 'high';
  const body = [
    textBlock(phrase(locale, 'card.title', { id: ticket.id }), { size: 'Medium', weight: 'Bolder', ...(high ? { color: 'Attention' } : {}) }),
    factSet([
      { title: phrase(locale, 'card.reason'), value: codeText(locale, 'reason', ticket.reason) },
      { title: phrase(locale, 'card.category'), value: ticket.category },
      { title: phrase(locale, 'card.priority'), value: codeText(locale, 'priority', ticket.priority) },
      { title: phrase(locale, 'card.language'), value: codeText(locale, 'language', ticket.locale) },
      { title: phrase(locale, 'card.summary'), value: describeStep(ticket.context, locale) },
      { title: phrase(locale, 'card.created'), value: jst(ticket.createdAt) },
      { title: phrase(locale, 'card.status'), value: statusText(ticket, locale) },
    ]),
  ];
  const actions =
    ticket.status === 'open'
      ? [submit(phrase(locale, 'card.claim'), { staff: 'claim', ticketId: ticket.id }, 'positive'), submit(phrase(locale, 'card.close'), { staff: 'close', ticketId: ticket.id })]
      : ticket.status === 'claimed'
        ? [submit(phrase(locale, 'card.close'), { staff: 'close', ticketId: ticket.id })]
        : [];
  return card(body, actions);
}

/** The notification line of a ticket card (shown in the activity feed; no personal data). */
export function ticketSummary(ticket: Ticket, locale: Locale): string {
  return `${phrase(locale, 'card.title', { id: ticket.id })}: ${codeText(locale, 'reason', ticket.reason)} (${codeText(locale, 'priority', ticket.priority)})`;
}

function age(fromIso: string, nowMs: number, locale: Locale): string {
  const minutes = Math.max(0, Math.floor((nowMs - Date.parse(fromIso)) / 60_000));
  if (!Number.isFinite(minutes)) return '-';
  if (minutes < 60) return phrase(locale, 'age.minutes', { n: minutes });
  if (minutes < 48 * 60) return phrase(locale, 'age.hours', { n: Math.floor(minutes / 60) });
  return phrase(locale, 'age.days', { n: Math.floor(minutes / 1440) });
}

/** The `queue` answer: one line per ticket, oldest first. */
export function queueMessage(tickets: Ticket[], nowMs: number, locale: Locale): Outgoing {
  if (tickets.length === 0) return { kind: 'text', text: phrase(locale, 'queue.empty') };
  const title = phrase(locale, 'queue.title', { count: tickets.length });
  const lines = tickets.map((t) =>
    [
      `**${t.id}**`,
      codeText(locale, 'reason', t.reason),
      codeText(locale, 'priority', t.priority),
      age(t.createdAt, nowMs, locale),
      t.status === 'claimed' ? phrase(locale, 'queue.claimedBy', { name: t.claimedBy?.name ?? '-' }) : phrase(locale, 'queue.waiting'),
    ].join(' · '),
  );
  return { kind: 'card', card: card([textBlock(title, { weight: 'Bolder' }), ...lines.map((l) => textBlock(l, { spacing: 'Small' }))]), summary: title };
}

/** A slot id (`0930`) as staff read it (`09:30`). */
function slotTime(slotId: string): string {
  return /^\d{4}$/.test(slotId) ? `${slotId.slice(0, 2)}:${slotId.slice(2)}` : slotId;
}

/** A stored phone number (digits only) as staff dial it (`090-1234-5678`). */
function phoneText(phone: string): string {
  return /^\d{10,11}$/.test(phone) ? formatPhone(phone) : phone;
}

/**
 * A list of bookings with the contact details the office needs to send invitations.
 * Each row starts with the booking's reference, which `cancel <reference>` takes.
 * For staff eyes only: this goes to Teams, never to a log.
 */
export function bookingsMessage(bookings: Booking[], what: string, locale: Locale): Outgoing {
  if (bookings.length === 0) return { kind: 'text', text: phrase(locale, 'bookings.empty', { what }) };
  const title = phrase(locale, 'bookings.title', { what, count: bookings.length });
  const body: object[] = [textBlock(title, { size: 'Medium', weight: 'Bolder' })];
  for (const b of bookings.slice(0, MAX_BOOKINGS)) {
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
        ]),
      ],
    });
  }
  if (bookings.length > MAX_BOOKINGS) body.push(textBlock(phrase(locale, 'bookings.more', { n: bookings.length - MAX_BOOKINGS }), { isSubtle: true }));
  body.push(textBlock(phrase(locale, 'bookings.cancelHint'), { isSubtle: true, spacing: 'Medium' }));
  return { kind: 'card', card: card(body), summary: title };
}

/**
 * The first step of `cancel <reference>`: the booking as staff must check it before it
 * goes (day, time, who, how), and a Confirm button that sends the reference back. Nothing
 * is cancelled until it is pressed. For staff eyes only, as the bookings list.
 */
export function cancelConfirmCard(found: { booking: Booking; session: Session }, locale: Locale): Outgoing {
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
    card: card(body, [submit(phrase(locale, 'cancel.confirm'), { staff: 'cancelBooking', reference: b.id }, 'destructive')]),
    summary: title,
  };
}

/** The answer once a booking is cancelled: what went, and that its holder must be phoned. */
export function cancelledText(booking: Booking, agentName: string, locale: Locale): string {
  return phrase(locale, 'cancel.done', {
    name: agentName,
    reference: booking.id,
    session: booking.sessionId,
    time: slotTime(booking.slotId),
    phone: phoneText(booking.contact.phone),
  });
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
 * back (read as an `action` input); a card reply becomes a card with a FactSet.
 */
export function renderReplies(replies: Reply[]): Outgoing[] {
  const out: Outgoing[] = [];
  for (const reply of replies) {
    const choices = reply.choices ?? [];
    if (reply.kind === 'text') {
      if (choices.length === 0) {
        if (reply.text.length > 0) out.push({ kind: 'text', text: reply.text });
        continue;
      }
      out.push({ kind: 'card', card: card([...(reply.text ? [textBlock(reply.text)] : []), ...buttonRows(choices)]), summary: reply.text.slice(0, 100) });
      continue;
    }
    const body = [
      textBlock(reply.title, { weight: 'Bolder' }),
      factSet(reply.fields.map((f) => ({ title: f.label, value: f.value }))),
      ...(reply.text ? [textBlock(reply.text)] : []),
      ...buttonRows(choices),
    ];
    out.push({ kind: 'card', card: card(body), summary: reply.title.slice(0, 100) });
  }
  return out;
}
