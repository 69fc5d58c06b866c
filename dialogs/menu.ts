/** The main menu: the place every conversation starts from and returns to. */
import type { Choice, Reply, Translate } from '../src/turn.ts';
import { choice, say } from './format.ts';
import { JOURNEYS } from './journeys.ts';
import type { ConversationState } from './state.ts';

/** The menu's buttons: one per journey, then the commands that work anywhere. */
export function menuChoices(t: Translate): Choice[] {
  return [
    ...JOURNEYS.filter((j) => !j.entry.anywhere).map((j) => choice(t(j.entry.label), j.entry.action)),
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
