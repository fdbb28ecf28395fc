// The main job end to end, as a user runs it: the real `npm run demo` entry point on a fresh data directory, with
// a small budget. Both runs must be stored, spend the same queries, and beat the untrained head.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

import { afterAll, expect, it } from 'vitest';

import { openDb } from '../../../app/db/open.ts';
import { listRuns } from '../../../app/db/runs.ts';
import type { DemoResult } from '../../../app/cli/demo.ts';

const dataDir = mkdtempSync(join(tmpdir(), 'flops-demo-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

it('npm run demo -- --json stores a FLOPS and a uniform run with equal queries that beat the untrained head', async () => {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['--import', 'tsx', 'app/cli/demo.ts', '--json', '--data-dir', dataDir, '--epochs', '3'],
    { cwd: join(import.meta.dirname, '../../..'), maxBuffer: 16 << 20 },
  );
  const result = JSON.parse(stdout) as DemoResult;
  const { flops, uniform } = result.runs;
  expect(flops.status).toBe('completed');
  expect(uniform.status).toBe('completed');
  // 1000 training images / batch 32 = 31 steps per epoch; LR spends N = 32 x 10 queries per step.
  expect(flops.steps).toBe(93);
  expect(flops.queries).toBe(93 * 320);
  expect(uniform.queries).toBe(flops.queries);
  expect(uniform.forwardRows).toBe(flops.forwardRows);
  expect(result.untrainedAccuracy).toBeLessThan(0.4);
  for (const run of [flops, uniform])
    expect(run.evalAccuracy!).toBeGreaterThan(result.untrainedAccuracy! + 0.3);
  expect(result.varianceRatio).toBeGreaterThan(0);

  const db = openDb(join(dataDir, 'flops.db'), { readonly: true });
  try {
    const runs = listRuns(db, {});
    expect(runs.map((r) => r.status).sort()).toEqual(['completed', 'completed']);
    const count = db.prepare('SELECT COUNT(*) AS n FROM allocations WHERE run_id = ?').get(flops.runId) as {
      n: number;
    };
    expect(count.n).toBe(93);
  } finally {
    db.close();
  }
});
