// The head problem's per-batch report: clean losses and top-1 accuracy of the loaded batch, against a
// hand-computed softmax regression on features whose argmax is known.
import { describe, expect, it } from 'vitest';

import { createHeadProblem } from '../../../engine/problems/head.ts';

describe('createHeadProblem', () => {
  // p = 2 features, 3 classes; W = identity-like rows so the logit of class k is x_k (class 2's logit is 0).
  const x = Float32Array.from([2, 0, 0, 2, -1, -1, 3, 1]); // rows: argmax 0, 1, 2, 0
  const y = Int32Array.from([0, 1, 0, 1]); // rows 0, 1 right; rows 2, 3 wrong
  const theta = Float32Array.from([1, 0, 0, 1, 0, 0, 0, 0, 0]); // W [3, 2] then b [3]
  const problem = createHeadProblem({ train: { x, y }, val: { x, y }, classes: 3, init: theta });

  it("reports the loaded batch's top-1 accuracy with its clean losses", async () => {
    await problem.loadBatch(Int32Array.from([0, 1, 2, 3]));
    const out = new Float64Array(4);
    const { accuracy } = await problem.cleanLosses(theta, out);
    expect(accuracy).toBe(0.5);
    // Row 0: logits [2, 0, 0], label 0 → −log(e²/(e²+2)).
    expect(out[0]).toBeCloseTo(-Math.log(Math.exp(2) / (Math.exp(2) + 2)), 6);

    await problem.loadBatch(Int32Array.from([1, 0])); // another batch, both right
    expect((await problem.cleanLosses(theta, new Float64Array(2))).accuracy).toBe(1);
  });
});
