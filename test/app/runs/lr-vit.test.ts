// A stored LoRA run with estimator 'lr' trains through the LR graph (noise at the adapters and the head), end to end
// on the bundled tiny ViT and the bundled Fashion-MNIST subset: the run's problem carries the LR oracle, the
// adapters move (B starts at zero, so only a gradient reaching B can move it), and accuracy beats the new head's.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { latestCheckpoint } from '../../../app/db/checkpoints.ts';
import { getDatasetVersion } from '../../../app/db/datasets.ts';
import { getModel } from '../../../app/db/models.ts';
import { requireRun } from '../../../app/db/runs.ts';
import { executeRun } from '../../../app/runs/execute.ts';
import { buildProblem } from '../../../app/runs/problem.ts';
import type { RunSpec } from '../../../app/runs/spec.ts';
import { PRESETS } from '../../../app/use-cases/presets.ts';
import { createRun } from '../../../app/use-cases/runs.ts';
import { InvalidConfigError } from '../../../engine/config.ts';
import { FlatParams } from '../../../engine/params.ts';
import { testWorkspace, type TestWorkspace } from './helpers.ts';

let ws: TestWorkspace;
beforeAll(async () => {
  ws = await testWorkspace();
});
afterAll(() => ws.dispose());

describe('LR beyond the head in stored runs', () => {
  it('lora-lr: trains A and B through the LR graph and beats the untrained head', async () => {
    const { mode, train } = PRESETS['lora-lr'].spec;
    const run = await createRun(ws.ctx, {
      spec: ws.spec({ ...train, epochs: 8, seed: 3 }, { mode, name: 'lora lr' }),
      start: false,
    });
    const outcome = await executeRun(ws.ctx.workspace.db, run.id, { threads: 1 });
    expect(outcome.status).toBe('completed');
    // k-shot 40 of 5 classes = 200 images, batch 32: 6 steps per epoch.
    expect(outcome.steps).toBe(48);
    // LR spends N = B·n̄ rows per step (SPSA would spend 2N).
    expect(outcome.queries).toBe(48 * 32 * 10);
    console.log(
      `[lora-lr] ${outcome.steps} steps, accuracy ${(100 * outcome.initialAccuracy!).toFixed(1)}% → ${(100 * outcome.evalAccuracy!).toFixed(1)}% in ${(outcome.wallMs / 1000).toFixed(1)} s`,
    );
    expect(outcome.evalAccuracy! - outcome.initialAccuracy!).toBeGreaterThan(0.2);

    // The adapters moved: every B started at zero.
    const spec = requireRun(ws.ctx.workspace.db, run.id).resolvedConfig as RunSpec;
    const built = await buildProblem({
      modelDir: getModel(ws.ctx.workspace.db, spec.modelId)!.path,
      datasetCachePath: getDatasetVersion(ws.ctx.workspace.db, spec.datasetVersionId)!.cachePath!,
      mode: spec.mode,
      estimator: 'lr',
      seed: spec.train.seed,
      evalSplit: 'test',
      kShot: spec.kShot,
    });
    const problem = built.problem as typeof built.problem & { release(): Promise<void> };
    expect(problem.lrLayers).toBeDefined();
    const end = new FlatParams(problem.params.specs, latestCheckpoint(ws.ctx.workspace.db, run.id)!.params);
    const adapters = problem.params.specs.filter((s) => s.name.includes('.lora_B.'));
    expect(adapters).toHaveLength(8);
    for (const s of adapters) {
      expect(problem.params.view(s.name).every((v) => v === 0)).toBe(true);
      expect(end.view(s.name).some((v) => v !== 0)).toBe(true);
    }
    await problem.release();
  });

  it("refuses LR for 'full' (the embeddings are out of its reach) at creation, naming the field", async () => {
    const created = createRun(ws.ctx, {
      spec: ws.spec({ epochs: 1 }, { mode: { kind: 'full' }, name: 'full lr' }),
      start: false,
    });
    await expect(created).rejects.toThrow(InvalidConfigError);
    await expect(created).rejects.toThrow(/train\.estimator: LR cannot reach the patch embedding/);
  });
});
