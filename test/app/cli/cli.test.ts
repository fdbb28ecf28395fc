// The `flops` binary end to end, as a user runs it: `node bin/flops.js ...` on a fresh data folder. Real SQLite
// file, real ONNX Runtime, real worker threads; nothing of ours is mocked.
import { spawn } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { BUNDLED_DATASET_DIR } from '../../../app/bundled.ts';
import { flopsCli, root } from './helpers.ts';

const dataDir = mkdtempSync(join(tmpdir(), 'flops-cli-'));
const images = mkdtempSync(join(tmpdir(), 'flops-images-'));
afterAll(() => {
  rmSync(dataDir, { recursive: true, force: true });
  rmSync(images, { recursive: true, force: true });
});

const { flops, flopsJson } = flopsCli(dataDir);

interface TrainResult {
  run: { id: number; status: string; name: string; datasetVersionId: string; modelId: number };
  stats: {
    steps: number;
    queries: number;
    forwardRows: number;
    evalAccuracy: number;
    initialAccuracy: number;
  };
}

// A small folder of real images: 3 classes x 12 PNGs taken from the bundled Fashion-MNIST subset.
beforeAll(() => {
  for (const cls of ['Bag', 'Sandal', 'Sneaker']) {
    const from = join(BUNDLED_DATASET_DIR, 'train', cls);
    const to = join(images, cls);
    mkdirSync(to);
    for (const f of readdirSync(from).sort().slice(0, 12)) cpSync(join(from, f), join(to, f));
  }
});

describe('flops CLI', () => {
  let datasetId = '';
  let first: TrainResult;
  let second: TrainResult;

  it('imports a folder of images', async () => {
    const r = await flopsJson<{
      dataset: { id: string; count: number; classes: string[] };
      summary: { imported: number };
    }>('datasets', 'import', images, '--name', 'three-classes');
    expect(r.dataset.count).toBe(36);
    expect(r.dataset.classes).toEqual(['Bag', 'Sandal', 'Sneaker']);
    datasetId = r.dataset.id;
    const list = await flops('datasets', 'list');
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/three-classes/);
  });

  it('trains with --json at a tiny budget, twice, on the bundled model', async () => {
    const common = [
      '--dataset',
      datasetId,
      '--preset',
      'head-lr',
      '--eval-split',
      'val',
      '--batch-size',
      '8',
    ];
    common.push('--budget', '4', '--epochs', '2', '--seed', '3');
    // Both runs in one go each; the second differs only in the allocator.
    first = await flopsJson<TrainResult>('train', ...common, '--tag', 'cli');
    second = await flopsJson<TrainResult>(
      'train',
      ...common,
      '--allocator',
      'uniform',
      '--name',
      'uniform twin',
    );
    for (const r of [first, second]) {
      expect(r.run.status).toBe('completed');
      expect(r.run.datasetVersionId).toBe(datasetId);
      // 36 images, 10% val and test -> 28 or so training images: 3 steps of 8 per epoch.
      expect(r.stats.steps).toBe(6);
      expect(r.stats.queries).toBe(6 * 8 * 4);
    }
    expect(second.run.name).toBe('uniform twin');
  });

  it('lists, shows, compares and exports runs', async () => {
    const [list, table, show, compare, csv, doc] = await Promise.all([
      flopsJson<{ id: number; tags: string[] }[]>('runs', 'list'),
      flops('runs', 'list', '--tag', 'cli'),
      flopsJson<{ run: { id: number }; evaluations: { step: number }[] }>(
        'runs',
        'show',
        String(first.run.id),
      ),
      flopsJson<{ runs: { id: number; allocator: string }[]; diff: { key: string; values: unknown[] }[] }>(
        'runs',
        'compare',
        String(first.run.id),
        String(second.run.id),
      ),
      flops('runs', 'export', String(first.run.id), '--csv'),
      flopsJson<{ format: string; metrics: { rows: unknown[] } }>('runs', 'export', String(first.run.id)),
    ]);
    expect(list.map((r) => r.id).sort()).toEqual([first.run.id, second.run.id].sort());
    expect(table.stdout.split('\n')[0]).toMatch(/id\s+name\s+status/);
    expect(table.stdout).toMatch(new RegExp(`^\\s*${first.run.id}\\s+head-lr`, 'm'));
    expect(table.stdout).not.toMatch(/uniform twin/);
    expect(show.evaluations.map((e) => e.step)).toContain(0);
    expect(compare.runs.map((r) => r.allocator)).toEqual(['flops', 'uniform']);
    expect(compare.diff.map((d) => d.key)).toContain('train.allocator.kind');
    const lines = csv.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^step,/);
    expect(lines).toHaveLength(7);
    expect(doc.format).toBe('flops-workbench/run');
    expect(doc.metrics.rows).toHaveLength(6);
  });

  it('exports the trained model as ONNX and as an HF folder', async () => {
    const file = join(dataDir, 'exports', 'first.onnx');
    const onnx = await flopsJson<{ path: string; format: string; bytes: number; sha256: string }>(
      'runs',
      'export-model',
      String(first.run.id),
      '--format',
      'onnx',
      '--out',
      file,
    );
    expect(onnx).toMatchObject({ path: file, format: 'onnx', bytes: statSync(file).size });
    expect(onnx.sha256).toMatch(/^[0-9a-f]{64}$/);
    const dir = join(dataDir, 'exports', 'first-hf');
    const hf = await flops('runs', 'export-model', String(first.run.id), '--format', 'hf', '--out', dir);
    expect(hf.code).toBe(0);
    expect(hf.stdout).toMatch(/^wrote .*first-hf \(hf, /);
    expect(readdirSync(dir).sort()).toEqual(['config.json', 'model.safetensors', 'preprocessor_config.json']);
    const bad = await flops('runs', 'export-model', String(first.run.id), '--format', 'tflite', '--out', dir);
    expect(bad.code).toBe(2);
  });

  it('names every bad field of an invalid config and exits 1', async () => {
    const r = await flops('train', '--lr', '-1', '--batch-size', '0', '--eps', '0', '--eval-split', 'test');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: invalid run config/);
    expect(r.stderr).toMatch(/train\.optimizer\.lr/);
    expect(r.stderr).toMatch(/train\.batchSize/);
    expect(r.stderr).toMatch(/train\.spsaEps/);
    const json = await flops('--json', 'train', '--lr', '-1', '--batch-size', '0');
    expect(json.code).toBe(1);
    const body = JSON.parse(json.stdout) as { error: { code: string; issues: { field: string }[] } };
    expect(body.error.code).toBe('CONFIG_INVALID');
    expect(body.error.issues.map((i) => i.field).sort()).toEqual(['train.batchSize', 'train.optimizer.lr']);
  });

  it('exits 2 on usage errors and 1 on a missing run; deletes runs', async () => {
    const [unknown, notNumber, missing, serve] = await Promise.all([
      flops('runs', 'list', '--bogus'),
      flops('train', '--lr', 'fast'),
      flops('runs', 'show', '999'),
      flops('serve', '--host', '0.0.0.0'),
    ]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/error: unknown option '--bogus'/);
    expect(notNumber.code).toBe(2);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/error: run 999 does not exist/);
    expect(serve.code).toBe(2);
    expect(serve.stderr).toMatch(/127\.0\.0\.1 only/);

    const del = await flops('runs', 'delete', String(second.run.id));
    expect(del.code).toBe(0);
    const list = await flopsJson<{ id: number }[]>('runs', 'list');
    expect(list.map((r) => r.id)).toEqual([first.run.id]);
  });

  it('serve applies the stored concurrency unless --concurrency is given, and only for that session', async () => {
    /** Starts `flops serve --json`, asks for something, stops it with SIGTERM. */
    const withServer = async <T>(flags: string[], use: (call: Call) => Promise<T>): Promise<T> => {
      const child = spawn(
        process.execPath,
        ['bin/flops.js', '--data-dir', dataDir, '--json', 'serve', ...flags],
        {
          cwd: root,
          stdio: ['ignore', 'pipe', 'inherit'],
        },
      );
      try {
        const line = await new Promise<string>((resolve, reject) => {
          let text = '';
          child.stdout.on('data', (chunk: Buffer) => {
            text += chunk.toString();
            if (text.includes('\n')) resolve(text.split('\n')[0]!);
          });
          child.once('exit', (code) => reject(new Error(`flops serve exited with ${code}`)));
        });
        const { port, token } = JSON.parse(line) as { port: number; token: string };
        return await use(async (name, body) => {
          const res = await fetch(`http://127.0.0.1:${port}/api/${name}`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
            body: JSON.stringify(body),
          });
          return ((await res.json()) as { result: unknown }).result;
        });
      } finally {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
    };
    type View = { effective: { concurrency: number }; overrides: string[] };
    const set = await withServer([], (call) => call('settings/set', { concurrency: { cpu: 2 } }));
    expect((set as View).effective.concurrency).toBe(2);
    const stored = (await withServer([], (call) => call('settings/get', {}))) as View;
    expect(stored).toMatchObject({ effective: { concurrency: 2 }, overrides: [] });
    const flagged = (await withServer(['--concurrency', '3'], (call) => call('settings/get', {}))) as View;
    expect(flagged).toMatchObject({ effective: { concurrency: 3 }, overrides: ['concurrency'] });
    await withServer([], (call) => call('settings/set', { concurrency: null }));
  });
});

type Call = (name: string, body: unknown) => Promise<unknown>;
