/**
 * The app as production starts it (`NODE_ENV=production`, Redis, a data key, no
 * `MicrosoftAppId`): a forged, unsigned Teams activity is refused with 401 and the bot writes
 * nothing to the serviceUrl it names; the web chat is not served.
 */
import { afterAll, afterEach, beforeAll, beforeEach, expect, inject, it } from 'vitest';
import { type RunningApp, startApp } from '../../support/app.ts';
import { type ConnectorStub, startConnectorStub } from '../../support/connectorStub.ts';
import { TEST_DATA_KEY } from '../../support/stores.ts';
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
