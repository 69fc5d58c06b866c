/**
 * Translations from `locales/*.json` through i18next (interpolation, fallback to Japanese).
 * Loaded once at start-up; dialogs receive a `Translate` for the user's language.
 */
import { readFileSync } from 'node:fs';
import i18next from 'i18next';
import type { Translate } from './turn.ts';
import { type Locale, LOCALES } from './domain.ts';

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
  // Most prompts and button labels take no parameters; caching them keeps i18next off the
  // hot path (it was a tenth of a turn's CPU in the benchmark).
  const translators = new Map<Locale, Translate>(
    LOCALES.map((locale) => {
      const t = fixed.get(locale)!;
      const plain = new Map<string, string>();
      const translate: Translate = (key, params) => {
        if (params) return t(key, params) as string;
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
