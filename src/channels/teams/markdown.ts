/**
 * What staff write in Teams, as plain text for a citizen's chat. Teams sends a message's
 * formatting in `text` as Markdown (`**bold**`, `_italics_`, `[label](url)`, lists,
 * headings, code), some of it as HTML tags, and characters as HTML entities; LINE would show
 * all of that literally. Links keep their address (`label (url)`), list items a bullet,
 * code its text; everything else of the words is kept as written.
 */

/** Formatting tags Teams may put in a message's text; other `<…>` is the writer's own. */
const TAGS = 'a|at|b|strong|i|em|u|s|strike|del|ins|code|pre|span|font|p|div|br|hr|ul|ol|li|h[1-6]|blockquote|sup|sub';
const BLOCK_END = /<\/(?:p|div|pre|ul|ol|h[1-6]|blockquote)>|<(?:br|hr)\b[^>]*>/gi;
const ANCHOR = /<a\b[^>]*?\bhref\s*=\s*(?:"([^"]*)"|'([^']*)')[^>]*>([\s\S]*?)<\/a>/gi;
const OTHER_TAG = new RegExp(`</?(?:${TAGS})\\b[^>]*>`, 'gi');

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: ' ' };

/** `&amp;`, `&#39;`, `&#x1F600;` → the characters; an unknown or invalid entity stays as written. */
function decodeEntities(text: string): string {
  return text.replace(/&(?:#(\d{1,7})|#x([\da-f]{1,6})|(\w+));/gi, (whole, dec: string | undefined, hex: string | undefined, name: string | undefined) => {
    if (name !== undefined) return Object.hasOwn(ENTITIES, name.toLowerCase()) ? ENTITIES[name.toLowerCase()]! : whole;
    const code = dec !== undefined ? Number(dec) : Number.parseInt(hex!, 16);
    const valid = code > 0 && code <= 0x10ffff && !(code >= 0xd800 && code <= 0xdfff);
    return valid ? String.fromCodePoint(code) : whole;
  });
}

/** A link as plain text: its address after its label, once when they are the same. */
function link(label: string, url: string): string {
  const address = url.trim().replace(/^mailto:/i, '');
  const words = label.trim();
  return !words || words === address || words === url.trim() ? address : `${words} (${address})`;
}

/** The HTML Teams may send (tags of formatting, line breaks, links) as plain text with line breaks. */
function fromHtml(text: string): string {
  return text
    .replace(ANCHOR, (_, double: string | undefined, single: string | undefined, label: string) => link(label.replace(OTHER_TAG, ''), double ?? single ?? ''))
    .replace(/<li\b[^>]*>/gi, '\n• ')
    .replace(BLOCK_END, '\n')
    .replace(OTHER_TAG, '');
}

/** Start and end of a stand-in for a piece of a line that Markdown must not touch (code, a link, an address). */
const HOLD = '\ue000';
const HELD = '\ue001';
const HELD_TOKEN = new RegExp(`${HOLD}(\\d+)${HELD}`, 'g');

/** Bold, italics and strikethrough marks taken out (an underscore inside a word is the word's own). */
function unemphasised(text: string): string {
  return text
    .replace(/\*\*(?=\S)([\s\S]*?\S)\*\*/g, '$1')
    .replace(/(^|[^\p{L}\p{N}_])__(?=\S)([\s\S]*?\S)__(?![\p{L}\p{N}_])/gu, '$1$2')
    .replace(/~~(?=\S)([\s\S]*?\S)~~/g, '$1')
    .replace(/\*(?=[^\s*])([^*]*?[^\s*])\*/g, '$1')
    .replace(/(^|[^\p{L}\p{N}_])_(?=[^\s_])([^_]*?[^\s_])_(?![\p{L}\p{N}_])/gu, '$1$2');
}

/** An address written out in a line: it ends before closing punctuation (Japanese too) and emphasis marks. */
const ADDRESS = /\b(?:https?:\/\/|www\.)[^\s<>]*[^\s<>*_.,;:!?'"()\[\]\u3002\u3001\uff0c\uff0e\uff01\uff1f\uff09\u300d\u300f]/gi;

/**
 * The inline Markdown of one line as plain text. Code spans, escaped characters, links and
 * addresses are set aside first, so that an underscore in a URL is never taken for italics.
 */
function inline(line: string): string {
  const held: string[] = [];
  const hold = (text: string) => `${HOLD}${held.push(text) - 1}${HELD}`;
  const restore = (text: string): string => text.replace(HELD_TOKEN, (_, i: string) => restore(held[Number(i)]!));
  const out = line
    .replace(/(`+)([^`]|[^`][\s\S]*?[^`])\1(?!`)/g, (_, _ticks, code: string) => hold(code.trim() || code))
    .replace(/\\([\\`*_{}[\]()#+\-.!~|<>])/g, (_, char: string) => hold(char))
    .replace(/!?\[([^\]]*)\]\(\s*<?((?:[^()\s<>]|\([^()\s]*\))+)>?(?:\s+(?:"[^"]*"|'[^']*'))?\s*\)/g, (_, label: string, url: string) =>
      hold(link(unemphasised(restore(label)), url)),
    )
    .replace(/<((?:https?:\/\/|mailto:)[^<>\s]+)>/gi, (_, url: string) => hold(link('', url)))
    .replace(ADDRESS, (url) => hold(url));
  return restore(unemphasised(out));
}

/** One line of Markdown outside code: its heading, quote, rule and bullet marks dropped or made plain. */
function block(line: string): string {
  if (/^ {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$/.test(line)) return '';
  const unquoted = line.replace(/^ {0,3}(?:>[ \t]?)+/, '');
  const heading = /^ {0,3}#{1,6}(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$/.exec(unquoted);
  if (heading) return inline(heading[1] ?? '');
  const bullet = /^([ \t]*)[-*+][ \t]+(.*)$/.exec(unquoted);
  if (bullet) return `${bullet[1]}• ${inline(bullet[2]!)}`;
  return inline(unquoted);
}

/**
 * A staff message from Teams as plain text: Markdown and HTML formatting taken out, links
 * as `label (url)`, entities decoded, fenced code kept line for line, at most one blank
 * line in a row, no spaces at line ends.
 */
export function plainText(text: string): string {
  const lines = fromHtml(text.replace(/\r\n?/g, '\n').replaceAll(HOLD, '').replaceAll(HELD, '')).split('\n');
  const out: string[] = [];
  let fence: string | undefined;
  for (const line of lines) {
    const marker = /^ {0,3}(`{3,}|~{3,})/.exec(line)?.[1];
    if (marker && (fence === undefined || (marker[0] === fence[0] && marker.length >= fence.length))) {
      fence = fence === undefined ? marker : undefined;
      continue;
    }
    out.push(fence === undefined ? block(line) : line);
  }
  return decodeEntities(out.join('\n'))
    .replace(/[ \t]+$/gm, '')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}
