/**
 * The knowledge base: what the bot answers to a typed question. It is data edited by the
 * city's editors (`data/knowledge.json`), validated strictly at start-up; a bad entry stops
 * start-up with the field path, as the catalog does.
 */
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { isoDateSchema, localizedSchema, officeHoursSchema } from './catalog.ts';
import { readData } from './dataFile.ts';

function validPattern(source: string): boolean {
  try {
    new RegExp(source, 'u');
    return true;
  } catch {
    return false;
  }
}

const nonBlank = z.string().refine((s) => s.trim().length > 0, { error: 'must not be empty' });
const words = z.array(nonBlank);

/** Question variants or keywords per language; Japanese needs at least one. */
const perLocale = z.strictObject({ ja: words.min(1), en: words });

/** A phone number as printed (digits and hyphens), e.g. `044-200-3939`. */
const phoneNumber = z.string().regex(/^\d{2,4}-\d{2,4}-\d{3,4}$|^\d{3}$/, { error: 'expected a phone number like 044-200-3939' });

/** Answers must fit a phone screen: a short paragraph, not a page. */
const ANSWER_MAX = 320;

const entrySchema = z.strictObject({
  /** Stable id (lowercase, digits, hyphens): stored in tickets and feedback counts. */
  id: z.string().regex(/^[a-z0-9]+(-[a-z0-9]+)*$/, { error: 'lowercase letters, digits and hyphens' }),
  category: z.string().regex(/^[a-z]+(-[a-z]+)*$/),
  /** The department or desk that owns the answer (shown to agents). */
  department: localizedSchema,
  /** The official name of the service the entry is about (shown as the answer's title). */
  title: localizedSchema,
  questions: perLocale,
  keywords: perLocale,
  answer: z.strictObject({
    ja: nonBlank.pipe(z.string().max(ANSWER_MAX)),
    en: nonBlank.pipe(z.string().max(ANSWER_MAX * 2)),
    easy: nonBlank.pipe(z.string().max(ANSWER_MAX)).optional(),
    zh: nonBlank.pipe(z.string().max(ANSWER_MAX)).optional(),
    ko: nonBlank.pipe(z.string().max(ANSWER_MAX * 2)).optional(),
    vi: nonBlank.pipe(z.string().max(ANSWER_MAX * 2)).optional(),
  }),
  link: z.url({ protocol: /^https$/ }).optional(),
  phone: z.strictObject({ number: phoneNumber, hours: localizedSchema }).optional(),
  reviewed: isoDateSchema,
});

export const knowledgeSchema = z
  .strictObject({
    entries: z.array(entrySchema).min(1),
    /** The contact center: who answers the questions the bot cannot, and when. */
    desk: z.strictObject({ name: localizedSchema, phone: phoneNumber, hours: localizedSchema, open: officeHoursSchema }),
    /** What makes typed text a question rather than an answer (regular expressions on folded text). */
    questionMarkers: z.array(z.string().refine(validPattern, { error: 'not a valid regular expression' })),
    /** Questions about other cities and other agencies, never answered with a Kawasaki answer. */
    elsewhere: z
      .strictObject({
        /** Names of other places and agencies (Yokohama, passport), matched anywhere in the question. */
        names: words,
        /** What a place name looks like (e.g. kanji ending in the characters for city or ward), as a regular expression. */
        place: z.string().refine(validPattern, { error: 'not a valid regular expression' }),
        /** Words the place pattern finds that are Kawasaki's own (Kawasaki City, its wards) or not places ("city" or "district" as common nouns). */
        home: words,
      })
      .default({ names: [], place: '(?!)', home: [] }),
  })
  .superRefine((kb, ctx) => {
  const seen = new Set<string>();
  kb.entries.forEach((e, i) => {
    if (seen.has(e.id)) ctx.addIssue({ code: 'custom', path: ['entries', i, 'id'], message: `duplicate id ${e.id}` });
    seen.add(e.id);
  });
});

/** One answer of the knowledge base. */
export type KnowledgeEntry = z.infer<typeof entrySchema>;
export type KnowledgeBase = z.infer<typeof knowledgeSchema>;

/** The knowledge base shipped with the bot. */
export const KNOWLEDGE_FILE: string = fileURLToPath(new URL('../../data/knowledge.json', import.meta.url));

/** Reads and validates a knowledge file; throws `DataFileError` naming each failing field. */
export function loadKnowledge(file: string = KNOWLEDGE_FILE): KnowledgeBase {
  return readData(knowledgeSchema, file, 'knowledge');
}
