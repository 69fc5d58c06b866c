/**
 * The parts of a Teams activity the bot acts on, validated with zod, and what they mean:
 * who is staff, which thread a message is in, which staff command was typed, which card
 * button was pressed. Plain functions with no SDK, so they are easy to test and to keep
 * when the transport changes.
 */
import { z } from 'zod';
import { type Agent, type Desk, DESKS } from '../../domain.ts';

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

const ticketId = z.string().trim().min(1).max(32);

/** How staff may close a ticket; `forwarded` is the forward's own, never chosen. */
export const CLOSING_OUTCOMES = ['answered', 'no_reply', 'spam'] as const;
export type ClosingOutcome = (typeof CLOSING_OUTCOMES)[number];

/** A ticket card button (Claim, Close, Close with an outcome) as it comes back from Teams. */
export const ticketSubmitSchema = z.object({
  staff: z.enum(['claim', 'close']),
  ticketId,
  outcome: z.enum(CLOSING_OUTCOMES).optional(),
});

/** "Send this answer" on an inquiry card: a knowledge-base entry for the ticket's citizen. */
export const answerSubmitSchema = z.object({
  staff: z.literal('answer'),
  ticketId,
  entryId: z.string().regex(/^[a-z0-9-]{1,64}$/),
});

/** "Forward" on a ticket card: the desk it goes to. */
export const forwardSubmitSchema = z.object({
  staff: z.literal('forward'),
  ticketId,
  desk: z.enum(DESKS),
});

/** The Confirm button of a booking cancellation as it comes back from Teams. */
export const cancelSubmitSchema = z.object({
  staff: z.literal('cancelBooking'),
  reference: z.string().trim().toUpperCase().regex(REFERENCE),
});

/** The lists staff page through with a "more" button. */
export const STAFF_LISTS = ['queue', 'triage', 'unanswered', 'bookings'] as const;
export type StaffList = (typeof STAFF_LISTS)[number];

/** "More" under a list: its next page, from `offset`; a bookings list names its date or session. */
export const moreSubmitSchema = z.object({
  staff: z.literal('more'),
  list: z.enum(STAFF_LISTS),
  offset: z.number().int().min(0).max(100_000),
  target: z.string().regex(/^[\w-]{1,64}$/).optional(),
});

/** Any staff button: a ticket's Claim, Close, Forward or an answer to send, the Confirm of a booking cancellation, or a list's "more". */
export const staffSubmitSchema = z.union([ticketSubmitSchema, answerSubmitSchema, forwardSubmitSchema, cancelSubmitSchema, moreSubmitSchema]);
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

/** How the staff team, the contact center's team and the tenant are configured. */
export interface StaffScopeConfig {
  staffTeamId?: string | undefined;
  staffTenantId?: string | undefined;
  /** Unset: the staff team is also the contact center. */
  contactCenterTeamId?: string | undefined;
}

/** Where a staff member writes from: a channel of the staff or contact-center team, or a personal chat in the staff tenant. */
export type StaffScope = 'team' | 'personal';

/** The tenant the activity comes from (Teams puts it in `channelData`, older payloads in the conversation). */
export function tenantOf(activity: TeamsActivity): string | undefined {
  return activity.channelData?.tenant?.id ?? activity.conversation.tenantId ?? undefined;
}

/** The team a channel activity comes from; undefined outside teams (personal and group chats). */
export function teamOf(activity: TeamsActivity): string | undefined {
  return activity.channelData?.team?.id ?? undefined;
}

/** True when the activity comes from the team configured as `teamId` (by thread id or AAD group id). */
function inTeam(activity: TeamsActivity, teamId: string | undefined): boolean {
  const team = activity.channelData?.team;
  return Boolean(teamId && team && (team.id === teamId || team.aadGroupId === teamId));
}

/**
 * The desk whose channel a team's installation registers: the contact center's for its own
 * team (when it has one apart from the staff team), the office's otherwise. In a shared
 * team `register contact` names the contact center's channel.
 */
export function deskOfTeam(activity: TeamsActivity, config: StaffScopeConfig): Desk {
  return config.contactCenterTeamId && inTeam(activity, config.contactCenterTeamId) && !inTeam(activity, config.staffTeamId) ? 'contact_center' : 'office';
}

/**
 * Staff are the members of the configured teams, the staff team's and the contact center's
 * (and of the tenant, when one is set), or anyone of the configured tenant writing in a
 * personal chat. Teams sets `channelData.team` and `channelData.tenant` itself, and the SDK
 * has checked the token that carries them. A team may be configured by its thread id
 * (`19:…@thread.tacv2`) or its AAD group id.
 */
export function staffScope(activity: TeamsActivity, config: StaffScopeConfig): StaffScope | undefined {
  const tenant = tenantOf(activity);
  if (inTeam(activity, config.staffTeamId) || inTeam(activity, config.contactCenterTeamId)) {
    if (!config.staffTenantId || tenant === config.staffTenantId) return 'team';
    return undefined;
  }
  if (activity.conversation.conversationType === 'personal' && config.staffTenantId && tenant === config.staffTenantId) return 'personal';
  return undefined;
}

/**
 * A staff command, as typed (after the bot's @mention is removed). A command missing its
 * arguments (or with a wrong one) comes without them, and is answered with its usage.
 */
export type StaffCommand =
  | { name: 'queue' | 'today' | 'help' | 'triage' | 'unanswered' }
  | { name: 'register'; desk: Desk }
  | { name: 'claim'; ticketId?: string }
  | { name: 'close'; ticketId?: string; outcome?: ClosingOutcome }
  | { name: 'forward'; ticketId?: string; desk?: Desk }
  | { name: 'category'; ticketId?: string; category?: string }
  | { name: 'bookings'; target?: string }
  | { name: 'cancel'; reference: string }
  /** Whether the citizen of a booking came (`attended`, `noshow`). */
  | { name: 'attendance'; status: 'attended' | 'no_show'; reference?: string }
  /** Per session of a date or a session id: booked, cancelled, changed, came, no-shows, invitations. */
  | { name: 'stats'; target?: string }
  /** The online meeting's link of a session (https only). */
  | { name: 'link'; sessionId?: string; slotId?: string; url?: string }
  /** The latest `count` audit entries (default 20, at most `AUDIT_MAX_SHOWN`). */
  | { name: 'audit'; count: number };

/** The most audit entries `audit <n>` shows. */
export const AUDIT_MAX_SHOWN = 50;

/** Desk names as staff type them. */
const DESK_WORDS: Record<string, Desk> = { office: 'office', contact: 'contact_center', contact_center: 'contact_center', 'contact-center': 'contact_center' };

/** Outcomes as staff type them. */
const OUTCOME_WORDS: Record<string, ClosingOutcome> = { answered: 'answered', no_reply: 'no_reply', 'no-reply': 'no_reply', noreply: 'no_reply', spam: 'spam' };

/** `map[key]` for the map's own keys only ("constructor" is a word staff may type). */
function lookup<T>(map: Record<string, T>, key: string | undefined): T | undefined {
  return key !== undefined && Object.hasOwn(map, key) ? map[key] : undefined;
}

/** A category as typed: the knowledge base's shape (`city-info`), lower case. */
function categoryArg(raw: string | undefined): string | undefined {
  const category = raw?.toLowerCase();
  return category && /^[a-z0-9][a-z0-9_-]{0,40}$/.test(category) ? category : undefined;
}

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
  const first = words[0]?.toLowerCase();
  if (first === 'attended' || first === 'noshow' || first === 'no-show') {
    const reference = words.length <= 4 ? referenceArg(words.slice(1)) : undefined;
    const status = first === 'attended' ? 'attended' : 'no_show';
    return reference ? { name: 'attendance', status, reference } : { name: 'attendance', status };
  }
  if (words[0]?.toLowerCase() === 'cancel') {
    // Only with a reference: a bare `cancel` (or "cancel this") is the dialogs' own word
    // for stopping what the agent is booking, so it must still reach them.
    const reference = words.length <= 4 ? referenceArg(words.slice(1)) : undefined;
    return reference ? { name: 'cancel', reference } : undefined;
  }
  if (first === 'link') {
    // link <session> [HHmm] <https url>: the slot's own link when a time is given.
    const [sessionId, maybeSlot, maybeUrl, rest] = words.slice(1);
    const slotId = maybeSlot && /^\d{4}$/.test(maybeSlot) ? maybeSlot : undefined;
    const url = slotId ? maybeUrl : maybeSlot;
    const fits = sessionId && url && (slotId ? rest === undefined : maybeUrl === undefined) && /^https:\/\/[^\s<>"]{4,500}$/.test(url) && URL.canParse(url);
    return fits ? { name: 'link', sessionId, url, ...(slotId ? { slotId } : {}) } : { name: 'link' };
  }
  const [head, arg, second, extra] = [words[0]?.toLowerCase(), words[1], words[2]?.toLowerCase(), words[3]];
  if (extra !== undefined) return undefined;
  // Three words only where a command takes two arguments.
  if (second !== undefined && head !== 'close' && head !== 'forward' && head !== 'category') return undefined;
  const ticketId = ticketArg(arg);
  switch (head) {
    case 'queue':
    case 'today':
    case 'help':
    case 'triage':
    case 'unanswered':
      return arg === undefined ? { name: head } : undefined;
    case 'register': {
      const desk = arg === undefined ? 'office' : lookup(DESK_WORDS, arg.toLowerCase());
      return desk ? { name: 'register', desk } : undefined;
    }
    case 'claim':
      return ticketId ? { name: 'claim', ticketId } : { name: 'claim' };
    case 'close': {
      if (!ticketId) return { name: 'close' };
      if (second === undefined) return { name: 'close', ticketId };
      const outcome = lookup(OUTCOME_WORDS, second);
      return outcome ? { name: 'close', ticketId, outcome } : { name: 'close' };
    }
    case 'forward': {
      const desk = lookup(DESK_WORDS, second);
      return ticketId && desk ? { name: 'forward', ticketId, desk } : { name: 'forward' };
    }
    case 'category': {
      const category = categoryArg(second);
      return ticketId && category ? { name: 'category', ticketId, category } : { name: 'category' };
    }
    case 'bookings':
      return arg === undefined ? { name: 'bookings' } : { name: 'bookings', target: arg };
    case 'stats':
      return arg === undefined ? { name: 'stats' } : { name: 'stats', target: arg };
    case 'audit':
      if (arg === undefined) return { name: 'audit', count: 20 };
      return /^\d{1,3}$/.test(arg) && Number(arg) > 0 ? { name: 'audit', count: Math.min(Number(arg), AUDIT_MAX_SHOWN) } : undefined;
    default:
      return undefined;
  }
}

/** Teams wraps typed text in a little markup: non-breaking spaces, a trailing newline. */
export function cleanText(text: string | null | undefined): string {
  return (text ?? '').replace(/&nbsp;|\u00a0/g, ' ').trim();
}
