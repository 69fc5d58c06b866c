/**
 * Small helpers that turn domain values into words and buttons. Formats come from the
 * locale files, so that no user-facing text lives in code.
 */
import { DateTime } from 'luxon';
import { type ClockTime, type IsoDate, LOCALE_TAGS, type Locale, ZONE } from '../src/domain.ts';
import { type Action, encodeAction } from './actions.ts';
import type { Choice, Reply, Translate } from '../src/turn.ts';

/** A button that sends `action`. */
export function choice(label: string, action: Action): Choice {
  return { label, data: encodeAction(action) };
}

/** A text reply, with buttons if given. */
export function say(text: string, choices?: Choice[]): Reply {
  return choices && choices.length > 0 ? { kind: 'text', text, choices } : { kind: 'text', text };
}

/** The reply with its buttons' numbers shown: for lists whose labels are long to type (dates, bookings). */
export function numbered(reply: Reply): Reply {
  return { ...reply, numbered: true };
}

/** A time's button, under the morning or afternoon heading. */
export function timeChoice(slotId: string, action: Action, t: Translate): Choice {
  return { ...choice(slotIdToTime(slotId), action), group: t(Number(slotId.slice(0, 2)) < 12 ? 'common.morning' : 'common.afternoon') };
}

/** Adds buttons to the last reply (LINE shows quick replies on the last message only). */
export function withChoices(replies: Reply[], choices: Choice[]): Reply[] {
  const last = replies.at(-1);
  if (!last) return [say('', choices)];
  return [...replies.slice(0, -1), { ...last, choices: [...(last.choices ?? []), ...choices] }];
}

/** `2026-12-08` → the locale's date format (`format.date`), e.g. `Tue, 8 Dec` in English. */
export function formatDate(date: IsoDate, locale: Locale, t: Translate, short = false): string {
  return DateTime.fromISO(date, { zone: ZONE })
    .setLocale(LOCALE_TAGS[locale])
    .toFormat(t(short ? 'format.shortDate' : 'format.date'));
}

/** `09:30` → `9:30`. */
export function formatTime(time: ClockTime): string {
  return time.replace(/^0/, '');
}

/** A slot id (`0930`) as a clock time (`9:30`). */
export function slotIdToTime(slotId: string): string {
  return formatTime(`${slotId.slice(0, 2)}:${slotId.slice(2)}`);
}

/** Normalises typed text for matching against keywords and button labels. */
export function normalize(text: string): string {
  return text.normalize('NFKC').trim().toLowerCase().replace(/[\s。、.!！?？]+$/u, '');
}
