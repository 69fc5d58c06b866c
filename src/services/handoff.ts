/**
 * Opening tickets and relaying a citizen's words to staff. Staff hear of a ticket through
 * the notifier (Teams card, LINE staff group, webhook); if that fails the ticket still
 * waits in the store, where the staff queue shows it.
 */
import type { DateTime } from 'luxon';
import type { Ticket, TicketCard } from '../domain.ts';
import type { Limits } from '../limits.ts';
import { errorFields, type Logger } from '../log.ts';
import type { TicketStore } from '../stores/ports.ts';
import type { HandoffPort, TicketRequest, TicketsLimited } from './ports.ts';
import { newReference } from './reference.ts';
import type { StaffNotifier } from './staff.ts';

/** How long a citizen's turn waits for staff to be told of their ticket. */
const NOTIFY_WAIT_MS = 3_000;

/** ISO time in UTC, as stored. */
export function isoOf(now: DateTime): string {
  return now.toUTC().toISO()!;
}

export class HandoffService implements HandoffPort {
  private readonly store: TicketStore;
  private readonly notifier: StaffNotifier;
  private readonly limits: Limits;
  private readonly log: Logger;

  constructor(store: TicketStore, notifier: StaffNotifier, limits: Limits, log: Logger) {
    this.store = store;
    this.notifier = notifier;
    this.limits = limits;
    this.log = log;
  }

  open(request: TicketRequest & { reason: 'urgent' }, now: DateTime): Promise<Ticket>;
  open(request: TicketRequest, now: DateTime): Promise<Ticket | TicketsLimited>;
  async open(request: TicketRequest, now: DateTime): Promise<Ticket | TicketsLimited> {
    // One waiting request per citizen: asking again (or a turn re-run after a lost race)
    // points at the same ticket instead of a second card for staff.
    const active = await this.store.activeFor(request.userKey);
    if (active) return active;
    // Only a new ticket counts against the hourly budget; an urgent one is never refused.
    // Counted per person: conversations opened by the dozen from one web address share one budget.
    const { personKey, ...fields } = request;
    if (request.reason !== 'urgent' && !(await this.limits.take('tickets', personKey ?? request.userKey))) return { limited: true };
    // Ticket ids use the booking-reference alphabet: a citizen may read one out on the phone.
    const ticket: Ticket = { ...fields, id: newReference(), status: 'open', createdAt: isoOf(now) };
    await this.store.create(ticket);
    this.log.info('ticket.opened', { ticket: ticket.id, reason: ticket.reason, category: ticket.category, priority: ticket.priority });
    const notified = this.notify(ticket);
    // The citizen's answer waits for staff to be told, but not for a slow or retrying
    // channel: past the wait the notification finishes on its own.
    let timer: ReturnType<typeof setTimeout> | undefined;
    const waited = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), NOTIFY_WAIT_MS);
    });
    const card = await Promise.race([notified, waited]).finally(() => clearTimeout(timer));
    return card ? { ...ticket, card } : ticket;
  }

  /** Tells staff and records where the card lives; never rejects. */
  private async notify(ticket: Ticket): Promise<TicketCard | undefined> {
    try {
      const card = await this.notifier.ticketOpened(ticket);
      if (!card) return undefined;
      await this.store.setCard(ticket.id, card);
      return card;
    } catch (err) {
      this.log.warn('ticket.notify_failed', { ticket: ticket.id, ...errorFields(err) });
      return undefined;
    }
  }

  async relay(ticketId: string, text: string): Promise<boolean> {
    const ticket = await this.store.get(ticketId);
    if (!ticket || ticket.status !== 'claimed') return false;
    try {
      await this.notifier.citizenSaid(ticket, text);
      return true;
    } catch (err) {
      this.log.warn('ticket.relay_failed', { ticket: ticketId, ...errorFields(err) });
      return false;
    }
  }

  async attachQuestion(ticketId: string, question: string, suggestions: string[]): Promise<boolean> {
    const result = await this.store.update(ticketId, { question, ...(suggestions.length > 0 ? { suggestions } : {}) });
    if (!result.ok) return false;
    this.log.info('ticket.question_added', { ticket: ticketId });
    await this.notifier.ticketChanged(result.ticket).catch((err) => this.log.warn('ticket.notify_failed', { ticket: ticketId, ...errorFields(err) }));
    return true;
  }

  async escalate(ticketId: string, urgent: string): Promise<Ticket> {
    const result = await this.store.update(ticketId, { priority: 'high', urgent });
    if (!result.ok) throw new Error(`ticket ${ticketId} could not be escalated: ${result.reason}`);
    this.log.info('ticket.escalated', { ticket: ticketId, urgent });
    await this.notifier.ticketChanged(result.ticket).catch((err) => this.log.warn('ticket.notify_failed', { ticket: ticketId, ...errorFields(err) }));
    return result.ticket;
  }

  async eraseUser(userKey: string, now: DateTime): Promise<number> {
    const changed = await this.store.eraseUser(userKey, isoOf(now));
    // Staff cards are redrawn from the stripped tickets: the question leaves the card too.
    await Promise.all(
      changed.map((ticket) => this.notifier.ticketChanged(ticket).catch((err) => this.log.warn('ticket.notify_failed', { ticket: ticket.id, ...errorFields(err) }))),
    );
    return changed.length;
  }

  async end(ticketId: string, now: DateTime): Promise<void> {
    const result = await this.store.close(ticketId, 'citizen', isoOf(now));
    if (!result.ok) return;
    this.log.info('ticket.closed', { ticket: ticketId, by: 'citizen' });
    await this.notifier.ticketChanged(result.ticket).catch((err) => this.log.warn('ticket.notify_failed', { ticket: ticketId, ...errorFields(err) }));
  }
}
