import { describe, expect, it } from 'vitest';
import { renderLine } from '../../../src/channels/line/render.ts';

describe('LINE rendering of an answer card', () => {
  it('puts the links (a city page, a tap to call) in the bubble as URI buttons, and the choices as quick replies', () => {
    const [message] = renderLine([
      {
        kind: 'card',
        title: '粗大ごみ受付センター',
        text: '粗大ごみは申し込みが必要です。',
        fields: [{ label: '電話', value: '044-930-5300 (8:00〜16:45)' }],
        links: [
          { label: 'くわしく見る（市のページ）', uri: 'https://www.city.kawasaki.jp/300/page/0000122927.html' },
          { label: '電話する 044-930-5300', uri: 'tel:0449305300' },
        ],
        choices: [{ label: '役に立った', data: '{"a":"fb","e":"bulky-waste","v":true}' }],
      },
    ]);
    expect(message).toMatchObject({ type: 'flex', altText: expect.stringContaining('粗大ごみ受付センター') });
    const bubble = (message as { contents: { footer?: { contents: { action: { type: string; uri: string } }[] } } }).contents;
    expect(bubble.footer?.contents.map((b) => b.action)).toEqual([
      expect.objectContaining({ type: 'uri', uri: 'https://www.city.kawasaki.jp/300/page/0000122927.html' }),
      expect.objectContaining({ type: 'uri', uri: 'tel:0449305300' }),
    ]);
    expect(message?.quickReply?.items?.map((i) => i.action?.label)).toEqual(['役に立った']);
  });

  it('adds no footer to a card without links', () => {
    const [message] = renderLine([{ kind: 'card', title: 'ご予約', fields: [{ label: '日時', value: '12月8日 9:30' }] }]);
    expect((message as { contents: { footer?: unknown } }).contents.footer).toBeUndefined();
  });
});
