// Per-step query allocations: which dataset samples were in the batch, how many estimator queries each got, and
// each one's clean loss, as compact little-endian BLOBs, plus summary statistics of the counts in columns.
import { decodeFloat32, decodeInt32, encodeFloat32, encodeInt32 } from './blob.ts';
import type { ReadableDb, WritableDb } from './open.ts';
import type { JsonValue } from './sql.ts';
import { prepared } from './sql.ts';

export interface AllocationRow {
  step: number;
  /** Dataset indices of the batch rows. */
  sampleIds: Int32Array;
  /** Estimator queries n_i per batch row. */
  counts: Int32Array;
  /** Clean per-sample losses of the batch rows. */
  losses: Float32Array;
  /** The allocator's parameters after this step (alpha, beta, log c, ..., reward), from Allocator.snapshot(). */
  allocatorParams: Record<string, number> | JsonValue;
}

export interface CountStats {
  budget: number;
  min: number;
  max: number;
  mean: number;
  /** Population standard deviation. */
  std: number;
  /** Gini coefficient of the counts: 0 = uniform allocation, → 1 = all queries on one sample. */
  gini: number;
}

/** Summary statistics of per-sample counts. Gini via the sorted-rank formula, O(n log n). */
export function countStats(counts: ArrayLike<number>): CountStats {
  const n = counts.length;
  if (n === 0) return { budget: 0, min: 0, max: 0, mean: 0, std: 0, gini: 0 };
  const sorted = Float64Array.from(counts).sort();
  let sum = 0;
  for (const c of sorted) sum += c;
  const mean = sum / n;
  let sq = 0;
  let ranked = 0;
  for (let i = 0; i < n; i++) {
    const c = sorted[i] as number;
    sq += (c - mean) ** 2;
    ranked += (2 * (i + 1) - n - 1) * c;
  }
  return {
    budget: sum,
    min: sorted[0] as number,
    max: sorted[n - 1] as number,
    mean,
    std: Math.sqrt(sq / n),
    gini: sum === 0 ? 0 : ranked / (n * sum),
  };
}

const INSERT = `INSERT INTO allocations (run_id, step, sample_ids, counts, losses, budget, count_min, count_max,
  count_mean, count_std, count_gini, allocator_params) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`;

export function insertAllocations(db: WritableDb, runId: number, rows: readonly AllocationRow[]): void {
  const stmt = prepared(db, INSERT);
  db.transaction(() => {
    for (const r of rows) {
      if (r.counts.length !== r.sampleIds.length || r.losses.length !== r.sampleIds.length) {
        throw new RangeError(`allocation at step ${r.step}: sampleIds, counts and losses differ in length`);
      }
      const s = countStats(r.counts);
      stmt.run(
        runId,
        r.step,
        encodeInt32(r.sampleIds),
        encodeInt32(r.counts),
        encodeFloat32(r.losses),
        s.budget,
        s.min,
        s.max,
        s.mean,
        s.std,
        s.gini,
        JSON.stringify(r.allocatorParams ?? {}),
      );
    }
  })();
}

interface AllocationDbRow {
  step: number;
  sample_ids: Buffer;
  counts: Buffer;
  losses: Buffer;
  allocator_params: string;
}

export function getAllocation(db: ReadableDb, runId: number, step: number): AllocationRow | undefined {
  const r = prepared<unknown[], AllocationDbRow>(
    db,
    'SELECT step, sample_ids, counts, losses, allocator_params FROM allocations WHERE run_id = ? AND step = ?',
  ).get(runId, step);
  return r
    ? {
        step: r.step,
        sampleIds: decodeInt32(r.sample_ids),
        counts: decodeInt32(r.counts),
        losses: decodeFloat32(r.losses),
        allocatorParams: JSON.parse(r.allocator_params) as JsonValue,
      }
    : undefined;
}

export interface AllocationStatsRow extends CountStats {
  step: number;
  allocatorParams: JsonValue;
}

/** Summary statistics per step (no blob decoding), for the allocation chart. */
export function allocationStats(
  db: ReadableDb,
  runId: number,
  range: { fromStep?: number; toStep?: number; limit?: number } = {},
): AllocationStatsRow[] {
  return prepared<unknown[], Record<string, number | string>>(
    db,
    `SELECT step, budget, count_min, count_max, count_mean, count_std, count_gini, allocator_params
     FROM allocations WHERE run_id = ? AND step BETWEEN ? AND ? ORDER BY step LIMIT ?`,
  )
    .all(runId, range.fromStep ?? 0, range.toStep ?? Number.MAX_SAFE_INTEGER, range.limit ?? -1)
    .map((r) => ({
      step: r.step as number,
      budget: r.budget as number,
      min: r.count_min as number,
      max: r.count_max as number,
      mean: r.count_mean as number,
      std: r.count_std as number,
      gini: r.count_gini as number,
      allocatorParams: JSON.parse(r.allocator_params as string) as JsonValue,
    }));
}

export interface SampleAllocation {
  step: number;
  /** Row of the batch the sample occupied (a sample drawn twice in one batch yields two entries). */
  row: number;
  count: number;
  loss: number;
}

/**
 * One sample's allocation across steps: how many queries it got and its loss each time it was in a batch.
 * SQLite's instr() on the sample-id BLOB is a byte-level pre-filter run in C (a match may be misaligned, never
 * missed); only candidate rows are decoded and checked at 4-byte boundaries.
 */
export function sampleAllocationHistory(
  db: ReadableDb,
  runId: number,
  sampleId: number,
  range: { fromStep?: number; toStep?: number } = {},
): SampleAllocation[] {
  const needle = encodeInt32(Int32Array.of(sampleId));
  const rows = prepared<unknown[], AllocationDbRow>(
    db,
    `SELECT step, sample_ids, counts, losses, '' AS allocator_params FROM allocations
     WHERE run_id = ? AND step BETWEEN ? AND ? AND instr(sample_ids, ?) > 0 ORDER BY step`,
  ).all(runId, range.fromStep ?? 0, range.toStep ?? Number.MAX_SAFE_INTEGER, Buffer.from(needle));
  const out: SampleAllocation[] = [];
  for (const r of rows) {
    const ids = decodeInt32(r.sample_ids);
    let counts: Int32Array | undefined;
    let losses: Float32Array | undefined;
    for (let i = 0; i < ids.length; i++) {
      if (ids[i] !== sampleId) continue;
      counts ??= decodeInt32(r.counts);
      losses ??= decodeFloat32(r.losses);
      out.push({ step: r.step, row: i, count: counts[i] as number, loss: losses[i] as number });
    }
  }
  return out;
}

/** A run's allocations in step order, decoded (export; page with the range on long runs). */
export function readAllocations(
  db: ReadableDb,
  runId: number,
  range: { fromStep?: number; toStep?: number; limit?: number } = {},
): AllocationRow[] {
  return prepared<unknown[], AllocationDbRow>(
    db,
    `SELECT step, sample_ids, counts, losses, allocator_params FROM allocations
     WHERE run_id = ? AND step BETWEEN ? AND ? ORDER BY step LIMIT ?`,
  )
    .all(runId, range.fromStep ?? 0, range.toStep ?? Number.MAX_SAFE_INTEGER, range.limit ?? -1)
    .map((r) => ({
      step: r.step,
      sampleIds: decodeInt32(r.sample_ids),
      counts: decodeInt32(r.counts),
      losses: decodeFloat32(r.losses),
      allocatorParams: JSON.parse(r.allocator_params) as JsonValue,
    }));
}
