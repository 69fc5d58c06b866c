/**
 * Button payloads. A tapped button comes back as untrusted text (a LINE postback, a web
 * chat POST), so every payload is parsed with zod; anything else is "not a valid action".
 * Encoded as short JSON: LINE limits postback data to 300 characters.
 *
 * The actions valid at any step are declared here; each journey declares its own, and the
 * registry (`journeys.ts`) composes them into the one schema a payload is decoded with.
 */
import { z } from 'zod';
import { LOCALES } from '../src/domain.ts';
import type { JOURNEYS } from './journeys.ts';

/** Button ids (sessions, bookings, services): short enough for LINE's 300-character limit. */
export const id = z.string().min(1).max(64);

/** Actions valid at any step, whatever the journey. */
export const GLOBAL_ACTIONS = [
  z.object({ a: z.literal('menu') }),
  z.object({ a: z.literal('back') }),
  z.object({ a: z.literal('cancel') }),
  z.object({ a: z.literal('help') }),
  z.object({ a: z.literal('language') }),
  z.object({ a: z.literal('human') }),
  z.object({ a: z.literal('decline') }),
  z.object({ a: z.literal('endChat') }),
  z.object({ a: z.literal('setLanguage'), v: z.enum(LOCALES) }),
] as const;

type GlobalAction = z.infer<(typeof GLOBAL_ACTIONS)[number]>;
type JourneyAction = z.infer<(typeof JOURNEYS)[number]['actions'][number]>;

/** A validated button payload. */
export type Action = GlobalAction | JourneyAction;

/** Names of the commands that work at any step. */
export const GLOBAL_COMMANDS = ['menu', 'back', 'cancel', 'help', 'language', 'human', 'decline'] as const;
export type GlobalCommand = (typeof GLOBAL_COMMANDS)[number];

/** Encodes an action as button data. */
export function encodeAction(action: Action): string {
  return JSON.stringify(action);
}

/** Button data as JSON, or undefined when it is too long or not JSON (checked before any schema). */
export function parseActionData(data: string): unknown {
  if (data.length > 300) return undefined;
  try {
    return JSON.parse(data);
  } catch {
    return undefined;
  }
}
