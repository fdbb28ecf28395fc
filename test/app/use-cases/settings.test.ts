// Workspace settings on a real workspace: validated field by field, stored in the workspace database, read again by
// the next context on the same folder (what the CLI and `flops serve` do), and used by the runs started after
// `settings/set`: the queue records the providers and threads it gave each run, the worker the provider that ran.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { createAppContext } from '../../../app/context.ts';
import { listEvents } from '../../../app/db/events.ts';
import { requireRun } from '../../../app/db/runs.ts';
import { writeSettingRows } from '../../../app/db/settings.ts';
import { invokeHandler } from '../../../app/use-cases/index.ts';
import { createRun, getRun } from '../../../app/use-cases/runs.ts';
import {
  availableProviderNames,
  getSettings,
  loadSettings,
  PROVIDER_NAMES,
  setSettings,
} from '../../../app/use-cases/settings.ts';
import { systemInfo } from '../../../app/use-cases/system.ts';
import { toBridgeError } from '../../../app/use-cases/index.ts';
import { testWorkspace, type TestWorkspace } from '../runs/helpers.ts';

let ws: TestWorkspace;
beforeAll(async () => {
  ws = await testWorkspace();
});
afterAll(() => ws.dispose());

/** What the queue recorded when it handed the run to a worker. */
function workerEvent(runId: number): { device: string; providers: string[]; threads: number | null } {
  const event = listEvents(ws.ctx.workspace.db, { runId }).find((e) => e.kind === 'run/worker');
  if (!event) throw new Error(`run ${runId} has no run/worker event`);
  return event.message as { device: string; providers: string[]; threads: number | null };
}

describe('settings', () => {
  it('start automatic: nothing stored, the default providers in effect', async () => {
    const view = await getSettings(ws.ctx, {});
    expect(view.stored).toEqual({ providers: null, threads: null, concurrency: null });
    expect(view.effective.providers).toEqual(view.automatic.providers);
    expect(view.effective.providers.at(-1)).toBe('cpu');
    expect(view.effective).toMatchObject({ threads: null, concurrency: 1 });
    expect(view.overrides).toEqual([]);
    expect(view.available.find((p) => p.name === 'cpu')).toEqual({
      name: 'cpu',
      bundled: true,
      selectable: true,
    });
    expect(view.lastRun).toBeNull();
  });

  it('names every bad field and stores nothing', async () => {
    const error = await invokeHandler(ws.ctx, 'settings/set', {
      providers: ['cpu', 'cpu', 'dml'],
      threads: 0,
      concurrency: { cpu: 99, tpu: 1 },
      dataDir: '/elsewhere',
    }).catch((e: unknown) => e);
    const data = toBridgeError(error);
    expect(data.code).toBe('ARGS_INVALID');
    expect(data.issues?.map((i) => i.field).sort()).toEqual([
      '(root)', // dataDir: display-only, not a setting
      'concurrency.cpu',
      'concurrency.tpu',
      'providers.1',
      'providers.2',
      'threads',
    ]);
    expect(data.issues?.find((i) => i.field === 'providers.1')?.message).toBe('cpu is listed twice');
    expect(data.issues?.find((i) => i.field === 'providers.2')?.message).toMatch(
      /^dml is not available in this build \(available: .*cpu/,
    );
    expect(loadSettings(ws.ctx.workspace.db).settings).toEqual({
      providers: null,
      threads: null,
      concurrency: null,
    });
    const empty = await invokeHandler(ws.ctx, 'settings/set', { providers: [] }).catch((e: unknown) => e);
    expect(toBridgeError(empty).issues).toEqual([
      { field: 'providers', message: 'choose at least one provider' },
    ]);
  });

  it('a run started after settings/set gets the chosen providers and threads', async () => {
    const before = await createRun(ws.ctx, { spec: ws.spec({ maxSteps: 2, seed: 1 }) });
    expect((await ws.ctx.queue.wait(before.id)).status).toBe('completed');
    expect(workerEvent(before.id).threads).toBeNull();

    const view = await setSettings(ws.ctx, { providers: ['cpu'], threads: 1, concurrency: { cpu: 2 } });
    expect(view.stored).toEqual({ providers: ['cpu'], threads: 1, concurrency: { cpu: 2 } });
    expect(view.effective).toEqual({ providers: ['cpu'], device: 'cpu', threads: 1, concurrency: 2 });

    const after = await createRun(ws.ctx, { spec: ws.spec({ maxSteps: 2, seed: 2 }) });
    expect((await ws.ctx.queue.wait(after.id)).status).toBe('completed');
    expect(workerEvent(after.id)).toEqual({ device: 'cpu', providers: ['cpu'], threads: 1 });
    // The provider that really loaded the model, as the worker recorded it.
    expect(requireRun(ws.ctx.workspace.db, after.id).executionProvider).toBe('cpu');
    const details = await getRun(ws.ctx, { id: after.id });
    expect(details.run.executionProvider).toBe('cpu');
    expect((await getSettings(ws.ctx, {})).lastRun).toMatchObject({
      runId: after.id,
      provider: 'cpu',
      status: 'completed',
    });
  });

  it('persists in the workspace: the next context on the folder starts from it', async () => {
    const next = createAppContext({ dataDir: ws.dataDir });
    try {
      expect(next.queue.config).toEqual({ providers: ['cpu'], threads: 1, concurrency: { cpu: 2 } });
      const view = await getSettings(next, {});
      expect(view.stored).toEqual({ providers: ['cpu'], threads: 1, concurrency: { cpu: 2 } });
      expect(view.effective.threads).toBe(1);
      expect((await systemInfo(next, {})).providers.preferred).toEqual(['cpu']);
    } finally {
      await next.close();
    }
  });

  it('a startup option overrides the stored value for its session until settings/set changes it', async () => {
    const next = createAppContext({ dataDir: ws.dataDir, threads: 3 });
    try {
      let view = await getSettings(next, {});
      expect(view.overrides).toEqual(['threads']);
      expect(view.effective.threads).toBe(3);
      expect(view.stored.threads).toBe(1);
      view = await setSettings(next, { threads: 2 });
      expect(view.overrides).toEqual([]);
      expect(view.effective.threads).toBe(2);
      // null puts a field back to automatic and removes it from the store.
      view = await setSettings(next, { threads: null, concurrency: null });
      expect(view.stored).toEqual({ providers: ['cpu'], threads: null, concurrency: null });
      expect(view.effective).toMatchObject({ threads: null, concurrency: 1 });
    } finally {
      await next.close();
    }
  });

  it('a stored value this build cannot honour counts as automatic and is reported', async () => {
    writeSettingRows(ws.ctx.workspace.db, { providers: ['dml', 'cpu'], threads: 'many' });
    const { settings, ignored } = loadSettings(ws.ctx.workspace.db, new Set(['cpu']));
    expect(settings.providers).toBeNull();
    expect(settings.threads).toBeNull();
    expect(ignored.map((i) => i.field).sort()).toEqual(['providers.0', 'threads']);
    const next = createAppContext({ dataDir: ws.dataDir });
    try {
      expect(next.queue.config.providers).toEqual((await getSettings(next, {})).automatic.providers);
    } finally {
      await next.close();
    }
    writeSettingRows(ws.ctx.workspace.db, { providers: null, threads: null });
  });

  it('system/info reports the measured throughput of completed runs by provider, model and mode', async () => {
    const info = await systemInfo(ws.ctx, {});
    const head = info.throughput.find((t) => t.provider === 'cpu' && t.mode === 'head');
    expect(head).toBeDefined();
    expect(head!.modelId).toBe(ws.modelId);
    expect(head!.estimator).toBe('lr');
    expect(head!.runs).toBe(2);
    // Pooled over the two runs: total forward rows over total training wall time, from the store.
    const rows = ws.ctx.workspace.db
      .prepare(
        `SELECT sum(m.forward_rows) AS rows, sum(m.queries) AS queries, sum(m.wall_ms) AS ms FROM metrics m
         JOIN runs r ON r.id = m.run_id WHERE r.status = 'completed'
           AND m.step = (SELECT max(step) FROM metrics WHERE run_id = m.run_id)`,
      )
      .get() as { rows: number; queries: number; ms: number };
    expect(head!.rowsPerSecond).toBeCloseTo((rows.rows / rows.ms) * 1000, 6);
    expect(head!.queriesPerSecond).toBeCloseTo((rows.queries / rows.ms) * 1000, 6);
    expect(head!.rowsPerSecond).toBeGreaterThan(head!.queriesPerSecond);
  });
});

describe('bad input', () => {
  const rows = () =>
    ws.ctx.workspace.db.prepare('SELECT key, value FROM settings ORDER BY key').all() as {
      key: string;
      value: string;
    }[];
  const refused = async (args: unknown) => {
    const before = rows();
    const config = structuredClone(ws.ctx.queue.config);
    const error = await invokeHandler(ws.ctx, 'settings/set', args).catch((e: unknown) => e);
    // Nothing stored, nothing applied to the queue.
    expect(rows()).toEqual(before);
    expect(ws.ctx.queue.config).toEqual(config);
    return toBridgeError(error);
  };

  it('settings/set: threads 0, 10^4 and 1.5 are named on threads', async () => {
    for (const threads of [0, 10_000, 1.5, -1, '4']) {
      const data = await refused({ threads });
      expect(data.code).toBe('ARGS_INVALID');
      expect(data.issues?.map((i) => i.field)).toEqual(['threads']);
    }
    expect((await refused({ threads: 10_000 })).issues?.[0]?.message).toMatch(/256/);
  });

  it('settings/set: a provider not available, listed twice, or not a list; a bad concurrency; unknown keys', async () => {
    // A provider the engine knows that this build lacks (coreml off macOS, dml off Windows).
    const absent = PROVIDER_NAMES.find((p) => !availableProviderNames().has(p))!;
    const missing = await refused({ providers: [absent, 'cpu'] });
    expect(missing.issues).toEqual([
      {
        field: 'providers.0',
        message: expect.stringMatching(
          new RegExp(`^${absent} is not available in this build \\(available: .*cpu`),
        ) as unknown as string,
      },
    ]);
    expect((await refused({ providers: ['cpu', 'cpu'] })).issues).toEqual([
      { field: 'providers.1', message: 'cpu is listed twice' },
    ]);
    expect((await refused({ providers: 'cpu' })).issues?.map((i) => i.field)).toEqual(['providers']);
    expect((await refused({ providers: ['tpu'] })).issues?.map((i) => i.field)).toEqual(['providers.0']);
    expect((await refused({ concurrency: { cpu: 0 } })).issues?.map((i) => i.field)).toEqual([
      'concurrency.cpu',
    ]);
    expect((await refused({ concurrency: [2] })).issues?.map((i) => i.field)).toEqual(['concurrency']);
    const unknown = await refused({ threads: 2, theme: 'dark', dataDir: '/x' });
    expect(unknown.issues).toEqual([
      { field: '(root)', message: expect.stringMatching(/theme.*dataDir/) as unknown as string },
    ]);
    expect((await refused('cpu')).issues?.map((i) => i.field)).toEqual(['(root)']);
  });

  it('settings/get: a row corrupted by hand (invalid JSON) still answers, as automatic, reported in ignored', async () => {
    const db = ws.ctx.workspace.db;
    await setSettings(ws.ctx, { threads: 2, concurrency: { cpu: 2 } });
    // The table's CHECK (json_valid) stops an ordinary UPDATE; a hand edit that ignores it gets through.
    expect(() =>
      db.prepare(`UPDATE settings SET value = '{"cpu": 2' WHERE key = 'concurrency'`).run(),
    ).toThrow(/CHECK constraint/);
    db.pragma('ignore_check_constraints = ON');
    try {
      db.prepare(`UPDATE settings SET value = '{"cpu": 2' WHERE key = 'concurrency'`).run();
    } finally {
      db.pragma('ignore_check_constraints = OFF');
    }
    const view = await getSettings(ws.ctx, {});
    expect(view.stored).toEqual({ providers: null, threads: 2, concurrency: null });
    expect(view.ignored).toEqual([
      { field: 'concurrency', message: expect.stringMatching(/^not valid JSON/) as unknown as string },
    ]);
    // The next session opens the workspace (createAppContext reads the settings) rather than failing to start.
    const next = createAppContext({ dataDir: ws.dataDir });
    try {
      expect(next.queue.config).toMatchObject({ threads: 2, concurrency: {} });
    } finally {
      await next.close();
    }
    // settings/set repairs it: the bad row is overwritten or removed.
    const repaired = await setSettings(ws.ctx, { threads: null, concurrency: null });
    expect(repaired.ignored).toEqual([]);
    expect(rows()).toEqual([]);
  });
});
