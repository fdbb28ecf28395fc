// The query-efficiency study as CI runs it: the real `npm run study -- --quick` entry point on a fresh data
// folder (head mode, n̄ = 10, one seed, SPSA and LR, all four allocators). The report must have every table and
// every configuration row, valid PNG figures of sensible size and a results.json with every field; the runs must
// be in the store tagged 'study'. The report is then rebuilt from results.json (no training) and reduced to the
// four bench fields.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { openDb } from '../../../app/db/open.ts';
import { listRuns } from '../../../app/db/runs.ts';
import { studyBenchFields } from '../../../app/study/study-bench.ts';
import { rebuildReport, type StudyResultsFile } from '../../../app/study/study.ts';

const root = join(import.meta.dirname, '../../..');
const dataDir = mkdtempSync(join(tmpdir(), 'flops-study-'));
const out = join(dataDir, 'report');
const ALLOCATORS = ['uniform', 'FLOPS', 'Neyman', 'Bernoulli'];
const PLOTS = [
  'accuracy-vs-queries.png',
  'variance-ratio.png',
  'queries-ratio.png',
  'allocation-vs-loss.png',
];

let printed: { outDir: string; report: string; results: string; plots: string[] };
let report: string;
let results: StudyResultsFile;
let seconds: number;

beforeAll(async () => {
  const started = performance.now();
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['--import', 'tsx', 'app/study/main.ts', '--quick', '--json', '--data-dir', dataDir, '--out', out],
    { cwd: root, maxBuffer: 16 << 20 },
  );
  seconds = (performance.now() - started) / 1000;
  printed = JSON.parse(stdout) as typeof printed;
  report = readFileSync(printed.report, 'utf8');
  results = JSON.parse(readFileSync(printed.results, 'utf8')) as StudyResultsFile;
}, 240_000);

afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

/** The rows of the markdown table that follows `heading` (header and separator excluded). */
function tableAfter(markdown: string, heading: string): string[][] {
  const start = markdown.indexOf(heading);
  expect(start, `heading "${heading}"`).toBeGreaterThanOrEqual(0);
  const lines = markdown.slice(start).split('\n');
  const first = lines.findIndex((l) => l.startsWith('|'));
  const rows: string[][] = [];
  for (const line of lines.slice(first + 2)) {
    if (!line.startsWith('|')) break;
    rows.push(
      line
        .slice(1, -1)
        .split('|')
        .map((c) => c.trim()),
    );
  }
  return rows;
}

/** Width and height from a PNG's IHDR chunk, after checking the signature. */
function pngSize(path: string): { width: number; height: number } {
  const bytes = readFileSync(path);
  expect(bytes.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))).toBe(
    true,
  );
  expect(bytes.subarray(12, 16).toString('latin1')).toBe('IHDR');
  return { width: bytes.readUInt32BE(16), height: bytes.readUInt32BE(20) };
}

describe('npm run study -- --quick', () => {
  it('finishes well inside the CI budget', () => {
    expect(printed.outDir).toBe(out);
    expect(seconds).toBeLessThan(120);
  });

  it('writes report.md with the headline, every table and every configuration row', () => {
    for (const heading of [
      '## Headline: FLOPS against uniform',
      '### Where FLOPS beats uniform, and where it does not',
      '## Setup',
      '## (a) Gradient-estimate variance at the same budget',
      '## (b) Queries to target, (c) final accuracy at a fixed query budget, (d) wall time',
      '## Figures',
    ]) {
      expect(report).toContain(heading);
    }
    const headline = tableAfter(report, '## Headline');
    expect(headline.map((r) => `${r[0]} ${r[1]}`)).toEqual(['head · SPSA 10', 'head · LR 10']);
    for (const panel of ['head · SPSA', 'head · LR']) {
      const variance = tableAfter(report.slice(report.indexOf('## (a)')), `### ${panel}`);
      expect(variance.map((r) => r[1]!.replace(/[*_]/g, ''))).toEqual([...ALLOCATORS, 'oracle Neyman']);
      for (const row of variance) expect(row[4]).toMatch(/^\d+\.\d{3}$/); // ratio to uniform
      const training = tableAfter(report.slice(report.indexOf('## (b)')), `### ${panel}`);
      expect(training.map((r) => r[1]!.replace(/[*_]/g, ''))).toEqual(ALLOCATORS);
      for (const row of training) {
        expect(row[0]).toBe('10');
        expect(Number(row[4])).toBeGreaterThan(30); // final accuracy, %, well above chance (20%)
      }
    }
    expect(report).toMatch(/FLOPS lower than uniform on every seed: /);
    for (const png of PLOTS) expect(report).toContain(`](${png})`);
  });

  it('renders every figure as a valid PNG of sensible size', () => {
    expect(printed.plots.map((p) => p.slice(out.length + 1)).sort()).toEqual([...PLOTS].sort());
    for (const png of PLOTS) {
      const { width, height } = pngSize(join(out, png));
      expect(width).toBeGreaterThanOrEqual(800);
      expect(width).toBeLessThanOrEqual(6000);
      expect(height).toBeGreaterThanOrEqual(400);
      expect(height).toBeLessThanOrEqual(6000);
    }
  });

  it('writes results.json with every number', () => {
    expect(results.meta.machine.cpus).toBeGreaterThan(0);
    expect(results.meta.dataset.evalSplit).toBe('test');
    expect(results.options).toMatchObject({ quick: true, budgets: [10], seeds: [0], modes: ['head'] });
    expect(results.runs).toHaveLength(8);
    for (const run of results.runs) {
      expect(run.status).toBe('completed');
      expect(run.mode).toBe('head');
      expect(run.queries).toBe(run.estimator === 'spsa' ? 100 * 640 : 100 * 320);
      expect(run.finalAccuracy).toBeGreaterThan(0.3);
      expect(run.curve.length).toBeGreaterThan(10);
      expect(run.curve[0]).toMatchObject({ step: 0, queries: 0 });
      expect(typeof run.reached).toBe('boolean');
      expect(run.wallMs).toBeGreaterThan(0);
    }
    expect(results.targets.map((t) => t.estimator).sort()).toEqual(['lr', 'spsa']);
    for (const t of results.targets) expect(t.target).toBeCloseTo(0.95 * t.best, 12);
    expect(results.cells).toHaveLength(8);
    expect(results.variance.filter((v) => v.line === 'oracle')).toHaveLength(2);
    expect(results.varianceMeasurements).toHaveLength(2);
    for (const g of results.varianceMeasurements) {
      expect(g.result.exact).toBe(true);
      expect(g.result.snapshots.length).toBeGreaterThanOrEqual(2);
      expect(g.result.ratio.uniform).toBe(1);
      expect(g.result.ratio.flops).toBeGreaterThan(0);
    }
    expect(results.comparisons.filter((c) => c.allocator === 'flops')).toHaveLength(2);
    expect(results.statements.length).toBeGreaterThanOrEqual(9);
    expect(results.allocations.length).toBe(2 * 4 * 20 * 32); // 2 estimators × 4 allocators × 20 steps × B
  });

  it('stores the runs so the desktop app can open them, tagged study', () => {
    const db = openDb(join(dataDir, 'flops.db'), { readonly: true });
    try {
      const runs = listRuns(db, { tag: 'study' });
      expect(runs.map((r) => r.id).sort((a, b) => a - b)).toEqual(
        results.runs.map((r) => r.runId).sort((a, b) => a - b),
      );
      expect(runs.every((r) => r.status === 'completed' && r.tags.includes(results.meta.tag))).toBe(true);
    } finally {
      db.close();
    }
  });

  it('rebuilds the same report from results.json and yields the bench fields', async () => {
    const rebuilt = await rebuildReport(printed.results, join(dataDir, 'rebuilt'));
    expect(readFileSync(rebuilt.reportPath, 'utf8')).toBe(report);
    for (const png of PLOTS) expect(existsSync(join(dataDir, 'rebuilt', png))).toBe(true);
    const fields = studyBenchFields(rebuilt);
    expect(Object.keys(fields).sort()).toEqual([
      'study.queries_to_target_ratio.lr',
      'study.queries_to_target_ratio.spsa',
      'study.variance_ratio.lr',
      'study.variance_ratio.spsa',
    ]);
    for (const v of Object.values(fields)) {
      expect(Number.isFinite(v)).toBe(true);
      expect(v).toBeGreaterThan(0);
    }
    const spsa = results.varianceMeasurements.find((g) => g.estimator === 'spsa')!;
    expect(fields['study.variance_ratio.spsa']).toBeCloseTo(spsa.result.ratio.flops!, 12);
  });
});
