/**
 * Data files the city edits (the catalog, the knowledge base, the urgent patterns) are read
 * and validated the same way at start-up: a mistake stops start-up with a message naming the
 * file and each failing field, instead of surfacing later as a wrong answer to a citizen.
 */
import { readFileSync } from 'node:fs';
import type { z } from 'zod';

/** Thrown when a data file cannot be read or does not validate; the message names each failing field path. */
export class DataFileError extends Error {
  /** One entry per problem, each `path: message`, for logs and tests. */
  readonly problems: string[];

  /** `problems` is empty when the file could not be read or parsed at all. */
  constructor(message: string, problems: string[] = [], options?: ErrorOptions) {
    super(message, options);
    this.name = 'DataFileError';
    this.problems = problems;
  }
}

/** `['sessions', 3, 'date']` → `sessions[3].date`. */
function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += out === '' ? String(key) : `.${String(key)}`;
  }
  return out;
}

/**
 * Validates parsed JSON against `schema`.
 * @param label Starts the error message (e.g. `catalog data/catalog.json`) so the editor knows where to look.
 * @throws DataFileError naming every failing field path, e.g. `catalog: sessions[3].date: expected YYYY-MM-DD`.
 */
export function parseData<T>(schema: z.ZodType<T>, json: unknown, label: string): T {
  const result = schema.safeParse(json);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const path = formatPath(issue.path);
    return path === '' ? issue.message : `${path}: ${issue.message}`;
  });
  throw new DataFileError(`${label}: ${problems.join('; ')}`, problems, { cause: result.error });
}

/**
 * Reads a JSON data file and validates it.
 * @param kind What the file is (`catalog`, `knowledge`), first in every message.
 * @throws DataFileError naming the file when it cannot be read or is not JSON, and the field paths when it does not validate.
 */
export function readData<T>(schema: z.ZodType<T>, file: string, kind: string): T {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new DataFileError(`${kind} ${file}: cannot read: ${(err as Error).message}`, [], { cause: err });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new DataFileError(`${kind} ${file}: invalid JSON: ${(err as Error).message}`, [], { cause: err });
  }
  return parseData(schema, json, `${kind} ${file}`);
}
