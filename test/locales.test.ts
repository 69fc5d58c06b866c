import { readdirSync, readFileSync } from 'node:fs';
import i18next from 'i18next';
import { DateTime } from 'luxon';
import { describe, expect, it } from 'vitest';
import { normalize } from '../dialogs/format.ts';
import { LOCALE_TAGS, LOCALES, type Locale } from '../src/domain.ts';
import { loadTranslator } from '../src/i18n.ts';

const dir = new URL('../locales/', import.meta.url);
const flatten = (o: object, prefix = ''): string[] =>
  Object.entries(o).flatMap(([k, v]) => (v && typeof v === 'object' ? flatten(v, `${prefix}${k}.`) : [`${prefix}${k}`]));
const locales = Object.fromEntries(
  readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .map((f) => [f, JSON.parse(readFileSync(new URL(f, dir), 'utf8')) as object]),
);
const text = (file: string, key: string): unknown => key.split('.').reduce<unknown>((o, k) => (o as Record<string, unknown>)[k], locales[file]);
const placeholders = (value: unknown): string[] => [...String(value).matchAll(/\{\{(\w+)\}\}/g)].map((m) => m[1]!).sort();

describe('locales', () => {
  it('ships a file for every language the bot speaks, and no other', () => {
    expect(Object.keys(locales).sort()).toEqual(LOCALES.map((l) => `${l}.json`).sort());
  });

  it('every locale has every key, and no empty text', () => {
    const all = new Set(Object.values(locales).flatMap((l) => flatten(l)));
    for (const [file, content] of Object.entries(locales)) {
      expect(flatten(content).sort(), file).toEqual([...all].sort());
      for (const key of all) {
        const value = text(file, key);
        expect(typeof value === 'string' && value.trim().length > 0, `${file} ${key}`).toBe(true);
      }
    }
  });

  it('every text has the same placeholders as the Japanese', () => {
    for (const key of flatten(locales['ja.json']!)) {
      const wanted = placeholders(text('ja.json', key));
      for (const file of Object.keys(locales)) expect(placeholders(text(file, key)), `${file} ${key}`).toEqual(wanted);
    }
  });

  it('each language has its own name, and its date formats print a real date in it', () => {
    const names = LOCALES.map((l) => text(`${l}.json`, 'language.name'));
    expect(new Set(names).size).toBe(LOCALES.length);
    const day = DateTime.fromISO('2026-12-08T09:30:00+09:00', { setZone: true });
    for (const locale of LOCALES) {
      for (const key of ['format.date', 'format.shortDate', 'mail.format.date', 'mail.format.dateTime']) {
        const printed = day.setLocale(LOCALE_TAGS[locale]).toFormat(String(text(`${locale}.json`, key)));
        // luxon prints an unknown or unquoted letter as itself: a real format yields the day's number.
        expect(printed, `${locale} ${key}`).toMatch(/8/);
        expect(printed, `${locale} ${key}`).not.toMatch(/Invalid/);
      }
    }
  });

  it('no typed word means two different commands across the languages', () => {
    const meaning = new Map<string, string>();
    const commands = Object.keys((locales['ja.json'] as { keywords: object }).keywords);
    for (const locale of LOCALES as readonly Locale[]) {
      for (const command of commands) {
        for (const word of String(text(`${locale}.json`, `keywords.${command}`)).split('|')) {
          const key = normalize(word);
          const earlier = meaning.get(key);
          expect(earlier === undefined || earlier === command, `${locale} "${word}": ${earlier} and ${command}`).toBe(true);
          meaning.set(key, command);
        }
      }
    }
  });

  it('every key used in the code exists', () => {
    const keys = new Set(flatten(locales['ja.json']!));
    const sources = ['dialogs', 'src'].flatMap((d) =>
      readdirSync(new URL(`../${d}/`, import.meta.url), { recursive: true, withFileTypes: false })
        .map(String)
        .filter((f) => f.endsWith('.ts'))
        .map((f) => readFileSync(new URL(`../${d}/${f}`, import.meta.url), 'utf8')),
    );
    const used = sources.flatMap((s) => [...s.matchAll(/\bt\('([\w.]+)'/g)].map((m) => m[1]!));
    expect(used.length).toBeGreaterThan(30);
    for (const key of used) expect(keys.has(key), key).toBe(true);
  });
});

describe('the translator (src/i18n.ts)', () => {
  it('fills every text with parameters exactly as i18next does, in every language', async () => {
    const i18n = i18next.createInstance();
    await i18n.init({ resources: Object.fromEntries(LOCALES.map((l) => [l, { translation: locales[`${l}.json`]! }])), lng: 'ja', fallbackLng: 'ja', interpolation: { escapeValue: false } });
    const translator = loadTranslator();
    const keys = flatten(locales['ja.json']!).filter((key) => placeholders(text('ja.json', key)).length > 0);
    expect(keys.length).toBeGreaterThan(20);
    for (const locale of LOCALES) {
      for (const key of keys) {
        // Each placeholder gets a value of its own; one is left out, and a value that looks like one.
        const names = placeholders(text(`${locale}.json`, key));
        const params = Object.fromEntries(names.slice(1).map((name, i) => [name, i % 2 ? `{{${name}}} $& ${i}` : i]));
        expect(translator(locale)(key, params), `${locale} ${key}`).toBe(i18n.getFixedT(locale)(key, params));
      }
    }
  });
});
