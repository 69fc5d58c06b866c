/**
 * Staff-facing words of the Teams channel (cards, command answers). They live in
 * `staff-text.json` next to this file rather than in `locales/`: they are staff UI, not
 * citizen dialog, and a repo check keeps Japanese characters out of `.ts` files.
 */
import staffText from './staff-text.json' with { type: 'json' };

/** A key of the staff text. Both languages have the same keys (checked by a test). */
export type StaffTextKey = keyof typeof staffText.en;

/** The languages staff read: the staff text is in Japanese and English. */
export type StaffLocale = 'ja' | 'en';

const TABLES: Record<StaffLocale, Record<StaffTextKey, string>> = staffText;

/** The staff text `key` in `locale`, with `{{name}}` placeholders filled in. */
export function phrase(locale: StaffLocale, key: StaffTextKey, params: Record<string, string | number> = {}): string {
  return TABLES[locale][key].replace(/\{\{(\w+)\}\}/g, (whole, name: string) => (name in params ? String(params[name]) : whole));
}

/** The staff text for a key built at run time (e.g. `reason.<code>`), or undefined when there is none. */
export function phraseIfAny(locale: StaffLocale, key: string): string | undefined {
  return Object.hasOwn(TABLES[locale], key) ? TABLES[locale][key as StaffTextKey] : undefined;
}

/** Teams' locale (`ja-JP`, `en-US`, …) as one the staff text has; `fallback` otherwise. */
export function staffLocale(teamsLocale: string | undefined | null, fallback: StaffLocale): StaffLocale {
  const lang = teamsLocale?.toLowerCase().split('-')[0];
  return lang === 'ja' || lang === 'en' ? lang : fallback;
}
