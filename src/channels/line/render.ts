/**
 * Channel-neutral replies → LINE messages, sized for a phone and usable on LINE for PC.
 *
 * A text without buttons stays a text message. A card, or a text with buttons, becomes a Flex
 * bubble with its buttons inside, as postbacks whose display text echoes the label in the
 * chat: LINE for PC shows no quick replies, and a phone's vanish once another message comes.
 * Buttons of one `group` (morning, afternoon) sit under its heading; short labels share a
 * row; a `numbered` reply shows each button's number, its place among the answer's buttons,
 * which the citizen may type instead (`dialogs/index.ts`). The same buttons are also the quick
 * replies of the last message: the phone's shortcut.
 *
 * A bubble's alt text, which LINE shows in notifications and the chat list, is the reply's
 * `alt`, else a text's own words or a card's title: never a card's fields. An answer is at
 * most three messages; beyond that, neighbouring texts are joined.
 */
import type { messagingApi } from '@line/bot-sdk';
import { clip } from '../../graphemes.ts';
import type { Choice, Link, Reply } from '../../turn.ts';

type Message = messagingApi.Message;
type Component = messagingApi.FlexComponent;

/** LINE's limits: quick reply items and their labels, text length, alt text, button labels, a postback's display text. */
const MAX_QUICK_REPLIES = 13;
const MAX_QUICK_LABEL = 20;
const MAX_TEXT = 5000;
const MAX_ALT_TEXT = 400;
const MAX_BUTTON_LABEL = 40;
const MAX_DISPLAY_TEXT = 300;
/**
 * Ours, to stay well inside LINE's 30 KB per bubble: the text of one component and the
 * buttons of one bubble (twice what any step offers).
 */
const MAX_BUBBLE_TEXT = 2000;
const MAX_BUTTONS = 24;
/** Messages per answer: what a phone shows without scrolling back. */
const MAX_MESSAGES = 3;
/** The widest label (see `width`) that shares a row with two others, with one, or fits a row unshrunk. */
const THREE_A_ROW = 8;
const TWO_A_ROW = 14;
const ONE_A_ROW = 30;

/** Characters that take two columns: CJK, kana, hangul, full-width forms. */
const WIDE = /[\u1100-\u115f\u2e80-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6]/g;

/** A label's rough width on screen, in half-width columns. */
function width(label: string): number {
  return label.length + (label.match(WIDE)?.length ?? 0);
}

/** A button with its number in the answer (from 1). */
interface Numbered {
  choice: Choice;
  n: number;
}

function postback(choice: Choice, max: number): messagingApi.PostbackAction {
  return { type: 'postback', label: clip(choice.label, max), data: choice.data, displayText: clip(choice.label, MAX_DISPLAY_TEXT) };
}

function button(choice: Choice): messagingApi.FlexButton {
  const long = width(choice.label) > ONE_A_ROW;
  return { type: 'button', style: 'secondary', height: 'sm', ...(long ? { adjustMode: 'shrink-to-fit' as const } : {}), action: postback(choice, MAX_BUTTON_LABEL) };
}

function text(words: string, size: string, extra: Partial<messagingApi.FlexText> = {}): messagingApi.FlexText {
  return { type: 'text', text: clip(words, MAX_BUBBLE_TEXT) || ' ', size, wrap: true, ...extra };
}

/** Rows of buttons: one a row with its number, or side by side as their labels allow. */
function buttonRows(items: Numbered[], numbered: boolean): Component[] {
  if (numbered) {
    return items.map(({ choice, n }) => ({
      type: 'box',
      layout: 'horizontal',
      spacing: 'md',
      contents: [text(String(n), 'sm', { flex: 0, gravity: 'center', weight: 'bold', wrap: false }), button(choice)],
    }));
  }
  const widest = Math.max(...items.map(({ choice }) => width(choice.label)));
  const perRow = widest <= THREE_A_ROW ? 3 : widest <= TWO_A_ROW ? 2 : 1;
  if (perRow === 1) return items.map(({ choice }) => button(choice));
  const rows: Component[] = [];
  for (let i = 0; i < items.length; i += perRow) {
    const row: Component[] = items.slice(i, i + perRow).map(({ choice }) => button(choice));
    // A short last row keeps the others' widths.
    while (row.length < perRow) row.push({ type: 'filler' });
    rows.push({ type: 'box', layout: 'horizontal', spacing: 'sm', contents: row });
  }
  return rows;
}

function linkButton(link: Link): messagingApi.FlexButton {
  return { type: 'button', style: 'link', height: 'sm', action: { type: 'uri', label: clip(link.label, MAX_BUTTON_LABEL), uri: link.uri } };
}

/** What a notification or the chat list shows of the reply: its `alt`, a text's words, a card's title (never its fields). */
function altOf(reply: Reply): string {
  const alt = reply.alt ?? (reply.kind === 'card' ? reply.title : reply.text);
  const shown = alt.trim() || (reply.choices ?? []).map((c) => c.label).join(' / ');
  return clip(shown, MAX_ALT_TEXT);
}

/** A reply as one bubble: its words, its fields, its buttons (by heading, then the rest), its links. */
function bubble(reply: Reply, first: number): messagingApi.FlexMessage {
  const body: Component[] = [];
  if (reply.kind === 'card') {
    body.push(text(reply.title, 'md', { weight: 'bold' }));
    if (reply.fields.length > 0) {
      const rows = reply.fields.map(
        (f): Component => ({
          type: 'box',
          layout: 'baseline',
          spacing: 'sm',
          contents: [text(f.label, 'sm', { color: '#555555', flex: 2 }), text(f.value || '-', 'sm', { color: '#111111', flex: 5 })],
        }),
      );
      body.push({ type: 'box', layout: 'vertical', spacing: 'sm', contents: rows });
    }
    if (reply.text) body.push(text(reply.text, 'sm'));
  } else if (reply.text.length > 0) {
    body.push(text(reply.text, 'md'));
  }
  const numbered = reply.numbered === true;
  const items = (reply.choices ?? []).slice(0, MAX_BUTTONS).map((choice, i) => ({ choice, n: first + i }));
  const headings = [...new Set(items.flatMap(({ choice }) => (choice.group === undefined ? [] : [choice.group])))];
  for (const heading of headings) {
    body.push(text(heading, 'sm', { weight: 'bold', margin: 'lg' }), ...buttonRows(items.filter(({ choice }) => choice.group === heading), numbered));
  }
  const loose = items.filter(({ choice }) => choice.group === undefined);
  const footer: Component[] = [...(loose.length > 0 ? buttonRows(loose, numbered) : []), ...(reply.kind === 'card' ? (reply.links ?? []) : []).map(linkButton)];
  const contents: messagingApi.FlexBubble = {
    type: 'bubble',
    ...(body.length > 0 ? { body: { type: 'box', layout: 'vertical', spacing: 'sm', contents: body } } : {}),
    ...(footer.length > 0 ? { footer: { type: 'box', layout: 'vertical', spacing: 'sm', contents: footer } } : {}),
  };
  return { type: 'flex', altText: altOf(reply), contents };
}

function quickReply(choices: Choice[]): messagingApi.QuickReply {
  return { items: choices.slice(0, MAX_QUICK_REPLIES).map((c) => ({ type: 'action', action: postback(c, MAX_QUICK_LABEL) })) };
}

/** Joins neighbouring texts, earliest first, until the answer is `MAX_MESSAGES` long (or no two texts are neighbours). */
function fitted(messages: Message[]): Message[] {
  const out = [...messages];
  for (let i = 0; out.length > MAX_MESSAGES && i < out.length - 1; ) {
    const [a, b] = [out[i]!, out[i + 1]!];
    if (a.type === 'text' && b.type === 'text' && a.text.length + b.text.length + 2 <= MAX_TEXT) out.splice(i, 2, { type: 'text', text: `${a.text}\n\n${b.text}` });
    else i++;
  }
  return out;
}

/** Renders one answer's replies as LINE messages, in order. */
export function renderLine(replies: Reply[]): Message[] {
  const messages: Message[] = [];
  let shown = 0;
  for (const reply of replies) {
    const choices = reply.choices ?? [];
    if (reply.kind === 'card' || choices.length > 0) messages.push(bubble(reply, shown + 1));
    else if (reply.text.length > 0) messages.push({ type: 'text', text: clip(reply.text, MAX_TEXT) });
    shown += choices.length;
  }
  const answer = fitted(messages);
  const choices = replies.flatMap((r) => r.choices ?? []);
  const last = answer.at(-1);
  if (last && choices.length > 0) last.quickReply = quickReply(choices);
  return answer;
}
