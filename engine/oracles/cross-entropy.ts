// Cross-entropy from logits, shared by the reference softmax oracle and LR at the head so that both evaluate
// exactly the same loss. Float64 throughout: LR divides loss differences by 2σ with σ ~ 1e-3.

/** -log softmax(logits)[label] for the m logits starting at `offset`, stable for large logits. */
export function crossEntropy(logits: ArrayLike<number>, offset: number, m: number, label: number): number {
  let max = -Infinity;
  for (let k = 0; k < m; k++) max = Math.max(max, logits[offset + k]!);
  let sum = 0;
  for (let k = 0; k < m; k++) sum += Math.exp(logits[offset + k]! - max);
  return max + Math.log(sum) - logits[offset + label]!;
}

/** softmax(logits) - onehot(label) into out[0..m): the gradient of the cross-entropy w.r.t. the logits. */
export function crossEntropyGrad(
  logits: ArrayLike<number>,
  offset: number,
  m: number,
  label: number,
  out: Float64Array,
): void {
  let max = -Infinity;
  for (let k = 0; k < m; k++) max = Math.max(max, logits[offset + k]!);
  let sum = 0;
  for (let k = 0; k < m; k++) {
    const e = Math.exp(logits[offset + k]! - max);
    out[k] = e;
    sum += e;
  }
  for (let k = 0; k < m; k++) out[k] = out[k]! / sum;
  out[label] = out[label]! - 1;
}
