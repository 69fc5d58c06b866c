/**
 * Translations from `locales/*.json` through i18next (interpolation, fallback to Japanese).
 * Loaded once at start-up; dialogs receive a `Translate` for the user's language.
 */
import { readFileSync } from 'node:fs';
import i18next from 'i18next';
import type { Translate } from './turn.ts';
import { type Locale, LOCALES } from './domain.ts';

/** A `{{name}}` placeholder. */
const PLACEHOLDER = /\{\{\s*(\w+)\s*\}\}/g;

/** Reads every locale file from `dir` and returns a translator factory. */
export function loadTranslator(dir: URL = new URL('../locales/', import.meta.url)): (locale: Locale) => Translate {
  const resources = Object.fromEntries(
    LOCALES.map((locale) => [locale, { translation: JSON.parse(readFileSync(new URL(`${locale}.json`, dir), 'utf8')) }]),
  );
  const i18n = i18next.createInstance();
  void i18n.init({
    resources,
    lng: 'ja',
    fallbackLng: 'ja',
    initAsync: false,
    interpolation: { escapeValue: false },
    returnNull: false,
  });
  const fixed = new Map(LOCALES.map((locale) => [locale, i18n.getFixedT(locale)]));
  // i18next resolves each key once (its fallback included); the text is then kept here, so
  // that it stays off the hot path: a call of its own was a tenth of a turn's CPU in the
  // benchmark without parameters, and 12 µs with them. The locale files use plain `{{name}}`
  // placeholders only (no plurals, nesting or formats), filled here as i18next would.
  const translators = new Map<Locale, Translate>(
    LOCALES.map((locale) => {
      const t = fixed.get(locale)!;
      /** Key → its text as written (undefined: i18next's own answer for a key it lacks). */
      const templates = new Map<string, string | undefined>();
      const translate: Translate = (key, params) => {
        if (!templates.has(key)) {
          const found = i18n.getResource(locale, 'translation', key) ?? i18n.getResource('ja', 'translation', key);
          templates.set(key, typeof found === 'string' ? found : undefined);
        }
        const template = templates.get(key);
        if (template === undefined) return (params ? t(key, params) : t(key)) as string;
        return params ? template.replace(PLACEHOLDER, (whole, name: string) => (Object.hasOwn(params, name) ? String(params[name]) : whole)) : template;
      };
      return [locale, translate];
    }),
  );
  return (locale) => translators.get(locale) ?? translators.get('ja')!;
}
