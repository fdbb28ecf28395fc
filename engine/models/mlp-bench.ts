// Throughput of plain inference for the reference MLP 784-128-64-10 (Fashion-MNIST sized) at batch 64, with the
// weights fed as graph inputs exactly as the training loop feeds them. engine/bench.ts reports the number.
import * as ort from 'onnxruntime-node';

import { createSession, ParamFeeds, runInto, type ProviderName } from '../onnx/session.ts';
import { Rng } from '../rng.ts';
import { buildMlp } from './mlp.ts';

export interface MlpBenchOptions {
  batch?: number;
  /** Timed runs; the median is reported. */
  runs?: number;
  warmup?: number;
  intraOpNumThreads?: number;
  providers?: readonly ProviderName[];
}

export interface MlpBenchResult {
  inference_rows_per_sec: number;
  provider: ProviderName;
  batch: number;
  median_ms: number;
}

export async function benchMlpInference(options: MlpBenchOptions = {}): Promise<MlpBenchResult> {
  const batch = options.batch ?? 64;
  const runs = options.runs ?? 200;
  const warmup = options.warmup ?? 20;
  const model = buildMlp({ inDim: 784, hidden: [128, 64], numClasses: 10, seed: 1 });
  const { session, provider } = await createSession(model.bytes, {
    providers: options.providers ?? ['cpu'],
    trainable: model.trainable,
    ...(options.intraOpNumThreads !== undefined && { intraOpNumThreads: options.intraOpNumThreads }),
  });
  try {
    const params = model.initParams();
    const x = new Float32Array(batch * 784);
    new Rng(7).fillGaussian(x);
    const y = BigInt64Array.from({ length: batch }, (_, i) => BigInt(i % 10));
    const feeds = {
      ...new ParamFeeds(params).feeds(params.data),
      x: new ort.Tensor('float32', x, [batch, 784]),
      y: new ort.Tensor('int64', y, [batch]),
    };
    const outputs = {
      loss: new ort.Tensor('float32', new Float32Array(batch), [batch]),
      logits: new ort.Tensor('float32', new Float32Array(batch * 10), [batch, 10]),
    };
    for (let i = 0; i < warmup; i++) await runInto(session, feeds, outputs);
    const times: number[] = [];
    for (let i = 0; i < runs; i++) {
      const t0 = performance.now();
      await runInto(session, feeds, outputs);
      times.push(performance.now() - t0);
    }
    times.sort((a, b) => a - b);
    const mid = times.length >> 1;
    const median = times.length % 2 ? times[mid]! : (times[mid - 1]! + times[mid]!) / 2;
    return { inference_rows_per_sec: batch / (median / 1000), provider, batch, median_ms: median };
  } finally {
    await session.release();
  }
}
