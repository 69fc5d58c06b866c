/**
 * Handoff end to end: the whole app (startApp: LINE webhook, Teams `/api/messages`, the
 * staff desk, the notifiers, a memory store) over real HTTP only, against the stub LINE
 * Messaging API and the stub Bot Framework connector. A LINE citizen asks for a person, a
 * ticket card appears in the staff channel in Teams, staff claim it, talk to the citizen
 * through the card's thread and close it; plus the races, the closed office, outsiders, a
 * broken staff channel, proxy booking from Teams and an English-speaking citizen.
 *
 * Each test gets a fresh app (fresh store); the two stubs live for the whole file.
 */
import { describe, expect, it } from 'vitest';
import en from '../../locales/en.json' with { type: 'json' };
import ja from '../../locales/ja.json' with { type: 'json' };
import staffText from '../../src/channels/teams/staff-text.json' with { type: 'json' };
import { buttonsOf, shownText } from '../support/connectorStub.ts';
import { e2eApp } from '../support/e2e.ts';
import { type LineEvent, lineUserId, REFERENCE, SESSION_ID, type SentCall, textOf } from '../support/lineStub.ts';
import { type Member, OTHER_CHANNEL, OTHER_TEAM, personalChat, STAFF_CHANNEL as CHANNEL } from '../support/teams.ts';

/** The app builds its Teams channel without a locale: cards are in Japanese. */
const JA = staffText.ja;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const SUZUKI: Member = { id: '29:suzuki', aadObjectId: 'aad-suzuki-0001', name: '鈴木 一郎' };
const TANAKA: Member = { id: '29:tanaka', aadObjectId: 'aad-tanaka-0002', name: '田中 花子' };
const OUTSIDER: Member = { id: '29:mallory', aadObjectId: 'aad-mallory-0003', name: 'Mallory Outsider' };

const e2e = e2eApp({ idPrefix: 'e2e-msg-', installer: SUZUKI });
const { clock, ev, repliesTo, pushesTo, typed, submit, install, postActivity, teams, teamsSays } = e2e;

// ---- LINE side ---------------------------------------------------------------------------

/** Everything LINE was asked to send to this user or with one of their reply tokens. */
function lineCallsAbout(userId: string, events: LineEvent[]): SentCall[] {
  const tokens = new Set(events.map((e) => e.replyToken));
  return e2e.line.sent().filter((c) => c.to === userId || (c.replyToken !== undefined && tokens.has(c.replyToken)));
}

/** The citizen sends one event; resolves with what the bot replied to it (waits for the reply). */
async function citizen(event: LineEvent): Promise<string> {
  return (await e2e.citizen(event)).map(textOf).join('\n');
}

/** The citizen sends an event the bot must not answer (it is relayed to staff). */
async function citizenQuiet(event: LineEvent): Promise<void> {
  // The webhook answers once the turn is done (well inside its ack deadline).
  await e2e.webhook(event);
}

/** Waits for a successful push to `userId` whose text contains `text`; returns it. */
async function pushed(userId: string, text: string): Promise<SentCall> {
  await e2e.line.waitFor(() => pushesTo(userId).some((c) => c.status === 200 && textOf(c).includes(text)));
  return pushesTo(userId).find((c) => c.status === 200 && textOf(c).includes(text))!;
}

// ---- Teams side --------------------------------------------------------------------------

async function registerStaffChannel(): Promise<void> {
  expect(await teamsSays(install(CHANNEL))).toContain(JA.installed.slice(0, 20));
  await expect.poll(async () => (await e2e.readyz()).staffChannel).toBe('ok');
}

/** The ticket cards posted (new messages at channel level carrying an Adaptive Card). */
const cardsPosted = () => e2e.cardsIn(CHANNEL);

/** Waits for the n-th ticket card in the staff channel. */
const nthCard = (n = 1) => e2e.nthCard(CHANNEL, n);

/** The one open ticket of the store. */
async function onlyTicket() {
  const open = await e2e.running.app.store.tickets.listOpen();
  expect(open).toHaveLength(1);
  return open[0]!;
}

// ---- tests -------------------------------------------------------------------------------

describe('a LINE citizen reaches staff in Teams', () => {
  it('the whole loop: ticket card, claim, relay both ways, close, back to the bot', async () => {
    await registerStaffChannel();
    const user = lineUserId();
    const events: LineEvent[] = [];
    const send = (e: LineEvent) => {
      events.push(e);
      return e;
    };

    // The citizen asks for a person during office hours.
    const asked = await citizen(send(ev.text(user, '担当者と話したい')));
    const ticket = await onlyTicket();
    expect(asked).toContain(ja.handoff.requested.replace('{{ticket}}', ticket.id));
    expect(asked).toContain(ja.handoff.soon);
    expect(asked).toContain('044-200-3691');

    // An Adaptive Card in the staff channel: what staff need to triage, nothing personal.
    const card = await nthCard(1);
    expect(card.id).toBe(ticket.card?.activityId);
    expect(ticket.card?.conversationId).toBe(CHANNEL);
    const shown = shownText(card.activity);
    expect(shown).toContain(JA['card.title'].replace('{{id}}', ticket.id));
    expect(shown).toContain(`${JA['card.reason']}: ${JA['reason.requested']}`);
    expect(shown).toContain(`${JA['card.priority']}: ${JA['priority.normal']}`);
    expect(shown).toContain(`${JA['card.language']}: ${JA['language.ja']}`);
    expect(shown).toContain(`${JA['card.status']}: ${JA['status.open']}`);
    expect(buttonsOf(card.activity).map((b) => b.data)).toEqual([
      { staff: 'claim', ticketId: ticket.id },
      { staff: 'close', ticketId: ticket.id },
      { staff: 'forward', ticketId: ticket.id, desk: 'contact_center' },
    ]);
    const raw = JSON.stringify(card.activity);
    expect(raw).not.toContain(user);
    expect(raw).not.toContain('担当者と話したい');

    // A staff member taps Claim on the card.
    const thread = { channel: CHANNEL, root: card.id! };
    const claim = submit(SUZUKI, thread, { staff: 'claim', ticketId: ticket.id });
    const claimed = await teams(claim);
    expect(claimed.map((c) => c.activity.text).join('\n')).toContain(`${SUZUKI.name}さんがチケット ${ticket.id} を担当します`);
    expect(claimed[0]?.conversationId).toBe(`${CHANNEL};messageid=${card.id}`);
    // The card is updated in place and shows who has it.
    await expect.poll(() => e2e.connector.updates(card.id).length).toBe(1);
    const update = e2e.connector.updates(card.id)[0]!;
    expect(update.conversationId).toBe(CHANNEL);
    expect(shownText(update.activity)).toContain(JA['status.claimed'].replace('{{name}}', SUZUKI.name).replace('{{time}}', '2026-11-24 10:00'));
    expect(buttonsOf(update.activity).map((b) => b.data)).toEqual([
      { staff: 'close', ticketId: ticket.id },
      { staff: 'forward', ticketId: ticket.id, desk: 'contact_center' },
    ]);
    // The citizen hears that someone joined, by push.
    const joined = await pushed(user, ja.handoff.joined);
    expect(joined.retryKey).toMatch(UUID);
    expect(joined.messages.at(-1)?.quickReply?.items.map((i) => i.action.label)).toContain(ja.handoff.endButton);

    // What the citizen writes now goes into the card's thread, and the bot says nothing.
    const before = lineCallsAbout(user, events).length;
    const parking = send(ev.text(user, '駐車場の件です'));
    await citizenQuiet(parking);
    const threadId = `${CHANNEL};messageid=${card.id}`;
    await expect.poll(() => e2e.connector.posts(threadId).filter((c) => c.activity.text?.includes('駐車場の件です')).length).toBe(1);
    const relay = e2e.connector.posts(threadId).find((c) => c.activity.text?.includes('駐車場の件です'))!;
    expect(relay.activity.text).toBe(JA.citizenSaid.replace('{{text}}', '駐車場の件です'));
    expect(relay.activity.textFormat).toBe('plain');
    expect(relay.activityId).toBeUndefined(); // a new message in the thread
    expect(repliesTo(parking)).toHaveLength(0);
    expect(lineCallsAbout(user, events)).toHaveLength(before);

    // Staff answer in the thread: pushed to the citizen once, even when Teams redelivers.
    const answer = typed(SUZUKI, thread, '担当の鈴木です');
    expect(await teams(answer)).toEqual([]); // delivered: the bot stays quiet in Teams
    const staffSays = ja.handoff.staffSays.replace('{{text}}', '担当の鈴木です');
    const delivered = await pushed(user, staffSays);
    expect(delivered.retryKey).toMatch(UUID);
    expect(await teams(answer)).toEqual([]); // the same activity id again
    expect(await teams({ ...answer })).toEqual([]);
    const staffPushes = e2e.line.sent().filter((c) => c.kind === 'push' && textOf(c).includes(staffSays));
    expect(staffPushes).toHaveLength(1);
    expect(staffPushes[0]!.status).toBe(200);
    expect(pushesTo(user).filter((c) => c.retryKey === delivered.retryKey)).toHaveLength(1);

    // Staff close in the thread: the card says Closed, the citizen is told and gets the menu.
    const close = typed(SUZUKI, thread, 'close');
    expect(await teamsSays(close)).toContain(JA.closedNow.replace('{{name}}', SUZUKI.name).replace('{{id}}', ticket.id));
    await expect.poll(() => e2e.connector.updates(card.id).length).toBe(2);
    const closedCard = e2e.connector.updates(card.id).at(-1)!;
    expect(shownText(closedCard.activity)).toContain(JA['status.closed'].replace('{{name}}', SUZUKI.name).replace('{{time}}', '2026-11-24 10:00'));
    expect(buttonsOf(closedCard.activity)).toEqual([]);
    const ended = await pushed(user, ja.handoff.ended);
    expect(ended.messages.at(-1)?.quickReply?.items.map((i) => i.action.label)).toEqual(expect.arrayContaining([ja.menu.book, ja.menu.human]));
    expect((await e2e.running.app.store.tickets.get(ticket.id))?.status).toBe('closed');
    expect(await e2e.running.app.store.tickets.listOpen()).toEqual([]);

    // The bot answers the citizen again.
    expect(await citizen(send(ev.text(user, '予約する')))).toContain(ja.booking.modePrompt);

    // Through all of it, no personal data in the logs.
    const logs = e2e.running.logs.join('\n');
    for (const personal of [user, '駐車場', '担当の鈴木です', SUZUKI.name, SUZUKI.aadObjectId]) expect(logs).not.toContain(personal);
  });

  it('two staff claim at once: exactly one wins, the other is told who has it, the citizen is told once', async () => {
    await registerStaffChannel();
    const user = lineUserId();
    await citizen(ev.text(user, '担当者と話したい'));
    const card = await nthCard(1);
    const ticket = await onlyTicket();
    const thread = { channel: CHANNEL, root: card.id! };

    const a = submit(SUZUKI, thread, { staff: 'claim', ticketId: ticket.id });
    const b = submit(TANAKA, thread, { staff: 'claim', ticketId: ticket.id });
    const [ra, rb] = await Promise.all([postActivity(a), postActivity(b)]);
    expect([ra.status, rb.status]).toEqual([200, 200]);

    const stored = await e2e.running.app.store.tickets.get(ticket.id);
    expect(stored?.status).toBe('claimed');
    const winner = stored!.claimedBy!.id === SUZUKI.aadObjectId ? SUZUKI : TANAKA;
    expect(stored!.claimedBy).toEqual({ id: winner.aadObjectId, name: winner.name });
    const [won, lost] = winner === SUZUKI ? [a, b] : [b, a];
    const wonText = e2e.connector.repliesTo(won.id).map((c) => c.activity.text).join('\n');
    const lostText = e2e.connector.repliesTo(lost.id).map((c) => c.activity.text).join('\n');
    expect(wonText).toContain(`${winner.name}さんがチケット ${ticket.id} を担当します`);
    expect(lostText).toContain(JA.taken.replace('{{id}}', ticket.id).replace('{{name}}', winner.name).replace('{{time}}', '2026-11-24 10:00'));

    // One card update, one message to the citizen.
    await expect.poll(() => e2e.connector.updates(card.id).length).toBe(1);
    expect(shownText(e2e.connector.updates(card.id)[0]!.activity)).toContain(`${winner.name}さんが担当`);
    await pushed(user, ja.handoff.joined);
    // Give a (wrong) second notice every chance to arrive before counting.
    await teams(typed(winner, { channel: CHANNEL }, 'queue'));
    expect(pushesTo(user).filter((c) => textOf(c).includes(ja.handoff.joined))).toHaveLength(1);
    expect(e2e.connector.updates(card.id)).toHaveLength(1);
  });
});

describe('office hours', () => {
  it('outside office hours the citizen is told when staff will answer, and the card is posted anyway', async () => {
    clock.set('2026-11-27T19:30:00+09:00'); // Friday night
    await registerStaffChannel();
    const user = lineUserId();
    const said = await citizen(ev.text(user, '担当者と話したい'));
    const ticket = await onlyTicket();
    expect(said).toContain(ja.handoff.requested.replace('{{ticket}}', ticket.id));
    expect(said).toContain(ja.handoff.later.replace('{{next}}', '11月30日(月) 9:00'));
    expect(said).not.toContain(ja.handoff.soon);

    const card = await nthCard(1);
    expect(card.id).toBe(ticket.card?.activityId);
    const shown = shownText(card.activity);
    expect(shown).toContain(`${JA['card.status']}: ${JA['status.open']}`);
    expect(shown).toContain('2026-11-27 19:30');
    expect(ticket.status).toBe('open');
  });
});

describe('who is staff', () => {
  it('refuses a staff command from another team; the logs carry no personal data', async () => {
    await registerStaffChannel();
    const user = lineUserId();
    // A citizen writes something personal, then asks for a person.
    const personal = '山田太郎です 090-9876-5432';
    expect(await citizen(ev.text(user, personal))).toContain(ja.inquiry.consentPrompt);
    await citizen(ev.text(user, '担当者と話したい'));
    await nthCard(1);

    const other = { team: OTHER_TEAM, channel: OTHER_CHANNEL };
    const command = typed(OUTSIDER, other, 'queue');
    const replies = await teams(command);
    const answer = replies.map((c) => shownText(c.activity)).join('\n');
    expect(answer).toContain(JA.refused);
    expect(answer).not.toContain(JA['queue.title'].split('{{')[0]!);
    expect(replies.every((c) => c.conversationId.startsWith(OTHER_CHANNEL))).toBe(true);

    const refused = e2e.running.logs.find((l) => l.includes('teams.refused'));
    expect(refused).toBeDefined();
    expect(refused).toContain(OTHER_TEAM);
    const logs = e2e.running.logs.join('\n');
    for (const secret of [user, personal, '山田', '太郎', '090-9876-5432', '09098765432', '担当者と話したい', OUTSIDER.name, OUTSIDER.aadObjectId, OUTSIDER.id]) {
      expect(logs).not.toContain(secret);
    }
  });
});

describe('a broken staff channel', () => {
  it('Teams answering 403: the citizen is still answered, the ticket waits, /readyz shows it, a log line records it', async () => {
    await registerStaffChannel();
    e2e.connector.fail(CHANNEL, 403);
    const user = lineUserId();
    const said = await citizen(ev.text(user, '担当者と話したい'));
    const [ticket] = await e2e.running.app.store.tickets.listOpen();
    expect(ticket).toBeDefined();
    expect(ticket!.status).toBe('open');
    expect(ticket!.card).toBeUndefined();
    expect(said).toContain(ja.handoff.requested.replace('{{ticket}}', ticket!.id));
    expect(said).toContain(ja.handoff.soon);

    // Teams was asked and refused; nothing was posted.
    expect(e2e.connector.calls().filter((c) => c.status === 403).length).toBeGreaterThan(0);
    expect(cardsPosted()).toHaveLength(0);

    const ready = await fetch(`${e2e.running.url}/readyz`);
    expect(ready.status).toBe(200);
    const body = (await ready.json()) as { status: string; staffChannel: string; notifiers: Record<string, string> };
    expect(body.status).toBe('ok');
    expect(body.staffChannel).toBe('broken:403');
    expect(body.notifiers.teams).toBe('failing');

    const line403 = e2e.running.logs.find((l) => l.includes('teams.staff_channel_broken'));
    expect(line403).toBeDefined();
    expect(line403).toContain('403');
    expect(line403).toContain(ticket!.id);
    expect(e2e.running.logs.join('\n')).not.toContain(user);
  });
});

describe('proxy booking from Teams', () => {
  /** One agent's personal chat with the bot, tapping card buttons by their title; every step gets an answer. */
  const agentChat = (agent: Member) => personalChat(agent, e2e, teams, { expectReplies: true });

  async function walkToSummary(chat: ReturnType<typeof agentChat>, time: string | RegExp, contact: { name: string; phone: string; email: string }) {
    expect(await chat.type('メニュー')).toContain(ja.menu.prompt);
    expect(await chat.tap(ja.menu.book)).toContain(ja.booking.modePrompt);
    await chat.tap(ja.booking.mode.in_person);
    for (let i = 0; i < 5; i++) await chat.tap(ja.booking.answer.yes);
    await chat.tap(/^12\/8/);
    await chat.tap(time);
    expect(await chat.tap(ja.booking.agree)).toContain(ja.booking.namePrompt);
    expect(await chat.type(contact.name)).toContain(ja.booking.phonePrompt);
    expect(await chat.type(contact.phone)).toContain(ja.booking.emailPrompt);
    expect(await chat.type(contact.email)).toContain(ja.booking.summaryTitle);
  }

  it('an agent books for a phone caller; a second booking for that phone in the same session is refused', async () => {
    const caller = { name: '川崎 太郎', phone: '090-1111-2222', email: 'taro@example.jp' };
    const suzuki = agentChat(SUZUKI);
    await walkToSummary(suzuki, '9:30', caller);
    expect(suzuki.shown()).toContain(caller.name);
    const done = await suzuki.tap(ja.booking.confirm);
    expect(done).toContain(ja.booking.confirmedTitle);
    const reference = done.match(REFERENCE)?.[0];
    expect(reference).toBeDefined();

    const bookings = await e2e.running.app.store.bookings.listSession(SESSION_ID);
    expect(bookings).toHaveLength(1);
    expect(bookings[0]).toMatchObject({
      id: reference,
      slotId: '0930',
      mode: 'in_person',
      userKey: 'phone:09011112222',
      bookedBy: { id: SUZUKI.aadObjectId, name: SUZUKI.name },
      contact: { name: caller.name, phone: '09011112222', email: caller.email },
    });

    // Another agent takes a call from the same person for the same session: refused.
    const tanaka = agentChat(TANAKA);
    await walkToSummary(tanaka, /^1\d:\d{2}$/, caller);
    expect(await tanaka.tap(ja.booking.confirm)).toContain(ja.booking.alreadyBooked);
    expect(await e2e.running.app.store.bookings.listSession(SESSION_ID)).toHaveLength(1);

    // The caller's details went to Teams, not to the logs.
    const logs = e2e.running.logs.join('\n');
    for (const secret of [caller.name, '川崎', caller.phone, '09011112222', caller.email, SUZUKI.name]) expect(logs).not.toContain(secret);
  });
});

describe('an English-speaking citizen', () => {
  it('switches to English, asks for a person: the card says English, the citizen hears English', async () => {
    await registerStaffChannel();
    const user = lineUserId();
    expect(await citizen(ev.text(user, 'language'))).toContain(ja.languagePrompt);
    expect(await citizen(ev.text(user, 'English'))).toContain(en.languageChanged);
    const said = await citizen(ev.text(user, 'talk to staff'));
    const ticket = await onlyTicket();
    expect(ticket.locale).toBe('en');
    expect(said).toContain(en.handoff.requested.replace('{{ticket}}', ticket.id));
    expect(said).toContain(en.handoff.soon);
    expect(said).toContain('Kawasaki City Citizen Ombudsman Office');
    expect(said).not.toContain(ja.handoff.soon);

    const card = await nthCard(1);
    expect(shownText(card.activity)).toContain(`${JA['card.language']}: ${JA['language.en']}`);
    expect(JSON.stringify(card.activity)).not.toContain(user);

    // Staff join and write: the bot's own words to the citizen stay English.
    const thread = { channel: CHANNEL, root: card.id! };
    await teams(submit(SUZUKI, thread, { staff: 'claim', ticketId: ticket.id }));
    const joined = await pushed(user, en.handoff.joined);
    expect(textOf(joined)).not.toContain(ja.handoff.joined);
    await teams(typed(SUZUKI, thread, 'Hello, how can I help?'));
    await pushed(user, en.handoff.staffSays.replace('{{text}}', 'Hello, how can I help?'));
    await teams(typed(SUZUKI, thread, 'close'));
    const ended = await pushed(user, en.handoff.ended);
    expect(ended.messages.at(-1)?.quickReply?.items.map((i) => i.action.label)).toContain(en.menu.book);
  });
});

describe('a long staff reply, with Markdown and emoji', () => {
  const FAMILY = '👨‍👩‍👧';
  const FLAG = '🇯🇵';

  /** A citizen on LINE talking with SUZUKI through a claimed ticket's thread. */
  async function claimedThread() {
    await registerStaffChannel();
    const user = lineUserId();
    await citizen(ev.text(user, '担当者と話したい'));
    const card = await nthCard(1);
    const ticket = await onlyTicket();
    const thread = { channel: CHANNEL, root: card.id! };
    await teams(submit(SUZUKI, thread, { staff: 'claim', ticketId: ticket.id }));
    await pushed(user, ja.handoff.joined);
    return { user, thread, pushesSoFar: pushesTo(user).length };
  }

  /** Paragraph `i` of a staff reply as typed in Teams (Markdown), and as the citizen must read it. */
  function paragraph(i: number, sentences: number): { typed: string; plain: string } {
    const body = Array.from({ length: sentences }, (_, j) => `${i}-${j}：ご相談の件について確認した内容をお知らせします${FAMILY}${FLAG}。`).join('');
    return {
      typed: `**第${i}部**\n${body} 詳しくは[市のページ](https://www.city.kawasaki.jp/)をご覧ください。`,
      plain: `第${i}部\n${body} 詳しくは市のページ (https://www.city.kawasaki.jp/)をご覧ください。`,
    };
  }

  /**
   * Fails unless the staff reply went as valid LINE calls: at most 5 messages a call, texts
   * within 5,000 UTF-16 units and without half a surrogate pair, and the End button as the
   * last message's quick reply (and nothing but it in a message that is not a text).
   */
  function expectValidLineCalls(calls: SentCall[]): void {
    for (const call of calls) expect(call.messages.length).toBeLessThanOrEqual(5);
    const messages = calls.flatMap((c) => c.messages);
    for (const m of messages) {
      if (m.type !== 'text') {
        expect(m).toBe(messages.at(-1));
        expect(JSON.stringify(m.contents)).toContain(ja.handoff.endButton);
        continue;
      }
      expect(m.text!.length).toBeLessThanOrEqual(5000);
      expect(m.text).not.toMatch(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/);
    }
    expect(messages.at(-1)!.quickReply?.items.map((i) => i.action.label)).toEqual([ja.handoff.endButton]);
  }

  /** The staff reply's words as the citizen got them, labels taken off, whitespace aside. */
  function wordsOf(calls: SentCall[]): string {
    const texts = calls.flatMap((c) => c.messages.filter((m) => m.type === 'text').map((m) => m.text ?? ''));
    const label = (i: number) => ja.handoff.staffSaysPart.replace('{{part}}', String(i + 1)).replace('{{parts}}', String(texts.length)).replace('{{text}}', '');
    return texts.map((text, i) => (text.startsWith(label(i)) ? text.slice(label(i).length) : `NO LABEL: ${text}`)).join('').replace(/\s+/g, '');
  }

  it('6,000 characters arrive on LINE as valid texts, the whole reply in order, and staff are told nothing extra', async () => {
    const { user, thread, pushesSoFar } = await claimedThread();
    const paragraphs = Array.from({ length: 6 }, (_, i) => paragraph(i + 1, 24));
    const typedText = paragraphs.map((p) => p.typed).join('\n\n');
    expect(typedText.length).toBeGreaterThanOrEqual(6000);

    const reply = typed(SUZUKI, thread, typedText);
    expect(await teams(reply)).toEqual([]);
    await e2e.line.waitFor(() => pushesTo(user).length > pushesSoFar);
    const calls = pushesTo(user).slice(pushesSoFar);
    expect(calls.every((c) => c.status === 200)).toBe(true);
    expectValidLineCalls(calls);
    expect(calls.flatMap((c) => c.messages).filter((m) => m.type === 'text').length).toBeGreaterThan(1);
    expect(wordsOf(calls)).toBe(paragraphs.map((p) => p.plain).join('').replace(/\s+/g, ''));
    expect(wordsOf(calls).split(FAMILY)).toHaveLength(6 * 24 + 1);
    expect(textOf(calls[0]!)).not.toContain('**');
  });

  it('30,000 characters are shortened to what LINE takes in one push, and the staff member is told how much went and where the rest starts', async () => {
    const { user, thread, pushesSoFar } = await claimedThread();
    const paragraphs = Array.from({ length: 35 }, (_, i) => paragraph(i + 1, 20));
    const typedText = paragraphs.map((p) => p.typed).join('\n\n');
    expect(typedText.length).toBeGreaterThanOrEqual(30_000);

    const told = await teamsSays(typed(SUZUKI, thread, typedText));
    await e2e.line.waitFor(() => pushesTo(user).length > pushesSoFar);
    const calls = pushesTo(user).slice(pushesSoFar);
    expect(calls).toHaveLength(1);
    expect(calls[0]!.messages.filter((m) => m.type === 'text')).toHaveLength(4);
    expectValidLineCalls(calls);
    const words = wordsOf(calls).replace(/…$/, '');
    const whole = paragraphs.map((p) => p.plain).join('').replace(/\s+/g, '');
    expect(whole.startsWith(words)).toBe(true);
    expect(words.length).toBeLessThan(whole.length);

    // Staff read how much of how much went, and where the rest starts.
    const template = JA.relayShortened.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/\\\{\\\{(\w+)\\\}\\\}/g, (_, name: string) => `(?<${name}>${name === 'from' ? '[^」]*' : '\\d+'})`);
    const groups = new RegExp(template).exec(told)?.groups;
    expect(groups, told).toBeDefined();
    const [sent, total] = [Number(groups!.sent), Number(groups!.total)];
    const plain = paragraphs.map((p) => p.plain).join('\n\n');
    expect(total).toBe([...new Intl.Segmenter(undefined, { granularity: 'grapheme' }).segment(plain)].length);
    expect(sent).toBeGreaterThan(10_000);
    expect(sent).toBeLessThan(total);
    // The rest starts where the citizen's last text stopped: at a paragraph of its own.
    expect(groups!.from).toMatch(/^第\d+部/);
    expect(plain.slice(plain.indexOf(groups!.from!)).replace(/\s+/g, '').length + words.length).toBe(whole.length);
  });
});
