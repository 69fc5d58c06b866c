/**
 * Finds the knowledge-base entry a typed question is about, with a confidence between 0
 * and 1, and sorts the outcome into three bands, as good FAQ engines do:
 *
 * - `answer`: confident, and the runner-up is not close: answer it.
 * - `suggest`: close or middling: offer at most three entries ("did you mean…").
 * - `unknown`: say so plainly and offer a person.
 *
 * The confidence is an IDF-weighted cosine between the question's features and one
 * question variant of an entry, the variant widened by the entry's keywords that the
 * question contains (so "sofa" counts as bulky waste). Features the knowledge base has never
 * seen weigh the most: a question about something else (a pothole in the road) shares
 * little with any entry and scores low. A question that names another city or agency
 * is never answered for Kawasaki.
 */
import type { KnowledgeBase, KnowledgeEntry } from './knowledge.ts';
import type { Reader } from './reading.ts';
import { features, foldText, normalizeForSearch } from './searchText.ts';

/** Where the bands split; chosen by `npm run eval:faq`'s sweep and set in config. */
export interface FaqThresholds {
  /** Lowest confidence answered outright. */
  answer: number;
  /** How far ahead of the runner-up an answer must be. */
  margin: number;
  /** Lowest confidence offered as "did you mean". */
  offer: number;
}

/** An entry and how well the question matches it (0-1). */
export interface FaqMatch {
  entry: KnowledgeEntry;
  score: number;
}

export type FaqResult =
  /** `related`: the runners-up worth a button under the answer ("other questions"). */
  | { band: 'answer'; best: FaqMatch; related: FaqMatch[]; nearest: FaqMatch[] }
  | { band: 'suggest'; offers: FaqMatch[]; nearest: FaqMatch[] }
  /** `elsewhere`: the question names another city or agency. */
  | { band: 'unknown'; nearest: FaqMatch[]; elsewhere: boolean };

const HAN = /\p{Script=Han}/u;
const NONE: ReadonlySet<string> = new Set();

/** Entries offered at most as "did you mean" (LINE buttons, and a short list to read). */
export const MAX_OFFERS = 3;
/** An offer must be at least this share of the best score, or it is noise. */
const OFFER_SHARE = 0.35;
/**
 * Weight of the entry's whole vocabulary against its best single variant when ranking.
 * The vocabulary finds the entry whose words cover the question; the variant keeps the
 * confidence honest (one question like this one was written down). 0.7 ranked best on the
 * labelled set (top-1 90 % against 87 % for variants alone and 88 % for vocabulary alone).
 */
const VOCABULARY_WEIGHT = 0.7;

interface IndexedEntry {
  entry: KnowledgeEntry;
  /** Its variants' global indexes: `first` up to `first + variants.length`. */
  first: number;
  /** Σ w² of each question variant's features. */
  variantNorms: number[];
  /** Σ w² of every feature of the entry (variants and keywords): its vocabulary as a whole. */
  bagNorm: number;
  variants: Set<string>[];
  /** Latin keywords, matched when all their words are in the question. */
  words: string[][];
}

/** A Japanese keyword of an entry, matched as a substring of the normalised question. */
interface Phrase {
  entry: number;
  text: string;
  features: string[];
}

/** The matcher over one knowledge base; build once at start-up. */
export class FaqMatcher {
  private readonly entries: IndexedEntry[];
  /** Feature → weight (IDF over entries); features never seen weigh `unseen`. */
  private readonly idf = new Map<string, number>();
  private readonly unseen: number;
  /** Feature → the variants that have it (global indexes): a question touches only those. */
  private readonly postings = new Map<string, Int32Array>();
  /** Feature → the entries whose vocabulary has it. */
  private readonly bagPostings = new Map<string, Int32Array>();
  private readonly variantCount: number;
  /** Japanese keywords by their first two characters (or one, for a one-character keyword). */
  private readonly phrases = new Map<string, Phrase[]>();
  private readonly elsewhere: { names: string[]; place: RegExp; home: Set<string> };
  private readonly thresholds: FaqThresholds;
  private readonly byId = new Map<string, KnowledgeEntry>();
  /**
   * Readings of the kanji words of the knowledge base's own texts (surface → reading, both
   * folded), learnt from the analyser at build time: a question's words are looked up here
   * instead of running the analyser on every question (a third of a turn's CPU).
   */
  private readonly readings = new Map<string, string>();
  private longestWord = 0;

  /**
   * `reader` adds the bigrams of each text's reading to its own, on both sides; without
   * one, kana and kanji spellings of a word meet only through the data's keywords.
   */
  constructor(kb: KnowledgeBase, thresholds: FaqThresholds, reader?: Reader) {
    this.thresholds = thresholds;
    if (reader) this.learnReadings(kb, reader);
    const df = new Map<string, number>();
    const raw = kb.entries.map((entry) => {
      this.byId.set(entry.id, entry);
      const texts = [...entry.questions.ja, ...entry.questions.en, entry.title.ja, entry.title.en];
      const variants = texts.map((t) => this.featuresOf(t));
      const keywords = [...entry.keywords.ja, ...entry.keywords.en].map(normalizeForSearch).filter((k) => k.length > 0);
      const bag = new Set<string>();
      for (const v of variants) for (const f of v) bag.add(f);
      for (const k of keywords) for (const f of features(k)) bag.add(f);
      for (const f of bag) df.set(f, (df.get(f) ?? 0) + 1);
      return { entry, variants, keywords, bag };
    });
    const n = kb.entries.length;
    for (const [f, count] of df) this.idf.set(f, Math.log(1 + n / count));
    this.unseen = Math.log(1 + n / 0.5);
    const postings = new Map<string, number[]>();
    const bagPostings = new Map<string, number[]>();
    const push = (map: Map<string, number[]>, f: string, i: number) => {
      const list = map.get(f);
      if (list) list.push(i);
      else map.set(f, [i]);
    };
    let first = 0;
    this.entries = raw.map(({ entry, variants, keywords, bag }, e) => {
      const start = first;
      variants.forEach((v, i) => {
        for (const f of v) push(postings, f, start + i);
      });
      first += variants.length;
      for (const f of bag) push(bagPostings, f, e);
      const latin = (k: string) => /^[a-z0-9. ]+$/.test(k);
      for (const text of keywords.filter((k) => !latin(k))) {
        const head = text.slice(0, 2);
        let list = this.phrases.get(head);
        if (!list) this.phrases.set(head, (list = []));
        list.push({ entry: e, text, features: features(text) });
      }
      return {
        entry,
        variants,
        first: start,
        variantNorms: variants.map((v) => this.norm2(v)),
        bagNorm: this.norm2(bag),
        words: keywords.filter(latin).map((k) => features(k)).filter((w) => w.length > 0),
      };
    });
    this.variantCount = first;
    for (const [f, list] of postings) this.postings.set(f, Int32Array.from(list));
    for (const [f, list] of bagPostings) this.bagPostings.set(f, Int32Array.from(list));
    this.elsewhere = {
      names: kb.elsewhere.names.map(foldText).filter((k) => k.length > 0),
      place: new RegExp(kb.elsewhere.place, 'gu'),
      home: new Set(kb.elsewhere.home.map(foldText)),
    };
  }

  /** The entry with this id, if the knowledge base has it. */
  get(id: string): KnowledgeEntry | undefined {
    return this.byId.get(id);
  }

  private learnReadings(kb: KnowledgeBase, reader: Reader): void {
    for (const entry of kb.entries) {
      const texts = [...entry.questions.ja, entry.title.ja, ...entry.keywords.ja, entry.answer.ja];
      for (const text of texts) {
        for (const { surface, reading } of reader(text)) {
          if (!HAN.test(surface)) continue;
          const word = foldText(surface);
          if (!this.readings.has(word)) this.readings.set(word, foldText(reading));
          this.longestWord = Math.max(this.longestWord, word.length);
        }
      }
    }
  }

  /** The text with every kanji word it has learnt replaced by its reading (longest first). */
  private readingOf(text: string): string {
    const folded = foldText(text);
    let out = '';
    for (let i = 0; i < folded.length; ) {
      let length = HAN.test(folded[i]!) ? Math.min(this.longestWord, folded.length - i) : 0;
      for (; length > 0; length--) {
        const reading = this.readings.get(folded.slice(i, i + length));
        if (reading !== undefined) {
          out += reading;
          break;
        }
      }
      if (length > 0) i += length;
      else out += folded[i++];
    }
    return out;
  }

  /** A text's features: its own bigrams and words, and those of its reading. */
  private featuresOf(text: string, normalized: string = normalizeForSearch(text)): Set<string> {
    const own = features(normalized);
    if (this.readings.size === 0 || !HAN.test(text)) return new Set(own);
    return new Set([...own, ...features(normalizeForSearch(this.readingOf(text)))]);
  }

  private weight2(f: string): number {
    return (this.idf.get(f) ?? this.unseen) ** 2;
  }

  private norm2(fs: Iterable<string>): number {
    let sum = 0;
    for (const f of fs) sum += this.weight2(f);
    return sum;
  }

  /** The entries that share anything with the question, best first. */
  rank(text: string, limit = MAX_OFFERS): FaqMatch[] {
    const normalized = normalizeForSearch(text);
    const query = this.featuresOf(text, normalized);
    if (query.size === 0) return [];
    const w2 = new Map<string, number>();
    let queryNorm2 = 0;
    for (const f of query) {
      const w = this.weight2(f);
      w2.set(f, w);
      queryNorm2 += w;
    }
    // Dot products of the question with every variant, and every entry's vocabulary, that shares a feature with it.
    const dots = new Float64Array(this.variantCount);
    const bagDots = new Float64Array(this.entries.length);
    for (const [f, w] of w2) {
      const variants = this.postings.get(f);
      if (variants) for (let i = 0; i < variants.length; i++) dots[variants[i]!]! += w;
      const entries = this.bagPostings.get(f);
      if (entries) for (let i = 0; i < entries.length; i++) bagDots[entries[i]!]! += w;
    }
    const keywordHits = this.keywordFeatures(normalized, query);
    const scored: (FaqMatch & { order: number })[] = [];
    this.entries.forEach((indexed, e) => {
      // Keywords are part of the vocabulary: an entry the question shares nothing with is skipped.
      if (bagDots[e] === 0) return;
      const extra = keywordHits.get(e) ?? NONE;
      let best = 0;
      indexed.variants.forEach((variant, v) => {
        // The variant widened by the keywords the question contains (sofa → bulky waste).
        let dot = dots[indexed.first + v]!;
        let norm2 = indexed.variantNorms[v]!;
        for (const f of extra) {
          if (variant.has(f)) continue;
          dot += w2.get(f) ?? 0;
          norm2 += this.weight2(f);
        }
        if (dot > 0) best = Math.max(best, dot / Math.sqrt(queryNorm2 * norm2));
      });
      const order = (1 - VOCABULARY_WEIGHT) * best + VOCABULARY_WEIGHT * (bagDots[e]! / Math.sqrt(queryNorm2 * indexed.bagNorm));
      // Confidence: between the ranking score (which large vocabularies compress) and the best variant's cosine.
      if (order > 0) scored.push({ entry: indexed.entry, score: Math.sqrt(best * order), order });
    });
    return scored
      .sort((a, b) => b.order - a.order)
      .slice(0, limit)
      .map(({ entry, score }) => ({ entry, score }));
  }

  /** Entry → the features of its keywords the question contains (Japanese as substrings, Latin as words). */
  private keywordFeatures(normalized: string, query: Set<string>): Map<number, Set<string>> {
    const hits = new Map<number, Set<string>>();
    const add = (entry: number, fs: Iterable<string>) => {
      let set = hits.get(entry);
      if (!set) hits.set(entry, (set = new Set()));
      for (const f of fs) set.add(f);
    };
    for (let i = 0; i < normalized.length; i++) {
      for (const head of [normalized.slice(i, i + 2), normalized[i]!]) {
        for (const phrase of this.phrases.get(head) ?? []) {
          if (phrase.text.length === head.length || normalized.startsWith(phrase.text, i)) add(phrase.entry, phrase.features);
        }
      }
    }
    this.entries.forEach((indexed, e) => {
      for (const words of indexed.words) if (words.every((w) => query.has(w))) add(e, words);
    });
    return hits;
  }


  /** How alike two questions are (0-1, the same weighted cosine): groups the questions the bot missed. */
  similarity(a: string, b: string): number {
    const fa = this.featuresOf(a);
    const fb = this.featuresOf(b);
    let dot = 0;
    for (const f of fa) if (fb.has(f)) dot += this.weight2(f);
    const norms = this.norm2(fa) * this.norm2(fb);
    return norms === 0 ? 0 : dot / Math.sqrt(norms);
  }

  /** True when the question names another city or agency. */
  namesElsewhere(text: string): boolean {
    // Folded only: dropping okurigana would join a ward's name and "ward office" after it into one "place".
    const folded = foldText(text);
    const { names, place, home } = this.elsewhere;
    if (names.some((name) => folded.includes(name))) return true;
    return [...folded.matchAll(place)].some(([name]) => !home.has(name));
  }

  /** Sorts the question into a band. */
  match(text: string): FaqResult {
    return bandOf(this.rank(text, MAX_OFFERS), this.thresholds, this.namesElsewhere(text));
  }
}

/** The band of a ranking (best first) under `thresholds`; `elsewhere` is never answered. */
export function bandOf(nearest: FaqMatch[], thresholds: FaqThresholds, elsewhere: boolean): FaqResult {
  const [best, second] = nearest;
  const { answer, margin, offer } = thresholds;
  if (elsewhere || !best || best.score < offer) return { band: 'unknown', nearest, elsewhere };
  const offers = nearest.filter((m) => m.score >= best.score * OFFER_SHARE);
  if (best.score >= answer && best.score - (second?.score ?? 0) >= margin) return { band: 'answer', best, related: offers.slice(1), nearest };
  return { band: 'suggest', offers, nearest };
}
