import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const dir = new URL('../locales/', import.meta.url);
const flatten = (o: object, prefix = ''): string[] =>
  Object.entries(o).flatMap(([k, v]) => (v && typeof v === 'object' ? flatten(v, `${prefix}${k}.`) : [`${prefix}${k}`]));
const locales = Object.fromEntries(
  readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .map((f) => [f, JSON.parse(readFileSync(new URL(f, dir), 'utf8')) as object]),
);

describe('locales', () => {
  it('ships Japanese and English', () => {
    expect(Object.keys(locales).sort()).toEqual(['en.json', 'ja.json']);
  });

  it('every locale has every key, and no empty text', () => {
    const all = new Set(Object.values(locales).flatMap((l) => flatten(l)));
    for (const [file, content] of Object.entries(locales)) {
      expect(flatten(content).sort(), file).toEqual([...all].sort());
      for (const key of all) {
        const value = key.split('.').reduce<unknown>((o, k) => (o as Record<string, unknown>)[k], content);
        expect(typeof value === 'string' && value.trim().length > 0, `${file} ${key}`).toBe(true);
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
