/**
 * Text as the question matcher and the urgent check see it. Most search libraries split
 * on spaces, and a Japanese sentence has none, so the knowledge base, the urgent patterns
 * and every question go through the same folding, and the matcher cuts both sides into
 * the same features: character bigrams inside Japanese runs, words in Latin runs.
 */

/** Katakana (U+30A1..U+30F6) → hiragana, so that sodaigomi in either script meets; the long-vowel mark is kept. */
function toHiragana(text: string): string {
  return text.replace(/[\u30a1-\u30f6]/g, (c) => {
    if (c === '\u30f5') return '\u304b'; // the small katakana ka reads as the hiragana ka
    if (c === '\u30f6') return '\u3051'; // the small ke of place names is written as a full ke as often
    return String.fromCharCode(c.charCodeAt(0) - 0x60);
  });
}

const JAPANESE = '\\p{Script=Han}\\p{Script=Hiragana}\\p{Script=Katakana}\u30fc\u3005';
const SPACE_INSIDE_JAPANESE = new RegExp(`(?<=[${JAPANESE}])\\s+(?=[${JAPANESE}])`, 'gu');
/** A single kana between two kanji is okurigana (moushikomi with or without its kana): written or not, it is the same word. */
const OKURIGANA = /(?<=\p{Script=Han})[\u3041-\u3093](?=\p{Script=Han})/gu;
const DASHES = /[\u2010-\u2015\u2212\uff0d\ufe63]/g;
const WAVES = /[\u301c\uff5e\u223c]/g;
const PUNCTUATION = /[\p{P}\p{S}]+/gu;

/**
 * Folds the ways one text can be typed into one: NFKC (half-width kana, full-width
 * Latin), lower case, katakana as hiragana, one dash and one wave dash, and no spaces
 * inside Japanese (easy Japanese puts spaces between words). Punctuation stays.
 */
export function foldText(text: string): string {
  return toHiragana(text.normalize('NFKC').toLowerCase())
    .replace(DASHES, '-')
    .replace(WAVES, '~')
    .replace(SPACE_INSIDE_JAPANESE, '')
    .replace(/\s+/g, ' ')
    .trim();
}

/** `foldText`, then okurigana dropped between kanji and punctuation as spaces: what the matcher indexes. */
export function normalizeForSearch(text: string): string {
  return foldText(text)
    .replace(/[.](?=\d)/g, '\ue000') // keep the "2.5" of PM2.5 whole through punctuation stripping
    .replace(PUNCTUATION, ' ')
    .replace(/\ue000/g, '.')
    .replace(SPACE_INSIDE_JAPANESE, '')
    .replace(OKURIGANA, '')
    .replace(/\s+/g, ' ')
    .trim();
}

const RUN = new RegExp(`[${JAPANESE}]+|[a-z0-9.]+`, 'gu');

/** English words that carry no topic. */
const STOPWORDS = new Set(
  'a an the i me my we our you your it its is are am was be been do does did can could would should will shall to of in on at for from by with and or how what where when which who why there this that these those have has get want need please about any some if'.split(
    ' ',
  ),
);

/** A crude English stemmer: enough that "books", "booking" and "booked" meet. */
function stem(word: string): string {
  if (word.length <= 4) return word;
  return word.replace(/(ing|ed|es|s)$/, '');
}

/**
 * The features of normalised text: bigrams of each Japanese run (a one-character run is
 * itself a feature), stemmed words of each Latin run (digits kept whole: 119, pm2.5).
 */
export function features(normalized: string): string[] {
  const out = featuresOf(normalized, true);
  // A question made of common words only ("what can you do?") is still a question.
  return out.length > 0 ? out : featuresOf(normalized, false);
}

function featuresOf(normalized: string, dropStopwords: boolean): string[] {
  const out: string[] = [];
  for (const [run] of normalized.matchAll(RUN)) {
    if (/^[a-z0-9.]/.test(run)) {
      const word = run.replace(/^\.+|\.+$/g, '');
      if (word && !(dropStopwords && STOPWORDS.has(word))) out.push(stem(word));
      continue;
    }
    if (run.length === 1) {
      out.push(run);
      continue;
    }
    for (let i = 0; i + 1 < run.length; i++) out.push(run.slice(i, i + 2));
  }
  return out;
}
