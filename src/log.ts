/**
 * JSON-lines logging that keeps personal data out: fields are limited to numbers, booleans
 * and short identifier-like strings (no spaces, no email address, no run of 10 or more
 * digits, so no free text, email address or phone number passes), and user ids are pseudonymised.
 */
import { createHash } from 'node:crypto';

type Field = string | number | boolean | undefined;
/** Only short tokens pass as strings: ids, codes, step names (Teams ids contain `@`). */
const SAFE_STRING = /^(?!.*\d{10})[\w.:/@-]{0,80}$/;
/** An email address (a Teams id like `19:abc@thread.tacv2` has a `:` before its `@`). */
const EMAIL = /^[^@:/]+@[^@]+\.[a-z]{2,}$/i;

export interface Logger {
  info(event: string, fields?: Record<string, Field>): void;
  warn(event: string, fields?: Record<string, Field>): void;
  error(event: string, fields?: Record<string, Field>): void;
}

/** A stable, non-reversible stand-in for a user id, so log lines can be correlated. */
export function pseudonym(id: string): string {
  return createHash('sha256').update(id).digest('base64url').slice(0, 12);
}

/** What may be logged about an error: its class and code, never its message (it may quote input). */
export function errorFields(err: unknown): Record<string, Field> {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return { error: err.name, ...(typeof code === 'string' || typeof code === 'number' ? { code } : {}) };
  }
  return { error: typeof err };
}

/** A logger writing one JSON object per line to `write` (stdout by default). */
export function createLogger(level: 'debug' | 'info' | 'warn' | 'error' | 'silent' = 'info', write: (line: string) => void = (l) => process.stdout.write(l)): Logger {
  const order = { debug: 0, info: 1, warn: 2, error: 3, silent: 4 };
  const emit = (lvl: 'info' | 'warn' | 'error') => (event: string, fields: Record<string, Field> = {}) => {
    if (order[lvl] < order[level]) return;
    const safe: Record<string, Field> = {};
    for (const [k, v] of Object.entries(fields)) {
      safe[k] = typeof v === 'string' && (!SAFE_STRING.test(v) || EMAIL.test(v)) ? '[redacted]' : v;
    }
    write(`${JSON.stringify({ time: new Date().toISOString(), level: lvl, event, ...safe })}\n`);
  };
  return { info: emit('info'), warn: emit('warn'), error: emit('error') };
}
