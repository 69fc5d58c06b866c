import { describe, expect, it } from 'vitest';
import { clip, graphemeCount, splitText } from '../src/graphemes.ts';

const FAMILY = '👨‍👩‍👧'; // three people joined by zero-width joiners: 8 code units, one character
const FLAG = '🇯🇵'; // two regional indicators: 4 code units, one character
const ACCENTED = 'e\u0301'; // e and a combining acute accent

/** True when `text` holds half of a surrogate pair. */
function hasLoneSurrogate(text: string): boolean {
  return /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(text);
}

/** The graphemes of `text`, for comparing what was split with what went in. */
function graphemes(text: string): string[] {
  return Array.from(new Intl.Segmenter(undefined, { granularity: 'grapheme' }).segment(text), (s) => s.segment);
}

describe('clip', () => {
  it('leaves a text that fits as it is', () => {
    expect(clip('こんにちは', 5)).toBe('こんにちは');
  });

  it('cuts before an emoji it cannot keep whole, and marks the cut', () => {
    // A plain slice at 4 would keep the first half of the flag's second regional indicator.
    const cut = clip(`ab${FLAG}cd`, 5);
    expect(cut).toBe('ab…');
    expect(hasLoneSurrogate(cut)).toBe(false);
    expect(clip(`a${FAMILY}`, 8)).toBe('a…');
    expect(clip(`abc${ACCENTED}x`, 5)).toBe('abc…');
  });

  it('stays within the limit', () => {
    for (let max = 2; max < 30; max++) expect(clip(`${FAMILY}${FLAG}テキスト${FAMILY}`.repeat(3), max).length).toBeLessThanOrEqual(max);
  });
});

describe('splitText', () => {
  it('returns a text that fits as one part', () => {
    expect(splitText('  短い文です。 ', 100, 5)).toEqual({ parts: ['短い文です。'], cut: false, rest: '' });
  });

  it('ends parts at a paragraph, else a sentence, else a space, when one falls in the last half', () => {
    const paragraphs = `${'あ'.repeat(60)}\n\n${'い'.repeat(30)}。${'う'.repeat(30)}`;
    expect(splitText(paragraphs, 100, 5).parts).toEqual(['あ'.repeat(60), `${'い'.repeat(30)}。${'う'.repeat(30)}`]);
    const sentences = `${'か'.repeat(70)}。「${'き'.repeat(10)}。」${'く'.repeat(50)}`;
    expect(splitText(sentences, 100, 5).parts[0]).toBe(`${'か'.repeat(70)}。「${'き'.repeat(10)}。」`);
    const words = `${'word '.repeat(30)}`;
    expect(splitText(words, 52, 5).parts[0]).toBe('word word word word word word word word word word');
  });

  it('cuts a text with no break at all between graphemes', () => {
    const { parts } = splitText('字'.repeat(250), 100, 5);
    expect(parts.map((p) => p.length)).toEqual([100, 100, 50]);
  });

  it('never splits an emoji, a flag or an accented letter, and keeps every character in order', () => {
    const text = Array.from({ length: 400 }, (_, i) => [FAMILY, FLAG, ACCENTED, '字', '😀'][i % 5]).join('');
    for (const max of [8, 9, 10, 33, 101]) {
      const { parts, cut } = splitText(text, max, 1000);
      expect(cut).toBe(false);
      for (const part of parts) {
        expect(part.length).toBeLessThanOrEqual(max);
        expect(hasLoneSurrogate(part)).toBe(false);
      }
      expect(parts.flatMap(graphemes)).toEqual(graphemes(text));
    }
  });

  it('makes progress through a single character longer than a part, without halving a surrogate pair', () => {
    const zalgo = `Z${'\u0336'.repeat(30)}${'😀'.repeat(3)}`;
    const { parts, cut } = splitText(zalgo, 8, 100);
    expect(cut).toBe(false);
    expect(parts.join('')).toBe(zalgo);
    for (const part of parts) expect(hasLoneSurrogate(part)).toBe(false);
  });

  it('at most maxParts parts: the last ends in an ellipsis within the limit, and rest is what was left out', () => {
    const text = Array.from({ length: 40 }, (_, i) => `文${i}${FAMILY}です。`).join('');
    const { parts, cut, rest } = splitText(text, 50, 3);
    expect(parts).toHaveLength(3);
    expect(cut).toBe(true);
    expect(parts.at(-1)!.endsWith('…')).toBe(true);
    for (const part of parts) expect(part.length).toBeLessThanOrEqual(50);
    expect(parts.join('').replace(/…$/, '') + rest).toBe(text);
    expect(rest.startsWith('文')).toBe(true);
  });
});

describe('graphemeCount', () => {
  it('counts characters as a person does', () => {
    expect(graphemeCount(`${FAMILY}${FLAG}${ACCENTED}字`)).toBe(4);
  });
});
