/**
 * What a dialog step returns. The rest of the turn contract (input, replies, caller,
 * services) is channel-neutral and lives in `src/turn.ts`.
 */
import type { Reply } from '../src/turn.ts';
import type { ConversationState } from './state.ts';

/** Everything a dialog step returns. */
export interface TurnResult {
  replies: Reply[];
  state: ConversationState;
}
