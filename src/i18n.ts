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
  // i18next resolves each key once (its fallback included); the texts are then kept here, so
  // that it stays off the hot path: a call of its own was a tenth of a turn's CPU in the
  // benchmark without parameters, and 12 µs with them. The locale files use plain `{{name}}`
  // placeholders only (no plurals, nesting or formats), filled here as i18next would.
  const translators = new Map<Locale, Translate>(
    LOCALES.map((locale) => {
      const t = fixed.get(locale)!;
      const plain = new Map<string, string>();
      const templates = new Map<string, string | undefined>();
      const templateOf = (key: string): string | undefined => {
        if (!templates.has(key)) {
          const found = i18n.getResource(locale, 'translation', key) ?? i18n.getResource('ja', 'translation', key);
          templates.set(key, typeof found === 'string' ? found : undefined);
        }
        return templates.get(key);
      };
      const translate: Translate = (key, params) => {
        if (params) {
          const template = templateOf(key);
          if (template === undefined) return t(key, params) as string;
          return template.replace(PLACEHOLDER, (whole, name: string) => (Object.hasOwn(params, name) ? String(params[name]) : whole));
        }
        let text = plain.get(key);
        if (text === undefined) {
          text = t(key) as string;
          plain.set(key, text);
        }
        return text;
      };
      return [locale, translate];
    }),
  );
  return (locale) => translators.get(locale) ?? translators.get('ja')!;
}
