/**
 * The root of every turn: staff events and the conversation with staff first, then global
 * commands (menu, back, cancel, help, language, human), then the active journey, found in
 * the registry (`journeys.ts`). Pure apart from the services in the context: input and
 * stored state in, replies and next state out.
 */
import { type Locale, LOCALES } from '../src/domain.ts';
import type { Choice, DialogServices, Reply, Translate, TurnContext } from '../src/turn.ts';
import { type Action, GLOBAL_COMMANDS, type GlobalCommand } from './actions.ts';
import { choice, normalize, say } from './format.ts';
import { endHandoff, onStaffEvent, openHandoff, relayToStaff } from './handoff.ts';
import { answerQuestion, inquiry, isInquiryAction, offerToPass, onInquiryAction, staffAnswer, urgentNumbers, urgentReply } from './inquiry.ts';
import { decodeAction, JOURNEYS, journeyOf } from './journeys.ts';
import { askMenu, atMenu } from './menu.ts';
import type { ConversationState } from './state.ts';
import type { Journey, Message, TurnResult } from './types.ts';

/** Runs one turn of the conversation. */
export async function runDialog(ctx: TurnContext, state: ConversationState): Promise<TurnResult> {
  const { input } = ctx;
  const t = translator(ctx, state);
  if (input.kind === 'staff') {
    if (input.event === 'answer') {
      // The answer closes the ticket: a citizen talking with staff about it is back with the bot.
      const inThisHandoff = state.flow.name === 'handoff' && state.flow.ticketId === input.ticketId;
      return { replies: staffAnswer(ctx, state, input.entryId), state: inThisHandoff ? atMenu(state) : state };
    }
    return onStaffEvent(ctx, state, input);
  }
  // Urgent messages first, in every state: a booking field or a conversation with staff included.
  const urgent = input.kind === 'text' ? ctx.services.knowledge.urgent(input.text) : undefined;
  if (urgent && input.kind === 'text') {
    if (state.flow.name !== 'handoff') return urgentReply(ctx, state, urgent, input.text, journeyOf(state.flow));
    const relayed = await relayToStaff(ctx, state, state.flow.ticketId, input.text);
    return { ...relayed, replies: [urgentNumbers(ctx, state, urgent), ...relayed.replies] };
  }
  if (state.flow.name === 'handoff') return withStaff(ctx, state, state.flow.ticketId);
  if (input.kind === 'follow') return { replies: [say(t('greeting')), ...(await ask(ctx, state))], state };
  if (input.kind === 'unsupported') return { replies: [say(t('unsupported')), ...(await ask(ctx, state))], state };

  let message: Message;
  if (input.kind === 'action') {
    const action = decodeAction(input.data);
    if (!action) return stale(ctx, state);
    message = { action };
  } else {
    const command = commandIn(ctx, input.text, GLOBAL_COMMANDS);
    const anywhere = command ? undefined : commandIn(ctx, input.text, ANYWHERE_KEYWORDS);
    if (anywhere) return startAnywhere(ctx, state, anywhere);
    // "Hello" and "thank you" get a word back, not a search of the knowledge base.
    const smallTalk = command ? undefined : commandIn(ctx, input.text, SMALL_TALK);
    if (smallTalk) return { replies: [say(t(`smallTalk.${smallTalk}`)), ...(await ask(ctx, state))], state };
    message = command ? { action: { a: command } } : await asTappedChoice(ctx, state, input.text);
  }

  const { action, text } = message;
  if (action && isGlobal(action)) return runGlobal(ctx, state, action.a);
  const anywhere = ANYWHERE.find((j) => j.entry.action.a === action?.a);
  if (anywhere) return startAnywhere(ctx, state, `journey:${anywhere.name}`);
  if (action?.a === 'setLanguage') return setLanguage(ctx, state, action.v);
  if (action && isInquiryAction(action)) return onInquiryAction(ctx, state, action, journeyOf(state.flow));

  const journey = journeyOf(state.flow);
  // A question typed into a name, phone or email field is answered, not stored; the field is asked again.
  if (text !== undefined && journey?.expectsText?.(state.flow) && journey !== inquiry && ctx.services.knowledge.looksLikeQuestion(text)) {
    const answered = await answerQuestion(ctx, state, text, 'field', journey);
    if (answered) return answered;
  }
  const handled = await route(ctx, state, message);
  if (handled) return { ...handled, state: { ...handled.state, misses: undefined } };
  const entered = action && journey ? MENU_JOURNEYS.find((j) => j.entry.action.a === action.a) : undefined;
  if (entered) return switchJourney(ctx, state, entered);
  if (action || text === undefined) return stale(ctx, state);
  const answered = await answerQuestion(ctx, state, text, journey ? 'step' : 'open', journey);
  if (answered) return { ...answered, state: { ...answered.state, misses: undefined } };
  return notUnderstood(ctx, state, text, journey);
}

/**
 * A menu button tapped in the middle of a journey: LINE's rich menu stays under the chat, and
 * an earlier menu bubble stays tappable. Its own journey's button asks the current step again
 * (nothing is lost); another's leaves this journey (letting go of a held time) and starts that one.
 */
async function switchJourney(ctx: TurnContext, state: ConversationState, entered: Journey): Promise<TurnResult> {
  if (entered === journeyOf(state.flow)) return { replies: await ask(ctx, state), state };
  await releaseHold(ctx, state);
  return entered.start(ctx, atMenu(state));
}

/** Three messages in a row the bot cannot place: it offers to pass the last one to a person. */
const MISSES_BEFORE_HANDOFF = 3;

async function notUnderstood(ctx: TurnContext, state: ConversationState, text: string, journey: Journey | undefined): Promise<TurnResult> {
  const t = translator(ctx, state);
  const misses = (state.misses ?? 0) + 1;
  if (misses < MISSES_BEFORE_HANDOFF) return { replies: [say(t('unknown')), ...(await ask(ctx, state))], state: { ...state, misses } };
  const offered = await offerToPass(ctx, state, text, journey);
  return { ...offered, state: { ...offered.state, misses: undefined } };
}

/**
 * While staff hold the ticket the citizen's words go to them and the bot stays silent;
 * the end-chat keyword ("end", or its Japanese; menu and cancel too) ends the conversation with staff.
 */
async function withStaff(ctx: TurnContext, state: ConversationState, ticketId: string): Promise<TurnResult> {
  const { input } = ctx;
  if (input.kind === 'text') {
    const command = commandIn(ctx, input.text, ['menu', 'cancel', 'endChat']);
    if (command) return endHandoff(ctx, state, ticketId);
    return relayToStaff(ctx, state, ticketId, input.text);
  }
  if (input.kind === 'unsupported') return relayToStaff(ctx, state, ticketId, ctx.services.translator('ja')('handoff.nonText'));
  if (input.kind === 'action') {
    const action = decodeAction(input.data);
    if (action?.a === 'menu' || action?.a === 'cancel' || action?.a === 'endChat') return endHandoff(ctx, state, ticketId);
    // Any other button (the rich menu stays on screen) gets the reminder of how to end the chat, not silence.
    return { replies: [say(translator(ctx, state)('handoff.endHint'))], state };
  }
  return { replies: [], state };
}

/** Re-asks the current step, e.g. after a help text or an unreadable message. */
export async function ask(ctx: TurnContext, state: ConversationState): Promise<Reply[]> {
  const { flow } = state;
  const t = translator(ctx, state);
  const journey = journeyOf(flow);
  if (journey) return journey.ask(ctx, state, flow);
  if (flow.name === 'handoff') return [say(t('handoff.endHint'))];
  return askMenu(t);
}

/** The active journey's answer, or a journey started by its menu button. */
async function route(ctx: TurnContext, state: ConversationState, message: Message): Promise<TurnResult | undefined> {
  const { flow } = state;
  const { action } = message;
  const journey = journeyOf(flow);
  if (journey) return journey.handle(ctx, state, flow, message);
  return JOURNEYS.find((j) => j.entry.action.a === action?.a)?.start(ctx, state);
}

async function runGlobal(ctx: TurnContext, state: ConversationState, command: GlobalCommand): Promise<TurnResult> {
  const t = translator(ctx, state);
  switch (command) {
    case 'menu':
      await releaseHold(ctx, state);
      return { replies: askMenu(t), state: atMenu(state) };
    case 'cancel': {
      await releaseHold(ctx, state);
      const note = state.flow.name === 'menu' ? [] : [say(t('cancelled'))];
      return { replies: [...note, ...askMenu(t)], state: atMenu(state) };
    }
    case 'back': {
      const { flow } = state;
      const back = journeyOf(flow)?.back(ctx, state, flow);
      if (back) return back;
      await releaseHold(ctx, state);
      return { replies: askMenu(t), state: atMenu(state) };
    }
    case 'help':
      return { replies: [say(`${t('help')}\n${t('helpNumbers')}`), ...(await ask(ctx, state))], state };
    case 'language':
      return { replies: [say(t('languagePrompt'), languageChoices(ctx))], state };
    case 'decline': {
      // A time offered from the waitlist, turned down: it goes to the next person at once.
      const released = await ctx.services.bookings.declineOffers(ctx.caller.userKey, ctx.now);
      return { replies: [say(t(released > 0 ? 'waitlist.declined' : 'waitlist.nothingHeld')), ...(await ask(ctx, state))], state };
    }
    case 'human': {
      // The conversation stays where it was: the citizen can carry on while the ticket waits.
      const note = await openHandoff(ctx, state, 'requested');
      return { replies: [note, ...(await ask(ctx, state))], state };
    }
  }
}

async function setLanguage(ctx: TurnContext, state: ConversationState, locale: Locale): Promise<TurnResult> {
  const next = { ...state, locale };
  return { replies: [say(translator(ctx, next)('languageChanged')), ...(await ask(ctx, next))], state: next };
}

function languageChoices(ctx: TurnContext): Choice[] {
  return LOCALES.map((v) => ({ ...choice(ctx.services.translator(v)('language.name'), { a: 'setLanguage', v }), lang: v }));
}

async function stale(ctx: TurnContext, state: ConversationState): Promise<TurnResult> {
  return { replies: [say(translator(ctx, state)('stale')), ...(await ask(ctx, state))], state };
}

/** Journeys that start at any step, by their words or their action, rather than from the menu. */
const ANYWHERE: readonly Journey[] = JOURNEYS.filter((j) => j.entry.anywhere);
/** Journeys started from the menu. */
const MENU_JOURNEYS: readonly Journey[] = JOURNEYS.filter((j) => !j.entry.anywhere);
const ANYWHERE_KEYWORDS = ANYWHERE.map((j): Keyword => `journey:${j.name}`);

/** Leaves the current journey (letting go of its hold) and starts one that works at any step. */
async function startAnywhere(ctx: TurnContext, state: ConversationState, keyword: Keyword): Promise<TurnResult> {
  const journey = ANYWHERE.find((j) => `journey:${j.name}` === keyword)!;
  await releaseHold(ctx, state);
  return journey.start(ctx, atMenu(state));
}

/** Leaving a journey lets go of what it holds (a slot). */
async function releaseHold(ctx: TurnContext, state: ConversationState): Promise<void> {
  const { flow } = state;
  await journeyOf(flow)?.release?.(ctx, flow);
}

function isGlobal(action: Action): action is Extract<Action, { a: GlobalCommand }> {
  return (GLOBAL_COMMANDS as readonly string[]).includes(action.a);
}

/** Words people type instead of tapping: keyword → what it means (a journey by its name). */
type Keyword = GlobalCommand | 'endChat' | SmallTalk | `journey:${string}` | `lang:${Locale}`;

const SMALL_TALK = ['hello', 'thanks'] as const;
type SmallTalk = (typeof SMALL_TALK)[number];

/**
 * Every keyword of every language, normalised, built once per translator: typed text is
 * checked on every turn, and re-splitting the locale strings each time was a measurable
 * share of a turn's CPU in the benchmark.
 */
const keywordIndexes = new WeakMap<DialogServices['translator'], Map<string, Keyword>>();

function keywords(ctx: TurnContext): Map<string, Keyword> {
  const translator = ctx.services.translator;
  let index = keywordIndexes.get(translator);
  if (!index) {
    index = new Map();
    const names: [Keyword, string][] = [
      ...[...GLOBAL_COMMANDS, 'endChat' as const, ...SMALL_TALK].map((name): [Keyword, string] => [name, `keywords.${name}`]),
      ...JOURNEYS.map((j): [Keyword, string] => [`journey:${j.name}`, j.entry.keywords]),
    ];
    for (const locale of LOCALES) {
      const t = translator(locale);
      for (const [name, key] of names) for (const word of t(key).split('|')) index.set(normalize(word), name);
    }
    for (const locale of LOCALES) index.set(normalize(translator(locale)('language.name')), `lang:${locale}`);
    keywordIndexes.set(translator, index);
  }
  return index;
}

/** A command typed in any supported language ("menu", "back", "talk to staff", or their Japanese). */
function commandIn<C extends Keyword>(ctx: TurnContext, text: string, commands: readonly C[]): C | undefined {
  const keyword = keywords(ctx).get(normalize(text));
  return commands.find((c) => c === keyword);
}

/**
 * Typed text that names a button on screen counts as tapping it (people type "yes" or
 * "9:30" instead of tapping), and so does its number (see `byNumber`); menu words ("book",
 * "my bookings") work at the menu. At the contact steps typed text is the answer itself.
 */
async function asTappedChoice(ctx: TurnContext, state: ConversationState, text: string): Promise<Message> {
  const { flow } = state;
  const journey = journeyOf(flow);
  if (journey?.expectsText?.(flow)) return { text };
  const typed = normalize(text);
  const keyword = keywords(ctx).get(typed);
  // The language buttons are offered at any step, so their names work at any step too.
  if (keyword?.startsWith('lang:')) return { action: { a: 'setLanguage', v: keyword.slice(5) as Locale } };
  const shown = (await ask(ctx, state)).flatMap((r) => r.choices ?? []);
  const match = shown.find((c) => normalize(c.label) === typed) ?? byNumber(shown, typed);
  const action = match ? decodeAction(match.data) : undefined;
  if (action) return { action };
  const started = flow.name === 'menu' ? JOURNEYS.find((j) => keyword === `journey:${j.name}`) : undefined;
  if (started) return { action: started.entry.action };
  return { text };
}

/**
 * The button typed as its number ("2", "２", "2."): the n-th this step shows, counted as LINE
 * numbers them. A number that is an hour on a button ("10" where "10:00" is shown) is that time.
 */
function byNumber(shown: Choice[], typed: string): Choice | undefined {
  if (!/^\d{1,2}$/.test(typed)) return undefined;
  const n = Number(typed);
  return shown.find((c) => normalize(c.label) === `${n}:00`) ?? shown[n - 1];
}

function translator(ctx: TurnContext, state: ConversationState): Translate {
  return ctx.services.translator(state.locale);
}

