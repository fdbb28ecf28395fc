// Small helpers shared by the store modules: a per-connection statement cache (preparing costs more than running
// a simple insert, and the writer runs the same few statements millions of times) and JSON column codecs.
import type Database from 'better-sqlite3';

import type { ReadableDb } from './open.ts';

const statements = new WeakMap<Database.Database, Map<string, Database.Statement>>();

/** The prepared statement for `source` on this connection, prepared once. Values are always bound, never spliced. */
export function prepared<P extends unknown[] = unknown[], R = unknown>(
  db: ReadableDb,
  source: string,
): Database.Statement<P, R> {
  let map = statements.get(db);
  if (!map) {
    map = new Map();
    statements.set(db, map);
  }
  let stmt = map.get(source);
  if (!stmt) {
    stmt = db.prepare(source);
    map.set(source, stmt);
  }
  return stmt as unknown as Database.Statement<P, R>;
}

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** JSON for a TEXT column; `undefined` → SQL NULL. */
export function toJson(value: unknown): string | null {
  return value === undefined ? null : JSON.stringify(value);
}

export function fromJson<T = JsonValue>(text: string | null): T | null {
  return text === null ? null : (JSON.parse(text) as T);
}

/** Unix milliseconds; every store timestamp goes through an injectable clock so tests can pin time. */
export type Clock = () => number;
export const systemClock: Clock = () => Date.now();
