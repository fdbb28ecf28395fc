// Throughput of one ONNX graph on fixed feeds, the measurement the ViT and ONNX-cut benches share
// (models/vit/vit-bench.ts, cut-bench.ts): rows per second through a fresh single-graph ORT session.
import { performance } from 'node:perf_hooks';

import * as ort from 'onnxruntime-node';

/** Rows per second of `bytes` on `feeds` (`batch` rows a run): best of 3 rounds of `runs` runs, after 2 warm-ups. */
export async function rowsPerSec(
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
