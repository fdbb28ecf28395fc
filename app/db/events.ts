// The event log: lifecycle changes, warnings and errors, as structured JSON the UI renders.
import type { ReadableDb, WritableDb } from './open.ts';
import type { JsonValue } from './sql.ts';
import { prepared, systemClock } from './sql.ts';

export type EventLevel = 'debug' | 'info' | 'warn' | 'error';

export interface NewEvent {
  /** null for app-level events. */
  runId: number | null;
  level: EventLevel;
  /** Stable 'domain/what' string, e.g. 'run/status', 'run/interrupted', 'checkpoint/written'. */
  kind: string;
  message: unknown;
  /** Unix ms; default now. */
  ts?: number;
}

export interface StoredEvent {
  id: number;
  runId: number | null;
  ts: number;
  level: EventLevel;
  kind: string;
  message: JsonValue;
}

const INSERT = 'INSERT INTO events (run_id, ts, level, kind, message) VALUES (?, ?, ?, ?, ?)';

export function insertEvents(db: WritableDb, events: readonly NewEvent[]): void {
  const stmt = prepared(db, INSERT);
  db.transaction(() => {
    for (const e of events) {
      stmt.run(e.runId, e.ts ?? systemClock(), e.level, e.kind, JSON.stringify(e.message ?? null));
    }
  })();
}

export function insertEvent(db: WritableDb, event: NewEvent): void {
  insertEvents(db, [event]);
}

interface EventDbRow {
  id: number;
  run_id: number | null;
  ts: number;
  level: EventLevel;
  kind: string;
  message: string;
}

export interface EventQuery {
  /** A run's events; null = app-level events only; undefined = all. */
  runId?: number | null;
  levels?: readonly EventLevel[];
  /** Newest first; page backwards with beforeId. */
  beforeId?: number;
  limit?: number;
}

export function listEvents(db: ReadableDb, q: EventQuery = {}): StoredEvent[] {
  const rows = prepared<unknown[], EventDbRow>(
    db,
    `SELECT id, run_id, ts, level, kind, message FROM events
     WHERE (@anyRun OR run_id IS @run)
       AND (@levels IS NULL OR level IN (SELECT value FROM json_each(@levels)))
       AND id < @before
     ORDER BY id DESC LIMIT @limit`,
  ).all({
    anyRun: q.runId === undefined ? 1 : 0,
    run: q.runId ?? null,
    levels: q.levels ? JSON.stringify(q.levels) : null,
    before: q.beforeId ?? Number.MAX_SAFE_INTEGER,
    limit: q.limit ?? 200,
  });
  return rows.map((r) => ({
    id: r.id,
    runId: r.run_id,
    ts: r.ts,
    level: r.level,
    kind: r.kind,
    message: JSON.parse(r.message) as JsonValue,
  }));
}
