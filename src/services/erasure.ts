/**
 * The citizen's request to delete their data (APPI): bookings, tickets, and a trace for
 * staff that names nobody. The conversation record itself is deleted by the engine after
 * the turn that confirms it, so that the confirmation still reaches the citizen.
 */
import type { DateTime } from 'luxon';
import { type Logger, pseudonym } from '../log.ts';
import type { BookingPort, ErasurePort, ErasureReport, HandoffPort } from './ports.ts';

/** Erases a user's bookings and tickets through their ports, and logs counts under a pseudonym. */
export class ErasureService implements ErasurePort {
  private readonly bookings: BookingPort;
  private readonly handoff: HandoffPort;
  private readonly log: Logger;

  constructor(bookings: BookingPort, handoff: HandoffPort, log: Logger) {
    this.bookings = bookings;
    this.handoff = handoff;
    this.log = log;
  }

  async eraseUser(userKey: string, now: DateTime): Promise<ErasureReport> {
    const { cancelled, counted } = await this.bookings.eraseUser(userKey, now);
    const tickets = await this.handoff.eraseUser(userKey, now);
    // The staff's trace: a pseudonym and counts, nothing that identifies the person.
    this.log.info('privacy.erased', { user: pseudonym(userKey), cancelled, counted, tickets });
    return { cancelled, counted, tickets };
  }
}
