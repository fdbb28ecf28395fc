// A classifier head trained over fixed features: softmax regression, θ = [W (classes×p), b (classes)]. This is
// what frozen-prefix reuse reduces head-mode fine-tuning to (the backbone runs once per sample, spec §7), and the
// small real problem the loop's own tests train. Pure TypeScript: every query is a p×classes mat-vec.
import { ConfigError } from '../errors.ts';
import { headCleanLosses } from '../estimators/lr-head.ts';
import { crossEntropy } from '../oracles/cross-entropy.ts';
import { SoftmaxOracle } from '../oracles/softmax.ts';
import { FlatParams } from '../params.ts';
import { Rng } from '../rng.ts';
import type { TrainingProblem } from '../train-helpers.ts';

export interface LabelledFeatures {
  x: Float32Array; // row-major [n, p]
  y: Int32Array; // [n], in [0, classes)
}

export interface HeadProblemOptions {
  train: LabelledFeatures;
  val: LabelledFeatures;
  classes: number;
  /** Initial head; default a seeded Xavier-uniform W and zero b. */
  init?: Float32Array;
  initSeed?: number;
}

export function headParamSpecs(p: number, classes: number) {
  return [
    { name: 'head.weight', shape: [classes, p] },
    { name: 'head.bias', shape: [classes] },
  ];
}

export function initHead(p: number, classes: number, seed: number): FlatParams {
  const params = new FlatParams(headParamSpecs(p, classes));
  const w = params.view('head.weight');
  const limit = Math.sqrt(6 / (p + classes));
  const rng = new Rng(seed);
  for (let i = 0; i < w.length; i++) w[i] = (2 * rng.nextFloat() - 1) * limit;
  return params;
}

function featureDim(set: LabelledFeatures, name: string): number {
  const n = set.y.length;
  if (n === 0 || set.x.length % n !== 0) {
    throw new ConfigError(name, `${set.x.length} feature values do not split into ${n} rows`);
  }
  return set.x.length / n;
}

export function createHeadProblem(
  options: HeadProblemOptions,
): TrainingProblem & { readonly featureDim: number } {
  const { train, val, classes } = options;
  const p = featureDim(train, 'train');
  if (featureDim(val, 'val') !== p) throw new ConfigError('val', 'validation features have another width');
  const params = options.init
    ? new FlatParams(headParamSpecs(p, classes), Float32Array.from(options.init))
    : initHead(p, classes, options.initSeed ?? 0);
  let batch: SoftmaxOracle | undefined;
  let batchFeatures: LabelledFeatures | undefined; // the same rows, for the batch's top-1 accuracy
  const current = (): SoftmaxOracle => {
    if (!batch) throw new Error('head problem: loadBatch() must come before queries');
    return batch;
  };
  // The oracle delegates to the current batch, so estimators can hold one object across steps.
  const oracle = {
    get batchSize() {
      return current().batchSize;
    },
    get featureDim() {
      return p;
    },
    losses: (theta: Float32Array, rows: Int32Array, out: Float32Array) => current().losses(theta, rows, out),
    features: (rows: Int32Array) => current().features(rows),
    labels: (rows: Int32Array) => current().labels(rows),
  };

  return {
    params,
    featureDim: p,
    trainSize: train.y.length,
    oracle,
    features: oracle,
    async loadBatch(ids) {
      const x = new Float32Array(ids.length * p);
      const y = new Int32Array(ids.length);
      for (let r = 0; r < ids.length; r++) {
        const id = ids[r]!;
        x.set(train.x.subarray(id * p, (id + 1) * p), r * p);
        y[r] = train.y[id]!;
      }
      batch = new SoftmaxOracle(x, y, classes);
      batchFeatures = { x, y };
    },
    async cleanLosses(theta, out) {
      out.set(await headCleanLosses(current(), theta));
      // B·classes·p multiply-adds again, next to the estimator's n̄ times that: cheap enough to report it.
      return { accuracy: evaluateHead(theta, batchFeatures!, p, classes).accuracy };
    },
    async evaluate(theta) {
      return evaluateHead(theta, val, p, classes);
    },
  };
}

/** Mean cross-entropy and top-1 accuracy of the head on a labelled feature set. */
export function evaluateHead(
  theta: Float32Array,
  set: LabelledFeatures,
  p: number,
  classes: number,
): { loss: number; accuracy: number } {
  const n = set.y.length;
  const logits = new Float64Array(classes);
  let loss = 0;
  let correct = 0;
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let k = 0; k < classes; k++) {
      let s = theta[classes * p + k]!;
      for (let j = 0; j < p; j++) s += theta[k * p + j]! * set.x[i * p + j]!;
      logits[k] = s;
      if (s > logits[best]!) best = k;
    }
    loss += crossEntropy(logits, 0, classes, set.y[i]!);
    if (best === set.y[i]) correct += 1;
  }
  return { loss: loss / n, accuracy: correct / n };
}
