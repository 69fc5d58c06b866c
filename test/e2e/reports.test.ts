/**
 * The office's list of bookings over HTTP: a signed link from Teams (for that list only,
 * audited as the staff member's), or the office's bearer token for offices without Teams;
 * anything else is refused, and every download is in the audit trail.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { BOOKINGS_CSV_PATH, ReportLinks } from '../../src/services/reports.ts';
import { type RunningApp, startApp } from '../support/app.ts';
import { makeBooking } from '../support/stores.ts';
import { SESSION_ID } from '../support/lineStub.ts';

const TOKEN = 'office-token-0123456789abcdef0123456789';
const SECRET = 'report-link-secret-0123456789abcdef0123';
let running: RunningApp;
const booking = makeBooking({ id: 'K7M-4QXP', sessionId: SESSION_ID, slotId: '0930', userKey: 'line:Ureport' });

beforeAll(async () => {
  running = await startApp({ REPORTS_TOKEN: TOKEN, REPORT_LINK_SECRET: SECRET });
  expect((await running.app.store.bookings.confirm(booking, Date.now())).ok).toBe(true);
});
afterAll(async () => {
  await running?.close();
});

const get = (query: string, token?: string) => fetch(`${running.url}${BOOKINGS_CSV_PATH}${query}`, token ? { headers: { authorization: `Bearer ${token}` } } : {});

it("gives the office's bearer token the list of a session, as CSV, and records it", async () => {
  const res = await get(`?target=${SESSION_ID}`, TOKEN);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toBe('text/csv; charset=utf-8');
  expect(res.headers.get('cache-control')).toBe('no-store');
  const bytes = Buffer.from(await res.arrayBuffer());
  expect([...bytes.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
  expect(bytes.toString('utf8')).toContain('K7M-4QXP');
  expect((await running.app.store.audit.recent(1))[0]).toMatchObject({ staff: 'token:reports', action: 'bookings.exported', records: [SESSION_ID, 'K7M-4QXP'] });
  // A date works too.
  expect((await get('?target=2026-12-08', TOKEN)).status).toBe(200);
  expect((await get('?target=nothing-like-a-session', TOKEN)).status).toBe(400);
});

it('opens with a signed link for that list only, audited as the staff member', async () => {
  const links = new ReportLinks(SECRET, Date.now);
  const link = links.url(running.url, BOOKINGS_CSV_PATH, 'aad-staff-1', SESSION_ID);
  const res = await fetch(link);
  expect(res.status).toBe(200);
  expect(await res.text()).toContain('K7M-4QXP');
  expect((await running.app.store.audit.recent(1))[0]).toMatchObject({ staff: 'aad-staff-1', action: 'bookings.exported' });
  // The same signature for another list, or another person, opens nothing.
  expect((await fetch(link.replace(`target=${SESSION_ID}`, 'target=2026-12-08'))).status).toBe(403);
  expect((await fetch(link.replace('by=aad-staff-1', 'by=aad-staff-2'))).status).toBe(403);
});

it('refuses a request with no credentials (403) or a wrong token (401), and lets nothing out', async () => {
  const before = (await running.app.store.audit.recent(100)).length;
  const none = await get(`?target=${SESSION_ID}`);
  expect(none.status).toBe(403);
  const wrong = await get(`?target=${SESSION_ID}`, `${TOKEN}x`);
  expect(wrong.status).toBe(401);
  expect(await wrong.text()).not.toContain('K7M-4QXP');
  expect((await running.app.store.audit.recent(100)).length).toBe(before);
});
