/**
 * JSON-lines logging that cannot carry personal data by construction: fields are limited
 * to numbers, booleans and short identifiers, and user ids are pseudonymised. Free text
 * (messages, names, phone numbers, emails) has no way in.
 */
import { createHash } from 'node:crypto';

type Field = string | number | boolean | undefined;
/** Only short tokens pass as strings: ids, codes, step names. */
const SAFE_STRING = /^[\w.:/@-]{0,80}$/;

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
      safe[k] = typeof v === 'string' && !SAFE_STRING.test(v) ? '[redacted]' : v;
    }
    write(`${JSON.stringify({ time: new Date().toISOString(), level: lvl, event, ...safe })}\n`);
  };
  return { info: emit('info'), warn: emit('warn'), error: emit('error') };
}
