// `npm run bench`: the engine's sections (engine/bench.ts) plus the ones that live above engine/ — the store,
// dataset import and the query-efficiency study — in one JSON document with stable dotted field names.
import { pathToFileURL } from 'node:url';

import { main, registerBenchSection, type BenchSection } from '../engine/bench.ts';
import { benchOnnxPrefixReuse } from '../engine/onnx/cut-bench.ts';
import { benchDatasets } from './datasets/datasets-bench.ts';
import { benchStore } from './db/store-bench.ts';
import { benchStudy } from './study/study-bench.ts';

function prefixed(prefix: string, values: object): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [key, value] of Object.entries(values)) {
    if (typeof value === 'number') out[`${prefix}.${key}`] = value;
  }
  return out;
}

export const APP_BENCH_SECTIONS: BenchSection[] = [
  { name: 'store', run: async () => prefixed('store', await benchStore()) },
  { name: 'datasets', run: async () => prefixed('datasets', await benchDatasets()) },
  // onnx.prefix_reuse_speedup: an imported .onnx ViT with its last block's MLP trainable, suffix over full graph.
  { name: 'onnx', run: async () => prefixed('onnx', await benchOnnxPrefixReuse()) },
  // benchStudy already names its fields study.variance_ratio.<estimator>, study.queries_to_target_ratio.<...>.
  { name: 'study', run: () => benchStudy() },
];

for (const section of APP_BENCH_SECTIONS) registerBenchSection(section);

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await main(process.argv.slice(2));
}
