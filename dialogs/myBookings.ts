/**
 * "My bookings": list the citizen's upcoming bookings → details → cancel (with a
 * confirmation step before anything is cancelled) or change the time (the free times of the
 * same session; one tap moves the booking, in one step). Both up to the booking cut-off;
 * after it, the office's phone.
 */
import { z } from 'zod';
import { type Booking, local } from '../src/domain.ts';
import { serviceById, sessionById } from '../src/services/catalog.ts';
import type { Reply, Translate, TurnContext } from '../src/turn.ts';
import { id } from './actions.ts';
import { choice, formatDate, numbered, say, slotIdToTime, timeChoice, withChoices } from './format.ts';
import { holdKeyOf } from './booking.ts';
import { askMenu, atMenu, menuChoices } from './menu.ts';
import type { ConversationState } from './state.ts';
import type { Journey, Message, TurnResult } from './types.ts';

const myBookingsFlow = z.object({
  name: z.literal('myBookings'),
  step: z.enum(['list', 'detail', 'cancel', 'change', 'changeDate']),
  sessionId: z.string().optional(),
  bookingId: z.string().optional(),
  /** At `change`: whose times are offered (another session than the booking's own, if chosen). */
  targetSessionId: z.string().optional(),
});

/** "My bookings"' part of the stored state. */
type MyBookingsFlow = z.infer<typeof myBookingsFlow>;

const myBookingsActions = [
  z.object({ a: z.literal('my') }),
  z.object({ a: z.literal('open'), s: id, b: id }),
  z.object({ a: z.literal('cancelBooking') }),
  z.object({ a: z.literal('changeBooking') }),
  z.object({ a: z.literal('moveTo'), s: id, v: z.string().regex(/^\d{4}$/) }),
  z.object({ a: z.literal('otherDate') }),
  z.object({ a: z.literal('changeTo'), s: id }),
  z.object({ a: z.literal('yes') }),
  z.object({ a: z.literal('no') }),
] as const;

/** A button of "my bookings". */
type MyBookingsAction = z.infer<(typeof myBookingsActions)[number]>;

type Ctx = TurnContext;
type Flow = MyBookingsFlow;

/** "My bookings", as the registry sees it. */
export const myBookings: Journey<MyBookingsFlow, MyBookingsAction> = {
  name: 'myBookings',
  flow: myBookingsFlow,
  actions: myBookingsActions,
  entry: { label: 'menu.my', action: { a: 'my' }, keywords: 'keywords.my' },
  staffLabels: { myBookings: 'my.staff.journey', list: 'my.staff.list', detail: 'my.staff.detail' },
  start: startMyBookings,
  ask: async (ctx, state, flow) => {
    const asked = await askMyBookings(ctx, state, flow);
    // Nothing left to show here (the booking was cancelled elsewhere): the menu instead.
    return asked === 'none' ? askMenu(ctx.services.translator(state.locale)) : asked;
  },
  handle: handleMyBookings,
  back: backMyBookings,
  step: (flow) => `myBookings:${flow.step}`,
};

/** Opens the list of the citizen's upcoming bookings. */
function startMyBookings(ctx: Ctx, state: ConversationState): Promise<TurnResult> {
  return goTo(ctx, state, { name: 'myBookings', step: 'list' });
}

async function goTo(ctx: Ctx, state: ConversationState, flow: Flow, before: Reply[] = []): Promise<TurnResult> {
  const next: ConversationState = { ...state, flow };
  const asked = await askMyBookings(ctx, next, flow);
  if (asked === 'none') {
    const t = ctx.services.translator(state.locale);
    const text = flow.step === 'list' ? t('my.none') : t('my.notFound');
    return { replies: [...before, say(text, menuChoices(t))], state: atMenu(state) };
  }
  return { replies: [...before, ...asked], state: next };
}

/** What the bot shows at the current step; `none` when there is nothing to show. */
async function askMyBookings(ctx: Ctx, state: ConversationState, flow: Flow): Promise<Reply[] | 'none'> {
  const t = ctx.services.translator(state.locale);
  const back = choice(t('common.back'), { a: 'back' });
  if (flow.step === 'list') {
    const bookings = await ctx.services.bookings.upcomingFor(ctx.caller.userKey, ctx.now);
    // Where the citizen is waiting for a freed time, and their place.
    const waiting = (await Promise.all(ctx.services.catalog.services.map((s) => ctx.services.bookings.waitlistPlaces(s.id, ctx.caller.userKey, ctx.now)))).flat();
    const places = waiting.map(({ session, place }) => t('waitlist.place', { date: formatDate(session.date, state.locale, t), place }));
    if (bookings.length === 0 && places.length === 0) return 'none';
    if (bookings.length === 0) return [say([t('my.none'), ...places].join('\n'), [back])];
    const choices = bookings.map((b) => choice(label(ctx, state, b, t), { a: 'open', s: b.sessionId, b: b.id }));
    return [numbered(say([t('my.listPrompt'), ...places].join('\n'), [...choices, back]))];
  }
  const booking = await owned(ctx, flow);
  if (!booking) return 'none';
  if (flow.step === 'detail') {
    // Past the booking cut-off the citizen cannot cancel here: the office's phone instead of the button.
    if (pastCutOff(ctx, booking)) return [{ kind: 'card', title: t('my.detailTitle'), fields: fields(ctx, state, booking, t) }, say(byPhone(ctx, state, booking, t), [back])];
    return [
      {
        kind: 'card',
        title: t('my.detailTitle'),
        fields: fields(ctx, state, booking, t),
        choices: [choice(t('my.change'), { a: 'changeBooking' }), choice(t('my.cancel'), { a: 'cancelBooking' }), back],
      },
    ];
  }
  if (flow.step === 'change') {
    const target = flow.targetSessionId ?? booking.sessionId;
    const free = (await ctx.services.bookings.freeSlots(target, holdKeyOf(ctx), ctx.now)).filter((s) => target !== booking.sessionId || s.id !== booking.slotId);
    const others = await otherSessions(ctx, booking);
    const otherDate = others.length > 0 ? [choice(t('my.otherDate'), { a: 'otherDate' })] : [];
    const session = sessionById(ctx.services.catalog, target);
    const date = session ? formatDate(session.date, state.locale, t) : '';
    if (free.length === 0) return [say(t('my.noOtherTime', { date }), [...otherDate, back])];
    const prompt = t('my.changePrompt', { time: slotIdToTime(booking.slotId), date });
    return [say(prompt, [...free.map((s) => timeChoice(s.id, { a: 'moveTo', s: target, v: s.id }, t)), ...otherDate, back])];
  }
  if (flow.step === 'changeDate') {
    const others = await otherSessions(ctx, booking);
    if (others.length === 0) return [say(t('my.noOtherTime', { date: '' }), [back])];
    return [numbered(say(t('my.otherDatePrompt'), [...others.map((s) => choice(`${formatDate(s.date, state.locale, t, true)} ${local(s.place, state.locale)}`, { a: 'changeTo', s: s.id })), back]))];
  }
  const session = sessionById(ctx.services.catalog, booking.sessionId);
  const date = session ? formatDate(session.date, state.locale, t) : '';
  return [
    say(t('my.cancelConfirm', { date, time: slotIdToTime(booking.slotId) }), [
      choice(t('my.cancelYes'), { a: 'yes' }),
      choice(t('my.cancelNo'), { a: 'no' }),
    ]),
  ];
}

/** Handles a tap at the current step; undefined when it does not fit the step. */
async function handleMyBookings(ctx: Ctx, state: ConversationState, flow: Flow, { action }: Message): Promise<TurnResult | undefined> {
  if (flow.step === 'list' && action?.a === 'open') return goTo(ctx, state, { ...flow, step: 'detail', sessionId: action.s, bookingId: action.b });
  if (flow.step === 'detail' && action?.a === 'cancelBooking') return goTo(ctx, state, { ...flow, step: 'cancel' });
  if (flow.step === 'cancel' && action?.a === 'no') return goTo(ctx, state, { ...flow, step: 'detail' });
  if (flow.step === 'cancel' && action?.a === 'yes') return cancel(ctx, state, flow);
  if (flow.step === 'detail' && action?.a === 'changeBooking') return goTo(ctx, state, { ...flow, step: 'change' });
  if (flow.step === 'change' && action?.a === 'moveTo') return move(ctx, state, flow, action.s, action.v);
  if (flow.step === 'change' && action?.a === 'otherDate') return goTo(ctx, state, { ...flow, step: 'changeDate' });
  if (flow.step === 'changeDate' && action?.a === 'changeTo') return goTo(ctx, state, { ...flow, step: 'change', targetSessionId: action.s });
  return undefined;
}

/** The step before the current one, or undefined at the list. */
function backMyBookings(ctx: Ctx, state: ConversationState, flow: Flow): Promise<TurnResult> | undefined {
  if (flow.step === 'changeDate') return goTo(ctx, state, { ...flow, step: 'change' });
  if (flow.step === 'cancel' || flow.step === 'change') return goTo(ctx, state, { name: 'myBookings', step: 'detail', ...(flow.sessionId ? { sessionId: flow.sessionId } : {}), ...(flow.bookingId ? { bookingId: flow.bookingId } : {}) });
  if (flow.step === 'detail') return goTo(ctx, state, { name: 'myBookings', step: 'list' });
  return undefined;
}

async function cancel(ctx: Ctx, state: ConversationState, flow: Flow): Promise<TurnResult> {
  const t = ctx.services.translator(state.locale);
  const booking = await owned(ctx, flow);
  const done = booking ? await ctx.services.bookings.cancel(booking.sessionId, booking.id, ctx.caller.userKey, ctx.now) : false;
  // The cut-off passed while the question was open: nothing is cancelled, the office can.
  if (done === 'closed' && booking) return { replies: withChoices([say(byPhone(ctx, state, booking, t))], menuChoices(t)), state: atMenu(state) };
  const text = done && booking ? t('my.cancelled', { reference: booking.id }) : t('my.notFound');
  return { replies: withChoices([say(text)], menuChoices(t)), state: atMenu(state) };
}

/** Open sessions of the booking's service, other than its own, with a free time. */
async function otherSessions(ctx: Ctx, booking: Booking) {
  const open = await ctx.services.bookings.openSessions(booking.serviceId, ctx.now, holdKeyOf(ctx));
  return open.filter((a) => a.session.id !== booking.sessionId && a.free > 0).map((a) => a.session);
}

async function move(ctx: Ctx, state: ConversationState, flow: Flow, toSessionId: string, toSlotId: string): Promise<TurnResult> {
  const t = ctx.services.translator(state.locale);
  const booking = await owned(ctx, flow);
  if (!booking) return goTo(ctx, state, flow);
  const { bookings } = ctx.services;
  const moved = toSessionId === booking.sessionId ? await bookings.move(booking, toSlotId, ctx.now) : await bookings.moveAcross(booking, toSessionId, toSlotId, holdKeyOf(ctx), ctx.now);
  if (moved.ok) {
    const session = sessionById(ctx.services.catalog, moved.booking.sessionId);
    const date = session ? formatDate(session.date, state.locale, t) : '';
    return { replies: withChoices([say(t('my.changed', { reference: moved.booking.id, date, time: slotIdToTime(toSlotId) }))], menuChoices(t)), state: atMenu(state) };
  }
  if (moved.reason === 'closed') return { replies: withChoices([say(byPhone(ctx, state, booking, t))], menuChoices(t)), state: atMenu(state) };
  // Someone took that time first: the booking is where it was, and the times are shown again.
  return goTo(ctx, state, flow, [say(t('my.timeTaken', { time: slotIdToTime(booking.slotId) }))]);
}

function pastCutOff(ctx: Ctx, booking: Booking): boolean {
  const until = ctx.services.bookings.cancellableUntil(booking.sessionId);
  return until !== undefined && ctx.now >= until;
}

/** After the cut-off: changes and cancellations go through the office, by phone. */
function byPhone(ctx: Ctx, state: ConversationState, booking: Booking, t: Translate): string {
  const session = sessionById(ctx.services.catalog, booking.sessionId);
  const service = session && serviceById(ctx.services.catalog, session.serviceId);
  if (!service) return t('my.notFound');
  const { office } = service;
  return t('my.byPhone', { office: local(office.name, state.locale), phone: office.phone, hours: local(office.hours, state.locale) });
}

/** The booking the flow points at, only if it belongs to the caller (a button is untrusted). */
async function owned(ctx: Ctx, flow: Flow): Promise<Booking | null> {
  if (!flow.sessionId || !flow.bookingId) return null;
  const booking = await ctx.services.bookings.get(flow.sessionId, flow.bookingId);
  return booking && booking.userKey === ctx.caller.userKey ? booking : null;
}

function label(ctx: Ctx, state: ConversationState, booking: Booking, t: Translate): string {
  const session = sessionById(ctx.services.catalog, booking.sessionId);
  return t('my.label', { date: session ? formatDate(session.date, state.locale, t, true) : '', time: slotIdToTime(booking.slotId) });
}

function fields(ctx: Ctx, state: ConversationState, booking: Booking, t: Translate) {
  const session = sessionById(ctx.services.catalog, booking.sessionId);
  const place = booking.mode === 'online' ? t('booking.online') : session ? local(session.place, state.locale) : '';
  return [
    { label: t('booking.field.reference'), value: booking.id },
    { label: t('booking.field.date'), value: session ? formatDate(session.date, state.locale, t) : '' },
    { label: t('booking.field.time'), value: slotIdToTime(booking.slotId) },
    { label: t('booking.field.mode'), value: t(`booking.mode.${booking.mode}`) },
    { label: t('booking.field.place'), value: place },
    { label: t('booking.field.name'), value: booking.contact.name },
  ];
}
