import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DataFileError } from '../../src/services/dataFile.ts';
import { FaqMatcher } from '../../src/services/faq.ts';
import { KNOWLEDGE_FILE, loadKnowledge } from '../../src/services/knowledge.ts';
import { japaneseReader } from '../../src/services/reading.ts';
import { features, normalizeForSearch } from '../../src/services/searchText.ts';
import { UrgentDetector } from '../../src/services/urgent.ts';

function withKnowledge(edit: (kb: { entries: Record<string, unknown>[] }) => void): string {
  const kb = JSON.parse(readFileSync(KNOWLEDGE_FILE, 'utf8'));
  edit(kb);
  const file = join(mkdtempSync(join(tmpdir(), 'kb-')), 'knowledge.json');
  writeFileSync(file, JSON.stringify(kb));
  return file;
}

describe('the knowledge base file', () => {
  it('ships at least 40 entries, each answer short enough for a phone screen', () => {
    const kb = loadKnowledge();
    expect(kb.entries.length).toBeGreaterThanOrEqual(40);
    for (const entry of kb.entries) expect(entry.answer.ja.length).toBeLessThanOrEqual(320);
  });

  it('stops start-up naming the field of a bad entry', () => {
    const file = withKnowledge((kb) => {
      kb.entries[2]!.phone = { number: 'call us', hours: { ja: '毎日', en: 'daily' } };
    });
    expect(() => loadKnowledge(file)).toThrow(DataFileError);
    expect(() => loadKnowledge(file)).toThrow(/entries\[2\]\.phone\.number/);
  });

  it('refuses two entries with one id', () => {
    const file = withKnowledge((kb) => {
      kb.entries[1]!.id = kb.entries[0]!.id;
    });
    expect(() => loadKnowledge(file)).toThrow(/duplicate id/);
  });
});

describe('normalising Japanese for search', () => {
  it('folds width, katakana, okurigana and the spaces of easy Japanese into one form', () => {
    expect(normalizeForSearch('ｿﾀﾞｲｺﾞﾐ')).toBe(normalizeForSearch('そだいごみ'));
    expect(normalizeForSearch('申し込み')).toBe(normalizeForSearch('申込み'));
    expect(normalizeForSearch('おおきい ごみ を すてたい')).toBe('おおきいごみをすてたい');
    expect(normalizeForSearch('ＰＭ２．５')).toBe('pm2.5');
    expect(normalizeForSearch('霞ヶ関')).toBe(normalizeForSearch('霞ケ関'));
  });

  it('cuts Japanese into bigrams and English into stemmed words', () => {
    expect(features('そだいごみ')).toEqual(['そだ', 'だい', 'いご', 'ごみ']);
    expect(features('booking the halls')).toEqual(['book', 'hall']);
  });
});

describe('the matcher', () => {
  const matcher = new FaqMatcher(loadKnowledge(), { answer: 0.275, margin: 0.06, offer: 0.175 }, japaneseReader());

  it('meets a kana question with the kanji of the knowledge base through readings', () => {
    const base = loadKnowledge().entries[0]!;
    const entry = { ...base, id: 'waste', questions: { ja: ['粗大ごみを出したい'], en: [] }, keywords: { ja: ['家具'], en: [] }, title: { ja: '受付', en: 'Desk' } };
    const other = { ...base, id: 'library', questions: { ja: ['図書館で本を借りたい'], en: [] }, keywords: { ja: ['本'], en: [] }, title: { ja: '図書館', en: 'Library' } };
    const kb = { ...loadKnowledge(), entries: [entry, other], elsewhere: { names: [], place: '(?!)', home: [] } };
    const thresholds = { answer: 0.275, margin: 0.06, offer: 0.175 };
    expect(new FaqMatcher(kb, thresholds, japaneseReader()).rank('そだい')[0]?.entry.id).toBe('waste');
    expect(new FaqMatcher(kb, thresholds).rank('そだい')).toEqual([]);
  });

  it('never answers for another city or agency', () => {
    for (const q of ['横浜市の粗大ごみの出し方', '多摩市で住民票をコンビニで取りたい', 'パスポートの更新', 'How do I renew my passport?']) {
      expect(matcher.match(q)).toMatchObject({ band: 'unknown', elsewhere: true });
    }
    expect(matcher.namesElsewhere('宮前区の区役所で住民票')).toBe(false);
  });
});

describe('urgent messages', () => {
  const detector = UrgentDetector.load();

  it('knows an emergency happening now from a calm question about one', () => {
    expect(detector.detect('となりのいえから けむりが でてる')).toBe('fire');
    expect(detector.detect('火事のときの避難所はどこ？')).toBeUndefined();
    expect(detector.detect('119番は何番？')).toBeUndefined();
  });

  it('gives the helpline line to a hedged or negated thought of suicide', () => {
    expect(detector.detect('死にたいわけじゃないけど、ちょっと疲れた')).toBe('suicide');
    expect(detector.detect('I sometimes want to die')).toBe('suicide');
  });
});
