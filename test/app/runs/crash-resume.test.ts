// Issue 5's crash-safety acceptance on the real pipeline: a run training in a child process is SIGKILLed
// mid-run; the database stays intact, the run reads 'interrupted', and resuming it ends with exactly the bytes
// of an uninterrupted run with the same seed.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, expect, it } from 'vitest';

import { ensureBundledDataset, ensureBundledModel } from '../../../app/bundled.ts';
import { latestCheckpoint } from '../../../app/db/checkpoints.ts';
import { checkIntegrity } from '../../../app/db/open.ts';
import { createRun, requireRun } from '../../../app/db/runs.ts';
import { executeRun } from '../../../app/runs/execute.ts';
import type { RunSpecInput } from '../../../app/runs/spec.ts';
import { openWorkspace } from '../../../app/workspace.ts';

const root = mkdtempSync(join(tmpdir(), 'flops-crash-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

async function newRun(dataDir: string): Promise<number> {
  const ws = openWorkspace(dataDir);
  try {
    const dataset = await ensureBundledDataset(ws);
    const model = await ensureBundledModel(ws);
    const spec: RunSpecInput = {
      name: 'crash test',
      modelId: model.id,
      datasetVersionId: dataset.id,
      mode: { kind: 'head' },
      evalSplit: 'test',
      train: {
        seed: 7,
        estimator: 'spsa',
        allocator: { kind: 'flops', warmupSteps: 5 },
        budgetPerSample: 4,
        batchSize: 32,
        epochs: 40,
        checkpointEverySteps: 25,
        optimizer: { kind: 'adam', lr: 0.01 },
        spsaEps: 0.01,
      },
    };
    return createRun(ws.db, {
      name: 'crash test',
      requestedConfig: spec,
      seed: 7,
      modelId: model.id,
      datasetVersionId: dataset.id,
    }).id;
  } finally {
    ws.close();
  }
}

it('SIGKILL mid-training: integrity ok, run interrupted, resume bit-identical to an uninterrupted run', async () => {
  // Reference: the same run, uninterrupted.
  const refDir = join(root, 'ref');
  const refId = await newRun(refDir);
  const ref = openWorkspace(refDir);
  await executeRun(ref.db, refId);
  const expected = latestCheckpoint(ref.db, refId)!;
  ref.close();

  // The victim: run in a child process, killed once a few checkpoints are committed.
  const dir = join(root, 'victim');
  const runId = await newRun(dir);
  const script = `
    import { openWorkspace } from './app/workspace.ts';
    import { executeRun } from './app/runs/execute.ts';
    const ws = openWorkspace(${JSON.stringify(dir)});
    await executeRun(ws.db, ${runId}, { onProgress: (p) => { if (p.step === 80) console.log('step80'); } });
  `;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: join(import.meta.dirname, '../../..'),
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('step80')) {
        child.kill('SIGKILL');
        resolve();
      }
    });
    child.on('exit', () => reject(new Error('the child finished before it could be killed')));
  });
  await new Promise((resolve) => child.once('close', resolve));

  const ws = openWorkspace(dir); // marks runs of dead processes interrupted
  try {
    expect(checkIntegrity(ws.db)).toEqual([]);
    expect(requireRun(ws.db, runId).status).toBe('interrupted');
    const saved = latestCheckpoint(ws.db, runId)!;
    expect(saved.step).toBeGreaterThanOrEqual(50);
    expect(saved.step).toBeLessThan(expected.step);

    const outcome = await executeRun(ws.db, runId);
    expect(outcome.status).toBe('completed');
    const final = latestCheckpoint(ws.db, runId)!;
    expect(final.step).toBe(expected.step);
    expect(final.paramsSha256).toBe(expected.paramsSha256);
    const steps = ws.db
      .prepare('SELECT COUNT(*) AS n, MAX(step) AS last FROM metrics WHERE run_id = ?')
      .get(runId);
    expect(steps).toEqual({ n: expected.step, last: expected.step });
  } finally {
    ws.close();
  }
});
