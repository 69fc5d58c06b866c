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
 * question contains (so ソファ counts as 粗大ごみ). Features the knowledge base has never
 * seen weigh the most: a question about something else ("道路に穴があいている") shares
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
  /** Σ w² of each question variant's features. */
  variantNorms: number[];
  /** Σ w² of every feature of the entry (variants and keywords): its vocabulary as a whole. */
  bagNorm: number;
  bag: Set<string>;
  variants: Set<string>[];
  /** Normalised Japanese keywords, matched as substrings of the question. */
  phrases: { text: string; features: string[] }[];
  /** Latin keywords, matched when all their words are in the question. */
  words: string[][];
}

/** The matcher over one knowledge base; build once at start-up. */
export class FaqMatcher {
  private readonly entries: IndexedEntry[];
  /** Feature → weight (IDF over entries); features never seen weigh `unseen`. */
  private readonly idf = new Map<string, number>();
  private readonly unseen: number;
  /** Feature → the (entry, variant) pairs that have it: a question touches only those. */
  private readonly postings = new Map<string, [number, number][]>();
  private readonly elsewhere: { names: string[]; place: RegExp; home: Set<string> };
  private readonly thresholds: FaqThresholds;
  private readonly byId = new Map<string, KnowledgeEntry>();
  private readonly reader: Reader | undefined;

  /**
   * `reader` adds the bigrams of each text's reading to its own, on both sides; without
   * one, kana and kanji spellings of a word meet only through the data's keywords.
   */
  constructor(kb: KnowledgeBase, thresholds: FaqThresholds, reader?: Reader) {
    this.thresholds = thresholds;
    this.reader = reader;
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
    this.entries = raw.map(({ entry, variants, keywords, bag }, e) => {
      variants.forEach((v, i) => {
        for (const f of v) {
          let list = this.postings.get(f);
          if (!list) this.postings.set(f, (list = []));
          list.push([e, i]);
        }
      });
      const latin = (k: string) => /^[a-z0-9. ]+$/.test(k);
      return {
        entry,
        variants,
        variantNorms: variants.map((v) => this.norm2(v)),
        bag,
        bagNorm: this.norm2(bag),
        phrases: keywords.filter((k) => !latin(k)).map((text) => ({ text, features: features(text) })),
        words: keywords.filter(latin).map((k) => features(k)).filter((w) => w.length > 0),
      };
    });
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

  /** A text's features: its own bigrams and words, and those of its reading. */
  private featuresOf(text: string): Set<string> {
    const own = features(normalizeForSearch(text));
    if (!this.reader || !/[\p{Script=Han}]/u.test(text)) return new Set(own);
    return new Set([...own, ...features(normalizeForSearch(this.reader(text)))]);
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
    const query = this.featuresOf(text);
    if (query.size === 0) return [];
    const w2 = new Map<string, number>();
    let queryNorm2 = 0;
    for (const f of query) {
      const w = this.weight2(f);
      w2.set(f, w);
      queryNorm2 += w;
    }
    // Dot products of the question with every variant that shares a feature with it.
    const dots = new Map<number, Map<number, number>>();
    for (const f of query) {
      for (const [e, v] of this.postings.get(f) ?? []) {
        let byVariant = dots.get(e);
        if (!byVariant) dots.set(e, (byVariant = new Map()));
        byVariant.set(v, (byVariant.get(v) ?? 0) + w2.get(f)!);
      }
    }
    const scored: (FaqMatch & { order: number })[] = [];
    this.entries.forEach((indexed, e) => {
      const extra = this.matchedKeywordFeatures(indexed, normalized, query);
      const byVariant = dots.get(e);
      if (!byVariant && extra.size === 0) return;
      let best = 0;
      indexed.variants.forEach((variant, v) => {
        // The variant widened by the keywords the question contains (ソファ → 粗大ごみ).
        let dot = byVariant?.get(v) ?? 0;
        let norm2 = indexed.variantNorms[v]!;
        for (const f of extra) {
          if (variant.has(f)) continue;
          dot += w2.get(f) ?? 0;
          norm2 += this.weight2(f);
        }
        if (dot > 0) best = Math.max(best, dot / Math.sqrt(queryNorm2 * norm2));
      });
      let bagDot = 0;
      for (const f of query) if (indexed.bag.has(f)) bagDot += w2.get(f)!;
      const order = (1 - VOCABULARY_WEIGHT) * best + VOCABULARY_WEIGHT * (bagDot / Math.sqrt(queryNorm2 * indexed.bagNorm));
      // Confidence: between the ranking score (which large vocabularies compress) and the best variant's cosine.
      if (order > 0) scored.push({ entry: indexed.entry, score: Math.sqrt(best * order), order });
    });
    return scored
      .sort((a, b) => b.order - a.order)
      .slice(0, limit)
      .map(({ entry, score }) => ({ entry, score }));
  }

  private matchedKeywordFeatures(indexed: IndexedEntry, normalized: string, query: Set<string>): Set<string> {
    const extra = new Set<string>();
    for (const phrase of indexed.phrases) if (normalized.includes(phrase.text)) for (const f of phrase.features) extra.add(f);
    for (const words of indexed.words) if (words.every((w) => query.has(w))) for (const w of words) extra.add(w);
    return extra;
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
    // Folded only: dropping okurigana would join 宮前区の区役所 into one "place".
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
