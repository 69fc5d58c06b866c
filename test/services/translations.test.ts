/**
 * The data files in every language: each catalog text translated, the facts of a text (phone
 * numbers, e-mail addresses, times) kept in its translations, and urgent messages typed in
 * Chinese, Korean or Vietnamese recognised as the Japanese and English ones are.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { LOCALES } from '../../src/domain.ts';
import { CATALOG_FILE } from '../../src/services/catalog.ts';
import { KNOWLEDGE_FILE } from '../../src/services/knowledge.ts';
import { URGENT_CATEGORIES, type UrgentCategory, UrgentDetector } from '../../src/services/urgent.ts';

type Text = { path: string; text: Record<string, unknown> };

/** Every object under `node` with a Japanese and an English text: the file's `Localized` texts. */
function localizedTexts(node: unknown, path = '$'): Text[] {
  if (Array.isArray(node)) return node.flatMap((v, i) => localizedTexts(v, `${path}[${i}]`));
  if (node === null || typeof node !== 'object') return [];
  const record = node as Record<string, unknown>;
  if (typeof record.ja === 'string' && typeof record.en === 'string') return [{ path, text: record }];
  return Object.entries(record).flatMap(([key, value]) => localizedTexts(value, `${path}.${key}`));
}

/** The languages a text lacks (absent or blank), as `path: locale`. */
function untranslated(texts: Text[]): string[] {
  return texts.flatMap(({ path, text }) =>
    LOCALES.filter((locale) => typeof text[locale] !== 'string' || (text[locale] as string).trim() === '').map((locale) => `${path}: ${locale}`),
  );
}

const catalog: unknown = JSON.parse(readFileSync(CATALOG_FILE, 'utf8'));
const knowledge = JSON.parse(readFileSync(KNOWLEDGE_FILE, 'utf8')) as {
  desk: Record<string, unknown>;
  entries: { id: string; department: unknown; title: unknown; answer: unknown; phone?: { hours: unknown } }[];
};

describe('the catalog in every language', () => {
  const texts = localizedTexts(catalog);

  it('has every text (names, hours, places, screening questions, precautions, alternatives) in all six languages', () => {
    expect(texts.length).toBeGreaterThan(50);
    expect(untranslated(texts)).toEqual([]);
  });
});

describe('the knowledge base in every language', () => {
  it("has the desk's name and hours and each entry's department, title and phone hours in all six languages", () => {
    const labels = [
      ...localizedTexts(knowledge.desk, '$.desk'),
      ...knowledge.entries.flatMap((e) => localizedTexts({ department: e.department, title: e.title, hours: e.phone?.hours }, `$.${e.id}`)),
    ];
    expect(labels.length).toBeGreaterThan(knowledge.entries.length * 2);
    expect(untranslated(labels)).toEqual([]);
  });
});

/** Phone numbers, e-mail addresses, times of day and the emergency numbers. */
const FACTS = /\d{2,4}-\d{2,4}-\d{3,4}|[\w.]+@[\w.]+\w|\d{1,2}:\d{2}|(?<![\d-])(?:110|119|189)(?![\d-])/g;

describe('translations keep the facts', () => {
  it('repeat every phone number, e-mail address and time of the Japanese text', () => {
    const texts = [...localizedTexts(catalog), ...localizedTexts(knowledge)];
    const checks = texts.flatMap(({ path, text }) => {
      const facts = (text.ja as string).match(FACTS) ?? [];
      const translations = LOCALES.filter((locale) => locale !== 'ja' && typeof text[locale] === 'string');
      return translations.flatMap((locale) => facts.map((fact) => ({ where: `${path}.${locale}: ${fact}`, kept: (text[locale] as string).includes(fact) })));
    });
    expect(checks.length).toBeGreaterThan(500);
    expect(checks.filter((c) => !c.kept).map((c) => c.where)).toEqual([]);
  });
});

type NewLanguage = 'zh' | 'ko' | 'vi';

/** One realistic message per emergency and language. */
const URGENT: Record<UrgentCategory, Record<NewLanguage, string>> = {
  fire: { zh: '隔壁房子着火了，快来人！', ko: '옆집에 불이 났어요! 빨리 와 주세요', vi: 'Nhà hàng xóm đang cháy, khói bốc lên nhiều lắm' },
  medical: { zh: '我爸爸突然晕倒了，没有反应', ko: '할아버지가 쓰러졌어요 의식이 없어요', vi: 'Bố tôi bị ngất, không thở' },
  violence: { zh: '我老公在打我，救救我', ko: '남편한테 맞고 있어요 살려 주세요', vi: 'Chồng tôi đang đánh tôi, cứu tôi với' },
  child_abuse: { zh: '邻居家的孩子一直被打，每天都在惨叫', ko: '아빠가 때려요 집에 가기 싫어요', vi: 'Đứa trẻ nhà bên cạnh bị đánh mỗi ngày' },
  suicide: { zh: '我不想活了', ko: '죽고 싶어요', vi: 'Tôi không muốn sống nữa' },
  disaster: { zh: '家里进水了，水已经到膝盖了', ko: '엘리베이터에 갇혔어요', vi: 'Nước tràn vào nhà, ngập tới đầu gối rồi' },
};

/** Ordinary messages, some with words that look like an emergency (help, water, stuck, to death). */
const ORDINARY: Record<NewLanguage, string[]> = {
  zh: ['我想预约监察专员咨询', '粗大垃圾怎么扔？', '我的手机进水了', '燃气灶打不着火'],
  ko: ['예약하고 싶어요', '예약 좀 도와주세요', '버스 타고 있어요 조금 늦어요', '휴대폰이 물에 빠졌어요'],
  vi: ['Tôi muốn đặt lịch tư vấn', 'Làm sao để hủy lịch hẹn?', 'Tôi bị kẹt xe nên đến muộn', 'Mệt muốn chết nhưng vẫn phải làm'],
};

/** Calm questions about an emergency: imagined ("if", "when there is") or asking for information. */
const CALM: Record<NewLanguage, string[]> = {
  zh: ['如果家里着火了，应该怎么办？', '地震的时候被困在电梯里怎么办？', '自杀问题的统计数据', '119是什么号码？'],
  ko: ['불이 났을 때 어디로 대피해요?', '지진이 오면 엘리베이터에 갇혔을 때 어떻게 해요', '자살 관련 통계를 알고 싶어요', '구급차를 부르는 기준은?'],
  vi: ['Nếu nhà bị cháy thì phải làm gì?', 'Khi có động đất mà bị kẹt trong thang máy thì làm sao?', 'Thống kê về tự tử ở Nhật', 'Khi nào nên gọi cấp cứu?'],
};

describe('urgent messages in Chinese, Korean and Vietnamese', () => {
  const detector = UrgentDetector.load();
  const cases = URGENT_CATEGORIES.flatMap((category) => (['zh', 'ko', 'vi'] as const).map((lang) => ({ category, lang, text: URGENT[category][lang] })));

  it.each(cases)('knows $category in $lang: $text', ({ category, text }) => {
    expect(detector.detect(text)).toBe(category);
  });

  it('knows them as people type them: Korean without spaces, Vietnamese without tone marks', () => {
    expect(detector.detect('불이났어요')).toBe('fire');
    expect(detector.detect('죽고싶어')).toBe('suicide');
    expect(detector.detect('살려주세요')).toBe('violence');
    expect(detector.detect('toi muon chet')).toBe('suicide');
    expect(detector.detect('chay nha roi cuu voi')).toBe('fire');
  });

  it.each(Object.entries(ORDINARY).flatMap(([lang, texts]) => texts.map((text) => ({ lang, text }))))('leaves an ordinary message alone ($lang): $text', ({ text }) => {
    expect(detector.detect(text)).toBeUndefined();
  });

  it.each(Object.entries(CALM).flatMap(([lang, texts]) => texts.map((text) => ({ lang, text }))))('is no alarm for a calm question ($lang): $text', ({ text }) => {
    expect(detector.detect(text)).toBeUndefined();
  });
});
