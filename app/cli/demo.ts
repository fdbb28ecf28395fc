// `npm run demo`: the main job on the bundled defaults. Imports the bundled Fashion-MNIST subset (classes 5-9)
// and the tiny ViT pretrained on classes 0-4, then fine-tunes a new head twice at the same seed and query budget:
// once with the FLOPS allocator and once with uniform allocation. Both runs are stored; the comparison is printed.
import { parseArgs } from 'node:util';

import { ensureBundledDataset, ensureBundledModel } from '../bundled.ts';
import { defaultDataDir } from '../data-dir.ts';
import { createRun } from '../db/runs.ts';
import { executeRun, type RunOutcome } from '../runs/execute.ts';
import { resolveRunSpec, type RunSpecInput } from '../runs/spec.ts';
import { openWorkspace } from '../workspace.ts';

export interface DemoOptions {
  dataDir: string;
  /** Passes over the training split (1000 images); the quick test uses fewer. */
  epochs: number;
  budgetPerSample: number;
  estimator: 'lr' | 'spsa';
  seed: number;
  log?: (line: string) => void;
}

export interface DemoResult {
  dataDir: string;
  database: string;
  runs: Record<'flops' | 'uniform', RunOutcome & { name: string }>;
  /** FLOPS over uniform: mean per-step estimated gradient variance (lower is better). */
  varianceRatio: number;
  untrainedAccuracy: number | null;
}

export async function runDemo(options: DemoOptions): Promise<DemoResult> {
  const log = options.log ?? (() => undefined);
  const ws = openWorkspace(options.dataDir);
  try {
    log(`data directory: ${ws.dataDir}`);
    const dataset = await ensureBundledDataset(ws);
    const model = await ensureBundledModel(ws);
    log(`dataset: ${dataset.name} (${dataset.count} images, classes ${dataset.classes.join(', ')})`);
    log(`model:   ${model.name} (pretrained on Fashion-MNIST classes 0-4; a new head is fine-tuned)`);

    const outcomes = {} as DemoResult['runs'];
    for (const allocator of ['flops', 'uniform'] as const) {
      const input: RunSpecInput = {
        name: `demo ${options.estimator} ${allocator} seed ${options.seed}`,
        modelId: model.id,
        datasetVersionId: dataset.id,
        mode: { kind: 'head' },
        evalSplit: 'test',
        tags: ['demo'],
        train: {
          seed: options.seed,
          estimator: options.estimator,
          allocator: allocator === 'flops' ? { kind: 'flops', warmupSteps: 20 } : { kind: 'uniform' },
          budgetPerSample: options.budgetPerSample,
          batchSize: 32,
          epochs: options.epochs,
          optimizer: { kind: 'adam', lr: 0.01 },
          lrSigma: 0.1,
          spsaEps: 1e-2,
          evalEverySteps: 31, // once per epoch (1000 training images, batch 32)
        },
      };
      const spec = resolveRunSpec(input);
      const run = createRun(ws.db, {
        name: spec.name!,
        modelId: model.id,
        datasetVersionId: dataset.id,
        requestedConfig: input,
        resolvedConfig: spec,
        seed: spec.train.seed,
        tags: spec.tags,
      });
      log(`run ${run.id}: ${run.name} ...`);
      const outcome = await executeRun(ws.db, run.id);
      outcomes[allocator] = { ...outcome, name: run.name };
      log(
        `run ${run.id}: ${outcome.status}, test accuracy ${pct(outcome.evalAccuracy)} after ${outcome.steps} steps` +
          ` (${(outcome.wallMs / 1000).toFixed(1)} s)`,
      );
    }
    return {
      dataDir: ws.dataDir,
      database: ws.paths.db,
      runs: outcomes,
      varianceRatio: outcomes.flops.meanVarianceEstimate / outcomes.uniform.meanVarianceEstimate,
      untrainedAccuracy: outcomes.flops.initialAccuracy,
    };
  } finally {
    ws.close();
  }
}

function pct(x: number | null): string {
  return x === null ? 'n/a' : `${(100 * x).toFixed(1)}%`;
}

export function formatDemo(r: DemoResult): string {
  const rows = (['flops', 'uniform'] as const).map((k) => {
    const o = r.runs[k];
    return [
      k,
      String(o.runId),
      pct(o.evalAccuracy),
      o.queries.toLocaleString('en-US'),
      o.forwardRows.toLocaleString('en-US'),
      `${(o.wallMs / 1000).toFixed(1)} s`,
      o.meanVarianceEstimate.toExponential(3),
    ];
  });
  const header = ['allocator', 'run', 'test acc', 'queries', 'forward rows', 'wall time', 'mean var. est.'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ');
  return [
    '',
    line(header),
    line(widths.map((w) => '-'.repeat(w))),
    ...rows.map(line),
    '',
    `untrained new head: ${pct(r.untrainedAccuracy)} test accuracy`,
    `variance ratio (FLOPS / uniform, estimated per step): ${r.varianceRatio.toFixed(3)}`,
    `runs stored in ${r.database}`,
    `open them with: npx flops runs list --data-dir "${r.dataDir}"  (or: npx flops serve)`,
  ].join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      json: { type: 'boolean', default: false },
      'data-dir': { type: 'string' },
      epochs: { type: 'string', default: '10' },
      budget: { type: 'string', default: '10' },
      estimator: { type: 'string', default: 'lr' },
      seed: { type: 'string', default: '0' },
    },
  });
  const estimator = values.estimator === 'spsa' ? 'spsa' : 'lr';
  const result = await runDemo({
    dataDir: values['data-dir'] ?? defaultDataDir(),
    epochs: Number(values.epochs),
    budgetPerSample: Number(values.budget),
    estimator,
    seed: Number(values.seed),
    log: values.json ? undefined : (line) => console.log(line),
  });
  console.log(values.json ? JSON.stringify(result, null, 2) : formatDemo(result));
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((error: unknown) => {
    console.error(error instanceof Error ? `${error.name}: ${error.message}` : error);
    process.exit(1);
  });
}
