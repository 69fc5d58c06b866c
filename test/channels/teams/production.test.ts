/**
 * The app as production starts it (`NODE_ENV=production`, Redis, a data key, no
 * `MicrosoftAppId`): a forged, unsigned Teams activity is refused with 401 and the bot writes
 * nothing to the serviceUrl it names; the web chat is not served, and when enabled it is a
 * citizen channel with no way into staff commands.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, beforeEach, expect, inject, it } from 'vitest';
import { type RunningApp, startApp } from '../../support/app.ts';
import { type ConnectorStub, startConnectorStub } from '../../support/connectorStub.ts';
import { makeBooking, TEST_DATA_KEY } from '../../support/stores.ts';
import { type Member, STAFF_CHANNEL, STAFF_TEAM, teamsActivities, teamsClient } from '../../support/teams.ts';

const MALLORY: Member = { id: '29:mallory', aadObjectId: 'aad-mallory-0003', name: 'Mallory Forger' };

let stub: ConnectorStub;
let running: RunningApp;
const { install, typed, activity } = teamsActivities({ serviceUrl: () => stub.url, now: Date.now, locale: 'ja-JP', team: STAFF_TEAM, idPrefix: 'forged-', installer: MALLORY });
const { post } = teamsClient(
  () => running.url,
  () => stub,
);

beforeAll(async () => {
  stub = await startConnectorStub();
});
afterAll(async () => {
  await stub?.close();
});
beforeEach(async () => {
  running = await startApp({
    NODE_ENV: 'production',
    REDIS_URL: inject('redisUrl'),
    // The run's throwaway redis-server keeps no AOF; the check itself is tested in config.test.ts.
    REDIS_PERSISTENCE_CHECK: 'off',
    REDIS_PREFIX: `teams-production-${Date.now()}:`,
    DATA_ENCRYPTION_KEY: TEST_DATA_KEY,
  });
});
afterEach(async () => {
  await running?.close();
});

it('refuses a forged unsigned activity with 401, writes nothing to its serviceUrl, and logs no personal data', async () => {
  for (const forged of [install(STAFF_CHANNEL), typed(MALLORY, { channel: STAFF_CHANNEL }, 'bookings 2026-12-08'), activity(MALLORY, { personal: true }, { text: 'menu' })]) {
    expect((await post(forged)).status).toBe(401);
  }
  expect(stub.calls()).toHaveLength(0);
  expect(await running.app.store.channels.get('staff')).toBeNull();
  expect(running.logs.filter((l) => l.includes('teams.auth_rejected'))).toHaveLength(3);
  expect(running.logs.some((l) => l.includes('teams.endpoint_closed'))).toBe(true);
  expect(running.logs.join('\n')).not.toContain(MALLORY.name);
});

it('does not serve the web chat unless WEBCHAT_ENABLED=true', async () => {
  expect((await fetch(`${running.url}/`)).status).toBe(404);
});

it('serves the web chat when enabled, as a citizen channel only: staff commands typed there reach nothing of staff', async () => {
  const chat = await startApp({
    NODE_ENV: 'production',
    WEBCHAT_ENABLED: 'true',
    REDIS_URL: inject('redisUrl'),
    REDIS_PERSISTENCE_CHECK: 'off',
    REDIS_PREFIX: `webchat-production-${Date.now()}:`,
    DATA_ENCRYPTION_KEY: TEST_DATA_KEY,
  });
  try {
    const session = chat.app.catalog.sessions[0]!;
    const booking = makeBooking({ sessionId: session.id, slotId: '0930', userKey: 'line:Uvictim' });
    expect((await chat.app.store.bookings.confirm(booking, Date.now())).ok).toBe(true);
    const conversationId = randomUUID();
    const said: string[] = [];
    for (const text of [`bookings ${session.date}`, 'bookings today', `cancel ${booking.id}`, 'audit', 'register', 'triage', 'unanswered']) {
      const res = await fetch(`${chat.url}/webchat/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ conversationId, messageId: randomUUID(), locale: 'ja', input: { kind: 'text', text } }),
      });
      expect(res.status).toBe(200);
      said.push(await res.text());
    }
    const all = said.join('\n');
    for (const secret of [booking.id, booking.contact.name, booking.contact.phone, booking.contact.email]) expect(all).not.toContain(secret);
    expect(await chat.app.store.bookings.get(session.id, booking.id)).not.toBeNull();
    expect(await chat.app.store.audit.recent(10)).toEqual([]);
    expect(await chat.app.store.channels.get('staff')).toBeNull();
  } finally {
    await chat.close();
  }
});
