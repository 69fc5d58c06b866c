/**
 * Reaching a human. For now a ticket is stored and the citizen is told how the office
 * will answer; the live relay with staff in Teams comes later.
 */
import type { Service, TicketReason } from '../src/domain.ts';
import { local, say } from './format.ts';
import type { ConversationState } from './state.ts';
import type { Reply, TurnContext } from './types.ts';

/** The service the conversation is about, else the catalog's first (whose office answers). */
export function serviceInContext(ctx: TurnContext, state: ConversationState): Service | undefined {
  const { catalog } = ctx.services;
  const id = state.flow.name === 'booking' ? state.flow.serviceId : undefined;
  return catalog.services.find((s) => s.id === id) ?? catalog.services[0];
}

/** Where in the conversation the citizen was, without any of what they typed. */
function contextOf(state: ConversationState): string {
  const { flow } = state;
  if (flow.name === 'booking') return `booking:${flow.step}${flow.mode ? `:${flow.mode}` : ''}`;
  if (flow.name === 'myBookings') return `myBookings:${flow.step}`;
  return flow.name;
}

/** Opens a ticket and returns what to tell the citizen. */
export async function openHandoff(ctx: TurnContext, state: ConversationState, reason: TicketReason): Promise<Reply> {
  const service = serviceInContext(ctx, state);
  const ticket = await ctx.services.tickets.open(
    {
      userKey: ctx.caller.userKey,
      channel: ctx.caller.channel,
      locale: state.locale,
      reason,
      ...(service ? { serviceId: service.id } : {}),
      context: contextOf(state),
    },
    ctx.now,
  );
  const t = ctx.services.translator(state.locale);
  const office = service?.office;
  return say(
    t(reason === 'screening_unsure' ? 'handoff.unsure' : 'handoff.requested', {
      ticket: ticket.id,
      office: office ? local(office.name, state.locale) : '',
      phone: office?.phone ?? '',
      hours: office ? local(office.hours, state.locale) : '',
    }),
  );
}
