/**
 * Encryption at rest for personal data in Redis: AES-256-GCM with a random 96-bit IV per
 * value, authenticated, so a tampered value fails to open instead of yielding garbage.
 * Sealed text looks like `s1:<base64 iv|tag|ciphertext>`; the prefix names the format so
 * that a later key rotation can add `s2:` without guessing.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

const PREFIX = 's1:';
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** Seals and opens text with one key. */
export interface Sealer {
  seal(plain: string): string;
  open(sealed: string): string;
}

/** True for text produced by `seal`. */
export function isSealed(text: string): boolean {
  return text.startsWith(PREFIX);
}

/** A sealer for a 32-byte key given in base64 (e.g. `openssl rand -base64 32`). */
export function createSealer(keyBase64: string): Sealer {
  const key = Buffer.from(keyBase64, 'base64');
  if (key.length !== 32) throw new Error('the data encryption key must be 32 bytes, base64-encoded');
  return {
    seal(plain) {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
      return PREFIX + Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64');
    },
    open(sealed) {
      if (!isSealed(sealed)) throw new Error('not a sealed value');
      const raw = Buffer.from(sealed.slice(PREFIX.length), 'base64');
      const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, IV_BYTES));
      decipher.setAuthTag(raw.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
      return Buffer.concat([decipher.update(raw.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]).toString('utf8');
    },
  };
}
