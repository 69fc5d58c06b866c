import { randomInt } from 'node:crypto';

/**
 * Letters and digits that cannot be confused when read aloud or handwritten:
 * no 0/O, no 1/I/L, and no U (heard as "you") either.
 */
const ALPHABET = '23456789ABCDEFGHJKMNPQRSTVWXYZ';

/**
 * A booking reference such as `K7M-4QXP`: 7 symbols from a 30-letter alphabet (about
 * 2 * 10^10 values), grouped so that it is easy to read over the phone.
 */
export function newReference(): string {
  let s = '';
  for (let i = 0; i < 7; i++) s += ALPHABET[randomInt(ALPHABET.length)];
  return `${s.slice(0, 3)}-${s.slice(3)}`;
}

/** True when `text` has the shape of a reference (e.g. to check one read back by a caller). */
export function isReference(text: string): boolean {
  return new RegExp(`^[${ALPHABET}]{3}-[${ALPHABET}]{4}$`).test(text);
}
