/**
 * The web chat behind a plain load balancer (no sticky sessions): two real app instances
 * (startApp, over real HTTP) on one real redis-server, Teams played through the stub
 * connector. A web chat citizen asks for staff on one instance; staff claim and answer in
 * Teams through the other; the page, polling either, gets each message once, sealed at rest.
 * On the memory store one instance keeps working as before.
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import ja from '../../../locales/ja.json' with { type: 'json' };
import { FIRST_CURSOR } from '../../../src/channels/webchat/outbox.ts';
import type { Reply } from '../../../src/turn.ts';
import { fakeClock, type RunningApp, startApp } from '../../support/app.ts';
import { type ConnectorStub, startConnectorStub } from '../../support/connectorStub.ts';
import { TEST_DATA_KEY } from '../../support/stores.ts';
import { cardsIn, type Member, STAFF_CHANNEL, STAFF_TEAM, teamsActivities, teamsClient, TENANT } from '../../support/teams.ts';

const SUZUKI: Member = { id: '29:suzuki', aadObjectId: 'aad-suzuki-0001', name: '鈴木 一郎' };
const OPEN_ISO = '2026-11-24T10:00:00+09:00'; // a Tuesday, office open
const STAFF_WORDS = '担当の鈴木です。駐車場の件ですね';

let connector: ConnectorStub;
const clock = fakeClock(OPEN_ISO);
const running: RunningApp[] = [];

beforeAll(async () => {
  connector = await startConnectorStub();
});
afterAll(async () => {
  await connector?.close();
});
beforeEach(() => {
  connector.reset();
  clock.set(OPEN_ISO);
});
afterEach(async () => {
  await Promise.all(running.splice(0).map((r) => r.close()));
});

async function start(env: Record<string, string>): Promise<RunningApp> {
  const app = await startApp({ STAFF_TEAM_ID: STAFF_TEAM, STAFF_TENANT_ID: TENANT, TEAMS_UNAUTHENTICATED: 'true', WEBCHAT_ENABLED: 'true', ...env }, { now: clock.now });
  running.push(app);
  return app;
}

const activities = teamsActivities({ serviceUrl: () => connector.url, now: clock.now, locale: 'ja-JP', team: STAFF_TEAM, idPrefix: 'instances-', installer: SUZUKI });
const teamsOn = (app: RunningApp) => teamsClient(() => app.url, () => connector);

/** The citizen's page: posts turns and polls, each to the instance it is given. */
function page() {
  const conversationId = randomUUID();
  let messages = 0;
  return {
    conversationId,
    async say(app: RunningApp, input: Record<string, unknown>): Promise<void> {
      const res = await fetch(`${app.url}/webchat/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ conversationId, messageId: `m-${++messages}-${conversationId}`, input }),
      });
      expect(res.status).toBe(200);
    },
    async poll(app: RunningApp, after?: string): Promise<{ replies: Reply[]; cursor: string }> {
      const res = await fetch(`${app.url}/webchat/messages?conversationId=${conversationId}${after ? `&after=${after}` : ''}`);
      expect(res.status).toBe(200);
      return (await res.json()) as { replies: Reply[]; cursor: string };
    },
  };
}

/** The bubbles' words (a staff message comes with a reply that only carries the end-chat button). */
const texts = (replies: Reply[]) => replies.flatMap((r) => (r.kind === 'text' && r.text !== '' ? [r.text] : []));

/**
 * The staff side on `staff`: the bot installed in the staff channel, the citizen's ticket
 * card (asked for on `citizenApp`), claimed, then answered in its thread. Returns the answer.
 */
async function handoff(citizenApp: RunningApp, staff: RunningApp, citizen: ReturnType<typeof page>) {
  const teams = teamsOn(staff);
  await teams.send(activities.install(STAFF_CHANNEL));
  await citizen.say(citizenApp, { kind: 'follow' });
  await citizen.say(citizenApp, { kind: 'text', text: '担当者と話したい' });
  await expect.poll(() => cardsIn(connector, STAFF_CHANNEL).length).toBe(1);
  const card = cardsIn(connector, STAFF_CHANNEL)[0]!;
  const [ticket] = await staff.app.store.tickets.listOpen();
  const thread = { channel: STAFF_CHANNEL, root: card.id! };
  await teams.send(activities.submit(SUZUKI, thread, { staff: 'claim', ticketId: ticket!.id }));
  const answer = activities.typed(SUZUKI, thread, STAFF_WORDS);
  expect(await teams.send(answer)).toEqual([]); // delivered: the bot stays quiet in Teams
  return answer;
}

const joined = ja.handoff.joined;
const staffSays = ja.handoff.staffSays.replace('{{text}}', STAFF_WORDS);

describe('two instances on one Redis, no sticky sessions', () => {
  const env = () => ({ REDIS_URL: inject('redisUrl'), REDIS_PREFIX: `test:${randomUUID().replace(/-/g, '').slice(0, 20)}:`, DATA_ENCRYPTION_KEY: TEST_DATA_KEY });

  it('a staff reply made through one instance reaches the page polling the other, once', async () => {
    const shared = env();
    const [a, b] = [await start(shared), await start(shared)];
    const citizen = page();
    const answer = await handoff(b, a, citizen);
    // Teams redelivers the answer, this time to the other instance: still one message.
    expect(await teamsOn(b).send({ ...answer })).toEqual([]);

    // Waiting in Redis, in the conversation's hash slot, sealed.
    const redis = new Redis(inject('redisUrl'));
    try {
      const out = `${shared.REDIS_PREFIX}{w:${citizen.conversationId}}:out`;
      expect((await redis.keys(`${shared.REDIS_PREFIX}{w:*`)).sort()).toEqual([out, `${shared.REDIS_PREFIX}{w:${citizen.conversationId}}:seen`]);
      const raw = JSON.stringify(await redis.xrange(out, '-', '+'));
      expect(raw).toContain('s1:');
      expect(raw).not.toContain('鈴木です');
    } finally {
      redis.disconnect();
    }

    // The page polls B; the answer is lost on the way, so it polls A with the same cursor.
    const lost = await citizen.poll(b, FIRST_CURSOR);
    expect(texts(lost.replies)).toEqual([joined, staffSays]);
    const again = await citizen.poll(a, FIRST_CURSOR);
    expect(again).toEqual(lost);
    // Acknowledged through A: neither instance hands it over again.
    expect(await citizen.poll(a, again.cursor)).toEqual({ replies: [], cursor: again.cursor });
    expect(await citizen.poll(b, again.cursor)).toEqual({ replies: [], cursor: again.cursor });
    expect((await citizen.poll(b, FIRST_CURSOR)).replies).toEqual([]);
    // No log line of either instance has the staff's words.
    expect([...a.logs, ...b.logs].join('\n')).not.toContain('鈴木です');
  }, 60_000);
});

describe('on the memory store', () => {
  it('one instance hands the staff reply to its page, once, as before', async () => {
    const app = await start({});
    const citizen = page();
    await handoff(app, app, citizen);
    const got = await citizen.poll(app, FIRST_CURSOR);
    expect(texts(got.replies)).toEqual([joined, staffSays]);
    expect((await citizen.poll(app, got.cursor)).replies).toEqual([]);
  }, 60_000);
});
