/**
 * The parts of a Teams activity the bot acts on, validated with zod, and what they mean:
 * who is staff, which thread a message is in, which staff command was typed, which card
 * button was pressed. Plain functions with no SDK, so they are easy to test and to keep
 * when the transport changes.
 */
import { z } from 'zod';
import type { Agent } from '../../domain.ts';

const account = z.object({
  id: z.string().min(1).max(512),
  name: z.string().max(256).nullish(),
  aadObjectId: z.string().max(128).nullish(),
});

/** The fields of an inbound activity that the Teams channel reads. Anything else is ignored. */
export const activitySchema = z.object({
  type: z.string().min(1),
  id: z.string().min(1).max(512).nullish(),
  /** Invoke name, e.g. `adaptiveCard/action`. */
  name: z.string().nullish(),
  locale: z.string().max(32).nullish(),
  text: z.string().nullish(),
  /** An Action.Submit payload (or an invoke's value). Untrusted: parsed by the schemas below. */
  value: z.unknown().optional(),
  from: account,
  recipient: account,
  conversation: z.object({
    id: z.string().min(1).max(1024),
    conversationType: z.string().nullish(),
    tenantId: z.string().nullish(),
  }),
  channelData: z
    .object({
      tenant: z.object({ id: z.string() }).nullish(),
      team: z.object({ id: z.string(), aadGroupId: z.string().nullish() }).nullish(),
      channel: z.object({ id: z.string() }).nullish(),
      eventType: z.string().nullish(),
    })
    .nullish(),
  membersAdded: z.array(account).nullish(),
  membersRemoved: z.array(account).nullish(),
  attachments: z.array(z.unknown()).nullish(),
});
export type TeamsActivity = z.infer<typeof activitySchema>;

/** The shape of a booking reference (`K7M-4QXP`), upper case. Checked loosely: a mistyped one is then "not found", not ignored. */
const REFERENCE = /^[A-Z0-9]{3}-[A-Z0-9]{4}$/;

/** A ticket card button (Claim, Close) as it comes back from Teams. */
export const ticketSubmitSchema = z.object({
  staff: z.enum(['claim', 'close']),
  ticketId: z.string().trim().min(1).max(32),
});

/** The Confirm button of a booking cancellation as it comes back from Teams. */
export const cancelSubmitSchema = z.object({
  staff: z.literal('cancelBooking'),
  reference: z.string().trim().toUpperCase().regex(REFERENCE),
});

/** Any staff button: a ticket's Claim or Close, or the Confirm of a booking cancellation. */
export const staffSubmitSchema = z.union([ticketSubmitSchema, cancelSubmitSchema]);
export type StaffSubmitData = z.infer<typeof staffSubmitSchema>;

/** A dialog button (a rendered choice) as it comes back from Teams. */
export const dialogSubmitSchema = z.object({ action: z.string().min(1).max(300) });

/** An Action.Execute invoke: the button's `data` sits in `value.action.data`. */
export const executeSchema = z.object({ action: z.object({ type: z.string().optional(), data: z.unknown() }) });

/** The envelope the HTTP route checks before handing a body to the SDK; malformed → 400. */
export const envelopeSchema = z.looseObject({
  type: z.string().min(1),
  serviceUrl: z.string().min(1).max(2048),
  channelId: z.string().min(1),
  conversation: z.looseObject({ id: z.string().min(1) }),
  from: z.looseObject({ id: z.string().min(1) }),
});

/** The conversation reference the bot stores for the staff channel (see `ChannelRecord`). */
export const storedReferenceSchema = z.object({
  channelId: z.string().min(1),
  serviceUrl: z.string().min(1),
  conversation: z.object({
    id: z.string().min(1),
    conversationType: z.string().optional(),
    tenantId: z.string().optional(),
    isGroup: z.boolean().optional(),
  }),
  bot: z.object({ id: z.string().min(1), name: z.string().optional() }).optional(),
});
export type StoredReference = z.infer<typeof storedReferenceSchema>;

/** Teams marks a channel thread as `<channel conversation id>;messageid=<root activity id>`. */
const THREAD = /;messageid=([^;]+)$/;

/** The conversation id without any `;messageid=` suffix: the channel (or chat) itself. */
export function baseConversationId(id: string): string {
  return id.replace(THREAD, '');
}

/** The id of the thread's root post, when the conversation id names a channel thread. */
export function threadRoot(id: string): string | undefined {
  return THREAD.exec(id)?.[1];
}

/** The conversation id of the thread under `rootActivityId` in `channelConversationId`. */
export function threadId(channelConversationId: string, rootActivityId: string): string {
  return `${baseConversationId(channelConversationId)};messageid=${rootActivityId}`;
}

/** Who is writing: the AAD object id is stable across chats and teams; the channel id is the fallback. */
export function agentOf(activity: TeamsActivity): Agent {
  return { id: activity.from.aadObjectId || activity.from.id, name: activity.from.name?.trim() || activity.from.id };
}

/** How the staff team and tenant are configured. */
export interface StaffScopeConfig {
  staffTeamId?: string | undefined;
  staffTenantId?: string | undefined;
}

/** Where a staff member writes from: a channel of the staff team, or a personal chat in the staff tenant. */
export type StaffScope = 'team' | 'personal';

/** The tenant the activity comes from (Teams puts it in `channelData`, older payloads in the conversation). */
export function tenantOf(activity: TeamsActivity): string | undefined {
  return activity.channelData?.tenant?.id ?? activity.conversation.tenantId ?? undefined;
}

/** The team a channel activity comes from; undefined outside teams (personal and group chats). */
export function teamOf(activity: TeamsActivity): string | undefined {
  return activity.channelData?.team?.id ?? undefined;
}

/**
 * Staff are the members of the configured team (and tenant, when one is set), or anyone
 * of the configured tenant writing in a personal chat. Teams sets `channelData.team` and
 * `channelData.tenant` itself, and the SDK has checked the token that carries them. The
 * team may be configured by its thread id (`19:…@thread.tacv2`) or its AAD group id.
 */
export function staffScope(activity: TeamsActivity, config: StaffScopeConfig): StaffScope | undefined {
  const tenant = tenantOf(activity);
  const team = activity.channelData?.team;
  if (config.staffTeamId && team && (team.id === config.staffTeamId || team.aadGroupId === config.staffTeamId)) {
    if (!config.staffTenantId || tenant === config.staffTenantId) return 'team';
    return undefined;
  }
  if (activity.conversation.conversationType === 'personal' && config.staffTenantId && tenant === config.staffTenantId) return 'personal';
  return undefined;
}

/** A staff command, as typed (after the bot's @mention is removed). */
export type StaffCommand =
  | { name: 'queue' | 'today' | 'register' | 'help' }
  | { name: 'claim' | 'close'; ticketId?: string }
  | { name: 'bookings'; target?: string }
  | { name: 'cancel'; reference: string };

/** Ticket ids are typed by hand: accept lower case and surrounding punctuation. */
function ticketArg(raw: string | undefined): string | undefined {
  const id = raw?.replace(/^[#"'(<]+|[)"'>.,]+$/g, '').toUpperCase();
  return id && /^[\w-]{1,32}$/.test(id) ? id : undefined;
}

/**
 * Dashes a Japanese keyboard may type for the reference's hyphen (NFKC keeps them): the
 * hyphen, non-breaking hyphen, figure and en/em dashes, the minus sign and the katakana
 * prolonged sound mark.
 */
const DASHES = /[\u2010-\u2015\u2212\u30fc]/g;

/**
 * A booking reference as staff type it, read off a card or heard on the phone: any case,
 * surrounding punctuation, and a space or nothing for the hyphen (`k7m 4qxp`, `K7M4QXP`).
 * Without the hyphen a digit is required, so that words ("cancel booking", "cancel the
 * date") are never taken for a reference and still reach the dialogs.
 */
function referenceArg(words: string[]): string | undefined {
  const joined = words.join('').replace(DASHES, '-').replace(/^[#"'(<]+|[)"'>.,]+$/g, '').toUpperCase();
  if (REFERENCE.test(joined)) return joined;
  if (/^[A-Z0-9]{7}$/.test(joined) && /\d/.test(joined)) return `${joined.slice(0, 3)}-${joined.slice(3)}`;
  return undefined;
}

/**
 * Reads a staff command; undefined when the text is not one (it then goes to the dialogs).
 * Only the exact shapes count, so ordinary sentences never trigger a command.
 */
export function parseCommand(text: string): StaffCommand | undefined {
  const words = text.normalize('NFKC').trim().split(/\s+/);
  if (words[0]?.toLowerCase() === 'cancel') {
    // Only with a reference: a bare `cancel` (or "cancel this") is the dialogs' own word
    // for stopping what the agent is booking, so it must still reach them.
    const reference = words.length <= 4 ? referenceArg(words.slice(1)) : undefined;
    return reference ? { name: 'cancel', reference } : undefined;
  }
  const [head, arg, extra] = [words[0]?.toLowerCase(), words[1], words[2]];
  if (extra !== undefined) return undefined;
  switch (head) {
    case 'queue':
    case 'today':
    case 'register':
    case 'help':
      return arg === undefined ? { name: head } : undefined;
    case 'claim':
    case 'close': {
      if (arg === undefined) return { name: head };
      const ticketId = ticketArg(arg);
      return ticketId ? { name: head, ticketId } : { name: head };
    }
    case 'bookings':
      return arg === undefined ? { name: 'bookings' } : { name: 'bookings', target: arg };
    default:
      return undefined;
  }
}

/** Teams wraps typed text in a little markup: non-breaking spaces, a trailing newline. */
export function cleanText(text: string | null | undefined): string {
  return (text ?? '').replace(/&nbsp;|\u00a0/g, ' ').trim();
}
