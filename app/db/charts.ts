// Chart reads: metrics of several runs, down-sampled to min/max per bucket (downsample.ts) in SQL. Large ranges
// read the rollup pyramid instead of the raw rows, so the cost is bounded by the number of output points, not by
// the run's length (3 runs × 1 M steps → 2,000 points each in a few ms; store-bench.ts measures it).
import { planBuckets, FANOUT } from './downsample.ts';
import type { XAxis, SeriesKey } from './metrics.ts';
import { SERIES, stepBounds, X_AXES } from './metrics.ts';
import type { ReadableDb } from './open.ts';
import { prepared } from './sql.ts';

export interface ChartQuery {
  runIds: readonly number[];
  metric: SeriesKey;
  /** x of each point; default 'step'. */
  x?: XAxis;
  /** At most this many points per run (default 2,000): two per bucket, the bucket's min and max. */
  maxPoints?: number;
  /** Restrict to a step range (zoom). Beyond raw resolution, edges round out to the pyramid level's buckets. */
  fromStep?: number;
  toStep?: number;
}

export interface ChartSeries {
  runId: number;
  /** Pyramid level read (0 = raw rows) and output bucket width in steps; width 1 means not down-sampled. */
  level: number;
  width: number;
  steps: number[];
  x: number[];
  y: number[];
}

type Row = [bucket: number, value: number, step: number, x: number];

function extremesSql(metric: SeriesKey, x: XAxis, raw: boolean, end: 'lo' | 'hi'): string {
  const col = SERIES[metric];
  const agg = end === 'lo' ? 'min' : 'max';
  // SQLite documents that with exactly one min()/max() aggregate, a bare column ("s") comes from the row holding
  // that extreme: this is what gives each bucket's extreme its step without a window function.
  const inner = raw
    ? `SELECT step / CAST(@per AS INTEGER) AS b, ${agg}(${col}) AS v, step AS s FROM metrics
         WHERE run_id = @run AND step BETWEEN @lo AND @hi AND ${col} IS NOT NULL GROUP BY b`
    : `SELECT bucket / CAST(@per AS INTEGER) AS b, ${agg}(${col}_${end}) AS v, ${col}_${end}_step AS s
         FROM metric_rollups WHERE run_id = @run AND level = @level AND bucket BETWEEN @lo AND @hi
         AND ${col}_${end} IS NOT NULL GROUP BY b`;
  if (x === 'step') return `SELECT b, v, s, s FROM (${inner})`;
  // Other x axes: one primary-key seek per output point, inside SQLite.
  return `SELECT g.b, g.v, g.s, m.${X_AXES[x]} FROM (${inner}) AS g JOIN metrics AS m ON m.run_id = @run AND m.step = g.s`;
}

/** One series per run (in the order given), each at most `maxPoints` points sorted by step. */
export function chartSeries(db: ReadableDb, q: ChartQuery): ChartSeries[] {
  // Own keys only: these names become column names, so 'constructor' and friends must not pass.
  if (!Object.hasOwn(SERIES, q.metric)) throw new TypeError(`unknown chart metric '${String(q.metric)}'`);
  const x = q.x ?? 'step';
  if (!Object.hasOwn(X_AXES, x)) throw new TypeError(`unknown chart x axis '${String(x)}'`);
  const maxPoints = q.maxPoints ?? 2000;
  return q.runIds.map((runId) => {
    const bounds = stepBounds(db, runId);
    const empty: ChartSeries = { runId, level: 0, width: 1, steps: [], x: [], y: [] };
    if (!bounds) return empty;
    const lo = Math.max(bounds.first, q.fromStep ?? bounds.first);
    const hi = Math.min(bounds.last, q.toStep ?? bounds.last);
    if (lo > hi) return empty;
    const plan = planBuckets(lo, hi, maxPoints);
    // Raw rows are grouped by the output width directly; summaries by `factor` of their own buckets.
    const base = FANOUT ** plan.level;
    const args =
      plan.level === 0
        ? { run: runId, per: plan.width, lo, hi }
        : {
            run: runId,
            per: plan.factor,
            lo: Math.floor(lo / base),
            hi: Math.floor(hi / base),
            level: plan.level,
          };
    const read = (end: 'lo' | 'hi'): Row[] =>
      prepared<unknown[], Row>(db, extremesSql(q.metric, x, plan.level === 0, end))
        .raw(true)
        .all(args);
    const his = new Map(read('hi').map((r) => [r[0], r]));
    const out: ChartSeries = { runId, level: plan.level, width: plan.width, steps: [], x: [], y: [] };
    const push = (r: Row): void => {
      out.steps.push(r[2]);
      out.y.push(r[1]);
      out.x.push(r[3]);
    };
    // Both queries group the same rows, so a bucket has a min exactly when it has a max. GROUP BY emits groups in
    // bucket order here, but sort anyway rather than lean on an unspecified order.
    for (const l of read('lo').sort((a, b) => a[0] - b[0])) {
      const h = his.get(l[0]) as Row;
      const [first, second] = l[2] <= h[2] ? [l, h] : [h, l];
      push(first);
      if (second[2] !== first[2]) push(second);
    }
    return out;
  });
}
