/**
 * Reading LINE messages as the bot sent them, for the LINE tests: the buttons inside a Flex
 * bubble (never the quick replies), with the number shown beside each, and the alt texts.
 */
import type { SentMessage } from '../../support/lineStub.ts';

/** A postback button in a bubble: its label, its data, and the number shown beside it, if any. */
export interface BubbleButton {
  label: string;
  data: string;
  number?: number;
}

interface Node {
  type?: string;
  text?: string;
  layout?: string;
  contents?: Node[] | Node;
  body?: Node;
  footer?: Node;
  header?: Node;
  action?: { type: string; label?: string; data?: string };
}

/** The postback buttons of a message's bubble(s), in the order they are laid out. */
export function bubbleButtons(message: SentMessage): BubbleButton[] {
  const out: BubbleButton[] = [];
  const walk = (node: Node | undefined): void => {
    if (!node) return;
    if (node.type === 'button' && node.action?.type === 'postback') {
      out.push({ label: node.action.label!, data: node.action.data! });
      return;
    }
    // A numbered row: the number, then its button.
    const parts = Array.isArray(node.contents) ? node.contents : [];
    const [first, second] = parts;
    if (node.layout === 'horizontal' && parts.length === 2 && first?.type === 'text' && /^\d+$/.test(first.text ?? '') && second?.type === 'button' && second.action?.type === 'postback') {
      out.push({ label: second.action.label!, data: second.action.data!, number: Number(first.text) });
      return;
    }
    for (const part of [node.header, node.body, node.footer, ...(Array.isArray(node.contents) ? node.contents : node.contents ? [node.contents] : [])]) walk(part);
  };
  walk(message.contents as Node | undefined);
  return out;
}

/** Every bubble button of an answer. */
export function answerButtons(messages: SentMessage[]): BubbleButton[] {
  return messages.flatMap(bubbleButtons);
}

/** The words inside an answer's bubbles and texts, as a person reads them. */
export function wordsOf(messages: SentMessage[]): string {
  const words: string[] = [];
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) node.forEach(walk);
    else if (node && typeof node === 'object') {
      const n = node as Node;
      if (n.type === 'text' && typeof n.text === 'string') words.push(n.text);
      for (const value of Object.values(n)) if (typeof value === 'object') walk(value);
    }
  };
  for (const m of messages) {
    if (m.type === 'text') words.push(m.text ?? '');
    else walk(m.contents);
  }
  return words.join('\n');
}
