/**
 * The scaffold of the end-to-end tests: the stub LINE Messaging API and the stub Bot
 * Framework connector for the whole file, a fake clock, and a fresh app (startApp, over real
 * HTTP) for each test; plus the helpers both sides of a test speak through: a citizen on
 * LINE, staff in Teams, the cards in a channel.
 *
 * `e2eApp` registers the vitest hooks itself, so call it at the top level of a test file.
 */
import { afterAll, afterEach, beforeAll, beforeEach, expect } from 'vitest';
import type { AppOverrides } from '../../src/app.ts';
import { fakeClock, type RunningApp, startApp } from './app.ts';
import { type ConnectorCall, type ConnectorStub, shownText, startConnectorStub } from './connectorStub.ts';
import { eventFactory, type LineEvent, type LineStub, postWebhook, type SentCall, startLineStub } from './lineStub.ts';
import { cardsIn, type Member, STAFF_TEAM, teamsActivities, teamsClient, TENANT } from './teams.ts';

export const SECRET = 'e2e-channel-secret-0123456789abcdef';
export const OPEN_ISO = '2026-11-24T10:00:00+09:00'; // a Tuesday, office open

export interface E2eOptions {
  /** Env on top of the LINE and staff-team settings every e2e app gets. */
  env?: Record<string, string>;
  /** Overrides built before each app starts (e.g. a fresh store). */
  overrides?: () => AppOverrides | Promise<AppOverrides>;
  /** Prefix of the generated Teams activity ids. */
  idPrefix: string;
  /** Who installs the bot in a channel. */
  installer: Member;
}

export function e2eApp(o: E2eOptions) {
  let line: LineStub;
  let connector: ConnectorStub;
  let running: RunningApp;
  const clock = fakeClock(OPEN_ISO);
  const ev = eventFactory(clock.now);

  beforeAll(async () => {
    line = await startLineStub();
    connector = await startConnectorStub();
  });
  afterAll(async () => {
    await line?.close();
    await connector?.close();
  });
  beforeEach(async () => {
    line.reset();
    connector.reset();
    clock.set(OPEN_ISO);
    const overrides = (await o.overrides?.()) ?? {};
    running = await startApp(
      { LINE_CHANNEL_SECRET: SECRET, LINE_CHANNEL_ACCESS_TOKEN: 'test-token', LINE_API_BASE_URL: line.url, STAFF_TEAM_ID: STAFF_TEAM, STAFF_TENANT_ID: TENANT, TEAMS_UNAUTHENTICATED: 'true', ...o.env },
      { ...overrides, now: clock.now, lineRetryDelayMs: 5 },
    );
  });
  afterEach(async () => {
    await running?.close();
  });

  // ---- LINE side -------------------------------------------------------------------------

  function repliesTo(event: LineEvent): SentCall[] {
    return line.sent().filter((c) => c.kind === 'reply' && c.replyToken === event.replyToken);
  }

  /** Every push to `userId`, answered or not. */
  function pushesTo(userId: string): SentCall[] {
    return line.sent().filter((c) => c.kind === 'push' && c.to === userId);
  }

  /** Posts one event to the webhook, signed (200 expected: the turn is done). */
  async function webhook(event: LineEvent): Promise<void> {
    const res = await postWebhook(running.url, [event], SECRET);
    expect(res.status).toBe(200);
  }

  /** The citizen sends one event; resolves with the bot's replies to it (waits for one LINE accepted). */
  async function citizen(event: LineEvent): Promise<SentCall[]> {
    await webhook(event);
    await line.waitFor(() => repliesTo(event).some((c) => c.status === 200));
    return repliesTo(event);
  }

  // ---- Teams side ------------------------------------------------------------------------

  const builders = teamsActivities({ serviceUrl: () => connector.url, now: clock.now, locale: 'ja-JP', team: STAFF_TEAM, idPrefix: o.idPrefix, installer: o.installer });
  const client = teamsClient(
    () => running.url,
    () => connector,
  );

  /** What `/readyz` says. */
  async function readyz(): Promise<Record<string, unknown>> {
    return (await (await fetch(`${running.url}/readyz`)).json()) as Record<string, unknown>;
  }

  /** Waits for the n-th card posted in a channel. */
  async function nthCard(channel: string, n = 1): Promise<ConnectorCall> {
    await expect.poll(() => cardsIn(connector, channel).length).toBeGreaterThanOrEqual(n);
    return cardsIn(connector, channel)[n - 1]!;
  }

  /** Waits for the card of a ticket in a channel. */
  async function cardOfTicket(channel: string, ticketId: string): Promise<ConnectorCall> {
    const find = () => cardsIn(connector, channel).find((c) => shownText(c.activity).includes(ticketId));
    await expect.poll(() => find() !== undefined).toBe(true);
    return find()!;
  }

  return {
    get line() {
      return line;
    },
    get connector() {
      return connector;
    },
    get running() {
      return running;
    },
    clock,
    ev,
    repliesTo,
    pushesTo,
    webhook,
    citizen,
    ...builders,
    /** Posts to `/api/messages` as it is, for the status. */
    postActivity: client.post,
    /** Posts an activity (200 expected) and returns the bot's replies to it. */
    teams: client.send,
    /** What the bot's replies to an activity show. */
    teamsSays: client.says,
    readyz,
    cardsIn: (channel: string) => cardsIn(connector, channel),
    nthCard,
    cardOfTicket,
  };
}
