/**
 * The stored shape of a conversation, validated on every load. A record that does not
 * parse (an older deploy's shape, or damage) is replaced by a fresh conversation instead
 * of crashing the turn; bump `STATE_VERSION` whenever a change is not backward compatible.
 */
import { z } from 'zod';

/** Version of the stored shape. A record of another version starts over cleanly. */
export const STATE_VERSION = 1;

const mode = z.enum(['in_person', 'online']);
const locale = z.enum(['ja', 'en']);

/** Steps of the booking dialog, in conversation order. */
export const BOOKING_STEPS = [
  'service',
  'mode',
  'screening',
  'date',
  'time',
  'precautions',
  'name',
  'phone',
  'email',
  'summary',
] as const;
export type BookingStep = (typeof BOOKING_STEPS)[number];

const bookingFlow = z.object({
  name: z.literal('booking'),
  step: z.enum(BOOKING_STEPS),
  serviceId: z.string().optional(),
  mode: mode.optional(),
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

const myBookingsFlow = z.object({
  name: z.literal('myBookings'),
  step: z.enum(['list', 'detail', 'cancel']),
  sessionId: z.string().optional(),
  bookingId: z.string().optional(),
});

/** Talking with staff through the bot (a claimed ticket). */
const handoffFlow = z.object({ name: z.literal('handoff'), ticketId: z.string() });

const flow = z.discriminatedUnion('name', [
  z.object({ name: z.literal('menu') }),
  handoffFlow,
  bookingFlow,
  myBookingsFlow,
]);

export const conversationStateSchema = z.object({
  v: z.literal(STATE_VERSION),
  locale,
  /** Time of the last turn (ms since epoch): idle conversations expire from it. */
  at: z.number(),
  flow,
  /** Ids of the last events answered, for dedupe (kept by the engine, not the dialogs). */
  events: z.array(z.string()).optional(),
  /** Messages in a row the bot did not understand; the third opens a ticket. */
  misses: z.number().int().min(0).optional(),
});

export type ConversationState = z.infer<typeof conversationStateSchema>;
export type Flow = ConversationState['flow'];
export type BookingFlow = z.infer<typeof bookingFlow>;
export type MyBookingsFlow = z.infer<typeof myBookingsFlow>;

/** A conversation at the menu. */
export function freshState(localeOf: ConversationState['locale'], at: number): ConversationState {
  return { v: STATE_VERSION, locale: localeOf, at, flow: { name: 'menu' } };
}
