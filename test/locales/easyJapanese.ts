/**
 * A checker for やさしい日本語 (plain Japanese) after Kawasaki City's guideline: short
 * sentences, everyday words instead of official compounds, plain です/ます instead of
 * honorific and humble forms, exact times, no double negatives.
 *
 * `node test/locales/easyJapanese.ts` (`npm run check:easy`) reports on locales/easy.json and
 * on every `easy` text of data/catalog.json and data/knowledge.json.
 */
import { existsSync, readFileSync } from 'node:fs';

export type Rule = 'hardWord' | 'honorific' | 'vagueTime' | 'doubleNegative' | 'length';

export interface Finding {
  key: string;
  sentence: string;
  rule: Rule;
  detail: string;
}

/** Official or Sino-Japanese words → the everyday words to say instead. */
export const HARD_WORDS: Readonly<Record<string, string>> = {
  記入: '書く',
  利用: '使う',
  確認: '見る／たしかめる',
  提出: '出す',
  申請: 'もうしこむ',
  返信: '返事',
  連絡: '知らせる／電話する',
  入力: '書く／入れる',
  削除: '消す',
  選択: '選ぶ',
  変更: 'かえる',
  中止: 'やめる',
  終了: 'おわる',
  完了: 'できる／おわる',
  確定: '決まる',
  処理: 'する／読む',
  表示: '見せる／出す',
  確保: 'とっておく',
  取り置き: 'とっておく',
  辞退: 'ことわる',
  同意: '「はい」と言う／守る',
  満席: 'いっぱい',
  日程: '日',
  日時: '日と時間',
  対面: '会って話す',
  詳細: 'くわしいこと',
  現在: 'いま',
  本日: 'きょう',
  明日: 'あした',
  当日: 'その日',
  前日: '前の日',
  事前: '前に',
  以降: 'から',
  以外: 'ほか',
  不明: 'わからない',
  不要: 'いらない',
  可能: 'できる',
  成立: 'できる',
  依頼: 'たのむ',
  回答: '答え',
  問い合わせ: '聞く／質問',
  問合せ: '聞く／質問',
  案内: '知らせる',
  取り次: 'つなぐ',
  記載: '書いてある',
  添付: 'ついている',
  上記: '上',
  注意事項: '気をつけること',
  更新: '新しくする',
  不便: 'こまる',
  混み合: 'こむ',
  機関: 'ところ',
  事務局: '係の人',
  担当者: '市役所の人',
  職員: '市役所の人',
  過去: '前の',
  件数: '数',
  記録: '書いたもの／話したこと',
  文面: '書いた文',
  自動: 'コンピューターが',
  部署: '係',
  都合: '用事',
  体調: 'からだのぐあい',
  資料: '紙やファイル',
  録音: '声をとる',
  録画: 'ビデオをとる',
  配信: 'インターネットで流す',
  急ぎ: 'いそぐ',
  至急: 'いそいで',
  避難: 'にげる',
  危険: 'あぶない',
  無料: 'お金はかかりません',
  方法: 'やりかた',
  参加: '入る／来る',
  枠: '時間',
  桁: '数字の数',
  含: '入っている',
  扱: '受ける',
  二重: '2つ',
  インストール: '入れる',
  フルネーム: '名字と名前',
};

/** Proper nouns, kept as they are (the guideline explains them rather than renaming them). */
export const PROPER_NOUNS: readonly string[] = ['市民オンブズマン事務局', 'サンキューコールかわさき', 'かわさき防災アプリ', 'こころの健康相談統一ダイヤル', '児童相談所'];

/** Honorific and humble forms (and ご/お before a word) → plain です/ます. */
export const HONORIFICS: readonly { pattern: RegExp; detail: string }[] = [
  { pattern: /(?<!どう)いたし/u, detail: 'いたします → します' },
  { pattern: /(?<!ありがとう|おはよう|おめでとう)ござ[いる]/u, detail: 'ございます → です／あります' },
  { pattern: /おり(?:ます|まし|ません)/u, detail: 'おります → います' },
  { pattern: /くださいませ/u, detail: 'くださいませ → ください' },
  { pattern: /申し上げ/u, detail: '申し上げます → 言います' },
  { pattern: /申し訳/u, detail: '申し訳ありません → すみません' },
  { pattern: /承[りっるわ]/u, detail: '承ります → 受けます' },
  { pattern: /伺[いうっえわ]/u, detail: '伺います → 行きます／聞きます' },
  { pattern: /いただ[いきくけこ]/u, detail: '〜ていただく → 〜てください／〜てくれる' },
  { pattern: /お越し|ご覧/u, detail: 'お越し／ご覧 → 来る／見る' },
  { pattern: /[おご](?!願)\p{sc=Han}+\p{sc=Hiragana}{0,2}(?:ください|します|しま|いたし|いただ|にな[りっる])/u, detail: 'お〜ください／お〜します → 〜てください／〜ます' },
  { pattern: /ご\p{sc=Han}/u, detail: 'ご〜（ご予約、ご質問） → 予約、質問' },
  { pattern: /様/u, detail: '様 → さん' },
  { pattern: /の方[がはにをへとも]/u, detail: '〜の方 → 〜の人' },
];

/** Vague times → an exact time or length (10時まで, 5分). */
export const VAGUE_TIMES: readonly { pattern: RegExp; detail: string }[] = [
  { pattern: /頃|ごろ/u, detail: '〜ごろ' },
  { pattern: /(?<![予契節要集規制婚])約(?=\s*[\d０-９{一二三四五六七八九十数])|お?およそ/u, detail: '約〜／およそ' },
  { pattern: /程度|前後|ほど|くらい|ぐらい/u, detail: '〜程度／〜ほど／〜くらい' },
  { pattern: /しばらく/u, detail: 'しばらく' },
  { pattern: /(?:少し|すこし|ちょっと)(?:前|まえ|後|あと|待|ま[たちっ]|時間|の間)/u, detail: '少し前／少し待って' },
  { pattern: /数(?:秒|分|時間|日|週間|か月)/u, detail: '数分／数日' },
  { pattern: /まもなく|間もなく|もうすぐ|近日|近いうち|後ほど|のちほど|早めに|早急/u, detail: 'まもなく／後ほど／早めに' },
];

/** Double negatives → the positive sentence (使えないわけではない → 使えます). */
export const DOUBLE_NEGATIVES: readonly { pattern: RegExp; detail: string }[] = [
  { pattern: /ない(?:わけ|こと)(?:では|じゃ|は|も)?(?:ない|ありません)/u, detail: '〜ないわけではない' },
  { pattern: /なく(?:は|も)?(?:ない|ありません)/u, detail: '〜なくはない' },
  { pattern: /(?:なければ|なくては|ないと)(?:なら|いけ|だめ)/u, detail: '〜なければならない → 〜てください' },
  { pattern: /(?:ない|なかった)(?:場合|とき|時|なら|と)は?[^。]*?(?:ません|ない|なかった)$/u, detail: '〜ないときは〜ません → 〜すると〜できます' },
];

/** Short sentences: at most this many characters, readings in brackets not counted, a placeholder counted as 2. */
export const MAX_SENTENCE = 40;

/**
 * A reading in brackets after a word: 予約（よやく）, 第2会議室（だい2かいぎしつ）. A bracket right
 * after a reading is an explanation, and counts: 避難所（ひなんじょ）（にげるところ）.
 */
const READING = /(?<!）)（(?=[^）]*[\p{sc=Hiragana}\p{sc=Katakana}])[\p{sc=Hiragana}\p{sc=Katakana}ー\d\s]+）/gu;
const PLACEHOLDER = /\{\{\w+\}\}/g;

/** The sentences of a text: split on 。！？ and line breaks. */
export function sentences(text: string): string[] {
  return text
    .split(/[。！？\n]/u)
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

/** A sentence's length as a reader meets it: no readings, no spaces, a placeholder as 2. */
export function sentenceLength(sentence: string): number {
  return [...sentence.replace(READING, '').replace(PLACEHOLDER, '{}').replace(/\s/gu, '')].length;
}

/**
 * A hard word used bare: not followed (after the rest of its compound) by an explanation in
 * brackets, as the guideline keeps words worth learning: 避難所（ひなんじょ）（にげるところ）.
 */
const bare = (word: string) => new RegExp(`${word}\\p{sc=Han}*(?!\\p{sc=Han}|（[^）]*[\\p{sc=Hiragana}\\p{sc=Katakana}][^）]*）)`, 'u');
const BARE_WORDS = Object.entries(HARD_WORDS).map(([word, easy]) => ({ pattern: bare(word), detail: `${word} → ${easy}` }));

/** A sentence as the word rules read it: no readings, no proper nouns. */
function plain(sentence: string): string {
  return PROPER_NOUNS.reduce((s, noun) => s.replaceAll(noun, '・'), sentence.replace(READING, ''));
}

/** Every rule on every sentence of the texts (by key); nothing found is an empty list. */
export function checkEasyJapanese(texts: Record<string, string>): Finding[] {
  const findings: Finding[] = [];
  for (const [key, text] of Object.entries(texts)) {
    for (const sentence of sentences(text)) {
      const add = (rule: Rule, detail: string) => findings.push({ key, sentence, rule, detail });
      const words = plain(sentence);
      for (const { pattern, detail } of BARE_WORDS) if (pattern.test(words)) add('hardWord', detail);
      for (const { pattern, detail } of HONORIFICS) if (pattern.test(words)) add('honorific', detail);
      for (const { pattern, detail } of VAGUE_TIMES) if (pattern.test(words)) add('vagueTime', detail);
      for (const { pattern, detail } of DOUBLE_NEGATIVES) if (pattern.test(words)) add('doubleNegative', detail);
      const length = sentenceLength(sentence);
      if (length > MAX_SENTENCE) add('length', `${length} > ${MAX_SENTENCE}`);
    }
  }
  return findings;
}

/** Keys that are not sentences: typed words, date formats, the language's own name. */
const NOT_TEXT = /^(?:keywords|format|mail\.format)\.|^language\.name$/;

/** A locale file's texts by dotted key, without the keys that are not sentences. */
export function localeTexts(locale: object, prefix = ''): Record<string, string> {
  return Object.fromEntries(
    Object.entries(locale).flatMap(([k, v]): [string, string][] =>
      typeof v === 'string' ? (NOT_TEXT.test(`${prefix}${k}`) ? [] : [[`${prefix}${k}`, v]]) : Object.entries(localeTexts(v as object, `${prefix}${k}.`)),
    ),
  );
}

/** Every `easy` text in a data file (catalog, knowledge base), by its path. */
export function easyTexts(data: unknown, path = ''): Record<string, string> {
  if (!data || typeof data !== 'object') return {};
  return Object.fromEntries(
    Object.entries(data).flatMap(([k, v]): [string, string][] =>
      k === 'easy' && typeof v === 'string' ? [[`${path}${k}`, v]] : Object.entries(easyTexts(v, `${path}${k}.`)),
    ),
  );
}

const readJson = (path: string): unknown => JSON.parse(readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8'));

/** The texts the checker runs on, per file: locales/easy.json, and the data files' `easy` texts where they exist. */
export function shippedEasyTexts(): Record<string, Record<string, string>> {
  const data = ['data/catalog.json', 'data/knowledge.json'].filter((f) => existsSync(new URL(`../../${f}`, import.meta.url)));
  return {
    'locales/easy.json': localeTexts(readJson('locales/easy.json') as object),
    ...Object.fromEntries(data.map((f) => [f, easyTexts(readJson(f))])),
  };
}

if (import.meta.main) {
  const RULES: Rule[] = ['hardWord', 'honorific', 'vagueTime', 'doubleNegative', 'length'];
  let total = 0;
  for (const [file, texts] of Object.entries(shippedEasyTexts())) {
    const findings = checkEasyJapanese(texts);
    const count = Object.values(texts).reduce((n, t) => n + sentences(t).length, 0);
    total += findings.length;
    console.log(`${file}: ${Object.keys(texts).length} texts, ${count} sentences checked, ${findings.length} findings`);
    for (const rule of RULES) console.log(`  ${rule}: ${findings.filter((f) => f.rule === rule).length}`);
    for (const f of findings) console.log(`  [${f.rule}] ${f.key}: ${f.sentence} (${f.detail})`);
  }
  process.exitCode = total > 0 ? 1 : 0;
}
