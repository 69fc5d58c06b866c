/**
 * The fan-out over several notifiers: one failing (rejecting, throwing, hanging) never stops
 * the others, failures are logged by name and error class/code without personal data, the
 * Teams card location comes back, and `status()` shows the last outcome of each.
 */
import { describe, expect, it } from 'vitest';
import type { Ticket } from '../../src/domain.ts';
import { FanoutNotifier } from '../../src/notifiers/fanout.ts';
import { LineGroupNotifier } from '../../src/notifiers/lineGroup.ts';
import { WebhookNotifier } from '../../src/notifiers/webhook.ts';
import type { StaffAlert, StaffNotifier } from '../../src/services/staff.ts';
import { startLineStub } from '../support/lineStub.ts';
import { AGENT, captureLog, ticket } from './fixtures.ts';

const PERSONAL = '山田太郎 090-1234-5678 taro@example.jp';

/** An error whose message quotes personal data, as a careless library's might. */
class LeakyError extends Error {
  readonly code = 'E_LEAKY';
  constructor() {
    super(`could not post for ${PERSONAL}`);
    this.name = 'LeakyError';
  }
}

type Behaviour = 'ok' | 'reject' | 'throw' | 'hang' | { card: { conversationId: string; activityId: string } };

/** A notifier that records calls and behaves as told. */
class Fake implements StaffNotifier {
  readonly name: string;
  readonly relaysCitizen: boolean | undefined;
  behaviour: Behaviour;
  readonly calls: { op: string; id: string; text?: string }[] = [];
  constructor(name: string, behaviour: Behaviour = 'ok', relaysCitizen?: boolean) {
    this.name = name;
    this.behaviour = behaviour;
    this.relaysCitizen = relaysCitizen;
  }
  private act<T>(op: string, t: Ticket, value: T, text?: string): Promise<T> {
    this.calls.push({ op, id: t.id, ...(text !== undefined ? { text } : {}) });
    const b = this.behaviour;
    if (b === 'throw') throw new LeakyError();
    if (b === 'reject') return Promise.reject(new LeakyError());
    if (b === 'hang') return new Promise<T>(() => {});
    return Promise.resolve(value);
  }
  ticketOpened(t: Ticket) {
    const b = this.behaviour;
    return this.act('ticketOpened', t, typeof b === 'object' ? b.card : undefined);
  }
  ticketChanged(t: Ticket) {
    return this.act('ticketChanged', t, undefined);
  }
  ticketForwarded(t: Ticket) {
    const b = this.behaviour;
    return this.act('ticketForwarded', t, typeof b === 'object' ? b.card : undefined);
  }
  citizenSaid(t: Ticket, text: string) {
    return this.act('citizenSaid', t, undefined, text);
  }
}

const CARD = { conversationId: '19:staff@thread.tacv2', activityId: '1700000000000' };

describe('FanoutNotifier', () => {
  it('tells every notifier although others reject, throw or hang, and returns the Teams card', async () => {
    const { log, lines } = captureLog();
    const rejecting = new Fake('webhook', 'reject', false);
    const throwing = new Fake('line-group', 'throw', false);
    const hanging = new Fake('slow', 'hang');
    const teams = new Fake('teams', { card: CARD });
    const fanout = new FanoutNotifier([rejecting, throwing, hanging, teams], { log, timeoutMs: 100 });

    const card = await fanout.ticketOpened(ticket());
    expect(card).toEqual(CARD);
    for (const n of [rejecting, throwing, hanging, teams]) expect(n.calls).toEqual([{ op: 'ticketOpened', id: 'TK7-ABCD' }]);
    expect(await fanout.status()).toEqual({ webhook: 'failing', 'line-group': 'failing', slow: 'failing', teams: 'ok' });

    const logged = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(logged).toHaveLength(3);
    expect(logged).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ event: 'notifier.failed', notifier: 'webhook', op: 'ticketOpened', ticket: 'TK7-ABCD', error: 'LeakyError', code: 'E_LEAKY' }),
        expect.objectContaining({ event: 'notifier.failed', notifier: 'line-group', error: 'LeakyError', code: 'E_LEAKY' }),
        expect.objectContaining({ event: 'notifier.failed', notifier: 'slow', error: 'TimeoutError', code: 'timeout' }),
      ]),
    );
    for (const l of lines) {
      expect(l).not.toContain('山田');
      expect(l).not.toContain('090');
      expect(l).not.toContain('example.jp');
      expect(l).not.toContain('could not post');
      expect(l).not.toContain('U0123456789abcdef');
    }
  });

  it('never rejects a ticket event, even when every notifier fails; a relay nobody took rejects', async () => {
    const fanout = new FanoutNotifier([new Fake('a', 'reject'), new Fake('b', 'throw')], { log: captureLog().log });
    await expect(fanout.ticketOpened(ticket())).resolves.toBeUndefined();
    await expect(fanout.ticketChanged(ticket({ status: 'closed' }))).resolves.toBeUndefined();
    // The citizen must hear that their words did not reach staff.
    await expect(fanout.citizenSaid(ticket(), PERSONAL)).rejects.toThrow();
    await expect(new FanoutNotifier([new Fake('a', 'reject'), new Fake('b')], { log: captureLog().log }).citizenSaid(ticket(), PERSONAL)).resolves.toBeUndefined();
  });

  it('returns the first card in notifier order, and nothing when none posts a card', async () => {
    const other = { conversationId: 'c2', activityId: 'a2' };
    const log = captureLog().log;
    expect(await new FanoutNotifier([new Fake('x'), new Fake('t1', { card: CARD }), new Fake('t2', { card: other })], { log }).ticketOpened(ticket())).toEqual(CARD);
    expect(await new FanoutNotifier([new Fake('t1', 'reject'), new Fake('t2', { card: other })], { log }).ticketOpened(ticket())).toEqual(other);
    expect(await new FanoutNotifier([new Fake('x'), new Fake('y')], { log }).ticketOpened(ticket())).toBeUndefined();
    expect(await new FanoutNotifier([], { log }).ticketOpened(ticket())).toBeUndefined();
    // A forward posts a new card the same way: the first location comes back.
    const forwarding = { from: 'contact_center' as const, by: AGENT, at: '2026-11-24T01:10:00.000Z' };
    expect(await new FanoutNotifier([new Fake('t1', 'reject'), new Fake('t2', { card: other })], { log }).ticketForwarded(ticket({ desk: 'office' }), forwarding)).toEqual(other);
  });

  it('shows the last outcome: ok before any call, failing after a failure, ok again after a success', async () => {
    const webhook = new Fake('webhook', 'ok', false);
    const fanout = new FanoutNotifier([webhook, new Fake('teams')], { log: captureLog().log });
    expect(await fanout.status()).toEqual({ webhook: 'ok', teams: 'ok' });
    webhook.behaviour = 'reject';
    await fanout.ticketChanged(ticket({ status: 'claimed', claimedBy: AGENT }));
    expect(await fanout.status()).toEqual({ webhook: 'failing', teams: 'ok' });
    // A relay is not sent to the webhook, so it cannot make it look healthy.
    webhook.behaviour = 'ok';
    await fanout.citizenSaid(ticket({ status: 'claimed', claimedBy: AGENT }), 'hello');
    expect(await fanout.status()).toEqual({ webhook: 'failing', teams: 'ok' });
    await fanout.ticketChanged(ticket({ status: 'closed', closedBy: AGENT }));
    expect(await fanout.status()).toEqual({ webhook: 'ok', teams: 'ok' });
  });

  it('relays what the citizen says only to notifiers that relay (Teams), and logs a failure without the text', async () => {
    const { log, lines } = captureLog();
    const teams = new Fake('teams', 'reject');
    const group = new Fake('line-group', 'ok', false);
    const fanout = new FanoutNotifier([teams, group], { log });
    await expect(fanout.citizenSaid(ticket({ status: 'claimed', claimedBy: AGENT }), PERSONAL)).rejects.toThrow();
    expect(teams.calls).toEqual([{ op: 'citizenSaid', id: 'TK7-ABCD', text: PERSONAL }]);
    expect(group.calls).toEqual([]);
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ event: 'notifier.failed', notifier: 'teams', op: 'citizenSaid' });
    expect(lines[0]).not.toContain('090');
  });

  it('passes an alert to the notifiers that take alerts, and never rejects it', async () => {
    const { log, lines } = captureLog();
    const alerts: string[] = [];
    const teams = Object.assign(new Fake('teams'), { alert: async (a: StaffAlert) => void alerts.push(a.reference) });
    const failing = Object.assign(new Fake('webhook'), { alert: async () => Promise.reject(new LeakyError()) });
    const group = new Fake('line-group');
    const fanout = new FanoutNotifier([teams, failing, group], { log });
    await fanout.alert({ kind: 'meeting_link_missing', sessionId: 's1', date: '2026-12-08', reference: 'K7M-4QXP' });
    expect(alerts).toEqual(['K7M-4QXP']);
    expect(group.calls).toEqual([]);
    expect(lines.map((l) => JSON.parse(l) as { notifier: string; op: string })).toMatchObject([{ notifier: 'webhook', op: 'alert' }]);
  });

  it('refuses two notifiers with the same name (status would be ambiguous)', () => {
    expect(() => new FanoutNotifier([new Fake('teams'), new Fake('teams')], { log: captureLog().log })).toThrow(/two notifiers/);
  });

  it('with the real notifiers: a webhook answering 400 does not keep the LINE group from being told', async () => {
    const stub = await startLineStub();
    const { log, lines } = captureLog();
    try {
      const group = new LineGroupNotifier({ channelAccessToken: 't', apiBaseUrl: stub.url, groupId: 'C0123456789abcdef0123456789abcdef', log, retryDelayMs: 5 });
      // The LINE stub answers 404 to anything but reply/push: a webhook that is refused.
      const webhook = new WebhookNotifier({ url: `${stub.url}/not-a-webhook`, secret: 's', log, baseDelayMs: 5 });
      const fanout = new FanoutNotifier([webhook, group], { log });
      await fanout.ticketOpened(ticket({ id: 'TK7-REAL' }));
      expect(stub.sent().map((c) => [c.to, c.status, c.messages[0]?.text])).toEqual([
        ['C0123456789abcdef0123456789abcdef', 200, 'New ticket TK7-REAL: requested, high, ombudsman, ja (step: booking:time:in_person)'],
      ]);
      expect(stub.calls.filter((c) => c.path === '/not-a-webhook')).toHaveLength(1); // 4xx: not retried
      expect(await fanout.status()).toEqual({ webhook: 'failing', 'line-group': 'ok' });
      expect(lines.map((l) => JSON.parse(l))).toContainEqual(
        expect.objectContaining({ event: 'notifier.failed', notifier: 'webhook', error: 'WebhookError', code: 'http_404' }),
      );
    } finally {
      await stub.close();
    }
  });
});
