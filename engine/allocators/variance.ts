// The objective every allocator is judged by (§2.6, §3.2): with independent queries and per-sample averaging,
// the batch estimator's variance is V(n) = (1/B²) Σ v_i / n_i. FLOPS uses −V(n) as its reward (§3.4 (a)); the
// tests and benches compare allocations by it.
import { waterFill } from './integerise.ts';

/** V(n) = (1/B²) Σ_i v_i / n_i for per-query variances v and counts n (same length B). */
export function allocationVariance(counts: ArrayLike<number>, v: ArrayLike<number>): number {
  const b = counts.length;
  if (v.length !== b) throw new RangeError(`allocationVariance: ${b} counts but ${v.length} variances`);
  let s = 0;
  for (let i = 0; i < b; i++) s += v[i]! / counts[i]!;
  return s / (b * b);
}

/**
 * The continuous Neyman optimum of min V(n) s.t. Σ n_i = N (§3.2): n_i* = N √v_i / Σ √v_k, V* = (Σ √v)² / (B² N).
 * With `bounds` the optimum is the water-filled n_i = clip(κ √v_i, nMin, nMax) and V is evaluated at it.
 */
export function neymanOptimum(
  v: ArrayLike<number>,
  budget: number,
  bounds?: { nMin: number; nMax: number },
): { counts: Float64Array; variance: number } {
  const b = v.length;
  const root = Float64Array.from(v, (vi) => Math.sqrt(vi));
  if (bounds) {
    const counts = waterFill(root, budget, bounds.nMin, bounds.nMax);
    return { counts, variance: allocationVariance(counts, v) };
  }
  let sumRoot = 0;
  for (const r of root) sumRoot += r;
  if (sumRoot === 0) return { counts: new Float64Array(b).fill(budget / b), variance: 0 };
  const counts = root.map((r) => (budget * r) / sumRoot);
  return { counts, variance: (sumRoot * sumRoot) / (b * b * budget) };
}
