// Study benchmark, called by the consolidated bench (npm run bench) and runnable alone:
//   npx tsx app/study/study-bench.ts
// The quick study (head mode, n̄ = 10, seed 0, 100 steps per run; deterministic: every draw is seeded) in a
// throw-away data folder, reduced to four numbers, FLOPS over uniform at the same budget (below 1: FLOPS better):
//   study.variance_ratio.<estimator>           E‖ĝ − g‖² against the exact gradient, geometric mean over snapshots
//   study.queries_to_target_ratio.<estimator>  estimator queries to reach 95% of uniform's final accuracy; a run
//                                              that never reaches it counts its whole budget (then the ratio is a
//                                              lower bound)
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import type { StudyEstimator } from './options.ts';
import { runStudy, type StudyResult } from './study.ts';

export const BENCH_ESTIMATORS: readonly StudyEstimator[] = ['spsa', 'lr'];

/** The four bench fields from a finished study (its first budget and seed). */
export function studyBenchFields(result: StudyResult): Record<string, number> {
  const { data, summary } = result;
  const out: Record<string, number> = {};
  for (const estimator of BENCH_ESTIMATORS) {
    const groups = data.variance.filter((g) => g.mode === 'head' && g.estimator === estimator);
    const g = groups[0];
    out[`study.variance_ratio.${estimator}`] = g?.result.ratio.flops ?? Number.NaN;

    const runs = data.runs.filter(
      (r) =>
        r.mode === 'head' &&
        r.estimator === estimator &&
        g !== undefined &&
        r.budget === g.budget &&
        r.seed === g.seed,
    );
    const queries = (allocator: string) => {
      const r = runs.find((x) => x.allocator === allocator);
      if (!r) return Number.NaN;
      const d = summary.derived.find((x) => x.runId === r.runId)!;
      return d.reached ? d.queriesToTarget : r.queries;
    };
    out[`study.queries_to_target_ratio.${estimator}`] = queries('flops') / queries('uniform');
  }
  return out;
}

export async function benchStudy(): Promise<Record<string, number>> {
  const dataDir = mkdtempSync(join(tmpdir(), 'flops-study-bench-'));
  try {
    const result = await runStudy({ dataDir, quick: true, plots: false });
    return studyBenchFields(result);
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  console.log(JSON.stringify(await benchStudy()));
}
