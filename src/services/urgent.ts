/**
 * Urgent messages: fire, someone collapsed or hurt, violence happening now, child abuse,
 * thoughts of suicide, a disaster happening now. Checked before anything else in every
 * state, so the emergency numbers come first, whatever the citizen was doing.
 *
 * The patterns are data (`data/urgent.json`), in three strengths per category, so that a
 * calm question (where the shelter is in case of fire, what number 119 is) is not an alarm
 * while a hedged "not that I want to die, but…" still is: a false alarm costs one message, a miss
 * costs far more.
 */
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { readData } from './dataFile.ts';
import { foldText } from './searchText.ts';

export const URGENT_CATEGORIES = ['suicide', 'child_abuse', 'fire', 'medical', 'violence', 'disaster'] as const;
/** What kind of emergency a message is about; decides which numbers the citizen gets. */
export type UrgentCategory = (typeof URGENT_CATEGORIES)[number];

/** A pattern, folded as the text it is matched on, and checked on its own so an error names it. */
const pattern = z.string().transform((source, ctx) => {
  const folded = foldText(source);
  try {
    new RegExp(folded, 'u');
    return folded;
  } catch {
    ctx.addIssue({ code: 'custom', message: `not a valid regular expression: ${source}` });
    return z.NEVER;
  }
});
/**
 * A list of patterns as one alternation: one pass over the text instead of one per pattern
 * (a sixth of the turn's urgent check once the patterns of six languages were in).
 */
const patterns = z.array(pattern).transform((sources) => (sources.length > 0 ? new RegExp(sources.map((s) => `(?:${s})`).join('|'), 'u') : /(?!)/u));

const urgentSchema = z.strictObject({
  about: z.string().optional(),
  /** A message that imagines or prepares ("when", "in case", preparing): only `always` patterns fire. */
  hypothetical: patterns,
  /** A message that asks for a number or a desk: bare `words` do not fire. */
  informational: patterns,
  categories: z
    .array(z.strictObject({ id: z.enum(URGENT_CATEGORIES), always: patterns, strong: patterns, words: patterns }))
    .refine((cs) => new Set(cs.map((c) => c.id)).size === cs.length, { error: 'each category once' }),
});

type UrgentPatterns = z.infer<typeof urgentSchema>;

/** The patterns shipped with the bot. */
export const URGENT_FILE: string = fileURLToPath(new URL('../../data/urgent.json', import.meta.url));

/** Recognises urgent messages; build once at start-up. */
export class UrgentDetector {
  private readonly data: UrgentPatterns;

  constructor(data: UrgentPatterns) {
    this.data = data;
  }

  /** Reads and validates a patterns file; throws `DataFileError` naming the failing field. */
  static load(file: string = URGENT_FILE): UrgentDetector {
    return new UrgentDetector(readData(urgentSchema, file, 'urgent'));
  }

  /** The emergency the message is about, or undefined for an ordinary message. */
  detect(text: string): UrgentCategory | undefined {
    const folded = foldText(text);
    if (folded.length === 0) return undefined;
    const hits = (r: RegExp) => r.test(folded);
    const hypothetical = hits(this.data.hypothetical);
    const informational = hits(this.data.informational);
    for (const category of this.data.categories) {
      if (hits(category.always)) return category.id;
      if (!hypothetical && hits(category.strong)) return category.id;
      if (!hypothetical && !informational && hits(category.words)) return category.id;
    }
    return undefined;
  }
}
