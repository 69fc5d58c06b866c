/** Tickets and a log capture for the notifier tests. */
import type { Ticket } from '../../src/domain.ts';
import { createLogger, type Logger } from '../../src/log.ts';

/** A claimed-or-not ticket of a LINE citizen (the user key is personal: it must not leak). */
export function ticket(over: Partial<Ticket> = {}): Ticket {
  return {
    id: 'TK7-ABCD',
    userKey: 'line:U0123456789abcdef0123456789abcdef',
    channel: 'line',
    locale: 'ja',
    reason: 'requested',
    priority: 'high',
    category: 'ombudsman',
    serviceId: 'ombudsman',
    context: 'booking:time:in_person',
    status: 'open',
    createdAt: '2026-11-24T01:00:00.000Z',
    ...over,
  };
}

export const AGENT = { id: 'aad-0001', name: 'Sato Hanako' };

export function captureLog(): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  return { log: createLogger('info', (l) => lines.push(l)), lines };
}
