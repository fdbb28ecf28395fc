// Runs: creation, the status lifecycle, tags and notes, the list the UI shows, and config diffs.
import { rmdirSync } from 'node:fs';
import { dirname } from 'node:path';

import { checkpointFiles, removeFiles } from './checkpoints.ts';
import { diffConfigs, type ConfigDiffEntry } from './config-diff.ts';
import { RunNotFoundError, RunStateError } from './errors.ts';
import { insertEvent } from './events.ts';
import type { ReadableDb, WritableDb } from './open.ts';
import type { Clock, JsonValue } from './sql.ts';
import { fromJson, prepared, systemClock, toJson } from './sql.ts';

export const RUN_STATUSES = [
  'queued',
  'running',
  'paused',
  'completed',
  'failed',
  'diverged',
  'interrupted',
  'cancelled',
] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

/**
 * The lifecycle. Terminal states have no way out; 'interrupted' (the process died) can only be resumed, cancelled
 * or given up on. Paused runs still hold their process, so they can be interrupted too.
 */
export const TRANSITIONS: Readonly<Record<RunStatus, readonly RunStatus[]>> = {
  queued: ['running', 'cancelled', 'failed'],
  running: ['paused', 'completed', 'failed', 'diverged', 'interrupted', 'cancelled'],
  paused: ['running', 'cancelled', 'failed', 'interrupted'],
  interrupted: ['running', 'cancelled', 'failed'],
  completed: [],
  failed: [],
  diverged: [],
  cancelled: [],
};

const TERMINAL: ReadonlySet<RunStatus> = new Set(['completed', 'failed', 'diverged', 'cancelled']);

export interface Run {
  id: number;
  name: string;
  modelId: number | null;
  datasetVersionId: string | null;
  requestedConfig: JsonValue;
  resolvedConfig: JsonValue | null;
  seed: number;
  status: RunStatus;
  executionProvider: string | null;
  createdAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  /** The process holding the run while running or paused (the lease), with its last sign of life. */
  pid: number | null;
  heartbeatAt: number | null;
  error: string | null;
  notes: string;
  tags: string[];
}

export interface NewRun {
  name: string;
  modelId?: number | null;
  datasetVersionId?: string | null;
  requestedConfig: unknown;
  resolvedConfig?: unknown;
  seed: number;
  executionProvider?: string | null;
  tags?: readonly string[];
  notes?: string;
}

interface RunDbRow {
  id: number;
  name: string;
  model_id: number | null;
  dataset_version_id: string | null;
  requested_config: string;
  resolved_config: string | null;
  seed: number;
  status: RunStatus;
  execution_provider: string | null;
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
  pid: number | null;
  heartbeat_at: number | null;
  error: string | null;
  notes: string;
  tags: string;
}

const RUN_COLUMNS = `r.id, r.name, r.model_id, r.dataset_version_id, r.requested_config, r.resolved_config, r.seed,
  r.status, r.execution_provider, r.created_at, r.started_at, r.finished_at, r.pid, r.heartbeat_at, r.error, r.notes,
  (SELECT json_group_array(tag) FROM (SELECT tag FROM run_tags WHERE run_id = r.id ORDER BY tag)) AS tags`;

function fromDb(r: RunDbRow): Run {
  return {
    id: r.id,
    name: r.name,
    modelId: r.model_id,
    datasetVersionId: r.dataset_version_id,
    requestedConfig: fromJson(r.requested_config) as JsonValue,
    resolvedConfig: fromJson(r.resolved_config),
    seed: r.seed,
    status: r.status,
    executionProvider: r.execution_provider,
    createdAt: r.created_at,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
    pid: r.pid,
    heartbeatAt: r.heartbeat_at,
    error: r.error,
    notes: r.notes,
    tags: JSON.parse(r.tags) as string[],
  };
}

function normaliseTags(tags: readonly string[]): string[] {
  return [...new Set(tags.map((t) => t.trim()).filter((t) => t.length > 0))].sort();
}

/** Creates a run in 'queued'. */
export function createRun(db: WritableDb, input: NewRun, now: Clock = systemClock): Run {
  const id = db.transaction(() => {
    const { lastInsertRowid } = prepared(
      db,
      `INSERT INTO runs (name, model_id, dataset_version_id, requested_config, resolved_config, seed,
        execution_provider, created_at, notes) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      input.name,
      input.modelId ?? null,
      input.datasetVersionId ?? null,
      JSON.stringify(input.requestedConfig ?? {}),
      toJson(input.resolvedConfig),
      input.seed,
      input.executionProvider ?? null,
      now(),
      input.notes ?? '',
    );
    const runId = Number(lastInsertRowid);
    writeTags(db, runId, input.tags ?? []);
    return runId;
  })();
  return requireRun(db, id);
}

export function getRun(db: ReadableDb, id: number): Run | undefined {
  const row = prepared<unknown[], RunDbRow>(db, `SELECT ${RUN_COLUMNS} FROM runs r WHERE r.id = ?`).get(id);
  return row ? fromDb(row) : undefined;
}

export function requireRun(db: ReadableDb, id: number): Run {
  const run = getRun(db, id);
  if (!run) throw new RunNotFoundError(id);
  return run;
}

function writeTags(db: WritableDb, runId: number, tags: readonly string[]): void {
  prepared(db, 'DELETE FROM run_tags WHERE run_id = ?').run(runId);
  const insert = prepared(db, 'INSERT INTO run_tags (run_id, tag) VALUES (?, ?)');
  for (const t of normaliseTags(tags)) insert.run(runId, t);
}

/** Replaces a run's tags (trimmed, deduplicated, empty ones dropped). */
export function setRunTags(db: WritableDb, runId: number, tags: readonly string[]): void {
  db.transaction(() => {
    requireRun(db, runId);
    writeTags(db, runId, tags);
  })();
}

export interface RunPatch {
  name?: string;
  notes?: string;
  resolvedConfig?: unknown;
  executionProvider?: string | null;
}

/** Edits the descriptive fields of a run; status goes through transitionRun only. */
export function updateRun(db: WritableDb, runId: number, patch: RunPatch): Run {
  const { changes } = prepared(
    db,
    `UPDATE runs SET name = coalesce(@name, name), notes = coalesce(@notes, notes),
       resolved_config = CASE WHEN @setConfig THEN @config ELSE resolved_config END,
       execution_provider = CASE WHEN @setProvider THEN @provider ELSE execution_provider END
     WHERE id = @id`,
  ).run({
    id: runId,
    name: patch.name ?? null,
    notes: patch.notes ?? null,
    setConfig: patch.resolvedConfig === undefined ? 0 : 1,
    config: toJson(patch.resolvedConfig),
    setProvider: patch.executionProvider === undefined ? 0 : 1,
    provider: patch.executionProvider ?? null,
  });
  if (changes === 0) throw new RunNotFoundError(runId);
  return requireRun(db, runId);
}

export interface TransitionOptions {
  /** Required when entering 'running': the process that will write the run (its lease). */
  pid?: number;
  error?: string;
  now?: Clock;
}

/**
 * Moves a run to `to` if the lifecycle allows it, as a compare-and-set on the current status so two processes
 * cannot both win (e.g. a resume racing a cancel). Entering 'running' takes the lease (pid, heartbeat); leaving to
 * a terminal state or 'interrupted' releases it. Logs a 'run/status' event.
 */
export function transitionRun(
  db: WritableDb,
  runId: number,
  to: RunStatus,
  opts: TransitionOptions = {},
): Run {
  const now = (opts.now ?? systemClock)();
  return db
    .transaction(() => {
      const run = requireRun(db, runId);
      if (!TRANSITIONS[run.status].includes(to)) throw new RunStateError(runId, run.status, to);
      if (to === 'running' && opts.pid === undefined) throw new TypeError('entering running needs the pid');
      const holdsLease = to === 'running' || to === 'paused';
      const pid = to === 'running' ? (opts.pid as number) : holdsLease ? run.pid : null;
      const { changes } = prepared(
        db,
        `UPDATE runs SET status = @to, pid = @pid,
           heartbeat_at = CASE WHEN @pid IS NULL THEN heartbeat_at ELSE @now END,
           started_at = CASE WHEN @to = 'running' THEN coalesce(started_at, @now) ELSE started_at END,
           finished_at = CASE WHEN @terminal THEN @now ELSE NULL END,
           error = CASE WHEN @to = 'running' THEN NULL ELSE coalesce(@error, error) END
         WHERE id = @id AND status = @from`,
      ).run({
        id: runId,
        from: run.status,
        to,
        pid,
        now,
        terminal: TERMINAL.has(to) ? 1 : 0,
        error: opts.error ?? null,
      });
      if (changes !== 1) throw new RunStateError(runId, run.status, to);
      insertEvent(db, {
        runId,
        ts: now,
        level: to === 'failed' || to === 'diverged' ? 'error' : to === 'interrupted' ? 'warn' : 'info',
        kind: 'run/status',
        message: { from: run.status, to, ...(opts.error ? { error: opts.error } : {}) },
      });
      return requireRun(db, runId);
    })
    .immediate();
}

export const RUN_SORTS = {
  created: 'r.created_at',
  started: 'r.started_at',
  finished: 'r.finished_at',
  name: 'r.name COLLATE NOCASE',
  status: 'r.status',
  lastStep: 'last_step',
  lastLoss: 'last_loss',
} as const;
export type RunSort = keyof typeof RUN_SORTS;

export interface RunFilter {
  status?: RunStatus | readonly RunStatus[];
  /** Runs carrying this exact tag. */
  tag?: string;
  /** Case-insensitive substring of the name, notes or a tag. */
  text?: string;
  sort?: RunSort;
  order?: 'asc' | 'desc';
  limit?: number;
  offset?: number;
}

export interface RunListItem extends Run {
  lastStep: number | null;
  lastLoss: number | null;
}

function likePattern(text: string): string {
  return `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

/** The runs list: filter by status, tag and text; sort; page. Every filter value is a bound parameter. */
export function listRuns(db: ReadableDb, filter: RunFilter = {}): RunListItem[] {
  const key = filter.sort ?? 'created';
  // Own keys only: the value is spliced as an ORDER BY expression, so 'constructor' and friends must not pass.
  if (!Object.hasOwn(RUN_SORTS, key)) throw new TypeError(`unknown sort '${String(filter.sort)}'`);
  const sort = RUN_SORTS[key];
  const order = filter.order === 'asc' ? 'ASC' : 'DESC';
  const statuses =
    filter.status === undefined
      ? null
      : JSON.stringify(Array.isArray(filter.status) ? filter.status : [filter.status]);
  const rows = prepared<unknown[], RunDbRow & { last_step: number | null; last_loss: number | null }>(
    db,
    `SELECT ${RUN_COLUMNS},
       (SELECT step FROM metrics m WHERE m.run_id = r.id ORDER BY step DESC LIMIT 1) AS last_step,
       (SELECT train_loss FROM metrics m WHERE m.run_id = r.id ORDER BY step DESC LIMIT 1) AS last_loss
     FROM runs r
     WHERE (@statuses IS NULL OR r.status IN (SELECT value FROM json_each(@statuses)))
       AND (@tag IS NULL OR EXISTS (SELECT 1 FROM run_tags t WHERE t.run_id = r.id AND t.tag = @tag))
       AND (@text IS NULL OR r.name LIKE @text ESCAPE '\\' OR r.notes LIKE @text ESCAPE '\\'
            OR EXISTS (SELECT 1 FROM run_tags t WHERE t.run_id = r.id AND t.tag LIKE @text ESCAPE '\\'))
     ORDER BY ${sort} ${order} NULLS LAST, r.id ${order}
     LIMIT @limit OFFSET @offset`,
  ).all({
    statuses,
    tag: filter.tag ?? null,
    text: filter.text ? likePattern(filter.text) : null,
    limit: filter.limit ?? -1,
    offset: filter.offset ?? 0,
  });
  return rows.map((r) => ({ ...fromDb(r), lastStep: r.last_step, lastLoss: r.last_loss }));
}

/** Every tag in use with how many runs carry it, for the filter menu. */
export function listTags(db: ReadableDb): { tag: string; runs: number }[] {
  return prepared<unknown[], { tag: string; runs: number }>(
    db,
    'SELECT tag, count(*) AS runs FROM run_tags GROUP BY tag ORDER BY tag',
  ).all();
}

/** The dotted config keys that differ between runs (resolved config by default; null configs count as {}). */
export function diffRunConfigs(
  db: ReadableDb,
  runIds: readonly number[],
  which: 'resolved' | 'requested' = 'resolved',
): ConfigDiffEntry[] {
  const runs = runIds.map((id) => requireRun(db, id));
  return diffConfigs(runs.map((r) => (which === 'resolved' ? r.resolvedConfig : r.requestedConfig) ?? {}));
}

/**
 * Deletes a run: its row and, through ON DELETE CASCADE, every metric, rollup, allocation, step, evaluation,
 * checkpoint, tag and event row; then its checkpoint files (after the commit, so a crash leaves orphan files at
 * worst, never rows without files). A run that a live process holds must be stopped first.
 */
export function deleteRun(db: WritableDb, runId: number): void {
  const run = requireRun(db, runId);
  if (run.status === 'running' || run.status === 'paused')
    throw new RunStateError(runId, run.status, 'deleted');
  const files = checkpointFiles(db, runId);
  db.transaction(() => prepared(db, 'DELETE FROM runs WHERE id = ?').run(runId))();
  removeFiles(files);
  // The per-run folder is ours (checkpoints.ts names it); remove it once empty.
  const dirs = new Set(files.map((f) => dirname(f)));
  for (const d of dirs) {
    try {
      rmdirSync(d);
    } catch {
      // not empty (a file we do not know) or already gone: leave it
    }
  }
}
