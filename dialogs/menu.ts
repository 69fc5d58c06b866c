/** The main menu: the place every conversation starts from and returns to. */
import { choice, say } from './format.ts';
import type { ConversationState } from './state.ts';
import type { Choice, Reply, Translate } from '../src/turn.ts';

/** The menu's buttons. */
export function menuChoices(t: Translate): Choice[] {
  return [
    choice(t('menu.book'), { a: 'book' }),
    choice(t('menu.my'), { a: 'my' }),
    choice(t('menu.human'), { a: 'human' }),
    choice(t('menu.language'), { a: 'language' }),
    choice(t('menu.help'), { a: 'help' }),
  ];
}

/** Asks what the citizen wants to do. */
export function askMenu(t: Translate): Reply[] {
  return [say(t('menu.prompt'), menuChoices(t))];
}

/** The same conversation, back at the menu. */
export function atMenu(state: ConversationState): ConversationState {
  return { ...state, flow: { name: 'menu' } };
}
