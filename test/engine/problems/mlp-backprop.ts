// Exact gradients of the built-in MLP's mean cross-entropy by float64 backprop in plain JS: the reference the
// forward-only estimators (LR through every layer, SPSA) are checked against.
import type { Weights } from '../models/reference.ts';

export interface MlpBackprop {
  /** ∂(mean CE)/∂θ in FlatParams order w0, b0, w1, b1, … (all layers trainable). */
  grad: Float64Array;
  /** Per-sample loss. */
  loss: Float64Array;
  /** deltas[l][i·m_l + k] = ∂ℓ_i/∂h_l[k], the per-sample (not batch-averaged) pre-activation gradient. */
  deltas: Float64Array[];
  /** acts[l][i·p_l + j], the input of layer l. */
  acts: Float64Array[];
}

/** Weights from θ laid out as w0 [d1, d0], b0 [d1], w1 [d2, d1], … */
export function weightsOf(theta: ArrayLike<number>, dims: readonly number[]): Weights {
  const out: Weights = {};
  let o = 0;
  for (let l = 0; l + 1 < dims.length; l++) {
    const [p, m] = [dims[l]!, dims[l + 1]!];
    out[`w${l}`] = Float32Array.from({ length: m * p }, (_, i) => theta[o + i]!);
    o += m * p;
    out[`b${l}`] = Float32Array.from({ length: m }, (_, i) => theta[o + i]!);
    o += m;
  }
  if (o !== theta.length) throw new Error(`θ has ${theta.length} values, dims ${dims.join('-')} need ${o}`);
  return out;
}

export function mlpBackprop(
  theta: ArrayLike<number>,
  dims: readonly number[],
  x: ArrayLike<number>,
  y: ArrayLike<number | bigint>,
): MlpBackprop {
  const B = y.length;
  const L = dims.length - 1;
  const w = weightsOf(theta, dims);
  const acts: Float64Array[] = [];
  const pre: Float64Array[] = [];
  let a = Float64Array.from(x);
  for (let l = 0; l < L; l++) {
    const [p, m] = [dims[l]!, dims[l + 1]!];
    const W = w[`w${l}`]!;
    const b = w[`b${l}`]!;
    acts.push(a);
    const h = new Float64Array(B * m);
    for (let i = 0; i < B; i++) {
      for (let k = 0; k < m; k++) {
        let s = b[k]!;
        for (let j = 0; j < p; j++) s += W[k * p + j]! * a[i * p + j]!;
        h[i * m + k] = s;
      }
    }
    pre.push(h);
    a = l === L - 1 ? h : h.map((v) => Math.max(0, v));
  }
  const C = dims[L]!;
  const loss = new Float64Array(B);
  const deltas: Float64Array[] = dims.slice(1).map((m) => new Float64Array(B * m));
  const top = deltas[L - 1]!;
  for (let i = 0; i < B; i++) {
    const z = a.subarray(i * C, (i + 1) * C);
    const max = Math.max(...z);
    let sum = 0;
    for (const v of z) sum += Math.exp(v - max);
    const label = Number(y[i]!);
    loss[i] = Math.log(sum) + max - z[label]!;
    for (let k = 0; k < C; k++) top[i * C + k] = Math.exp(z[k]! - max) / sum - (k === label ? 1 : 0);
  }
  for (let l = L - 1; l > 0; l--) {
    const [p, m] = [dims[l]!, dims[l + 1]!];
    const W = w[`w${l}`]!;
    const below = deltas[l - 1]!;
    const h = pre[l - 1]!;
    for (let i = 0; i < B; i++) {
      for (let j = 0; j < p; j++) {
        if (h[i * p + j]! <= 0) continue;
        let s = 0;
        for (let k = 0; k < m; k++) s += W[k * p + j]! * deltas[l]![i * m + k]!;
        below[i * p + j] = s;
      }
    }
  }
  const size = dims.slice(1).reduce((s, m, l) => s + m * (dims[l]! + 1), 0);
  const grad = new Float64Array(size);
  let o = 0;
  for (let l = 0; l < L; l++) {
    const [p, m] = [dims[l]!, dims[l + 1]!];
    const d = deltas[l]!;
    const act = acts[l]!;
    for (let i = 0; i < B; i++) {
      for (let k = 0; k < m; k++) {
        const g = d[i * m + k]! / B;
        if (g === 0) continue;
        for (let j = 0; j < p; j++) grad[o + k * p + j]! += g * act[i * p + j]!;
        grad[o + m * p + k]! += g;
      }
    }
    o += m * p + m;
  }
  return { grad, loss, deltas, acts };
}
