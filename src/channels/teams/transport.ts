/**
 * The only file that knows the Teams SDK (botbuilder, archived upstream). It turns an
 * HTTP body into a turn, sends and updates messages, and writes proactively to a stored
 * conversation reference. Everything else in the Teams channel speaks `InboundTurn`,
 * `Outgoing` and `StoredReference`, so moving to `@microsoft/agents-hosting` means
 * rewriting this file alone.
 */
import type { IncomingHttpHeaders } from 'node:http';
import {
  type Activity,
  ActivityTypes,
  CardFactory,
  type ChannelAccount,
  CloudAdapter,
  ConfigurationBotFrameworkAuthentication,
  type ConversationAccount,
  type ConversationReference,
  TurnContext,
} from 'botbuilder';
import { type Logger } from '../../log.ts';
import type { TeamsMetrics, TeamsOp } from '../../metrics.ts';
import { baseConversationId, type StoredReference } from './activity.ts';
import type { Outgoing } from './cards.ts';

/** Bot Framework credentials: `MicrosoftAppId`, `MicrosoftAppPassword`, `MicrosoftAppType`, `MicrosoftAppTenantId`. */
export interface TransportOptions {
  appId?: string | undefined;
  appPassword?: string | undefined;
  appType?: string | undefined;
  tenantId?: string | undefined;
  /**
   * Without an app id: take unauthenticated activities whose serviceUrl is loopback (the
   * local emulator, the tests' stub connector), and write to loopback serviceUrls only.
   * Development only. Unset or false, without an app id every request is refused and
   * nothing is sent.
   */
  emulator?: boolean | undefined;
  log: Logger;
  /** Counts the connector calls that failed. */
  metrics?: TeamsMetrics | undefined;
}

/** One inbound activity, while its turn runs. */
export interface InboundTurn {
  /** The activity as received (already checked by the SDK's authentication). */
  readonly activity: unknown;
  /** The typed text without the bot's @mention (Teams channels require the mention). */
  textWithoutMention(): string | undefined;
  /** This conversation's reference, fit to store: channel-level id, no user, no activity id. */
  reference(): StoredReference;
  /** Sends messages into the activity's conversation (a channel post lands in its thread). */
  send(messages: Outgoing[]): Promise<void>;
  /** Answers an invoke (Action.Execute) in the HTTP response. */
  respondToInvoke(status: number, body: unknown): Promise<void>;
}

/** What the SDK answered for an HTTP request. */
export interface HttpAnswer {
  status: number;
  body?: unknown;
  /**
   * Set when the transport refused the request before the SDK saw it: `unauthenticated`
   * (no app id, and not the emulator mode: 401) or `untrusted_service_url` (the emulator
   * mode, with a serviceUrl that is not loopback: 403).
   */
  refused?: 'unauthenticated' | 'untrusted_service_url';
}

/** Thrown instead of writing to a serviceUrl that came with no validated token. */
export class UntrustedServiceUrlError extends Error {
  constructor() {
    super('refused to write to a serviceUrl that came with no validated Bot Framework token');
    this.name = 'UntrustedServiceUrlError';
  }
}

/** Sending to Teams. Rejections carry the HTTP status where Teams answered one (see `statusOf`). */
export interface Transport {
  /**
   * Authenticates the request (the Bot Framework token; without an app id, only the
   * emulator mode's loopback serviceUrls are taken) and runs `onTurn`. Resolves when the
   * turn is done.
   */
  process(body: Record<string, unknown>, headers: IncomingHttpHeaders, onTurn: (turn: InboundTurn) => Promise<void>): Promise<HttpAnswer>;
  /** Posts a new message into `conversationId` (a channel, or a thread of it); the new activity's id. */
  post(reference: StoredReference, conversationId: string, message: Outgoing): Promise<string>;
  /** Replaces the message `activityId` in `conversationId`. */
  update(reference: StoredReference, conversationId: string, activityId: string, message: Outgoing): Promise<void>;
}

/** The HTTP status of a failed Teams call (the connector's RestError carries `statusCode`). */
export function statusOf(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const e = err as { statusCode?: unknown; status?: unknown; response?: { status?: unknown } };
  for (const v of [e.statusCode, e.status, e.response?.status]) if (typeof v === 'number') return v;
  return undefined;
}

function toActivity(message: Outgoing): Partial<Activity> {
  if (message.kind === 'text') {
    return { type: ActivityTypes.Message, text: message.text, textFormat: message.plain ? 'plain' : 'markdown' };
  }
  return { type: ActivityTypes.Message, summary: message.summary, attachments: [CardFactory.adaptiveCard(message.card)] };
}

/** A serviceUrl on this machine: the local emulator's, or the tests' stub connector's. */
function isLoopback(serviceUrl: string): boolean {
  let url: URL;
  try {
    url = new URL(serviceUrl);
  } catch {
    return false;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return false;
  return url.hostname === 'localhost' || url.hostname === '[::1]' || /^127(?:\.\d{1,3}){3}$/.test(url.hostname);
}

/** The reference the SDK wants, pointed at `conversationId`. */
function toReference(stored: StoredReference, conversationId: string): Partial<ConversationReference> {
  // Teams needs only the id (and the tenant, for personal chats); the other fields are optional in practice.
  const conversation = { ...stored.conversation, id: conversationId } as ConversationAccount;
  const bot: ChannelAccount | undefined = stored.bot ? { id: stored.bot.id, name: stored.bot.name ?? '' } : undefined;
  return { channelId: stored.channelId, serviceUrl: stored.serviceUrl, conversation, ...(bot ? { bot } : {}) };
}

/** A response object that remembers what the SDK answered, so the route decides when to send it. */
function capture(): { res: { socket: unknown; status(code: number): void; send(body: unknown): void; header(): void; end(): void }; answer: () => HttpAnswer } {
  let status = 200;
  let body: unknown;
  return {
    res: {
      socket: undefined,
      status: (code: number) => {
        status = code;
      },
      send: (b: unknown) => {
        body = b;
      },
      header: () => undefined,
      end: () => undefined,
    },
    answer: () => ({ status, ...(body === undefined ? {} : { body }) }),
  };
}

/** Builds the SDK adapter from the Bot Framework settings. */
export function createTransport(opts: TransportOptions): Transport {
  const auth = new ConfigurationBotFrameworkAuthentication({
    ...(opts.appId ? { MicrosoftAppId: opts.appId } : {}),
    ...(opts.appPassword ? { MicrosoftAppPassword: opts.appPassword } : {}),
    ...(opts.appType ? { MicrosoftAppType: opts.appType } : {}),
    ...(opts.tenantId ? { MicrosoftAppTenantId: opts.tenantId } : {}),
  });
  const adapter = new CloudAdapter(auth);
  // No onTurnError: it would swallow the errors of proactive sends, which the notifier
  // must see (403 → broken channel). Inbound turns catch their own errors (see handler).
  const appId = opts.appId ?? '';
  /**
   * With an app id the SDK sends only where a validated token said (inbound activities are
   * authenticated, stored references come from them). Without one, nothing but loopback in
   * the emulator mode: a forged serviceUrl must never make the bot call out.
   */
  const trusted = (serviceUrl: string) => appId !== '' || (opts.emulator === true && isLoopback(serviceUrl));
  /** `call`, its failure counted. */
  const counted = <T>(op: TeamsOp, call: Promise<T>): Promise<T> =>
    call.catch((err: unknown) => {
      opts.metrics?.teamsError(op, statusOf(err), err);
      throw err;
    });

  /** Proactive turns: the continuation activity's random id must not become a reply target. */
  const proactive = async (reference: StoredReference, conversationId: string, logic: (ctx: TurnContext) => Promise<void>) => {
    if (!trusted(reference.serviceUrl)) throw new UntrustedServiceUrlError();
    await adapter.continueConversationAsync(appId, toReference(reference, conversationId), async (ctx) => {
      ctx.onSendActivities(async (_ctx, activities, next) => {
        for (const a of activities) delete a.replyToId;
        return next();
      });
      ctx.onUpdateActivity(async (_ctx, activity, next) => {
        delete activity.replyToId;
        return next();
      });
      await logic(ctx);
    });
  };

  return {
    async process(body, headers, onTurn) {
      if (appId === '' && !opts.emulator) return { status: 401, refused: 'unauthenticated' };
      if (typeof body.serviceUrl !== 'string' || !trusted(body.serviceUrl)) return { status: 403, refused: 'untrusted_service_url' };
      const { res, answer } = capture();
      await adapter.process({ body, headers, method: 'POST' }, res, async (ctx) => {
        await onTurn({
          activity: ctx.activity,
          textWithoutMention: () => {
            if (typeof ctx.activity.text !== 'string') return undefined;
            TurnContext.removeRecipientMention(ctx.activity);
            return ctx.activity.text;
          },
          reference: () => {
            const ref = TurnContext.getConversationReference(ctx.activity);
            const conv = ref.conversation;
            return {
              channelId: ref.channelId ?? 'msteams',
              serviceUrl: ref.serviceUrl ?? '',
              conversation: {
                id: baseConversationId(conv?.id ?? ''),
                ...(conv?.conversationType ? { conversationType: conv.conversationType } : {}),
                ...(conv?.tenantId ? { tenantId: conv.tenantId } : {}),
                ...(typeof conv?.isGroup === 'boolean' ? { isGroup: conv.isGroup } : {}),
              },
              ...(ref.bot?.id ? { bot: { id: ref.bot.id, ...(ref.bot.name ? { name: ref.bot.name } : {}) } } : {}),
            };
          },
          send: async (messages) => {
            if (messages.length > 0) await counted('reply', ctx.sendActivities(messages.map(toActivity)));
          },
          respondToInvoke: async (status, responseBody) => {
            await ctx.sendActivity({ type: ActivityTypes.InvokeResponse, value: { status, body: responseBody } });
          },
        });
      });
      return answer();
    },

    async post(reference, conversationId, message) {
      let id: string | undefined;
      await counted(
        'post',
        proactive(reference, conversationId, async (ctx) => {
          id = (await ctx.sendActivity(toActivity(message)))?.id;
        }),
      );
      if (!id) throw new Error('Teams accepted the message but returned no activity id');
      return id;
    },

    async update(reference, conversationId, activityId, message) {
      await counted(
        'update',
        proactive(reference, conversationId, async (ctx) => {
          await ctx.updateActivity({ ...toActivity(message), id: activityId });
        }),
      );
    },
  };
}
