/**
 * Button payloads. A tapped button comes back as untrusted text (a LINE postback, a web
 * chat POST), so every payload is parsed with zod; anything else is "not a valid action".
 * Encoded as short JSON: LINE limits postback data to 300 characters.
 */
import { z } from 'zod';

const id = z.string().min(1).max(64);

export const actionSchema = z.discriminatedUnion('a', [
  // Global commands, valid at any step.
  z.object({ a: z.literal('menu') }),
  z.object({ a: z.literal('back') }),
  z.object({ a: z.literal('cancel') }),
  z.object({ a: z.literal('help') }),
  z.object({ a: z.literal('language') }),
  z.object({ a: z.literal('human') }),
  z.object({ a: z.literal('endChat') }),
  // Menu.
  z.object({ a: z.literal('book') }),
  z.object({ a: z.literal('my') }),
  z.object({ a: z.literal('setLanguage'), v: z.enum(['ja', 'en']) }),
  // Booking.
  z.object({ a: z.literal('service'), v: id }),
  z.object({ a: z.literal('mode'), v: z.enum(['in_person', 'online']) }),
  z.object({ a: z.literal('answer'), v: z.enum(['yes', 'no', 'unsure']) }),
  z.object({ a: z.literal('date'), v: id }),
  z.object({ a: z.literal('time'), s: id, v: z.string().regex(/^\d{4}$/) }),
  z.object({ a: z.literal('agree'), v: z.boolean() }),
  z.object({ a: z.literal('confirm') }),
  z.object({ a: z.literal('edit'), v: z.enum(['name', 'phone', 'email', 'slot']) }),
  // My bookings.
  z.object({ a: z.literal('open'), s: id, b: id }),
  z.object({ a: z.literal('cancelBooking') }),
  z.object({ a: z.literal('yes') }),
  z.object({ a: z.literal('no') }),
]);

/** A validated button payload. */
export type Action = z.infer<typeof actionSchema>;

/** Names of the commands that work at any step. */
export const GLOBAL_COMMANDS = ['menu', 'back', 'cancel', 'help', 'language', 'human'] as const;
export type GlobalCommand = (typeof GLOBAL_COMMANDS)[number];

/** Encodes an action as button data. */
export function encodeAction(action: Action): string {
  return JSON.stringify(action);
}

/** Decodes button data; `undefined` for anything that is not a valid action. */
export function decodeAction(data: string): Action | undefined {
  if (data.length > 300) return undefined;
  let raw: unknown;
  try {
    raw = JSON.parse(data);
  } catch {
    return undefined;
  }
  const parsed = actionSchema.safeParse(raw);
  return parsed.success ? parsed.data : undefined;
}
