/**
 * "Delete my data" (APPI): says what will be deleted, asks to confirm, deletes, and says so.
 * Typed at any step (`keywords.erase`) or started from the help text's words; no menu button.
 * The last reply asks the engine to delete the conversation record itself (`forget`).
 */
import { z } from 'zod';
import type { Reply, TurnContext } from '../src/turn.ts';
import { choice, say } from './format.ts';
import { askMenu, atMenu } from './menu.ts';
import type { ConversationState } from './state.ts';
import type { Journey, TurnResult } from './types.ts';

const erasureFlow = z.object({ name: z.literal('erasure') });

/** "Delete my data"'s part of the stored state: one step, the confirmation. */
type ErasureFlow = z.infer<typeof erasureFlow>;

const erasureActions = [z.object({ a: z.literal('erase') }), z.object({ a: z.literal('eraseConfirm') }), z.object({ a: z.literal('eraseKeep') })] as const;

/** A button of "delete my data". */
type ErasureAction = z.infer<(typeof erasureActions)[number]>;

/** "Delete my data", as the registry sees it. */
export const erasure: Journey<ErasureFlow, ErasureAction> = {
  name: 'erasure',
  flow: erasureFlow,
  actions: erasureActions,
  entry: { label: 'erasure.entry', action: { a: 'erase' }, keywords: 'keywords.erase', anywhere: true },
  staffLabels: { erasure: 'erasure.staff', confirm: 'erasure.staffConfirm' },
  start: async (ctx, state) => {
    // The question waiting for consent is personal data: it does not wait through this.
    const next: ConversationState = { ...state, flow: { name: 'erasure' }, inquiry: undefined };
    return { replies: await explain(ctx, next), state: next };
  },
  ask: (ctx, state) => explain(ctx, state),
  handle: async (ctx, state, _flow, { action }) => {
    if (action?.a === 'erase') return { replies: await explain(ctx, state), state };
    if (action?.a === 'eraseConfirm') return erase(ctx, state);
    if (action?.a === 'eraseKeep') {
      const t = ctx.services.translator(state.locale);
      return { replies: [say(t('erasure.kept')), ...askMenu(t)], state: atMenu(state) };
    }
    return undefined;
  },
  back: () => undefined,
  step: () => 'erasure:confirm',
};

/** What will be deleted and what is kept, with the citizen's upcoming bookings counted, and the two buttons. */
async function explain(ctx: TurnContext, state: ConversationState): Promise<Reply[]> {
  const t = ctx.services.translator(state.locale);
  const upcoming = (await ctx.services.bookings.upcomingFor(ctx.caller.userKey, ctx.now)).length;
  return [
    say(t('erasure.explain')),
    ...(upcoming > 0 ? [say(t('erasure.upcoming', { count: upcoming }))] : []),
    say(t('erasure.confirmPrompt'), [choice(t('erasure.confirm'), { a: 'eraseConfirm' }), choice(t('erasure.keep'), { a: 'eraseKeep' })]),
  ];
}

/** Deletes, says what was done, and has the engine drop the conversation record. */
async function erase(ctx: TurnContext, state: ConversationState): Promise<TurnResult> {
  const t = ctx.services.translator(state.locale);
  const { cancelled } = await ctx.services.erasure.eraseUser(ctx.caller.userKey, ctx.now);
  // The state returned is never saved: `forget` has the engine delete the record instead.
  return { replies: [say(t('erasure.done', { cancelled })), ...askMenu(t)], state: atMenu(state), forget: true };
}
