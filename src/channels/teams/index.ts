/**
 * Microsoft Teams, the staff side: `POST /api/messages` (the Bot Framework endpoint) and
 * the staff notifier that posts a card per ticket to the registered staff channel.
 *
 * The SDK checks the Bot Framework token. Without an app id, every request is refused with
 * 401, except in development's emulator mode, which takes unauthenticated activities from
 * loopback serviceUrls only (the local emulator; tests use it with a stub connector), so a
 * forged serviceUrl never makes the bot call out. Teams expects an answer
 * within 15 s: the route answers when the turn is done or at `ackDeadlineMs`, whichever
 * comes first, and a slower turn finishes afterwards (its messages go out through the
 * connector, not in the HTTP answer).
 */
import type { TLSSocket } from 'node:tls';
import type { Request, Server } from 'restify';
import type { Desk } from '../../domain.ts';
import type { StaffLocale } from './text.ts';
import { BodyTooLargeError, readBody } from '../../http.ts';
import { errorFields, type Logger } from '../../log.ts';
import type { TeamsMetrics } from '../../metrics.ts';
import type { KnowledgeEntry } from '../../services/knowledge.ts';
import type { StaffDesk, StaffNotifier } from '../../services/staff.ts';
import type { RunTurn } from '../../staffDesk.ts';
import type { AuditStore, ChannelStore, DedupeStore } from '../../stores/ports.ts';
import { envelopeSchema } from './activity.ts';
import type { DescribeStep } from './cards.ts';
import { TeamsTurnHandler } from './handler.ts';
import { CONTACT_CENTER_CHANNEL, channelOfDesk, loadChannel, StaffChannelError, STAFF_CHANNEL, TeamsStaffNotifier } from './notifier.ts';
import { createTransport } from './transport.ts';

export { CONTACT_CENTER_CHANNEL, StaffChannelError, STAFF_CHANNEL };

/** Teams activities are small; this bounds what a forged request can make the bot read. */
const BODY_LIMIT = 1024 * 1024;

/** Everything the Teams channel needs. Credentials and ids come from the environment (see `config.ts`). */
export interface TeamsChannelOptions {
  /** `MicrosoftAppId`. Unset: every request is refused, unless `emulator`. */
  appId?: string | undefined;
  /** `MicrosoftAppPassword`. */
  appPassword?: string | undefined;
  /** `MicrosoftAppType`: `MultiTenant`, `SingleTenant` or `UserAssignedMSI`. */
  appType?: string | undefined;
  /** `MicrosoftAppTenantId` (single-tenant and managed-identity bots). */
  tenantId?: string | undefined;
  /**
   * Development without an app id: unauthenticated activities are taken from loopback
   * serviceUrls only, and the bot writes to loopback only. Ignored with an app id.
   */
  emulator?: boolean | undefined;
  /** `STAFF_TEAM_ID`: only this team's members are staff (its `19:…@thread.tacv2` id or its AAD group id). */
  staffTeamId?: string | undefined;
  /** `STAFF_TENANT_ID`: personal chats from this tenant count as staff; also required of the team when set. */
  staffTenantId?: string | undefined;
  /** `CONTACT_CENTER_TEAM_ID`: the contact center's team, whose members are staff too; unset: the staff team. */
  contactCenterTeamId?: string | undefined;
  /** `PUBLIC_BASE_URL`: the origin of links in staff replies; unset: the host Teams' request came to. */
  publicBaseUrl?: string | undefined;
  channels: ChannelStore;
  /** The staff access trail (the store's `audit`): ticket cards posted or refreshed count as shown to their channel. */
  audit: AuditStore;
  /** Marks of activity ids already handled (the store's `dedupe`), shared with the engine. */
  dedupe: DedupeStore;
  log: Logger;
  /** Counts the connector calls that failed. */
  metrics?: TeamsMetrics;
  now: () => number;
  /** Language of ticket cards and of answers when Teams does not say the user's (default `ja`). */
  locale?: StaffLocale;
  /** The words of a ticket's step on its card (the journeys' own, from the composition root). */
  describeStep: DescribeStep;
  /** A knowledge-base entry by id: the suggested answers on inquiry cards. */
  entry: (id: string) => KnowledgeEntry | undefined;
  /** How long the route waits for a turn before acknowledging anyway (default 10 s; Teams allows 15). */
  ackDeadlineMs?: number;
  /** How long an activity id is remembered (default 24 h, as the engine). */
  dedupeTtlMs?: number;
}

/** State of a desk's channel for `/readyz`: registered and reachable, not registered, or why it is broken. */
export type TeamsHealth = 'ok' | 'unregistered' | `broken:${string}`;

/** The Teams channel: its notifier (for the handoff service and the staff desk), health and route. */
export interface TeamsChannel {
  /** Posts ticket cards to the desks' registered channels, updates them, relays into their threads. */
  notifier: StaffNotifier;
  /**
   * The state of a desk's own channel (the office's by default). An unregistered contact
   * center channel is not a fault: its cards go to the staff channel. Rejects only when the
   * store cannot be read.
   */
  health(desk?: Desk): Promise<TeamsHealth>;
  /**
   * Mounts `POST /api/messages`. The desk and the turns come here rather than in the
   * options because both are built on the dialog services, which tell staff through this
   * channel's notifier: the channel exists first.
   */
  mount(server: Server, route: TeamsRoute): void;
}

/** What the Teams route hands activities to. */
export interface TeamsRoute {
  /** Staff commands and ticket cards. */
  desk: StaffDesk;
  /** The dialogs staff use themselves (proxy booking for a caller). */
  runTurn: RunTurn;
  /** A fresh signed link to the unanswered-questions CSV under `origin` (`https://host`), for staff member `staffId`. */
  unansweredCsvUrl: (origin: string, staffId: string) => string;
  /** The same for the office's list of a date's or session's bookings (`target`). */
  bookingsCsvUrl: (origin: string, staffId: string, target: string) => string;
}

/** Where the browser of the staff member who made this request reaches the bot. */
function originOf(req: Request): string {
  const forwarded = req.headers['x-forwarded-proto'];
  const proto = (Array.isArray(forwarded) ? forwarded[0] : forwarded)?.split(',')[0]?.trim() || ((req.socket as TLSSocket).encrypted ? 'https' : 'http');
  return `${proto === 'https' ? 'https' : 'http'}://${req.headers.host ?? 'localhost'}`;
}

/** Builds the Teams channel. Nothing is sent until a ticket is opened or an activity arrives. */
export function createTeamsChannel(opts: TeamsChannelOptions): TeamsChannel {
  const { log } = opts;
  const locale = opts.locale ?? 'ja';
  const transport = createTransport({ appId: opts.appId, appPassword: opts.appPassword, appType: opts.appType, tenantId: opts.tenantId, emulator: opts.emulator, log, metrics: opts.metrics });
  if (!opts.appId && opts.emulator) log.warn('teams.auth_disabled', { note: 'no-MicrosoftAppId:loopback-requests-are-not-authenticated' });
  if (!opts.appId && !opts.emulator) log.warn('teams.endpoint_closed', { note: 'no-MicrosoftAppId:every-request-is-refused' });
  if (!opts.staffTeamId && !opts.staffTenantId && !opts.contactCenterTeamId) log.warn('teams.no_staff_configured', { note: 'everyone-is-refused' });
  const notifier = new TeamsStaffNotifier({ transport, channels: opts.channels, audit: opts.audit, log, now: opts.now, locale, describeStep: opts.describeStep, entry: opts.entry });

  return {
    notifier,

    async health(desk = 'office') {
      try {
        const { record } = await loadChannel(opts.channels, channelOfDesk(desk));
        return record.status === 'ok' ? 'ok' : `broken:${record.reason ?? 'unknown'}`;
      } catch (err) {
        if (err instanceof StaffChannelError) return err.code === 'unregistered' ? 'unregistered' : `broken:${err.code}`;
        throw err;
      }
    },

    mount(server, { desk, runTurn, unansweredCsvUrl, bookingsCsvUrl }) {
      const handler = new TeamsTurnHandler({
        runTurn,
        desk,
        entry: opts.entry,
        dedupe: opts.dedupe,
        dedupeTtlMs: opts.dedupeTtlMs ?? 24 * 3_600_000,
        channels: opts.channels,
        log,
        now: opts.now,
        staffTeamId: opts.staffTeamId,
        staffTenantId: opts.staffTenantId,
        contactCenterTeamId: opts.contactCenterTeamId,
        locale,
      });
      const ackDeadlineMs = opts.ackDeadlineMs ?? 10_000;

      server.post('/api/messages', async (req, res) => {
        let body: Record<string, unknown>;
        try {
          const raw = await readBody(req, BODY_LIMIT);
          const json: unknown = JSON.parse(raw.toString('utf8'));
          body = envelopeSchema.parse(json);
        } catch (err) {
          log.warn('teams.malformed_request', errorFields(err));
          res.send(err instanceof BodyTooLargeError ? 413 : 400, { error: 'malformed activity' });
          return;
        }
        const origin = opts.publicBaseUrl ?? originOf(req);
        const work = transport.process(body, req.headers, (turn) =>
          handler.handle(turn, { reportUrl: (staffId) => unansweredCsvUrl(origin, staffId), bookingsUrl: (staffId, target) => bookingsCsvUrl(origin, staffId, target) }),);
        let timer: NodeJS.Timeout | undefined;
        const late = new Promise<'late'>((resolve) => {
          timer = setTimeout(() => resolve('late'), ackDeadlineMs);
        });
        try {
          const answer = await Promise.race([work, late]);
          if (answer === 'late') {
            log.warn('teams.ack_before_done', { type: String(body.type) });
            work.catch((err) => log.error('teams.process_failed', errorFields(err)));
            res.send(200);
            return;
          }
          if (answer.status === 401 || answer.status === 403) {
            // The SDK's message may quote the token's claims: say only that it was refused (and why, when the transport knows).
            log.warn('teams.auth_rejected', { status: answer.status, ...(answer.refused ? { reason: answer.refused } : {}) });
            res.send(answer.status, { error: 'unauthorized' });
            return;
          }
          if (answer.status >= 400) {
            log.warn('teams.sdk_rejected', { status: answer.status });
            res.send(answer.status, { error: 'request not processed' });
            return;
          }
          if (answer.body === undefined) res.send(answer.status);
          else res.send(answer.status, answer.body);
        } catch (err) {
          log.error('teams.process_failed', errorFields(err));
          res.send(500, { error: 'processing failed' });
        } finally {
          clearTimeout(timer);
        }
      });
    },
  };
}
