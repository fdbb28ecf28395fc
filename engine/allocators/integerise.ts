// From real-valued shares to integer query counts (§3.5, §6 Q4/Q5). Every allocator ends here, so the invariants
// the estimators rely on hold in one place: Σ n_i = N exactly, n_min ≤ n_i ≤ n_max, no randomness (ties go to the
// lower index), and even counts when antithetic LR spends queries in pairs.
import { ConfigError } from '../errors.ts';

/** The budget constraints of one allocation, in queries. */
export interface Bounds {
  budget: number; // N
  nMin: number;
  nMax: number;
  granularity: 1 | 2;
}

/** The same constraints in allocation units (pairs when granularity is 2). */
interface Units {
  budget: number;
  nMin: number;
  nMax: number;
}

/**
 * How a weight vector becomes a real allocation before rounding.
 * - `excess` (§3.4, the FLOPS map): n_i = n_min + clip(κ w_i, 0, n_max − n_min). Every sample keeps its floor and
 *   only the budget above B·n_min follows the weights.
 * - `proportional` (§3.2, the bounded Neyman optimum): n_i = clip(κ w_i, n_min, n_max), which is what the KKT
 *   conditions of min Σ v_i/n_i give with w_i = √v_i.
 */
export type ShareForm = 'excess' | 'proportional';

/** Throws a ConfigError naming the first constraint a batch of `b` samples cannot satisfy. */
export function checkBounds(b: number, bounds: Bounds): void {
  const { budget, nMin, nMax, granularity } = bounds;
  if (!Number.isInteger(b) || b < 1) throw new ConfigError('allocator.batchSize', `must be ≥ 1, got ${b}`);
  for (const [field, value] of [
    ['budget', budget],
    ['nMin', nMin],
    ['nMax', nMax],
  ] as const) {
    if (!Number.isSafeInteger(value)) {
      throw new ConfigError(`allocator.${field}`, `must be an integer, got ${value}`);
    }
  }
  // §6 Q4: a sample with 0 queries drops out of the per-sample average and biases the estimate.
  if (nMin < 1)
    throw new ConfigError('allocator.nMin', `must be ≥ 1 (0 queries drops a sample), got ${nMin}`);
  if (nMax < nMin) throw new ConfigError('allocator.nMax', `${nMax} is below nMin ${nMin}`);
  if (granularity !== 1 && granularity !== 2) {
    throw new ConfigError('allocator.granularity', `must be 1 or 2, got ${String(granularity)}`);
  }
  if (granularity === 2) {
    for (const [field, value] of [
      ['budget', budget],
      ['nMin', nMin],
      ['nMax', nMax],
    ] as const) {
      if (value % 2 !== 0) {
        throw new ConfigError(
          `allocator.${field}`,
          `${value} is odd, but granularity 2 (antithetic pairs) needs even budget, nMin and nMax`,
        );
      }
    }
  }
  if (budget < b * nMin) {
    throw new ConfigError('allocator.budget', `${budget} is below batch ${b} × nMin ${nMin} = ${b * nMin}`);
  }
  if (budget > b * nMax) {
    throw new ConfigError('allocator.budget', `${budget} is above batch ${b} × nMax ${nMax} = ${b * nMax}`);
  }
}

/** Bounds in allocation units: pairs for granularity 2 (run the method on N/2, then double; §3.5). */
export function toUnits(bounds: Bounds): Units {
  const g = bounds.granularity;
  return { budget: bounds.budget / g, nMin: bounds.nMin / g, nMax: bounds.nMax / g };
}

/** Unit counts back to query counts, in place. */
export function fromUnits(units: Int32Array, granularity: 1 | 2): Int32Array {
  if (granularity === 2) for (let i = 0; i < units.length; i++) units[i] = units[i]! * 2;
  return units;
}

/**
 * Real x with x_i = clip(κ w_i, lo, hi) and Σ x_i = total (water-filling), for w_i ≥ 0 and n·lo ≤ total ≤ n·hi.
 * f(κ) = Σ clip(κ w_i, lo, hi) is continuous, non-decreasing and piecewise linear with breakpoints lo/w_i and
 * hi/w_i, so a binary search over the sorted breakpoints finds the linear piece and κ is then solved exactly on
 * it, with no tolerance to tune. Zero weights stay at lo unless the positive ones all hit hi first; then the
 * rest is spread evenly over the zero-weight samples rather than failing.
 */
export function waterFill(w: ArrayLike<number>, total: number, lo: number, hi: number): Float64Array {
  const n = w.length;
  const x = new Float64Array(n);
  let positive = 0;
  for (let i = 0; i < n; i++) {
    const wi = w[i]!;
    if (!(wi >= 0) || !Number.isFinite(wi)) throw new RangeError(`waterFill: weight ${i} is ${wi}`);
    if (wi > 0) positive++;
  }
  if (positive === 0) return x.fill(total / n);
  if (total <= n * lo) return x.fill(lo);
  if (total >= positive * hi + (n - positive) * lo) {
    const rest = n === positive ? 0 : (total - positive * hi) / (n - positive);
    for (let i = 0; i < n; i++) x[i] = w[i]! > 0 ? hi : rest;
    return x;
  }
  const f = (kappa: number): number => {
    let s = 0;
    for (let i = 0; i < n; i++) s += Math.min(hi, Math.max(lo, kappa * w[i]!));
    return s;
  };
  const breaks: number[] = [0];
  for (let i = 0; i < n; i++) {
    const wi = w[i]!;
    if (wi > 0) breaks.push(lo / wi, hi / wi);
  }
  breaks.sort((a, b) => a - b);
  // Smallest breakpoint index k with f(breaks[k]) ≥ total; f(breaks[0] = 0) = n·lo ≤ total.
  let a = 0;
  let b = breaks.length - 1; // f(last) = positive·hi + rest·lo > total
  while (b - a > 1) {
    const m = (a + b) >> 1;
    if (f(breaks[m]!) >= total) b = m;
    else a = m;
  }
  const mid = 0.5 * (breaks[a]! + breaks[b]!);
  let fixed = 0;
  let freeW = 0;
  for (let i = 0; i < n; i++) {
    const t = mid * w[i]!;
    if (t <= lo) fixed += lo;
    else if (t >= hi) fixed += hi;
    else freeW += w[i]!;
  }
  const kappa = freeW > 0 ? (total - fixed) / freeW : breaks[b]!;
  for (let i = 0; i < n; i++) x[i] = Math.min(hi, Math.max(lo, kappa * w[i]!));
  return x;
}

/**
 * Hamilton's largest-remainder method: floor every x_i, then hand the N − Σ⌊x_i⌋ leftover units to the largest
 * fractional parts, ties to the lower index (§3.5, Q5). x_i is clamped to [lo, hi] first and a unit never pushes a
 * count past hi, so small float errors in x (its sum off by 1e-12) cannot break the bounds or the exact sum.
 */
export function largestRemainder(x: ArrayLike<number>, total: number, lo: number, hi: number): Int32Array {
  const n = x.length;
  const counts = new Int32Array(n);
  const frac = new Float64Array(n);
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const xi = Math.min(hi, Math.max(lo, x[i]!));
    const fl = Math.floor(xi);
    counts[i] = fl;
    frac[i] = xi - fl;
    sum += fl;
  }
  let left = total - sum;
  const order = Array.from({ length: n }, (_, i) => i).sort((i, j) => frac[j]! - frac[i]! || i - j);
  // Normally one pass suffices (left < number of non-zero fractions); the loops only guard float slop.
  while (left > 0) {
    let moved = false;
    for (const i of order) {
      if (left === 0) break;
      if (counts[i]! < hi) {
        counts[i] = counts[i]! + 1;
        left--;
        moved = true;
      }
    }
    if (!moved) throw new RangeError(`largestRemainder: ${total} does not fit under ${n} × ${hi}`);
  }
  while (left < 0) {
    let moved = false;
    for (let k = n - 1; k >= 0 && left < 0; k--) {
      const i = order[k]!;
      if (counts[i]! > lo) {
        counts[i] = counts[i]! - 1;
        left++;
        moved = true;
      }
    }
    if (!moved) throw new RangeError(`largestRemainder: ${total} is below ${n} × ${lo}`);
  }
  return counts;
}

/**
 * Integer query counts from non-negative weights under `bounds` (validated here): water-fill to the bounds,
 * round by largest remainder, in pairs when granularity is 2. All-zero weights give the uniform allocation.
 */
export function integerise(
  weights: ArrayLike<number>,
  bounds: Bounds,
  form: ShareForm = 'excess',
): Int32Array {
  const b = weights.length;
  checkBounds(b, bounds);
  const u = toUnits(bounds);
  let x: Float64Array;
  if (form === 'excess') {
    x = waterFill(weights, u.budget - b * u.nMin, 0, u.nMax - u.nMin);
    for (let i = 0; i < b; i++) x[i] = x[i]! + u.nMin;
  } else {
    x = waterFill(weights, u.budget, u.nMin, u.nMax);
  }
  return fromUnits(largestRemainder(x, u.budget, u.nMin, u.nMax), bounds.granularity);
}

/** n_i = N/B with the remainder to the lowest indices (in pairs for granularity 2). */
export function uniformCounts(b: number, bounds: Bounds): Int32Array {
  return integerise(new Float64Array(b).fill(1), bounds, 'proportional');
}
