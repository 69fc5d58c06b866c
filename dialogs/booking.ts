/**
 * Booking a consultation, in the order the conversation goes:
 *
 *   service → mode → screening questions → date → time (the slot is held)
 *   → precautions (explicit agreement) → name → phone → email → summary → booked
 *
 * That order is `BOOKING_STEPS`; `STEPS` gives each step its `ask` (what the bot says on
 * arriving there) and its `handle` (what the citizen's answer does). Back walks the same
 * order backwards, so a step says only how going back differs for it.
 */
import { DateTime } from 'luxon';
import { z } from 'zod';
import { formatPhone, local, type Precaution, type ScreeningQuestion, type Service, ZONE } from '../src/domain.ts';
import { bookingWindow } from '../src/services/calendar.ts';
import { serviceById, sessionById, sessionsOf } from '../src/services/catalog.ts';
import type { BookingFailure, SlotOffer } from '../src/services/ports.ts';
import type { Choice, Reply, Translate, TurnContext } from '../src/turn.ts';
import { id } from './actions.ts';
import { type ContactField, validateField } from './contact.ts';
import { choice, formatDate, numbered, say, slotIdToTime, timeChoice, withChoices } from './format.ts';
import { openHandoff } from './handoff.ts';
import { atMenu, menuChoices } from './menu.ts';
import type { ConversationState } from './state.ts';
import { type Journey, type Message, StaleStateError, type TurnResult } from './types.ts';

/** Steps of the booking dialog, in conversation order: the one place that order is written. */
const BOOKING_STEPS = ['service', 'mode', 'screening', 'date', 'time', 'precautions', 'name', 'phone', 'email', 'summary'] as const;
type BookingStep = (typeof BOOKING_STEPS)[number];

const bookingFlow = z.object({
  name: z.literal('booking'),
  step: z.enum(BOOKING_STEPS),
  serviceId: z.string().optional(),
  mode: z.enum(['in_person', 'online']).optional(),
  /** Index of the current screening question among those that apply to the mode. */
  question: z.number().int().min(0).optional(),
  sessionId: z.string().optional(),
  slotId: z.string().optional(),
  /** When the citizen agreed to the precautions (ISO), recorded with the booking. */
  agreedAt: z.string().optional(),
  contact: z.object({ name: z.string().optional(), phone: z.string().optional(), email: z.string().optional() }),
  /** Set while one field is re-entered from the summary: go back to the summary after it. */
  editing: z.boolean().optional(),
});

/** The booking's part of the stored state. */
type BookingFlow = z.infer<typeof bookingFlow>;

const bookingActions = [
  z.object({ a: z.literal('book') }),
  z.object({ a: z.literal('service'), v: id }),
  z.object({ a: z.literal('mode'), v: z.enum(['in_person', 'online']) }),
  z.object({ a: z.literal('answer'), v: z.enum(['yes', 'no', 'unsure']) }),
  z.object({ a: z.literal('date'), v: id }),
  z.object({ a: z.literal('waitJoin'), s: id }),
  z.object({ a: z.literal('time'), s: id, v: z.string().regex(/^\d{4}$/) }),
  z.object({ a: z.literal('agree'), v: z.boolean() }),
  z.object({ a: z.literal('confirm') }),
  z.object({ a: z.literal('edit'), v: z.enum(['name', 'phone', 'email', 'slot']) }),
] as const;

/** A button of the booking dialog. */
type BookingAction = z.infer<(typeof bookingActions)[number]>;

/** Alternatives offered when the held slot was lost. */
const NEAREST_OFFERS = 5;

type Ctx = TurnContext;
type Flow = BookingFlow;

// ---- entry and navigation -------------------------------------------------------------

/** Whose hold a slot is under: the person (one address of the web chat), else the user. */
export function holdKeyOf(ctx: Pick<Ctx, 'caller'>): string {
  return ctx.caller.personKey ?? ctx.caller.userKey;
}

/** Starts a booking at the first step. */
function startBooking(ctx: Ctx, state: ConversationState): Promise<TurnResult> {
  const services = ctx.services.catalog.services;
  const only = services.length === 1 ? services[0] : undefined;
  // One service: the first question is already answered, so skip it rather than ask.
  const flow: Flow = only ? { name: 'booking', step: 'mode', serviceId: only.id, contact: {} } : { name: 'booking', step: 'service', contact: {} };
  return goTo(ctx, state, flow);
}

/** Moves to `flow` and asks its question, after `before`. */
async function goTo(ctx: Ctx, state: ConversationState, flow: Flow, before: Reply[] = []): Promise<TurnResult> {
  const next: ConversationState = { ...state, flow };
  return { replies: [...before, ...(await askBooking(ctx, next, flow))], state: next };
}

/** Ends the booking, back at the menu. */
function endAtMenu(ctx: Ctx, state: ConversationState, replies: Reply[]): TurnResult {
  const t = translate(ctx, state);
  return { replies: withChoices(replies, menuChoices(t)), state: atMenu(state) };
}

/** How a step asks, and what an answer there does. */
interface BookingStepDef {
  ask(ctx: Ctx, state: ConversationState, flow: Flow, t: Translate): Reply[] | Promise<Reply[]>;
  handle(ctx: Ctx, state: ConversationState, flow: Flow, message: Message): Promise<TurnResult | undefined> | undefined;
  /** True when typing is the answer (contact details). */
  expectsText?: boolean;
  /** Passed over on the way back (the service step while the catalog has one service). */
  skippedBack?(ctx: Ctx): boolean;
  /** Going back inside the step (to the previous screening question), before leaving it. */
  backWithin?(ctx: Ctx, flow: Flow): Flow | undefined;
  /** Arriving here by going back from the next step (at its last screening question). */
  arriveBack?(ctx: Ctx, flow: Flow): Flow;
}

function askContact(field: ContactField, t: Translate): Reply[] {
  return [say(t(`booking.${field}Prompt`), [choice(t('common.back'), { a: 'back' })])];
}

/** A contact field's step: the typed text is the answer. */
function contactStep(field: ContactField): BookingStepDef {
  return {
    ask: (_ctx, _state, _flow, t) => askContact(field, t),
    handle: (ctx, state, flow, { text }) => (text !== undefined ? onContact(ctx, state, flow, field, text) : undefined),
    expectsText: true,
  };
}

const STEPS: Record<BookingStep, BookingStepDef> = {
  service: {
    ask: (ctx, state, _flow, t) => askService(ctx, state, t),
    handle: (ctx, state, flow, { action }) => (action?.a === 'service' ? onService(ctx, state, flow, action.v) : undefined),
    skippedBack: (ctx) => ctx.services.catalog.services.length < 2,
  },
  mode: {
    ask: askMode,
    handle: (ctx, state, flow, { action }) => (action?.a === 'mode' ? onMode(ctx, state, flow, action.v) : undefined),
  },
  screening: {
    ask: askScreening,
    handle: (ctx, state, flow, { action }) => (action?.a === 'answer' ? onAnswer(ctx, state, flow, action.v) : undefined),
    backWithin: (_ctx, flow) => ((flow.question ?? 0) > 0 ? { ...flow, question: (flow.question ?? 0) - 1 } : undefined),
    arriveBack: (ctx, flow) => ({ ...flow, question: Math.max(0, questionsFor(serviceOf(ctx, flow), flow).length - 1) }),
  },
  date: {
    ask: (ctx, state, flow, t) => askDate(ctx, state, flow, t),
    handle: (ctx, state, flow, { action }) => {
      if (action?.a === 'waitJoin') return onWaitJoin(ctx, state, flow, action.s);
      return action?.a === 'date' ? onDate(ctx, state, flow, action.v) : undefined;
    },
  },
  time: {
    ask: askTime,
    handle: (ctx, state, flow, { action }) => {
      // A full session lists the other dates at the time step, so a date tap fits here too.
      if (action?.a === 'date') return onDate(ctx, state, flow, action.v);
      return action?.a === 'time' ? onTime(ctx, state, flow, action.s, action.v) : undefined;
    },
  },
  precautions: {
    ask: askPrecautions,
    handle: (ctx, state, flow, { action }) => (action?.a === 'agree' ? onAgree(ctx, state, flow, action.v) : undefined),
  },
  name: contactStep('name'),
  phone: contactStep('phone'),
  email: contactStep('email'),
  summary: {
    ask: askSummary,
    handle: (ctx, state, flow, { action }) => {
      if (action?.a === 'confirm') return onConfirm(ctx, state, flow);
      if (action?.a === 'edit') return onEdit(ctx, state, flow, action.v);
      return undefined;
    },
  },
};

/** The step before the current one, or undefined at the first. */
function backBooking(ctx: Ctx, state: ConversationState, flow: Flow): Promise<TurnResult> | undefined {
  if (flow.editing) return goTo(ctx, state, { ...flow, step: 'summary', editing: false });
  const within = STEPS[flow.step].backWithin?.(ctx, flow);
  if (within) return goTo(ctx, state, within);
  let index = BOOKING_STEPS.indexOf(flow.step) - 1;
  while (index >= 0 && STEPS[BOOKING_STEPS[index]!].skippedBack?.(ctx)) index--;
  const step = BOOKING_STEPS[index];
  if (!step) return undefined;
  const target: Flow = { ...flow, step };
  return goTo(ctx, state, STEPS[step].arriveBack?.(ctx, target) ?? target);
}

/** What the bot says on arriving at the current step. */
function askBooking(ctx: Ctx, state: ConversationState, flow: Flow): Promise<Reply[]> {
  return Promise.resolve(STEPS[flow.step].ask(ctx, state, flow, translate(ctx, state)));
}

/** Booking a consultation, as the registry sees it. */
export const booking: Journey<BookingFlow, BookingAction> = {
  name: 'booking',
  flow: bookingFlow,
  actions: bookingActions,
  entry: { label: 'menu.book', action: { a: 'book' }, keywords: 'keywords.book' },
  staffLabels: {
    booking: 'booking.staff.journey',
    service: 'booking.staff.service',
    mode: 'booking.staff.mode',
    screening: 'booking.staff.screening',
    date: 'booking.staff.date',
    time: 'booking.staff.time',
    precautions: 'booking.staff.precautions',
    name: 'booking.staff.contact',
    phone: 'booking.staff.contact',
    email: 'booking.staff.contact',
    summary: 'booking.staff.summary',
    in_person: 'booking.staff.in_person',
    online: 'booking.staff.online',
  },
  start: startBooking,
  ask: askBooking,
  handle: async (ctx, state, flow, message) => STEPS[flow.step].handle(ctx, state, flow, message),
  back: backBooking,
  step: (flow) => `booking:${flow.step}${flow.mode ? `:${flow.mode}` : ''}`,
  expectsText: (flow) => STEPS[flow.step].expectsText === true,
  // A hold must not outlive the booking that made it.
  release: async (ctx, flow) => {
    if (flow.sessionId) await ctx.services.bookings.releaseHold(flow.sessionId, holdKeyOf(ctx));
  },
  serviceId: (flow) => flow.serviceId,
};

// ---- service and mode -----------------------------------------------------------------

function askService(ctx: Ctx, state: ConversationState, t: Translate): Reply[] {
  const choices = ctx.services.catalog.services.map((s) => choice(local(s.name, state.locale), { a: 'service', v: s.id }));
  return [numbered(say(t('booking.servicePrompt'), [...choices, choice(t('common.menu'), { a: 'menu' })]))];
}

function onService(ctx: Ctx, state: ConversationState, flow: Flow, serviceId: string): Promise<TurnResult> | undefined {
  if (!serviceById(ctx.services.catalog, serviceId)) return undefined;
  return goTo(ctx, state, { ...flow, step: 'mode', serviceId });
}

function askMode(ctx: Ctx, state: ConversationState, flow: Flow, t: Translate): Reply[] {
  const service = serviceOf(ctx, flow);
  const intro = say(`${local(service.name, state.locale)}\n${local(service.description, state.locale)}`);
  const choices = service.modes.map((m) => choice(t(`booking.mode.${m}`), { a: 'mode', v: m }));
  return [intro, say(t('booking.modePrompt'), [...choices, choice(t('common.back'), { a: 'back' })])];
}

async function onMode(ctx: Ctx, state: ConversationState, flow: Flow, mode: Flow['mode'] & string): Promise<TurnResult | undefined> {
  if (!serviceOf(ctx, flow).modes.includes(mode)) return undefined;
  if (mode === flow.mode) return goTo(ctx, state, { ...flow, step: 'screening', question: 0 });
  // Another mode has other screening questions and precautions: agreement to the old ones
  // does not carry over, and neither does a held slot.
  if (flow.sessionId) await ctx.services.bookings.releaseHold(flow.sessionId, holdKeyOf(ctx));
  return goTo(ctx, state, { ...flow, step: 'screening', mode, question: 0, agreedAt: undefined, sessionId: undefined, slotId: undefined });
}

// ---- screening ------------------------------------------------------------------------

function questionsFor(service: Service, flow: Flow): ScreeningQuestion[] {
  return service.screening.filter((q) => flow.mode !== undefined && q.modes.includes(flow.mode));
}

function askScreening(ctx: Ctx, state: ConversationState, flow: Flow, t: Translate): Reply[] {
  const questions = questionsFor(serviceOf(ctx, flow), flow);
  const index = flow.question ?? 0;
  const question = questions[index];
  if (!question) return [];
  const answers = (['yes', 'no', 'unsure'] as const).map((v) => choice(t(`booking.answer.${v}`), { a: 'answer', v }));
  return [
    say(t('booking.screeningPrompt', { n: index + 1, total: questions.length, question: local(question.question, state.locale) }), [
      ...answers,
      choice(t('common.back'), { a: 'back' }),
    ]),
  ];
}

async function onAnswer(ctx: Ctx, state: ConversationState, flow: Flow, answer: 'yes' | 'no' | 'unsure'): Promise<TurnResult> {
  const service = serviceOf(ctx, flow);
  const questions = questionsFor(service, flow);
  const index = flow.question ?? 0;
  const question = questions[index];
  const t = translate(ctx, state);
  if (answer === 'unsure') {
    // Not being sure is never a refusal: a person decides.
    return endAtMenu(ctx, state, [await openHandoff(ctx, state, 'screening_unsure')]);
  }
  if (answer === 'no' && question) {
    return endAtMenu(ctx, state, [
      say(t('booking.screeningNo', { reason: local(question.noReason, state.locale) })),
      say(alternatives(service, state, t)),
    ]);
  }
  if (index + 1 < questions.length) return goTo(ctx, state, { ...flow, question: index + 1 });
  return goTo(ctx, state, { ...flow, step: 'date' });
}

/** The office and other places to turn to, one per line. */
function alternatives(service: Service, state: ConversationState, t: Translate): string {
  const line = (name: string, phone: string, hours: string) => t('booking.alternative', { name, phone, hours });
  return [
    t('booking.alternativesIntro'),
    line(local(service.office.name, state.locale), service.office.phone, local(service.office.hours, state.locale)),
    ...service.alternatives.map((a) => line(local(a.name, state.locale), a.phone, local(a.hours, state.locale))),
  ].join('\n');
}

// ---- date and time --------------------------------------------------------------------

/** The open dates; `afterFull` when the session just chosen turned out full (said first, unless all are). */
async function askDate(ctx: Ctx, state: ConversationState, flow: Flow, t: Translate, afterFull = false): Promise<Reply[]> {
  const service = serviceOf(ctx, flow);
  const sessions = await ctx.services.bookings.openSessions(service.id, ctx.now, holdKeyOf(ctx));
  const back = choice(t('common.back'), { a: 'back' });
  const lines = sessions.map(({ session, free }) => {
    const params = { date: formatDate(session.date, state.locale, t), place: local(session.place, state.locale), free };
    return t(free > 0 ? 'booking.dateLine' : 'booking.dateLineFull', params);
  });
  if (!sessions.some((s) => s.free > 0)) {
    const full = sessions.length > 0 ? [t('booking.allFull'), ...lines] : [];
    const parts = [...full, noSessionsText(ctx, state, service, t, full.length > 0), alternatives(service, state, t)];
    // On LINE, where a freed time can reach them, the citizen may wait for one.
    const wait = ctx.caller.channel === 'line' ? sessions.map(({ session }) => choice(t('waitlist.join', { date: formatDate(session.date, state.locale, t, true) }), { a: 'waitJoin', s: session.id })) : [];
    if (wait.length > 0) parts.push(t('waitlist.explain'));
    return [numbered(say(parts.filter((p) => p.length > 0).join('\n'), [...wait, back, choice(t('common.menu'), { a: 'menu' })]))];
  }
  const choices = sessions
    .filter((s) => s.free > 0)
    .map(({ session, free }) => choice(t('booking.dateLabel', { date: formatDate(session.date, state.locale, t, true), free }), { a: 'date', v: session.id }));
  const prompt = numbered(say([t('booking.datePrompt'), ...lines].join('\n'), [...choices, back]));
  return afterFull ? [say(t('booking.sessionFull')), prompt] : [prompt];
}

/** "Nothing open", and when the next window opens if one is coming. */
function noSessionsText(ctx: Ctx, state: ConversationState, service: Service, t: Translate, someFull = false): string {
  const next = sessionsOf(ctx.services.catalog, service.id)
    .map((session) => ({ session, opensAt: bookingWindow(session, service).opensAt }))
    .find(({ opensAt }) => opensAt > ctx.now);
  const parts = someFull ? [] : [t('booking.noSessions')];
  if (next) {
    const opens = formatDate(next.opensAt.toISODate()!, state.locale, t);
    parts.push(t('booking.nextOpening', { date: formatDate(next.session.date, state.locale, t), opens }));
  }
  return parts.join('\n');
}

/** Joins a full session's waitlist; the conversation goes back to the menu. */
async function onWaitJoin(ctx: Ctx, state: ConversationState, flow: Flow, sessionId: string): Promise<TurnResult | undefined> {
  const session = sessionById(ctx.services.catalog, sessionId);
  if (!session || session.serviceId !== flow.serviceId || ctx.caller.channel !== 'line') return undefined;
  const t = translate(ctx, state);
  const place = await ctx.services.bookings.joinWaitlist(sessionId, ctx.caller.userKey, ctx.now);
  const text = t('waitlist.joined', { date: formatDate(session.date, state.locale, t), place });
  return { replies: [say(text, menuChoices(t))], state: atMenu(state) };
}

async function onDate(ctx: Ctx, state: ConversationState, flow: Flow, sessionId: string): Promise<TurnResult | undefined> {
  const session = sessionById(ctx.services.catalog, sessionId);
  if (!session || session.serviceId !== flow.serviceId) return undefined;
  // A hold in the session left behind must not keep a slot from someone else.
  if (flow.sessionId && flow.sessionId !== sessionId) await ctx.services.bookings.releaseHold(flow.sessionId, holdKeyOf(ctx));
  return goTo(ctx, state, { ...flow, step: 'time', sessionId, slotId: undefined });
}

async function askTime(ctx: Ctx, state: ConversationState, flow: Flow, t: Translate): Promise<Reply[]> {
  const session = flow.sessionId ? sessionById(ctx.services.catalog, flow.sessionId) : undefined;
  if (!session) return [];
  const slots = await ctx.services.bookings.freeSlots(session.id, holdKeyOf(ctx), ctx.now);
  // A full session is no dead end: the other open dates (or, if none, when booking opens
  // next and whom to call) follow at once, and the time step accepts a date tap.
  if (slots.length === 0) return askDate(ctx, state, flow, t, true);
  const text = t('booking.timePrompt', {
    date: formatDate(session.date, state.locale, t),
    place: placeOf(ctx, state, flow, t),
    minutes: ctx.services.bookings.holdMinutes,
  });
  const back = choice(t('common.back'), { a: 'back' });
  return [say(text, [...slots.map((slot) => timeChoice(slot.id, { a: 'time', s: session.id, v: slot.id }, t)), back])];
}

async function onTime(ctx: Ctx, state: ConversationState, flow: Flow, sessionId: string, slotId: string): Promise<TurnResult | undefined> {
  const session = sessionById(ctx.services.catalog, sessionId);
  if (!session || session.serviceId !== flow.serviceId) return undefined;
  const t = translate(ctx, state);
  // A new session means a new hold; the old one must not keep a slot from someone else.
  if (flow.sessionId && flow.sessionId !== sessionId) await ctx.services.bookings.releaseHold(flow.sessionId, holdKeyOf(ctx));
  const held = await ctx.services.bookings.hold(sessionId, slotId, holdKeyOf(ctx), ctx.now);
  if (!held.ok) return onFailure(ctx, state, { ...flow, sessionId }, held.reason);
  const until = DateTime.fromMillis(held.expiresAt, { zone: ZONE }).toFormat('H:mm');
  const note = say(t('booking.held', { date: formatDate(session.date, state.locale, t), time: slotIdToTime(slotId), until }));
  const ready = flow.agreedAt !== undefined && flow.contact.name && flow.contact.phone && flow.contact.email;
  const step: BookingStep = ready ? 'summary' : 'precautions';
  return goTo(ctx, state, { ...flow, step, sessionId, slotId, editing: false }, [note]);
}

// ---- precautions ----------------------------------------------------------------------

function precautionsFor(service: Service, flow: Flow): Precaution[] {
  return service.precautions.items.filter((p) => flow.mode !== undefined && p.modes.includes(flow.mode));
}

/** Every precaution in one list, the question under it, and the buttons under that: read first, then agree. */
function askPrecautions(ctx: Ctx, state: ConversationState, flow: Flow, t: Translate): Reply[] {
  const items = precautionsFor(serviceOf(ctx, flow), flow).map((p) => t('booking.precautionItem', { text: local(p.text, state.locale) }));
  const title = t('booking.precautionsTitle');
  const prompt = t('booking.precautionsPrompt');
  const choices = [
    choice(t('booking.agree'), { a: 'agree', v: true }),
    choice(t('booking.disagree'), { a: 'agree', v: false }),
    choice(t('common.back'), { a: 'back' }),
  ];
  return [{ kind: 'card', title, fields: [], text: [...items, '', prompt].join('\n'), alt: `${title}\n${prompt}`, choices }];
}

async function onAgree(ctx: Ctx, state: ConversationState, flow: Flow, agreed: boolean): Promise<TurnResult> {
  if (!agreed) {
    if (flow.sessionId) await ctx.services.bookings.releaseHold(flow.sessionId, holdKeyOf(ctx));
    return endAtMenu(ctx, state, [say(translate(ctx, state)('booking.declined'))]);
  }
  return goTo(ctx, state, { ...flow, step: 'name', agreedAt: ctx.now.toUTC().toISO()! });
}

// ---- contact details ------------------------------------------------------------------

async function onContact(ctx: Ctx, state: ConversationState, flow: Flow, field: ContactField, text: string): Promise<TurnResult> {
  const result = validateField(field, text);
  if (!result.ok) {
    // Only this field is asked again; what was already given stays.
    const t = translate(ctx, state);
    return { replies: [say(t(result.reason)), ...askContact(field, t)], state };
  }
  const contact = { ...flow.contact, [field]: result.value };
  const order: ContactField[] = ['name', 'phone', 'email'];
  const missing = order.find((f) => !contact[f]);
  const step: BookingStep = flow.editing || !missing ? 'summary' : missing;
  return goTo(ctx, state, { ...flow, contact, step, editing: false });
}

// ---- summary and confirmation ---------------------------------------------------------

function summaryFields(ctx: Ctx, state: ConversationState, flow: Flow, t: Translate) {
  const service = serviceOf(ctx, flow);
  const session = flow.sessionId ? sessionById(ctx.services.catalog, flow.sessionId) : undefined;
  return [
    { label: t('booking.field.service'), value: local(service.name, state.locale) },
    { label: t('booking.field.mode'), value: flow.mode ? t(`booking.mode.${flow.mode}`) : '' },
    { label: t('booking.field.date'), value: session ? formatDate(session.date, state.locale, t) : '' },
    { label: t('booking.field.time'), value: flow.slotId ? slotIdToTime(flow.slotId) : '' },
    { label: t('booking.field.place'), value: placeOf(ctx, state, flow, t) },
    { label: t('booking.field.name'), value: flow.contact.name ?? '' },
    { label: t('booking.field.phone'), value: flow.contact.phone ? formatPhone(flow.contact.phone) : '' },
    { label: t('booking.field.email'), value: flow.contact.email ?? '' },
  ];
}

function askSummary(ctx: Ctx, state: ConversationState, flow: Flow, t: Translate): Reply[] {
  const choices: Choice[] = [
    choice(t('booking.confirm'), { a: 'confirm' }),
    ...(['slot', 'name', 'phone', 'email'] as const).map((v) => choice(t(`booking.edit.${v}`), { a: 'edit', v })),
    choice(t('booking.stop'), { a: 'cancel' }),
  ];
  return [{ kind: 'card', title: t('booking.summaryTitle'), fields: summaryFields(ctx, state, flow, t), text: t('booking.summaryPrompt'), choices }];
}

function onEdit(ctx: Ctx, state: ConversationState, flow: Flow, what: 'name' | 'phone' | 'email' | 'slot'): Promise<TurnResult> {
  return goTo(ctx, state, { ...flow, step: what === 'slot' ? 'date' : what, editing: what !== 'slot' });
}

async function onConfirm(ctx: Ctx, state: ConversationState, flow: Flow): Promise<TurnResult> {
  const { serviceId, sessionId, slotId, mode, agreedAt, contact } = flow;
  if (!serviceId || !sessionId || !slotId || !mode || !agreedAt || !contact.name || !contact.phone || !contact.email) {
    return goTo(ctx, state, flow);
  }
  const service = serviceOf(ctx, flow);
  const { agent } = ctx.caller;
  const outcome = await ctx.services.bookings.book(
    {
      serviceId,
      sessionId,
      slotId,
      mode,
      // An agent books for a phone caller: the one-booking-per-person rule follows the
      // caller's phone number, while the slot was held under the agent's own key.
      userKey: agent ? `phone:${contact.phone}` : ctx.caller.userKey,
      holderKey: holdKeyOf(ctx),
      // The web chat's person (its address) is booked too: one booking per person, however many conversations.
      ...(agent ? { bookedBy: agent } : ctx.caller.personKey ? { personKey: ctx.caller.personKey } : {}),
      locale: state.locale,
      contact: { name: contact.name, phone: contact.phone, email: contact.email },
      consent: { precautionsVersion: service.precautions.version, agreedAt },
    },
    ctx.now,
    // The store may have written the booking before the connection dropped: say so, never "try again".
  ).catch(() => 'unknown' as const);
  if (outcome === 'unknown') return committed(await goTo(ctx, state, flow, [say(translate(ctx, state)('booking.uncertain'))]));
  if (!outcome.ok) return onFailure(ctx, state, flow, outcome.reason);
  const t = translate(ctx, state);
  const { booking } = outcome;
  const place = placeOf(ctx, state, flow, t);
  const fields = summaryFields(ctx, state, flow, t).slice(0, 5);
  return committed(endAtMenu(ctx, state, [
    {
      kind: 'card',
      title: t('booking.confirmedTitle'),
      fields: [{ label: t('booking.field.reference'), value: booking.id }, ...fields],
      text: t('booking.confirmedText', { reference: booking.id }),
      // Notifications show this: what it is, not the reference itself.
      alt: `${t('booking.confirmedTitle')}\n${t('booking.referenceInside')}`,
    },
    say(mode === 'online' ? t('booking.nextOnline') : t('booking.nextInPerson', { place, time: slotIdToTime(slotId) })),
  ]));
}

/** A result whose replies stand even if the state is not saved (see `TurnResult.committed`). */
function committed(result: TurnResult): TurnResult {
  return { ...result, committed: true };
}

/** One place that turns a booking failure into what the citizen hears and can do next. */
async function onFailure(ctx: Ctx, state: ConversationState, flow: Flow, reason: BookingFailure): Promise<TurnResult> {
  const t = translate(ctx, state);
  switch (reason) {
    case 'already_booked':
      return endAtMenu(ctx, state, [say(t('booking.alreadyBooked'))]);
    case 'closed':
      return goTo(ctx, state, { ...flow, step: 'date', slotId: undefined }, [say(t('booking.closed'))]);
    case 'taken': {
      if (flow.step !== 'summary' || !flow.sessionId || !flow.slotId) {
        return goTo(ctx, state, { ...flow, step: 'time', slotId: undefined }, [say(t('booking.taken'))]);
      }
      // The hold lapsed and the slot went to someone else: offer the nearest free times.
      const offers = await ctx.services.bookings.nearestFree(flow.sessionId, flow.slotId, holdKeyOf(ctx), ctx.now, NEAREST_OFFERS);
      const next: ConversationState = { ...state, flow: { ...flow, step: 'time', slotId: undefined } };
      if (offers.length === 0) return endAtMenu(ctx, state, [say(t('booking.nothingNear'))]);
      return { replies: [say(t('booking.slotGone'), [...offers.map((o) => offerChoice(o, state, t)), choice(t('common.menu'), { a: 'menu' })])], state: next };
    }
  }
}

function offerChoice(offer: SlotOffer, state: ConversationState, t: Translate): Choice {
  const label = `${formatDate(offer.session.date, state.locale, t, true)} ${slotIdToTime(offer.slot.id)}`;
  return choice(label, { a: 'time', s: offer.session.id, v: offer.slot.id });
}

// ---- lookups --------------------------------------------------------------------------

function translate(ctx: Ctx, state: ConversationState): Translate {
  return ctx.services.translator(state.locale);
}

function serviceOf(ctx: Ctx, flow: Flow): Service {
  const service = flow.serviceId ? serviceById(ctx.services.catalog, flow.serviceId) : undefined;
  // The state schema admits any id; a catalog change may have removed it.
  if (!service) throw new StaleStateError();
  return service;
}

/** Where the consultation happens: the room, or "online". */
function placeOf(ctx: Ctx, state: ConversationState, flow: Flow, t: Translate): string {
  if (flow.mode === 'online') return t('booking.online');
  const session = flow.sessionId ? sessionById(ctx.services.catalog, flow.sessionId) : undefined;
  return session ? local(session.place, state.locale) : '';
}
