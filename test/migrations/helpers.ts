// Helpers for the one-test-per-migration suites (conventions 7): a real database FILE (WAL and file locking
// behave as in the app, unlike ':memory:'), migrated step by step, with fixture rows inserted through bound
// parameters. SQL is never mocked.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { onTestFinished } from 'vitest';

import { migrate } from '../../app/db/migrate.ts';
import { openDb, type ReadableDb, type WritableDb } from '../../app/db/open.ts';

/** A fresh folder removed after the current test. */
export function tempDir(prefix = 'flops-db-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** An empty store (user_version 0) on a temp file, closed and removed after the test. */
export function createDb(): WritableDb {
  const db = openDb(join(tempDir(), 'store.sqlite'), { migrate: false });
  onTestFinished(() => {
    if (db.open) db.close();
  });
  return db;
}

export function migrateTo(db: WritableDb, version: number): void {
  migrate(db, { target: version });
}

const IDENT = /^[a-z_][a-z0-9_]*$/;

function ident(name: string): string {
  if (!IDENT.test(name)) throw new Error(`not a plain identifier: ${name}`);
  return name;
}

/** Inserts rows (objects keyed by column) into `table`; values are bound, names checked. */
export function insertRows(db: WritableDb, table: string, rows: readonly Record<string, unknown>[]): void {
  db.transaction(() => {
    for (const row of rows) {
      const cols = Object.keys(row).map(ident);
      db.prepare(
        `INSERT INTO ${ident(table)} (${cols.join(', ')}) VALUES (${cols.map(() => '?').join(', ')})`,
      ).run(...Object.values(row));
    }
  })();
}

/** Every row of `table` in primary-key order. */
export function tableRows(db: ReadableDb, table: string): Record<string, unknown>[] {
  return db.prepare(`SELECT * FROM ${ident(table)}`).all() as Record<string, unknown>[];
}

/** The EXPLAIN QUERY PLAN lines of a statement, joined with newlines (assert with toMatch). */
export function explain(db: ReadableDb, sql: string, ...params: unknown[]): string {
  return (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params) as { detail: string }[])
    .map((r) => r.detail)
    .join('\n');
}

export const HASH_A = 'a'.repeat(64);
export const HASH_B = 'b'.repeat(64);
