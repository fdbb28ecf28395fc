// Float64 JS references for the built-in graphs: the ORT outputs are checked against these.

/** Layer tensors by name: w{l} [out, in] row-major, b{l} [out]. */
export type Weights = Record<string, Float32Array>;

export interface MlpReference {
  logits: Float64Array;
  loss: Float64Array;
  /** acts[l] = input a_l of layer l, row-major [rows, p_l]. */
  acts: Float64Array[];
}

/** Forward pass in float64; noise[l] (σ-scaled, [rows, m_l]) is added to layer l's pre-activation when given. */
export function mlpReference(
  weights: Weights,
  dims: number[],
  x: Float32Array,
  y: ArrayLike<bigint>,
  noise: (Float32Array | undefined)[] = [],
): MlpReference {
  const rows = y.length;
  const L = dims.length - 1;
  let a = Float64Array.from(x);
  const acts: Float64Array[] = [];
  for (let l = 0; l < L; l++) {
    const p = dims[l]!;
    const m = dims[l + 1]!;
    const w = weights[`w${l}`]!;
    const b = weights[`b${l}`]!;
    const eps = noise[l];
    acts.push(a);
    const h = new Float64Array(rows * m);
    for (let r = 0; r < rows; r++) {
      for (let k = 0; k < m; k++) {
        let s = b[k]!;
        for (let j = 0; j < p; j++) s += w[k * p + j]! * a[r * p + j]!;
        if (eps) s += eps[r * m + k]!;
        h[r * m + k] = l === L - 1 ? s : Math.max(0, s);
      }
    }
    a = h;
  }
  const C = dims[L]!;
  const loss = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let max = -Infinity;
    for (let k = 0; k < C; k++) max = Math.max(max, a[r * C + k]!);
    let sum = 0;
    for (let k = 0; k < C; k++) sum += Math.exp(a[r * C + k]! - max);
    loss[r] = Math.log(sum) + max - a[r * C + Number(y[r]!)]!;
  }
  return { logits: a, loss, acts };
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/** A small deterministic generator for test data (not the engine's RNG, so tests do not depend on it). */
export function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

export function randomData(
  rows: number,
  inDim: number,
  classes: number,
  seed: number,
): { x: Float32Array; y: BigInt64Array } {
  const rand = lcg(seed);
  const x = Float32Array.from({ length: rows * inDim }, () => rand() * 2 - 1);
  const y = BigInt64Array.from({ length: rows }, () => BigInt(Math.floor(rand() * classes)));
  return { x, y };
}
