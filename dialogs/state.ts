/**
 * The stored shape of a conversation, validated on every load. A record that does not
 * parse (an older deploy's shape, or damage) is replaced by a fresh conversation instead
 * of crashing the turn; bump `STATE_VERSION` whenever a change is not backward compatible.
 * Each journey brings the schema of its own part (`flow`) through the registry.
 */
import { z } from 'zod';
import { LOCALES } from '../src/domain.ts';
import { handoffFlow } from './handoff.ts';
import { JOURNEYS } from './journeys.ts';

/** Version of the stored shape. A record of another version starts over cleanly. */
export const STATE_VERSION = 1;

const locale = z.enum(LOCALES);

const flow = z.discriminatedUnion('name', [z.object({ name: z.literal('menu') }), handoffFlow, ...JOURNEYS.map((j) => j.flow)]);

export const conversationStateSchema = z.object({
  v: z.literal(STATE_VERSION),
  locale,
  /** Time of the last turn (ms since epoch): idle conversations expire from it. */
  at: z.number(),
  flow,
  /** Ids of the last events answered, for dedupe (kept by the engine, not the dialogs). */
  events: z.array(z.string()).optional(),
  /** Messages in a row the bot did not understand; the third offers to pass the last one to staff. */
  misses: z.number().int().min(0).optional(),
  /**
   * The question in hand, kept until the citizen says whether staff may read it (and the
   * urgent ticket it may be added to). Personal data: sealed with the state, gone with it.
   */
  inquiry: z.object({ q: z.string().max(1000), ticket: z.string().optional() }).optional(),
});

export type ConversationState = z.infer<typeof conversationStateSchema>;
export type Flow = ConversationState['flow'];

/** A conversation at the menu. */
export function freshState(localeOf: ConversationState['locale'], at: number): ConversationState {
  return { v: STATE_VERSION, locale: localeOf, at, flow: { name: 'menu' } };
}
