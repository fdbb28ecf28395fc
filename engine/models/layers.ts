// Graph fragments shared by the built-in classifiers. Weights use PyTorch's [out, in] layout (Gemm with
// transB=1) so that the LR gradient of a layer, Σ_r c_r ε_r a_rᵀ ([m, p] = [out, in]), lands in the parameter
// vector without a transpose.
import type { GraphBuilder } from '../onnx/graph.ts';

/** h = a · Wᵀ + b for a [rows, in], W [out, in], b [out]; optionally named. */
export function linear(g: GraphBuilder, a: string, w: string, b: string, out?: string): string {
  return g.node('Gemm', [a, w, b], out === undefined ? 1 : [out], { transB: 1 })[0]!;
}

/**
 * Per-row cross-entropy (reduction 'none') from logits [rows, classes] and int64 labels [rows], as
 * loss_r = logsumexp(z_r) − z_r[y_r] with z = logits − max(logits): subtracting the row max first keeps Exp
 * finite for any logits, so the graph is stable on every execution provider, not only where LogSoftmax is fused.
 */
export function perRowCrossEntropy(g: GraphBuilder, logits: string, labels: string, out = 'loss'): string {
  const axis1 = g.constInt64([1], 'axis1');
  const rowMax = g.op('ReduceMax', [logits], { axes: [1], keepdims: 1 }); // opset ≤17: axes is an attribute
  const z = g.op('Sub', [logits, rowMax]);
  const lse = g.op('Log', [g.node('ReduceSum', [g.op('Exp', [z]), axis1], 1, { keepdims: 1 })[0]!]);
  const picked = g.node('GatherElements', [z, g.op('Unsqueeze', [labels, axis1])], 1, { axis: 1 })[0]!;
  return g.node('Squeeze', [g.op('Sub', [lse, picked]), axis1], [out])[0]!;
}
