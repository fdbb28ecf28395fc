// Small pure helpers around the training loop: what a trainable problem must provide, batch order, and the
// dispatch from the configured estimator to its implementation.
import type { ResolvedTrainConfig } from './config.ts';
import { ConfigError } from './errors.ts';
import { estimateEs } from './estimators/es.ts';
import { estimateHeadLr } from './estimators/lr-head.ts';
import { estimateLayersLr, type LayerLrOracle } from './estimators/lr-layers.ts';
import { estimateSpsa, type SpsaEstimate } from './estimators/spsa.ts';
import type { EstimateResult } from './estimators/types.ts';
import type { FeatureOracle, LossOracle } from './oracle.ts';
import type { FlatParams } from './params.ts';
import { Rng } from './rng.ts';

/** A model plus data, as the loop sees it. Built by app/ (or tests) from a model graph and a dataset. */
export interface TrainingProblem {
  /** Initial trainable parameters; the loop trains a copy. */
  readonly params: FlatParams;
  /** Number of samples in the training split; sample ids are 0..trainSize-1. */
  readonly trainSize: number;
  /** Makes these samples the current batch of every oracle. */
  loadBatch(sampleIds: Int32Array): Promise<void>;
  /** Clean per-sample losses of the current batch at theta (B forward rows), and its accuracy if known. */
  cleanLosses(theta: Float32Array, out: Float64Array): Promise<{ accuracy: number | null }>;
  /** Per-sample losses at perturbed parameters: SPSA and ES query through this. */
  readonly oracle: LossOracle;
  /** LR at the head: frozen features of the current batch; theta is then exactly [W (m×p), c (m)]. */
  readonly features?: FeatureOracle;
  /** LR through every trainable layer (ULR, spec §2.1): noisy query rows with each layer's input, plus Cᵀ·A.
   *  When present, estimator 'lr' uses it instead of the head-only path. */
  readonly lrLayers?: LayerLrOracle;
  /** Clean loss and top-1 accuracy on the validation split. */
  evaluate(theta: Float32Array): Promise<{ loss: number; accuracy: number }>;
}

/** Full batches only, so every step has exactly B samples and N = B·n̄ queries. */
export function stepsPerEpoch(trainSize: number, batchSize: number): number {
  const steps = Math.floor(trainSize / batchSize);
  if (steps < 1) {
    throw new ConfigError('batchSize', `${batchSize} exceeds the ${trainSize} training samples`);
  }
  return steps;
}

/** The last permutation made: the loop asks for the same epoch's order at every step of that epoch. */
let lastOrder: { n: number; seed: number; order: Int32Array } | undefined;

/**
 * A seeded Fisher–Yates permutation of 0..n-1. The result is shared with later calls for the same (n, seed)
 * (recomputing it each step cost ~5% of an LR step on 20 000 samples), so callers must not modify it.
 */
export function batchOrder(n: number, seed: number): Int32Array {
  if (lastOrder && lastOrder.n === n && lastOrder.seed === seed) return lastOrder.order;
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  const rng = new Rng(seed);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rng.nextFloat() * (i + 1));
    const t = order[i]!;
    order[i] = order[j]!;
    order[j] = t;
  }
  lastOrder = { n, seed, order };
  return order;
}

/** An estimate plus what the loop may skip: gradFinite = every entry of grad is proven finite (SPSA 'table'). */
export type StepEstimate = EstimateResult & Partial<Pick<SpsaEstimate, 'gradFinite'>>;

/**
 * Runs the configured estimator for one step. `gradOut` (length d), when given, may receive ĝ (then returned as
 * `grad`) instead of a fresh vector: the loop reuses one buffer across steps.
 */
export function estimateStep(
  problem: TrainingProblem,
  config: ResolvedTrainConfig,
  theta: Float32Array,
  counts: Int32Array,
  cleanLosses: Float64Array,
  stepSeed: number,
  step: number,
  gradOut?: Float32Array,
): Promise<StepEstimate> {
  switch (config.estimator) {
    case 'spsa':
      return estimateSpsa(problem.oracle, theta, counts, stepSeed, {
        eps: config.spsaEps,
        directions: config.directions,
        nMin: config.nMin,
        step,
        ...(gradOut && { gradOut }),
      });
    case 'es':
      return estimateEs(problem.oracle, theta, counts, stepSeed, {
        sigma: config.spsaEps,
        nMin: config.nMin,
        baseline: cleanLosses,
        step,
      });
    case 'lr': {
      if (problem.lrLayers) {
        return estimateLayersLr(problem.lrLayers, theta, counts, stepSeed, {
          sigma: config.lrSigma,
          nMin: config.nMin,
          baseline: cleanLosses,
          step,
        });
      }
      if (!problem.features) {
        throw new ConfigError(
          'estimator',
          'LR needs a model with an LR graph (noise at every layer) or whose trainable part is the head',
        );
      }
      return estimateHeadLr(problem.features, theta, counts, stepSeed, {
        sigma: config.lrSigma,
        nMin: config.nMin,
        baseline: cleanLosses,
        step,
      });
    }
  }
}
