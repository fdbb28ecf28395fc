// Checkpoints: trainable parameters (Float32 LE, with sha256), opaque optimizer bytes (with sha256) and the RNG,
// allocator and loop state as JSON — what a bit-identical resume needs. Large parameter sets go to a file that is
// written, fsynced and renamed BEFORE its row commits: a crash at any point leaves either no row (and at worst an
// orphan file) or a row whose file is complete. Readers verify the sha256 before handing bytes to the engine.
import { createHash } from 'node:crypto';
import {
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';

import { decodeFloat32, encodeFloat32 } from './blob.ts';
import { CheckpointCorruptError } from './errors.ts';
import type { ReadableDb, WritableDb } from './open.ts';
import type { Clock, JsonValue } from './sql.ts';
import { prepared, systemClock, toJson } from './sql.ts';

export interface CheckpointInput {
  step: number;
  /** The trainable parameters (FlatParams.data). */
  params: Float32Array;
  /** Optimizer state serialised by the optimizer (e.g. Adam moments' bytes); opaque to the store. */
  optimizerState?: Uint8Array | null;
  /** Rng.getState() of every stream the loop draws from. */
  rngState: unknown;
  /** Allocator.getState(). */
  allocatorState?: unknown;
  /** Where the loop stands: epoch, cursor into the data order, schedule state, ... */
  loopState?: unknown;
}

export interface CheckpointOptions {
  /** 'auto' (default): inline when the parameters fit in inlineMaxBytes, else a file. */
  storage?: 'auto' | 'blob' | 'file';
  inlineMaxBytes?: number;
  /** Folder for checkpoint files; default <database folder>/checkpoints. */
  dir?: string;
  now?: Clock;
}

/** Inline up to 16 MiB (4 M parameters, e.g. the bundled tiny ViT); beyond, a file keeps the database lean. */
export const DEFAULT_INLINE_MAX_BYTES = 16 * 1024 * 1024;

export interface CheckpointInfo {
  id: number;
  runId: number;
  step: number;
  paramCount: number;
  paramsSha256: string;
  storage: 'blob' | 'file';
  /** Absolute path of the parameter file (storage 'file'). */
  path: string | null;
  createdAt: number;
}

export interface Checkpoint extends CheckpointInfo {
  params: Float32Array;
  optimizerState: Uint8Array | null;
  rngState: JsonValue;
  allocatorState: JsonValue | null;
  loopState: JsonValue | null;
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function baseDir(db: ReadableDb): string | undefined {
  return db.memory ? undefined : dirname(resolve(db.name));
}

/** Paths inside the database's folder are stored relative to it, so a data folder can be moved whole. */
function storedPath(db: ReadableDb, file: string): string {
  const base = baseDir(db);
  if (!base) return file;
  const rel = relative(base, file);
  return rel.startsWith('..') || isAbsolute(rel) ? file : rel.split(sep).join('/');
}

export function resolveStoredPath(db: ReadableDb, stored: string): string {
  const base = baseDir(db);
  return isAbsolute(stored) || !base ? stored : join(base, stored);
}

/** Writes bytes to `file` crash-safely: temp file, fsync, rename over, fsync the folder. */
function writeFileDurably(file: string, bytes: Uint8Array): void {
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w');
  try {
    let off = 0;
    while (off < bytes.byteLength) off += writeSync(fd, bytes, off, bytes.byteLength - off);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
  try {
    const dfd = openSync(dirname(file), 'r');
    try {
      fsyncSync(dfd);
    } finally {
      closeSync(dfd);
    }
  } catch {
    // Folders cannot be opened or fsynced on Windows; NTFS journals the rename itself.
  }
}

/** A checkpoint whose bytes are ready (file written if any) but whose row is not yet inserted. */
export interface StagedCheckpoint {
  runId: number;
  input: CheckpointInput;
  paramsSha256: string;
  blob: Buffer | null;
  file: string | null;
  optimizerSha256: string | null;
  createdAt: number;
}

/** Step 1 of a checkpoint, outside any transaction: hash, and write the parameter file when not inline. */
export function stageCheckpoint(
  db: ReadableDb,
  runId: number,
  input: CheckpointInput,
  opts: CheckpointOptions = {},
): StagedCheckpoint {
  const bytes = encodeFloat32(input.params);
  const paramsSha256 = sha256Hex(bytes);
  const storage = opts.storage ?? 'auto';
  const inline =
    storage === 'blob' ||
    (storage === 'auto' &&
      (bytes.byteLength <= (opts.inlineMaxBytes ?? DEFAULT_INLINE_MAX_BYTES) || db.memory));
  let file: string | null = null;
  if (!inline) {
    const dir = opts.dir ?? (baseDir(db) ? join(baseDir(db) as string, 'checkpoints') : undefined);
    if (!dir) throw new TypeError('file checkpoints of an in-memory database need opts.dir');
    file = resolve(dir, `run-${runId}`, `step-${input.step}-${paramsSha256.slice(0, 12)}.f32`);
    writeFileDurably(file, bytes);
  }
  return {
    runId,
    input,
    paramsSha256,
    // Copy: the engine keeps mutating its parameter array after this call returns.
    blob: inline ? Buffer.from(bytes) : null,
    file,
    optimizerSha256: input.optimizerState ? sha256Hex(input.optimizerState) : null,
    createdAt: (opts.now ?? systemClock)(),
  };
}

/** Step 2: the row, inside the caller's transaction. */
export function insertStagedCheckpoint(db: WritableDb, s: StagedCheckpoint): CheckpointInfo {
  const { lastInsertRowid } = prepared(
    db,
    `INSERT INTO checkpoints (run_id, step, param_count, params_sha256, params_path, params_blob, optimizer_state,
       optimizer_sha256, rng_state, allocator_state, loop_state, created_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  ).run(
    s.runId,
    s.input.step,
    s.input.params.length,
    s.paramsSha256,
    s.file ? storedPath(db, s.file) : null,
    s.blob,
    s.input.optimizerState ? Buffer.from(s.input.optimizerState) : null,
    s.optimizerSha256,
    JSON.stringify(s.input.rngState ?? null),
    toJson(s.input.allocatorState),
    toJson(s.input.loopState),
    s.createdAt,
  );
  return {
    id: Number(lastInsertRowid),
    runId: s.runId,
    step: s.input.step,
    paramCount: s.input.params.length,
    paramsSha256: s.paramsSha256,
    storage: s.file ? 'file' : 'blob',
    path: s.file,
    createdAt: s.createdAt,
  };
}

/** Removes a staged file whose row never committed. */
export function discardStaged(s: StagedCheckpoint): void {
  if (s.file) rmSync(s.file, { force: true });
}

/** Writes a checkpoint: parameter file (if any) first, then its row in one transaction. */
export function writeCheckpoint(
  db: WritableDb,
  runId: number,
  input: CheckpointInput,
  opts: CheckpointOptions = {},
): CheckpointInfo {
  const staged = stageCheckpoint(db, runId, input, opts);
  try {
    return db.transaction(() => insertStagedCheckpoint(db, staged))();
  } catch (err) {
    discardStaged(staged);
    throw err;
  }
}

interface CheckpointDbRow {
  id: number;
  run_id: number;
  step: number;
  param_count: number;
  params_sha256: string;
  params_path: string | null;
  created_at: number;
}

const INFO_COLUMNS = 'id, run_id, step, param_count, params_sha256, params_path, created_at';

function infoFromDb(db: ReadableDb, r: CheckpointDbRow): CheckpointInfo {
  return {
    id: r.id,
    runId: r.run_id,
    step: r.step,
    paramCount: r.param_count,
    paramsSha256: r.params_sha256,
    storage: r.params_path === null ? 'blob' : 'file',
    path: r.params_path === null ? null : resolveStoredPath(db, r.params_path),
    createdAt: r.created_at,
  };
}

/** A run's checkpoints, oldest first (metadata only). */
export function listCheckpoints(db: ReadableDb, runId: number): CheckpointInfo[] {
  return prepared<unknown[], CheckpointDbRow>(
    db,
    `SELECT ${INFO_COLUMNS} FROM checkpoints WHERE run_id = ? ORDER BY step`,
  )
    .all(runId)
    .map((r) => infoFromDb(db, r));
}

/** Loads a checkpoint and proves its bytes: missing file, wrong length or sha256 mismatch → CheckpointCorruptError. */
export function readCheckpoint(db: ReadableDb, id: number): Checkpoint | undefined {
  const r = prepared<
    unknown[],
    CheckpointDbRow & {
      params_blob: Buffer | null;
      optimizer_state: Buffer | null;
      optimizer_sha256: string | null;
      rng_state: string;
      allocator_state: string | null;
      loop_state: string | null;
    }
  >(
    db,
    `SELECT ${INFO_COLUMNS}, params_blob, optimizer_state, optimizer_sha256, rng_state, allocator_state, loop_state
     FROM checkpoints WHERE id = ?`,
  ).get(id);
  if (!r) return undefined;
  const info = infoFromDb(db, r);
  const fail = (detail: string): never => {
    throw new CheckpointCorruptError(r.run_id, r.step, detail);
  };
  let bytes: Uint8Array;
  if (r.params_blob) {
    bytes = r.params_blob;
  } else {
    try {
      bytes = readFileSync(info.path as string);
    } catch (err) {
      return fail(`cannot read ${info.path}: ${(err as Error).message}`);
    }
  }
  if (bytes.byteLength !== r.param_count * 4)
    fail(`${bytes.byteLength} bytes for ${r.param_count} parameters`);
  if (sha256Hex(bytes) !== r.params_sha256) fail('parameter bytes do not match their sha256');
  if (r.optimizer_state && sha256Hex(r.optimizer_state) !== r.optimizer_sha256) {
    fail('optimizer state does not match its sha256');
  }
  return {
    ...info,
    params: decodeFloat32(bytes),
    optimizerState: r.optimizer_state ? new Uint8Array(r.optimizer_state) : null,
    rngState: JSON.parse(r.rng_state) as JsonValue,
    allocatorState: r.allocator_state === null ? null : (JSON.parse(r.allocator_state) as JsonValue),
    loopState: r.loop_state === null ? null : (JSON.parse(r.loop_state) as JsonValue),
  };
}

/** The run's newest checkpoint, verified (throws CheckpointCorruptError rather than return bad bytes). */
export function latestCheckpoint(db: ReadableDb, runId: number): Checkpoint | undefined {
  const id = prepared(db, 'SELECT id FROM checkpoints WHERE run_id = ? ORDER BY step DESC LIMIT 1')
    .pluck()
    .get(runId) as number | undefined;
  return id === undefined ? undefined : readCheckpoint(db, id);
}

/** Absolute paths of a run's checkpoint files (to delete them with the run). */
export function checkpointFiles(db: ReadableDb, runId: number, afterStep = -1): string[] {
  return (
    prepared(
      db,
      'SELECT params_path FROM checkpoints WHERE run_id = ? AND step > ? AND params_path IS NOT NULL',
    )
      .pluck()
      .all(runId, afterStep) as string[]
  ).map((p) => resolveStoredPath(db, p));
}

export function removeFiles(files: readonly string[]): void {
  for (const f of files) rmSync(f, { force: true });
}

/** Keeps the newest `keep` checkpoints of a run; deletes the older rows, then their files. Returns how many. */
export function pruneCheckpoints(db: WritableDb, runId: number, keep: number): number {
  const old = prepared<unknown[], { id: number; params_path: string | null }>(
    db,
    'SELECT id, params_path FROM checkpoints WHERE run_id = ? ORDER BY step DESC LIMIT -1 OFFSET ?',
  ).all(runId, Math.max(0, keep));
  if (old.length === 0) return 0;
  db.transaction(() => {
    const del = prepared(db, 'DELETE FROM checkpoints WHERE id = ?');
    for (const o of old) del.run(o.id);
  })();
  // Files go after the commit: a crash in between leaves orphan files, never rows pointing at nothing.
  removeFiles(old.flatMap((o) => (o.params_path ? [resolveStoredPath(db, o.params_path)] : [])));
  return old.length;
}
