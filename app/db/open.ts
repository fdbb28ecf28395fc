// Opening the store. openDb() is the only place that mints the branded ReadableDb / WritableDb handles
// (conventions 8), so every function that writes says so in its signature and a read-only handle cannot be
// passed where a write happens. It also guards the user's file: a corrupt, foreign or newer database is detected
// by a probe that cannot write before anything could, so a refusal leaves the file byte-for-byte as it was.
import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import Database from 'better-sqlite3';

import { DbCorruptError, DbForeignError, DbFromFutureError, NativeBindingError } from './errors.ts';
import { APPLICATION_ID, latestVersion, loadMigrations, migrate } from './migrate.ts';

declare const readableBrand: unique symbol;
declare const writableBrand: unique symbol;

/** A connection that may be read from. */
export type ReadableDb = Database.Database & { readonly [readableBrand]: true };
/** A connection that may also be written; assignable wherever a ReadableDb is expected. */
export type WritableDb = ReadableDb & { readonly [writableBrand]: true };

export interface OpenOptions {
  /**
   * Path of a better_sqlite3.node built for the running runtime. Default: resolveNativeBinding() — the Electron
   * build under native/electron/ when running in Electron, else the package's own (Node) build.
   */
  nativeBinding?: string;
  /** Open read-only (a ReadableDb). Nothing is migrated; the file must exist. */
  readonly?: boolean;
  /** Migrate to the latest version (true, the default), to a given version (tests), or not at all (false). */
  migrate?: boolean | number;
  /** Where the NNNN_slug.sql files are; default: the migrations/ folder of this checkout or package. */
  migrationsDir?: string;
  /**
   * Run PRAGMA quick_check in the read-only probe, which finds damaged pages the header checks cannot. It reads the
   * whole file (~0.25 s per million metric rows), so the default 'auto' runs it only when a -wal file is left over,
   * i.e. the last writer did not close cleanly (a crash, a kill, a power cut).
   */
  integrityCheck?: boolean | 'auto';
  /** How long a writer waits for another connection's write lock before SQLITE_BUSY. */
  busyTimeoutMs?: number;
}

export const ELECTRON_BINDING_PATH = join('native', 'electron', 'better_sqlite3.node');

export interface BindingContext {
  versions: Partial<Record<string, string>>;
  env: Partial<Record<string, string>>;
  /** Electron's process.resourcesPath in a packaged app (extraResources land there). */
  resourcesPath?: string;
  /** The folder holding package.json (a checkout or the app's asar root). */
  appRoot?: string;
  exists: (path: string) => boolean;
}

/**
 * Which better_sqlite3.node to load. better-sqlite3 is not N-API: a binary loads only in the runtime (ABI) it was
 * compiled for, so Node (tests, CLI) and Electron (the app) need different builds from one checkout
 * (docs/store.md). Order: explicit option → FLOPS_SQLITE_BINDING → under Electron, native/electron/ in the
 * resources folder, then in the app root → undefined (the package's default build, which is the Node one).
 */
export function resolveNativeBinding(
  explicit: string | undefined,
  ctx: BindingContext = currentBindingContext(),
): string | undefined {
  if (explicit) return explicit;
  const fromEnv = ctx.env.FLOPS_SQLITE_BINDING;
  if (fromEnv) return fromEnv;
  if (ctx.versions.electron === undefined) return undefined;
  const roots = [ctx.resourcesPath, ctx.appRoot].filter((r): r is string => typeof r === 'string');
  return roots.map((r) => join(r, ELECTRON_BINDING_PATH)).find((p) => ctx.exists(p));
}

function currentBindingContext(): BindingContext {
  const resourcesPath = (process as { resourcesPath?: string }).resourcesPath;
  const root = appRoot();
  return {
    versions: process.versions,
    env: process.env,
    ...(resourcesPath ? { resourcesPath } : {}),
    ...(root ? { appRoot: root } : {}),
    exists: existsSync,
  };
}

function appRoot(): string | undefined {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

const bindingCache = new Map<string, object>();
const requireNative = createRequire(import.meta.url);

/** Loads the addon ourselves so an ABI mismatch becomes a NativeBindingError that names the file and the fix. */
function loadBinding(path: string): object {
  const hit = bindingCache.get(path);
  if (hit) return hit;
  if (!existsSync(path)) throw new NativeBindingError(path, `better-sqlite3 binary not found: ${path}`);
  try {
    const addon = requireNative(path) as object;
    bindingCache.set(path, addon);
    return addon;
  } catch (err) {
    throw new NativeBindingError(
      path,
      `cannot load better-sqlite3 binary ${path} in ${runtimeName()} (ABI ${process.versions.modules}): ` +
        `${(err as Error).message.split('\n')[0]} — it must be built for this runtime; see docs/store.md`,
      { cause: err },
    );
  }
}

function runtimeName(): string {
  return process.versions.electron
    ? `Electron ${process.versions.electron}`
    : `Node ${process.versions.node}`;
}

function newDatabase(
  file: string,
  options: Database.Options,
  binding: string | undefined,
): Database.Database {
  // The typings allow only a path, but better-sqlite3 12 also takes the loaded addon object (see its database.js).
  const nativeBinding = (binding ? loadBinding(binding) : undefined) as string | undefined;
  try {
    return new Database(file, { ...options, ...(nativeBinding ? { nativeBinding } : {}) });
  } catch (err) {
    if (
      /NODE_MODULE_VERSION|was compiled against|invalid ELF|wrong ELF|not a valid Win32/.test(String(err))
    ) {
      throw new NativeBindingError(
        binding ?? 'better-sqlite3 default build',
        `better-sqlite3's default binary does not load in ${runtimeName()}: ${(err as Error).message.split('\n')[0]}` +
          ` — put a build for this runtime at ${ELECTRON_BINDING_PATH} or pass nativeBinding; see docs/store.md`,
        { cause: err },
      );
    }
    throw err;
  }
}

const CORRUPT_CODES = new Set(['SQLITE_NOTADB', 'SQLITE_CORRUPT']);

function isCorruption(err: unknown): err is Error & { code: string } {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && [...CORRUPT_CODES].some((c) => code.startsWith(c));
}

const SQLITE_MAGIC = 'SQLite format 3\0';

/** The first 100 bytes of the file: SQLite's header (https://www.sqlite.org/fileformat.html#the_database_header). */
function readHeader(file: string): Buffer {
  const fd = openSync(file, 'r');
  try {
    const header = Buffer.alloc(100);
    readSync(fd, header, 0, 100, 0);
    return header;
  } finally {
    closeSync(fd);
  }
}

/**
 * Looks at an existing file before anything may write to it: is it SQLite, is it ours, is it from the future?
 * The magic string is checked by plain file reads. The SQLite-level look must not leave a trace either:
 * a read-only connection never writes the database, but on a WAL-mode file it creates -wal/-shm files it cannot
 * remove; a read-write connection that only reads removes them again on close and, with no WAL to recover,
 * writes nothing. So: read-only when a -wal is already there (a crash to recover from; the files exist anyway)
 * or the file is not in WAL mode (no side files; and no hot-journal rollback), read-write-but-reading otherwise.
 */
function probe(file: string, latest: number, binding: string | undefined, integrityCheck: boolean): void {
  const header = readHeader(file);
  if (header.toString('latin1', 0, 16) !== SQLITE_MAGIC) {
    throw new DbCorruptError(file, 'file is not a database');
  }
  const walMode = header[18] === 2 && header[19] === 2;
  const readonly = !walMode || existsSync(`${file}-wal`);
  let db: Database.Database | undefined;
  try {
    db = newDatabase(file, { readonly, fileMustExist: true }, binding);
    const version = db.pragma('user_version', { simple: true }) as number;
    const appId = db.pragma('application_id', { simple: true }) as number;
    const objects = db.prepare('SELECT count(*) FROM sqlite_schema').pluck().get() as number;
    if (integrityCheck) {
      const result = db.pragma('quick_check', { simple: true }) as string;
      if (result !== 'ok') throw new DbCorruptError(file, `quick_check: ${result}`);
    }
    if (appId !== 0 && appId !== APPLICATION_ID) {
      throw new DbForeignError(file, `application_id 0x${appId.toString(16)}`);
    }
    if (appId === 0 && objects > 0) {
      throw new DbForeignError(file, `${objects} schema objects but no FLOPS schema`);
    }
    if (version > latest) throw new DbFromFutureError(file, version, latest);
  } catch (err) {
    if (isCorruption(err)) throw new DbCorruptError(file, err.message, { cause: err });
    throw err;
  } finally {
    db?.close();
  }
}

/**
 * Opens (creating if needed) the store at `file`: WAL, foreign keys on, migrated to the latest schema.
 * Throws DbCorruptError, DbForeignError or DbFromFutureError without touching an existing file, and
 * NativeBindingError when better-sqlite3's binary does not match the running runtime.
 */
export function openDb(file: string, options: OpenOptions & { readonly: true }): ReadableDb;
export function openDb(file: string, options?: OpenOptions): WritableDb;
export function openDb(file: string, options: OpenOptions = {}): ReadableDb | WritableDb {
  const binding = resolveNativeBinding(options.nativeBinding);
  const migrations = loadMigrations(options.migrationsDir);
  const memory = file === ':memory:' || file === '';
  if (!memory && existsSync(file) && statSync(file).size > 0) {
    const check = options.integrityCheck ?? 'auto';
    probe(file, latestVersion(migrations), binding, check === 'auto' ? existsSync(`${file}-wal`) : check);
  }
  const db = newDatabase(file, { readonly: options.readonly ?? false }, binding);
  try {
    // WAL: readers (the UI) never block the writer (the training process), and a killed writer loses at most
    // its uncommitted transaction. synchronous=NORMAL is durable across process crashes in WAL mode; only an
    // OS crash or power loss can drop the last commits, and even then the file stays consistent.
    if (!options.readonly) {
      if (!memory) db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
    }
    db.pragma('foreign_keys = ON');
    db.pragma(`busy_timeout = ${Math.trunc(options.busyTimeoutMs ?? 5000)}`);
    const target = options.migrate ?? true;
    if (!options.readonly && target !== false) {
      migrate(db as WritableDb, { migrations, ...(typeof target === 'number' ? { target } : {}) });
    }
  } catch (err) {
    db.close();
    if (isCorruption(err)) throw new DbCorruptError(file, err.message, { cause: err });
    throw err;
  }
  return db as WritableDb;
}

/** PRAGMA integrity_check (full) or quick_check: the problems found, [] when the database is sound. */
export function checkIntegrity(db: ReadableDb, mode: 'full' | 'quick' = 'full'): string[] {
  const rows = db.pragma(mode === 'full' ? 'integrity_check' : 'quick_check', { simple: false }) as Record<
    string,
    string
  >[];
  const lines = rows.map((r) => Object.values(r)[0] ?? '');
  return lines.length === 1 && lines[0] === 'ok' ? [] : lines;
}
