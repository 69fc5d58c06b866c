/**
 * `node bench/bytes.ts`: how big the bot's LINE answers are. Drives the key steps of an online
 * booking (the menu, the date choice, the time choice, the precautions after a time is
 * chosen, the summary, the booked answer) through the real engine and dialogs over a memory
 * store, renders each answer with `renderLine` and prints, per step and language, the bytes
 * of the messages array as sent (JSON.stringify, UTF-8) and the number of messages, then the
 * mean bytes over the steps. The last line printed is one JSON object.
 */
import { renderLine } from '../src/channels/line/render.ts';
import type { Reply } from '../src/turn.ts';
import { translator } from '../src/services/index.ts';
import { createBot, day, FIRST, QUESTIONS, startingWith, word } from '../test/support/chat.ts';

const LOCALES = ['ja', 'en'] as const;
type Measured = { step: string; bytes: number; messages: number };

async function journey(locale: (typeof LOCALES)[number]): Promise<Measured[]> {
  const t = translator(locale);
  const bot = createBot();
  const user = bot.lineUser(`bytes-${locale}`);
  const out: Measured[] = [];
  const measure = (step: string, replies: Reply[]) => {
    const messages = renderLine(replies);
    out.push({ step, bytes: Buffer.byteLength(JSON.stringify(messages)), messages: messages.length });
  };
  await user.type(t('language.name'));
  await user.type(word('menu', t));
  measure('menu', user.last);
  await user.type(word('book', t));
  await user.tap(t('booking.mode.online'));
  for (let i = 0; i < QUESTIONS.online; i++) await user.tap(t('booking.answer.yes'));
  measure('date choice', user.last);
  await user.tap(startingWith(day(FIRST.date, true, locale)));
  measure('time choice', user.last);
  await user.tap('9:30');
  measure('precautions', user.last);
  await user.tap(t('booking.agree'));
  await user.type('川崎 花子');
  await user.type('090-1234-5678');
  await user.type('hanako@example.jp');
  measure('summary', user.last);
  await user.tap(t('booking.confirm'));
  measure('booked', user.last);
  return out;
}

const results = Object.fromEntries(await Promise.all(LOCALES.map(async (l) => [l, await journey(l)] as const))) as Record<(typeof LOCALES)[number], Measured[]>;
const steps = results.ja.map((m) => m.step);
const mean = (l: (typeof LOCALES)[number]) => Math.round(results[l].reduce((s, m) => s + m.bytes, 0) / results[l].length);

console.log(`| step | ${LOCALES.map((l) => `${l} bytes | ${l} messages`).join(' | ')} |`);
console.log(`|---|${LOCALES.map(() => '---:|---:').join('|')}|`);
for (const [i, step] of steps.entries()) {
  console.log(`| ${step} | ${LOCALES.map((l) => `${results[l][i]!.bytes} | ${results[l][i]!.messages}`).join(' | ')} |`);
}
console.log(`| mean | ${LOCALES.map((l) => `${mean(l)} |`).join(' | ')} |`);
console.log(JSON.stringify({ steps: results, meanBytes: Object.fromEntries(LOCALES.map((l) => [l, mean(l)])) }));
