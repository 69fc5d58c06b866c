/**
 * Reaching a person. Asking for one opens a ticket and tells the citizen honestly what
 * happens next: inside office hours that staff will answer shortly, outside when they will.
 * Once staff claim the ticket the conversation becomes a relay: what the citizen writes
 * goes to staff and the bot says nothing of its own, until staff or the citizen end it.
 */
import { z } from 'zod';
import { type Locale, local, type Service, type TicketReason } from '../src/domain.ts';
import { splitText } from '../src/graphemes.ts';
import { isOfficeOpen, nextOfficeOpening } from '../src/services/calendar.ts';
import type { Input, Reply, TurnContext } from '../src/turn.ts';
import { choice, formatDate, say, withChoices } from './format.ts';
import { journeyOf } from './journeys.ts';
import { atMenu, menuChoices } from './menu.ts';
import type { ConversationState } from './state.ts';
import type { TurnResult } from './types.ts';

/** Talking with staff through the bot (a claimed ticket): its part of the stored state. */
export const handoffFlow = z.object({ name: z.literal('handoff'), ticketId: z.string() });

/**
 * A staff message goes out as at most this many texts, and the End button after them: LINE
 * takes five messages a call, so it all arrives in one.
 */
const STAFF_MESSAGE_PARTS = 4;
/**
 * The longest part of a staff message, in UTF-16 code units: LINE's 5,000 a text (the
 * tightest channel), less room for the label and the note before it (a test checks that
 * every language's label and note fit in that room).
 */
export const STAFF_PART_MAX = 4800;

/**
 * A staff message as the texts it goes out in, split between paragraphs or sentences, and
 * what did not fit in them (`rest`). The staff desk reads the same to tell staff.
 */
export function staffMessageParts(text: string): { parts: string[]; rest: string } {
  const { parts, rest } = splitText(text, STAFF_PART_MAX, STAFF_MESSAGE_PARTS);
  return { parts, rest };
}

/** Staff write in Japanese: a citizen who reads another language is told so (`easy` reads Japanese). */
function readsJapanese(locale: Locale): boolean {
  return locale === 'ja' || locale === 'easy';
}

/** The service the conversation is about, else the catalog's first (whose office answers). */
function serviceInContext(ctx: TurnContext, state: ConversationState): Service | undefined {
  const { catalog } = ctx.services;
  const { flow } = state;
  const id = journeyOf(flow)?.serviceId?.(flow);
  return catalog.services.find((s) => s.id === id) ?? catalog.services[0];
}

/** Where in the conversation the citizen was, without any of what they typed. */
function contextOf(state: ConversationState): string {
  const { flow } = state;
  return journeyOf(flow)?.step(flow) ?? flow.name;
}

/**
 * Reasons that hand the conversation to the service's office. Questions and urgent messages
 * go to the contact center (`inquiry.ts`); `not_understood` is only read, on tickets stored
 * before the bot asked the citizen's consent instead.
 */
type OfficeReason = Exclude<TicketReason, 'inquiry' | 'urgent' | 'not_understood'>;

const OPENING_LINE: Record<OfficeReason, string> = {
  requested: 'handoff.requested',
  screening_unsure: 'handoff.unsure',
};

/** Opens a ticket and returns what to tell the citizen. */
export async function openHandoff(ctx: TurnContext, state: ConversationState, reason: OfficeReason): Promise<Reply> {
  const service = serviceInContext(ctx, state);
  const ticket = await ctx.services.handoff.open(
    {
      userKey: ctx.caller.userKey,
      ...(ctx.caller.personKey ? { personKey: ctx.caller.personKey } : {}),
      channel: ctx.caller.channel,
      locale: state.locale,
      reason,
      priority: 'normal',
      category: service?.id ?? 'general',
      ...(service ? { serviceId: service.id } : {}),
      context: contextOf(state),
    },
    ctx.now,
  );
  const t = ctx.services.translator(state.locale);
  if ('limited' in ticket) {
    // Too many new tickets this hour: the office's phone (or the contact center's) instead.
    const phone = service ? { name: local(service.office.name, state.locale), phone: service.office.phone } : { name: local(ctx.services.knowledge.desk.name, state.locale), phone: ctx.services.knowledge.desk.phone };
    return say(t('limit.tickets', phone));
  }
  const lines = [t(OPENING_LINE[reason], { ticket: ticket.id })];
  if (service) {
    const { office } = service;
    if (isOfficeOpen(office.open, ctx.now)) {
      lines.push(t('handoff.soon'));
    } else {
      const next = nextOfficeOpening(office.open, ctx.now);
      lines.push(t('handoff.later', { next: `${formatDate(next.toISODate()!, state.locale, t)} ${next.toFormat('H:mm')}` }));
    }
    lines.push(t('handoff.phone', { office: local(office.name, state.locale), phone: office.phone, hours: local(office.hours, state.locale) }));
  }
  return say(lines.join('\n'));
}

/** Something staff did: joined, wrote, or ended the conversation. */
export async function onStaffEvent(ctx: TurnContext, state: ConversationState, input: Exclude<Extract<Input, { kind: 'staff' }>, { event: 'answer' }>): Promise<TurnResult> {
  const t = ctx.services.translator(state.locale);
  const end = choice(t('handoff.endButton'), { a: 'endChat' });
  switch (input.event) {
    case 'claimed': {
      // The relay replaces whatever the citizen was doing: a slot they held goes back now.
      const { flow } = state;
      await journeyOf(flow)?.release?.(ctx, flow);
      return { replies: [say(t('handoff.joined'), [end])], state: { ...state, flow: { name: 'handoff', ticketId: input.ticketId } } };
    }
    case 'message': {
      // The words as texts of their own, labelled with their place when there are several, so
      // that a channel shows them whole and as written (LINE links addresses and numbers in a
      // text, not in a card); the End button comes after them.
      const { parts } = staffMessageParts(input.text ?? '');
      const texts = parts.length > 1 ? parts.map((text, i) => t('handoff.staffSaysPart', { part: i + 1, parts: parts.length, text })) : [t('handoff.staffSays', { text: parts[0] ?? '' })];
      if (!readsJapanese(state.locale)) texts[0] = `${t('handoff.staffWroteJapanese')}\n${texts[0]}`;
      return { replies: [...texts.map((text) => say(text)), say('', [end])], state };
    }
    case 'closed': {
      const inThisHandoff = state.flow.name === 'handoff' && state.flow.ticketId === input.ticketId;
      // Closed without anyone joining: the citizen was told someone would answer, so say it ended.
      if (!inThisHandoff) return { replies: [say(t('handoff.closedUnanswered', { ticket: input.ticketId }))], state };
      return { replies: withChoices([say(t('handoff.ended'))], menuChoices(t)), state: atMenu(state) };
    }
  }
}

/** The citizen ends the conversation with staff. */
export async function endHandoff(ctx: TurnContext, state: ConversationState, ticketId: string): Promise<TurnResult> {
  await ctx.services.handoff.end(ticketId, ctx.now);
  const t = ctx.services.translator(state.locale);
  return { replies: withChoices([say(t('handoff.ended'))], menuChoices(t)), state: atMenu(state) };
}

/**
 * While staff hold the ticket: relay the citizen's words and stay silent, unless the words
 * could not reach staff, which the citizen must then hear, with a phone number to call.
 */
export async function relayToStaff(ctx: TurnContext, state: ConversationState, ticketId: string, text: string): Promise<TurnResult> {
  if (await ctx.services.handoff.relay(ticketId, text)) return { replies: [], state };
  const t = ctx.services.translator(state.locale);
  const office = serviceInContext(ctx, state)?.office;
  const lines = [t('handoff.relayFailed')];
  if (office) lines.push(t('handoff.phone', { office: local(office.name, state.locale), phone: office.phone, hours: local(office.hours, state.locale) }));
  return { replies: [say(lines.join('\n'), [choice(t('handoff.endButton'), { a: 'endChat' })])], state };
}
