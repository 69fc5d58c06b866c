/**
 * Channel-neutral replies → LINE messages. Text stays text; a card becomes a Flex bubble;
 * buttons become quick replies on the last message (LINE shows them only there), as
 * postbacks whose display text echoes the label in the chat.
 */
import type { messagingApi } from '@line/bot-sdk';
import type { Choice, Reply } from '../../turn.ts';

type Message = messagingApi.Message;

/** LINE's limits: quick reply items per message, label length, text length, alt text length. */
const MAX_QUICK_REPLIES = 13;
const MAX_LABEL = 20;
const MAX_TEXT = 5000;
const MAX_ALT_TEXT = 400;
const MAX_BUTTON_LABEL = 40;

function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

function card(reply: Extract<Reply, { kind: 'card' }>): messagingApi.FlexMessage {
  const rows: messagingApi.FlexComponent[] = reply.fields.map((f) => ({
    type: 'box',
    layout: 'baseline',
    spacing: 'sm',
    contents: [
      { type: 'text', text: f.label || ' ', size: 'sm', color: '#666666', flex: 2, wrap: true },
      { type: 'text', text: f.value || '-', size: 'sm', color: '#111111', flex: 5, wrap: true },
    ],
  }));
  const body: messagingApi.FlexComponent[] = [
    { type: 'text', text: reply.title, weight: 'bold', size: 'md', wrap: true },
    { type: 'box', layout: 'vertical', spacing: 'sm', margin: 'md', contents: rows },
  ];
  if (reply.text) body.push({ type: 'text', text: reply.text, size: 'sm', wrap: true, margin: 'md' });
  const alt = [reply.title, ...reply.fields.map((f) => `${f.label}: ${f.value}`)].join('\n');
  // Links (a city page, a tap to call) are buttons inside the bubble: they open, not reply.
  const footer: messagingApi.FlexBox | undefined = reply.links?.length
    ? {
        type: 'box',
        layout: 'vertical',
        spacing: 'sm',
        contents: reply.links.map((l) => ({ type: 'button', style: 'link', height: 'sm', action: { type: 'uri', label: clip(l.label, MAX_BUTTON_LABEL), uri: l.uri } })),
      }
    : undefined;
  return {
    type: 'flex',
    altText: clip(alt, MAX_ALT_TEXT),
    contents: { type: 'bubble', body: { type: 'box', layout: 'vertical', contents: body }, ...(footer ? { footer } : {}) },
  };
}

function quickReply(choices: Choice[]): messagingApi.QuickReply {
  return {
    items: choices.slice(0, MAX_QUICK_REPLIES).map((c) => ({
      type: 'action',
      action: { type: 'postback', label: clip(c.label, MAX_LABEL), data: c.data, displayText: c.label },
    })),
  };
}

/** Renders replies as LINE messages, in order. */
export function renderLine(replies: Reply[]): Message[] {
  const messages: Message[] = replies
    .filter((r) => r.kind === 'card' || r.text.length > 0)
    .map((r) => (r.kind === 'card' ? card(r) : { type: 'text', text: clip(r.text, MAX_TEXT) }));
  const choices = replies.flatMap((r) => r.choices ?? []);
  const last = messages.at(-1);
  if (last && choices.length > 0) last.quickReply = quickReply(choices);
  return messages;
}
