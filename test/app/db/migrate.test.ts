import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { DbFromFutureError, MigrationError } from '../../../app/db/errors.ts';
import {
  defaultMigrationsDir,
  latestVersion,
  loadMigrations,
  migrate,
  schemaVersion,
} from '../../../app/db/migrate.ts';
import { openDb } from '../../../app/db/open.ts';
import { createDb } from '../../migrations/helpers.ts';

import { tempDir } from './fixtures.ts';

function migrationsDir(files: Record<string, string>): string {
  const dir = join(tempDir(), 'migrations');
  mkdirSync(dir);
  for (const [name, sql] of Object.entries(files)) writeFileSync(join(dir, name), sql);
  return dir;
}

describe('loadMigrations', () => {
  it('reads the project folder: numbered in tens, strictly increasing, README ignored', () => {
    const ms = loadMigrations();
    expect(existsSync(join(defaultMigrationsDir(), 'README.md'))).toBe(true);
    expect(ms.map((m) => m.version)).toEqual([10, 20, 30, 40, 50, 60, 70, 80, 90, 100]);
    expect(ms.every((m) => m.sql.includes('STRICT'))).toBe(true);
    expect(latestVersion(ms)).toBe(100);
  });

  it('refuses a badly named file, a duplicate number and version 0', () => {
    expect(() => loadMigrations(migrationsDir({ 'add_runs.sql': '' }))).toThrow(/named NNNN_slug\.sql/);
    expect(() => loadMigrations(migrationsDir({ '0010_a.sql': '', '0010_b.sql': '' }))).toThrow(
      /0010_b\.sql: version 10 does not increase past 0010_a\.sql/,
    );
    expect(() => loadMigrations(migrationsDir({ '0000_zero.sql': '' }))).toThrow(MigrationError);
  });
});

describe('migrate', () => {
  it('applies pending files up to a target, then the rest, and sets user_version', () => {
    const db = createDb();
    expect(migrate(db, { target: 30 })).toEqual({ from: 0, to: 30, applied: [10, 20, 30] });
    expect(schemaVersion(db)).toBe(30);
    expect(migrate(db)).toEqual({ from: 30, to: 100, applied: [40, 50, 60, 70, 80, 90, 100] });
    expect(migrate(db)).toEqual({ from: 100, to: 100, applied: [] });
  });

  it('refuses a downgrade, an unknown target and a database from the future', () => {
    const db = createDb();
    migrate(db, { target: 40 });
    expect(() => migrate(db, { target: 20 })).toThrow(/cannot migrate down from 40 to 20/);
    expect(() => migrate(db, { target: 45 })).toThrow(/no migration has version 45/);
    db.pragma('user_version = 1000');
    expect(() => migrate(db)).toThrow(DbFromFutureError);
  });

  it('is all or nothing: a failing file leaves the database at its old version with no new table', () => {
    const dir = migrationsDir({
      '0010_a.sql': 'CREATE TABLE a (x INTEGER) STRICT;',
      '0020_b.sql': 'CREATE TABLE b (x INTEGER) STRICT;',
      '0030_bad.sql': 'CREATE TABLE c (x INTEGER) STRICT; INSERT INTO nowhere VALUES (1);',
    });
    const file = join(tempDir(), 's.sqlite');
    expect(() => openDb(file, { migrationsDir: dir })).toThrow(/0030_bad\.sql: no such table: nowhere/);
    const db = openDb(file, { migrationsDir: dir, migrate: false });
    expect(schemaVersion(db)).toBe(0);
    expect(db.prepare(`SELECT name FROM sqlite_schema WHERE type = 'table'`).all()).toEqual([]);
    db.close();
  });
});
