/**
 * What the Teams mobile apps render: Adaptive Cards of schema 1.2 at most. The elements and
 * properties below are those the 1.2 schema defines (microsoft/AdaptiveCards,
 * `schemas/1.2.0/adaptive-card.json`), for the elements the bot may use; anything newer
 * (`Input.*` `label`/`isRequired`/`errorMessage` 1.3, `Action.Execute` 1.4, `Table` and
 * `style: "heading"` 1.5, …) is not on the list and fails the check. Teams messages are
 * refused much over 28 KB.
 */
import { expect } from 'vitest';

/** Properties every 1.2 element has (`Extendable.Element`). */
const ELEMENT = ['type', 'id', 'spacing', 'separator', 'height', 'isVisible', 'fallback', 'requires'];
/** Properties every 1.2 action has (`Extendable.Action`). */
const ACTION = ['type', 'id', 'title', 'iconUrl', 'style', 'fallback', 'requires'];

const PROPERTIES: Record<string, string[]> = {
  TextBlock: [...ELEMENT, 'text', 'color', 'fontType', 'horizontalAlignment', 'isSubtle', 'maxLines', 'size', 'weight', 'wrap'],
  FactSet: [...ELEMENT, 'facts'],
  Container: [...ELEMENT, 'items', 'selectAction', 'style', 'verticalContentAlignment', 'bleed', 'backgroundImage', 'minHeight'],
  ColumnSet: [...ELEMENT, 'columns', 'selectAction', 'style', 'bleed', 'backgroundImage', 'minHeight'],
  ActionSet: [...ELEMENT, 'actions'],
  'Action.Submit': [...ACTION, 'data'],
  'Action.OpenUrl': [...ACTION, 'url'],
  'Action.ShowCard': [...ACTION, 'card'],
  'Action.ToggleVisibility': [...ACTION, 'targetElements'],
};
/** The card itself; `msteams` is Teams' own extension (full width). */
const CARD = ['type', 'version', '$schema', 'body', 'actions', 'fallbackText', 'msteams', 'selectAction', 'style', 'backgroundImage', 'minHeight', 'speak', 'lang', 'verticalContentAlignment'];

const CONTAINER_STYLES = ['default', 'emphasis', 'good', 'attention', 'warning', 'accent'];
const ACTION_STYLES = ['default', 'positive', 'destructive'];

/** Teams refuses a message much over this through the connector. */
export const TEAMS_MESSAGE_LIMIT = 28 * 1024;

function checkNode(node: unknown, path: string): void {
  if (Array.isArray(node)) return node.forEach((n, i) => checkNode(n, `${path}[${i}]`));
  if (typeof node !== 'object' || node === null) return;
  const n = node as Record<string, unknown>;
  const type = n.type;
  expect(typeof type, `${path}: an element without a type`).toBe('string');
  if (type === 'AdaptiveCard') {
    // A card inside Action.ShowCard.
    for (const key of Object.keys(n)) expect(CARD, `${path}.${key}`).toContain(key);
  } else {
    const allowed = PROPERTIES[type as string];
    expect(allowed, `${path}: ${String(type)} is not an Adaptive Cards 1.2 element the bot may use`).toBeDefined();
    for (const key of Object.keys(n)) expect(allowed, `${path}: ${String(type)}.${key}`).toContain(key);
  }
  if (n.style !== undefined) expect(String(type).startsWith('Action.') ? ACTION_STYLES : CONTAINER_STYLES, `${path}.style`).toContain(String(n.style).toLowerCase());
  if (Array.isArray(n.facts)) for (const [i, fact] of n.facts.entries()) expect(Object.keys(fact as object).sort(), `${path}.facts[${i}]`).toEqual(['title', 'value']);
  for (const key of ['body', 'items', 'actions', 'columns']) if (n[key] !== undefined) checkNode(n[key], `${path}.${key}`);
  if (n.card !== undefined) checkNode(n.card, `${path}.card`);
}

/** The activity Teams would get for a card (as the transport sends it), in bytes of JSON. */
export function messageBytes(card: unknown, summary: string): number {
  return Buffer.byteLength(JSON.stringify({ type: 'message', summary, attachments: [{ contentType: 'application/vnd.microsoft.card.adaptive', content: card }] }));
}

/** Fails unless `card` is a 1.2 card of 1.2 elements and properties only, with a fallback text, within a Teams message. */
export function expectTeamsMobileCard(card: unknown, summary = ''): void {
  const c = card as Record<string, unknown>;
  expect(c.type).toBe('AdaptiveCard');
  expect(c.version).toBe('1.2');
  expect(typeof c.fallbackText === 'string' && c.fallbackText.length > 0, 'fallbackText').toBe(true);
  expect(c.msteams).toEqual({ width: 'Full' });
  for (const key of Object.keys(c)) expect(CARD, key).toContain(key);
  checkNode(c.body, 'body');
  if (c.actions !== undefined) checkNode(c.actions, 'actions');
  expect(messageBytes(card, summary)).toBeLessThan(TEAMS_MESSAGE_LIMIT);
}
