/** Builds the services the dialogs use, the same way for the app and for tests. */
import type { DialogServices } from '../turn.ts';
import { loadTranslator } from '../i18n.ts';
import { createLimits, type Limits } from '../limits.ts';
import type { Logger } from '../log.ts';
import type { BookingMetrics } from '../metrics.ts';
import type { Store } from '../stores/ports.ts';
import { BookingService } from './booking.ts';
import type { Catalog } from './catalog.ts';
import type { BookingEvents } from './ports.ts';
import { loadConfig } from '../config.ts';
import { ErasureService } from './erasure.ts';
import { HandoffService } from './handoff.ts';
import type { FaqThresholds } from './faq.ts';
import { buildQuestionBrain, type QuestionBrain, QuestionService } from './questions.ts';
import { NO_STAFF_NOTIFIER, type StaffNotifier } from './staff.ts';

export interface DialogServiceOptions {
  store: Store;
  catalog: Catalog;
  holdMinutes: number;
  /** How long after it was first taken a renewed hold may last (default 2 × holdMinutes). */
  holdMaxMinutes?: number;
  /** Days after a session that its bookings are kept (default 30). */
  bookingRetentionDays?: number;
  log: Logger;
  /** Where staff hear of tickets; none by default (tickets wait in the queue). */
  notifier?: StaffNotifier;
  /** Counts new tickets per user (TICKETS_PER_HOUR); by default in this process, with the default budget. */
  limits?: Limits;
  /** The knowledge base, matcher and urgent patterns; by default the shipped ones with the default thresholds. */
  brain?: QuestionBrain;
  /** Hears of bookings written and cancelled (the messages after a booking); none by default. */
  bookingEvents?: BookingEvents;
  /** Counts holds and bookings; none by default. */
  metrics?: BookingMetrics;
}

const brains = new Map<string, QuestionBrain>();

/**
 * The knowledge base and matcher for these thresholds and file, built once per process
 * (loading the analyser takes 0.4 s): every app and test in the process shares it.
 */
export function questionBrain(thresholds: FaqThresholds, knowledgeFile?: string): QuestionBrain {
  const key = JSON.stringify([thresholds.answer, thresholds.margin, thresholds.offer, knowledgeFile ?? null]);
  let brain = brains.get(key);
  if (!brain) brains.set(key, (brain = buildQuestionBrain(thresholds, knowledgeFile)));
  return brain;
}

/** The shipped knowledge base with the default thresholds. */
export function defaultQuestionBrain(): QuestionBrain {
  return questionBrain(loadConfig({}).faq);
}

/** The translations, loaded once per process: the dialogs and the staff cards' step words share them. */
export const translator = loadTranslator();

export function createDialogServices(opts: DialogServiceOptions): DialogServices {
  const listener = opts.bookingEvents ? { events: opts.bookingEvents, log: opts.log } : undefined;
  const bookings = new BookingService(opts.store.bookings, opts.store.moves, opts.catalog, opts.holdMinutes, opts.bookingRetentionDays, opts.holdMaxMinutes, listener, opts.metrics);
  const limits = opts.limits ?? createLimits({ rules: loadConfig({}).limits, prefix: '', log: opts.log });
  const handoff = new HandoffService(opts.store.tickets, opts.notifier ?? NO_STAFF_NOTIFIER, limits, opts.log);
  return {
    catalog: opts.catalog,
    bookings,
    handoff,
    erasure: new ErasureService(bookings, handoff, opts.store.audit, opts.log),
    knowledge: new QuestionService(opts.brain ?? defaultQuestionBrain(), opts.store.feedback),
    translator,
  };
}
