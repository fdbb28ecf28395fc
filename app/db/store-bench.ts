// Store benchmark, called by the consolidated bench (npm run bench) and runnable alone:
//   npx tsx app/db/store-bench.ts
// metric_rows_per_sec: 1 M metric rows through the RunWriter as a training process writes them (default batching,
// rollups maintained, WAL, synchronous=NORMAL). chart_query_ms: 3 runs of 1 M steps down-sampled to 2,000 points
// each (median of 5 after a warm-up); the goal is <= 50 ms.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { chartSeries } from './charts.ts';
import { insertMetrics, type MetricRow } from './metrics.ts';
import { openDb } from './open.ts';
import { createRun } from './runs.ts';
import { openRunWriter } from './writer.ts';

export interface StoreBenchResult {
  metric_rows_per_sec: number;
  chart_query_ms: number;
}

export interface StoreBenchOptions {
  /** Metric rows per run (default 1 M). */
  rows?: number;
  /** Runs in the chart query (default 3). */
  runs?: number;
  /** Points per series (default 2,000). */
  points?: number;
}

/** A plausible noisy loss curve: deterministic, so every bench run does the same work. */
function row(step: number, seed: number): MetricRow {
  const noise = Math.sin(step * 12.9898 + seed * 78.233) * 43758.5453;
  const jitter = noise - Math.floor(noise);
  const loss = 2.3 * Math.exp(-step / 2e5) + 0.2 * jitter;
  return {
    step,
    epoch: Math.floor(step / 1000),
    queries: (step + 1) * 640,
    forwardRows: (step + 1) * 704,
    trainLoss: loss,
    trainAcc: 1 - loss / 2.5,
    lr: 1e-3,
    gradNorm: 1 + jitter,
    varianceEstimate: jitter * jitter,
    wallMs: step * 180,
  };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

export async function benchStore(opts: StoreBenchOptions = {}): Promise<StoreBenchResult> {
  const rows = opts.rows ?? 1_000_000;
  const runs = opts.runs ?? 3;
  const dir = mkdtempSync(join(tmpdir(), 'flops-store-bench-'));
  const db = openDb(join(dir, 'bench.sqlite'));
  try {
    const ids = Array.from(
      { length: runs },
      (_, i) => createRun(db, { name: `bench ${i}`, requestedConfig: {}, seed: i }).id,
    );
    const [timed, ...rest] = ids;
    if (timed === undefined) throw new RangeError('runs must be >= 1');

    const t0 = performance.now();
    const writer = openRunWriter(db, timed, { timer: false });
    for (let s = 0; s < rows; s++) writer.metric(row(s, timed));
    writer.close();
    const metricRowsPerSec = rows / ((performance.now() - t0) / 1000);

    // The other runs only need to exist for the chart query: bulk-load them untimed.
    for (const id of rest) {
      for (let lo = 0; lo < rows; lo += 50_000) {
        const chunk: MetricRow[] = [];
        for (let s = lo; s < Math.min(rows, lo + 50_000); s++) chunk.push(row(s, id));
        insertMetrics(db, id, chunk);
      }
    }

    const query = () => chartSeries(db, { runIds: ids, metric: 'trainLoss', maxPoints: opts.points ?? 2000 });
    query();
    const times: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t = performance.now();
      query();
      times.push(performance.now() - t);
    }
    return {
      metric_rows_per_sec: Math.round(metricRowsPerSec),
      chart_query_ms: Math.round(median(times) * 100) / 100,
    };
  } finally {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  console.log(JSON.stringify(await benchStore()));
}
