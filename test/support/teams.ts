/**
 * Teams as the tests play it: the ids of the staff team and its channels, members, the
 * inbound activities Teams would POST to `/api/messages` (messages, @mentions, card
 * submits, the bot's installation), posting them, and reading the bot's answers and buttons.
 * Used by the Teams channel tests and the end-to-end tests alike.
 */
import { expect } from 'vitest';
import { buttonsOf, cardOf, type ConnectorCall, type ConnectorStub, shownText } from './connectorStub.ts';

export const TENANT = '11111111-2222-3333-4444-555555555555';
/** The ombudsman office's team and its ticket channel. */
export const STAFF_TEAM = '19:staffteam0001@thread.tacv2';
export const STAFF_CHANNEL = '19:ticketchannel01@thread.tacv2';
/** The contact center's team and its channel. */
export const CONTACT_TEAM = '19:contactteam001@thread.tacv2';
export const CONTACT_CHANNEL = '19:contactchannel1@thread.tacv2';
/** A team (and a channel) that is no staff's. */
export const OTHER_TEAM = '19:someotherteam@thread.tacv2';
export const OTHER_CHANNEL = '19:otherchannel002@thread.tacv2';
export const BOT = { id: '28:citybot-app-id', name: 'CityBot' };

/** A Teams user as an activity's `from`. */
export interface Member {
  id: string;
  aadObjectId: string;
  name: string;
}

/**
 * Where an activity comes from: a channel (of `team`, the default team unless given), at
 * its top level or in the thread of `root`; or a personal chat with the bot.
 */
export type Where = { channel: string; root?: string; team?: string; tenant?: string } | { personal: true; tenant?: string };

export interface ActivityOptions {
  /** The connector's URL, read when an activity is built (the stub starts in `beforeAll`). */
  serviceUrl: () => string;
  now: () => number;
  /** The client's locale, e.g. `ja-JP`. */
  locale: string;
  /** The team of a channel given without one. */
  team: string;
  /** Generated activity ids: `${idPrefix}1`, `${idPrefix}2`, …. */
  idPrefix: string;
  /** Who installs the bot in `install`. */
  installer: Member;
}

export type Activity = Record<string, unknown> & { id: string };

/** Builders of inbound Teams activities. */
export function teamsActivities(o: ActivityOptions) {
  let seq = 0;

  /** An inbound Teams activity, as Teams would send it. */
  function activity(from: Member, where: Where, extra: Record<string, unknown> = {}): Activity {
    const id = (extra.id as string | undefined) ?? `${o.idPrefix}${++seq}`;
    const tenant = where.tenant ?? TENANT;
    let conversation: Record<string, unknown>;
    let channelData: Record<string, unknown>;
    if ('personal' in where) {
      conversation = { id: `a:personal-${from.id}`, conversationType: 'personal', tenantId: tenant };
      channelData = { tenant: { id: tenant } };
    } else {
      const root = where.root || id;
      conversation = { id: `${where.channel};messageid=${root}`, conversationType: 'channel', tenantId: tenant, isGroup: true };
      channelData = { tenant: { id: tenant }, team: { id: where.team ?? o.team }, channel: { id: where.channel } };
    }
    return {
      type: 'message',
      id,
      channelId: 'msteams',
      serviceUrl: o.serviceUrl(),
      timestamp: new Date(o.now()).toISOString(),
      locale: o.locale,
      from,
      recipient: BOT,
      conversation,
      channelData,
      ...extra,
    };
  }

  /** A message typed in a channel, @mentioning the bot. */
  function typed(from: Member, where: Where, text: string, extra: Record<string, unknown> = {}): Activity {
    const mention = `<at>${BOT.name}</at>`;
    return activity(from, where, { text: `${mention} ${text}\n`, entities: [{ type: 'mention', text: mention, mentioned: BOT }], ...extra });
  }

  /** A card button's Action.Submit. */
  function submit(from: Member, where: Where, value: unknown): Activity {
    return activity(from, where, { value });
  }

  /** The bot installed in a channel of a team (the default team unless given). */
  function install(channel: string, team = o.team): Activity {
    return activity(o.installer, { team, channel }, {
      type: 'conversationUpdate',
      conversation: { id: channel, conversationType: 'channel', tenantId: TENANT, isGroup: true },
      membersAdded: [BOT],
      channelData: { tenant: { id: TENANT }, team: { id: team }, channel: { id: channel }, eventType: 'teamMemberAdded' },
    });
  }

  return { activity, typed, submit, install };
}

/** Posting activities to a bot at `baseUrl()` and reading its replies from the connector stub. */
export function teamsClient(baseUrl: () => string, connector: () => ConnectorStub) {
  /** POSTs a body (an object as JSON, a string as it is) to `/api/messages`. */
  function post(body: unknown): Promise<Response> {
    return fetch(`${baseUrl()}/api/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body) });
  }

  /** Posts an activity (200 expected: the turn is done when Teams gets its answer) and returns the bot's replies to it. */
  async function send(act: { id: string }): Promise<ConnectorCall[]> {
    const res = await post(act);
    expect(res.status).toBe(200);
    return connector().repliesTo(act.id);
  }

  /** What the bot's replies to an activity show. */
  async function says(act: { id: string }): Promise<string> {
    return shownIn(await send(act));
  }

  return { post, send, says };
}

/** Everything some sent activities show, joined by newlines. */
export function shownIn(calls: ConnectorCall[]): string {
  return calls.map((c) => shownText(c.activity)).join('\n');
}

/** The button titled `label` (or matching it) on the cards of some sent activities; throws, naming the others, if none. */
export function buttonIn(calls: ConnectorCall[], label: string | RegExp): { title: string; data: unknown } {
  const all = calls.flatMap((c) => buttonsOf(c.activity));
  const button = all.find((b) => (typeof label === 'string' ? b.title === label : label.test(b.title)));
  if (!button) throw new Error(`no button ${String(label)} among ${all.map((b) => b.title).join(', ')}`);
  return button;
}

/** Cards posted as new messages at the top level of a channel. */
export function cardsIn(connector: ConnectorStub, channel: string): ConnectorCall[] {
  return connector.posts(channel).filter((c) => c.activityId === undefined && cardOf(c.activity) !== undefined);
}

/**
 * One agent's personal chat with the bot: `type` writes, `tap` taps a card button by its
 * title; both return what the bot's answer shows. With `expectReplies`, each must get one.
 */
export function personalChat(
  agent: Member,
  builders: Pick<ReturnType<typeof teamsActivities>, 'activity' | 'submit'>,
  send: (act: { id: string }) => Promise<ConnectorCall[]>,
  opts: { expectReplies?: boolean } = {},
) {
  let last: ConnectorCall[] = [];
  const shown = () => shownIn(last);
  const got = (replies: ConnectorCall[]) => {
    if (opts.expectReplies) expect(replies.length).toBeGreaterThan(0);
    last = replies;
    return shown();
  };
  return {
    shown,
    async type(text: string) {
      return got(await send(builders.activity(agent, { personal: true }, { text })));
    },
    async tap(label: string | RegExp) {
      return got(await send(builders.submit(agent, { personal: true }, buttonIn(last, label).data)));
    },
    titles: () => last.flatMap((c) => buttonsOf(c.activity)).map((b) => b.title),
  };
}
