// Inference throughput of the bundled ViT's training graphs, per trainable mode, for `npm run bench`
// (vit.<mode>.inference_rows_per_sec, vit.prefix_reuse_speedup). A "row" is one image through the graph that the
// estimator's queries would run: the full training graph, and — when the mode has a frozen prefix — the suffix alone
// on cached prefix outputs, which is what queries cost once the prefix has run.
import { performance } from 'node:perf_hooks';

import * as ort from 'onnxruntime-node';

import { preprocessPixels } from './config.ts';
import { buildViTGraphSet } from './graph.ts';
import { BUNDLED_VIT_DIR, loadViT } from './index.ts';
import { prepareViT, type PreparedViT, type TrainMode, type TrainModeKind } from './modes.ts';

/** The mode each kind is benchmarked with (small, typical settings). */
export const BENCH_MODES: Record<TrainModeKind, TrainMode> = {
  head: { kind: 'head' },
  bitfit: { kind: 'bitfit' },
  lora: { kind: 'lora', rank: 4, alpha: 8, targets: ['q', 'v'] },
  vpt: { kind: 'vpt', prompts: 4 },
  'last-k': { kind: 'last-k', k: 1 },
  full: { kind: 'full' },
};

export interface VitBenchOptions {
  batch?: number;
  /** Timed runs per round (best of 3 rounds) after 2 warm-up runs. */
  runs?: number;
  /** ORT intra-op threads. */
  threads?: number;
  /** Checkpoint folder (default: the bundled model). */
  dir?: string;
}

export interface VitBenchResult {
  /** Rows per second through the full training graph (inputs x, y, trainables → logits, loss). */
  inference_rows_per_sec: number;
  /** Rows per second through the suffix on cached prefix outputs (modes with a frozen prefix only). */
  suffix_rows_per_sec?: number;
  /** suffix_rows_per_sec / inference_rows_per_sec. */
  prefix_reuse_speedup?: number;
  trainable_params: number;
}

async function rowsPerSec(
  bytes: Uint8Array,
  feeds: Record<string, ort.Tensor>,
  batch: number,
  runs: number,
  threads: number,
): Promise<number> {
  const s = await ort.InferenceSession.create(bytes, {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
  });
  try {
    for (let i = 0; i < 2; i++) await s.run(feeds);
    // Best of 3 rounds: on a shared machine the slow rounds measure the neighbours, not the graph.
    let best = 0;
    for (let round = 0; round < 3; round++) {
      const t0 = performance.now();
      for (let i = 0; i < runs; i++) await s.run(feeds);
      best = Math.max(best, (batch * runs) / ((performance.now() - t0) / 1000));
    }
    return best;
  } finally {
    await s.release();
  }
}

function trainableFeeds(p: PreparedViT): Record<string, ort.Tensor> {
  return Object.fromEntries(
    p.trainable.map((t) => [t.name, new ort.Tensor('float32', p.tensors.get(t.name)!.data, t.shape)]),
  );
}

/** Benchmarks one trainable mode on the bundled model (a new 5-class head, as in the demo). */
export async function benchVitInference(
  mode: TrainModeKind | TrainMode = 'head',
  opts: VitBenchOptions = {},
): Promise<VitBenchResult> {
  const m = typeof mode === 'string' ? BENCH_MODES[mode] : mode;
  const batch = opts.batch ?? 64;
  const runs = opts.runs ?? 10;
  const threads = opts.threads ?? 2;
  const { config, weights } = await loadViT(opts.dir ?? BUNDLED_VIT_DIR);
  const p = prepareViT(config, weights, { mode: m, numClasses: 5, newHead: true, seed: 0 });
  const set = buildViTGraphSet(p);
  const [ih, iw] = config.imageSize;
  const raw = new Uint8Array(batch * config.numChannels * ih * iw);
  for (let i = 0; i < raw.length; i++) raw[i] = (i * 2654435761) >>> 24; // deterministic pseudo-pixels
  const x = new ort.Tensor('float32', preprocessPixels(config, raw), [batch, config.numChannels * ih * iw]);
  const y = new ort.Tensor(
    'int64',
    BigInt64Array.from({ length: batch }, (_, i) => BigInt(i % 5)),
    [batch],
  );
  const tf = trainableFeeds(p);
  const full = await rowsPerSec(set.full, { x, y, ...tf }, batch, runs, threads);
  const result: VitBenchResult = {
    inference_rows_per_sec: full,
    trainable_params: p.trainable.reduce((a, s) => a + s.shape.reduce((u, v) => u * v, 1), 0),
  };
  if (set.split) {
    const pre = await ort.InferenceSession.create(set.split.prefix, {
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
    });
    const h = (await pre.run({ x }))[set.split.value.name]!;
    await pre.release();
    const suffix = await rowsPerSec(
      set.split.suffix,
      { [set.split.value.name]: h, y, ...tf },
      batch,
      runs,
      threads,
    );
    result.suffix_rows_per_sec = suffix;
    result.prefix_reuse_speedup = suffix / full;
  }
  return result;
}
