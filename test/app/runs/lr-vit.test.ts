// A stored LoRA run with estimator 'lr' trains through the LR graph (noise at the adapters and the head), end to end
// on the bundled tiny ViT and the bundled Fashion-MNIST subset: the run's problem carries the LR oracle, the
// adapters move (B starts at zero, so only a gradient reaching B can move it), and accuracy beats the new head's.
import { existsSync } from 'node:fs';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { latestCheckpoint, listCheckpoints } from '../../../app/db/checkpoints.ts';
import { getDatasetVersion } from '../../../app/db/datasets.ts';
import { getModel } from '../../../app/db/models.ts';
import { requireRun } from '../../../app/db/runs.ts';
import { executeRun } from '../../../app/runs/execute.ts';
import { buildProblem } from '../../../app/runs/problem.ts';
import type { RunSpec } from '../../../app/runs/spec.ts';
import { PRESETS } from '../../../app/use-cases/presets.ts';
import { invokeHandler, toBridgeError } from '../../../app/use-cases/index.ts';
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
    // ... and every A moved from its random start too.
    const downs = problem.params.specs.filter((s) => s.name.includes('.lora_A.'));
    expect(downs).toHaveLength(8);
    for (const s of downs) {
      const start = problem.params.view(s.name);
      expect(end.view(s.name).some((v, i) => v !== start[i])).toBe(true);
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

describe('bad input', () => {
  /**
   * An LR run trained 2 steps in `trained` mode whose stored spec then says `stored` (the spec, or the model folder
   * behind it, changed since the checkpoint): the checkpoint's θ no longer has the mode's length.
   */
  async function mismatched(trained: unknown, stored: unknown, status = 'completed') {
    const run = await createRun(ws.ctx, {
      spec: ws.spec({ maxSteps: 2, batchSize: 8, budgetPerSample: 4 }, { mode: trained as never }),
      start: false,
    });
    const outcome = await executeRun(ws.ctx.workspace.db, run.id, { threads: 1 });
    expect(outcome.error).toBeUndefined();
    const db = ws.ctx.workspace.db;
    const config = { ...(run.requestedConfig as Record<string, unknown>), mode: stored };
    db.prepare('UPDATE runs SET requested_config = ?, status = ? WHERE id = ?').run(
      JSON.stringify(config),
      status,
      run.id,
    );
    return { runId: run.id, theta: latestCheckpoint(db, run.id)!.params.length };
  }
  const rowCounts = (runId: number) => ({
    checkpoints: listCheckpoints(ws.ctx.workspace.db, runId).length,
    metrics: (
      ws.ctx.workspace.db.prepare('SELECT count(*) AS n FROM metrics WHERE run_id = ?').get(runId) as {
        n: number;
      }
    ).n,
  });

  for (const [trained, stored] of [
    [{ kind: 'lora', rank: 4 }, { kind: 'bitfit' }],
    [
      { kind: 'last-k', k: 1 },
      { kind: 'vpt', prompts: 2 },
    ],
  ] as const) {
    it(`run/export-model for a ${trained.kind} checkpoint against a ${stored.kind} spec: CHECKPOINT_MISMATCH naming run and lengths`, async () => {
      const { runId, theta } = await mismatched(trained, stored);
      const out = join(ws.dataDir, `export-${runId}`);
      for (const format of ['onnx', 'hf'] as const) {
        const data = await invokeHandler(ws.ctx, 'run/export-model', {
          runId,
          format,
          path: join(out, format === 'onnx' ? 'model.onnx' : 'hf'),
        }).catch((e: unknown) => toBridgeError(e));
        expect(data).toMatchObject({
          code: 'CHECKPOINT_MISMATCH',
          message: expect.stringMatching(
            new RegExp(
              `^run ${runId}: its checkpoint has ${theta} values; its ${stored.kind} mode trains \\d+`,
            ),
          ) as unknown as string,
        });
      }
      expect(existsSync(out)).toBe(false);
    }, 120_000);
  }

  it('resuming an LR run whose checkpoint θ does not fit its mode fails the run with a typed message and writes nothing', async () => {
    const { runId, theta } = await mismatched({ kind: 'lora', rank: 4 }, { kind: 'bitfit' }, 'paused');
    const before = rowCounts(runId);
    const resolved = requireRun(ws.ctx.workspace.db, runId).resolvedConfig;
    // executeRun fails the run, then rethrows (the queue reports it): typed, naming the run and both lengths.
    const error = await executeRun(ws.ctx.workspace.db, runId, { threads: 1 }).catch((e: unknown) => e);
    expect(toBridgeError(error)).toMatchObject({
      code: 'CHECKPOINT_MISMATCH',
      message: expect.stringMatching(
        new RegExp(`^run ${runId}: its checkpoint has ${theta} values; its bitfit mode trains \\d+ `),
      ) as unknown as string,
    });
    const after = requireRun(ws.ctx.workspace.db, runId);
    expect(after.status).toBe('failed');
    expect(after.error).toMatch(/checkpoint has/);
    expect(after.resolvedConfig).toEqual(resolved);
    expect(rowCounts(runId)).toEqual(before);
  }, 120_000);
});
