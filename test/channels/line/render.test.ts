/**
 * LINE rendering: buttons inside the bubble (LINE for PC has no quick replies), the same
 * buttons as quick replies on the last message, headings and rows, numbers, alt texts without
 * personal data, at most three messages, and LINE's limits, cut at whole graphemes.
 */
import { describe, expect, it } from 'vitest';
import type { messagingApi } from '@line/bot-sdk';
import { renderLine } from '../../../src/channels/line/render.ts';
import type { Choice, Reply } from '../../../src/turn.ts';
import type { SentMessage } from '../../support/lineStub.ts';
import { bubbleButtons } from './flex.ts';

const choice = (label: string, extra: Partial<Choice> = {}): Choice => ({ label, data: JSON.stringify({ a: 'x', v: label }), ...extra });
const sent = (m: messagingApi.Message) => m as unknown as SentMessage;
type Bubble = { body?: { contents: unknown[] }; footer?: { contents: unknown[] } };
const bubbleOf = (m: messagingApi.Message) => (m as messagingApi.FlexMessage).contents as Bubble;

/** True when `text` has a lone surrogate or ends inside a joined emoji. */
const broken = (text: string) => /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]|\u200D(?!\p{Extended_Pictographic})/u.test(text);

describe('LINE rendering', () => {
  it('keeps a text without buttons a text message, and drops an empty one', () => {
    expect(renderLine([{ kind: 'text', text: 'こんにちは' }, { kind: 'text', text: '' }])).toEqual([{ type: 'text', text: 'こんにちは' }]);
  });

  it('puts the buttons of a text inside its bubble as postbacks that echo the label, and the same ones as quick replies on the last message', () => {
    const choices = [choice('予約する'), choice('予約の確認'), choice('担当者と話したい')];
    const [note, prompt] = renderLine([{ kind: 'text', text: 'お知らせ' }, { kind: 'text', text: 'ご用件を選んでください。', choices }]);
    expect(note).toEqual({ type: 'text', text: 'お知らせ' });
    expect(prompt).toMatchObject({ type: 'flex', altText: 'ご用件を選んでください。' });
    expect(JSON.stringify(bubbleOf(prompt!).body)).toContain('ご用件を選んでください。');
    expect(bubbleButtons(sent(prompt!))).toEqual(choices.map(({ label, data }) => ({ label, data })));
    const inBubble = JSON.stringify(bubbleOf(prompt!).footer);
    for (const c of choices) expect(inBubble).toContain(JSON.stringify({ type: 'postback', label: c.label, data: c.data, displayText: c.label }).slice(1, -1));
    expect(prompt!.quickReply?.items?.map((i) => i.action)).toEqual(choices.map((c) => ({ type: 'postback', label: c.label, data: c.data, displayText: c.label })));
    expect(note!.quickReply).toBeUndefined();
  });

  it('shows a card with its fields and text, the buttons and then the links in its footer, and says only its title in the alt text', () => {
    const [message] = renderLine([
      {
        kind: 'card',
        title: '予約内容の確認',
        fields: [
          { label: 'お名前', value: '川崎 花子' },
          { label: '電話番号', value: '090-1234-5678' },
        ],
        text: 'この内容で予約しますか？',
        choices: [choice('予約する'), choice('名前を直す')],
        links: [{ label: '電話する 044-930-5300', uri: 'tel:0449305300' }],
      },
    ]);
    expect(message).toMatchObject({ type: 'flex', altText: '予約内容の確認' });
    const body = JSON.stringify(bubbleOf(message!).body);
    for (const words of ['予約内容の確認', 'お名前', '川崎 花子', '090-1234-5678', 'この内容で予約しますか？']) expect(body).toContain(words);
    expect(bubbleButtons(sent(message!)).map((b) => b.label)).toEqual(['予約する', '名前を直す']);
    const footer = JSON.stringify(bubbleOf(message!).footer);
    expect(footer.indexOf('名前を直す')).toBeLessThan(footer.indexOf('"uri":"tel:0449305300"'));
  });

  it("takes a reply's alt text over its words: a text that quotes the citizen keeps the quote out of notifications", () => {
    const [message] = renderLine([{ kind: 'text', text: '担当者に送ってよいですか？\n\n「山田です。090-1111-2222」', alt: '担当者に送ってよいですか？', choices: [choice('送る')] }]);
    expect(message).toMatchObject({ altText: '担当者に送ってよいですか？' });
    expect(JSON.stringify(bubbleOf(message!).body)).toContain('山田です。090-1111-2222');
  });

  it('gives a card without buttons or links no footer', () => {
    const [message] = renderLine([{ kind: 'card', title: 'ご予約', fields: [{ label: '日時', value: '12月8日 9:30' }] }]);
    expect(bubbleOf(message!).footer).toBeUndefined();
  });

  it('puts grouped buttons under their headings in the body, in order, and the rest in the footer', () => {
    const times = ['9:00', '9:30', '10:00', '10:30', '11:00', '11:30', '13:00', '13:30', '14:00', '14:30', '15:00', '15:30'];
    const choices = [...times.map((t) => choice(t, { group: Number(t.split(':')[0]) < 12 ? '午前' : '午後' })), choice('戻る')];
    const [message] = renderLine([{ kind: 'text', text: '時間を選んでください。', choices }]);
    const body = bubbleOf(message!).body!.contents;
    const texts = body.filter((c): c is { type: 'text'; text: string } => (c as { type: string }).type === 'text').map((c) => c.text);
    expect(texts).toEqual(['時間を選んでください。', '午前', '午後']);
    const bodyJson = JSON.stringify(body);
    expect(bodyJson.indexOf('午前')).toBeLessThan(bodyJson.indexOf('"9:00"'));
    expect(bodyJson.indexOf('"11:30"')).toBeLessThan(bodyJson.indexOf('午後'));
    expect(bodyJson.indexOf('午後')).toBeLessThan(bodyJson.indexOf('"13:00"'));
    expect(bodyJson).not.toContain('戻る');
    expect(bubbleButtons(sent({ ...message!, contents: { type: 'bubble', footer: bubbleOf(message!).footer } } as messagingApi.Message)).map((b) => b.label)).toEqual(['戻る']);
    // Three times a row: the morning is two rows, on screen at once with the afternoon.
    const rows = body.filter((c) => (c as { layout?: string }).layout === 'horizontal') as { contents: unknown[] }[];
    expect(rows.map((r) => r.contents.length)).toEqual([3, 3, 3, 3]);
    // All thirteen are also the quick replies.
    expect(message!.quickReply?.items).toHaveLength(13);
  });

  it('sets short labels side by side, filling a short last row, and long ones one a row', () => {
    const [short] = renderLine([{ kind: 'text', text: 'どれですか？', choices: [choice('はい'), choice('いいえ'), choice('戻る'), choice('次へ')] }]);
    const shortRows = bubbleOf(short!).footer!.contents as { layout: string; contents: { type: string }[] }[];
    expect(shortRows.map((r) => r.contents.map((c) => c.type))).toEqual([
      ['button', 'button', 'button'],
      ['button', 'filler', 'filler'],
    ]);
    const [long] = renderLine([{ kind: 'text', text: 'どれですか？', choices: [choice('粗大ごみの出し方と手数料'), choice('住民票の写しをコンビニで')] }]);
    expect((bubbleOf(long!).footer!.contents as { type: string }[]).map((c) => c.type)).toEqual(['button', 'button']);
  });

  it("shows each button's number in a numbered reply, counted over the whole answer", () => {
    const [first, second] = renderLine([
      { kind: 'text', text: 'いまの予約', choices: [choice('12/8 9:30')] },
      { kind: 'text', text: '日にちを選んでください。', choices: [choice('火 12/8 残12'), choice('金 1/8 残12'), choice('戻る')], numbered: true },
    ]);
    expect(bubbleButtons(sent(first!))).toEqual([{ label: '12/8 9:30', data: choice('12/8 9:30').data }]);
    expect(bubbleButtons(sent(second!)).map((b) => [b.number, b.label])).toEqual([
      [2, '火 12/8 残12'],
      [3, '金 1/8 残12'],
      [4, '戻る'],
    ]);
  });

  it('answers in at most three messages: neighbouring texts are joined, bubbles never, the quick replies stay on the last', () => {
    const messages = renderLine([
      { kind: 'text', text: 'a' },
      { kind: 'text', text: 'b' },
      { kind: 'text', text: 'c' },
      { kind: 'card', title: 't', fields: [] },
      { kind: 'text', text: 'd', choices: [choice('ok')] },
    ]);
    expect(messages.map((m) => m.type)).toEqual(['text', 'flex', 'flex']);
    expect(messages[0]).toEqual({ type: 'text', text: 'a\n\nb\n\nc' });
    expect(messages[2]!.quickReply?.items).toHaveLength(1);
    expect(renderLine([1, 2, 3].map((n) => ({ kind: 'text', text: `${n}` }) as Reply))).toHaveLength(3);
  });

  describe("LINE's limits", () => {
    const family = '👨‍👩‍👧';

    it('keeps 13 quick replies of 20 characters, button labels of 40, display texts of 300, an alt text of 400 and a text of 5,000', () => {
      const long = 'あ'.repeat(500);
      const choices = Array.from({ length: 20 }, (_, i) => choice(`${i}${long}`));
      const messages = renderLine([
        { kind: 'text', text: 'x'.repeat(6000) },
        { kind: 'text', text: long, choices },
      ]);
      expect(messages[0]).toMatchObject({ type: 'text' });
      expect((messages[0] as messagingApi.TextMessage).text.length).toBeLessThanOrEqual(5000);
      const flex = messages[1] as messagingApi.FlexMessage;
      expect(flex.altText.length).toBeLessThanOrEqual(400);
      expect(flex.quickReply!.items).toHaveLength(13);
      for (const item of flex.quickReply!.items!) {
        const action = item.action as messagingApi.PostbackAction;
        expect(action.label!.length).toBeLessThanOrEqual(20);
        expect(action.displayText!.length).toBeLessThanOrEqual(300);
      }
      for (const b of bubbleButtons(sent(flex))) expect(b.label.length).toBeLessThanOrEqual(40);
    });

    it('cuts at whole graphemes: an emoji at a limit is kept whole or left out, never split', () => {
      for (let at = 8; at <= 34; at++) {
        const label = `${'a'.repeat(at)}${family}${'b'.repeat(40)}`;
        const [message] = renderLine([{ kind: 'card', title: `${'c'.repeat(at + 380)}${family}`, fields: [], choices: [choice(label)] }]);
        const flex = message as messagingApi.FlexMessage;
        const quick = (flex.quickReply!.items![0]!.action as messagingApi.PostbackAction).label!;
        const [button] = bubbleButtons(sent(flex));
        for (const cut of [quick, button!.label, flex.altText]) {
          expect(broken(cut), JSON.stringify(cut)).toBe(false);
          expect(cut.includes('\u200D') ? cut.includes(family) : true).toBe(true);
        }
        expect(quick.length).toBeLessThanOrEqual(20);
        expect(flex.altText.length).toBeLessThanOrEqual(400);
      }
    });

    it('keeps a bubble at our caps inside 30 KB: 24 numbered buttons, eight fields, 2,000 characters of text', () => {
      // Button data as `encodeAction` makes it: an action with ids of at most 64 characters.
      const data = JSON.stringify({ a: 'moveTo', s: 's'.repeat(64), v: '0930' });
      const choices = Array.from({ length: 40 }, (_, i) => ({ label: `${i} ${'あ'.repeat(60)}`, data }));
      const fields = Array.from({ length: 8 }, () => ({ label: 'あ'.repeat(20), value: `${'x'.repeat(244)}@example.jp` }));
      const [message] = renderLine([{ kind: 'card', title: 'あ'.repeat(100), fields, text: 'う'.repeat(5000), choices, numbered: true }]);
      expect(bubbleButtons(sent(message!))).toHaveLength(24);
      expect(Buffer.byteLength(JSON.stringify((message as messagingApi.FlexMessage).contents))).toBeLessThanOrEqual(30_000);
    });
  });
});
