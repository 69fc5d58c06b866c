/**
 * Cutting and splitting text for channels with length limits, without breaking a character a
 * person sees: an emoji (a surrogate pair, or several joined), a letter with its accents.
 * Lengths are in UTF-16 code units, as LINE and Teams count them.
 */

const segmenter = new Intl.Segmenter(undefined, { granularity: 'grapheme' });

/**
 * The ends of the graphemes of `text` that lie within `max` code units, in order. A first
 * grapheme longer than `max` (a letter under hundreds of combining marks) is cut between its
 * code points instead, so that a part always makes progress and never holds half a surrogate pair.
 */
function ends(text: string, max: number): number[] {
  const found: number[] = [];
  for (const { segment, index } of segmenter.segment(text)) {
    if (index + segment.length > max) break;
    found.push(index + segment.length);
  }
  if (found.length > 0) return found;
  let end = 0;
  for (const codePoint of text) {
    if (end + codePoint.length > max) break;
    end += codePoint.length;
    found.push(end);
  }
  return found;
}

/** How many graphemes (characters as a person counts them) `text` has. */
export function graphemeCount(text: string): number {
  return Array.from(segmenter.segment(text)).length;
}

/** `text` within `max` (at least 2) code units, ending in "…" when it had to be cut. */
export function clip(text: string, max: number): string {
  if (text.length <= max) return text;
  return `${text.slice(0, ends(text, max - 1).at(-1) ?? 0).trimEnd()}…`;
}

/**
 * Where a part may end, best first: after a blank line, a line, a sentence (Japanese or
 * Western full stops, with a closing bracket or quote after it), a clause (Japanese commas),
 * a space.
 */
const BREAKS = [/\n[^\S\n]*\n\s*/g, /\n\s*/g, /(?:[\u3002\uff0e\uff01\uff1f]+|[.!?]+(?=\s))[\u300d\u300f\uff09)"'’”]*\s*/g, /[\u3001\uff0c]\s*/g, /\s+/g];

/** The end of the next part of `text` (at most `max` code units): the latest good break in its last half, else as much as fits. */
function partEnd(text: string, max: number): number {
  const fits = ends(text, max);
  const boundaries = new Set(fits);
  const window = text.slice(0, fits.at(-1));
  for (const pattern of BREAKS) {
    let best = -1;
    for (const m of window.matchAll(pattern)) {
      const end = m.index + m[0].length;
      if (boundaries.has(end)) best = end;
    }
    if (best >= max / 2) return best;
  }
  return window.length;
}

/**
 * `text` as up to `maxParts` parts of at most `max` code units each, split at paragraph,
 * line, sentence, clause or word ends where it can and never inside a grapheme. When it
 * does not fit, `cut` is set, the last part ends in "…" and `rest` is what was left out.
 */
export function splitText(text: string, max: number, maxParts: number): { parts: string[]; cut: boolean; rest: string } {
  const parts: string[] = [];
  let rest = text.trim();
  while (rest.length > 0 && parts.length < maxParts) {
    if (rest.length <= max) {
      parts.push(rest);
      rest = '';
      break;
    }
    const last = parts.length === maxParts - 1;
    // The last part keeps a code unit for the ellipsis that says more was left out.
    const end = partEnd(rest, last ? max - 1 : max);
    parts.push(last ? `${rest.slice(0, end).trimEnd()}…` : rest.slice(0, end).trimEnd());
    rest = rest.slice(end).trimStart();
  }
  return { parts, cut: rest.length > 0, rest };
}
