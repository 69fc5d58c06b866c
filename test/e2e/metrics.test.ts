/**
 * `/metrics` end to end: the whole app (startApp, a memory store, the stub LINE API and the stub
 * Bot Framework connector) with METRICS_TOKEN and a metrics listener of its own. A LINE citizen
 * books (one reply LINE refuses, one push it fails once), another asks for a person while Teams
 * refuses the card (403), and a turn meets a store that fails; the scrape then counts each of them, by
 * labels from fixed sets only, with nothing of the citizens in it. The scrape needs the token
 * on both listeners.
 */
import { describe, expect, it } from 'vitest';
import { createMemoryStore } from '../../src/stores/memory.ts';
import type { Store } from '../../src/stores/ports.ts';
import { e2eApp } from '../support/e2e.ts';
import { eventsToTimeStep, type LineEvent, lineUserId, REFERENCE, tap } from '../support/lineStub.ts';
import { type Member, STAFF_CHANNEL } from '../support/teams.ts';

const TOKEN = 'metrics-token-0123456789abcdef-0123456789';
const SUZUKI: Member = { id: '29:suzuki', aadObjectId: 'aad-suzuki-0001', name: '鈴木 一郎' };

/** Loads of conversations that fail next (the store "down" for one turn). */
const failing = { loads: 0 };
function flakyStore(): Store {
  const base = createMemoryStore();
  return {
    ...base,
    conversations: {
      ...base.conversations,
      async load(key) {
        if (failing.loads > 0) {
          failing.loads--;
          throw new Error('connection lost');
        }
        return base.conversations.load(key);
      },
      async loadCounting(key, nowMs, windowMs) {
        if (failing.loads > 0) {
          failing.loads--;
          throw new Error('connection lost');
        }
        return base.conversations.loadCounting(key, nowMs, windowMs);
      },
    },
  };
}

const e2e = e2eApp({ idPrefix: 'metrics-msg-', installer: SUZUKI, env: { METRICS_TOKEN: TOKEN, METRICS_PORT: '0' }, overrides: () => ({ store: flakyStore() }) });
const { ev, pushesTo, teamsSays, install } = e2e;

async function scrape(url: string, token: string | null = TOKEN): Promise<Response> {
  return fetch(`${url}/metrics`, token === null ? {} : { headers: { authorization: `Bearer ${token}` } });
}

const metricsUrl = () => `http://127.0.0.1:${e2e.running.app.metricsPort()}`;

/** The value of one sample (`name{labels}`), or undefined when the scrape has none. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  const wanted = Object.entries(labels);
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = new Map([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1]!, l[2]!]));
    if (wanted.every(([k, v]) => have.get(k) === v)) return Number(m[3]);
  }
  return undefined;
}

/** What each label of the bot's own metrics may say. */
const ALLOWED: Record<string, string[]> = {
  channel: ['line', 'webchat', 'teams', 'other'],
  outcome: ['answered', 'duplicate', 'resent', 'limited', 'apology', 'answered_unsaved'],
  change: ['made', 'cancelled', 'moved'],
  result: ['held', 'taken', 'already_booked', 'closed'],
  endpoint: ['reply', 'push', 'loading', 'profile'],
  op: ['post', 'update', 'reply'],
  status_class: ['4xx', '429', '5xx', 'timeout', 'network', 'other'],
  queue: ['lifecycle'],
  state: ['waiting', 'delayed', 'failed', 'open', 'claimed'],
};

describe('/metrics', () => {
  it('counts a LINE booking, its holds, LINE and Teams failures, an apology, the tickets and jobs waiting, with no personal data', async () => {
    // The staff channel, then Teams failing: the ticket card cannot be posted.
    expect(await teamsSays(install(STAFF_CHANNEL))).not.toHaveLength(0);
    await expect.poll(async () => (await e2e.readyz()).staffChannel).toBe('ok');

    const user = lineUserId();
    const [first, ...toTimeStep] = eventsToTimeStep(ev, user);
    // LINE refuses the reply token (400), then fails the push once (500): answered on the retry.
    e2e.line.failNextReplies(1);
    e2e.line.failNextPushes(1);
    await e2e.webhook(first!);
    await e2e.line.waitFor(() => pushesTo(user).some((c) => c.status === 200));
    for (const event of toTimeStep) await e2e.citizen(event);
    const steps: LineEvent[] = [ev.postback(user, tap.time('0930')), ev.postback(user, tap.agree()), ev.text(user, '川崎 花子'), ev.text(user, '090-1234-5678'), ev.text(user, 'hanako@example.jp')];
    for (const event of steps) await e2e.citizen(event);
    const confirm = ev.postback(user, tap.confirm());
    const reference = REFERENCE.exec(JSON.stringify((await e2e.citizen(confirm)).map((c) => c.messages)))?.[0];
    expect(reference).toBeDefined();
    // LINE delivers the confirmation again: a duplicate, dropped.
    await e2e.webhook({ ...confirm, deliveryContext: { isRedelivery: true } });

    e2e.connector.fail(STAFF_CHANNEL, 403);
    const asker = lineUserId();
    await e2e.citizen(ev.text(asker, '担当者と話したい'));
    const [ticket] = await e2e.running.app.store.tickets.listOpen();
    expect(ticket).toBeDefined();
    // The card is posted after the citizen's answer.
    await expect.poll(async () => sample(await (await scrape(metricsUrl())).text(), 'citybot_teams_api_errors_total', { op: 'post', status_class: '4xx' })).toBeGreaterThanOrEqual(1);

    // The store fails for one turn: the citizen gets an apology.
    failing.loads = 1;
    await e2e.citizen(ev.text(asker, 'もしもし'));

    const res = await scrape(metricsUrl());
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/plain');
    const text = await res.text();

    const turns = (outcome: string) => sample(text, 'citybot_turns_total', { channel: 'line', outcome });
    // The steps to the time, those to the summary, the confirmation and the handoff; the apology apart.
    expect(turns('answered')).toBe(1 + toTimeStep.length + steps.length + 1 + 1);
    expect(turns('duplicate')).toBe(1);
    expect(turns('apology')).toBe(1);
    expect(sample(text, 'citybot_turn_duration_seconds_count', { channel: 'line' })).toBe(turns('answered')! + 2);
    expect(sample(text, 'citybot_turn_duration_seconds_bucket', { channel: 'line', le: '+Inf' })).toBe(turns('answered')! + 2);
    expect(sample(text, 'citybot_bookings_total', { change: 'made' })).toBe(1);
    expect(sample(text, 'citybot_bookings_total', { change: 'cancelled' })).toBe(0);
    expect(sample(text, 'citybot_holds_total', { result: 'held' })).toBe(1);
    expect(sample(text, 'citybot_line_api_errors_total', { endpoint: 'reply', status_class: '4xx' })).toBe(1);
    expect(sample(text, 'citybot_line_api_errors_total', { endpoint: 'push', status_class: '5xx' })).toBe(1);
    expect(sample(text, 'citybot_line_api_retries_total', { endpoint: 'push', status_class: '5xx' })).toBe(1);
    expect(sample(text, 'citybot_teams_api_errors_total', { op: 'post', status_class: '4xx' })).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'citybot_tickets', { state: 'open' })).toBe(1);
    expect(sample(text, 'citybot_tickets', { state: 'claimed' })).toBe(0);
    // The reminders of the booking wait for their days.
    expect(sample(text, 'citybot_job_queue_jobs', { queue: 'lifecycle', state: 'delayed' })).toBeGreaterThanOrEqual(2);
    expect(sample(text, 'citybot_job_queue_jobs', { queue: 'lifecycle', state: 'failed' })).toBe(0);
    // Node's own.
    expect(sample(text, 'process_cpu_user_seconds_total')).toBeGreaterThan(0);
    expect(sample(text, 'nodejs_eventloop_lag_seconds')).toBeDefined();

    // No label of the bot's metrics says anything but its fixed words; nothing of the citizens anywhere.
    for (const line of text.split('\n').filter((l) => l.startsWith('citybot_'))) {
      for (const [, label, value] of line.matchAll(/(\w+)="([^"]*)"/g)) {
        if (label === 'le') continue;
        expect(ALLOWED[label!], line).toContain(value);
      }
    }
    for (const secret of [user, asker, reference!, ticket!.id, '川崎', '花子', '090-1234-5678', 'hanako@example.jp', '担当者', SUZUKI.id]) {
      expect(text).not.toContain(secret);
    }
  });

  it('asks for the token on both listeners, and serves only /metrics on its own', async () => {
    await e2e.citizen(ev.text(lineUserId(), 'こんにちは'));
    for (const url of [e2e.running.url, metricsUrl()]) {
      expect((await scrape(url, null)).status).toBe(401);
      expect((await scrape(url, 'x'.repeat(40))).status).toBe(401);
      const ok = await scrape(url);
      expect(ok.status).toBe(200);
      expect(sample(await ok.text(), 'citybot_turns_total', { channel: 'line', outcome: 'answered' })).toBe(1);
    }
    expect((await fetch(`${metricsUrl()}/healthz`)).status).toBe(404);
    expect((await fetch(`${metricsUrl()}/line/webhook`, { method: 'POST' })).status).toBe(404);
  });
});
