/**
 * The citizen's request to delete their data (APPI): bookings, tickets, and a trace for
 * staff that names nobody. The conversation record itself is deleted by the engine after
 * the turn that confirms it, so that the confirmation still reaches the citizen.
 */
import type { DateTime } from 'luxon';
import { errorFields, type Logger, pseudonym } from '../log.ts';
import type { AuditStore } from '../stores/ports.ts';
import type { BookingPort, ErasurePort, ErasureReport, HandoffPort } from './ports.ts';

/**
 * Erases a user's bookings and tickets through their ports; logs counts under a pseudonym, and
 * leaves staff a trace in the audit trail (`audit` in Teams) with the counts only.
 */
export class ErasureService implements ErasurePort {
  private readonly bookings: BookingPort;
  private readonly handoff: HandoffPort;
  private readonly audit: AuditStore;
  private readonly log: Logger;

  constructor(bookings: BookingPort, handoff: HandoffPort, audit: AuditStore, log: Logger) {
    this.bookings = bookings;
    this.handoff = handoff;
    this.audit = audit;
    this.log = log;
  }

  async eraseUser(userKey: string, now: DateTime): Promise<ErasureReport> {
    const { cancelled, counted } = await this.bookings.eraseUser(userKey, now);
    const tickets = await this.handoff.eraseUser(userKey, now);
    // The staff's trace: counts, nothing that identifies the person (the log adds a pseudonym).
    this.log.info('privacy.erased', { user: pseudonym(userKey), cancelled, counted, tickets });
    const records = [`cancelled:${cancelled}`, `counted:${counted}`, `tickets:${tickets}`];
    await this.audit
      .append({ at: now.toUTC().toISO()!, staff: 'citizen', action: 'privacy.erased', records })
      .catch((err) => this.log.error('audit.append_failed', { action: 'privacy.erased', ...errorFields(err) }));
    return { cancelled, counted, tickets };
  }
}
