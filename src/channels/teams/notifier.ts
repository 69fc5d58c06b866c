/**
 * The Teams staff notifier: a card per ticket in the registered staff channel, updated in
 * place as the ticket changes, with the citizen's words relayed into the card's thread.
 *
 * Teams answering 403/404 means the bot was removed from the team or the channel is gone:
 * the channel is marked `broken` (shown by `health()`, hence in `/readyz`), logged, and the
 * call rejects so the caller keeps the ticket in the store, where the queue still shows it.
 */
import type { Locale, Ticket } from '../../domain.ts';
import { errorFields, type Logger } from '../../log.ts';
import type { StaffNotifier } from '../../services/staff.ts';
import type { ChannelRecord, ChannelStore } from '../../stores/ports.ts';
import { type StoredReference, storedReferenceSchema, threadId } from './activity.ts';
import { type DescribeStep, ticketCard, ticketSummary } from './cards.ts';
import { phrase } from './text.ts';
import { statusOf, type Transport } from './transport.ts';

/** Name of the staff channel's record in the `ChannelStore`. */
export const STAFF_CHANNEL = 'staff';

/** Why the staff channel could not be written to. `code` is log-safe (`unregistered`, `broken:403`, …). */
export class StaffChannelError extends Error {
  readonly code: string;
  readonly status: number | undefined;

  constructor(message: string, code: string, status?: number) {
    super(message);
    this.name = 'StaffChannelError';
    this.code = code;
    this.status = status;
  }
}

export interface TeamsNotifierOptions {
  transport: Transport;
  channels: ChannelStore;
  log: Logger;
  now: () => number;
  /** Language of the cards (staff UI). */
  locale: Locale;
  /** The words of a ticket's step on its card. */
  describeStep: DescribeStep;
}

/** The registered staff channel, or why there is none. */
export async function loadStaffChannel(channels: ChannelStore): Promise<{ record: ChannelRecord; reference: StoredReference }> {
  const record = await channels.get(STAFF_CHANNEL);
  if (!record) throw new StaffChannelError('No Teams staff channel is registered: install the bot in the staff team or type register there', 'unregistered');
  const parsed = storedReferenceSchema.safeParse(record.reference);
  if (!parsed.success) throw new StaffChannelError('The stored Teams staff channel reference is not valid: type register in the staff channel', 'invalid-reference');
  return { record, reference: parsed.data };
}

/** Posts and updates ticket cards in the staff channel. */
export class TeamsStaffNotifier implements StaffNotifier {
  readonly name = 'teams';
  private readonly opts: TeamsNotifierOptions;

  constructor(opts: TeamsNotifierOptions) {
    this.opts = opts;
  }

  async ticketOpened(ticket: Ticket): Promise<{ conversationId: string; activityId: string }> {
    const { record, reference } = await loadStaffChannel(this.opts.channels);
    const conversationId = reference.conversation.id;
    const message = { kind: 'card' as const, card: ticketCard(ticket, this.opts.locale, this.opts.describeStep), summary: ticketSummary(ticket, this.opts.locale) };
    const activityId = await this.guard(record, 'post_card', ticket.id, () => this.opts.transport.post(reference, conversationId, message));
    this.opts.log.info('teams.card_posted', { ticket: ticket.id });
    return { conversationId, activityId };
  }

  async ticketChanged(ticket: Ticket): Promise<void> {
    // A ticket whose card never made it (channel unregistered or broken then) has nothing to update.
    if (!ticket.card) return;
    const { record, reference } = await loadStaffChannel(this.opts.channels);
    const { conversationId, activityId } = ticket.card;
    const message = { kind: 'card' as const, card: ticketCard(ticket, this.opts.locale, this.opts.describeStep), summary: ticketSummary(ticket, this.opts.locale) };
    await this.guard(record, 'update_card', ticket.id, () => this.opts.transport.update(reference, conversationId, activityId, message));
    this.opts.log.info('teams.card_updated', { ticket: ticket.id, status: ticket.status });
  }

  async citizenSaid(ticket: Ticket, text: string): Promise<void> {
    if (!ticket.card) throw new StaffChannelError(`Ticket ${ticket.id} has no card in Teams to relay into`, 'no-card');
    const { record, reference } = await loadStaffChannel(this.opts.channels);
    const thread = threadId(ticket.card.conversationId, ticket.card.activityId);
    // Plain text: the citizen's words are shown as written, never as markup or mentions.
    const message = { kind: 'text' as const, text: phrase(this.opts.locale, 'citizenSaid', { text }), plain: true };
    await this.guard(record, 'relay', ticket.id, () => this.opts.transport.post(reference, thread, message));
  }

  /** Runs a call to Teams; a 403/404 marks the channel broken, a success heals a broken mark. */
  private async guard<T>(record: ChannelRecord, op: string, ticketId: string, call: () => Promise<T>): Promise<T> {
    const { channels, log, now } = this.opts;
    let result: T;
    try {
      result = await call();
    } catch (err) {
      const status = statusOf(err);
      if (status === 403 || status === 404) {
        await channels
          .put(STAFF_CHANNEL, { ...record, status: 'broken', reason: String(status), updatedAt: new Date(now()).toISOString() })
          .catch((e) => log.error('teams.channel_store_failed', errorFields(e)));
        log.error('teams.staff_channel_broken', { op, ticket: ticketId, status });
        throw new StaffChannelError(`Teams answered ${status}: the bot cannot write to the staff channel`, `broken:${status}`, status);
      }
      log.warn('teams.call_failed', { op, ticket: ticketId, status, ...errorFields(err) });
      throw err;
    }
    if (record.status !== 'ok') {
      await channels
        .put(STAFF_CHANNEL, { reference: record.reference, status: 'ok', updatedAt: new Date(now()).toISOString() })
        .catch((e) => log.error('teams.channel_store_failed', errorFields(e)));
      log.info('teams.staff_channel_ok', { op });
    }
    return result;
  }
}
