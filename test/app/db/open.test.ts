import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';

import {
  DbCorruptError,
  DbForeignError,
  DbFromFutureError,
  NativeBindingError,
} from '../../../app/db/errors.ts';
import { insertMetrics } from '../../../app/db/metrics.ts';
import { APPLICATION_ID, latestVersion } from '../../../app/db/migrate.ts';
import {
  checkIntegrity,
  ELECTRON_BINDING_PATH,
  openDb,
  resolveNativeBinding,
  type BindingContext,
} from '../../../app/db/open.ts';

import { addRun, metricRow, tempDir } from './fixtures.ts';

const sha = (file: string): string => createHash('sha256').update(readFileSync(file)).digest('hex');

/** A closed store with a few rows (a clean close folds the WAL back in and deletes it). */
function storeFile(dir = tempDir()): string {
  const file = join(dir, 'store.sqlite');
  const db = openDb(file);
  insertMetrics(
    db,
    addRun(db).id,
    Array.from({ length: 2000 }, (_, i) => metricRow(i)),
  );
  db.close();
  return file;
}

/** Asserts that opening fails with `error` and leaves the folder byte-for-byte as it was (no -wal/-shm either). */
function expectRefusedUntouched(
  file: string,
  error: new (...args: never[]) => Error,
  message: RegExp,
  opts = {},
) {
  const dir = join(file, '..');
  const before = readdirSync(dir).map((f) => [f, sha(join(dir, f))]);
  let thrown: unknown;
  try {
    openDb(file, opts).close();
  } catch (err) {
    thrown = err;
  }
  expect(thrown).toBeInstanceOf(error);
  expect((thrown as Error).message).toMatch(message);
  expect(readdirSync(dir).map((f) => [f, sha(join(dir, f))])).toEqual(before);
}

describe('openDb', () => {
  it('creates a migrated store in WAL mode with foreign keys on and only STRICT tables', () => {
    const file = join(tempDir(), 'new.sqlite');
    const db = openDb(file);
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.pragma('foreign_keys', { simple: true })).toBe(1);
    expect(db.pragma('user_version', { simple: true })).toBe(latestVersion());
    expect(db.pragma('application_id', { simple: true })).toBe(APPLICATION_ID);
    const tables = db
      .prepare(
        `SELECT name, strict FROM pragma_table_list WHERE schema = 'main' AND name NOT LIKE 'sqlite_%'`,
      )
      .all() as { name: string; strict: number }[];
    expect(tables.length).toBeGreaterThanOrEqual(12);
    expect(tables.filter((t) => t.strict !== 1)).toEqual([]);
    expect(checkIntegrity(db)).toEqual([]);
    db.close();
    // Reopening an up-to-date store is a no-op.
    const again = openDb(file);
    expect(again.pragma('user_version', { simple: true })).toBe(latestVersion());
    again.close();
  });

  it('opens read-only handles that SQLite itself refuses to write through', () => {
    const file = storeFile();
    const ro = openDb(file, { readonly: true });
    expect(ro.prepare('SELECT count(*) FROM metrics').pluck().get()).toBe(2000);
    expect(() => ro.prepare('DELETE FROM metrics').run()).toThrow(/readonly/);
    ro.close();
  });

  it('refuses a file of garbage with DbCorruptError and leaves it untouched', () => {
    const file = join(tempDir(), 'junk.sqlite');
    writeFileSync(file, Buffer.from(Array.from({ length: 8192 }, (_, i) => (i * 7919) % 251)));
    expectRefusedUntouched(
      file,
      DbCorruptError,
      /junk\.sqlite: not a usable database \(file is not a database\)/,
    );
  });

  it('refuses a truncated store, and one with a damaged page when checked, leaving both untouched', () => {
    const truncated = storeFile();
    writeFileSync(truncated, readFileSync(truncated).subarray(0, 64 * 1024));
    expectRefusedUntouched(truncated, DbCorruptError, /malformed/);
    const damaged = storeFile();
    const bytes = readFileSync(damaged);
    bytes.fill(0x5a, bytes.length - 8 * 4096);
    writeFileSync(damaged, bytes);
    expectRefusedUntouched(damaged, DbCorruptError, /quick_check/, { integrityCheck: true });
  });

  it('refuses a store from a newer app with DbFromFutureError and leaves it untouched', () => {
    const file = storeFile();
    const raw = new Database(file);
    raw.pragma('user_version = 9990');
    raw.close();
    expectRefusedUntouched(
      file,
      DbFromFutureError,
      new RegExp(`schema version 9990 is newer than this app's ${latestVersion()}`),
    );
    expectRefusedUntouched(file, DbFromFutureError, /update the app/, { readonly: true });
  });

  it('refuses another application’s SQLite file with DbForeignError and leaves it untouched', () => {
    const dir = tempDir();
    const other = new Database(join(dir, 'other.sqlite'));
    other.exec('CREATE TABLE notes (body TEXT)');
    other.close();
    expectRefusedUntouched(join(dir, 'other.sqlite'), DbForeignError, /no FLOPS schema/);
    const tagged = new Database(join(dir, 'tagged.sqlite'));
    tagged.pragma('application_id = 1234');
    tagged.close();
    expectRefusedUntouched(join(dir, 'tagged.sqlite'), DbForeignError, /application_id 0x4d2/);
  });
});

describe('native binding', () => {
  const ctx = (over: Partial<BindingContext>): BindingContext => ({
    versions: { node: '20.20.2' },
    env: {},
    exists: () => true,
    ...over,
  });

  it('uses the package default under Node, and an explicit path or FLOPS_SQLITE_BINDING first', () => {
    expect(resolveNativeBinding(undefined, ctx({}))).toBeUndefined();
    expect(resolveNativeBinding('/x/b.node', ctx({ env: { FLOPS_SQLITE_BINDING: '/env/b.node' } }))).toBe(
      '/x/b.node',
    );
    expect(resolveNativeBinding(undefined, ctx({ env: { FLOPS_SQLITE_BINDING: '/env/b.node' } }))).toBe(
      '/env/b.node',
    );
  });

  it('looks for the Electron-ABI build in resources, then in the app root, under Electron', () => {
    const electron = { node: '24.11.1', electron: '41.7.1' };
    const seen: string[] = [];
    const exists = (p: string) => (seen.push(p), p.startsWith('/app'));
    expect(
      resolveNativeBinding(
        undefined,
        ctx({ versions: electron, resourcesPath: '/res', appRoot: '/app', exists }),
      ),
    ).toBe(join('/app', ELECTRON_BINDING_PATH));
    expect(seen).toEqual([join('/res', ELECTRON_BINDING_PATH), join('/app', ELECTRON_BINDING_PATH)]);
    expect(
      resolveNativeBinding(undefined, ctx({ versions: electron, appRoot: '/app', exists: () => false })),
    ).toBeUndefined();
  });

  it('opens with an explicit path to the Node build', () => {
    const require = createRequire(import.meta.url);
    const nodeBuild = join(
      require.resolve('better-sqlite3/package.json'),
      '..',
      'build',
      'Release',
      'better_sqlite3.node',
    );
    const db = openDb(join(tempDir(), 's.sqlite'), { nativeBinding: nodeBuild });
    expect(db.pragma('user_version', { simple: true })).toBe(latestVersion());
    db.close();
  });

  it('turns a missing or unloadable binary into NativeBindingError before touching the database', () => {
    const dir = tempDir();
    const file = join(dir, 's.sqlite');
    expect(() => openDb(file, { nativeBinding: join(dir, 'nope.node') })).toThrow(NativeBindingError);
    writeFileSync(join(dir, 'fake.node'), 'not an ELF file');
    expect(() => openDb(file, { nativeBinding: join(dir, 'fake.node') })).toThrow(
      /cannot load better-sqlite3 binary .*fake\.node in Node .*docs\/store\.md/,
    );
    expect(existsSync(file)).toBe(false);
  });
});
