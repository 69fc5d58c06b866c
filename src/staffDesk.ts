/**
 * What staff do with tickets, and how the citizen hears of it. Every change to a ticket is
 * an atomic store step; the card is then updated through the notifier, and the citizen is
 * told through their own conversation (a turn, so it is ordered with their messages and
 * moves their state) and reached by push. It sits above the engine, whose turns it runs.
 */
import type { DateTime } from 'luxon';
import { staffMessageParts } from '../dialogs/handoff.ts';
import { type Agent, type Booking, type Desk, deskOf, type Ticket, type TicketOutcome } from './domain.ts';
import type { TurnOutcome, TurnRequest } from './engine.ts';
import { errorFields, type Logger, pseudonym } from './log.ts';
import { slotsOf } from './services/calendar.ts';
import { type Catalog, serviceById, sessionById, upcomingSessions } from './services/catalog.ts';
import { isoOf } from './services/handoff.ts';
import { defaultQuestionBrain } from './services/index.ts';
import type { BookingEvents, KnowledgePort } from './services/ports.ts';
import { QuestionService } from './services/questions.ts';
import { type UnansweredReport, unansweredReport } from './services/reports.ts';
import type {
  AnswerResult,
  CitizenMessenger,
  ForwardResult,
  RecategoriseResult,
  SessionStats,
  StaffBooking,
  StaffDesk,
  StaffNotifier,
} from './services/staff.ts';
import type { Attendance, AuditAction, AuditEntry, Store, TicketTransition } from './stores/ports.ts';
import type { Input } from './turn.ts';

/** Runs one turn in its conversation's order (`TurnEngine.run`); never rejects. */
export type RunTurn = (request: TurnRequest) => Promise<TurnOutcome>;

/** What the staff desk works with. */
export interface StaffDeskOptions {
  store: Store;
  catalog: Catalog;
  notifier: StaffNotifier;
  /**
   * The knowledge base whose entries agents send as answers, and its question similarity
   * for reports; by default the shipped one (as the dialogs' default).
   */
  knowledge?: KnowledgePort;
  /** Runs staff events in the citizen's conversation. */
  runTurn: RunTurn;
  /** Marks an outbox entry delivered (`TurnEngine.delivered`); never rejects. */
  delivered: (conversationKey: string, eventId: string) => Promise<void>;
  /** One per citizen channel (LINE push, web chat outbox). */
  messengers: CitizenMessenger[];
  log: Logger;
  /** The clock of the audit trail's times, in ms since epoch (default `Date.now`). */
  now?: () => number;
  /** Hears of bookings staff cancel (their pending messages are dropped). */
  bookingEvents?: BookingEvents;
}

/** The staff desk over the store, the notifier and the citizen's conversations. */
export class StaffDeskService implements StaffDesk {
  private readonly opts: StaffDeskOptions & { knowledge: KnowledgePort };

  constructor(opts: StaffDeskOptions) {
    this.opts = { ...opts, knowledge: opts.knowledge ?? new QuestionService(defaultQuestionBrain(), opts.store.feedback) };
  }

  queue(): Promise<Ticket[]> {
    return this.opts.store.tickets.listOpen();
  }

  get(ticketId: string): Promise<Ticket | null> {
    return this.opts.store.tickets.get(ticketId);
  }

  ticketOfCard(activityId: string): Promise<Ticket | null> {
    return this.opts.store.tickets.findByCard(activityId);
  }

  async claim(ticketId: string, agent: Agent, now: DateTime): Promise<TicketTransition> {
    const result = await this.opts.store.tickets.claim(ticketId, agent, isoOf(now));
    if (result.ok) await Promise.all([this.changed(result.ticket, 'claimed'), this.audited(agent.id, 'ticket.claimed', [ticketId])]);
    return result;
  }

  async close(ticketId: string, agent: Agent, now: DateTime, outcome?: TicketOutcome): Promise<TicketTransition> {
    const result = await this.opts.store.tickets.close(ticketId, agent, isoOf(now), outcome ? { outcome } : undefined);
    if (result.ok) await Promise.all([this.changed(result.ticket, 'closed'), this.audited(agent.id, 'ticket.closed', [ticketId])]);
    return result;
  }

  async sendAnswer(ticketId: string, entryId: string, agent: Agent, now: DateTime): Promise<AnswerResult> {
    const { store, knowledge, log } = this.opts;
    if (!knowledge.entry(entryId)) return { ok: false, reason: 'no_entry' };
    const ticket = await this.get(ticketId);
    if (!ticket) return { ok: false, reason: 'not_found' };
    if (ticket.status === 'closed') return { ok: false, reason: 'closed', ticket };
    if (ticket.status === 'claimed' && ticket.claimedBy?.id !== agent.id) return { ok: false, reason: 'taken', ticket };
    // Delivered before the ticket closes, so that a failed delivery leaves it open to try
    // again. One key per ticket: a retried tap, or two agents answering at once, reaches
    // the citizen once (LINE's retry key, the web chat outbox's key).
    await this.tellCitizen(ticket, { kind: 'staff', event: 'answer', ticketId, entryId }, `staff:answer:${ticketId}`, { dedupe: false });
    const result = await store.tickets.close(ticketId, agent, isoOf(now), { outcome: 'answered', answeredWith: entryId });
    if (result.ok) {
      log.info('ticket.answered', { ticket: ticketId, entry: entryId, agent: pseudonym(agent.id) });
      await this.audited(agent.id, 'ticket.answered', [ticketId]);
      // The answer told the citizen all they need: no separate "closed" message.
      await this.opts.notifier.ticketChanged(result.ticket).catch((err) => log.warn('ticket.notify_failed', { ticket: ticketId, ...errorFields(err) }));
    }
    return result;
  }

  async forward(ticketId: string, toDesk: Desk, agent: Agent, now: DateTime): Promise<ForwardResult> {
    const { store, notifier, log } = this.opts;
    const before = await this.get(ticketId);
    if (!before) return { ok: false, reason: 'not_found' };
    if (before.status === 'closed') return { ok: false, reason: 'closed', ticket: before };
    if (deskOf(before) === toDesk) return { ok: false, reason: 'same_desk', ticket: before };
    if (before.status === 'claimed' && before.claimedBy?.id !== agent.id) return { ok: false, reason: 'taken', ticket: before };
    const result = await store.tickets.update(ticketId, { desk: toDesk, reopen: true });
    if (!result.ok) return result;
    const at = isoOf(now);
    log.info('ticket.forwarded', { ticket: ticketId, from: deskOf(before), to: toDesk, agent: pseudonym(agent.id) });
    await this.audited(agent.id, 'ticket.forwarded', [ticketId]);
    const logged = (err: unknown) => log.warn('ticket.notify_failed', { ticket: ticketId, ...errorFields(err) });
    // A citizen talking with the agent through the bot is out of that conversation now: the
    // new desk's claim starts another. Otherwise their words would go to a ticket nobody holds.
    const leaveRelay =
      before.status === 'claimed'
        ? this.tellCitizen(result.ticket, { kind: 'staff', event: 'closed', ticketId }, `staff:forwarded:${ticketId}:${at}`).catch(logged)
        : Promise.resolve();
    const forwarding = { from: deskOf(before), ...(before.card ? { card: before.card } : {}), by: agent, at };
    const [card] = await Promise.all([
      (notifier.ticketForwarded ? notifier.ticketForwarded(result.ticket, forwarding) : notifier.ticketChanged(result.ticket)).catch(logged),
      leaveRelay,
    ]);
    if (!card) return result;
    await store.tickets.setCard(ticketId, card);
    return { ok: true, ticket: { ...result.ticket, card } };
  }

  async recategorise(ticketId: string, category: string, agent: Agent): Promise<RecategoriseResult> {
    const { store, notifier, log } = this.opts;
    if (!this.categories().includes(category)) return { ok: false, reason: 'unknown_category' };
    const result = await store.tickets.update(ticketId, { category });
    if (!result.ok) return result;
    log.info('ticket.recategorised', { ticket: ticketId, category, agent: pseudonym(agent.id) });
    await notifier.ticketChanged(result.ticket).catch((err) => log.warn('ticket.notify_failed', { ticket: ticketId, ...errorFields(err) }));
    return result;
  }

  categories(): readonly string[] {
    const { knowledge, catalog } = this.opts;
    // `general` and `urgent` are what the dialogs file when nothing more precise fits.
    return [...new Set([...knowledge.entries().map((e) => e.category), ...catalog.services.map((s) => s.id), 'general', 'urgent'])];
  }

  async triage(staffId: string): Promise<Ticket[]> {
    const open = (await this.queue()).filter((t) => deskOf(t) === 'contact_center');
    await this.read(staffId, 'tickets.listed', open.map((t) => t.id));
    // listOpen is oldest first and the sort is stable: high priority on top, each part by age.
    return open.sort((a, b) => Number(b.priority === 'high') - Number(a.priority === 'high'));
  }

  async unanswered(staffId: string, purpose: 'listed' | 'exported'): Promise<UnansweredReport> {
    const { store, knowledge } = this.opts;
    const [tickets, feedback] = await Promise.all([store.tickets.listAll(), store.feedback.counts()]);
    const report = unansweredReport(tickets, feedback, (a, b) => knowledge.similarity(a, b));
    await this.read(staffId, `unanswered.${purpose}`, []);
    return report;
  }

  async reply(ticketId: string, agent: Agent, text: string, messageId: string): Promise<{ sent: false } | { sent: true; unsent: string }> {
    const ticket = await this.get(ticketId);
    if (!ticket || ticket.status !== 'claimed' || ticket.claimedBy?.id !== agent.id) return { sent: false };
    // A staff message changes no state, so the turn is not deduped: a retried reply renders
    // it again, and the push's retry key still makes the citizen see it once. A failed
    // delivery rejects, so that staff are told and Teams may retry.
    await this.tellCitizen(ticket, { kind: 'staff', event: 'message', ticketId, text }, `staff:${messageId}`, { dedupe: false });
    // The dialog sent the parts this splits it into; what did not fit is for staff to send again.
    return { sent: true, unsent: staffMessageParts(text).rest };
  }

  async bookingsOn(date: string, staffId: string, purpose: 'listed' | 'exported' = 'listed'): Promise<Booking[]> {
    const sessions = this.opts.catalog.sessions.filter((s) => s.date === date);
    const bookings = (await Promise.all(sessions.map((s) => this.opts.store.bookings.listSession(s.id)))).flat();
    await this.read(staffId, `bookings.${purpose}`, [date, ...bookings.map((b) => b.id)]);
    return bookings;
  }

  async markAttendance(reference: string, status: Attendance, agent: Agent, now: DateTime): Promise<Booking | null> {
    const found = await this.locate(reference, now);
    if (!found) return null;
    await this.opts.store.bookings.markAttendance(found.booking.sessionId, found.booking.id, status, false);
    this.opts.log.info('booking.attendance_marked', { reference: found.booking.id, status, agent: pseudonym(agent.id) });
    await this.audited(agent.id, 'booking.marked', [found.booking.id, found.booking.sessionId]);
    return found.booking;
  }

  async setMeetingLink(sessionId: string, url: string, agent: Agent, slotId?: string): Promise<boolean> {
    const session = sessionById(this.opts.catalog, sessionId);
    const service = session && serviceById(this.opts.catalog, session.serviceId);
    if (!service || (slotId !== undefined && !slotsOf(service).some((s) => s.id === slotId))) return false;
    await this.opts.store.meetingLinks.set(sessionId, url, slotId);
    this.opts.log.info('session.link_set', { session: sessionId, ...(slotId ? { slot: slotId } : {}), agent: pseudonym(agent.id) });
    await this.audited(agent.id, 'session.link_set', slotId ? [sessionId, slotId] : [sessionId]);
    return true;
  }

  async invitations(sessionIds: string[]): Promise<Map<string, number>> {
    const maps = await Promise.all([...new Set(sessionIds)].map((id) => this.opts.store.bookings.invited(id)));
    return new Map(maps.flatMap((m) => [...m]));
  }

  async stats(target: string): Promise<SessionStats[]> {
    const { catalog, store } = this.opts;
    const sessions = catalog.sessions.filter((s) => s.date === target || s.id === target);
    return Promise.all(
      sessions.map(async (s) => {
        const [bookings, attendance, counters] = await Promise.all([store.bookings.listSession(s.id), store.bookings.attendance(s.id), store.bookings.counters(s.id)]);
        const marks = [...attendance.values()];
        return {
          sessionId: s.id,
          date: s.date,
          booked: bookings.length,
          attended: marks.filter((m) => m === 'attended').length,
          noShows: marks.filter((m) => m === 'no_show').length,
          ...counters,
        };
      }),
    );
  }

  async bookingsOf(sessionId: string, staffId: string, purpose: 'listed' | 'exported' = 'listed'): Promise<Booking[]> {
    const bookings = await this.opts.store.bookings.listSession(sessionId);
    await this.read(staffId, `bookings.${purpose}`, [sessionId, ...bookings.map((b) => b.id)]);
    return bookings;
  }

  async recentAudit(n: number, staffId: string): Promise<AuditEntry[]> {
    const entries = await this.opts.store.audit.recent(n);
    await this.read(staffId, 'audit.listed', []);
    return entries;
  }

  async findBooking(reference: string, staffId: string, now: DateTime): Promise<StaffBooking | null> {
    const found = await this.locate(reference, now);
    // The lookup card shows the holder's contact details: a read like any other.
    if (found) await this.read(staffId, 'booking.looked_up', [found.booking.id, found.session.id]);
    return found;
  }

  private async locate(reference: string, now: DateTime): Promise<StaffBooking | null> {
    const id = reference.trim().toUpperCase();
    // A reference names no session, but the catalog holds only a handful that are still
    // ahead: one direct lookup each beats keeping a reference index in the store. Past
    // sessions are left out: their bookings are records, not appointments to cancel.
    const sessions = upcomingSessions(this.opts.catalog, now);
    const found = await Promise.all(sessions.map((s) => this.opts.store.bookings.get(s.id, id)));
    const index = found.findIndex((b) => b !== null);
    return index < 0 ? null : { booking: found[index]!, session: sessions[index]! };
  }

  async cancelBooking(reference: string, agent: Agent, now: DateTime): Promise<Booking | null> {
    const { store, log } = this.opts;
    const found = await this.locate(reference, now);
    if (!found) return null;
    const { booking } = found;
    // The store cancels only for the holder's key: pass the booking's own, so that staff can
    // cancel any holder's booking while the store's check still guards the citizen paths.
    // False here means it was cancelled in between (the citizen, or another staff member).
    if (!(await store.bookings.cancel(booking.sessionId, booking.id, booking.userKey))) return null;
    // The holder is not messaged: a caller booked by phone has no chat, and a citizen told by
    // a bot message that the office cancelled would need a person to explain why anyway.
    log.info('booking.cancelled_by_staff', {
      reference: booking.id,
      session: booking.sessionId,
      // The key's channel prefix only (`phone`, `line`, …): the rest may be a phone number.
      holder: booking.userKey.split(':')[0],
      agent: pseudonym(agent.id),
    });
    await this.audited(agent.id, 'booking.cancelled', [booking.id, booking.sessionId]);
    await this.opts.bookingEvents?.cancelled(booking.sessionId, booking.id).catch((err) => log.error('booking.events_failed', { what: 'cancelled', ...errorFields(err) }));
    return booking;
  }

  /**
   * Records a read before its data is shown: a read the trail cannot record rejects, so that
   * nothing personal is shown unaudited.
   */
  private read(staffId: string, action: AuditAction, records: string[]): Promise<void> {
    const { store, now = Date.now } = this.opts;
    return store.audit.append({ at: new Date(now()).toISOString(), staff: staffId, action, records });
  }

  /** Records a change that was made; it stands even when the trail cannot record it, which is logged. */
  private async audited(staffId: string, action: AuditAction, records: string[]): Promise<void> {
    await this.read(staffId, action, records).catch((err) => this.opts.log.error('audit.append_failed', { action, ...errorFields(err) }));
  }

  /** Updates the card and tells the citizen; a failure of either is logged, not thrown. */
  private async changed(ticket: Ticket, event: 'claimed' | 'closed'): Promise<void> {
    const { notifier, log } = this.opts;
    log.info(`ticket.${event}`, { ticket: ticket.id });
    const logged = (err: unknown) => log.warn('ticket.notify_failed', { ticket: ticket.id, ...errorFields(err) });
    await Promise.all([
      notifier.ticketChanged(ticket).catch(logged),
      this.tellCitizen(ticket, { kind: 'staff', event, ticketId: ticket.id }, `staff:${event}:${ticket.id}`).catch(logged),
    ]);
  }

  /**
   * Runs the staff event in the citizen's conversation and pushes what it says. With
   * `dedupe` (claim, close) a repeat of the same event is dropped and a failed push only
   * logged; without it a failed push rejects.
   *
   * On a channel that resumes (LINE) what the turn says waits in the conversation's outbox,
   * saved with the turn, until the push went through: after a crash between the two, the
   * channel's sweep sends it, and a repeat of the staff action (the key is then an event id
   * for every action) sends it again rather than nothing.
   */
  private async tellCitizen(ticket: Ticket, input: Input, key: string, { dedupe = true } = {}): Promise<void> {
    const { runTurn, messengers, log } = this.opts;
    const messenger = messengers.find((m) => m.handles(ticket.userKey));
    const resumes = messenger?.resumes === true;
    const outcome = await runTurn({
      conversationKey: ticket.userKey,
      caller: { userKey: ticket.userKey, channel: ticket.channel },
      ...(dedupe || resumes ? { eventId: key } : {}),
      ...(resumes ? { outbox: true as const } : {}),
      input,
      locale: ticket.locale,
    });
    if (outcome.status === 'failed') {
      // The citizen's conversation could not take the event (store down): pushing the
      // apology would tell them of a failure they did not cause, and hide it from staff.
      log.warn('ticket.citizen_turn_failed', { ticket: ticket.id });
      throw new Error('the citizen conversation could not be updated');
    }
    if (outcome.status === 'duplicate' || outcome.replies.length === 0) return;
    if (!messenger) {
      log.warn('ticket.citizen_unreachable', { ticket: ticket.id, channel: ticket.channel });
      if (!dedupe) throw new Error('the citizen cannot be reached on their channel');
      return;
    }
    try {
      await messenger.deliver(ticket.userKey, outcome.replies, key);
      if (resumes) await this.opts.delivered(ticket.userKey, key);
    } catch (err) {
      log.warn('ticket.deliver_failed', { ticket: ticket.id, ...errorFields(err) });
      if (!dedupe) throw err;
    }
  }
}
