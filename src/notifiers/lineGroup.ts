/**
 * Tells a LINE staff group about tickets with one short text each: opened, claimed, closed.
 * No personal data goes there: the ticket id, its triage fields and the dialog step only;
 * what the citizen writes is relayed in Teams, never here. Each push carries a retry key
 * derived from (ticket id, event), so a retried notification arrives once.
 */
import type { Ticket } from '../domain.ts';
import { LinePusher, type LinePushOptions } from '../channels/line/push.ts';
import { stableUuid } from '../uuid.ts';
import type { Forwarding, StaffNotifier } from '../services/staff.ts';
import { changeEvent, stepName } from './format.ts';

/** The staff group's id (`STAFF_LINE_GROUP_ID`, `C` + 32 hex digits), and how to push. */
export type LineGroupNotifierOptions = { groupId: string } & (LinePushOptions | { pusher: LinePusher });

/** The text posted when a ticket is opened. */
export function openedText(ticket: Ticket): string {
  const step = stepName(ticket.context);
  return `New ticket ${ticket.id}: ${ticket.reason}, ${ticket.priority}, ${ticket.category}, ${ticket.locale}${step ? ` (step: ${step})` : ''}`;
}

/** The text posted when a ticket moves to another desk. */
export function forwardedText(ticket: Ticket, forwarding: Forwarding): string {
  return `Ticket ${ticket.id} forwarded from ${forwarding.from} to ${ticket.desk ?? 'office'} by ${forwarding.by.name}`;
}

/** The text posted when a ticket is claimed or closed (undefined: nothing to say). */
export function changedText(ticket: Ticket): string | undefined {
  if (ticket.status === 'claimed') return `Ticket ${ticket.id} claimed by ${ticket.claimedBy?.name ?? 'staff'}`;
  if (ticket.status === 'closed') {
    const by = ticket.closedBy === 'citizen' ? ' by the citizen' : ticket.closedBy ? ` by ${ticket.closedBy.name}` : '';
    return `Ticket ${ticket.id} closed${by}`;
  }
  return undefined;
}

export class LineGroupNotifier implements StaffNotifier {
  readonly name = 'line-group';
  /** The relay of what citizens write happens in Teams only (see `FanoutNotifier`). */
  readonly relaysCitizen = false;
  private readonly pusher: LinePusher;
  private readonly groupId: string;

  constructor(opts: LineGroupNotifierOptions) {
    if (!opts.groupId) throw new Error('a LINE group id is required');
    this.pusher = 'pusher' in opts ? opts.pusher : new LinePusher(opts);
    this.groupId = opts.groupId;
  }

  async ticketOpened(ticket: Ticket): Promise<void> {
    await this.post(openedText(ticket), `${ticket.id}#opened`);
  }

  async ticketChanged(ticket: Ticket): Promise<void> {
    const text = changedText(ticket);
    if (text) await this.post(text, `${ticket.id}#${changeEvent(ticket.status)}`);
  }

  async ticketForwarded(ticket: Ticket, forwarding: Forwarding): Promise<void> {
    // Keyed by the time too: a ticket may go back and forth, and each move is news.
    await this.post(forwardedText(ticket, forwarding), `${ticket.id}#forwarded:${forwarding.at}`);
  }

  /** Nothing: the citizen's words are personal data and stay in the Teams thread. */
  async citizenSaid(_ticket: Ticket, _text: string): Promise<void> {}

  private post(text: string, event: string): Promise<void> {
    return this.pusher.push(this.groupId, [{ type: 'text', text }], stableUuid(`line-group:${event}`));
  }
}
