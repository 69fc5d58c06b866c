/**
 * The registry of journeys. `dialogs/index.ts`, the stored state (`state.ts`), button
 * decoding, the menu and the staff card's step words all read journeys from here, so a
 * new journey is its own file, one line in `JOURNEYS` and its locale keys.
 */
import { z } from 'zod';
import type { Translate } from '../src/turn.ts';
import { type Action, GLOBAL_ACTIONS, parseActionData } from './actions.ts';
import { booking } from './booking.ts';
import { erasure } from './erasure.ts';
import { inquiry } from './inquiry.ts';
import { myBookings } from './myBookings.ts';
import type { Flow } from './state.ts';
import type { Journey } from './types.ts';

/** Every journey, in the order of their menu buttons. */
export const JOURNEYS = [booking, myBookings, inquiry, erasure] as const;

/** The journey the conversation is in; undefined at the menu and in a conversation with staff. */
export function journeyOf(flow: Flow): Journey | undefined {
  return (JOURNEYS as readonly Journey[]).find((j) => j.name === flow.name);
}

const actionSchema = z.discriminatedUnion('a', [...GLOBAL_ACTIONS, ...JOURNEYS.flatMap<(typeof JOURNEYS)[number]['actions'][number]>((j) => j.actions)]);

/** Decodes button data; `undefined` for anything that is not a valid action. */
export function decodeAction(data: string): Action | undefined {
  const parsed = actionSchema.safeParse(parseActionData(data));
  return parsed.success ? parsed.data : undefined;
}

/** Staff-card words of the states that are not journeys. */
const CORE_LABELS: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  menu: { menu: 'menu.staff' },
  handoff: { handoff: 'handoff.staff' },
};

/**
 * Only code-like tokens pass into a description (ASCII letters and `_`: no digits, spaces,
 * `@` or non-Latin script): a step name is meant to hold no personal data, and this keeps it so.
 */
const SAFE_TOKEN = /^[A-Za-z][A-Za-z_]{0,39}$/;

/**
 * A ticket's step name in words for staff, e.g. `booking:screening:in_person` → "Booking ›
 * screening questions › in person", in the journey's own locale keys. Tokens without a word
 * are shown only when they look like codes, so free text can never reach a card.
 */
export function describeStep(step: string, t: Translate): string {
  const tokens = step.split(':').slice(0, 4);
  const name = tokens[0] ?? '';
  const labels = (JOURNEYS as readonly Journey[]).find((j) => j.name === name)?.staffLabels ?? CORE_LABELS[name] ?? {};
  const words: string[] = [];
  for (const token of tokens) {
    const key = Object.hasOwn(labels, token) ? labels[token] : undefined;
    const word = key ? t(key) : SAFE_TOKEN.test(token) ? token : undefined;
    if (word && words.at(-1) !== word) words.push(word);
  }
  return words.join(' › ') || '-';
}
