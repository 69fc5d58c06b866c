/**
 * The catalog of bookable services and their dated sessions. It is data edited by office
 * staff, so it is validated strictly at load time and a mistake is reported with the exact
 * field path instead of surfacing later as a wrong answer to a citizen.
 */
import { fileURLToPath } from 'node:url';
import type { DateTime } from 'luxon';
import { z } from 'zod';
import type {
  BookingWindowRule,
  Localized,
  Mode,
  OfficeContact, OfficeHours,
  Precaution,
  ScreeningQuestion,
  Service,
  Session,
} from '../domain.ts';
import { parseData, readData } from './dataFile.ts';
import { clockMinutes, isBookingOpen, isIsoDate, slotsOf, toIsoDate } from './calendar.ts';

/** The validated catalog: every session names one of the services. */
export interface Catalog {
  services: Service[];
  sessions: Session[];
}

/** The catalog shipped with the bot (`data/catalog.json`), resolved from this module so the working directory does not matter. */
export const CATALOG_FILE: string = fileURLToPath(new URL('../../data/catalog.json', import.meta.url));

// Strict objects everywhere: a misspelt optional key (e.g. "close" for "closes") would
// otherwise be dropped silently and the session would quietly fall back to the rule.

const nonBlank = z.string().refine((s) => s.trim().length > 0, { error: 'must not be empty' });

/** A catalog id: non-blank, no surrounding spaces (ids end up in keys and URLs). */
export const idSchema = z
  .string()
  .min(1, { error: 'must not be empty' })
  .refine((s) => s.trim() === s, { error: 'must not start or end with spaces' });

/** A text in every locale, none of them blank. */
export const localizedSchema = z.strictObject({ ja: nonBlank, en: nonBlank, easy: nonBlank.optional(), zh: nonBlank.optional(), ko: nonBlank.optional(), vi: nonBlank.optional() }) satisfies z.ZodType<Localized>;

/** A real calendar day written `YYYY-MM-DD`. */
export const isoDateSchema = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}$/, { error: 'expected YYYY-MM-DD' })
  .refine(isIsoDate, { error: 'expected YYYY-MM-DD, a real calendar date' });

/** A 24-hour `HH:mm` time. */
export const clockTimeSchema = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, { error: 'expected HH:mm' });

/** A consultation mode. */
export const modeSchema = z.enum(['in_person', 'online']) satisfies z.ZodType<Mode>;

const modesSchema = z
  .array(modeSchema)
  .min(1, { error: 'must list at least one mode' })
  .refine((modes) => new Set(modes).size === modes.length, { error: 'must not repeat a mode' });

/** A screening question. */
export const screeningQuestionSchema = z.strictObject({
  id: idSchema,
  modes: modesSchema,
  question: localizedSchema,
  noReason: localizedSchema,
}) satisfies z.ZodType<ScreeningQuestion>;

/** One precaution. */
export const precautionSchema = z.strictObject({
  id: idSchema,
  modes: modesSchema,
  text: localizedSchema,
}) satisfies z.ZodType<Precaution>;

/** The rule that derives booking windows. */
export const bookingWindowRuleSchema = z
  .strictObject({
    opensDayOfPreviousMonth: z.int().min(1).max(31),
    closeBusinessDaysBefore: z.int().min(0),
    opensAt: clockTimeSchema,
    closesAt: clockTimeSchema,
  }) satisfies z.ZodType<BookingWindowRule>;

const phoneSchema = z.string().regex(/^\d[\d-]{5,}\d$/, { error: 'expected a phone number (digits and hyphens)' });

/** How to reach a service's office. */
export const officeHoursSchema = z
  .strictObject({ days: z.enum(['business', 'daily']), from: clockTimeSchema, to: clockTimeSchema })
  .refine((h) => clockMinutes(h.from) < clockMinutes(h.to), { error: 'from must be before to', path: ['to'] }) satisfies z.ZodType<OfficeHours>;

export const officeContactSchema = z.strictObject({
  name: localizedSchema,
  phone: phoneSchema,
  email: z.email({ error: 'expected an email address' }),
  hours: localizedSchema,
  open: officeHoursSchema,
}) satisfies z.ZodType<OfficeContact>;

const hourRangeSchema = z
  .strictObject({ start: clockTimeSchema, end: clockTimeSchema })
  .refine((r) => clockMinutes(r.start) < clockMinutes(r.end), { error: 'start must be before end', path: ['end'] });

/** Times offered per session: LINE's 13 quick replies, less one for Back. */
const MAX_SLOTS_PER_SESSION = 12;

/** A bookable service, with cross-field checks (mode subsets, unique ids, ordered hours). */
export const serviceSchema = z
  .strictObject({
    id: idSchema,
    name: localizedSchema,
    description: localizedSchema,
    modes: modesSchema,
    slotMinutes: z.int().min(5).max(240),
    hours: z.array(hourRangeSchema).min(1, { error: 'must list at least one range' }),
    window: bookingWindowRuleSchema,
    screening: z.array(screeningQuestionSchema),
    precautions: z.strictObject({ version: idSchema, items: z.array(precautionSchema) }),
    office: officeContactSchema,
    alternatives: z.array(z.strictObject({ name: localizedSchema, phone: phoneSchema, hours: localizedSchema, open: officeHoursSchema })),
  })
  .superRefine((service, ctx) => {
    // LINE shows at most 13 quick replies: every time of a session plus Back must fit.
    if (slotsOf(service).length > MAX_SLOTS_PER_SESSION) {
      ctx.addIssue({ code: 'custom', path: ['slotMinutes'], message: `gives more than ${MAX_SLOTS_PER_SESSION} slots per session` });
    }
    const offered = new Set<Mode>(service.modes);
    const checkModes = (list: { modes: Mode[] }[], at: (string | number)[]): void => {
      list.forEach((item, i) =>
        item.modes.forEach((mode, j) => {
          if (!offered.has(mode)) {
            ctx.addIssue({ code: 'custom', path: [...at, i, 'modes', j], message: `mode "${mode}" is not one of the service's modes` });
          }
        }),
      );
    };
    checkModes(service.screening, ['screening']);
    checkModes(service.precautions.items, ['precautions', 'items']);
    duplicateIds(service.screening, ['screening'], ctx);
    duplicateIds(service.precautions.items, ['precautions', 'items'], ctx);
    service.hours.forEach((range, i) => {
      const previous = service.hours[i - 1];
      if (previous && clockMinutes(range.start) < clockMinutes(previous.end)) {
        ctx.addIssue({ code: 'custom', path: ['hours', i, 'start'], message: 'ranges must be in order and must not overlap' });
      }
    });
    if (service.hours.every((r) => clockMinutes(r.end) - clockMinutes(r.start) < service.slotMinutes)) {
      ctx.addIssue({ code: 'custom', path: ['slotMinutes'], message: 'no slot of this length fits in the hours' });
    }
  }) satisfies z.ZodType<Service>;

/** A dated session; explicit `opens` / `closes` must fall in order before the session day. */
export const sessionSchema = z
  .strictObject({
    id: idSchema,
    serviceId: idSchema,
    date: isoDateSchema,
    place: localizedSchema,
    host: localizedSchema,
    opens: isoDateSchema.optional(),
    closes: isoDateSchema.optional(),
    meetingUrl: z.url({ protocol: /^https$/ }).optional(),
  })
  .superRefine((session, ctx) => {
    // ISO dates compare correctly as strings.
    if (session.opens !== undefined && session.opens > session.date) {
      ctx.addIssue({ code: 'custom', path: ['opens'], message: 'must not be after the session date' });
    }
    if (session.closes !== undefined && session.closes > session.date) {
      ctx.addIssue({ code: 'custom', path: ['closes'], message: 'must not be after the session date' });
    }
    if (session.opens !== undefined && session.closes !== undefined && session.opens > session.closes) {
      ctx.addIssue({ code: 'custom', path: ['closes'], message: 'must not be before opens' });
    }
  }) satisfies z.ZodType<Session>;

/** The whole catalog file, with the references between services and sessions checked. */
export const catalogSchema = z
  .strictObject({
    services: z.array(serviceSchema).min(1, { error: 'must list at least one service' }),
    sessions: z.array(sessionSchema),
  })
  .superRefine((catalog, ctx) => {
    duplicateIds(catalog.services, ['services'], ctx);
    duplicateIds(catalog.sessions, ['sessions'], ctx);
    const serviceIds = new Set(catalog.services.map((s) => s.id));
    catalog.sessions.forEach((session, i) => {
      if (!serviceIds.has(session.serviceId)) {
        ctx.addIssue({ code: 'custom', path: ['sessions', i, 'serviceId'], message: `unknown service "${session.serviceId}"` });
      }
    });
  }) satisfies z.ZodType<Catalog>;

function duplicateIds(list: { id: string }[], at: (string | number)[], ctx: z.RefinementCtx): void {
  const seen = new Map<string, number>();
  list.forEach((item, i) => {
    const first = seen.get(item.id);
    if (first === undefined) seen.set(item.id, i);
    else ctx.addIssue({ code: 'custom', path: [...at, i, 'id'], message: `duplicate id "${item.id}" (also at index ${first})` });
  });
}

/** `sessions[3].date` from `['sessions', 3, 'date']`. */
/**
 * Validates parsed catalog JSON.
 * @param source Named in the error message (e.g. the file name) so the editor knows where to look.
 * @throws DataFileError naming every failing field path, e.g. `catalog: sessions[3].date: expected YYYY-MM-DD`.
 */
export function parseCatalog(json: unknown, source?: string): Catalog {
  return parseData(catalogSchema, json, source === undefined ? 'catalog' : `catalog ${source}`);
}

/**
 * Reads and validates a catalog file.
 * @throws DataFileError naming the file when it cannot be read or is not JSON, and the field paths when it does not validate.
 */
export function loadCatalog(file: string): Catalog {
  return readData(catalogSchema, file, 'catalog');
}

/** The service with that id, if any. */
export function serviceById(catalog: Catalog, id: string): Service | undefined {
  return catalog.services.find((s) => s.id === id);
}

/** The session with that id, if any. */
export function sessionById(catalog: Catalog, id: string): Session | undefined {
  return catalog.sessions.find((s) => s.id === id);
}

/** The sessions of a service, earliest first (the file's order is not trusted). */
export function sessionsOf(catalog: Catalog, serviceId: string): Session[] {
  return catalog.sessions
    .filter((s) => s.serviceId === serviceId)
    .sort((a, b) => (a.date < b.date ? -1 : a.date > b.date ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/** Sessions of any service held today (JST) or later, earliest first: those with live appointments. */
export function upcomingSessions(catalog: Catalog, now: DateTime): Session[] {
  const today = toIsoDate(now);
  return catalog.sessions.filter((s) => s.date >= today).sort((a, b) => a.date.localeCompare(b.date));
}

/** The sessions of a service that can be booked at `now`, earliest first; empty for an unknown service. */
export function openSessions(catalog: Catalog, serviceId: string, now: DateTime): Session[] {
  const service = serviceById(catalog, serviceId);
  if (!service) return [];
  return sessionsOf(catalog, serviceId).filter((session) => isBookingOpen(session, service, now));
}
