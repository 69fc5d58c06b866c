import type { DateTime } from 'luxon';
import type { Ticket } from '../domain.ts';
import type { TicketStore } from '../stores/ports.ts';
import type { TicketPort, TicketRequest } from './ports.ts';
import { newReference } from './reference.ts';

/**
 * Opens tickets in the store. Ids use the booking-reference alphabet: a citizen may read
 * one out on the phone, and random ids reveal nothing about volume.
 */
export class TicketService implements TicketPort {
  private readonly store: TicketStore;

  constructor(store: TicketStore) {
    this.store = store;
  }

  async open(request: TicketRequest, now: DateTime): Promise<Ticket> {
    const ticket: Ticket = {
      ...request,
      id: newReference(),
      status: 'open',
      createdAt: now.toUTC().toISO() ?? new Date(now.toMillis()).toISOString(),
    };
    await this.store.create(ticket);
    return ticket;
  }
}
