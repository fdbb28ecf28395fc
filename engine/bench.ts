// `npm run bench`: throughput and variance numbers with stable dotted names, printed as a table and, with
// `--json FILE`, written as one flat JSON object (what the README's bench table and CI trend lines read).
//
// Every number comes from a section: `{ name, run() }` returning `Record<string, number>` keyed by full dotted
// names. Sections of other modules (store, datasets, ViT) sit in the same registry, so one command measures the
// whole app; `--only NAME` (repeatable, comma-separated; a prefix such as `engine` selects every `engine.*`
// section) runs a subset. Run as a script, it runs the sections; imported, it only exposes the pieces.
import { writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { pathToFileURL } from 'node:url';

import { createAllocator } from './allocators/index.ts';
import { resolveTrainConfig, type ResolvedTrainConfig } from './config.ts';
import { loadIdxDataset } from './data/idx.ts';
import type { DirectionKind } from './estimators/types.ts';
import { benchMlpInference } from './models/mlp-bench.ts';
import { buildMlp, buildMlpLr, type MlpOptions } from './models/mlp.ts';
import { BENCH_MODES, benchVitInference, benchVitTraining } from './models/vit/vit-bench.ts';
import { createOnnxClassifierProblem, type LabelledRows } from './problems/onnx-classifier.ts';
import { deriveSeed, Rng } from './rng.ts';
import { benchRng } from './rng-bench.ts';
import { train } from './train.ts';
import { measureTrainingThroughput, median } from './train-throughput.ts';
import { estimateStep, type TrainingProblem } from './train-helpers.ts';

export interface BenchSection {
  /** Dotted prefix of the section's numbers, and what `--only` matches. */
  name: string;
  run(): Promise<Record<string, number>>;
}

export { median };

// --- engine.mlp: plain inference vs the training loop -------------------------------------------------------

/** The reference MLP of engine/models/mlp-bench.ts (Fashion-MNIST sized): the same model for both numbers. */
export const BENCH_MLP: MlpOptions = { inDim: 784, hidden: [128, 64], numClasses: 10, seed: 1 };

export interface MlpTrainingBenchOptions {
  batch?: number;
  /** Steps per timed round; rows per second is measured per round. */
  stepsPerRound?: number;
  rounds?: number;
  /** Untimed steps first (JIT, ORT's first runs, allocator state). */
  warmupSteps?: number;
  directions?: DirectionKind;
  /** ORT intra-op threads of the model session (default: ORT's). */
  intraOpNumThreads?: number;
}

export interface MlpTrainingBenchResult {
  /** Median over rounds of forward rows (clean + 2N) per second of wall time. */
  training_rows_per_sec: number;
  training_rows_per_sec_best: number;
  ms_per_step: number;
}

/**
 * Forward rows per second of the real training loop (train(), SPSA, uniform allocation, Adam, n̄ = 10) on the
 * bench MLP at batch 64: everything a step does — batch gather, clean pass, allocation, direction generation,
 * θ ± εz, 2N query rows through ORT, the update and the step event — divided into the rows it ran.
 */
export async function benchMlpTraining(
  options: MlpTrainingBenchOptions = {},
): Promise<MlpTrainingBenchResult> {
  const batch = options.batch ?? 64;
  const perRound = options.stepsPerRound ?? 10;
  const rounds = options.rounds ?? 7;
  const warmup = options.warmupSteps ?? 5;
  const n = batch * 8;
  // Random inputs: the cost of a forward row does not depend on the pixel values.
  const x = new Float32Array(n * BENCH_MLP.inDim);
  new Rng(7).fillGaussian(x);
  const y = Int32Array.from({ length: n }, (_, i) => i % 10);
  const problem = await createOnnxClassifierProblem({
    model: buildMlp(BENCH_MLP),
    train: { x, y },
    val: { x: x.subarray(0, batch * BENCH_MLP.inDim), y: y.subarray(0, batch) },
    ...(options.intraOpNumThreads !== undefined && { intraOpNumThreads: options.intraOpNumThreads }),
  });
  try {
    const config = resolveTrainConfig({
      estimator: 'spsa',
      batchSize: batch,
      budgetPerSample: 10,
      epochs: 1000,
      directions: options.directions ?? 'gaussian',
    });
    const { rates, msPerStep } = await measureTrainingThroughput(problem, config, {
      warmup,
      rounds,
      perRound,
    });
    return {
      training_rows_per_sec: median(rates),
      training_rows_per_sec_best: Math.max(...rates),
      ms_per_step: median(msPerStep),
    };
  } finally {
    await problem.release();
  }
}

export interface EngineMlpBenchOptions {
  /** Inference/training pairs measured; medians and bests are over them. Default 3. */
  pairs?: number;
  inferenceRuns?: number;
  training?: MlpTrainingBenchOptions;
}

/** The second batch size measured: how the fixed per-step cost (JS, Adam, the step event) amortises. */
export const BENCH_MLP_LARGE_BATCH = 256;

/**
 * engine.mlp.*: plain ORT inference (engine/models/mlp-bench.ts) and the SPSA training loop on the same MLP and
 * batch, both with ONE intra-op thread. At batch 64 a second thread does not make a run faster on the 2-vCPU
 * bench VM (best 3.1 ms per 21 runs with one thread, 3.45 with two), while under load from other processes a
 * two-thread pool made the median inference time 3× worse and the ratio meaningless. ORT's default threading is
 * reported alongside for reference.
 *
 * Training is measured with Gaussian and with 'table' directions (the shared noise table, perturbed inside the
 * ONNX graph); `training_rows_per_sec` and `overhead_ratio` are those of the faster one by median (which one:
 * `table_is_fastest`, 1 or 0), the others under their own suffix. Rademacher is measured once, as before.
 * The headline is batch 64; `*_batch256` repeat the same measurement (inference and the faster kind, each at
 * batch 256) so that readers see how much of the gap is a fixed cost per step rather than per row.
 */
export async function benchEngineMlp(options: EngineMlpBenchOptions = {}): Promise<Record<string, number>> {
  const threads = 1;
  const inferenceOptions = (batch: number) => ({
    batch,
    intraOpNumThreads: threads,
    ...(options.inferenceRuns !== undefined && { runs: options.inferenceRuns }),
  });
  const trainingOptions = (batch: number) => ({ intraOpNumThreads: threads, ...options.training, batch });
  const large = BENCH_MLP_LARGE_BATCH;
  // Inference and both training kinds alternate, so a change in machine load hits every number of a round alike.
  const inference: number[] = [];
  const gaussian: MlpTrainingBenchResult[] = [];
  const table: MlpTrainingBenchResult[] = [];
  const inferenceLarge: number[] = [];
  const gaussianLarge: MlpTrainingBenchResult[] = [];
  const tableLarge: MlpTrainingBenchResult[] = [];
  for (let i = 0; i < (options.pairs ?? 3); i++) {
    inference.push((await benchMlpInference(inferenceOptions(64))).inference_rows_per_sec);
    gaussian.push(await benchMlpTraining({ ...trainingOptions(64), directions: 'gaussian' }));
    table.push(await benchMlpTraining({ ...trainingOptions(64), directions: 'table' }));
    inferenceLarge.push((await benchMlpInference(inferenceOptions(large))).inference_rows_per_sec);
    gaussianLarge.push(await benchMlpTraining({ ...trainingOptions(large), directions: 'gaussian' }));
    tableLarge.push(await benchMlpTraining({ ...trainingOptions(large), directions: 'table' }));
  }
  const rademacher = await benchMlpTraining({ ...trainingOptions(64), directions: 'rademacher' });
  const { intraOpNumThreads: _, ...defaultThreads } = inferenceOptions(64);
  const inferenceDefault = await benchMlpInference(defaultThreads);
  const inf = median(inference);
  const infBest = Math.max(...inference);
  const summary = (runs: MlpTrainingBenchResult[]) => ({
    rate: median(runs.map((t) => t.training_rows_per_sec)),
    best: Math.max(...runs.map((t) => t.training_rows_per_sec_best)),
    msPerStep: median(runs.map((t) => t.ms_per_step)),
  });
  const g = summary(gaussian);
  const t = summary(table);
  const fastest = t.rate >= g.rate ? t : g;
  const infLarge = median(inferenceLarge);
  const gLarge = summary(gaussianLarge);
  const tLarge = summary(tableLarge);
  const fastestLarge = tLarge.rate >= gLarge.rate ? tLarge : gLarge;
  return {
    'engine.mlp.inference_rows_per_sec': inf,
    'engine.mlp.inference_rows_per_sec_best': infBest,
    'engine.mlp.training_rows_per_sec': fastest.rate,
    'engine.mlp.training_rows_per_sec_best': fastest.best,
    'engine.mlp.training_ms_per_step': fastest.msPerStep,
    'engine.mlp.overhead_ratio': fastest.rate / inf,
    'engine.mlp.overhead_ratio_best': fastest.best / infBest,
    'engine.mlp.table_is_fastest': fastest === t ? 1 : 0,
    'engine.mlp.training_rows_per_sec_table': t.rate,
    'engine.mlp.training_ms_per_step_table': t.msPerStep,
    'engine.mlp.overhead_ratio_table': t.rate / inf,
    'engine.mlp.overhead_ratio_table_best': t.best / infBest,
    'engine.mlp.training_rows_per_sec_gaussian': g.rate,
    'engine.mlp.training_ms_per_step_gaussian': g.msPerStep,
    'engine.mlp.overhead_ratio_gaussian': g.rate / inf,
    'engine.mlp.overhead_ratio_gaussian_best': g.best / infBest,
    'engine.mlp.training_rows_per_sec_rademacher': rademacher.training_rows_per_sec,
    'engine.mlp.overhead_ratio_rademacher': rademacher.training_rows_per_sec / inf,
    'engine.mlp.inference_rows_per_sec_default_threads': inferenceDefault.inference_rows_per_sec,
    'engine.mlp.inference_rows_per_sec_batch256': infLarge,
    'engine.mlp.training_rows_per_sec_batch256': fastestLarge.rate,
    'engine.mlp.training_ms_per_step_batch256': fastestLarge.msPerStep,
    'engine.mlp.overhead_ratio_batch256': fastestLarge.rate / infLarge,
    'engine.mlp.table_is_fastest_batch256': fastestLarge === tLarge ? 1 : 0,
    'engine.mlp.overhead_ratio_table_batch256': tLarge.rate / infLarge,
    'engine.mlp.overhead_ratio_gaussian_batch256': gLarge.rate / infLarge,
  };
}

// --- engine.flops_variance_ratio: FLOPS vs uniform against the exact gradient -------------------------------

/**
 * ∂(mean cross-entropy)/∂θ of a ReLU MLP built by buildMlp (every layer trainable, θ = w0, b0, w1, b1, …), by
 * float64 backprop. The exact gradient the variance comparison measures estimates against.
 */
export function mlpExactGradient(
  theta: Float32Array,
  dims: readonly number[],
  x: Float32Array,
  y: ArrayLike<number | bigint>,
): Float64Array {
  const B = y.length;
  const L = dims.length - 1;
  const offsets: number[] = [];
  let size = 0;
  for (let l = 0; l < L; l++) {
    offsets.push(size);
    size += dims[l + 1]! * (dims[l]! + 1);
  }
  if (size !== theta.length) throw new RangeError(`θ has ${theta.length} values, dims need ${size}`);
  const acts: Float64Array[] = [];
  const pre: Float64Array[] = [];
  let a = Float64Array.from(x);
  for (let l = 0; l < L; l++) {
    const [p, m, o] = [dims[l]!, dims[l + 1]!, offsets[l]!];
    acts.push(a);
    const h = new Float64Array(B * m);
    for (let i = 0; i < B; i++) {
      for (let k = 0; k < m; k++) {
        let s = theta[o + m * p + k]!;
        const w = o + k * p;
        for (let j = 0; j < p; j++) s += theta[w + j]! * a[i * p + j]!;
        h[i * m + k] = s;
      }
    }
    pre.push(h);
    a = l === L - 1 ? h : h.map((v) => (v > 0 ? v : 0));
  }
  const C = dims[L]!;
  let delta = new Float64Array(B * C);
  for (let i = 0; i < B; i++) {
    let max = -Infinity;
    for (let k = 0; k < C; k++) max = Math.max(max, a[i * C + k]!);
    let sum = 0;
    for (let k = 0; k < C; k++) sum += Math.exp(a[i * C + k]! - max);
    const label = Number(y[i]!);
    for (let k = 0; k < C; k++) {
      delta[i * C + k] = (Math.exp(a[i * C + k]! - max) / sum - (k === label ? 1 : 0)) / B;
    }
  }
  const grad = new Float64Array(size);
  for (let l = L - 1; l >= 0; l--) {
    const [p, m, o] = [dims[l]!, dims[l + 1]!, offsets[l]!];
    const act = acts[l]!;
    for (let i = 0; i < B; i++) {
      for (let k = 0; k < m; k++) {
        const g = delta[i * m + k]!;
        if (g === 0) continue;
        for (let j = 0; j < p; j++) grad[o + k * p + j]! += g * act[i * p + j]!;
        grad[o + m * p + k]! += g;
      }
    }
    if (l === 0) break;
    const below = new Float64Array(B * p);
    const h = pre[l - 1]!;
    for (let i = 0; i < B; i++) {
      for (let j = 0; j < p; j++) {
        if (!(h[i * p + j]! > 0)) continue;
        let s = 0;
        for (let k = 0; k < m; k++) s += theta[o + k * p + j]! * delta[i * m + k]!;
        below[i * p + j] = s;
      }
    }
    delta = below;
  }
  return grad;
}

export interface VarianceComparisonOptions {
  problem: TrainingProblem;
  /** Estimator, budget, bounds and allocator config (kind 'flops') of the run being compared. */
  config: ResolvedTrainConfig;
  theta: Float32Array;
  /** The FLOPS allocator's learned state (checkpoint.allocator of a FLOPS run); default its initial Φ. */
  allocatorState?: unknown;
  /** Exact gradient of the batch-mean loss at theta for these training samples. */
  exactGradient(ids: Int32Array): Float64Array;
  /** Sample ids of each batch compared. */
  batches: readonly Int32Array[];
  /** Estimates per batch and allocator. */
  repeats: number;
  seed?: number;
}

export interface VarianceComparison {
  /** Mean ‖ĝ − ∇L_B‖² with FLOPS counts and with uniform counts, over batches × repeats. */
  flops: number;
  uniform: number;
  /** flops / uniform: below 1 when FLOPS spends the same budget better. */
  ratio: number;
}

/**
 * The quantity FLOPS optimises, measured directly: at fixed θ, the mean squared error of the gradient estimate
 * against the exact batch gradient, with the FLOPS allocation and with the uniform one, at the same budget. Both
 * use the same estimator seeds (common random numbers), so the ratio is less noisy than either number.
 */
export async function compareAllocatorVariance(o: VarianceComparisonOptions): Promise<VarianceComparison> {
  const { problem, config, theta, repeats } = o;
  if (config.allocator.kind !== 'flops')
    throw new RangeError('compareAllocatorVariance needs a FLOPS config');
  const flops = createAllocator(config.allocator);
  if (o.allocatorState !== undefined) flops.setState(o.allocatorState);
  const uniform = createAllocator({ kind: 'uniform' });
  const seed = o.seed ?? 0;
  // Past the warm-up, so the FLOPS allocator samples from its Gaussian instead of falling back to uniform.
  const step = config.allocator.warmupSteps + 1_000_000;
  const B = config.batchSize;
  const clean = new Float64Array(B);
  let errFlops = 0;
  let errUniform = 0;
  for (const [bi, ids] of o.batches.entries()) {
    await problem.loadBatch(ids);
    await problem.cleanLosses(theta, clean);
    const exact = o.exactGradient(ids);
    for (let r = 0; r < repeats; r++) {
      const stepSeed = deriveSeed(seed, bi, r);
      const request = {
        losses: clean,
        sampleIds: ids,
        budget: B * config.budgetPerSample,
        nMin: config.nMin,
        nMax: config.nMax,
        step,
        epoch: 0,
        seed: deriveSeed(stepSeed, 1),
        granularity: config.estimator === 'lr' ? 2 : 1,
      } as const;
      for (const [allocator, which] of [
        [flops, 'flops'],
        [uniform, 'uniform'],
      ] as const) {
        const counts = allocator.allocate(request);
        const est = await estimateStep(problem, config, theta, counts, clean, stepSeed, step);
        let e = 0;
        for (let j = 0; j < exact.length; j++) e += (est.grad[j]! - exact[j]!) ** 2;
        if (which === 'flops') errFlops += e;
        else errUniform += e;
      }
    }
  }
  const n = o.batches.length * repeats;
  return { flops: errFlops / n, uniform: errUniform / n, ratio: errFlops / errUniform };
}

export const FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';

/** Fashion-MNIST's first `limit` training rows when Debian's dataset-fashion-mnist is installed, else null. */
export async function loadFashionMnist(limit: number, split: 'train' | 't10k' = 'train') {
  try {
    return await loadIdxDataset(
      `${FASHION_MNIST_DIR}/${split}-images-idx3-ubyte.gz`,
      `${FASHION_MNIST_DIR}/${split}-labels-idx1-ubyte.gz`,
      { limit },
    );
  } catch {
    return null;
  }
}

/** Stand-in images when Fashion-MNIST is absent: 10 noisy class templates in [0, 1], with uneven noise. */
export function syntheticImages(n: number, seed: number): LabelledRows & { x: Float32Array } {
  const d = 784;
  const templates = new Float32Array(10 * d);
  new Rng(0x7e41).fillGaussian(templates);
  const rng = new Rng(seed);
  const noise = new Float32Array(d);
  const x = new Float32Array(n * d);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const c = i % 10;
    y[i] = c;
    rng.fillGaussian(noise);
    const spread = 0.5 + 2 * rng.nextFloat();
    for (let j = 0; j < d; j++) {
      x[i * d + j] = Math.min(1, Math.max(0, 0.5 + 0.15 * (templates[c * d + j]! + spread * noise[j]!)));
    }
  }
  return { x, y };
}

/**
 * The model, steps, optimiser and FLOPS settings the Fashion-MNIST T7 tests and the variance bench share: a
 * 784-32-10 MLP (SPSA's variance grows with d, and 32 hidden units learned as well as 64 in the same time on a
 * loaded 2-core box), Adam at 5e-3 for SPSA and 1e-3 for LR, batch 64, n̄ = 10.
 */
export const VARIANCE_MLP: MlpOptions = { inDim: 784, hidden: [32], numClasses: 10, seed: 1 };
export const T7_STEPS = { spsa: 700, lr: 600 } as const;
/** Training images used (the first rows of Fashion-MNIST's training split). */
export const T7_TRAIN_ROWS = 20_000;

/** The batches FLOPS and uniform are compared on: 64 spread-out training samples each, fixed. */
export function t7VarianceBatches(count: number): Int32Array[] {
  return Array.from({ length: count }, (_, b) =>
    Int32Array.from({ length: 64 }, (_, i) => (b * 997 + i * 61 + 5) % T7_TRAIN_ROWS),
  );
}

export function flopsRunConfig(estimator: 'spsa' | 'lr', maxSteps: number, seed = 1): ResolvedTrainConfig {
  return resolveTrainConfig({
    estimator,
    seed,
    batchSize: 64,
    budgetPerSample: 10,
    epochs: 1000,
    maxSteps,
    optimizer: { kind: 'adam', lr: estimator === 'spsa' ? 5e-3 : 1e-3 },
    allocator: { kind: 'flops', warmupSteps: 20 },
    spsaEps: 1e-3,
    lrSigma: 1e-2,
  });
}

/**
 * engine.flops_variance_ratio.{spsa,lr}: train the MLP as the T7 tests do (FLOPS allocator, so Φ is learned and
 * θ is past the start, where per-sample gradients still point alike and SPSA's shared directions gain nothing
 * from an uneven allocation), then compare FLOPS with uniform at that θ on fresh batches. Fashion-MNIST when
 * installed, else synthetic images (`engine.flops_variance_ratio.synthetic_data` = 1 says so).
 */
export async function benchFlopsVariance(
  options: { trainSteps?: number; batches?: number; repeats?: number } = {},
): Promise<Record<string, number>> {
  const real = await loadFashionMnist(T7_TRAIN_ROWS);
  const data: LabelledRows & { x: Float32Array } = real ?? syntheticImages(T7_TRAIN_ROWS, 3);
  const out: Record<string, number> = { 'engine.flops_variance_ratio.synthetic_data': real ? 0 : 1 };
  for (const estimator of ['spsa', 'lr'] as const) {
    const problem = await createOnnxClassifierProblem({
      model: buildMlp(VARIANCE_MLP),
      ...(estimator === 'lr' && { lrModel: buildMlpLr(VARIANCE_MLP) }),
      train: data,
      val: { x: data.x.subarray(0, 64 * 784), y: Array.from(data.y).slice(0, 64) },
    });
    try {
      const steps = options.trainSteps ?? T7_STEPS[estimator];
      const config = flopsRunConfig(estimator, steps);
      const run = await train(problem, config);
      const dims = [784, ...VARIANCE_MLP.hidden!, 10];
      const batches = t7VarianceBatches(options.batches ?? 6);
      const cmp = await compareAllocatorVariance({
        problem,
        config,
        theta: run.theta,
        allocatorState: run.checkpoint.allocator,
        exactGradient: (ids) => {
          const x = new Float32Array(ids.length * 784);
          ids.forEach((id, r) => x.set(data.x.subarray(id * 784, (id + 1) * 784), r * 784));
          return mlpExactGradient(
            run.theta,
            dims,
            x,
            Array.from(ids, (id) => Number(data.y[id]!)),
          );
        },
        batches,
        repeats: options.repeats ?? 8,
        seed: 11,
      });
      out[`engine.flops_variance_ratio.${estimator}`] = cmp.ratio;
      out[`engine.flops_variance.${estimator}.flops_mse`] = cmp.flops;
      out[`engine.flops_variance.${estimator}.uniform_mse`] = cmp.uniform;
    } finally {
      await problem.release();
    }
  }
  return out;
}

// --- The registry -----------------------------------------------------------------------------------------

/** Numbers of a section's result under `prefix.` (keys that already carry the prefix keep it once). */
function prefixed(prefix: string, values: Record<string, unknown>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(values)) {
    if (typeof v === 'number') out[k.startsWith(`${prefix}.`) ? k : `${prefix}.${k}`] = v;
  }
  return out;
}

export const BENCH_SECTIONS: BenchSection[] = [
  { name: 'rng', run: async () => prefixed('rng', benchRng()) },
  { name: 'engine.mlp', run: benchEngineMlp },
  { name: 'engine.flops_variance', run: () => benchFlopsVariance() },
  {
    name: 'vit',
    run: async () => {
      const out: Record<string, number> = {};
      for (const mode of Object.keys(BENCH_MODES) as (keyof typeof BENCH_MODES)[]) {
        const inference = await benchVitInference(mode);
        const training = await benchVitTraining(mode, { inference });
        Object.assign(out, prefixed(`vit.${mode}`, { ...inference, ...training }));
      }
      // The headline number: query throughput with the cached prefix over full-model queries, head mode.
      const speedup = out['vit.head.prefix_reuse_speedup'];
      if (speedup !== undefined) out['vit.prefix_reuse_speedup'] = speedup;
      return out;
    },
  },
];

/** Appends a section (other modules' benches); names must be unique. */
export function registerBenchSection(section: BenchSection): void {
  if (BENCH_SECTIONS.some((s) => s.name === section.name)) {
    throw new RangeError(`bench section '${section.name}' is already registered`);
  }
  BENCH_SECTIONS.push(section);
}

/** Sections whose name equals a filter or starts with `filter.`; all of them without filters. */
export function selectSections(sections: readonly BenchSection[], only: readonly string[]): BenchSection[] {
  if (only.length === 0) return [...sections];
  const chosen = sections.filter((s) => only.some((f) => s.name === f || s.name.startsWith(`${f}.`)));
  const unknown = only.filter((f) => !sections.some((s) => s.name === f || s.name.startsWith(`${f}.`)));
  if (unknown.length > 0) {
    throw new RangeError(
      `unknown bench section ${unknown.join(', ')} (have: ${sections.map((s) => s.name).join(', ')})`,
    );
  }
  return chosen;
}

export interface BenchRun {
  results: Record<string, number>;
  /** Sections that threw, with the message; their numbers are absent from results. */
  failures: Record<string, string>;
}

/** Runs sections one after another (they compete for the same cores otherwise); a failing section is reported. */
export async function runBench(
  sections: readonly BenchSection[],
  log: (line: string) => void = () => undefined,
): Promise<BenchRun> {
  const results: Record<string, number> = {};
  const failures: Record<string, string> = {};
  for (const section of sections) {
    const t0 = performance.now();
    try {
      const values = await section.run();
      for (const [k, v] of Object.entries(values)) {
        if (k in results) throw new RangeError(`bench field ${k} is reported twice`);
        results[k] = v;
      }
      log(`${section.name}: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    } catch (e) {
      failures[section.name] = e instanceof Error ? e.message : String(e);
      log(`${section.name}: FAILED (${failures[section.name]})`);
    }
  }
  return { results, failures };
}

function formatValue(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (Math.abs(v) >= 1e5) return v.toExponential(3);
  if (Math.abs(v) >= 100) return v.toFixed(0);
  return v.toPrecision(4);
}

export function formatTable(results: Record<string, number>): string {
  const names = Object.keys(results);
  const width = Math.max(5, ...names.map((n) => n.length));
  const lines = [`${'field'.padEnd(width)}  value`, `${'-'.repeat(width)}  ${'-'.repeat(12)}`];
  for (const n of names) lines.push(`${n.padEnd(width)}  ${formatValue(results[n]!)}`);
  return lines.join('\n');
}

export interface BenchArgs {
  json?: string;
  only: string[];
}

export function parseBenchArgs(argv: readonly string[]): BenchArgs {
  const args: BenchArgs = { only: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined || v.startsWith('--')) throw new RangeError(`${a} needs a value`);
      return v;
    };
    if (a === '--json') args.json = value();
    else if (a.startsWith('--json=')) args.json = a.slice('--json='.length);
    else if (a === '--only') args.only.push(...value().split(','));
    else if (a.startsWith('--only=')) args.only.push(...a.slice('--only='.length).split(','));
    else throw new RangeError(`unknown argument ${a} (use --json FILE, --only SECTION)`);
  }
  args.only = args.only.map((s) => s.trim()).filter(Boolean);
  return args;
}

export async function main(argv: readonly string[]): Promise<number> {
  const args = parseBenchArgs(argv);
  // Sections above engine/ (store, datasets, study) are registered by app/bench.ts, the `npm run bench` entry.
  const sections = selectSections(BENCH_SECTIONS, args.only);
  const cpu = cpus();
  console.log(
    `bench: ${sections.map((s) => s.name).join(', ')} — ${cpu.length} × ${cpu[0]?.model ?? 'cpu'}, Node ${process.versions.node}`,
  );
  const { results, failures } = await runBench(sections, (line) => console.log(`  ${line}`));
  console.log(`\n${formatTable(results)}`);
  if (args.json) {
    await writeFile(args.json, `${JSON.stringify(results, null, 2)}\n`);
    console.log(`\nwrote ${args.json}`);
  }
  return Object.keys(failures).length > 0 ? 1 : 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await main(process.argv.slice(2));
}
