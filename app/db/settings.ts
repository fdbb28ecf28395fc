// Workspace settings as stored: one JSON value per key (migrations/0100_settings.sql). This module only reads and
// writes rows; which keys exist and what their values may be is app/use-cases/settings.ts's business, and it
// validates what it reads here as well as what it writes.
import type { ReadableDb, WritableDb } from './open.ts';
import type { Clock, JsonValue } from './sql.ts';
import { prepared, systemClock } from './sql.ts';

/**
 * Every stored key with its parsed value, and the keys whose value is not JSON at all (with why). The table's CHECK
 * (json_valid) keeps ordinary writes out, but a hand edit that ignores it must not stop the workspace from opening:
 * JSON.parse threw here, which failed settings/get and every createAppContext on the folder.
 */
export function readSettingRows(db: ReadableDb): {
  values: Record<string, JsonValue>;
  unreadable: { key: string; message: string }[];
} {
  const rows = prepared<unknown[], { key: string; value: string }>(
    db,
    'SELECT key, value FROM settings ORDER BY key',
  ).all();
  const values: Record<string, JsonValue> = {};
  const unreadable: { key: string; message: string }[] = [];
  for (const r of rows) {
    try {
      values[r.key] = JSON.parse(r.value) as JsonValue;
    } catch (error) {
      unreadable.push({ key: r.key, message: `not valid JSON (${(error as Error).message})` });
    }
  }
  return { values, unreadable };
}

/** Writes every key of `patch` in one transaction; a null value removes the key (back to automatic). */
export function writeSettingRows(
  db: WritableDb,
  patch: Readonly<Record<string, JsonValue | undefined>>,
  now: Clock = systemClock,
): void {
  const upsert = prepared(
    db,
    `INSERT INTO settings (key, value, updated_at) VALUES (?, ?, ?)
     ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
  );
  const remove = prepared(db, 'DELETE FROM settings WHERE key = ?');
  const ts = now();
  db.transaction(() => {
    for (const [key, value] of Object.entries(patch)) {
      if (value === undefined) continue;
      if (value === null) remove.run(key);
      else upsert.run(key, JSON.stringify(value), ts);
    }
  })();
}
