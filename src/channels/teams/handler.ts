/**
 * What the bot does with each Teams activity:
 *
 * - not staff (another team, another tenant) → a polite refusal, logged without personal data;
 * - the bot installed in a channel of the staff team → that channel receives the office's
 *   ticket cards; in the contact center's team → the contact center's cards;
 * - a ticket card's button (Claim, Close, Forward, "send this answer") → the staff desk,
 *   answered in the card's thread;
 * - a message in a ticket card's thread → relayed to the citizen (or `close`);
 * - a staff command (`queue`, `triage`, `claim <id>`, `unanswered`, `cancel <reference>`, …)
 *   in a staff team → answered;
 * - the Confirm button of a booking cancellation → the staff desk cancels it;
 * - anything else → the channel-neutral dialogs, as the agent (proxy booking for a caller).
 *
 * Each activity is handled once: dialog turns are deduplicated by the engine on
 * `teams:<activity id>`, everything else here on the same key (Teams redelivers slow turns).
 */
import { DateTime } from 'luxon';
import { type Agent, type Desk, type Ticket, ZONE } from '../../domain.ts';
import { clip, graphemeCount } from '../../graphemes.ts';
import type { Input } from '../../turn.ts';
import { errorFields, type Logger, pseudonym } from '../../log.ts';
import type { KnowledgeEntry } from '../../services/knowledge.ts';
import type { AnswerResult, ForwardResult, RecategoriseResult, StaffDesk } from '../../services/staff.ts';
import type { RunTurn } from '../../staffDesk.ts';
import type { ChannelStore, DedupeStore, TicketTransition } from '../../stores/ports.ts';
import {
  activitySchema,
  agentOf,
  baseConversationId,
  cleanText,
  type ClosingOutcome,
  deskOfTeam,
  dialogSubmitSchema,
  executeSchema,
  parseCommand,
  type StaffCommand,
  type StaffList,
  type StaffScope,
  staffScope,
  type StaffSubmitData,
  staffSubmitSchema,
  storedReferenceSchema,
  type TeamsActivity,
  teamOf,
  tenantOf,
  threadRoot,
} from './activity.ts';
import {
  auditMessage,
  bookingsMessage,
  cancelConfirmCard,
  cancelledText,
  fitted,
  jst,
  type Outgoing,
  queueMessage,
  renderReplies,
  statsMessage,
  triageMessage,
  unansweredMessage,
} from './cards.ts';
import { plainText } from './markdown.ts';
import { CONTACT_CENTER_CHANNEL, channelOfDesk, STAFF_CHANNEL } from './notifier.ts';
import { phrase, type StaffTextKey, staffLocale, type StaffLocale } from './text.ts';
import type { InboundTurn } from './transport.ts';

/** A registered reference is rewritten at most this often when nothing about it changed. */
const REFRESH_EVERY_MS = 60 * 60_000;

export interface TurnHandlerOptions {
  /** Runs the dialogs staff use themselves (proxy booking). */
  runTurn: RunTurn;
  desk: StaffDesk;
  /** A knowledge-base entry by id: titles of the answers agents send and of the report's rows. */
  entry: (id: string) => KnowledgeEntry | undefined;
  dedupe: DedupeStore;
  dedupeTtlMs: number;
  channels: ChannelStore;
  log: Logger;
  now: () => number;
  staffTeamId?: string | undefined;
  staffTenantId?: string | undefined;
  contactCenterTeamId?: string | undefined;
  /** Staff text language when Teams does not say the user's. */
  locale: StaffLocale;
}

/** What the HTTP request of an activity adds to it. */
export interface RequestContext {
  /** A fresh signed link to the unanswered-questions CSV for staff member `staffId`, where their browser reaches the bot. */
  reportUrl: (staffId: string) => string;
  /** The same for the CSV of a date's or session's bookings. */
  bookingsUrl: (staffId: string, target: string) => string;
}

/** Everything one activity's handling needs to know about it. */
interface Turn {
  io: InboundTurn;
  a: TeamsActivity;
  locale: StaffLocale;
  request: RequestContext;
}

function text(t: Turn, key: StaffTextKey, params?: Record<string, string | number>): Outgoing[] {
  return [{ kind: 'text', text: phrase(t.locale, key, params) }];
}

/** Handles Teams activities for one process. Never throws: the SDK would log raw errors. */
export class TeamsTurnHandler {
  private readonly opts: TurnHandlerOptions;

  constructor(opts: TurnHandlerOptions) {
    this.opts = opts;
  }

  async handle(io: InboundTurn, request: RequestContext): Promise<void> {
    const { log } = this.opts;
    const parsed = activitySchema.safeParse(io.activity);
    if (!parsed.success) {
      log.warn('teams.activity_ignored', { reason: 'unexpected_shape' });
      return;
    }
    const a = parsed.data;
    const t: Turn = { io, a, locale: staffLocale(a.locale, this.opts.locale), request };
    try {
      if (a.type === 'message') await this.onMessage(t);
      else if (a.type === 'conversationUpdate') await this.onConversationUpdate(t);
      else if (a.type === 'invoke' && a.name === 'adaptiveCard/action') await this.onExecute(t);
    } catch (err) {
      log.error('teams.turn_failed', { type: a.type, ...errorFields(err) });
      if (a.type === 'message') await io.send(text(t, 'failed')).catch(() => undefined);
    }
  }

  // ---- routing -------------------------------------------------------------------------

  private async onMessage(t: Turn): Promise<void> {
    const { a, io } = t;
    const scope = staffScope(a, this.opts);
    if (!scope) {
      await io.send(await this.once(a, () => this.refuse(t)));
      return;
    }
    const agent = agentOf(a);
    const inStaffTeam = scope === 'team' && a.conversation.conversationType === 'channel';
    if (inStaffTeam) await this.refresh(t);

    if (a.value !== undefined && a.value !== null) {
      const staff = staffSubmitSchema.safeParse(a.value);
      if (staff.success) {
        await io.send(await this.once(a, async () => (inStaffTeam ? this.staffButton(t, staff.data, agent) : text(t, 'staffButtonsInChannel'))));
        return;
      }
      const choice = dialogSubmitSchema.safeParse(a.value);
      if (choice.success) {
        await this.dialog(t, scope, agent, { kind: 'action', data: choice.data.action });
        return;
      }
      this.opts.log.warn('teams.submit_rejected', { scope });
      await io.send(await this.once(a, async () => text(t, 'badButton')));
      return;
    }

    const typed = cleanText(io.textWithoutMention());
    if (inStaffTeam) {
      const root = threadRoot(a.conversation.id);
      const ticket = root && root !== a.id ? await this.opts.desk.ticketOfCard(root) : null;
      if (ticket) {
        await io.send(await this.once(a, () => this.inThread(t, ticket, typed, agent)));
        return;
      }
    }
    const command = parseCommand(typed);
    if (command && inStaffTeam) {
      await io.send(await this.once(a, () => this.command(t, command, agent)));
      return;
    }
    // In a personal chat the menus are the dialogs' (their own help); staff commands are the team's.
    if (command && command.name !== 'help') {
      await io.send(await this.once(a, async () => text(t, 'staffCommandsInChannel')));
      return;
    }
    // Nothing typed (a file, a sticker, a bare mention): the dialogs' "text only, please".
    await this.dialog(t, scope, agent, typed ? { kind: 'text', text: typed } : { kind: 'unsupported' });
  }

  private async onConversationUpdate(t: Turn): Promise<void> {
    const { a, io } = t;
    const bot = a.recipient.id;
    const added = (a.membersAdded ?? []).some((m) => m.id === bot);
    const removed = (a.membersRemoved ?? []).some((m) => m.id === bot);
    if (!added && !removed) return;
    const scope = staffScope(a, this.opts);
    if (added) {
      if (scope === 'team' && a.conversation.conversationType === 'channel') {
        const desk = deskOfTeam(a, this.opts);
        await io.send(
          await this.once(a, async () => {
            await this.register(t, desk, 'install');
            return text(t, desk === 'contact_center' ? 'installedContact' : 'installed');
          }),
        );
      } else if (scope === 'personal') {
        // A staff member added the bot to a personal chat: greet with the menu, as a citizen is greeted.
        await this.dialog(t, scope, agentOf(a), { kind: 'follow' });
      } else {
        this.opts.log.warn('teams.install_outside_staff', { team: teamOf(a), tenant: tenantOf(a), conversationType: a.conversation.conversationType ?? undefined });
        // Installed by someone outside the staff team: say politely, once, that the bot is not for them.
        if (!scope) await io.send(await this.once(a, async () => text(t, 'refused')));
      }
    }
    if (removed && scope === 'team') {
      // Removed from a team: every channel of it is out of reach. The contact center's own
      // team holds only its channel; the staff team may hold both (`register contact` there).
      const { contactCenterTeamId, staffTeamId } = this.opts;
      const ownTeam = contactCenterTeamId !== undefined && contactCenterTeamId !== staffTeamId;
      const names = deskOfTeam(a, this.opts) === 'contact_center' ? [CONTACT_CENTER_CHANNEL] : ownTeam ? [STAFF_CHANNEL] : [STAFF_CHANNEL, CONTACT_CENTER_CHANNEL];
      for (const name of names) {
        const record = await this.opts.channels.get(name);
        if (!record) continue;
        await this.opts.channels.put(name, { ...record, status: 'broken', reason: 'removed', updatedAt: this.iso() });
        this.opts.log.error('teams.staff_channel_broken', { op: 'removed_from_team', channel: name, team: teamOf(a) });
      }
    }
  }

  /** Action.Execute (Universal Actions): the same staff buttons, answered in the invoke response. */
  private async onExecute(t: Turn): Promise<void> {
    const { a, io } = t;
    const scope = staffScope(a, this.opts);
    const execute = executeSchema.safeParse(a.value);
    const staff = staffSubmitSchema.safeParse(execute.success ? execute.data.action.data : undefined);
    let answer: Outgoing[];
    if (!scope) answer = await this.once(a, () => this.refuse(t));
    else if (!staff.success) answer = text(t, 'badButton');
    else if (scope !== 'team' || a.conversation.conversationType !== 'channel') answer = text(t, 'staffButtonsInChannel');
    else answer = await this.once(a, () => this.staffButton(t, staff.data, agentOf(a)));
    const message = answer.map((m) => (m.kind === 'text' ? m.text : m.summary)).join('\n');
    await io.respondToInvoke(200, { statusCode: 200, type: 'application/vnd.microsoft.activity.message', value: message });
  }

  // ---- staff work ----------------------------------------------------------------------

  private async refuse(t: Turn): Promise<Outgoing[]> {
    const { a } = t;
    this.opts.log.warn('teams.refused', {
      team: teamOf(a),
      tenant: tenantOf(a),
      conversationType: a.conversation.conversationType ?? undefined,
      user: pseudonym(a.from.aadObjectId || a.from.id),
    });
    return text(t, 'refused');
  }

  private async command(t: Turn, command: StaffCommand, agent: Agent): Promise<Outgoing[]> {
    const { desk, log } = this.opts;
    log.info('teams.staff_command', { command: command.name, agent: pseudonym(agent.id) });
    switch (command.name) {
      case 'help':
        return text(t, 'help');
      case 'register':
        await this.register(t, command.desk, 'command');
        return text(t, command.desk === 'contact_center' ? 'registeredContact' : 'registered');
      case 'queue':
      case 'triage':
      case 'unanswered':
        return this.list(t, command.name, agent);
      case 'claim':
        if (!command.ticketId) return text(t, 'usage.claim');
        return this.ticketAction(t, 'claim', command.ticketId, agent);
      case 'close':
        if (!command.ticketId) return text(t, 'usage.close');
        return this.ticketAction(t, 'close', command.ticketId, agent, command.outcome);
      case 'forward':
        if (!command.ticketId || !command.desk) return text(t, 'usage.forward');
        return this.forward(t, command.ticketId, command.desk, agent);
      case 'category':
        if (!command.ticketId || !command.category) return text(t, 'usage.category', { categories: desk.categories().join(', ') });
        return this.recategorise(t, command.ticketId, command.category, agent);
      case 'today':
        return (await this.bookings(t, this.today().toISODate()!, agent)) ?? text(t, 'usage.bookings');
      case 'bookings':
        return (command.target ? await this.bookings(t, command.target, agent) : undefined) ?? text(t, 'usage.bookings');
      case 'audit':
        return [auditMessage(await desk.recentAudit(command.count, agent.id), t.locale)];
      case 'attendance': {
        if (!command.reference) return text(t, 'usage.attendance');
        const marked = await desk.markAttendance(command.reference, command.status, agent, this.today());
        if (!marked) return text(t, 'cancel.notFound', { reference: command.reference });
        return text(t, command.status === 'attended' ? 'attendance.attended' : 'attendance.noShow', { reference: marked.id });
      }
      case 'link': {
        if (!command.sessionId || !command.url) return text(t, 'usage.link');
        if (!(await desk.setMeetingLink(command.sessionId, command.url, agent, command.slotId))) return text(t, 'usage.link');
        return text(t, 'link.set', { session: command.slotId ? `${command.sessionId} ${command.slotId}` : command.sessionId });
      }
      case 'stats': {
        const rows = command.target ? await desk.stats(command.target) : [];
        if (!command.target || rows.length === 0) return text(t, 'usage.stats');
        return [statsMessage(rows, t.locale)];
      }
      case 'cancel': {
        // Only shows the booking: cancelling is the Confirm button's, so that a mistyped
        // reference that happens to exist cannot take someone's appointment away.
        const found = await desk.findBooking(command.reference, agent.id, this.today());
        log.info('teams.booking_lookup', { found: found !== null });
        if (!found) return text(t, 'cancel.notFound', { reference: command.reference });
        return [cancelConfirmCard(found, t.locale)];
      }
    }
  }

  /**
   * A list of `queue`, `triage` or `unanswered`, from row `offset` (its "more" button asks
   * for the next page, read again: the list may have changed in between).
   */
  private async list(t: Turn, list: Exclude<StaffList, 'bookings'>, agent: Agent, offset = 0): Promise<Outgoing[]> {
    const { desk, log, now } = this.opts;
    if (list === 'queue') return [queueMessage(await desk.queue(), now(), t.locale, offset)];
    if (list === 'triage') return [triageMessage(await desk.triage(agent.id), now(), t.locale, offset)];
    const report = await desk.unanswered(agent.id, 'listed');
    log.info('teams.unanswered_listed', { questions: report.total, groups: report.groups.length });
    return [unansweredMessage(report, (id) => this.title(t, id), t.request.reportUrl(agent.id), t.locale, offset)];
  }

  /**
   * The bookings of a date (YYYY-MM-DD) or a session id, from row `offset`, with their CSV
   * link; undefined when `target` is neither. Each page is a read of personal data, audited.
   */
  private async bookings(t: Turn, target: string, agent: Agent, offset = 0): Promise<Outgoing[] | undefined> {
    const { desk, log } = this.opts;
    const today = this.today().toISODate()!;
    const isDate = /^\d{4}-\d{2}-\d{2}$/.test(target) && DateTime.fromISO(target, { zone: ZONE }).isValid;
    if (!isDate && !/^[\w-]{1,64}$/.test(target)) return undefined;
    const bookings = isDate ? await desk.bookingsOn(target, agent.id) : await desk.bookingsOf(target, agent.id);
    log.info('teams.bookings_listed', { scope: target === today ? 'today' : isDate ? 'date' : 'session', count: bookings.length });
    const what = target === today ? phrase(t.locale, 'bookings.today', { date: today }) : target;
    const invited = await desk.invitations(bookings.map((b) => b.sessionId));
    return [bookingsMessage(bookings, what, t.locale, { target, csvUrl: t.request.bookingsUrl(agent.id, target), invited, offset })];
  }

  /** A staff card button, from Action.Submit or Action.Execute. */
  private staffButton(t: Turn, data: StaffSubmitData, agent: Agent): Promise<Outgoing[]> {
    switch (data.staff) {
      case 'more':
        if (data.list !== 'bookings') return this.list(t, data.list, agent, data.offset);
        return this.bookings(t, data.target ?? '', agent, data.offset).then((page) => page ?? text(t, 'badButton'));
      case 'cancelBooking':
        return this.cancelBooking(t, data.reference, agent);
      case 'answer':
        return this.sendAnswer(t, data.ticketId, data.entryId, agent);
      case 'forward':
        return this.forward(t, data.ticketId, data.desk, agent);
      case 'claim':
        return this.ticketAction(t, 'claim', data.ticketId, agent);
      case 'close':
        return this.ticketAction(t, 'close', data.ticketId, agent, data.outcome);
    }
  }

  /** "Send this answer": the entry goes to the citizen and the ticket closes as answered. */
  private async sendAnswer(t: Turn, ticketId: string, entryId: string, agent: Agent): Promise<Outgoing[]> {
    let result: AnswerResult;
    try {
      result = await this.opts.desk.sendAnswer(ticketId, entryId, agent, this.today());
    } catch (err) {
      this.opts.log.warn('teams.answer_failed', { ticket: ticketId, ...errorFields(err) });
      return text(t, 'answerFailed');
    }
    this.opts.log.info('teams.ticket_action', { action: 'answer', ticket: ticketId, entry: entryId, agent: pseudonym(agent.id), outcome: result.ok ? 'ok' : result.reason });
    if (result.ok) return text(t, 'answered', { name: agent.name, id: ticketId, title: this.title(t, entryId) });
    if (result.reason === 'no_entry') return text(t, 'noEntry');
    return this.failure(t, result, ticketId);
  }

  private async forward(t: Turn, ticketId: string, to: Desk, agent: Agent): Promise<Outgoing[]> {
    const result: ForwardResult = await this.opts.desk.forward(ticketId, to, agent, this.today());
    this.opts.log.info('teams.ticket_action', { action: 'forward', ticket: ticketId, to, agent: pseudonym(agent.id), outcome: result.ok ? 'ok' : result.reason });
    const desk = phrase(t.locale, to === 'office' ? 'desk.office' : 'desk.contact_center');
    if (result.ok) return text(t, 'forwarded', { name: agent.name, id: ticketId, desk });
    if (result.reason === 'same_desk') return text(t, 'sameDesk', { id: ticketId, desk });
    return this.failure(t, result, ticketId);
  }

  private async recategorise(t: Turn, ticketId: string, category: string, agent: Agent): Promise<Outgoing[]> {
    const { desk } = this.opts;
    const result: RecategoriseResult = await desk.recategorise(ticketId, category, agent);
    if (result.ok) return text(t, 'recategorised', { name: agent.name, id: ticketId, category });
    if (result.reason === 'unknown_category') return text(t, 'unknownCategory', { category, categories: desk.categories().join(', ') });
    return this.failure(t, result, ticketId);
  }

  /** An entry's title in the staff language, or its id when the knowledge base no longer has it. */
  private title(t: Turn, entryId: string): string {
    return this.opts.entry(entryId)?.title[t.locale] ?? entryId;
  }

  /**
   * The Confirm of `cancel <reference>`. The holder is not messaged (a phone caller has no
   * chat to message): the answer reminds staff to phone them, with the number.
   */
  private async cancelBooking(t: Turn, reference: string, agent: Agent): Promise<Outgoing[]> {
    const booking = await this.opts.desk.cancelBooking(reference, agent, this.today());
    this.opts.log.info('teams.booking_action', { action: 'cancel', agent: pseudonym(agent.id), outcome: booking ? 'ok' : 'not_found' });
    if (!booking) return text(t, 'cancel.notFound', { reference });
    return [{ kind: 'text', text: cancelledText(booking, agent.name, t.locale) }];
  }

  /** Claim or close (with how it ended), from a card button or a command; the answer names the outcome. */
  private async ticketAction(t: Turn, action: 'claim' | 'close', ticketId: string, agent: Agent, outcome?: ClosingOutcome): Promise<Outgoing[]> {
    const now = this.today();
    const result = action === 'claim' ? await this.opts.desk.claim(ticketId, agent, now) : await this.opts.desk.close(ticketId, agent, now, outcome);
    this.opts.log.info('teams.ticket_action', { action, ticket: ticketId, agent: pseudonym(agent.id), outcome: result.ok ? 'ok' : result.reason });
    if (!result.ok) return this.failure(t, result, ticketId);
    if (action === 'close') return text(t, 'closedNow', { name: agent.name, id: ticketId });
    // Answered in the card's own thread, the relay hint can say "here".
    const inCardThread = result.ticket.card !== undefined && threadRoot(t.a.conversation.id) === result.ticket.card.activityId;
    return text(t, inCardThread ? 'claimed' : 'claimedElsewhere', { name: agent.name, id: ticketId });
  }

  private failure(t: Turn, result: Extract<TicketTransition, { ok: false }>, ticketId: string): Outgoing[] {
    switch (result.reason) {
      case 'taken':
        return text(t, 'taken', { id: ticketId, name: result.ticket?.claimedBy?.name ?? '-', time: jst(result.ticket?.claimedAt) });
      case 'closed':
        return text(t, 'alreadyClosed', { id: ticketId });
      case 'not_found':
        return text(t, 'notFound', { id: ticketId });
    }
  }

  /** A message in a ticket card's thread: `close`/`claim`, or words for the citizen. */
  private async inThread(t: Turn, ticket: Ticket, typed: string, agent: Agent): Promise<Outgoing[]> {
    const word = typed.normalize('NFKC').toLowerCase();
    if (word === 'close' || word === 'claim') return this.ticketAction(t, word, ticket.id, agent);
    if (ticket.status === 'closed') return text(t, 'ticketClosed', { id: ticket.id });
    // What the citizen reads: Teams' Markdown and HTML as plain text.
    const message = plainText(typed);
    if (!message) return text(t, 'textOnly');
    let relayed: Awaited<ReturnType<StaffDesk['reply']>>;
    try {
      relayed = await this.opts.desk.reply(ticket.id, agent, message, t.a.id ?? `${ticket.id}:${this.opts.now()}`);
    } catch (err) {
      this.opts.log.warn('teams.relay_failed', { ticket: ticket.id, ...errorFields(err) });
      return text(t, 'relayFailed');
    }
    const shortened = relayed.sent && relayed.unsent.length > 0;
    this.opts.log.info('teams.staff_message', { ticket: ticket.id, agent: pseudonym(agent.id), delivered: relayed.sent, ...(shortened ? { shortened } : {}) });
    // Delivered whole: the message in the thread is its own record, and the bot stays quiet.
    if (relayed.sent) return relayed.unsent ? this.shortened(t, message, relayed.unsent) : [];
    const now = (await this.opts.desk.get(ticket.id)) ?? ticket;
    if (now.status === 'closed') return text(t, 'ticketClosed', { id: ticket.id });
    if (now.status === 'claimed' && now.claimedBy && now.claimedBy.id !== agent.id) return text(t, 'claimedByOther', { id: ticket.id, name: now.claimedBy.name });
    return text(t, 'claimFirst', { id: ticket.id });
  }

  /** Tells staff their message was too long for the citizen's chat: how much of it went, and where the rest starts. */
  private shortened(t: Turn, message: string, unsent: string): Outgoing[] {
    const total = graphemeCount(message);
    return text(t, 'relayShortened', { sent: total - graphemeCount(unsent), total, from: clip(unsent.split('\n')[0]!, 30) });
  }

  /** A turn of the citizen dialogs, run as the agent (the dialogs know `caller.agent`). */
  private async dialog(t: Turn, scope: StaffScope, agent: Agent, input: Input): Promise<void> {
    const { a, io } = t;
    const outcome = await this.opts.runTurn({
      // One conversation per agent per chat or channel: two agents in a channel never share a booking.
      conversationKey: `teams:${baseConversationId(a.conversation.id)}:${agent.id}`,
      caller: { userKey: `teams:${agent.id}`, channel: 'teams', agent },
      ...(a.id ? { eventId: `teams:${a.id}` } : {}),
      input,
      locale: staffLocale(a.locale, 'ja'),
    });
    if (outcome.status === 'duplicate') return;
    if (outcome.status === 'failed') this.opts.log.warn('teams.dialog_failed', { scope });
    await io.send(renderReplies(outcome.replies, t.locale));
  }

  // ---- the staff channel ---------------------------------------------------------------

  /** Makes this channel the one where `desk`'s cards are posted. */
  private async register(t: Turn, desk: Desk, how: 'install' | 'command'): Promise<void> {
    const reference = t.io.reference();
    const name = channelOfDesk(desk);
    await this.opts.channels.put(name, { reference, status: 'ok', updatedAt: this.iso() });
    this.opts.log.info('teams.staff_channel_registered', { how, channel: name, team: teamOf(t.a) });
  }

  /**
   * An activity in a registered channel proves the bot can still reach it and carries the
   * current service URL: refresh the stored reference (and heal a broken mark).
   */
  private async refresh(t: Turn): Promise<void> {
    const current = t.io.reference();
    for (const name of [STAFF_CHANNEL, CONTACT_CENTER_CHANNEL]) {
      const record = await this.opts.channels.get(name);
      if (!record) continue;
      const stored = storedReferenceSchema.safeParse(record.reference);
      if (!stored.success || stored.data.conversation.id !== current.conversation.id) continue;
      const age = this.opts.now() - Date.parse(record.updatedAt);
      if (record.status === 'ok' && stored.data.serviceUrl === current.serviceUrl && age >= 0 && age < REFRESH_EVERY_MS) continue;
      await this.opts.channels.put(name, { reference: current, status: 'ok', updatedAt: this.iso() });
      if (record.status !== 'ok') this.opts.log.info('teams.staff_channel_ok', { op: 'inbound', channel: name });
    }
  }

  // ---- helpers -------------------------------------------------------------------------

  /**
   * Runs `work` once per activity id, its answer in messages Teams takes (a long text as
   * several). A failure releases the mark so that Teams' redelivery can run it again; a
   * repeat answers nothing.
   */
  private async once(a: TeamsActivity, work: () => Promise<Outgoing[]>): Promise<Outgoing[]> {
    const key = a.id ? `teams:${a.id}` : undefined;
    if (key && !(await this.opts.dedupe.claim(key, this.opts.dedupeTtlMs))) {
      this.opts.log.info('teams.duplicate', { type: a.type });
      return [];
    }
    try {
      return fitted(await work());
    } catch (err) {
      if (key) await this.opts.dedupe.release(key).catch(() => undefined);
      throw err;
    }
  }

  private today(): DateTime {
    return DateTime.fromMillis(this.opts.now(), { zone: ZONE });
  }

  private iso(): string {
    return new Date(this.opts.now()).toISOString();
  }
}
