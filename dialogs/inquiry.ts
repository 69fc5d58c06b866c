/**
 * Questions, typed anywhere. The conversation stays where it was (a booking keeps its held
 * slot) and the answer comes with a way back to it:
 *
 *   question → answer card (link, phone, "helpful?", related questions)
 *            → or "did you mean…" (at most three entries, and "none of these")
 *            → or "I don't know" → "may I pass this to staff?" → inquiry ticket
 *
 * Urgent messages come before all of it, in every state: the emergency numbers at once and
 * a high-priority ticket, then the same consent question for the message itself.
 * The question in hand lives in the state's `inquiry` until the citizen says yes or no.
 * The journey the citizen is in comes from the caller (`index.ts`), not from the registry,
 * which lists this module itself.
 */
import { z } from 'zod';
import { local } from '../src/domain.ts';
import { clip } from '../src/graphemes.ts';
import { isOfficeOpen, nextOfficeOpening } from '../src/services/calendar.ts';
import type { FaqMatch } from '../src/services/faq.ts';
import type { KnowledgeEntry } from '../src/services/knowledge.ts';
import type { UrgentCategory } from '../src/services/urgent.ts';
import type { Choice, Reply, Translate, TurnContext } from '../src/turn.ts';
import { type Action, id } from './actions.ts';
import { choice, formatDate, say, withChoices } from './format.ts';
import { askMenu, atMenu } from './menu.ts';
import type { ConversationState } from './state.ts';
import type { Journey, TurnResult } from './types.ts';

/** "Ask a question" from the menu: the next message is the question. */
const inquiryFlow = z.object({ name: z.literal('inquiry') });
type InquiryFlow = z.infer<typeof inquiryFlow>;

const entryId = z.string().regex(/^[a-z0-9-]{1,64}$/);

const inquiryActions = [
  z.object({ a: z.literal('ask') }),
  /** Show this knowledge-base entry (a "did you mean" choice or a related question). */
  z.object({ a: z.literal('kb'), e: entryId }),
  z.object({ a: z.literal('kbNone') }),
  /** May staff read the question? */
  /** May staff read the question? `q` names the question the button was shown for. */
  z.object({ a: z.literal('consent'), v: z.boolean(), q: z.string().regex(/^[0-9a-z]{1,8}$/) }),
  /** Was the answer helpful? */
  z.object({ a: z.literal('fb'), e: entryId, v: z.boolean() }),
  /** Back to the step the question interrupted. */
  z.object({ a: z.literal('resume') }),
] as const;
type InquiryAction = z.infer<(typeof inquiryActions)[number]>;

/**
 * Below this many characters, text that matches nothing and asks nothing ("asdf", "ok") is
 * not worth a person's time: the citizen is asked to use the buttons instead.
 */
const MIN_STATEMENT = 6;

/** How much of the message the consent question quotes. */
const QUOTED_MAX = 200;

/** Where a question was typed: at the menu (or "ask a question"), at a step with buttons, or into a text field. */
export type Where = 'open' | 'step' | 'field';

/** Questions, as the registry sees them (the menu's "ask a question"). */
export const inquiry: Journey<InquiryFlow, InquiryAction> = {
  name: 'inquiry',
  flow: inquiryFlow,
  actions: inquiryActions,
  entry: { label: 'menu.ask', action: { a: 'ask' }, keywords: 'keywords.ask' },
  staffLabels: { inquiry: 'inquiry.staff' },
  start: async (ctx, state) => {
    const next: ConversationState = { ...state, flow: { name: 'inquiry' } };
    return { replies: await inquiry.ask(ctx, next, { name: 'inquiry' }), state: next };
  },
  ask: async (ctx, state) => {
    const t = ctx.services.translator(state.locale);
    return [say(t('inquiry.prompt'), [choice(t('common.menu'), { a: 'menu' })])];
  },
  handle: async (ctx, state, _flow, { text }) => (text !== undefined ? answerQuestion(ctx, atMenu(state), text, 'open', undefined) : undefined),
  back: () => undefined,
  step: () => 'inquiry',
  expectsText: () => true,
};

/** True for the buttons this module answers in any state. */
export function isInquiryAction(action: Action): action is Exclude<InquiryAction, { a: 'ask' }> {
  return ['kb', 'kbNone', 'consent', 'fb', 'resume'].includes(action.a);
}

/**
 * Answers a typed question. At a step with buttons, text that matches nothing and does not
 * read as a question is left to the step (undefined): "12/8" is a date typed, not a question.
 */
export async function answerQuestion(ctx: TurnContext, state: ConversationState, text: string, where: Where, current?: Journey): Promise<TurnResult | undefined> {
  const { knowledge } = ctx.services;
  const result = knowledge.match(text);
  const t = translate(ctx, state);
  const held: ConversationState = { ...state, inquiry: { q: text.slice(0, 1000) } };
  const asks = knowledge.looksLikeQuestion(text);
  const short = text.trim().length < MIN_STATEMENT && !asks;
  // At a step, words that are no button and ask nothing ("um", "the 8th suits me") are a try
  // at the step: only a confident answer interrupts it, never a guess.
  if (where === 'step' && !asks && (short || result.band !== 'answer')) return undefined;
  if (result.band === 'answer') return withWayBack(ctx, held, answerReplies(ctx, state, result.best.entry, result.related), where, current);
  if (result.band === 'suggest') {
    const offers = result.offers.map((m) => choice(title(m, state), { a: 'kb', e: m.entry.id }));
    return withWayBack(ctx, held, [say(t('inquiry.didYouMean'), [...offers, choice(t('inquiry.none'), { a: 'kbNone' })])], where, current);
  }
  if (!result.elsewhere && short) return undefined;
  const intro = say(t(result.elsewhere ? 'inquiry.elsewhere' : 'inquiry.unknown'));
  return withWayBack(ctx, held, [intro, consentQuestion(t, text)], where, current);
}

/** Runs a button of this module: an entry chosen, none of them, consent, feedback, or back to the step. */
export async function onInquiryAction(
  ctx: TurnContext,
  state: ConversationState,
  action: Exclude<InquiryAction, { a: 'ask' }>,
  current: Journey | undefined,
): Promise<TurnResult> {
  const t = translate(ctx, state);
  const { knowledge } = ctx.services;
  switch (action.a) {
    case 'kb': {
      const entry = knowledge.entry(action.e);
      if (!entry) return withWayBack(ctx, state, [say(t('stale'))], 'step', current);
      return withWayBack(ctx, state, answerReplies(ctx, state, entry, []), 'step', current);
    }
    case 'kbNone':
      return withWayBack(ctx, state, [say(t('inquiry.unknown')), state.inquiry ? consentQuestion(t, state.inquiry.q) : humanOffer(t)], 'step', current);
    case 'fb': {
      await knowledge.feedback(action.e, action.v);
      if (action.v) return withWayBack(ctx, withoutQuestion(state), [say(t('inquiry.thanks'))], 'step', current);
      return withWayBack(ctx, state, [say(t('inquiry.sorry')), state.inquiry ? consentQuestion(t, state.inquiry.q) : humanOffer(t)], 'step', current);
    }
    case 'consent':
      // A yes counts only for the message it was asked about, not for one typed since.
      if (!state.inquiry || action.q !== fingerprint(state.inquiry.q)) return withWayBack(ctx, state, [say(t('stale'))], 'step', current);
      return action.v ? passToStaff(ctx, state, current) : declined(ctx, state, current);
    case 'resume':
      return { replies: await resumeStep(ctx, state, current), state };
  }
}

/**
 * An urgent message: the numbers first, then a high-priority ticket (without the message:
 * that needs the citizen's yes, asked next). The conversation stays where it was.
 */
export async function urgentReply(ctx: TurnContext, state: ConversationState, category: UrgentCategory, text: string, current: Journey | undefined): Promise<TurnResult> {
  const t = translate(ctx, state);
  const opened = await ctx.services.handoff.open(
    {
      userKey: ctx.caller.userKey,
      channel: ctx.caller.channel,
      locale: state.locale,
      reason: 'urgent',
      priority: 'high',
      desk: 'contact_center',
      category: 'urgent',
      urgent: category,
      context: stepOf(state, current),
    },
    ctx.now,
  );
  // A request already waiting (one per citizen) is raised to urgent rather than left behind.
  const ticket = opened.priority === 'high' ? opened : await ctx.services.handoff.escalate(opened.id, category);
  const held: ConversationState = { ...state, inquiry: { q: text.slice(0, 1000), ticket: ticket.id } };
  const replies = [say(t(`urgent.${category}`)), say(t('urgent.filed', { ticket: ticket.id })), consentQuestion(t, text)];
  return withWayBack(ctx, held, replies, 'step', current);
}

/** After messages the bot could not place: offers to pass the last one to staff, who will read it. */
export function offerToPass(ctx: TurnContext, state: ConversationState, text: string, current: Journey | undefined): Promise<TurnResult> {
  const t = translate(ctx, state);
  return withWayBack(ctx, { ...state, inquiry: { q: text.slice(0, 1000) } }, [say(t('inquiry.notUnderstood')), consentQuestion(t, text)], 'step', current);
}

/** The emergency numbers alone, for a citizen already talking with staff (who read the message as it is relayed). */
export function urgentNumbers(ctx: TurnContext, state: ConversationState, category: UrgentCategory): Reply {
  return say(translate(ctx, state)(`urgent.${category}`));
}

/** What the citizen sees when an agent sends a knowledge-base answer from Teams. */
export function staffAnswer(ctx: TurnContext, state: ConversationState, entryId: string): Reply[] {
  const entry = ctx.services.knowledge.entry(entryId);
  const t = translate(ctx, state);
  if (!entry) return [];
  return [say(t('inquiry.fromStaff')), ...answerReplies(ctx, state, entry, [])];
}

// ---- the pieces -----------------------------------------------------------------------

/** The answer card: title, the short answer, the phone with its hours, the link and a tap to call; then "helpful?". */
function answerReplies(ctx: TurnContext, state: ConversationState, entry: KnowledgeEntry, related: FaqMatch[]): Reply[] {
  const t = translate(ctx, state);
  const { locale } = state;
  const links = [
    ...(entry.link ? [{ label: t('inquiry.openLink'), uri: entry.link }] : []),
    ...(entry.phone ? [{ label: t('inquiry.call', { phone: entry.phone.number }), uri: `tel:${entry.phone.number.replace(/-/g, '')}` }] : []),
  ];
  // The phone as a field, unless the answer already says it.
  const phone = entry.phone && !local(entry.answer, locale).includes(entry.phone.number) ? entry.phone : undefined;
  const fields = phone ? [{ label: t('inquiry.phoneField'), value: `${phone.number} (${local(phone.hours, locale)})` }] : [];
  const card: Reply = { kind: 'card', title: local(entry.title, locale), text: local(entry.answer, locale), fields, ...(links.length > 0 ? { links } : {}) };
  const choices: Choice[] = [
    choice(t('inquiry.helpful'), { a: 'fb', e: entry.id, v: true }),
    choice(t('inquiry.notHelpful'), { a: 'fb', e: entry.id, v: false }),
    ...related.map((m) => choice(title(m, state), { a: 'kb', e: m.entry.id })),
    choice(t('menu.human'), { a: 'human' }),
  ];
  return [{ ...card, choices }];
}

/**
 * May staff read the message? It is quoted, so the citizen sees what would be sent; the
 * notification and chat list show the question only (`alt`), never the citizen's words.
 */
function consentQuestion(t: Translate, question: string): Reply {
  const q = fingerprint(question);
  const prompt = t('inquiry.consentPrompt');
  const text = `${prompt}\n\n${t('inquiry.quoted', { text: clip(question.trim(), QUOTED_MAX) })}`;
  return { ...say(text, [choice(t('inquiry.consentYes'), { a: 'consent', v: true, q }), choice(t('inquiry.consentNo'), { a: 'consent', v: false, q })]), alt: prompt };
}

/** A short fingerprint of a question (FNV-1a), so that a consent button names what it consents to without carrying it. */
function fingerprint(question: string): string {
  let hash = 0x811c9dc5;
  for (const unit of question.slice(0, 1000)) {
    hash ^= unit.codePointAt(0)!;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash.toString(36);
}

function humanOffer(t: Translate): Reply {
  return say(t('inquiry.humanOffer'), [choice(t('menu.human'), { a: 'human' })]);
}

/** With the citizen's yes: the question goes to the contact center as a ticket (or onto the urgent one). */
async function passToStaff(ctx: TurnContext, state: ConversationState, current: Journey | undefined): Promise<TurnResult> {
  const t = translate(ctx, state);
  const question = state.inquiry;
  if (!question) return withWayBack(ctx, state, [say(t('stale'))], 'step', current);
  const { knowledge, handoff } = ctx.services;
  const nearest = knowledge.match(question.q).nearest;
  const suggestions = nearest.map((m) => m.entry.id);
  let ticketId = question.ticket;
  if (ticketId) {
    await handoff.attachQuestion(ticketId, question.q, suggestions);
  } else {
    const ticket = await handoff.open(
      {
        userKey: ctx.caller.userKey,
        ...(ctx.caller.personKey ? { personKey: ctx.caller.personKey } : {}),
        channel: ctx.caller.channel,
        locale: state.locale,
        reason: 'inquiry',
        priority: 'normal',
        desk: 'contact_center',
        category: nearest[0]?.entry.category ?? 'general',
        question: question.q,
        ...(suggestions.length > 0 ? { suggestions } : {}),
        context: stepOf(state, current),
      },
      ctx.now,
    );
    // Too many new tickets this hour: the question stays with the citizen, who is given the phone.
    if ('limited' in ticket) return withWayBack(ctx, withoutQuestion(state), [say(t('limit.tickets', { name: local(knowledge.desk.name, state.locale), phone: knowledge.desk.phone }))], 'step', current);
    // The citizen already had a request waiting: the question joins it.
    if (ticket.question === undefined) await handoff.attachQuestion(ticket.id, question.q, suggestions);
    ticketId = ticket.id;
  }
  const { desk } = knowledge;
  const { locale } = state;
  const when = isOfficeOpen(desk.open, ctx.now)
    ? t('inquiry.soon')
    : t('inquiry.later', { next: `${formatDate(nextOfficeOpening(desk.open, ctx.now).toISODate()!, locale, t)} ${desk.open.from.replace(/^0/, '')}` });
  const lines = [t('inquiry.sent', { ticket: ticketId }), when, t('inquiry.deskPhone', { name: local(desk.name, locale), phone: desk.phone, hours: local(desk.hours, locale) })];
  return withWayBack(ctx, withoutQuestion(state), [say(lines.join('\n'))], 'step', current);
}

async function declined(ctx: TurnContext, state: ConversationState, current: Journey | undefined): Promise<TurnResult> {
  const t = translate(ctx, state);
  const { desk } = ctx.services.knowledge;
  const { locale } = state;
  const text = [t('inquiry.notSent'), t('inquiry.deskPhone', { name: local(desk.name, locale), phone: desk.phone, hours: local(desk.hours, locale) })].join('\n');
  return withWayBack(ctx, withoutQuestion(state), [say(text)], 'step', current);
}

/**
 * Adds the way back: in a journey, "back to where you were" (or, in a text field, its
 * question again, since the next message answers it); at the menu, the menu.
 */
async function withWayBack(ctx: TurnContext, state: ConversationState, replies: Reply[], where: Where, journey: Journey | undefined): Promise<TurnResult> {
  const t = translate(ctx, state);
  if (!journey || journey === inquiry) {
    // At the menu one "menu" button is the way back: the whole menu would bury the answer's own buttons.
    const next = state.flow.name === 'inquiry' ? atMenu(state) : state;
    return { replies: withChoices(replies, [choice(t('common.menu'), { a: 'menu' })]), state: next };
  }
  if (where === 'field') return { replies: [...replies, ...(await resumeStep(ctx, state, journey))], state };
  const last = replies.at(-1)!;
  const resume = choice(t(`inquiry.resume.${journey.name}`), { a: 'resume' });
  return { replies: [...replies.slice(0, -1), { ...last, choices: [...(last.choices ?? []), resume] }], state };
}

async function resumeStep(ctx: TurnContext, state: ConversationState, journey: Journey | undefined): Promise<Reply[]> {
  if (!journey || journey === inquiry) return askMenu(translate(ctx, state));
  return journey.ask(ctx, state, state.flow);
}

function withoutQuestion(state: ConversationState): ConversationState {
  const { inquiry: _done, ...rest } = state;
  return rest;
}

function stepOf(state: ConversationState, journey: Journey | undefined): string {
  return journey?.step(state.flow) ?? state.flow.name;
}

function title(m: FaqMatch, state: ConversationState): string {
  return local(m.entry.title, state.locale);
}

function translate(ctx: TurnContext, state: ConversationState): Translate {
  return ctx.services.translator(state.locale);
}
