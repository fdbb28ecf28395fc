// Schema migrations (conventions 6): numbered SQL files in migrations/, keyed on PRAGMA user_version, every
// pending file applied in ONE transaction so a crash or a bad file leaves the database at its old version, never
// half-migrated. No bookkeeping table: user_version is the whole state.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { DbFromFutureError, MigrationError } from './errors.ts';
import type { ReadableDb, WritableDb } from './open.ts';

export interface Migration {
  version: number;
  name: string;
  file: string;
  sql: string;
}

/** 'FLOP' — written to the header so we can tell our databases from other apps' SQLite files. */
export const APPLICATION_ID = 0x464c4f50;

const FILE_RE = /^(\d{4})_([a-z0-9_]+)\.sql$/;

/** The migrations/ folder of this checkout or package: the nearest one walking up from this module. */
export function defaultMigrationsDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, 'migrations');
    try {
      if (statSync(candidate).isDirectory()) return candidate;
    } catch {
      // not here; keep walking up
    }
    const parent = dirname(dir);
    if (parent === dir) throw new MigrationError('no migrations/ folder found above app/db');
    dir = parent;
  }
}

const cache = new Map<string, Migration[]>();

/**
 * Reads and validates the migration files of `dir`: every `.sql` file must be named `NNNN_slug.sql`, and the
 * numbers must strictly increase (a duplicate number would make the order, and so the schema, ambiguous).
 */
export function loadMigrations(dir: string = defaultMigrationsDir()): Migration[] {
  const hit = cache.get(dir);
  if (hit) return hit;
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.sql'))
    .sort();
  const out: Migration[] = [];
  for (const file of files) {
    const m = FILE_RE.exec(file);
    if (!m) throw new MigrationError(`${join(dir, file)}: migration files are named NNNN_slug.sql`);
    const version = Number(m[1]);
    const prev = out.at(-1);
    if (version === 0) throw new MigrationError(`${file}: version 0 is the empty database`);
    if (prev && version <= prev.version) {
      throw new MigrationError(`${file}: version ${version} does not increase past ${prev.file}`);
    }
    out.push({ version, name: m[2] ?? '', file, sql: readFileSync(join(dir, file), 'utf8') });
  }
  cache.set(dir, out);
  return out;
}

export function latestVersion(migrations: readonly Migration[] = loadMigrations()): number {
  return migrations.at(-1)?.version ?? 0;
}

export function schemaVersion(db: ReadableDb): number {
  return db.pragma('user_version', { simple: true }) as number;
}

export interface MigrateResult {
  from: number;
  to: number;
  applied: number[];
}

/**
 * Applies every migration past the database's version, up to `target` (default: the latest), in one transaction.
 * Refuses a database newer than every known migration (DbFromFutureError) and a downgrade.
 */
export function migrate(
  db: WritableDb,
  options: { target?: number; migrations?: readonly Migration[] } = {},
): MigrateResult {
  const migrations = options.migrations ?? loadMigrations();
  const latest = latestVersion(migrations);
  const from = schemaVersion(db);
  if (from > latest) throw new DbFromFutureError(db.name, from, latest);
  const target = options.target ?? latest;
  if (target < from) throw new MigrationError(`cannot migrate down from ${from} to ${target}`);
  if (target !== 0 && !migrations.some((m) => m.version === target)) {
    throw new MigrationError(`no migration has version ${target}`);
  }
  const pending = migrations.filter((m) => m.version > from && m.version <= target);
  if (pending.length === 0) return { from, to: from, applied: [] };
  db.transaction(() => {
    for (const m of pending) {
      try {
        db.exec(m.sql);
      } catch (err) {
        throw new MigrationError(`${m.file}: ${(err as Error).message}`, { cause: err });
      }
    }
    // PRAGMAs take no bound parameters; both values are integers we produced, checked above.
    db.pragma(`user_version = ${Math.trunc(target)}`);
    db.pragma(`application_id = ${APPLICATION_ID}`);
  }).immediate();
  return { from, to: target, applied: pending.map((m) => m.version) };
}
