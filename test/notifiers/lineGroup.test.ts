/**
 * The LINE staff-group notifier against the LINE API stub: what the group reads, that it
 * carries no personal data, and that retry keys are a pure function of (ticket, event), so a
 * retried notification arrives once.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LinePushError } from '../../src/channels/line/push.ts';
import { changedText, LineGroupNotifier, openedText } from '../../src/notifiers/lineGroup.ts';
import { type LineStub, startLineStub } from '../support/lineStub.ts';
import { AGENT, captureLog, ticket } from './fixtures.ts';

const GROUP = 'C0123456789abcdef0123456789abcdef';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

// A fresh stub per test: the stub remembers accepted retry keys for its whole life.
let stub: LineStub;
beforeEach(async () => {
  stub = await startLineStub();
});
afterEach(() => stub.close());

function notifier(log = captureLog().log): LineGroupNotifier {
  return new LineGroupNotifier({ channelAccessToken: 'test-token', apiBaseUrl: stub.url, groupId: GROUP, log, retryDelayMs: 5 });
}

describe('LineGroupNotifier', () => {
  it('pushes a short text with the triage fields to the staff group when a ticket opens', async () => {
    await notifier().ticketOpened(ticket());
    const sent = stub.sent();
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatchObject({ kind: 'push', to: GROUP, status: 200 });
    expect(sent[0]!.retryKey).toMatch(UUID);
    expect(sent[0]!.messages).toEqual([
      { type: 'text', text: 'New ticket TK7-ABCD: requested, high, ombudsman, ja (step: booking:time:in_person)' },
    ]);
    expect(stub.calls[0]!.headers.authorization).toBe('Bearer test-token');
  });

  it('leaves out personal data and a context that is not a step name', async () => {
    const t = ticket({ context: '山田太郎 090-1234-5678', locale: 'en', priority: 'normal', reason: 'screening_unsure' });
    const text = openedText(t);
    expect(text).toBe('New ticket TK7-ABCD: screening_unsure, normal, ombudsman, en');
    await notifier().ticketOpened(t);
    const body = JSON.stringify(stub.calls[0]!.body);
    expect(body).not.toContain('U0123456789abcdef');
    expect(body).not.toContain('山田');
    expect(body).not.toContain('090');
  });

  it('says who claimed a ticket, and that it was closed', async () => {
    const n = notifier();
    await n.ticketChanged(ticket({ status: 'claimed', claimedBy: AGENT, claimedAt: '2026-11-24T01:05:00.000Z' }));
    await n.ticketChanged(ticket({ status: 'closed', claimedBy: AGENT, closedBy: AGENT, closedAt: '2026-11-24T01:30:00.000Z' }));
    await n.ticketChanged(ticket({ id: 'TK7-EFGH', status: 'closed', closedBy: 'citizen', closedAt: '2026-11-24T01:30:00.000Z' }));
    expect(stub.sent().map((c) => c.messages[0]?.text)).toEqual([
      'Ticket TK7-ABCD claimed by Sato Hanako',
      'Ticket TK7-ABCD closed by Sato Hanako',
      'Ticket TK7-EFGH closed by the citizen',
    ]);
    expect(changedText(ticket({ status: 'open' }))).toBeUndefined();
  });

  it('does not relay what the citizen says (that happens in Teams)', async () => {
    await notifier().citizenSaid(ticket({ status: 'claimed', claimedBy: AGENT }), '電話番号は09012345678です');
    expect(stub.calls).toHaveLength(0);
  });

  it('uses one retry key per (ticket, event): a repeated notification is delivered once', async () => {
    const t = ticket();
    await notifier().ticketOpened(t);
    // Another instance (a restart, a second replica) sending the same event: same key, 409.
    await notifier().ticketOpened(t);
    const claimed = ticket({ status: 'claimed', claimedBy: AGENT });
    await notifier().ticketChanged(claimed);
    await notifier().ticketChanged(claimed);
    await notifier().ticketChanged(ticket({ status: 'closed', closedBy: AGENT }));
    await notifier().ticketOpened(ticket({ id: 'TK7-WXYZ' }));

    const sent = stub.sent();
    expect(sent.map((c) => c.status)).toEqual([200, 409, 200, 409, 200, 200]);
    expect(sent[1]!.retryKey).toBe(sent[0]!.retryKey);
    expect(sent[3]!.retryKey).toBe(sent[2]!.retryKey);
    expect(new Set([sent[0], sent[2], sent[4], sent[5]].map((c) => c!.retryKey)).size).toBe(4);
  });

  it('retries a failed push with the same key and delivers it once', async () => {
    stub.failNextPushes(2);
    await notifier().ticketOpened(ticket());
    const sent = stub.sent();
    expect(sent.map((c) => c.status)).toEqual([500, 500, 200]);
    expect(new Set(sent.map((c) => c.retryKey)).size).toBe(1);
  });

  it('rejects after the last attempt, logging the status but no text', async () => {
    const { log, lines } = captureLog();
    stub.failNextPushes(3);
    await expect(notifier(log).ticketOpened(ticket())).rejects.toBeInstanceOf(LinePushError);
    expect(stub.sent()).toHaveLength(3);
    expect(lines).toHaveLength(3);
    for (const line of lines) {
      expect(JSON.parse(line)).toMatchObject({ event: 'line.push_failed', status: 500 });
      expect(line).not.toContain('New ticket');
      expect(line).not.toContain(GROUP);
    }
  });
});
