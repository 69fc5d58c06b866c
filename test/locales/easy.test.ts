/**
 * やさしい日本語: locales/easy.json and the data's `easy` texts pass the guideline checker,
 * and the checker still catches each rule on a real sentence of locales/ja.json.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { checkEasyJapanese, easyTexts, localeTexts, type Rule, sentenceLength, sentences, shippedEasyTexts } from './easyJapanese.ts';

const load = (file: string) => localeTexts(JSON.parse(readFileSync(new URL(`../../locales/${file}`, import.meta.url), 'utf8')) as object);
const ja = load('ja.json');
const easy = load('easy.json');

describe('やさしい日本語', () => {
  it('locales/easy.json breaks no rule', () => {
    expect(Object.keys(easy)).toContain('greeting');
    expect(Object.keys(easy)).not.toContain('keywords.menu');
    expect(checkEasyJapanese(easy)).toEqual([]);
  });

  it('counts a sentence without its readings, a placeholder as two characters', () => {
    const [sentence] = sentences(easy['booking.confirmedText']!);
    expect(sentence).toBe('予約番号（よやくばんごう）は {{reference}} です');
    expect(sentenceLength(sentence!)).toBe(9);
  });

  const broken: { rule: Rule; key: string; sentence: string; detail?: string }[] = [
    { rule: 'hardWord', key: 'booking.namePrompt', sentence: 'お名前（フルネーム）を入力してください', detail: '入力 → 書く／入れる' },
    { rule: 'honorific', key: 'booking.declined', sentence: 'ご不明な点は担当者にお尋ねください' },
    { rule: 'vagueTime', key: 'handoff.relayFailed', sentence: '少し待ってもう一度送ってください' },
    { rule: 'doubleNegative', key: 'booking.declined', sentence: '注意事項に同意いただけない場合は予約できません' },
    { rule: 'length', key: 'help', sentence: 'いつでも「メニュー」（最初から）、「戻る」（前の質問へ）、「キャンセル」（中止）、「言語」、「担当者」と入力できます' },
  ];
  for (const { rule, key, sentence, detail } of broken) {
    it(`flags ${rule} in locales/ja.json ${key}`, () => {
      expect(sentences(ja[key]!)).toContain(sentence);
      expect(checkEasyJapanese({ [key]: ja[key]! })).toContainEqual(expect.objectContaining({ key, sentence, rule, ...(detail ? { detail } : {}) }));
    });
  }

  it('keeps proper nouns, and hard words followed by an explanation', () => {
    expect(checkEasyJapanese({ x: '市民オンブズマン事務局（しみんオンブズマンじむきょく）に電話してください' })).toEqual([]);
    expect(checkEasyJapanese({ x: '避難所（ひなんじょ）（にげるところ）に行ってください' })).toEqual([]);
    expect(checkEasyJapanese({ x: '避難所（ひなんじょ）に行ってください' })).toContainEqual(expect.objectContaining({ rule: 'hardWord', detail: '避難 → にげる' }));
  });

  it('finds the easy texts of a data file at any depth', () => {
    const data = { name: { ja: '相談', en: 'Consultation', easy: '相談（そうだん）' }, items: [{ text: { ja: 'a', en: 'a', easy: 'あ' } }], questions: { easy: ['x'] } };
    expect(easyTexts(data)).toEqual({ 'name.easy': '相談（そうだん）', 'items.0.text.easy': 'あ' });
  });

  const data = Object.entries(shippedEasyTexts()).filter(([file]) => file.startsWith('data/'));
  for (const [file, texts] of data) {
    it(`the easy texts of ${file} break no rule`, () => {
      expect(checkEasyJapanese(texts)).toEqual([]);
    });
  }
});
