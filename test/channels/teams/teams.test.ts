/**
 * The Teams channel over real HTTP: activities are POSTed to `/api/messages` (no app id, in
 * the emulator mode: unauthenticated from loopback) with a `serviceUrl` pointing at a
 * stub Bot Framework connector, where the bot's messages, replies and updates are read.
 * The engine, dialogs, staff desk and memory store are the real ones.
 */
import type { AddressInfo } from 'node:net';
import { DateTime } from 'luxon';
import restify from 'restify';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import en from '../../../locales/en.json' with { type: 'json' };
import ja from '../../../locales/ja.json' with { type: 'json' };
import type { Reply } from '../../../src/turn.ts';
import staffText from '../../../src/channels/teams/staff-text.json' with { type: 'json' };
import { type DescribeStep, renderReplies, ticketCard } from '../../../src/channels/teams/cards.ts';
import { describeStep } from '../../../dialogs/journeys.ts';
import { parseCommand } from '../../../src/channels/teams/activity.ts';
import { createTeamsChannel, StaffChannelError, type TeamsChannel } from '../../../src/channels/teams/index.ts';
import { UntrustedServiceUrlError } from '../../../src/channels/teams/transport.ts';
import type { Agent, Ticket } from '../../../src/domain.ts';
import { TurnEngine } from '../../../src/engine.ts';
import { createLogger, pseudonym } from '../../../src/log.ts';
import { createDialogServices, defaultQuestionBrain, translator } from '../../../src/services/index.ts';
import type { TicketRequest } from '../../../src/services/ports.ts';
import type { CitizenMessenger, StaffDesk } from '../../../src/services/staff.ts';
import { StaffDeskService } from '../../../src/staffDesk.ts';
import { createMemoryStore } from '../../../src/stores/memory.ts';
import type { Store } from '../../../src/stores/ports.ts';
import { fakeClock } from '../../support/app.ts';
import { ChatUser, TEST_CATALOG, toSummary } from '../../support/chat.ts';
import { makeBooking } from '../../support/stores.ts';
import { buttonsOf, cardOf, type ConnectorCall, type ConnectorStub, shownText, startConnectorStub } from '../../support/connectorStub.ts';
import { buttonIn, type Member, OTHER_CHANNEL, OTHER_TEAM, personalChat, STAFF_CHANNEL as CHANNEL, STAFF_TEAM as TEAM, teamsActivities, teamsClient, TENANT } from '../../support/teams.ts';
import { expectTeamsMobileCard } from './mobileCard.ts';

const SESSION_ID = '2026-12-08-asao';
const EN = staffText.en;
/** Step words on the cards, as `src/app.ts` wires them. */
const steps: DescribeStep = (step, locale) => describeStep(step, translator(locale));
/** Knowledge-base entries for the inquiry cards, as `src/app.ts` wires them. */
const entry = (id: string) => defaultQuestionBrain().matcher.get(id);
/** The report link the route would sign (its signature is the app's business, see the e2e tests). */
const csvUrl = (origin: string) => `${origin}/reports/unanswered.csv`;
const bookingsCsvUrl = (origin: string, _staff: string, target: string) => `${origin}/reports/bookings.csv?target=${target}&signed`;

const AIKO: Member = { id: '29:aiko', aadObjectId: 'aad-aiko-0001', name: 'Aiko Sato' };
const BEN: Member = { id: '29:ben', aadObjectId: 'aad-ben-0002', name: 'Ben Suzuki' };
const OUTSIDER: Member = { id: '29:mallory', aadObjectId: 'aad-mallory-0003', name: 'Mallory Outsider' };

let stub: ConnectorStub;
let store: Store;
let teams: TeamsChannel;
let desk: StaffDesk;
let server: restify.Server;
let url: string;
let logs: string[];
let delivered: { userKey: string; replies: Reply[] }[];
let replyCalls: { ticketId: string; agent: Agent; text: string; messageId: string }[];
let citizenSeq = 0;
const clock = fakeClock('2026-11-24T10:00:00+09:00');

// ---- activities ------------------------------------------------------------------------

const { activity, typed, submit, install } = teamsActivities({ serviceUrl: () => stub.url, now: clock.now, locale: 'en-US', team: TEAM, idPrefix: 'msg-', installer: AIKO });
const { post, send, says: say } = teamsClient(
  () => url,
  () => stub,
);

// ---- tickets ---------------------------------------------------------------------------

function request(over: Partial<TicketRequest> = {}): TicketRequest {
  return {
    userKey: `line:Ucitizen${++citizenSeq}`,
    channel: 'line',
    locale: 'ja',
    reason: 'requested',
    priority: 'high',
    category: 'ombudsman',
    serviceId: 'ombudsman',
    context: 'booking:phone:in_person',
    ...over,
  };
}

/** Opens a ticket as the dialogs do (store + notifier); the card is posted to the staff channel. */
async function openTicket(over: Partial<TicketRequest> = {}): Promise<Ticket> {
  const opened = await services.handoff.open(request(over), DateTime.fromMillis(clock.now(), { zone: 'Asia/Tokyo' }));
  if ('limited' in opened) throw new Error('the ticket limit refused a test ticket');
  return opened;
}

let services: ReturnType<typeof createDialogServices>;
let engine: TurnEngine;

beforeAll(async () => {
  stub = await startConnectorStub();
});
afterAll(async () => {
  await stub?.close();
});

beforeEach(async () => {
  stub.reset();
  clock.set('2026-11-24T10:00:00+09:00');
  logs = [];
  delivered = [];
  replyCalls = [];
  store = createMemoryStore();
  const catalog = TEST_CATALOG;
  const logger = createLogger('info', (l) => logs.push(l));
  teams = createTeamsChannel({
    emulator: true,
    staffTeamId: TEAM,
    staffTenantId: TENANT,
    channels: store.channels,
    audit: store.audit,
    dedupe: store.dedupe,
    log: logger,
    now: clock.now,
    locale: 'en',
    describeStep: steps,
    entry,
  });
  services = createDialogServices({ store, catalog, holdMinutes: 10, log: logger, notifier: teams.notifier });
  engine = new TurnEngine({ store, services, log: logger, now: clock.now, idleMs: 30 * 60_000, retentionMs: 24 * 3_600_000 });
  const messenger: CitizenMessenger = {
    handles: () => true,
    deliver: async (userKey, replies) => {
      delivered.push({ userKey, replies });
    },
  };
  const real = new StaffDeskService({ store, catalog, notifier: teams.notifier, knowledge: services.knowledge, runTurn: (r) => engine.run(r), delivered: (k, e) => engine.delivered(k, e), messengers: [messenger], log: logger });
  // The real desk, with its replies recorded (what staff wrote to whom).
  desk = Object.assign(Object.create(real) as StaffDesk, {
    reply: async (ticketId: string, agent: Agent, text: string, messageId: string) => {
      replyCalls.push({ ticketId, agent, text, messageId });
      return real.reply(ticketId, agent, text, messageId);
    },
  });
  server = restify.createServer({ handleUncaughtExceptions: false });
  teams.mount(server, { desk, runTurn: (r) => engine.run(r), unansweredCsvUrl: csvUrl, bookingsCsvUrl });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterEach(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  // Every card a test made the bot send is one the Teams mobile apps render.
  for (const call of stub.calls()) {
    const card = cardOf(call.activity);
    if (card) expectTeamsMobileCard(card, call.activity.summary ?? '');
  }
});

/** Installs the bot in the staff channel and opens a ticket; returns it with its card's id. */
async function ticketWithCard(over: Partial<TicketRequest> = {}): Promise<Ticket & { card: NonNullable<Ticket['card']> }> {
  if (!(await store.channels.get('staff'))) await send(install(CHANNEL));
  const ticket = await openTicket(over);
  expect(ticket.card).toBeDefined();
  return ticket as Ticket & { card: NonNullable<Ticket['card']> };
}

// ---- tests -----------------------------------------------------------------------------

describe('registration of the staff channel', () => {
  it('registers the channel when the bot is installed in the staff team', async () => {
    expect(await teams.health()).toBe('unregistered');
    const replies = await say(install(CHANNEL));
    expect(replies).toContain(EN.installed.slice(0, 20));
    const record = await store.channels.get('staff');
    expect(record?.status).toBe('ok');
    const reference = record?.reference as { conversation: { id: string }; serviceUrl: string };
    // The channel itself, not a thread of it.
    expect(reference.conversation.id).toBe(CHANNEL);
    expect(reference.serviceUrl).toBe(stub.url);
    expect(JSON.stringify(reference)).not.toContain(AIKO.name);
    expect(await teams.health()).toBe('ok');
  });

  it('does not register a channel of another team, and says politely why', async () => {
    expect(await say(install(OTHER_CHANNEL, OTHER_TEAM))).toContain(EN.refused);
    expect(await store.channels.get('staff')).toBeNull();
    expect(logs.some((l) => l.includes('teams.install_outside_staff'))).toBe(true);
  });

  it('moves the ticket cards to another staff channel on register', async () => {
    await send(install(CHANNEL));
    const replies = await say(typed(BEN, { channel: OTHER_CHANNEL }, 'register'));
    expect(replies).toContain(EN.registered.slice(0, 20));
    const ticket = await openTicket();
    expect(ticket.card?.conversationId).toBe(OTHER_CHANNEL);
    expect(stub.posts(OTHER_CHANNEL).filter((c) => c.id === ticket.card?.activityId)).toHaveLength(1);
    expect(stub.posts(CHANNEL).filter((c) => c.activityId === undefined)).toHaveLength(0); // no card in the old channel
  });

  it('without a registered channel, opening a ticket keeps it and the notifier rejects clearly', async () => {
    const ticket = await openTicket();
    expect(ticket.card).toBeUndefined();
    expect((await store.tickets.listOpen()).map((t) => t.id)).toContain(ticket.id);
    await expect(teams.notifier.ticketOpened(ticket)).rejects.toThrow(/not registered|No Teams staff channel/i);
    await expect(teams.notifier.ticketOpened(ticket)).rejects.toBeInstanceOf(StaffChannelError);
  });
});

describe('ticket cards', () => {
  it('posts an Adaptive Card with reason, category, priority, language and no personal data', async () => {
    await send(install(CHANNEL));
    // A citizen who typed their name, phone and email, then asked for a person.
    const citizen = new ChatUser(engine, 'card-citizen');
    await toSummary(citizen);
    await citizen.type('human');
    const [ticket] = await store.tickets.listOpen();
    expect(ticket?.card).toBeDefined();

    const cards = stub.posts(CHANNEL).filter((c) => c.activityId === undefined && cardOf(c.activity));
    expect(cards).toHaveLength(1);
    const call = cards[0]!;
    expect(call.id).toBe(ticket!.card!.activityId);
    expect(ticket!.card!.conversationId).toBe(CHANNEL);
    const shown = shownText(call.activity);
    expect(shown).toContain(ticket!.id);
    expect(shown).toContain(`${EN['card.reason']}: ${EN['reason.requested']}`);
    expect(shown).toContain(`${EN['card.category']}: ombudsman`);
    expect(shown).toContain(`${EN['card.priority']}: ${EN['priority.normal']}`);
    expect(shown).toContain(`${EN['card.language']}: ${EN['language.ja']}`);
    expect(shown).toContain(`${EN['card.summary']}: ${en.booking.staff.journey}`);
    expect(shown).toMatch(/2026-11-24 10:00/); // created, JST
    expect(buttonsOf(call.activity).map((b) => b.data)).toEqual([
      { staff: 'claim', ticketId: ticket!.id },
      { staff: 'close', ticketId: ticket!.id },
      { staff: 'forward', ticketId: ticket!.id, desk: 'contact_center' },
    ]);
    const raw = JSON.stringify(call.activity);
    for (const personal of ['川崎', '花子', '09012345678', '090-1234-5678', 'hanako@example.jp', citizen.key]) expect(raw).not.toContain(personal);
  });

  it('a high-priority ticket is marked so', async () => {
    const ticket = await ticketWithCard({ priority: 'high', locale: 'en', reason: 'not_understood' });
    const shown = shownText(stub.posts(CHANNEL).find((c) => c.id === ticket.card.activityId)!.activity);
    expect(shown).toContain(`${EN['card.priority']}: ${EN['priority.high']}`);
    expect(shown).toContain(`${EN['card.language']}: ${EN['language.en']}`);
    expect(shown).toContain(EN['reason.not_understood']);
  });

  it('relays what the citizen says into the card thread, as plain text', async () => {
    const ticket = await ticketWithCard();
    await teams.notifier.citizenSaid(ticket, 'Hello **there** <at>Someone</at>');
    const [relay] = stub.posts(`${CHANNEL};messageid=${ticket.card.activityId}`);
    expect(relay?.activity.text).toBe('Citizen: Hello **there** <at>Someone</at>');
    expect(relay?.activity.textFormat).toBe('plain');
    // A new message in the thread, not a reply to some other activity.
    expect(relay?.activityId).toBeUndefined();
  });

  it("posts an alert in the office's channel: an online session without its meeting link", async () => {
    await send(install(CHANNEL));
    await teams.notifier.alert!({ kind: 'meeting_link_missing', sessionId: SESSION_ID, date: '2026-12-08', reference: 'K7M-4QXP' });
    const [posted] = stub.posts(CHANNEL).filter((c) => shownText(c.activity).includes('K7M-4QXP'));
    expect(posted?.activity.text).toBe(EN['alertMeetingLinkMissing'].replace('{{session}}', SESSION_ID).replace('{{date}}', '2026-12-08').replace('{{reference}}', 'K7M-4QXP'));
    expect(posted?.activity.textFormat).toBe('plain');
  });
});

describe('claiming and closing', () => {
  it('two staff claim at once: exactly one wins, the loser is told who has it, the card is updated in place', async () => {
    const ticket = await ticketWithCard();
    const thread = { channel: CHANNEL, root: ticket.card.activityId };
    const a = submit(AIKO, thread, { staff: 'claim', ticketId: ticket.id });
    const b = submit(BEN, thread, { staff: 'claim', ticketId: ticket.id });
    const [ra, rb] = await Promise.all([post(a), post(b)]);
    expect([ra.status, rb.status]).toEqual([200, 200]);

    const stored = await store.tickets.get(ticket.id);
    expect(stored?.status).toBe('claimed');
    const winner = stored!.claimedBy!.name === AIKO.name ? a : b;
    const loser = winner === a ? b : a;
    const winnerName = stored!.claimedBy!.name;
    const won = stub.repliesTo(winner.id).map((c) => c.activity.text).join('\n');
    const lost = stub.repliesTo(loser.id).map((c) => c.activity.text).join('\n');
    expect(won).toContain(`${winnerName} claimed ticket ${ticket.id}`);
    expect(lost).toContain(`already claimed by ${winnerName}`);
    // Answered in the card's thread.
    expect(stub.repliesTo(winner.id)[0]?.conversationId).toBe(`${CHANNEL};messageid=${ticket.card.activityId}`);
    expect(stored!.claimedBy!.id).toBe(winner === a ? AIKO.aadObjectId : BEN.aadObjectId);

    const updates = stub.updates(ticket.card.activityId);
    expect(updates).toHaveLength(1);
    expect(updates[0]!.conversationId).toBe(CHANNEL);
    const shown = shownText(updates[0]!.activity);
    expect(shown).toContain(`Claimed by ${winnerName} at 2026-11-24 10:00`);
    expect(buttonsOf(updates[0]!.activity).map((x) => x.data)).toEqual([
      { staff: 'close', ticketId: ticket.id },
      { staff: 'forward', ticketId: ticket.id, desk: 'contact_center' },
    ]);
    // The citizen was told (through their own conversation and messenger).
    expect(delivered.some((d) => d.userKey === ticket.userKey)).toBe(true);
  });

  it('a thread message from the claimer goes to the citizen through desk.reply; others are told why not', async () => {
    const ticket = await ticketWithCard();
    const thread = { channel: CHANNEL, root: ticket.card.activityId };
    // Before anyone claims: not relayed.
    expect(await say(typed(AIKO, thread, 'Hello?'))).toContain(`Claim ticket ${ticket.id} first`);
    await send(submit(AIKO, thread, { staff: 'claim', ticketId: ticket.id }));

    const message = typed(AIKO, thread, 'Hello, this is Aiko from the city office.');
    expect(await send(message)).toEqual([]); // delivered: the bot stays quiet
    const mine = replyCalls.filter((c) => c.text.startsWith('Hello, this is'));
    expect(mine).toEqual([{ ticketId: ticket.id, agent: { id: AIKO.aadObjectId, name: AIKO.name }, text: 'Hello, this is Aiko from the city office.', messageId: message.id }]);

    expect(await say(typed(BEN, thread, 'Can I help?'))).toContain(`claimed by ${AIKO.name}: only they can`);
  });

  it("a thread message's Markdown and HTML reach the citizen as plain text", async () => {
    const ticket = await ticketWithCard();
    const thread = { channel: CHANNEL, root: ticket.card.activityId };
    await send(submit(AIKO, thread, { staff: 'claim', ticketId: ticket.id }));
    const formatted = '## Your visit\n\n**Bring** your _ID card_ &amp; see [the page](https://www.city.kawasaki.jp/a_b/).\n- one\n* two';
    expect(await send(typed(AIKO, thread, formatted))).toEqual([]);
    expect(replyCalls.at(-1)?.text).toBe('Your visit\n\nBring your ID card & see the page (https://www.city.kawasaki.jp/a_b/).\n• one\n• two');
  });

  it('close typed in the thread closes the ticket and the card shows Closed with no buttons', async () => {
    const ticket = await ticketWithCard();
    const thread = { channel: CHANNEL, root: ticket.card.activityId };
    await send(submit(AIKO, thread, { staff: 'claim', ticketId: ticket.id }));
    const replies = await say(typed(AIKO, thread, 'close'));
    expect(replies).toContain(`${AIKO.name} closed ticket ${ticket.id}`);
    expect((await store.tickets.get(ticket.id))?.status).toBe('closed');
    const last = stub.updates(ticket.card.activityId).at(-1)!;
    expect(shownText(last.activity)).toContain(`Closed by ${AIKO.name} at 2026-11-24 10:00`);
    expect(buttonsOf(last.activity)).toEqual([]);
    // A later message in the closed ticket's thread is not relayed.
    expect(await say(typed(AIKO, thread, 'one more thing'))).toContain(`Ticket ${ticket.id} is closed`);
  });

  it('the Close button closes; a stale button gets a clear answer', async () => {
    const ticket = await ticketWithCard();
    const thread = { channel: CHANNEL, root: ticket.card.activityId };
    expect(await say(submit(BEN, thread, { staff: 'close', ticketId: ticket.id }))).toContain(`${BEN.name} closed ticket`);
    expect(await say(submit(AIKO, thread, { staff: 'claim', ticketId: ticket.id }))).toContain(`Ticket ${ticket.id} is already closed`);
    expect(await say(submit(AIKO, thread, { staff: 'claim', ticketId: 'ZZZ-ZZZZ' }))).toContain('There is no ticket ZZZ-ZZZZ');
    expect(await say(submit(AIKO, thread, { staff: 'steal', ticketId: ticket.id }))).toContain(EN.badButton);
    expect(await say(submit(AIKO, thread, { something: 'else' }))).toContain(EN.badButton);
  });

  it('Action.Execute (Universal Actions) claims and answers in the invoke response', async () => {
    const ticket = await ticketWithCard();
    const invoke = activity(AIKO, { channel: CHANNEL, root: ticket.card.activityId }, {
      type: 'invoke',
      name: 'adaptiveCard/action',
      value: { action: { type: 'Action.Execute', verb: 'claim', data: { staff: 'claim', ticketId: ticket.id } }, trigger: 'manual' },
    });
    const res = await post(invoke);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { statusCode: number; type: string; value: string };
    expect(body.statusCode).toBe(200);
    expect(body.value).toContain(`${AIKO.name} claimed ticket ${ticket.id}`);
    expect((await store.tickets.get(ticket.id))?.claimedBy?.name).toBe(AIKO.name);
  });
});

describe('staff commands', () => {
  it("queue lists open tickets with id, reason, priority, the citizen's language, age and who claimed them", async () => {
    const first = await ticketWithCard({ priority: 'high' });
    clock.advance(5 * 60_000);
    const second = await openTicket({ priority: 'normal', reason: 'screening_unsure' });
    await send(typed(BEN, { channel: CHANNEL }, `claim ${second.id.toLowerCase()}`));
    clock.advance(60_000);
    const shown = await say(typed(AIKO, { channel: CHANNEL }, 'queue'));
    expect(shown).toContain('Open tickets: 2');
    expect(shown).toContain(`**${first.id}** · ${EN['reason.requested']} · ${EN['priority.high']} · ${EN['language.ja']} · 6 min · waiting`);
    expect(shown).toContain(`**${second.id}** · ${EN['reason.screening_unsure']} · ${EN['priority.normal']} · ${EN['language.ja']} · 1 min · claimed by ${BEN.name}`);
  });

  it('claim and close by id; usage when the id is missing', async () => {
    const ticket = await ticketWithCard();
    expect(await say(typed(AIKO, { channel: CHANNEL }, `claim ${ticket.id}`))).toContain(`${AIKO.name} claimed ticket ${ticket.id}. Reply in the ticket card's thread`);
    expect(await say(typed(BEN, { channel: CHANNEL }, `claim ${ticket.id}`))).toContain(`already claimed by ${AIKO.name}`);
    expect(await say(typed(AIKO, { channel: CHANNEL }, 'claim'))).toContain(EN['usage.claim']);
    expect(await say(typed(AIKO, { channel: CHANNEL }, `close ${ticket.id}`))).toContain(`${AIKO.name} closed ticket ${ticket.id}`);
    expect(await say(typed(AIKO, { channel: CHANNEL }, 'queue'))).toContain(EN['queue.empty']);
  });

  it('link sets the meeting link of a session (https only, a session of the catalog), audited', async () => {
    await send(install(CHANNEL));
    const url = 'https://kawasaki.webex.example/meet/ombudsman-1208';
    expect(await say(typed(AIKO, { channel: CHANNEL }, `link ${SESSION_ID} ${url}`))).toContain(EN['link.set'].replace('{{session}}', SESSION_ID));
    expect(await store.meetingLinks.get(SESSION_ID)).toBe(url);
    for (const wrong of [`link ${SESSION_ID} http://insecure.example/x`, `link no-such-session ${url}`, 'link', `link ${SESSION_ID}`]) {
      expect(await say(typed(AIKO, { channel: CHANNEL }, wrong))).toContain(EN['usage.link']);
    }
    expect(await store.meetingLinks.get('no-such-session')).toBeUndefined();
    // A time's own link wins over the session's for that time only; a time the service does not have is refused.
    const slotUrl = 'https://kawasaki.webex.example/meet/ombudsman-1208-1000';
    expect(await say(typed(AIKO, { channel: CHANNEL }, `link ${SESSION_ID} 1000 ${slotUrl}`))).toContain(`${SESSION_ID} 1000`);
    expect(await store.meetingLinks.get(SESSION_ID, '1000')).toBe(slotUrl);
    expect(await store.meetingLinks.get(SESSION_ID, '0930')).toBe(url);
    expect(await say(typed(AIKO, { channel: CHANNEL }, `link ${SESSION_ID} 0000 ${slotUrl}`))).toContain(EN['usage.link']);
    const set = (await store.audit.recent(10)).filter((e) => e.action === 'session.link_set');
    expect(set.map((e) => [e.staff, e.records])).toEqual([
      [AIKO.aadObjectId, [SESSION_ID, '1000']],
      [AIKO.aadObjectId, [SESSION_ID]],
    ]);
  });

  it('attended / noshow mark a booking, stats counts per session; the marks are audited', async () => {
    await send(install(CHANNEL));
    const citizen = new ChatUser(engine, 'came-or-not');
    await toSummary(citizen);
    await citizen.tap(ja.booking.confirm);
    const [booking] = await store.bookings.listSession(SESSION_ID);
    expect(await say(typed(AIKO, { channel: CHANNEL }, `attended ${booking!.id.toLowerCase()}`))).toContain(EN['attendance.attended'].replace('{{reference}}', booking!.id));
    expect(await store.bookings.attendance(SESSION_ID)).toEqual(new Map([[booking!.id, 'attended']]));
    expect(await say(typed(AIKO, { channel: CHANNEL }, 'noshow ZZZ-2222'))).toContain('ZZZ-2222');
    expect(await say(typed(AIKO, { channel: CHANNEL }, 'attended'))).toContain(EN['usage.attendance']);
    await store.bookings.count(SESSION_ID, 'invitations');
    const stats = await say(typed(AIKO, { channel: CHANNEL }, `stats ${SESSION_ID}`));
    expect(stats).toContain(`2026-12-08 · ${SESSION_ID} · booked 1 · came 1 · no-shows 0 · cancelled 0 · changed 0 · invitations 1 · waitlisted 0`);
    expect(await say(typed(AIKO, { channel: CHANNEL }, 'stats 2026-12-08'))).toContain(SESSION_ID);
    expect(await say(typed(AIKO, { channel: CHANNEL }, 'stats 1999-01-01'))).toContain(EN['usage.stats']);
    expect((await store.audit.recent(10)).find((e) => e.action === 'booking.marked')).toMatchObject({ staff: AIKO.aadObjectId, records: [booking!.id, SESSION_ID] });
  });

  it('bookings lists a day or a session with contact details; today answers for today; none of it is logged', async () => {
    await send(install(CHANNEL));
    const citizen = new ChatUser(engine, 'booker');
    await toSummary(citizen);
    await citizen.tap(ja.booking.confirm);
    const [booking] = await store.bookings.listSession(SESSION_ID);
    expect(booking).toBeDefined();

    const byDate = await say(typed(AIKO, { channel: CHANNEL }, 'bookings 2026-12-08'));
    expect(byDate).toContain('Bookings 2026-12-08: 1');
    expect(byDate).toContain(`**09:30** · ${SESSION_ID} · ${booking!.id}`);
    expect(byDate).toContain('Name: 川崎 花子');
    expect(byDate).toContain('Phone: 090-1234-5678');
    expect(byDate).toContain('Email: hanako@example.jp');
    expect(byDate).toContain(`Mode: ${EN['mode.in_person']}`);
    expect(byDate).toContain(`${EN['bookings.invitation']}: ${EN['bookings.notInvited']}`);
    await store.bookings.markInvited(SESSION_ID, booking!.id, Date.parse('2026-12-07T01:00:00Z'));
    expect(await say(typed(AIKO, { channel: CHANNEL }, 'bookings 2026-12-08'))).toContain(`${EN['bookings.invitation']}: 2026-12-07 10:00`);

    const bySession = await say(typed(AIKO, { channel: CHANNEL }, `bookings ${SESSION_ID}`));
    expect(bySession).toContain('Name: 川崎 花子');
    // Each list offers its CSV for the office, behind a link for that list.
    const [card] = await send(typed(AIKO, { channel: CHANNEL }, `bookings ${SESSION_ID}`));
    expect(JSON.stringify(card!.activity)).toContain(`{"type":"Action.OpenUrl","title":"${EN['bookings.csv']}","url":"http://127.0.0.1:`);
    expect(JSON.stringify(card!.activity)).toContain(`/reports/bookings.csv?target=${SESSION_ID}&signed`);

    expect(await say(typed(AIKO, { channel: CHANNEL }, 'today'))).toContain('No bookings for today (2026-11-24)');
    clock.set('2026-12-08T08:30:00+09:00');
    expect(await say(typed(AIKO, { channel: CHANNEL }, 'today'))).toContain('Name: 川崎 花子');
    expect(await say(typed(AIKO, { channel: CHANNEL }, 'bookings'))).toContain(EN['usage.bookings']);

    const all = logs.join('\n');
    for (const personal of ['川崎', '花子', '09012345678', '090-1234-5678', 'hanako@example.jp']) expect(all).not.toContain(personal);
  });

  it('queue with 120 open tickets: a card within Teams\' limit, 20 a page, "more" shows the next page', async () => {
    await send(install(CHANNEL));
    const opened: Ticket[] = [];
    for (let i = 0; i < 120; i++) opened.push(await openTicket({ locale: (['ja', 'easy', 'en', 'zh', 'ko', 'vi'] as const)[i % 6] }));
    const pages: string[] = [];
    let replies = await send(typed(AIKO, { channel: CHANNEL }, 'queue'));
    for (;;) {
      expect(replies).toHaveLength(1);
      pages.push(shownText(replies[0]!.activity));
      const more = buttonsOf(replies[0]!.activity).find((b) => b.title.startsWith(EN['list.more'].split('(')[0]!));
      if (!more) break;
      expect(pages.length).toBeLessThan(6);
      replies = await send(submit(BEN, { channel: CHANNEL, root: replies[0]!.id }, more.data));
    }
    expect(pages).toHaveLength(6);
    for (const shown of pages) expect(shown).toContain('Open tickets: 120');
    const ids = pages.flatMap((shown) => (shown.match(/\*\*[2-9A-Z]{3}-[2-9A-Z]{4}\*\*/g) ?? []).map((m) => m.slice(2, -2)));
    // Each ticket once, in the queue's order (oldest first).
    expect(ids).toEqual((await store.tickets.listOpen()).map((t) => t.id));
    expect([...ids].sort()).toEqual(opened.map((t) => t.id).sort());
    // The citizen's language on each row, in the staff language.
    for (const locale of ['ja', 'easy', 'en', 'zh', 'ko', 'vi'] as const) expect(pages.join('\n')).toContain(` · ${EN[`language.${locale}`]} · `);
  });

  it('bookings "more" shows the next page of the same list, audited as a read again', async () => {
    await send(install(CHANNEL));
    for (let i = 0; i < 20; i++) {
      const booking = makeBooking({ id: `K${String(i).padStart(2, '2')}-ABCD`, sessionId: SESSION_ID, slotId: '0930', userKey: `line:U${i}` });
      expect((await store.bookings.confirm({ ...booking, slotId: `${String(9 + Math.floor(i / 2)).padStart(2, '0')}${i % 2 ? '30' : '00'}` }, clock.now())).ok).toBe(true);
    }
    const [first] = await send(typed(AIKO, { channel: CHANNEL }, `bookings ${SESSION_ID}`));
    const more = buttonIn([first!], EN['list.more'].replace('{{n}}', '5'));
    expect(more.data).toEqual({ staff: 'more', list: 'bookings', offset: 15, target: SESSION_ID });
    const before = (await store.audit.recent(50)).filter((e) => e.action === 'bookings.listed').length;
    const [next] = await send(submit(AIKO, { channel: CHANNEL, root: first!.id }, more.data));
    const shown = shownText(next!.activity);
    expect(shown).toContain(EN['list.page'].replace('{{from}}', '16').replace('{{to}}', '20').replace('{{count}}', '20'));
    expect(shown.match(/K\d{2}-ABCD/g)).toHaveLength(5);
    expect((await store.audit.recent(50)).filter((e) => e.action === 'bookings.listed')).toHaveLength(before + 1);
    // A "more" outside the staff channels shows nothing.
    expect(await say(submit(AIKO, { personal: true }, more.data))).toContain(EN.staffButtonsInChannel);
  });

  it('help lists the commands', async () => {
    expect(await say(typed(AIKO, { channel: CHANNEL }, 'help'))).toContain('queue: open tickets');
  });

  it('a staff member in a personal chat is pointed to the staff channel for commands', async () => {
    expect(await say(typed(AIKO, { personal: true }, 'queue'))).toContain(EN.staffCommandsInChannel);
    expect(await say(submit(AIKO, { personal: true }, { staff: 'claim', ticketId: 'ABC-DEFG' }))).toContain(EN.staffButtonsInChannel);
  });
});

describe('who is staff', () => {
  it('refuses a command from another team and logs it without personal data', async () => {
    const other = { team: OTHER_TEAM, channel: OTHER_CHANNEL };
    const replies = await say(typed(OUTSIDER, other, 'queue'));
    expect(replies).toContain(EN.refused);
    const line = logs.find((l) => l.includes('teams.refused'));
    expect(line).toBeDefined();
    expect(line).toContain(OTHER_TEAM);
    for (const personal of [OUTSIDER.name, OUTSIDER.aadObjectId, OUTSIDER.id, 'Mallory']) expect(logs.join('\n')).not.toContain(personal);
  });

  it('refuses the staff team id from another tenant, and a personal chat from another tenant', async () => {
    expect(await say(typed(OUTSIDER, { team: TEAM, channel: CHANNEL, tenant: 'other-tenant' }, 'queue'))).toContain(EN.refused);
    expect(await say(typed(OUTSIDER, { personal: true, tenant: 'other-tenant' }, 'hello'))).toContain(EN.refused);
    expect(await say(submit(OUTSIDER, { team: OTHER_TEAM, channel: OTHER_CHANNEL }, { staff: 'claim', ticketId: 'ABC-DEFG' }))).toContain(EN.refused);
    expect(logs.filter((l) => l.includes('teams.refused'))).toHaveLength(3);
    expect(logs.join('\n')).not.toContain('Mallory');
  });
});

describe('a broken staff channel', () => {
  it('a 403 from Teams marks the channel broken, health says so, the call rejects and the ticket is kept', async () => {
    await send(install(CHANNEL));
    stub.fail(CHANNEL, 403);
    const ticket = await openTicket(); // the handoff service keeps the ticket whatever the notifier does
    expect(ticket.card).toBeUndefined();
    expect((await store.tickets.listOpen()).map((t) => t.id)).toContain(ticket.id);

    await expect(teams.notifier.ticketOpened(ticket)).rejects.toMatchObject({ name: 'StaffChannelError', code: 'broken:403' });
    expect(await teams.health()).toBe('broken:403');
    expect((await store.channels.get('staff'))?.status).toBe('broken');
    expect(logs.some((l) => l.includes('teams.staff_channel_broken') && l.includes('403'))).toBe(true);

    // Teams reachable again: the next post heals the mark.
    stub.heal(CHANNEL);
    await teams.notifier.ticketOpened(ticket);
    expect(await teams.health()).toBe('ok');
  });

  it('a 404 on a card update marks it broken too and rejects', async () => {
    const ticket = await ticketWithCard();
    stub.fail(CHANNEL, 404);
    await expect(teams.notifier.ticketChanged({ ...ticket, status: 'closed', closedBy: 'citizen', closedAt: '2026-11-24T01:05:00Z' })).rejects.toBeInstanceOf(StaffChannelError);
    expect(await teams.health()).toBe('broken:404');
    await expect(teams.notifier.citizenSaid(ticket, 'hello')).rejects.toBeInstanceOf(StaffChannelError);
  });

  it('an activity from the staff channel heals a broken mark', async () => {
    await send(install(CHANNEL));
    const record = (await store.channels.get('staff'))!;
    await store.channels.put('staff', { ...record, status: 'broken', reason: '403' });
    await send(typed(AIKO, { channel: CHANNEL }, 'help'));
    expect(await teams.health()).toBe('ok');
  });
});

describe('proxy booking by an agent', () => {
  it('an agent in a personal chat walks the booking dialog with card buttons', async () => {
    const tap = (replies: ConnectorCall[], label: string) => send(submit(AIKO, { personal: true }, buttonIn(replies, label).data));
    // No mention in a personal chat: Teams sends the text as typed.
    let replies = await send(activity(AIKO, { personal: true }, { text: 'menu' }));
    expect(replies.map((c) => shownText(c.activity)).join('\n')).toContain(en.menu.prompt);
    expect(replies.flatMap((c) => buttonsOf(c.activity)).map((b) => b.title)).toContain(en.menu.book);
    // Every dialog button carries `{ action }`, which the bot reads back as an action input.
    for (const b of replies.flatMap((c) => buttonsOf(c.activity))) expect(b.data).toEqual({ action: expect.any(String) });

    replies = await tap(replies, en.menu.book);
    const shown = replies.map((c) => shownText(c.activity)).join('\n');
    expect(shown).toContain(en.booking.modePrompt);
    expect(replies.flatMap((c) => buttonsOf(c.activity)).map((b) => b.title)).toEqual(expect.arrayContaining([en.booking.mode.in_person, en.booking.mode.online]));

    replies = await tap(replies, en.booking.mode.in_person);
    expect(replies.map((c) => shownText(c.activity)).join('\n')).toContain(en.booking.answer.yes);
    // The agent's conversation is keyed by chat and agent, never shared with a citizen's.
    const keys = [...(await Promise.all([store.conversations.load(`teams:a:personal-${AIKO.id}:${AIKO.aadObjectId}`)]))];
    expect(keys[0]).not.toBeNull();
  });

  it('in the staff channel, other text reaches the dialogs as the agent', async () => {
    await send(install(CHANNEL));
    const replies = await send(typed(AIKO, { channel: CHANNEL }, 'menu'));
    expect(replies.flatMap((c) => buttonsOf(c.activity)).map((b) => b.title)).toContain(en.menu.book);
    expect(await store.conversations.load(`teams:${CHANNEL}:${AIKO.aadObjectId}`)).not.toBeNull();
  });
});

describe('cancelling a booking from Teams', () => {
  const CALLER = { name: 'Taro Kawasaki', phone: '090-1111-2222', email: 'taro@example.jp' };

  /** An agent books for a phone caller in a personal chat, tapping card buttons as shown; returns the shown reference. */
  async function proxyBooking(agent: Member, time: string, contact = CALLER): Promise<string> {
    const { shown, type: write, tap } = personalChat(agent, { activity, submit }, send);
    await write('menu');
    await tap(en.menu.book);
    await tap(en.booking.mode.in_person);
    for (let i = 0; i < 5; i++) await tap(en.booking.answer.yes);
    await tap(/12\/8/);
    await tap(time);
    await tap(en.booking.agree);
    await write(contact.name);
    await write(contact.phone);
    await write(contact.email);
    expect(shown()).toContain(en.booking.summaryTitle);
    await tap(en.booking.confirm);
    expect(shown()).toContain(en.booking.confirmedTitle);
    const reference = /\b[A-Z0-9]{3}-[A-Z0-9]{4}\b/.exec(shown())?.[0];
    if (!reference) throw new Error(`no reference in ${shown()}`);
    return reference;
  }

  it('an agent books for a caller, finds the reference in bookings, confirms the cancel: the slot is free and the caller can book again', async () => {
    await send(install(CHANNEL));
    const reference = await proxyBooking(AIKO, '9:30');
    const [booking] = await store.bookings.listSession(SESSION_ID);
    expect(booking).toMatchObject({ id: reference, slotId: '0930', userKey: 'phone:09011112222', bookedBy: { id: AIKO.aadObjectId, name: AIKO.name } });

    // The caller phones again to cancel; the agent reads the reference off the bookings card.
    const listed = await say(typed(BEN, { channel: CHANNEL }, 'bookings 2026-12-08'));
    expect(listed).toContain(`**09:30** · ${SESSION_ID} · ${reference}`);
    expect(listed).toContain(EN['bookings.cancelHint']);
    expect(await say(typed(BEN, { channel: CHANNEL }, 'help'))).toContain('cancel <reference>');

    // First step: the booking is shown with a Confirm button, nothing is cancelled yet.
    // Typed in lower case; with a space for the hyphen only when it has a digit (a reference
    // without one, typed so, reads like words and goes to the dialogs).
    const typedRef = /\d/.test(reference) ? reference.toLowerCase().replace('-', ' ') : reference.toLowerCase();
    const asked = await send(typed(BEN, { channel: CHANNEL }, `cancel ${typedRef}`));
    const card = asked.map((c) => shownText(c.activity)).join('\n');
    expect(card).toContain(`Cancel booking ${reference}?`);
    expect(card).toContain(`${EN['cancel.date']}: 2026-12-08`);
    expect(card).toContain(`${EN['cancel.time']}: 09:30`);
    expect(card).toContain(`Name: ${CALLER.name}`);
    expect(card).toContain(`Phone: ${CALLER.phone}`);
    expect(card).toContain(`Mode: ${EN['mode.in_person']}`);
    expect(card).toContain(`${EN['bookings.bookedBy']}: ${AIKO.name}`);
    expect(card).toContain(EN['cancel.notNotified']);
    const buttons = asked.flatMap((c) => buttonsOf(c.activity));
    expect(buttons).toEqual([{ title: EN['cancel.confirm'], data: { staff: 'cancelBooking', reference } }]);
    expect(await store.bookings.listSession(SESSION_ID)).toHaveLength(1);

    // Confirm: cancelled, and staff are told to phone the caller (nobody is messaged).
    const done = await say(submit(BEN, { channel: CHANNEL }, buttons[0]!.data));
    expect(done).toContain(`${BEN.name} cancelled booking ${reference} (${SESSION_ID}, 09:30)`);
    expect(done).toContain(`not notified automatically: please phone them at ${CALLER.phone}`);
    expect(await store.bookings.listSession(SESSION_ID)).toEqual([]);
    expect((await store.bookings.occupancy(SESSION_ID, clock.now())).booked.has('0930')).toBe(false);
    expect(delivered).toEqual([]);
    // A second press of the same button finds nothing to cancel.
    expect(await say(submit(AIKO, { channel: CHANNEL }, buttons[0]!.data))).toContain(`There is no upcoming booking ${reference}`);

    // Logged with the reference and a pseudonymised agent, without personal data.
    const line = logs.find((l) => l.includes('booking.cancelled_by_staff'));
    expect(line).toContain(reference);
    expect(line).toContain(pseudonym(BEN.aadObjectId));
    expect(line).toContain('"holder":"phone"');
    for (const personal of [CALLER.name, CALLER.phone, '09011112222', CALLER.email, BEN.name, BEN.aadObjectId, AIKO.name]) expect(logs.join('\n')).not.toContain(personal);

    // The slot is free again, and the same caller (same phone) may book again, even the same time.
    const again = await proxyBooking(AIKO, '9:30');
    expect(again).not.toBe(reference);
    expect(await store.bookings.listSession(SESSION_ID)).toMatchObject([{ id: again, slotId: '0930', userKey: 'phone:09011112222' }]);
  });

  it("a citizen's own booking can be cancelled too; a bare cancel still reaches the dialogs", async () => {
    await send(install(CHANNEL));
    const citizen = new ChatUser(engine, 'line-booker');
    await toSummary(citizen);
    await citizen.tap(ja.booking.confirm);
    const [booking] = await store.bookings.listSession(SESSION_ID);
    expect(booking?.userKey).toBe(citizen.key);

    const asked = await send(typed(AIKO, { channel: CHANNEL }, `cancel ${booking!.id}`));
    expect(asked.map((c) => shownText(c.activity)).join('\n')).toContain('Name: 川崎 花子');
    const done = await say(submit(AIKO, { channel: CHANNEL }, asked.flatMap((c) => buttonsOf(c.activity))[0]!.data));
    expect(done).toContain(`${AIKO.name} cancelled booking ${booking!.id}`);
    expect(done).toContain('please phone them at 090-1234-5678');
    expect(await store.bookings.listSession(SESSION_ID)).toEqual([]);
    // Not messaged: the office phones them.
    expect(delivered).toEqual([]);
    await citizen.type('メニュー');
    expect(await citizen.tap(ja.menu.my)).toContain(ja.my.none);

    // `cancel` alone is the dialogs' "stop", not a staff command.
    const stopped = await send(typed(AIKO, { channel: CHANNEL }, 'cancel'));
    expect(stopped.map((c) => shownText(c.activity)).join('\n')).not.toContain('no upcoming booking');
    expect(stopped.flatMap((c) => buttonsOf(c.activity)).map((b) => b.title)).toContain(en.menu.book);
  });

  it('an unknown reference, or one whose session has passed, is not found', async () => {
    await send(install(CHANNEL));
    expect(await say(typed(AIKO, { channel: CHANNEL }, 'cancel ZZZ-9999'))).toContain('There is no upcoming booking ZZZ-9999');
    expect(await say(submit(AIKO, { channel: CHANNEL }, { staff: 'cancelBooking', reference: 'zzz-9999' }))).toContain('There is no upcoming booking ZZZ-9999');
    expect(await say(submit(AIKO, { channel: CHANNEL }, { staff: 'cancelBooking', reference: 'not a reference' }))).toContain(EN.badButton);

    const reference = await proxyBooking(BEN, '10:00');
    clock.set('2026-12-09T09:00:00+09:00');
    expect(await say(typed(AIKO, { channel: CHANNEL }, `cancel ${reference}`))).toContain(`There is no upcoming booking ${reference}`);
    expect(await say(submit(AIKO, { channel: CHANNEL }, { staff: 'cancelBooking', reference }))).toContain(`There is no upcoming booking ${reference}`);
    expect(await store.bookings.listSession(SESSION_ID)).toHaveLength(1);
  });

  it('is refused outside the staff team, and only offered in its channels', async () => {
    const reference = await proxyBooking(AIKO, '11:00');
    const other = { team: OTHER_TEAM, channel: OTHER_CHANNEL };
    const asked = await say(typed(OUTSIDER, other, `cancel ${reference}`));
    expect(asked).toContain(EN.refused);
    expect(asked).not.toContain(CALLER.name);
    expect(await say(submit(OUTSIDER, other, { staff: 'cancelBooking', reference }))).toContain(EN.refused);
    expect(await say(typed(OUTSIDER, { team: TEAM, channel: CHANNEL, tenant: 'other-tenant' }, `cancel ${reference}`))).toContain(EN.refused);
    // Staff in a personal chat are pointed to the staff channel.
    expect(await say(typed(AIKO, { personal: true }, `cancel ${reference}`))).toContain(EN.staffCommandsInChannel);
    expect(await say(submit(AIKO, { personal: true }, { staff: 'cancelBooking', reference }))).toContain(EN.staffButtonsInChannel);
    expect(await store.bookings.listSession(SESSION_ID)).toMatchObject([{ id: reference }]);
    expect(logs.some((l) => l.includes('booking.cancelled_by_staff'))).toBe(false);
  });
});

describe('the endpoint', () => {
  it('handles a redelivered activity once (dialog turn and staff command)', async () => {
    const message = activity(AIKO, { personal: true }, { text: 'menu' });
    const first = (await send(message)).length;
    expect(first).toBeGreaterThan(0);
    await send(message);
    expect(stub.repliesTo(message.id)).toHaveLength(first);

    const ticket = await ticketWithCard();
    const command = typed(AIKO, { channel: CHANNEL }, `claim ${ticket.id}`);
    await send(command);
    await send(command);
    expect(stub.repliesTo(command.id)).toHaveLength(1);
    expect(stub.updates(ticket.card.activityId)).toHaveLength(1);
  });

  it('acknowledges a slow turn before Teams gives up, and the answer follows', async () => {
    const slowDesk = Object.assign(Object.create(desk) as StaffDesk, {
      queue: async () => {
        await new Promise((r) => setTimeout(r, 400));
        return desk.queue();
      },
    });
    const slow = createTeamsChannel({ emulator: true, staffTeamId: TEAM, channels: store.channels, audit: store.audit, dedupe: store.dedupe, log: createLogger('silent'), now: clock.now, locale: 'en', ackDeadlineMs: 50, describeStep: steps, entry });
    const slowServer = restify.createServer({ handleUncaughtExceptions: false });
    slow.mount(slowServer, { desk: slowDesk, runTurn: (r) => engine.run(r), unansweredCsvUrl: csvUrl, bookingsCsvUrl });
    await new Promise<void>((resolve) => slowServer.listen(0, '127.0.0.1', () => resolve()));
    try {
      const command = typed(AIKO, { channel: CHANNEL }, 'queue');
      const started = Date.now();
      const res = await fetch(`http://127.0.0.1:${(slowServer.address() as AddressInfo).port}/api/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(command),
      });
      expect(res.status).toBe(200);
      expect(Date.now() - started).toBeLessThan(350);
      expect(stub.repliesTo(command.id)).toHaveLength(0);
      await expect.poll(() => stub.repliesTo(command.id).length, { timeout: 3000 }).toBe(1);
      expect(shownText(stub.repliesTo(command.id)[0]!.activity)).toContain(EN['queue.empty']);
    } finally {
      await new Promise<void>((resolve) => slowServer.close(() => resolve()));
    }
  });

  it('with an app id, a request without a Bot Framework token is refused and runs nothing', async () => {
    const secured = createTeamsChannel({ appId: '00000000-0000-0000-0000-000000000001', appPassword: 'not-a-real-secret', appType: 'MultiTenant', staffTeamId: TEAM, channels: store.channels, audit: store.audit, dedupe: store.dedupe, log: createLogger('silent'), now: clock.now, describeStep: steps, entry });
    const securedServer = restify.createServer({ handleUncaughtExceptions: false });
    secured.mount(securedServer, { desk, runTurn: (r) => engine.run(r), unansweredCsvUrl: csvUrl, bookingsCsvUrl });
    await new Promise<void>((resolve) => securedServer.listen(0, '127.0.0.1', () => resolve()));
    const quiet = console.error;
    console.error = () => undefined; // the SDK prints the authentication error itself
    try {
      const res = await fetch(`http://127.0.0.1:${(securedServer.address() as AddressInfo).port}/api/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(install(CHANNEL)),
      });
      expect(res.status).toBe(401);
      expect(await store.channels.get('staff')).toBeNull();
      expect(stub.calls()).toHaveLength(0);
    } finally {
      console.error = quiet;
      await new Promise<void>((resolve) => securedServer.close(() => resolve()));
    }
  });

  it('answers 400 to a malformed body', async () => {
    expect((await post('{not json')).status).toBe(400);
    expect((await post({ type: 'message' })).status).toBe(400);
    expect((await post([1, 2, 3])).status).toBe(400);
    const noConversation = activity(AIKO, { personal: true }, { text: 'hi' });
    delete (noConversation as Record<string, unknown>).conversation;
    expect((await post(noConversation)).status).toBe(400);
    expect(stub.calls()).toHaveLength(0);
  });
});

/** Mounts another Teams channel (other options) on a server of its own; its URL and a way to stop it. */
async function mounted(channel: TeamsChannel): Promise<{ url: string; close: () => Promise<void> }> {
  const other = restify.createServer({ handleUncaughtExceptions: false });
  channel.mount(other, { desk, runTurn: (r) => engine.run(r), unansweredCsvUrl: csvUrl, bookingsCsvUrl });
  await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', () => resolve()));
  return { url: `http://127.0.0.1:${(other.address() as AddressInfo).port}`, close: () => new Promise<void>((resolve) => other.close(() => resolve())) };
}

describe('serviceUrls that came with no validated token', () => {
  /** An address that is not loopback by name, yet reaches the stub on Linux: a call there would show in the stub. */
  const unspecified = () => stub.url.replace('127.0.0.1', '0.0.0.0');

  it('in the emulator mode, an activity whose serviceUrl is not loopback is refused and nothing is sent', async () => {
    // Only addresses of this machine, so that a broken guard could never send traffic elsewhere.
    const port = new URL(stub.url).port;
    for (const serviceUrl of [unspecified(), `http://localhost@0.0.0.0:${port}/`, `http://[::]:${port}/`, `http://0:${port}/`]) {
      const forged = typed(AIKO, { channel: CHANNEL }, 'register', { serviceUrl });
      expect((await post(forged)).status).toBe(403);
      expect((await post(activity(AIKO, { personal: true }, { text: 'menu', serviceUrl }))).status).toBe(403);
    }
    expect(stub.calls()).toHaveLength(0);
    expect(await store.channels.get('staff')).toBeNull();
    expect(logs.filter((l) => l.includes('teams.auth_rejected') && l.includes('untrusted_service_url'))).toHaveLength(8);
    // localhost is loopback too: the emulator's own address works.
    expect((await post(activity(AIKO, { personal: true }, { text: 'menu', serviceUrl: stub.url.replace('127.0.0.1', 'localhost') }))).status).toBe(200);
  });

  it('in the emulator mode, the notifier writes to no stored reference whose serviceUrl is not loopback', async () => {
    await send(install(CHANNEL));
    const record = (await store.channels.get('staff'))!;
    await store.channels.put('staff', { ...record, reference: { ...(record.reference as object), serviceUrl: unspecified() } });
    stub.reset();
    const ticket = await openTicket();
    expect(ticket.card).toBeUndefined();
    await expect(teams.notifier.ticketOpened(ticket)).rejects.toBeInstanceOf(UntrustedServiceUrlError);
    expect(stub.calls()).toHaveLength(0);
  });

  it('without an app id and outside the emulator mode (production), every request gets 401 and nothing is sent', async () => {
    const closedLogs: string[] = [];
    const closed = createTeamsChannel({ staffTeamId: TEAM, staffTenantId: TENANT, channels: store.channels, audit: store.audit, dedupe: store.dedupe, log: createLogger('info', (l) => closedLogs.push(l)), now: clock.now, describeStep: steps, entry });
    const endpoint = await mounted(closed);
    try {
      for (const forged of [install(CHANNEL), typed(AIKO, { channel: CHANNEL }, `bookings ${SESSION_ID}`), activity(AIKO, { personal: true }, { text: 'menu' })]) {
        const res = await fetch(`${endpoint.url}/api/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(forged) });
        expect(res.status).toBe(401);
      }
      expect(stub.calls()).toHaveLength(0);
      expect(await store.channels.get('staff')).toBeNull();
      expect(closedLogs.filter((l) => l.includes('teams.auth_rejected') && l.includes('unauthenticated'))).toHaveLength(3);
      expect(closedLogs.join('\n')).not.toContain(AIKO.name);

      // A loopback reference left in the store is not written to either.
      await send(install(CHANNEL));
      const ticket = await openTicket();
      const before = stub.calls().length;
      await expect(closed.notifier.ticketOpened(ticket)).rejects.toBeInstanceOf(UntrustedServiceUrlError);
      expect(stub.calls()).toHaveLength(before);
    } finally {
      await endpoint.close();
    }
  });
});

describe('pieces', () => {
  it('staff text has the same keys in Japanese and English', () => {
    expect(Object.keys(staffText.ja).sort()).toEqual(Object.keys(staffText.en).sort());
  });

  it('a closed card has no buttons and says who closed it', () => {
    const card = ticketCard(
      { id: 'K7M-4QXP', userKey: 'line:U1', channel: 'line', locale: 'ja', reason: 'requested', priority: 'normal', category: 'general', context: 'menu', status: 'closed', createdAt: '2026-11-24T01:00:00Z', closedBy: 'citizen', closedAt: '2026-11-24T01:30:00Z' },
      { locale: 'en', describeStep: steps, entry, nowMs: clock.now() },
    );
    expect(card.actions).toBeUndefined();
    expect(JSON.stringify(card)).toContain('Closed by the citizen at 2026-11-24 10:30');
  });

  it("a card reply's links become Action.OpenUrl buttons (a page, a number to call); other schemes are dropped", () => {
    const [out] = renderReplies([
      {
        kind: 'card',
        title: 'Bulky waste',
        fields: [],
        text: 'Book a collection.',
        links: [
          { label: 'Open the page', uri: 'https://www.city.kawasaki.jp/' },
          { label: 'Call 044-200-3939', uri: 'tel:0442003939' },
          { label: 'Bad', uri: 'javascript:alert(1)' },
        ],
        choices: [{ label: 'Menu', data: '{"a":"menu"}' }],
      },
    ], 'en');
    const json = JSON.stringify(out);
    expect(json).toContain('{"type":"Action.OpenUrl","title":"Open the page","url":"https://www.city.kawasaki.jp/"}');
    expect(json).toContain('{"type":"Action.OpenUrl","title":"Call 044-200-3939","url":"tel:0442003939"}');
    expect(json).not.toContain('javascript:');
    expect(json).toContain('"data":{"action":"{\\"a\\":\\"menu\\"}"}');
  });

  it('parses staff commands and leaves sentences to the dialogs', () => {
    expect(parseCommand('queue')).toEqual({ name: 'queue' });
    expect(parseCommand('Claim k7m-4qxp')).toEqual({ name: 'claim', ticketId: 'K7M-4QXP' });
    expect(parseCommand('bookings 2026-12-08')).toEqual({ name: 'bookings', target: '2026-12-08' });
    expect(parseCommand('close the window please')).toBeUndefined();
    expect(parseCommand('cancel k7m-4qxp')).toEqual({ name: 'cancel', reference: 'K7M-4QXP' });
    expect(parseCommand('Cancel  k7m 4qxp ')).toEqual({ name: 'cancel', reference: 'K7M-4QXP' });
    expect(parseCommand('cancel K7M4QXP.')).toEqual({ name: 'cancel', reference: 'K7M-4QXP' });
    expect(parseCommand('cancel K7M\u30fc4QXP')).toEqual({ name: 'cancel', reference: 'K7M-4QXP' });
    // A bare cancel, or words, stay the dialogs' own "stop".
    expect(parseCommand('cancel')).toBeUndefined();
    expect(parseCommand('cancel booking')).toBeUndefined();
    expect(parseCommand('cancel the date')).toBeUndefined();
    expect(parseCommand('cancel my booking for tomorrow please')).toBeUndefined();
    expect(parseCommand('hello')).toBeUndefined();
    // The contact center's commands.
    expect(parseCommand('triage')).toEqual({ name: 'triage' });
    expect(parseCommand('unanswered')).toEqual({ name: 'unanswered' });
    expect(parseCommand('register')).toEqual({ name: 'register', desk: 'office' });
    expect(parseCommand('register contact')).toEqual({ name: 'register', desk: 'contact_center' });
    expect(parseCommand('register constructor')).toBeUndefined();
    expect(parseCommand('forward k7m-4qxp office')).toEqual({ name: 'forward', ticketId: 'K7M-4QXP', desk: 'office' });
    expect(parseCommand('forward K7M-4QXP Contact')).toEqual({ name: 'forward', ticketId: 'K7M-4QXP', desk: 'contact_center' });
    expect(parseCommand('forward K7M-4QXP')).toEqual({ name: 'forward' });
    expect(parseCommand('close K7M-4QXP spam')).toEqual({ name: 'close', ticketId: 'K7M-4QXP', outcome: 'spam' });
    expect(parseCommand('close K7M-4QXP no-reply')).toEqual({ name: 'close', ticketId: 'K7M-4QXP', outcome: 'no_reply' });
    expect(parseCommand('close K7M-4QXP constructor')).toEqual({ name: 'close' });
    expect(parseCommand('category K7M-4QXP Waste')).toEqual({ name: 'category', ticketId: 'K7M-4QXP', category: 'waste' });
    expect(parseCommand('category K7M-4QXP')).toEqual({ name: 'category' });
    expect(parseCommand('triage now')).toBeUndefined();
  });
});

describe('the staff access audit trail', () => {
  const QUESTION = '粗大ごみの出し方を教えてください';

  it('records bookings listed, a confirmed cancel and a claim with the agent and the record ids only; audit lists them', async () => {
    await send(install(CHANNEL));
    const citizen = new ChatUser(engine, 'line-audited');
    await toSummary(citizen);
    await citizen.tap(ja.booking.confirm);
    const [booking] = await store.bookings.listSession(SESSION_ID);
    expect(booking).toBeDefined();

    expect(await say(typed(AIKO, { channel: CHANNEL }, 'bookings 2026-12-08'))).toContain('川崎 花子');
    const asked = await send(typed(BEN, { channel: CHANNEL }, `cancel ${booking!.id}`));
    expect(await say(submit(BEN, { channel: CHANNEL }, asked.flatMap((c) => buttonsOf(c.activity))[0]!.data))).toContain(`cancelled booking ${booking!.id}`);
    const ticket = await ticketWithCard();
    await store.tickets.update(ticket.id, { question: QUESTION });
    await send(submit(AIKO, { channel: CHANNEL, root: ticket.card.activityId }, { staff: 'claim', ticketId: ticket.id }));

    const entries = await store.audit.recent(50);
    const of = (action: string) => entries.filter((e) => e.action === action);
    expect(of('bookings.listed')).toEqual([{ at: expect.any(String), staff: AIKO.aadObjectId, action: 'bookings.listed', records: ['2026-12-08', booking!.id] }]);
    expect(of('booking.looked_up')).toEqual([{ at: expect.any(String), staff: BEN.aadObjectId, action: 'booking.looked_up', records: [booking!.id, SESSION_ID] }]);
    expect(of('booking.cancelled')).toEqual([{ at: expect.any(String), staff: BEN.aadObjectId, action: 'booking.cancelled', records: [booking!.id, SESSION_ID] }]);
    expect(of('ticket.claimed')).toEqual([{ at: expect.any(String), staff: AIKO.aadObjectId, action: 'ticket.claimed', records: [ticket.id] }]);
    // The card posted, then refreshed by the claim: shown to the staff channel, with its question.
    expect(of('ticket.shown')).toEqual([
      { at: expect.any(String), staff: 'channel:staff', action: 'ticket.shown', records: [ticket.id] },
      { at: expect.any(String), staff: 'channel:staff', action: 'ticket.shown', records: [ticket.id] },
    ]);
    const trail = JSON.stringify(entries);
    for (const personal of ['川崎 花子', '090-1234-5678', '09012345678', 'hanako@example.jp', QUESTION, citizen.key, AIKO.name, BEN.name]) {
      expect(trail).not.toContain(personal);
    }

    const listed = await say(typed(BEN, { channel: CHANNEL }, 'audit'));
    expect(listed).toContain('2026-11-24 10:00');
    expect(listed).toContain(`${AIKO.aadObjectId} · bookings.listed · 2026-12-08, ${booking!.id}`);
    expect(listed).toContain(`${BEN.aadObjectId} · booking.cancelled · ${booking!.id}, ${SESSION_ID}`);
    expect(listed).toContain(`${AIKO.aadObjectId} · ticket.claimed · ${ticket.id}`);
    expect(listed).not.toContain('川崎 花子');
    // Reading the trail is recorded too, and `audit <n>` shows the latest n.
    expect((await store.audit.recent(1))[0]).toMatchObject({ staff: BEN.aadObjectId, action: 'audit.listed', records: [] });
    const two = await say(typed(AIKO, { channel: CHANNEL }, 'audit 2'));
    expect(two.split('\n').filter((l) => l.startsWith('- '))).toHaveLength(2);
    expect(two).toContain(`${BEN.aadObjectId} · audit.listed`);
  });

  it('caps audit at 50 entries and refuses it outside the staff channels', async () => {
    await send(install(CHANNEL));
    for (let i = 0; i < 60; i++) await store.audit.append({ at: '2026-11-24T00:00:00.000Z', staff: 'aad-x', action: 'tickets.listed', records: [`T-${i}`] });
    const shown = await say(typed(AIKO, { channel: CHANNEL }, 'audit 500'));
    expect(shown.split('\n').filter((l) => l.startsWith('- '))).toHaveLength(50);
    expect(await say(typed(AIKO, { channel: CHANNEL }, 'audit many'))).not.toContain('aad-x');

    const before = (await store.audit.recent(100)).length;
    const refused = await say(typed(OUTSIDER, { team: OTHER_TEAM, channel: OTHER_CHANNEL }, 'audit'));
    expect(refused).toContain(EN.refused);
    expect(refused).not.toContain('aad-x');
    expect(await say(typed(AIKO, { personal: true }, 'audit'))).toContain(EN.staffCommandsInChannel);
    expect((await store.audit.recent(100)).length).toBe(before);
  });
});
