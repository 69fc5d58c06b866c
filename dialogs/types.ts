/**
 * What dialogs exchange among themselves: a step's result, the citizen's message as a step
 * sees it, the shape of a journey, and the one error a step may throw. The channel-neutral part of the turn contract
 * (input, replies, caller, services) lives in `src/turn.ts`.
 */
import type { z } from 'zod';
import type { Reply, TurnContext } from '../src/turn.ts';
import type { Action } from './actions.ts';
import type { ConversationState } from './state.ts';

/** Everything a dialog step returns. */
export interface TurnResult {
  replies: Reply[];
  state: ConversationState;
  /**
   * The conversation record is deleted instead of saved (the citizen had their data erased):
   * the replies are still sent, and the next message starts a fresh conversation.
   */
  forget?: true;
  /**
   * The replies tell of something done outside the conversation (a booking written, or
   * perhaps written): the engine says them even when the state then cannot be saved, rather
   * than "try again".
   */
  committed?: true;
}

/** What the citizen sent: a validated button, or typed text. */
export interface Message {
  action?: Action;
  text?: string;
}

/** The part of the stored state a journey owns; `name` tells the journeys apart. */
type FlowShape = { name: string };

/**
 * One thing a citizen can do, from the menu to its end (book a consultation, look at their
 * bookings). `dialogs/index.ts` knows journeys only through this shape and the registry
 * (`dialogs/journeys.ts`): adding one is its own file, one registry line and its locale keys.
 */
export interface Journey<F extends FlowShape = FlowShape, A extends Action = Action> {
  /** Its `flow.name` in the stored state, and the first word of its step names. */
  readonly name: F['name'];
  /** Its part of the stored state, validated on every load (composed by `state.ts`). */
  readonly flow: z.ZodType<F> & z.core.$ZodTypeDiscriminable;
  /** Payloads of its buttons, validated when they come back (composed by the registry). */
  readonly actions: readonly (z.ZodType<A> & z.core.$ZodTypeDiscriminable)[];
  /**
   * Its menu button (locale key and the action it sends) and the locale key of the words typed
   * instead (`|`-separated). `anywhere`: no menu button; its words and action start it at any
   * step, as a command does (deleting one's data, offered in the help text).
   */
  readonly entry: { label: string; action: A; keywords: string; anywhere?: true };
  /** Staff-card words for the tokens of its step names: token → locale key. A token without one is shown as it is. */
  readonly staffLabels: Readonly<Record<string, string>>;
  /** Starts it from the menu. */
  start(ctx: TurnContext, state: ConversationState): Promise<TurnResult>;
  /** What the bot says at the current step, e.g. again after a help text. */
  ask(ctx: TurnContext, state: ConversationState, flow: F): Promise<Reply[]>;
  /** The citizen's answer at the current step; undefined when it does not fit the step. */
  handle(ctx: TurnContext, state: ConversationState, flow: F, message: Message): Promise<TurnResult | undefined>;
  /** The step before the current one; undefined at its first (the citizen goes back to the menu). */
  back(ctx: TurnContext, state: ConversationState, flow: F): Promise<TurnResult> | undefined;
  /** Where in it the citizen is, as a step name for staff (e.g. `booking:time:in_person`): never anything typed. */
  step(flow: F): string;
  /** True at steps where typed text is the answer itself, not a button label or a menu word. */
  expectsText?(flow: F): boolean;
  /** Lets go of what it holds (a held slot) when the citizen leaves it: menu, cancel, a staff claim, idle expiry. */
  release?(ctx: Pick<TurnContext, 'caller' | 'services'>, flow: F): Promise<void>;
  /** The service the conversation is about, whose office answers a handoff. */
  serviceId?(flow: F): string | undefined;
}

/** The stored conversation refers to something the catalog no longer has: the engine starts it over. */
export class StaleStateError extends Error {
  constructor() {
    super('conversation refers to a service no longer in the catalog');
    this.name = 'StaleStateError';
  }
}
