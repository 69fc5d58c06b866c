/**
 * LineMessenger (staff replies to a LINE citizen, outside a webhook turn) against the LINE
 * API stub: push only, 5 messages per call, retry keys derived from the delivery key so a
 * retried delivery arrives once, 409 as delivered, nothing sent for no replies.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Reply } from '../../../src/turn.ts';
import { LineMessenger } from '../../../src/channels/line/messenger.ts';
import { LinePushError } from '../../../src/channels/line/push.ts';
import { stableUuid as retryKey } from '../../../src/uuid.ts';
import { createLogger } from '../../../src/log.ts';
import { type LineStub, lineUserId, startLineStub, textOf } from '../../support/lineStub.ts';

let stub: LineStub;
let logs: string[];
beforeEach(async () => {
  stub = await startLineStub(); // fresh: the stub remembers accepted retry keys
  logs = [];
});
afterEach(() => stub.close());

function messenger(): LineMessenger {
  return new LineMessenger({
    channelAccessToken: 'test-token',
    apiBaseUrl: stub.url,
    log: createLogger('info', (l) => logs.push(l)),
    retryDelayMs: 5,
  });
}

/** Cards: each its own message (neighbouring texts would be joined to keep an answer short). */
const cards = (n: number, prefix = 'm'): Reply[] => Array.from({ length: n }, (_, i) => ({ kind: 'card', title: `${prefix}${i + 1}`, fields: [] }));

describe('LineMessenger', () => {
  it('handles LINE user keys only', () => {
    const m = messenger();
    expect(m.handles('line:Uabc')).toBe(true);
    expect(m.handles('web:0123456789abcdef')).toBe(false);
    expect(m.handles('teams:29:abc')).toBe(false);
    expect(m.handles('line:')).toBe(false);
  });

  it('pushes the rendered replies to the user, with quick replies on the last message', async () => {
    const user = lineUserId();
    await messenger().deliver(
      `line:${user}`,
      [
        { kind: 'text', text: '担当者が対応します。' },
        { kind: 'card', title: 'Ticket', fields: [{ label: 'ID', value: 'TK7-ABCD' }] },
        { kind: 'text', text: 'ご用件をどうぞ', choices: [{ label: 'メニュー', data: '{"a":"menu"}' }] },
      ],
      'teams-activity-1',
    );
    const sent = stub.sent();
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatchObject({ kind: 'push', to: user, status: 200, retryKey: retryKey('teams-activity-1#0') });
    expect(sent[0]!.messages.map((m) => m.type)).toEqual(['text', 'flex', 'flex']);
    expect(sent[0]!.messages[2]!.quickReply?.items[0]?.action).toMatchObject({ type: 'postback', label: 'メニュー', data: '{"a":"menu"}' });
  });

  it('sends more than 5 messages in batches of 5, in order, each with its own key', async () => {
    const user = lineUserId();
    await messenger().deliver(`line:${user}`, cards(12), 'msg-42');
    const sent = stub.sent();
    expect(sent.map((c) => c.messages.length)).toEqual([5, 5, 2]);
    expect(sent.map(textOf).join('\n')).toBe(cards(12).map((r) => (r.kind === 'card' ? r.title : '')).join('\n'));
    expect(sent.map((c) => c.retryKey)).toEqual([retryKey('msg-42#0'), retryKey('msg-42#1'), retryKey('msg-42#2')]);
    expect(sent.every((c) => c.to === user && c.status === 200)).toBe(true);
  });

  it('delivers a retried delivery once: the same key gives the same retry keys, and 409 counts as delivered', async () => {
    const user = lineUserId();
    await messenger().deliver(`line:${user}`, cards(7), 'msg-7');
    await messenger().deliver(`line:${user}`, cards(7), 'msg-7');
    const sent = stub.sent();
    expect(sent.map((c) => c.status)).toEqual([200, 200, 409, 409]);
    expect(sent[2]!.retryKey).toBe(sent[0]!.retryKey);
    expect(sent[3]!.retryKey).toBe(sent[1]!.retryKey);
    // Another delivery key is another message.
    await messenger().deliver(`line:${user}`, cards(1), 'msg-8');
    expect(stub.sent().at(-1)).toMatchObject({ status: 200, retryKey: retryKey('msg-8#0') });
  });

  it('retries a failed push with the same key, and finishes the remaining batches', async () => {
    const user = lineUserId();
    stub.failNextPushes(1);
    await messenger().deliver(`line:${user}`, cards(6), 'msg-9');
    const sent = stub.sent();
    expect(sent.map((c) => c.status)).toEqual([500, 200, 200]);
    expect(sent[0]!.retryKey).toBe(sent[1]!.retryKey);
  });

  it('rejects when LINE keeps failing, without logging message text or the user id; a later retry sends the rest once', async () => {
    const user = lineUserId();
    stub.failNextPushes(3);
    await expect(messenger().deliver(`line:${user}`, cards(6, '秘密'), 'msg-10')).rejects.toBeInstanceOf(LinePushError);
    expect(stub.sent().map((c) => c.status)).toEqual([500, 500, 500]);
    for (const l of logs) {
      expect(l).not.toContain('秘密');
      expect(l).not.toContain(user);
    }
    await messenger().deliver(`line:${user}`, cards(6, '秘密'), 'msg-10');
    expect(stub.sent().filter((c) => c.status === 200).map((c) => c.messages.length)).toEqual([5, 1]);
  });

  it('sends nothing for no replies (or only empty texts)', async () => {
    const user = lineUserId();
    await messenger().deliver(`line:${user}`, [], 'msg-11');
    await messenger().deliver(`line:${user}`, [{ kind: 'text', text: '' }], 'msg-12');
    expect(stub.calls).toHaveLength(0);
  });

  it('refuses a user key of another channel', async () => {
    await expect(messenger().deliver('web:0123456789abcdef', cards(1), 'k')).rejects.toThrow();
    expect(stub.calls).toHaveLength(0);
  });
});
