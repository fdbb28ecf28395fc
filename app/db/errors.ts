// Typed errors of the experiment store. Each carries a stable `code` (FlopsError) so the UI can say what went wrong
// and what to do — "this file is not a FLOPS database" and "update the app" need different buttons, not a stack.
import { FlopsError } from '../../engine/errors.ts';

/** The file is not a readable SQLite database (garbage, truncated, damaged pages). It was not modified. */
export class DbCorruptError extends FlopsError {
  constructor(
    readonly file: string,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super('DB_CORRUPT', `${file}: not a usable database (${detail}); the file was left untouched`, options);
  }
}

/** The database was written by a newer app (its schema version is past every migration this app knows). */
export class DbFromFutureError extends FlopsError {
  constructor(
    readonly file: string,
    readonly dbVersion: number,
    readonly appVersion: number,
  ) {
    super(
      'DB_FROM_FUTURE',
      `${file}: schema version ${dbVersion} is newer than this app's ${appVersion}; update the app to open it`,
    );
  }
}

/** A valid SQLite file that belongs to some other application; we refuse to migrate someone else's data. */
export class DbForeignError extends FlopsError {
  constructor(
    readonly file: string,
    detail: string,
  ) {
    super('DB_FOREIGN', `${file}: not a FLOPS Workbench database (${detail}); the file was left untouched`);
  }
}

/** The migrations folder itself is wrong (bad name, duplicate or non-increasing number, missing target). */
export class MigrationError extends FlopsError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('MIGRATION_INVALID', message, options);
  }
}

/** better-sqlite3's native binary could not be loaded for this runtime (usually an ABI mismatch). */
export class NativeBindingError extends FlopsError {
  constructor(
    readonly binding: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super('SQLITE_BINDING', message, options);
  }
}

export class RunNotFoundError extends FlopsError {
  constructor(readonly runId: number) {
    super('RUN_NOT_FOUND', `run ${runId} does not exist`);
  }
}

/** A status change the run lifecycle does not allow (e.g. completed → running). */
export class RunStateError extends FlopsError {
  constructor(
    readonly runId: number,
    readonly from: string,
    readonly to: string,
  ) {
    super('RUN_STATE', `run ${runId}: cannot go from '${from}' to '${to}'`);
  }
}

/**
 * This process no longer holds the run: another process marked it interrupted (stale heartbeat) or resumed it.
 * Writing on would interleave two writers' rows, so the writer stops instead.
 */
export class RunLeaseLostError extends FlopsError {
  constructor(
    readonly runId: number,
    readonly pid: number,
  ) {
    super(
      'RUN_LEASE_LOST',
      `run ${runId}: process ${pid} no longer holds the run (marked interrupted or resumed)`,
    );
  }
}

/** A checkpoint's stored bytes do not match its sha256, or its file is missing. */
export class CheckpointCorruptError extends FlopsError {
  constructor(
    readonly runId: number,
    readonly step: number,
    detail: string,
  ) {
    super('CHECKPOINT_CORRUPT', `run ${runId} checkpoint at step ${step}: ${detail}`);
  }
}

/** An export file (run JSON, metrics CSV) that does not have the expected shape. */
export class StoreImportError extends FlopsError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('IMPORT_INVALID', message, options);
  }
}
