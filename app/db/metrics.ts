// Per-step metrics and their min/max rollup pyramid (migrations/0040). Every insert goes through insertMetrics,
// which keeps the pyramid in step with the raw rows inside the same transaction, so a chart never sees one without
// the other.
import { FANOUT, MAX_LEVEL } from './downsample.ts';
import type { ReadableDb, WritableDb } from './open.ts';
import { prepared } from './sql.ts';

export interface MetricRow {
  step: number;
  epoch: number;
  /** Cumulative estimator queries (forward rows spent by the estimator). */
  queries: number;
  /** Cumulative forward rows: queries + clean per-sample loss rows. */
  forwardRows: number;
  trainLoss: number | null;
  trainAcc: number | null;
  lr: number | null;
  gradNorm: number | null;
  varianceEstimate: number | null;
  /** Wall-clock milliseconds since the run started. */
  wallMs: number;
}

/** The metrics a chart can plot (y), mapped to their columns. Column names only ever come from this table. */
export const SERIES = {
  trainLoss: 'train_loss',
  trainAcc: 'train_acc',
  lr: 'lr',
  gradNorm: 'grad_norm',
  varianceEstimate: 'variance_estimate',
} as const satisfies Record<string, string>;
export type SeriesKey = keyof typeof SERIES;
export const SERIES_KEYS = Object.keys(SERIES) as SeriesKey[];

/** What a chart can use as x: all non-decreasing in step. */
export const X_AXES = {
  step: 'step',
  queries: 'queries',
  forwardRows: 'forward_rows',
  wallMs: 'wall_ms',
} as const satisfies Record<string, string>;
export type XAxis = keyof typeof X_AXES;

const INSERT_METRIC = `INSERT INTO metrics (run_id, step, epoch, queries, forward_rows, train_loss, train_acc, lr,
  grad_norm, variance_estimate, wall_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`;

const COLS = Object.values(SERIES);

// One upsert merges a bucket summary into the stored one. In DO UPDATE SET every expression sees the OLD row, so a
// value and its step are replaced together, and min/max make re-feeding the same rows harmless.
const UPSERT_ROLLUP = (() => {
  const names = ['run_id', 'level', 'bucket', 'step_min', 'step_max'];
  const sets = ['step_min = min(step_min, excluded.step_min)', 'step_max = max(step_max, excluded.step_max)'];
  for (const c of COLS) {
    names.push(`${c}_lo`, `${c}_lo_step`, `${c}_hi`, `${c}_hi_step`);
    for (const [end, op] of [
      ['lo', '<'],
      ['hi', '>'],
    ] as const) {
      const v = `${c}_${end}`;
      const take = `excluded.${v} IS NOT NULL AND (${v} IS NULL OR excluded.${v} ${op} ${v} OR (excluded.${v} = ${v} AND excluded.${v}_step < ${v}_step))`;
      sets.push(`${v} = CASE WHEN ${take} THEN excluded.${v} ELSE ${v} END`);
      sets.push(`${v}_step = CASE WHEN ${take} THEN excluded.${v}_step ELSE ${v}_step END`);
    }
  }
  return `INSERT INTO metric_rollups (${names.join(', ')}) VALUES (${names.map(() => '?').join(', ')})
    ON CONFLICT (run_id, level, bucket) DO UPDATE SET ${sets.join(', ')}`;
})();

const ROLLUP_ROW_COLS = [
  'bucket',
  'step_min',
  'step_max',
  ...COLS.flatMap((c) => [`${c}_lo`, `${c}_lo_step`, `${c}_hi`, `${c}_hi_step`]),
];

/**
 * Folds rows into every level of the pyramid: per level, one summary per touched bucket, merged into the stored
 * one. A flush of N contiguous rows touches about N/7 summaries.
 */
function feedRollups(db: WritableDb, runId: number, rows: readonly MetricRow[]): void {
  for (let level = 1; level <= MAX_LEVEL; level++) feedLevel(db, runId, level, rows);
}

/**
 * Inserts metric rows of one run (any order) and updates the rollups, in one transaction. A step already stored
 * is a constraint error: rewriting history must go through truncateMetricsAfter (resume) first.
 */
export function insertMetrics(db: WritableDb, runId: number, rows: readonly MetricRow[]): void {
  if (rows.length === 0) return;
  const insert = prepared(db, INSERT_METRIC);
  db.transaction(() => {
    for (const r of rows) {
      insert.run(
        runId,
        r.step,
        r.epoch,
        r.queries,
        r.forwardRows,
        r.trainLoss,
        r.trainAcc,
        r.lr,
        r.gradNorm,
        r.varianceEstimate,
        r.wallMs,
      );
    }
    feedRollups(db, runId, rows);
  })();
}

interface MetricDbRow {
  step: number;
  epoch: number;
  queries: number;
  forward_rows: number;
  train_loss: number | null;
  train_acc: number | null;
  lr: number | null;
  grad_norm: number | null;
  variance_estimate: number | null;
  wall_ms: number;
}

function fromDb(r: MetricDbRow): MetricRow {
  return {
    step: r.step,
    epoch: r.epoch,
    queries: r.queries,
    forwardRows: r.forward_rows,
    trainLoss: r.train_loss,
    trainAcc: r.train_acc,
    lr: r.lr,
    gradNorm: r.grad_norm,
    varianceEstimate: r.variance_estimate,
    wallMs: r.wall_ms,
  };
}

const SELECT_METRICS = `SELECT step, epoch, queries, forward_rows, train_loss, train_acc, lr, grad_norm,
  variance_estimate, wall_ms FROM metrics WHERE run_id = ? AND step BETWEEN ? AND ? ORDER BY step LIMIT ?`;

export interface StepRange {
  fromStep?: number;
  toStep?: number;
  limit?: number;
}

/** A run's metric rows in step order (a page of them: use the range for long runs). */
export function readMetrics(db: ReadableDb, runId: number, range: StepRange = {}): MetricRow[] {
  return prepared<unknown[], MetricDbRow>(db, SELECT_METRICS)
    .all(runId, range.fromStep ?? 0, range.toStep ?? Number.MAX_SAFE_INTEGER, range.limit ?? -1)
    .map(fromDb);
}

/** Streams a run's metric rows in step order without holding them all (CSV export of a million rows). */
export function* iterateMetrics(db: ReadableDb, runId: number): Generator<MetricRow> {
  const stmt = db.prepare<unknown[], MetricDbRow>(SELECT_METRICS);
  for (const r of stmt.iterate(runId, 0, Number.MAX_SAFE_INTEGER, -1)) yield fromDb(r);
}

/** First and last logged step of a run, or undefined when it has none. */
export function stepBounds(db: ReadableDb, runId: number): { first: number; last: number } | undefined {
  const first = prepared(db, 'SELECT step FROM metrics WHERE run_id = ? ORDER BY step LIMIT 1')
    .pluck()
    .get(runId) as number | undefined;
  if (first === undefined) return undefined;
  const last = prepared(db, 'SELECT step FROM metrics WHERE run_id = ? ORDER BY step DESC LIMIT 1')
    .pluck()
    .get(runId) as number;
  return { first, last };
}

/**
 * Deletes a run's metrics after `step` and repairs the pyramid: every summary whose bucket reaches past `step`
 * is dropped, then rebuilt bottom-up from what remains — level 1 from at most 8 raw rows, level L from at most 8
 * summaries of level L−1 — so the cost does not depend on the run's length.
 */
export function truncateMetricsAfter(db: WritableDb, runId: number, step: number): void {
  const upsert = prepared(db, UPSERT_ROLLUP);
  db.transaction(() => {
    prepared(db, 'DELETE FROM metrics WHERE run_id = ? AND step > ?').run(runId, step);
    for (let level = 1; level <= MAX_LEVEL; level++) {
      const first = Math.floor((step + 1) / FANOUT ** level);
      prepared(db, 'DELETE FROM metric_rollups WHERE run_id = ? AND level = ? AND bucket >= ?').run(
        runId,
        level,
        first,
      );
    }
    if (step < 0) return;
    // Level 1: the straddling bucket from raw rows.
    const w1 = FANOUT;
    const raw = prepared<unknown[], MetricDbRow>(db, SELECT_METRICS)
      .all(runId, Math.floor(step / w1) * w1, step, -1)
      .map(fromDb);
    feedLevel(db, runId, 1, raw);
    // Level L: the straddling bucket from the (now correct) level L−1 summaries inside it.
    const read = prepared<unknown[], unknown[]>(
      db,
      `SELECT ${ROLLUP_ROW_COLS.join(', ')} FROM metric_rollups WHERE run_id = ? AND level = ? AND bucket BETWEEN ? AND ?`,
    ).raw(true);
    for (let level = 2; level <= MAX_LEVEL; level++) {
      const parent = Math.floor(step / FANOUT ** level);
      for (const row of read.all(runId, level - 1, parent * FANOUT, parent * FANOUT + FANOUT - 1)) {
        upsert.run(runId, level, parent, ...row.slice(1));
      }
    }
  })();
}

/**
 * One level's summaries of `rows`, merged into the stored ones. A single pass over the rows in step order; the
 * semantics are bucketExtremes' (null/NaN skipped, ties to the earliest step), which the tests check against.
 */
function feedLevel(db: WritableDb, runId: number, level: number, rows: readonly MetricRow[]): void {
  if (rows.length === 0) return;
  const upsert = prepared(db, UPSERT_ROLLUP);
  const width = FANOUT ** level;
  const sorted = rows.every((r, i) => i === 0 || (rows[i - 1] as MetricRow).step <= r.step)
    ? rows
    : [...rows].sort((a, b) => a.step - b.step);
  const k = SERIES_KEYS.length;
  // params layout: run, level, bucket, step_min, step_max, then per series lo, lo_step, hi, hi_step.
  const params: (number | null)[] = new Array(5 + 4 * k);
  let i = 0;
  while (i < sorted.length) {
    const first = sorted[i] as MetricRow;
    const bucket = Math.floor(first.step / width);
    params.fill(null);
    params[0] = runId;
    params[1] = level;
    params[2] = bucket;
    params[3] = first.step;
    let last = first.step;
    for (; i < sorted.length; i++) {
      const r = sorted[i] as MetricRow;
      if (Math.floor(r.step / width) !== bucket) break;
      last = r.step;
      for (let j = 0; j < k; j++) {
        const v = r[SERIES_KEYS[j] as SeriesKey];
        if (v === null || Number.isNaN(v)) continue;
        const at = 5 + 4 * j;
        // Rows arrive in step order, so a strict comparison keeps the earliest step on ties.
        if (params[at] === null || v < (params[at] as number)) {
          params[at] = v;
          params[at + 1] = r.step;
        }
        if (params[at + 2] === null || v > (params[at + 2] as number)) {
          params[at + 2] = v;
          params[at + 3] = r.step;
        }
      }
    }
    params[4] = last;
    upsert.run(...params);
  }
}

/** Recomputes a run's whole pyramid from its raw rows (repair; tests compare it with the incremental result). */
export function rebuildRollups(db: WritableDb, runId: number): void {
  db.transaction(() => {
    prepared(db, 'DELETE FROM metric_rollups WHERE run_id = ?').run(runId);
    let from = 0;
    for (;;) {
      const page = readMetrics(db, runId, { fromStep: from, limit: 50_000 });
      if (page.length === 0) break;
      feedRollups(db, runId, page);
      from = (page.at(-1) as MetricRow).step + 1;
    }
  })();
}
