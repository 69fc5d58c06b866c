/**
 * "Delete my data" end to end: the whole app over real HTTP (the LINE webhook, Teams
 * `/api/messages`), against the stub LINE Messaging API and the stub Bot Framework connector,
 * on the run's real redis-server. A citizen books a consultation by tapping postbacks, asks a
 * question the bot cannot answer and agrees to pass it on (a ticket with the question, a card
 * in the staff channel), staff list the day's bookings (an audit entry), and then the citizen
 * types "私のデータを削除" and confirms. Afterwards every key under the app's Redis prefix is
 * read, whatever its type, and none holds anything of the citizen; the slot is free again.
 *
 * The app builds its own Redis store from env (REDIS_URL, REDIS_PREFIX, DATA_ENCRYPTION_KEY),
 * as in production, so the abuse limiter's counters land under the same prefix and are
 * scanned too.
 *
 * Why twice: with DATA_ENCRYPTION_KEY set, names, phones, emails and questions are sealed
 * (AES-GCM, `s1:…`), so a scan of raw values would find none of them even if erasure did
 * nothing, and prove nothing. So the scenario runs once without the key, where every value is
 * plain JSON and the raw scan is meaningful as it is, and once sealed as in production, where
 * the scan opens every sealed value it meets with the test key before looking (a value that
 * does not open fails the test). Both runs first scan before erasing and must find every
 * personal datum there, so a scan that cannot see them cannot pass.
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { describe, expect, inject, it } from 'vitest';
import ja from '../../locales/ja.json' with { type: 'json' };
import staffText from '../../src/channels/teams/staff-text.json' with { type: 'json' };
import { pseudonym } from '../../src/log.ts';
import { ERASED_USER } from '../../src/stores/ports.ts';
import { createSealer, isSealed, type Sealer } from '../../src/stores/sealing.ts';
import { shownText } from '../support/connectorStub.ts';
import { e2eApp } from '../support/e2e.ts';
import { lineUserId, REFERENCE, SESSION_ID, type SentCall, textOf } from '../support/lineStub.ts';
import { TEST_DATA_KEY } from '../support/stores.ts';
import { type Member, STAFF_CHANNEL } from '../support/teams.ts';

const JA = staffText.ja;
const SESSION_DATE = SESSION_ID.slice(0, 10);

const NAME = '川崎 花子';
const PHONE = '090-8765-4321';
const PHONE_STORED = '09087654321';
const EMAIL = 'hanako.kawasaki@example.jp';
const QUESTION = '道路に穴があいていて危ないです';

const SUZUKI: Member = { id: '29:suzuki', aadObjectId: 'aad-suzuki-0001', name: '鈴木 一郎' };

// ---- reading all of Redis ----------------------------------------------------------------

/** Sealed text, wherever it appears. */
const SEALED = /s1:[A-Za-z0-9+/\\]{16,}/;

/** Every key under `prefix`, with everything it holds as text: its name, and each value (and field, member, score, entry id) read as its type requires. */
async function readAll(prefix: string): Promise<Map<string, string[]>> {
  const redis = new Redis(inject('redisUrl'));
  const found = new Map<string, string[]>();
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      for (const key of keys) {
        const type = await redis.type(key);
        let parts: string[];
        switch (type) {
          case 'string':
            parts = [(await redis.get(key)) ?? ''];
            break;
          case 'hash':
            parts = Object.entries(await redis.hgetall(key)).flat();
            break;
          case 'set':
            parts = await redis.smembers(key);
            break;
          case 'zset':
            parts = await redis.zrange(key, '0', '-1', 'WITHSCORES');
            break;
          case 'stream':
            parts = (await redis.xrange(key, '-', '+')).flatMap(([id, fields]) => [id, ...fields]);
            break;
          case 'list':
            parts = await redis.lrange(key, 0, -1);
            break;
          case 'none':
            continue; // expired between SCAN and TYPE
          default:
            throw new Error(`key ${key} of a type the scan cannot read: ${type}`);
        }
        found.set(key, [key, ...parts]);
      }
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
  return found;
}

/**
 * The strings in a stored value: itself, every string inside it when it is JSON (so that JSON
 * escapes hide nothing), and, with a sealer, what each sealed one opens to and the strings in
 * that (a sealed value that does not open throws).
 */
function stringsIn(value: string, sealer?: Sealer): string[] {
  const out = [value];
  if (sealer && isSealed(value)) out.push(...stringsIn(sealer.open(value), sealer));
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    return out;
  }
  const walk = (v: unknown): void => {
    if (typeof v === 'string') out.push(...stringsIn(v, sealer));
    else if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') Object.values(v).forEach(walk);
  };
  walk(parsed);
  return out;
}

/** What of `needles` each key holds (in its name or anything it stores, opened with the sealer if given), by key. */
function leaks(keys: Map<string, string[]>, needles: string[], sealer?: Sealer): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [key, parts] of keys) {
    const text = parts.flatMap((p) => stringsIn(p, sealer)).join('\n');
    const hits = needles.filter((n) => text.includes(n));
    if (hits.length > 0) out[key] = hits;
  }
  return out;
}

// ---- the scenario, without and with the data key -----------------------------------------

describe.each([
  { label: 'stored as plain JSON (no DATA_ENCRYPTION_KEY): the raw values are scanned', key: undefined },
  { label: 'sealed as in production (DATA_ENCRYPTION_KEY): sealed values are opened and scanned', key: TEST_DATA_KEY },
])('delete my data on LINE, $label', ({ key }) => {
  const prefix = `e2e:erase:${randomUUID()}:`;
  const sealer = key ? createSealer(key) : undefined;
  const e2e = e2eApp({
    idPrefix: 'e2e-erase-',
    installer: SUZUKI,
    env: { REDIS_URL: inject('redisUrl'), REDIS_PREFIX: prefix, ...(key ? { DATA_ENCRYPTION_KEY: key } : {}) },
  });
  const { ev, citizen, typed, install, teamsSays } = e2e;
  const store = () => e2e.running.app.store;

  /** The quick-reply postback whose label is `label` (or satisfies it), as LINE would send it back when tapped. */
  function button(replies: SentCall[], label: string | ((label: string, data: Record<string, unknown>) => boolean)): string {
    const items = replies.flatMap((c) => c.messages.flatMap((m) => m.quickReply?.items ?? []));
    const item = items.find((i) => (typeof label === 'string' ? i.action.label === label : label(i.action.label, JSON.parse(i.action.data ?? '{}') as Record<string, unknown>)));
    if (!item?.action.data) throw new Error(`no button ${String(label)} among ${items.map((i) => i.action.label).join(', ')}`);
    return item.action.data;
  }
  const said = (replies: SentCall[]) => replies.map(textOf).join('\n');
  const labels = (replies: SentCall[]) => replies.flatMap((c) => c.messages.flatMap((m) => m.quickReply?.items ?? [])).map((i) => i.action.label);

  /** A LINE user from the menu to the time step of the session, tapping what the bot shows. */
  async function toTimeStep(user: string): Promise<SentCall[]> {
    let replies = await citizen(ev.text(user, '予約する'));
    replies = await citizen(ev.postback(user, button(replies, ja.booking.mode.in_person)));
    for (let i = 0; i < 10 && labels(replies).includes(ja.booking.answer.yes); i++) replies = await citizen(ev.postback(user, button(replies, ja.booking.answer.yes)));
    return citizen(ev.postback(user, button(replies, (_, data) => data.a === 'date' && data.v === SESSION_ID)));
  }

  it('leaves nothing of the citizen in Redis but a pseudonym and counts, frees the slot, and says so', async () => {
    expect(await teamsSays(install(STAFF_CHANNEL))).toContain(JA.installed.slice(0, 20));
    const user = lineUserId();

    // A booking, tapped through on LINE.
    let replies = await toTimeStep(user);
    replies = await citizen(ev.postback(user, button(replies, '9:30')));
    expect(said(replies)).toContain(ja.booking.precautionsPrompt);
    replies = await citizen(ev.postback(user, button(replies, ja.booking.agree)));
    expect(said(replies)).toContain(ja.booking.namePrompt);
    expect(said(await citizen(ev.text(user, NAME)))).toContain(ja.booking.phonePrompt);
    expect(said(await citizen(ev.text(user, PHONE)))).toContain(ja.booking.emailPrompt);
    replies = await citizen(ev.text(user, EMAIL));
    expect(said(replies)).toContain(ja.booking.summaryTitle);
    replies = await citizen(ev.postback(user, button(replies, ja.booking.confirm)));
    expect(said(replies)).toContain(ja.booking.confirmedTitle);
    const reference = REFERENCE.exec(JSON.stringify(replies))?.[0];
    expect(reference).toBeDefined();
    expect((await store().bookings.occupancy(SESSION_ID, e2e.clock.now())).booked.has('0930')).toBe(true);

    // A question the bot cannot answer, passed on with consent: a ticket holding it, and its card.
    replies = await citizen(ev.text(user, QUESTION));
    expect(said(replies)).toContain(ja.inquiry.consentPrompt);
    replies = await citizen(ev.postback(user, button(replies, ja.inquiry.consentYes)));
    const ticketId = /[2-9A-Z]{3}-[2-9A-Z]{4}/.exec(said(replies))?.[0];
    expect(ticketId).toBeDefined();
    expect(await store().tickets.get(ticketId!)).toMatchObject({ userKey: `line:${user}`, question: QUESTION });
    const card = await e2e.cardOfTicket(STAFF_CHANNEL, ticketId!);
    expect(shownText(card.activity)).toContain(QUESTION);

    // Staff list the session's bookings: they see the name, and the audit stream gets an entry.
    expect(await teamsSays(typed(SUZUKI, { channel: STAFF_CHANNEL }, `bookings ${SESSION_DATE}`))).toContain(NAME);

    // Before: the scan sees every personal datum, each in its place (so it could see a leak).
    const needles = [user, NAME, PHONE, PHONE_STORED, EMAIL, QUESTION];
    const before = await readAll(prefix);
    const found = Object.values(leaks(before, needles, sealer)).flat();
    for (const needle of needles.filter((n) => n !== PHONE)) expect(found, needle).toContain(needle);
    // The phone is kept as digits only: as typed it is never stored, and stays a needle all the same.
    if (sealer) {
      // Sealing holds: in the raw values the contact details and the question are not to be read.
      expect(Object.values(leaks(before, [NAME, PHONE, PHONE_STORED, EMAIL, QUESTION])).flat()).toEqual([]);
      expect([...before.values()].flat().join('\n')).toMatch(SEALED);
    } else {
      expect([...before.values()].flat().join('\n')).not.toMatch(SEALED);
    }
    // The scan read the audit stream (staff's listing of the bookings).
    expect(before.get(`${prefix}audit`)?.join('\n')).toContain('bookings.listed');

    // "Delete my data", confirmed.
    replies = await citizen(ev.text(user, ja.erasure.entry));
    expect(said(replies)).toContain(ja.erasure.explain);
    expect(said(replies)).toContain(ja.erasure.upcoming.replace('{{count}}', '1'));
    replies = await citizen(ev.postback(user, button(replies, ja.erasure.confirm)));
    expect(said(replies)).toContain(ja.erasure.done.replace('{{cancelled}}', '1'));

    // After: no key, field, member, entry or value holds anything of the citizen.
    const after = await readAll(prefix);
    expect(leaks(after, needles, sealer)).toEqual({});
    // What is left of them: the ticket closed under `erased`, the audit entry of ids (their turn count went with the conversation).
    expect(after.has(`${prefix}conv:line:${user}`)).toBe(false);
    expect(before.get(`${prefix}audit`)?.join('\n')).toContain(reference);
    expect(await store().tickets.get(ticketId!)).toMatchObject({ status: 'closed', closedBy: 'citizen', userKey: ERASED_USER });
    expect((await store().tickets.get(ticketId!))?.question).toBeUndefined();
    expect(await store().conversations.load(`line:${user}`)).toBeNull();
    expect(await store().bookings.get(SESSION_ID, reference!)).toBeNull();
    // The staff card is redrawn without the question.
    await expect.poll(() => e2e.connector.updates(card.id).length).toBeGreaterThanOrEqual(1);
    for (const update of e2e.connector.updates(card.id)) expect(shownText(update.activity)).not.toContain(QUESTION);

    // The slot is free again: another citizen is offered 9:30 and holds it.
    const other = lineUserId();
    const times = await toTimeStep(other);
    expect(labels(times)).toContain('9:30');
    expect(said(await citizen(ev.postback(other, button(times, '9:30'))))).toContain(ja.booking.precautionsPrompt);
    const occupancy = await store().bookings.occupancy(SESSION_ID, e2e.clock.now());
    expect(occupancy.booked.has('0930')).toBe(false);
    expect(occupancy.held.get('0930')).toBe(`line:${other}`);

    // And the logs: the staff's trace is a pseudonym and counts.
    const trace = e2e.running.logs.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.event === 'privacy.erased');
    expect(trace).toMatchObject({ user: pseudonym(`line:${user}`), cancelled: 1, tickets: 1 });
    // And what staff see with `audit`: counts, not who.
    const [latest] = await store().audit.recent(1);
    expect(latest).toEqual({ at: expect.any(String), staff: 'citizen', action: 'privacy.erased', records: ['cancelled:1', 'counted:0', 'tickets:1'] });
    expect(JSON.stringify(latest)).not.toContain(pseudonym(`line:${user}`));
  });
});
