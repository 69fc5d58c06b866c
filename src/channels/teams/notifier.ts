/**
 * The Teams staff notifier: a card per ticket in the channel of the ticket's desk (the
 * ombudsman office's staff channel, or the contact center's, which falls back to the staff
 * channel while none is registered), updated in place as the ticket changes, with the
 * citizen's words relayed into the card's thread. A forwarded ticket leaves its old card
 * saying where it went and gets a new one in the other desk's channel.
 *
 * Teams answering 403/404 means the bot was removed from the team or the channel is gone:
 * the channel is marked `broken` (shown by `health()`, hence in `/readyz`), logged, and the
 * call rejects so the caller keeps the ticket in the store, where the queue still shows it.
 */
import { type Desk, deskOf, type Ticket, type TicketCard } from '../../domain.ts';
import { errorFields, type Logger } from '../../log.ts';
import type { KnowledgeEntry } from '../../services/knowledge.ts';
import type { Forwarding, StaffAlert, StaffNotifier } from '../../services/staff.ts';
import type { AuditStore, ChannelRecord, ChannelStore } from '../../stores/ports.ts';
import { type StoredReference, storedReferenceSchema, threadId } from './activity.ts';
import { type CardView, type DescribeStep, type Outgoing, ticketCard, ticketSummary } from './cards.ts';
import { phrase, type StaffLocale } from './text.ts';
import { statusOf, type Transport } from './transport.ts';

/** Name of the staff (ombudsman office) channel's record in the `ChannelStore`. */
export const STAFF_CHANNEL = 'staff';
/** Name of the contact center channel's record in the `ChannelStore`. */
export const CONTACT_CENTER_CHANNEL = 'contact_center';

/** The `ChannelStore` record of a desk's own channel. */
export function channelOfDesk(desk: Desk): string {
  return desk === 'contact_center' ? CONTACT_CENTER_CHANNEL : STAFF_CHANNEL;
}

/** Why a staff channel could not be written to. `code` is log-safe (`unregistered`, `broken:403`, …). */
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
  /** Where a card's posting or refresh is recorded as the ticket shown to its channel. */
  audit: AuditStore;
  log: Logger;
  now: () => number;
  /** Language of the cards (staff UI). */
  locale: StaffLocale;
  /** The words of a ticket's step on its card. */
  describeStep: DescribeStep;
  /** A knowledge-base entry by id, for the suggested answers on inquiry cards. */
  entry: (id: string) => KnowledgeEntry | undefined;
}

/** A registered channel: its record's name, the record, and the reference to write with. */
export interface LoadedChannel {
  name: string;
  record: ChannelRecord;
  reference: StoredReference;
}

function parsed(name: string, record: ChannelRecord): LoadedChannel {
  const reference = storedReferenceSchema.safeParse(record.reference);
  if (!reference.success) throw new StaffChannelError('The stored Teams channel reference is not valid: type register in the channel again', 'invalid-reference');
  return { name, record, reference: reference.data };
}

/** The registered channel named `name` (`STAFF_CHANNEL`, `CONTACT_CENTER_CHANNEL`), or why there is none. */
export async function loadChannel(channels: ChannelStore, name: string): Promise<LoadedChannel> {
  const record = await channels.get(name);
  if (!record) throw new StaffChannelError(`No Teams ${name} channel is registered: install the bot in the team or type register there`, 'unregistered');
  return parsed(name, record);
}

/** The channel a desk's cards go to: the contact center's own, else the staff channel. */
export async function loadDeskChannel(channels: ChannelStore, desk: Desk): Promise<LoadedChannel> {
  if (desk === 'contact_center') {
    const record = await channels.get(CONTACT_CENTER_CHANNEL);
    if (record) return parsed(CONTACT_CENTER_CHANNEL, record);
  }
  return loadChannel(channels, STAFF_CHANNEL);
}

/** Posts and updates ticket cards in the desks' channels. */
export class TeamsStaffNotifier implements StaffNotifier {
  readonly name = 'teams';
  private readonly opts: TeamsNotifierOptions;

  constructor(opts: TeamsNotifierOptions) {
    this.opts = opts;
  }

  async ticketOpened(ticket: Ticket): Promise<TicketCard> {
    const channel = await loadDeskChannel(this.opts.channels, deskOf(ticket));
    const conversationId = channel.reference.conversation.id;
    const activityId = await this.guard(channel, 'post_card', ticket.id, () => this.opts.transport.post(channel.reference, conversationId, this.cardOf(ticket)));
    this.opts.log.info('teams.card_posted', { ticket: ticket.id, channel: channel.name });
    await this.shown(ticket, channel.name);
    return { conversationId, activityId };
  }

  async ticketChanged(ticket: Ticket): Promise<void> {
    // A ticket whose card never made it (channel unregistered or broken then) has nothing to update.
    if (!ticket.card) return;
    const channel = await this.updateCard(ticket, ticket.card, this.cardOf(ticket));
    this.opts.log.info('teams.card_updated', { ticket: ticket.id, status: ticket.status });
    await this.shown(ticket, channel);
  }

  async ticketForwarded(ticket: Ticket, forwarding: Forwarding): Promise<TicketCard> {
    const { log } = this.opts;
    if (forwarding.card) {
      // The old card is history; the new one is what matters, so a failure here only logs.
      await this.updateCard(ticket, forwarding.card, this.cardOf(ticket, { by: forwarding.by, at: forwarding.at })).catch((err) =>
        log.warn('teams.old_card_not_updated', { ticket: ticket.id, ...errorFields(err) }),
      );
    }
    const card = await this.ticketOpened(ticket);
    log.info('teams.card_forwarded', { ticket: ticket.id, from: forwarding.from, to: deskOf(ticket) });
    return card;
  }

  async citizenSaid(ticket: Ticket, text: string): Promise<void> {
    if (!ticket.card) throw new StaffChannelError(`Ticket ${ticket.id} has no card in Teams to relay into`, 'no-card');
    const channel = await this.channelOfCard(ticket.card, deskOf(ticket));
    const thread = threadId(ticket.card.conversationId, ticket.card.activityId);
    // Plain text: the citizen's words are shown as written, never as markup or mentions.
    const message = { kind: 'text' as const, text: phrase(this.opts.locale, 'citizenSaid', { text }), plain: true };
    await this.guard(channel, 'relay', ticket.id, () => this.opts.transport.post(channel.reference, thread, message));
  }

  /** Posts the alert in the office's channel, as plain text. */
  async alert(alert: StaffAlert): Promise<void> {
    const channel = await loadDeskChannel(this.opts.channels, 'office');
    const key = alert.kind === 'meeting_link_missing' ? 'alertMeetingLinkMissing' : 'alertMessageFailed';
    const message = { kind: 'text' as const, text: phrase(this.opts.locale, key, { session: alert.sessionId, date: alert.date, reference: alert.reference }), plain: true };
    await this.guard(channel, 'alert', alert.reference, () => this.opts.transport.post(channel.reference, channel.reference.conversation.id, message));
    this.opts.log.info('teams.alert_posted', { kind: alert.kind, session: alert.sessionId });
  }

  /** Records that the ticket's card (its question with it) is shown to `channel`; a failure is logged, the card stands. */
  private async shown(ticket: Ticket, channel: string): Promise<void> {
    const entry = { at: new Date(this.opts.now()).toISOString(), staff: `channel:${channel}`, action: 'ticket.shown' as const, records: [ticket.id] };
    await this.opts.audit.append(entry).catch((err) => this.opts.log.error('audit.append_failed', { action: entry.action, ...errorFields(err) }));
  }

  private cardOf(ticket: Ticket, forwarded?: CardView['forwarded']): Outgoing {
    const { locale, describeStep, entry, now } = this.opts;
    const view: CardView = { locale, describeStep, entry, nowMs: now(), ...(forwarded ? { forwarded } : {}) };
    return { kind: 'card', card: ticketCard(ticket, view), summary: ticketSummary(ticket, locale) };
  }

  /** Updates the card in place; returns the name of the channel it is in. */
  private async updateCard(ticket: Ticket, card: TicketCard, message: Outgoing): Promise<string> {
    const channel = await this.channelOfCard(card, deskOf(ticket));
    await this.guard(channel, 'update_card', ticket.id, () => this.opts.transport.update(channel.reference, card.conversationId, card.activityId, message));
    return channel.name;
  }

  /**
   * The registered channel a card was posted in (found by its conversation id, since the
   * ticket may have changed desk since); the desk's channel when none matches any more.
   */
  private async channelOfCard(card: TicketCard, desk: Desk): Promise<LoadedChannel> {
    for (const name of [channelOfDesk(desk), STAFF_CHANNEL, CONTACT_CENTER_CHANNEL]) {
      const record = await this.opts.channels.get(name);
      const reference = record ? storedReferenceSchema.safeParse(record.reference) : undefined;
      if (record && reference?.success && reference.data.conversation.id === card.conversationId) return { name, record, reference: reference.data };
    }
    return loadDeskChannel(this.opts.channels, desk);
  }

  /** Runs a call to Teams; a 403/404 marks the channel broken, a success heals a broken mark. */
  private async guard<T>(channel: LoadedChannel, op: string, ticketId: string, call: () => Promise<T>): Promise<T> {
    const { channels, log, now } = this.opts;
    const { name, record } = channel;
    let result: T;
    try {
      result = await call();
    } catch (err) {
      const status = statusOf(err);
      if (status === 403 || status === 404) {
        await channels
          .put(name, { ...record, status: 'broken', reason: String(status), updatedAt: new Date(now()).toISOString() })
          .catch((e) => log.error('teams.channel_store_failed', errorFields(e)));
        log.error('teams.staff_channel_broken', { op, channel: name, ticket: ticketId, status });
        throw new StaffChannelError(`Teams answered ${status}: the bot cannot write to the ${name} channel`, `broken:${status}`, status);
      }
      log.warn('teams.call_failed', { op, ticket: ticketId, status, ...errorFields(err) });
      throw err;
    }
    if (record.status !== 'ok') {
      await channels
        .put(name, { reference: record.reference, status: 'ok', updatedAt: new Date(now()).toISOString() })
        .catch((e) => log.error('teams.channel_store_failed', errorFields(e)));
      log.info('teams.staff_channel_ok', { op, channel: name });
    }
    return result;
  }
}
