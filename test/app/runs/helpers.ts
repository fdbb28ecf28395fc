// A real workspace for app-level tests: a temporary data folder with its SQLite file, the bundled model and the
// bundled Fashion-MNIST subset registered, and a run spec builder sized for a few seconds of training.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { createAppContext, type ContextOptions, type OwnedContext } from '../../../app/context.ts';
import type { RunSpecInput } from '../../../app/runs/spec.ts';
import { ensureBundled } from '../../../app/use-cases/system.ts';

export interface TestWorkspace {
  dataDir: string;
  ctx: OwnedContext;
  modelId: number;
  datasetVersionId: string;
  /** Head-only LR run on k-shot 40 (200 training images), evaluated on the 500 test images. */
  spec(train?: Record<string, unknown>, extra?: Partial<RunSpecInput>): RunSpecInput;
  dispose(): Promise<void>;
}

export async function testWorkspace(options: Partial<ContextOptions> = {}): Promise<TestWorkspace> {
  const dataDir = mkdtempSync(join(tmpdir(), 'flops-app-'));
  const ctx = createAppContext({ dataDir, ...options });
  const { model, dataset } = await ensureBundled(ctx, {});
  return {
    dataDir,
    ctx,
    modelId: model.id,
    datasetVersionId: dataset.id,
    spec: (train = {}, extra = {}) => ({
      modelId: model.id,
      datasetVersionId: dataset.id,
      mode: { kind: 'head' },
      evalSplit: 'test',
      kShot: 40,
      ...extra,
      train: {
        estimator: 'lr',
        allocator: { kind: 'flops', warmupSteps: 5 },
        budgetPerSample: 4,
        batchSize: 8,
        optimizer: { kind: 'adam', lr: 1e-2 },
        lrSigma: 0.1,
        epochs: 1,
        ...train,
      },
    }),
    dispose: async () => {
      await ctx.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
