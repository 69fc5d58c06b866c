/**
 * The contact center end to end: the whole app over real HTTP only, against the stub LINE
 * Messaging API and the stub Bot Framework connector, on a real Redis (sealed, as in
 * production). A citizen's question the bot cannot answer becomes a card in the contact
 * center's channel; an agent sends one of its suggested answers, forwards it to the
 * ombudsman office, triages the queue, reads the `unanswered` report and downloads its CSV
 * from a signed link; someone outside both teams is refused.
 *
 * Each test gets a fresh app and a fresh key prefix; the two stubs live for the whole file.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, inject, it } from 'vitest';
import ja from '../../locales/ja.json' with { type: 'json' };
import staffText from '../../src/channels/teams/staff-text.json' with { type: 'json' };
import { defaultQuestionBrain } from '../../src/services/index.ts';
import { createRedisStore } from '../../src/stores/redis.ts';
import { createSealer } from '../../src/stores/sealing.ts';
import { startApp } from '../support/app.ts';
import { buttonsOf, cardOf, shownText } from '../support/connectorStub.ts';
import { e2eApp } from '../support/e2e.ts';
import { lineUserId, type SentCall, textOf } from '../support/lineStub.ts';
import { makeTicket, TEST_DATA_KEY } from '../support/stores.ts';
import { CONTACT_CHANNEL, CONTACT_TEAM, type Member, OTHER_CHANNEL, OTHER_TEAM, STAFF_CHANNEL, STAFF_TEAM, type Where } from '../support/teams.ts';

const JA = staffText.ja;
const ROAD = '道路に穴があいていて危ないです';

/** A contact-center agent. */
const KATO: Member = { id: '29:kato', aadObjectId: 'aad-kato-0001', name: '加藤 美咲' };
/** Someone of the ombudsman office. */
const SUZUKI: Member = { id: '29:suzuki', aadObjectId: 'aad-suzuki-0002', name: '鈴木 一郎' };
const OUTSIDER: Member = { id: '29:mallory', aadObjectId: 'aad-mallory-0003', name: 'Mallory Outsider' };

/** A fresh store on the real Redis, sealed as in production, under a key prefix of its own. */
const freshStore = () => createRedisStore({ url: inject('redisUrl'), prefix: `e2e:${randomUUID()}:`, sealer: createSealer(TEST_DATA_KEY) });

const e2e = e2eApp({
  idPrefix: 'e2e-cc-',
  installer: KATO,
  env: { CONTACT_CENTER_TEAM_ID: CONTACT_TEAM, REPORT_LINK_SECRET: 'e2e-report-link-secret-0123456789abcdef' },
  overrides: async () => ({ store: await freshStore() }),
});
const { clock, ev, citizen, typed, submit, install, teams, teamsSays, cardsIn, cardOfTicket } = e2e;

// ---- LINE side ---------------------------------------------------------------------------

/** The quick-reply button labelled `label` among the replies, as a postback to send back. */
function button(replies: SentCall[], label: string): string {
  const items = replies.flatMap((c) => c.messages.flatMap((m) => m.quickReply?.items ?? []));
  const item = items.find((i) => i.action.label === label);
  if (!item?.action.data) throw new Error(`no button ${label} among ${items.map((i) => i.action.label).join(', ')}`);
  return item.action.data;
}

/** A citizen asks a question the bot cannot answer and agrees to pass it on; resolves with the ticket id. */
async function askAndConsent(user: string, question: string): Promise<string> {
  const asked = await citizen(ev.text(user, question));
  expect(asked.map(textOf).join('\n')).toContain(ja.inquiry.consentPrompt);
  const sent = await citizen(ev.postback(user, button(asked, ja.inquiry.consentYes)));
  const id = /[2-9A-Z]{3}-[2-9A-Z]{4}/.exec(sent.map(textOf).join('\n'))?.[0];
  expect(id).toBeDefined();
  return id!;
}

/** Pushes to the citizen that LINE accepted. */
function pushesTo(userId: string): SentCall[] {
  return e2e.pushesTo(userId).filter((c) => c.status === 200);
}

// ---- Teams side --------------------------------------------------------------------------

const CONTACT = { team: CONTACT_TEAM, channel: CONTACT_CHANNEL } satisfies Where;
const OFFICE = { team: STAFF_TEAM, channel: STAFF_CHANNEL } satisfies Where;

/** The bot installed in both teams: the contact center's channel and the office's. */
async function registerChannels(): Promise<void> {
  expect(await teamsSays(install(CONTACT.channel, CONTACT.team))).toContain(JA.installedContact.slice(0, 20));
  expect(await teamsSays(install(OFFICE.channel, OFFICE.team))).toContain(JA.installed.slice(0, 20));
  expect(await e2e.readyz()).toMatchObject({ staffChannel: 'ok', contactCenterChannel: 'ok' });
}

/** Both channels registered, a citizen's question passed on: the citizen, the ticket and its card in the contact center. */
async function questionAtContactCenter() {
  await registerChannels();
  const user = lineUserId();
  const ticketId = await askAndConsent(user, ROAD);
  const card = await cardOfTicket(CONTACT_CHANNEL, ticketId);
  return { user, ticketId, card };
}

const entry = (id: string) => defaultQuestionBrain().matcher.get(id)!;

// ---- tests -------------------------------------------------------------------------------

describe('a question the bot could not answer', () => {
  it('reaches the contact center as a card; an agent sends a suggested answer; the citizen gets it on LINE; the ticket closes as answered', async () => {
    // The card is in the contact center's channel, not the office's.
    const { user, ticketId, card } = await questionAtContactCenter();
    expect(cardsIn(STAFF_CHANNEL)).toHaveLength(0);
    const ticket = (await e2e.running.app.store.tickets.get(ticketId))!;
    expect(ticket).toMatchObject({ desk: 'contact_center', reason: 'inquiry', question: ROAD, status: 'open' });
    expect(ticket.card).toEqual({ conversationId: CONTACT_CHANNEL, activityId: card.id });
    expect(ticket.suggestions).toHaveLength(3);

    const shown = shownText(card.activity);
    expect(shown).toContain(JA['inquiry.title'].replace('{{id}}', ticketId));
    expect(shown).toContain(ROAD);
    expect(shown).toContain(`${JA['card.language']}: ${JA['language.ja']}`);
    expect(shown).toContain(`${JA['card.priority']}: ${JA['priority.normal']}`);
    expect(shown).toContain(`${JA['inquiry.department']}: ${entry(ticket.suggestions![0]!).department.ja}`);
    expect(shown).toContain('2026-11-24 10:00');
    for (const id of ticket.suggestions!) expect(shown).toContain(entry(id).title.ja);
    expect(cardOf(card.activity)).toMatchObject({ version: '1.2', fallbackText: expect.stringContaining(ticketId) });
    expect(cardOf(card.activity)!.fallbackText).not.toContain(ROAD);
    const sends = buttonsOf(card.activity).filter((b) => b.title === JA['inquiry.send']);
    expect(sends.map((b) => b.data)).toEqual(ticket.suggestions!.map((entryId) => ({ staff: 'answer', ticketId, entryId })));
    expect(JSON.stringify(card.activity)).not.toContain(user);

    // The agent taps "send this answer" on the second suggestion.
    const chosen = ticket.suggestions![1]!;
    const tapped = await teamsSays(submit(KATO, { ...CONTACT, root: card.id! }, sends[1]!.data));
    expect(tapped).toContain(JA.answered.replace('{{name}}', KATO.name).replace('{{id}}', ticketId).replace('{{title}}', entry(chosen).title.ja));

    // The citizen gets "an answer from staff" and the entry's answer, by push, once.
    await e2e.line.waitFor(() => pushesTo(user).some((c) => textOf(c).includes(ja.inquiry.fromStaff)));
    const pushes = pushesTo(user);
    expect(pushes).toHaveLength(1);
    expect(JSON.stringify(pushes[0]!.messages)).toContain(entry(chosen).title.ja);
    expect(textOf(pushes[0]!)).not.toContain(ja.handoff.closedUnanswered.split('{{')[0]!);

    // The ticket is closed as answered with that entry, and the card says so, without buttons.
    const closed = (await e2e.running.app.store.tickets.get(ticketId))!;
    expect(closed).toMatchObject({ status: 'closed', outcome: 'answered', answeredWith: chosen, closedBy: { id: KATO.aadObjectId, name: KATO.name } });
    await expect.poll(() => e2e.connector.updates(card.id).length).toBe(1);
    const updated = e2e.connector.updates(card.id)[0]!;
    expect(shownText(updated.activity)).toContain(JA['outcome.answeredWith'].replace('{{title}}', entry(chosen).title.ja));
    expect(buttonsOf(updated.activity)).toEqual([]);

    // Tapping again sends nothing more.
    expect(await teamsSays(submit(KATO, { ...CONTACT, root: card.id! }, sends[0]!.data))).toContain(JA.alreadyClosed.replace('{{id}}', ticketId));
    expect(pushesTo(user)).toHaveLength(1);

    // The question went to staff, not to the logs.
    const logs = e2e.running.logs.join('\n');
    for (const personal of [user, ROAD, '道路', KATO.name, KATO.aadObjectId]) expect(logs).not.toContain(personal);
  });

  it('is forwarded to the ombudsman office: a new card in the staff channel, the ticket open at the office, the old card says where it went', async () => {
    const { user, ticketId, card } = await questionAtContactCenter();
    const forward = buttonsOf(card.activity).find((b) => b.title === JA['card.forwardTo.office'])!;
    expect(forward.data).toEqual({ staff: 'forward', ticketId, desk: 'office' });

    const said = await teamsSays(submit(KATO, { ...CONTACT, root: card.id! }, forward.data));
    expect(said).toContain(JA.forwarded.replace('{{name}}', KATO.name).replace('{{id}}', ticketId).replace('{{desk}}', JA['desk.office']));

    const officeCard = await cardOfTicket(STAFF_CHANNEL, ticketId);
    expect(shownText(officeCard.activity)).toContain(ROAD);
    expect(buttonsOf(officeCard.activity).map((b) => b.data)).toEqual(
      expect.arrayContaining([
        { staff: 'claim', ticketId },
        { staff: 'forward', ticketId, desk: 'contact_center' },
      ]),
    );
    const ticket = (await e2e.running.app.store.tickets.get(ticketId))!;
    expect(ticket).toMatchObject({ status: 'open', desk: 'office', card: { conversationId: STAFF_CHANNEL, activityId: officeCard.id } });
    expect((await e2e.running.app.store.tickets.listOpen()).map((t) => t.id)).toEqual([ticketId]);

    await expect.poll(() => e2e.connector.updates(card.id).length).toBe(1);
    const old = e2e.connector.updates(card.id)[0]!;
    expect(old.conversationId).toBe(CONTACT_CHANNEL);
    expect(shownText(old.activity)).toContain(JA['status.forwarded'].replace('{{desk}}', JA['desk.office']).replace('{{name}}', KATO.name).replace('{{time}}', '2026-11-24 10:00'));
    expect(buttonsOf(old.activity)).toEqual([]);

    // The office claims it on its own card; the citizen hears someone joined.
    expect(await teamsSays(submit(SUZUKI, { ...OFFICE, root: officeCard.id! }, { staff: 'claim', ticketId }))).toContain(ticketId);
    await e2e.line.waitFor(() => pushesTo(user).some((c) => textOf(c).includes(ja.handoff.joined)));
  });
});

describe('triage', () => {
  it('lists open contact-center questions by priority, then age, with the urgent one on top and marked', async () => {
    await registerChannels();
    const first = await askAndConsent(lineUserId(), ROAD);
    clock.advance(5 * 60_000);
    const second = await askAndConsent(lineUserId(), '公園のベンチが壊れています');
    clock.advance(5 * 60_000);
    const urgentUser = lineUserId();
    const urgent = await citizen(ev.text(urgentUser, 'たすけて 知らない人が家に入ってきた'));
    expect(urgent.map(textOf).join('\n')).toContain('110');
    // An office handoff is no contact-center business.
    await citizen(ev.text(lineUserId(), '担当者と話したい'));
    const open = await e2e.running.app.store.tickets.listOpen();
    expect(open).toHaveLength(4);
    const urgentId = open.find((t) => t.reason === 'urgent')!.id;
    const officeId = open.find((t) => t.reason === 'requested')!.id;

    const replies = await teams(typed(KATO, CONTACT, 'triage'));
    const rows = (cardOf(replies[0]!.activity)!.body as { text: string }[]).map((b) => b.text);
    expect(rows[0]).toBe(JA['triage.title'].replace('{{count}}', '3'));
    expect(rows.slice(1).map((r) => /\*\*([2-9A-Z]{3}-[2-9A-Z]{4})\*\*/.exec(r)?.[1])).toEqual([urgentId, first, second]);
    expect(rows[1]).toContain(`${JA['priority.high']}: ${JA['urgent.violence']}`);
    expect(rows[2]).toContain('10分');
    expect(rows[2]).toContain(ROAD);
    expect(rows.join('\n')).not.toContain(officeId);
  });
});

describe('the unanswered report', () => {
  it('groups the questions, shows what agents sent and the feedback, and its CSV downloads from a signed link', async () => {
    await registerChannels();
    const tricky = '看板が倒れそうです, "危険" です\n=ここは道ではありません';
    const a = await askAndConsent(lineUserId(), ROAD);
    clock.advance(60_000);
    await askAndConsent(lineUserId(), '道路の穴が危ないので直してほしい');
    clock.advance(60_000);
    await askAndConsent(lineUserId(), tricky);
    // An agent answers the first one with the contact center's entry.
    const card = await cardOfTicket(CONTACT_CHANNEL, a);
    await teams(submit(KATO, { ...CONTACT, root: card.id! }, { staff: 'answer', ticketId: a, entryId: 'contact-center' }));
    expect((await e2e.running.app.store.tickets.get(a))?.outcome).toBe('answered');
    // A citizen finds an answer helpful.
    const fan = lineUserId();
    const answered = await citizen(ev.text(fan, '粗大ごみを出したい'));
    await citizen(ev.postback(fan, button(answered, ja.inquiry.helpful)));

    const replies = await teams(typed(KATO, CONTACT, 'unanswered'));
    const shown = replies.map((c) => shownText(c.activity)).join('\n');
    expect(shown).toContain(JA['unanswered.title'].replace('{{count}}', '3').replace('{{groups}}', '2'));
    expect(shown).toContain(`**${JA['unanswered.group'].replace('{{count}}', '2')}** · ${ROAD}`);
    expect(shown).toContain(JA['unanswered.sent'].replace('{{entries}}', `${entry('contact-center').title.ja} (1)`));
    expect(shown).toContain(JA['unanswered.feedback']);
    expect(shown).toContain(`${entry('bulky-waste').title.ja}: 1 / 0`);
    const download = buttonsOf(replies[0]!.activity).find((b) => b.title === JA['unanswered.csv']);
    expect(download).toBeDefined();
    const link = (cardOf(replies[0]!.activity)!.actions as { type: string; url?: string }[]).find((x) => x.type === 'Action.OpenUrl')!.url!;
    expect(link.startsWith(`${e2e.running.url}/reports/unanswered.csv?exp=`)).toBe(true);

    const res = await fetch(link);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('content-disposition')).toMatch(/^attachment; filename="unanswered\.csv"$/);
    const bytes = Buffer.from(await res.arrayBuffer());
    expect([...bytes.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    const csv = bytes.subarray(3).toString('utf8');
    expect(csv.startsWith('group,count,question,language,created,status,outcome,answered_with\r\n')).toBe(true);
    expect(csv).toContain(`1,2,${ROAD},ja,2026-11-24 10:00,closed,answered,contact-center\r\n`);
    expect(csv).toContain('"看板が倒れそうです, ""危険"" です\n=ここは道ではありません"');
    expect(csv.split('\r\n').filter(Boolean)).toHaveLength(4);

    // A cell starting with "=" is neutralised.
    await askAndConsent(lineUserId(), '=HYPERLINK("https://evil.example")で街灯の故障を知らせたい');
    const again = await fetch(link);
    expect((await again.text()).replace(/^\uFEFF/, '')).toContain(`"'=HYPERLINK(""https://evil.example"")`);

    // A tampered signature, a moved expiry or an expired link: 403, nothing served.
    const url = new URL(link);
    const sig = url.searchParams.get('sig')!;
    url.searchParams.set('sig', `${sig.slice(0, -2)}${sig.endsWith('AA') ? 'BB' : 'AA'}`);
    const tampered = await fetch(url);
    expect(tampered.status).toBe(403);
    expect(await tampered.text()).not.toContain(ROAD);
    const moved = new URL(link);
    moved.searchParams.set('exp', String(Number(moved.searchParams.get('exp')) + 3600));
    expect((await fetch(moved)).status).toBe(403);
    clock.advance(10 * 60_000);
    expect((await fetch(link)).status).toBe(403);

    // The question texts went to staff, never to the logs.
    const logs = e2e.running.logs.join('\n');
    for (const personal of [ROAD, '看板', 'HYPERLINK']) expect(logs).not.toContain(personal);
  });
});

describe('who is staff', () => {
  it('refuses a person outside both teams: no report, no answer sent, the ticket untouched', async () => {
    const { user, ticketId, card } = await questionAtContactCenter();
    const other: Where = { team: OTHER_TEAM, channel: OTHER_CHANNEL };

    const report = await teamsSays(typed(OUTSIDER, other, 'unanswered'));
    expect(report).toContain(JA.refused);
    expect(report).not.toContain(ROAD);
    const suggestion = (await e2e.running.app.store.tickets.get(ticketId))!.suggestions![0]!;
    expect(await teamsSays(submit(OUTSIDER, { ...other, root: card.id! }, { staff: 'answer', ticketId, entryId: suggestion }))).toContain(JA.refused);
    expect(await teamsSays(typed(OUTSIDER, other, 'triage'))).toContain(JA.refused);

    expect(pushesTo(user)).toHaveLength(0);
    expect((await e2e.running.app.store.tickets.get(ticketId))?.status).toBe('open');
    expect(e2e.connector.updates(card.id)).toHaveLength(0);
    // Members of either team are staff: the contact center's agent and the office's.
    expect(await teamsSays(typed(KATO, CONTACT, 'triage'))).toContain(JA['triage.title'].replace('{{count}}', '1'));
    expect(await teamsSays(typed(SUZUKI, OFFICE, 'triage'))).toContain(JA['triage.title'].replace('{{count}}', '1'));
    expect(e2e.running.logs.join('\n')).not.toContain(OUTSIDER.aadObjectId);
  });
});

describe('retention', () => {
  it('forgets tickets closed longer ago than INQUIRY_RETENTION_DAYS at start-up, with their questions, and logs only the count', async () => {
    const store = await freshStore();
    const day = 86_400_000;
    const closed = async (id: string, daysAgo: number) => {
      await store.tickets.create(makeTicket({ id, userKey: `line:${id}`, reason: 'inquiry', desk: 'contact_center', question: ROAD }));
      await store.tickets.close(id, KATO, new Date(clock.now() - daysAgo * day).toISOString(), { outcome: 'no_reply' });
    };
    await closed('OLD-0001', 31);
    await closed('NEW-0001', 29);
    const app = await startApp({ INQUIRY_RETENTION_DAYS: '30' }, { store, now: clock.now });
    try {
      await expect.poll(() => app.logs.some((l) => l.includes('tickets.purged'))).toBe(true);
      expect(await store.tickets.get('OLD-0001')).toBeNull();
      expect((await store.tickets.get('NEW-0001'))?.question).toBe(ROAD);
      expect(JSON.parse(app.logs.find((l) => l.includes('tickets.purged'))!)).toMatchObject({ event: 'tickets.purged', count: 1 });
    } finally {
      await app.close();
    }
  });
});
