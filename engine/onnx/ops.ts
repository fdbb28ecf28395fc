// Composite-op helpers on top of GraphBuilder (kept out of graph.ts so the builder stays a thin proto layer). Each
// helper emits standard opset-17 nodes and returns the output value name. Opset 17 is our floor (environment.md
// §4.4), so GELU is built from Erf and ReduceMean-style ops take axes as attributes.
import { float, type GraphBuilder } from './graph.ts';

/** x @ w (+ b): `w` laid out [in, out]; `x` may have any number of leading dims. */
export function linear(g: GraphBuilder, x: string, w: string, b?: string): string {
  const y = g.op('MatMul', [x, w]);
  return b === undefined ? y : g.op('Add', [y, b]);
}

/** x @ wᵀ (+ b) for a weight stored PyTorch-style [out, in] (a graph input we must not pre-transpose). */
export function linearT(g: GraphBuilder, x: string, wOutIn: string, b?: string): string {
  return linear(g, x, g.op('Transpose', [wOutIn], { perm: [1, 0] }), b);
}

/** LayerNormalization over the last axis (an opset-17 op; ORT fuses it). */
export function layerNorm(g: GraphBuilder, x: string, scale: string, bias: string, eps: number): string {
  return g.op('LayerNormalization', [x, scale, bias], { axis: -1, epsilon: float(eps) });
}

/** Exact GELU, 0.5·x·(1 + erf(x/√2)) — the `Gelu` op needs opset ≥ 20. */
export function geluErf(g: GraphBuilder, x: string): string {
  const e = g.op('Erf', [g.op('Mul', [x, g.constFloat([Math.SQRT1_2], [], 'inv_sqrt2')])]);
  const onePlus = g.op('Add', [e, g.constFloat([1], [], 'one')]);
  return g.op('Mul', [g.op('Mul', [x, g.constFloat([0.5], [], 'half')]), onePlus]);
}

export function transpose(g: GraphBuilder, x: string, perm: number[]): string {
  return g.op('Transpose', [x], { perm });
}

/** Reshape with a constant target shape (0 copies the input dim, -1 infers). */
export function reshape(g: GraphBuilder, x: string, shape: number[]): string {
  return g.op('Reshape', [x, g.constInt64(shape, 'shape')]);
}

/** x[..., start:end, ...] along one axis. */
export function sliceAxis(g: GraphBuilder, x: string, axis: number, start: number, end: number): string {
  return g.op('Slice', [
    x,
    g.constInt64([start], 'starts'),
    g.constInt64([end], 'ends'),
    g.constInt64([axis], 'axes'),
  ]);
}

/** Gathers index `index` of `axis`, dropping the axis (a scalar index does that). */
export function takeIndex(g: GraphBuilder, x: string, axis: number, index: number): string {
  const idx = g.initializer(g.fresh('idx'), BigInt64Array.from([BigInt(index)]), []);
  return g.op('Gather', [x, idx], { axis });
}

/** Broadcasts `t` of shape [1, ...rest] to [batch, ...rest], taking batch from dim 0 of `like`. */
export function expandToBatch(g: GraphBuilder, t: string, like: string, rest: number[]): string {
  const batch = g.op('Slice', [
    g.op('Shape', [like]),
    g.constInt64([0], 'starts'),
    g.constInt64([1], 'ends'),
  ]);
  const shape = g.op('Concat', [batch, g.constInt64(rest, 'rest')], { axis: 0 });
  return g.op('Expand', [t, shape]);
}
