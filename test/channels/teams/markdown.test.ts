/**
 * Staff messages from Teams as plain text for LINE: the Markdown, HTML and entities Teams
 * sends become words a citizen can read, and nothing of the words themselves is lost.
 */
import { describe, expect, it } from 'vitest';
import { plainText } from '../../../src/channels/teams/markdown.ts';

describe('plainText', () => {
  it('takes out bold, italics and strikethrough', () => {
    expect(plainText('**重要**なお知らせです')).toBe('重要なお知らせです');
    expect(plainText('__bold__ and *italic* and _also italic_ and ~~gone~~')).toBe('bold and italic and also italic and gone');
    expect(plainText('***両方***')).toBe('両方');
  });

  it('keeps asterisks and underscores that are not emphasis', () => {
    expect(plainText('2 * 3 = 6, snake_case_name, 5 * 4')).toBe('2 * 3 = 6, snake_case_name, 5 * 4');
    expect(plainText('\\*本当に\\* 星です')).toBe('*本当に* 星です');
  });

  it('writes links as label (url), and an address alone once', () => {
    expect(plainText('詳しくは[市のページ](https://www.city.kawasaki.jp/a_b_c/)をご覧ください')).toBe('詳しくは市のページ (https://www.city.kawasaki.jp/a_b_c/)をご覧ください');
    expect(plainText('[https://example.jp/x](https://example.jp/x)')).toBe('https://example.jp/x');
    expect(plainText('<https://example.jp/_y_>')).toBe('https://example.jp/_y_');
    expect(plainText('[メール](mailto:info@example.jp)')).toBe('メール (info@example.jp)');
    expect(plainText('**[窓口](https://example.jp/desk)**')).toBe('窓口 (https://example.jp/desk)');
    expect(plainText('[**太字の**リンク](https://example.jp/(a))')).toBe('太字のリンク (https://example.jp/(a))');
    // An address written out keeps its underscores, and bold around it goes.
    expect(plainText('**https://example.jp/_a_b_**')).toBe('https://example.jp/_a_b_');
  });

  it('turns headings, bullet lists, quotes and rules into plain lines', () => {
    const markdown = ['## 持ち物', '', '- 本人確認書類', '* 印鑑', '+ 通帳', '  - 予備', '1. 番号つき', '> 引用です', '---', '終わり'].join('\n');
    expect(plainText(markdown)).toBe(['持ち物', '', '• 本人確認書類', '• 印鑑', '• 通帳', '  • 予備', '1. 番号つき', '引用です', '', '終わり'].join('\n'));
  });

  it('keeps the text of code, inline and fenced, as written', () => {
    expect(plainText('番号は `K7M-4QXP` です')).toBe('番号は K7M-4QXP です');
    expect(plainText('```text\n**そのまま** _です_\n  字下げ\n```\n後')).toBe('**そのまま** _です_\n  字下げ\n後');
  });

  it('decodes the HTML entities and takes out the HTML formatting Teams may send', () => {
    expect(plainText('A &amp; B &lt;3&gt; &quot;x&quot; &#39;y&#39; &#x1F600; &unknown; &#xD800;')).toBe('A & B <3> "x" \'y\' 😀 &unknown; &#xD800;');
    expect(plainText('<p><strong>お知らせ</strong></p><p>次の<a href="https://example.jp/q?a=1&amp;b=2">ページ</a>へ<br>どうぞ</p>')).toBe(
      'お知らせ\n次のページ (https://example.jp/q?a=1&b=2)へ\nどうぞ',
    );
    expect(plainText('<ul><li>一つ</li><li>二つ</li></ul><at>田中 花子</at>さん')).toBe('• 一つ\n• 二つ\n田中 花子さん');
    // An escaped tag is the writer's own text.
    expect(plainText('&lt;b&gt;は太字のタグ')).toBe('<b>は太字のタグ');
  });

  it('leaves plain text as it is, apart from spaces at line ends and runs of blank lines', () => {
    const text = 'こんにちは。担当の鈴木です 🙂\n\n\n\nご用件をどうぞ。  \r\n👨‍👩‍👧 🇯🇵';
    expect(plainText(text)).toBe('こんにちは。担当の鈴木です 🙂\n\nご用件をどうぞ。\n👨‍👩‍👧 🇯🇵');
  });
});
