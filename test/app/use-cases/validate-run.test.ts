// run/validate on the bundled workspace: the evaluation split defaults to test, with a warning, when the dataset holds
// no val split (the bundled demo set), and the choice is written into the requested config the worker re-resolves.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { createRun, validateRun } from '../../../app/use-cases/runs.ts';
import { testWorkspace, type TestWorkspace } from '../runs/helpers.ts';

let ws: TestWorkspace;
beforeAll(async () => {
  ws = await testWorkspace();
});
afterAll(() => ws.dispose());

describe('run/validate evaluation split', () => {
  it('falls back to test when no split is asked for and the dataset has no val samples', async () => {
    const { evalSplit: _, ...spec } = ws.spec();
    const checked = await validateRun(ws.ctx, { spec });
    if (!checked.ok) throw new Error(JSON.stringify(checked.issues));
    expect(checked.spec.evalSplit).toBe('test');
    expect(checked.requested.evalSplit).toBe('test');
    expect(checked.warnings).toEqual([
      'dataset fashion-mnist-demo has no val split: evaluating on its test split',
    ]);

    const run = await createRun(ws.ctx, { spec, start: false });
    expect((run.requestedConfig as { evalSplit?: string }).evalSplit).toBe('test');
  });

  it('refuses an explicit val split the dataset lacks, naming the field', async () => {
    const checked = await validateRun(ws.ctx, { spec: ws.spec({}, { evalSplit: 'val' }) });
    expect(checked).toEqual({
      ok: false,
      issues: [{ field: 'evalSplit', message: 'dataset fashion-mnist-demo has no val samples' }],
    });
  });
});
