// From the study's raw records (stored runs and variance measurements) to what the report says: the target
// accuracy of each estimator and mode, queries to reach it, mean and spread across seeds for every configuration
// that ran, ratios against uniform paired by seed, and the plain verdicts of where FLOPS beats uniform.
import type { StudyAllocator, StudyEstimator, StudyModeName } from './options.ts';
import type { AllocationPoint, RunRecord } from './runs.ts';
import { spread, type Spread } from './stats.ts';
import type { VarianceLine, VarianceResult } from './variance.ts';

export interface VarianceGroup {
  mode: StudyModeName;
  estimator: StudyEstimator;
  nominalBudget: number;
  budget: number;
  seed: number;
  result: VarianceResult;
}

export interface NotSupported {
  mode: StudyModeName;
  estimator: StudyEstimator;
  reason: string;
}

export interface StudyData {
  runs: RunRecord[];
  variance: VarianceGroup[];
  notSupported: NotSupported[];
  allocations: AllocationPoint[];
}

export interface Target {
  mode: StudyModeName;
  estimator: StudyEstimator;
  /** targetFraction × best; NaN when the uniform runs at the largest budget are missing. */
  target: number;
  /** Best final accuracy among the uniform runs at the largest budget (over seeds). */
  best: number;
  budget: number;
  fraction: number;
}

export interface RunDerived {
  runId: number;
  reached: boolean;
  /** Cumulative estimator queries at the first evaluation at or above the target; NaN if never. */
  queriesToTarget: number;
  /** Same in forward rows (queries + the clean per-sample loss pass the allocator needs). */
  forwardRowsToTarget: number;
}

export interface CellSummary {
  mode: StudyModeName;
  estimator: StudyEstimator;
  nominalBudget: number;
  budget: number;
  allocator: StudyAllocator;
  seeds: number[];
  runIds: number[];
  failed: number;
  steps: number;
  queries: number;
  finalAccuracy: Spread;
  /** Over the seeds that reached the target. */
  queriesToTarget: Spread;
  reached: number;
  /** q_allocator / q_uniform per seed where both reached the target. */
  queriesRatio: Spread;
  /** acc_allocator − acc_uniform per seed. */
  accuracyDiff: Spread;
  wallSeconds: Spread;
  loopSeconds: Spread;
  /** Mean per-step V̂ (the engine's estimate) relative to uniform's, per seed. */
  varianceEstimateRatio: Spread;
}

export interface VarianceCellSummary {
  mode: StudyModeName;
  estimator: StudyEstimator;
  nominalBudget: number;
  budget: number;
  line: VarianceLine;
  exact: boolean;
  seeds: number;
  /** Per-seed geometric-mean ratio to uniform (MSE when exact, else tr Cov). */
  ratio: Spread;
  /** Per-seed mean MSE (exact) or tr Cov. */
  level: Spread;
  relative: Spread;
  traceCovRatio: Spread;
  maxShare: Spread;
}

export type Verdict = 'better' | 'worse' | 'mixed' | 'equal' | 'n/a';

export interface Comparison {
  mode: StudyModeName;
  estimator: StudyEstimator;
  budget: number;
  allocator: StudyAllocator;
  variance: { verdict: Verdict; ratio: Spread };
  queries: { verdict: Verdict; ratio: Spread; reached: string };
  accuracy: { verdict: Verdict; diff: Spread };
}

export interface StudySummary {
  targets: Target[];
  derived: RunDerived[];
  cells: CellSummary[];
  variance: VarianceCellSummary[];
  comparisons: Comparison[];
  statements: string[];
}

const key = (mode: string, est: string) => `${mode}/${est}`;

/** better: every seed on the good side of `pivot`; worse: every seed on the bad side; else mixed. */
export function verdict(
  values: readonly number[],
  lowerIsBetter: boolean,
  pivot: number,
  tol = 1e-9,
): Verdict {
  const xs = values.filter(Number.isFinite);
  if (xs.length === 0) return 'n/a';
  if (xs.every((x) => Math.abs(x - pivot) <= tol)) return 'equal';
  const good = (x: number) => (lowerIsBetter ? x < pivot - tol : x > pivot + tol);
  const bad = (x: number) => (lowerIsBetter ? x > pivot + tol : x < pivot - tol);
  if (xs.every(good)) return 'better';
  if (xs.every(bad)) return 'worse';
  return 'mixed';
}

export function analyse(data: StudyData, targetFraction: number): StudySummary {
  const runs = data.runs;
  const combos = new Map<string, { mode: StudyModeName; estimator: StudyEstimator }>();
  for (const r of runs) combos.set(key(r.mode, r.estimator), { mode: r.mode, estimator: r.estimator });

  // Targets: targetFraction × the best final accuracy of the uniform runs at the largest budget.
  const targets: Target[] = [...combos.values()].map(({ mode, estimator }) => {
    const mine = runs.filter((r) => r.mode === mode && r.estimator === estimator);
    const budget = Math.max(...mine.map((r) => r.budget));
    const ref = mine.filter(
      (r) => r.budget === budget && r.allocator === 'uniform' && r.status === 'completed',
    );
    const best = ref.length > 0 ? Math.max(...ref.map((r) => r.finalAccuracy)) : Number.NaN;
    return { mode, estimator, target: targetFraction * best, best, budget, fraction: targetFraction };
  });
  const targetOf = (r: RunRecord) =>
    targets.find((t) => t.mode === r.mode && t.estimator === r.estimator)?.target ?? Number.NaN;

  const derived: RunDerived[] = runs.map((r) => {
    const t = targetOf(r);
    const hit = r.curve.find((p) => p.accuracy >= t);
    return {
      runId: r.runId,
      reached: hit !== undefined,
      queriesToTarget: hit?.queries ?? Number.NaN,
      forwardRowsToTarget: hit?.forwardRows ?? Number.NaN,
    };
  });
  const derivedOf = new Map(derived.map((d) => [d.runId, d]));

  const cellKey = (r: { mode: string; estimator: string; budget: number }) =>
    `${r.mode}/${r.estimator}/${r.budget}`;
  const cells: CellSummary[] = [];
  const seen = new Set<string>();
  for (const r of runs) {
    const k = `${cellKey(r)}/${r.allocator}`;
    if (seen.has(k)) continue;
    seen.add(k);
    const mine = runs.filter((x) => `${cellKey(x)}/${x.allocator}` === k);
    const ok = mine.filter((x) => x.status === 'completed');
    const uniformOf = (x: RunRecord) =>
      runs.find(
        (u) =>
          cellKey(u) === cellKey(x) &&
          u.allocator === 'uniform' &&
          u.seed === x.seed &&
          u.status === 'completed',
      );
    const pairs = ok.map((x) => ({ x, u: uniformOf(x) })).filter((p) => p.u !== undefined);
    const q = (x: RunRecord) => derivedOf.get(x.runId)!;
    cells.push({
      mode: r.mode,
      estimator: r.estimator,
      nominalBudget: r.nominalBudget,
      budget: r.budget,
      allocator: r.allocator,
      seeds: mine.map((x) => x.seed),
      runIds: mine.map((x) => x.runId),
      failed: mine.length - ok.length,
      steps: Math.max(...mine.map((x) => x.steps)),
      queries: Math.max(...mine.map((x) => x.queries)),
      finalAccuracy: spread(ok.map((x) => x.finalAccuracy)),
      queriesToTarget: spread(ok.filter((x) => q(x).reached).map((x) => q(x).queriesToTarget)),
      reached: ok.filter((x) => q(x).reached).length,
      queriesRatio: spread(
        pairs
          .filter((p) => q(p.x).reached && q(p.u!).reached)
          .map((p) => q(p.x).queriesToTarget / q(p.u!).queriesToTarget),
      ),
      accuracyDiff: spread(pairs.map((p) => p.x.finalAccuracy - p.u!.finalAccuracy)),
      wallSeconds: spread(ok.map((x) => x.wallMs / 1000)),
      loopSeconds: spread(ok.map((x) => x.loopWallMs / 1000)),
      varianceEstimateRatio: spread(pairs.map((p) => p.x.meanVarianceEstimate / p.u!.meanVarianceEstimate)),
    });
  }

  const variance: VarianceCellSummary[] = [];
  const vseen = new Set<string>();
  for (const g of data.variance) {
    const k = cellKey(g);
    if (vseen.has(k)) continue;
    vseen.add(k);
    const groups = data.variance.filter((x) => cellKey(x) === k);
    const lines = Object.keys(groups[0]!.result.ratio) as VarianceLine[];
    for (const line of lines) {
      const have = groups.filter((x) => x.result.ratio[line] !== undefined);
      const maxShares = have.map((x) => {
        const s = x.result.snapshots.map((m) => m.maxShare[line]!);
        return s.reduce((a, b) => a + b, 0) / s.length;
      });
      variance.push({
        mode: g.mode,
        estimator: g.estimator,
        nominalBudget: g.nominalBudget,
        budget: g.budget,
        line,
        exact: g.result.exact,
        seeds: have.length,
        ratio: spread(have.map((x) => x.result.ratio[line]!)),
        level: spread(have.map((x) => x.result.level[line]!)),
        relative: spread(have.map((x) => x.result.relative[line]!)),
        traceCovRatio: spread(have.map((x) => x.result.traceCovRatio[line]!)),
        maxShare: spread(maxShares),
      });
    }
  }

  // FLOPS (and the other allocators) against uniform, paired by seed.
  const comparisons: Comparison[] = [];
  for (const c of cells) {
    if (c.allocator === 'uniform') continue;
    const perSeedVariance = data.variance
      .filter((g) => cellKey(g) === cellKey(c))
      .map((g) => g.result.ratio[c.allocator])
      .filter((x): x is number => x !== undefined);
    const uniformCell = cells.find((u) => cellKey(u) === cellKey(c) && u.allocator === 'uniform');
    const pairedQ = runs
      .filter((x) => cellKey(x) === cellKey(c) && x.allocator === c.allocator && x.status === 'completed')
      .map((x) => {
        const u = runs.find(
          (y) => cellKey(y) === cellKey(x) && y.allocator === 'uniform' && y.seed === x.seed,
        );
        const dx = derivedOf.get(x.runId)!;
        const du = u && derivedOf.get(u.runId);
        if (!du) return Number.NaN;
        if (dx.reached && du.reached) return dx.queriesToTarget / du.queriesToTarget;
        if (dx.reached && !du.reached) return 0; // reached where uniform never did: counts as fewer queries
        if (!dx.reached && du.reached) return Number.POSITIVE_INFINITY; // never reached: more queries
        return Number.NaN;
      });
    const accDiffs = runs
      .filter((x) => cellKey(x) === cellKey(c) && x.allocator === c.allocator && x.status === 'completed')
      .map((x) => {
        const u = runs.find(
          (y) => cellKey(y) === cellKey(x) && y.allocator === 'uniform' && y.seed === x.seed,
        );
        return u ? x.finalAccuracy - u.finalAccuracy : Number.NaN;
      });
    comparisons.push({
      mode: c.mode,
      estimator: c.estimator,
      budget: c.budget,
      allocator: c.allocator,
      variance: { verdict: verdict(perSeedVariance, true, 1, 1e-6), ratio: spread(perSeedVariance) },
      queries: {
        verdict: verdictQueries(pairedQ),
        ratio: c.queriesRatio,
        reached: `${c.reached}/${c.seeds.length} vs uniform ${uniformCell?.reached ?? 0}/${uniformCell?.seeds.length ?? 0}`,
      },
      accuracy: { verdict: verdict(accDiffs, false, 0, 0), diff: spread(accDiffs) },
    });
  }

  return { targets, derived, cells, variance, comparisons, statements: statements(comparisons, data) };
}

function verdictQueries(values: number[]): Verdict {
  const xs = values.filter((x) => !Number.isNaN(x));
  if (xs.length === 0) return 'n/a';
  return verdict(
    xs.map((x) => (x === Number.POSITIVE_INFINITY ? 1e9 : x)),
    true,
    1,
    1e-9,
  );
}

const MODE_LABEL: Record<StudyModeName, string> = { head: 'head', lora: 'LoRA' };
const EST_LABEL: Record<StudyEstimator, string> = { spsa: 'SPSA', lr: 'LR' };
export const panelLabel = (mode: StudyModeName, est: StudyEstimator) =>
  `${MODE_LABEL[mode]} · ${EST_LABEL[est]}`;

function list(items: string[]): string {
  if (items.length === 0) return 'none';
  return items.join('; ');
}

function statements(comparisons: Comparison[], data: StudyData): string[] {
  const flops = comparisons.filter((c) => c.allocator === 'flops');
  const where = (pred: (c: Comparison) => boolean, show: (c: Comparison) => string) =>
    list(flops.filter(pred).map((c) => `${panelLabel(c.mode, c.estimator)} n̄=${c.budget} (${show(c)})`));
  const vr = (c: Comparison) => `ratio ${fmtSpreadPlain(c.variance.ratio)}`;
  const qr = (c: Comparison) =>
    c.queries.ratio.n > 0
      ? `ratio ${fmtSpreadPlain(c.queries.ratio)}, reached ${c.queries.reached}`
      : `reached ${c.queries.reached}`;
  const ad = (c: Comparison) => `${fmtSpreadPlain(c.accuracy.diff, 100)} points`;
  const out = [
    `Gradient variance — FLOPS lower than uniform on every seed: ${where((c) => c.variance.verdict === 'better', vr)}.`,
    `Gradient variance — FLOPS higher than uniform on every seed: ${where((c) => c.variance.verdict === 'worse', vr)}.`,
    `Gradient variance — no consistent difference (seeds disagree) or identical allocations: ${where(
      (c) => c.variance.verdict === 'mixed' || c.variance.verdict === 'equal',
      vr,
    )}.`,
    `Queries to target — FLOPS needs fewer than uniform on every seed: ${where((c) => c.queries.verdict === 'better', qr)}.`,
    `Queries to target — FLOPS needs more (or never reaches it) on every seed: ${where((c) => c.queries.verdict === 'worse', qr)}.`,
    `Queries to target — no consistent difference: ${where(
      (c) => c.queries.verdict === 'mixed' || c.queries.verdict === 'equal' || c.queries.verdict === 'n/a',
      qr,
    )}.`,
    `Final accuracy at the fixed query budget — FLOPS higher on every seed: ${where((c) => c.accuracy.verdict === 'better', ad)}.`,
    `Final accuracy at the fixed query budget — FLOPS lower on every seed: ${where((c) => c.accuracy.verdict === 'worse', ad)}.`,
    `Final accuracy at the fixed query budget — no consistent difference: ${where(
      (c) => c.accuracy.verdict === 'mixed' || c.accuracy.verdict === 'equal',
      ad,
    )}.`,
  ];
  for (const ns of data.notSupported) {
    out.push(`Not run: ${panelLabel(ns.mode, ns.estimator)} — not supported by the engine (${ns.reason}).`);
  }
  return out;
}

function fmtSpreadPlain(s: Spread, scale = 1): string {
  if (s.n === 0) return 'n/a';
  const m = (s.mean * scale).toFixed(scale === 100 ? 1 : 3);
  return s.n === 1 ? m : `${m} ± ${(s.std * scale).toFixed(scale === 100 ? 1 : 3)}`;
}
