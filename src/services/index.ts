/** Builds the services the dialogs use, the same way for the app and for tests. */
import type { DialogServices } from '../turn.ts';
import { loadTranslator } from '../i18n.ts';
import type { Logger } from '../log.ts';
import type { Store } from '../stores/ports.ts';
import { BookingService } from './booking.ts';
import type { Catalog } from './catalog.ts';
import { HandoffService } from './handoff.ts';
import { NO_STAFF_NOTIFIER, type StaffNotifier } from './staff.ts';

export interface DialogServiceOptions {
  store: Store;
  catalog: Catalog;
  holdMinutes: number;
  /** Days after a session that its bookings are kept (default 30). */
  bookingRetentionDays?: number;
  log: Logger;
  /** Where staff hear of tickets; none by default (tickets wait in the queue). */
  notifier?: StaffNotifier;
}

/** The translations, loaded once per process: the dialogs and the staff cards' step words share them. */
export const translator = loadTranslator();

export function createDialogServices(opts: DialogServiceOptions): DialogServices {
  return {
    catalog: opts.catalog,
    bookings: new BookingService(opts.store.bookings, opts.catalog, opts.holdMinutes, opts.bookingRetentionDays),
    handoff: new HandoffService(opts.store.tickets, opts.notifier ?? NO_STAFF_NOTIFIER, opts.log),
    translator,
  };
}
