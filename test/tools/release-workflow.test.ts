// The release workflow cannot run offline, so it is linted: it must parse as YAML and have the shape GitHub
// Actions requires (the essentials of the workflow schema: on, jobs, runs-on, steps each with exactly one of uses
// or run, known keys, needs that exist, matrix values that every include defines), and it must do what issue 8
// asks: build on Windows, macOS and Linux runners, check, package, smoke-test each installed app, upload.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseDocument } from 'yaml';

type Step = Record<string, unknown>;
type Job = Record<string, unknown> & { steps?: Step[] };

const WORKFLOW_KEYS = ['name', 'run-name', 'on', 'permissions', 'env', 'defaults', 'concurrency', 'jobs'];
const JOB_KEYS = [
  'name',
  'needs',
  'runs-on',
  'permissions',
  'environment',
  'concurrency',
  'outputs',
  'env',
  'defaults',
  'if',
  'steps',
  'timeout-minutes',
  'strategy',
  'continue-on-error',
  'container',
  'services',
  'uses',
  'with',
  'secrets',
];
const STEP_KEYS = [
  'id',
  'if',
  'name',
  'uses',
  'run',
  'shell',
  'with',
  'env',
  'continue-on-error',
  'timeout-minutes',
  'working-directory',
];
const EVENTS = ['push', 'pull_request', 'workflow_dispatch', 'release', 'schedule', 'workflow_call'];

/** Structural problems per the GitHub Actions workflow schema essentials; [] when none. */
function lintWorkflow(text: string): string[] {
  const problems: string[] = [];
  const doc = parseDocument(text, { uniqueKeys: true });
  if (doc.errors.length > 0) return doc.errors.map((e) => `YAML: ${e.message}`);
  const wf = doc.toJS() as Record<string, unknown> | null;
  if (!wf || typeof wf !== 'object') return ['the workflow is not a mapping'];
  for (const key of Object.keys(wf))
    if (!WORKFLOW_KEYS.includes(key)) problems.push(`unknown top-level key '${key}'`);
  const on = wf.on;
  if (on === undefined) problems.push("missing 'on'");
  else {
    const events = typeof on === 'string' ? [on] : Array.isArray(on) ? on : Object.keys(on as object);
    for (const e of events)
      if (!EVENTS.includes(String(e))) problems.push(`unexpected trigger '${String(e)}'`);
  }
  const jobs = wf.jobs as Record<string, Job> | undefined;
  if (!jobs || typeof jobs !== 'object' || Object.keys(jobs).length === 0)
    return [...problems, "missing 'jobs'"];
  for (const [id, job] of Object.entries(jobs)) {
    if (!/^[A-Za-z_][A-Za-z0-9_-]*$/.test(id)) problems.push(`job id '${id}' is not valid`);
    for (const key of Object.keys(job))
      if (!JOB_KEYS.includes(key)) problems.push(`${id}: unknown key '${key}'`);
    if (job['runs-on'] === undefined) problems.push(`${id}: missing 'runs-on'`);
    for (const need of [job.needs ?? []].flat() as string[]) {
      if (!(need in jobs)) problems.push(`${id}: needs unknown job '${need}'`);
    }
    if (!Array.isArray(job.steps) || job.steps.length === 0) {
      problems.push(`${id}: missing 'steps'`);
      continue;
    }
    const include = ((job.strategy as { matrix?: { include?: Record<string, unknown>[] } } | undefined)
      ?.matrix?.include ?? []) as Record<string, unknown>[];
    const used = new Set([...JSON.stringify(job).matchAll(/matrix\.([A-Za-z_][\w-]*)/g)].map((m) => m[1]!));
    for (const key of used) {
      include.forEach((entry, i) => {
        if (!(key in entry))
          problems.push(`${id}: matrix.${key} is used but include[${i}] does not define it`);
      });
    }
    job.steps.forEach((step, i) => {
      const where = `${id}.steps[${i}]${step.name ? ` (${String(step.name)})` : ''}`;
      for (const key of Object.keys(step))
        if (!STEP_KEYS.includes(key)) problems.push(`${where}: unknown key '${key}'`);
      const hasUses = typeof step.uses === 'string';
      const hasRun = typeof step.run === 'string';
      if (hasUses === hasRun) problems.push(`${where}: needs exactly one of 'uses' or 'run'`);
      if (hasUses && !/^([\w.-]+\/[\w./-]+@[\w.-]+|\.\/.+|docker:\/\/.+)$/.test(step.uses as string)) {
        problems.push(`${where}: 'uses' must be owner/repo@ref, ./path or docker://image`);
      }
      if (hasRun && (step.run as string).trim() === '') problems.push(`${where}: empty 'run'`);
      if (step.with !== undefined && !hasUses) problems.push(`${where}: 'with' without 'uses'`);
      if (step.shell !== undefined && !hasRun) problems.push(`${where}: 'shell' without 'run'`);
    });
  }
  const opens = (text.match(/\$\{\{/g) ?? []).length;
  const closes = (text.match(/\}\}/g) ?? []).length;
  if (opens !== closes) problems.push(`unbalanced \${{ }} expressions (${opens} opened, ${closes} closed)`);
  return problems;
}

const text = readFileSync('.github/workflows/release.yml', 'utf8');
const wf = parseDocument(text).toJS() as { on: Record<string, unknown>; jobs: Record<string, Job> };

describe('.github/workflows/release.yml', () => {
  it('parses and has the structure GitHub Actions requires', () => {
    expect(lintWorkflow(text)).toEqual([]);
    // YAML 1.1 readers turn a bare `on` into `true`; GitHub reads it as the key "on", as the yaml package does.
    expect(Object.keys(wf)).toContain('on');
  });

  it('builds on Windows, macOS and Linux runners, x64 and arm64', () => {
    const include = (wf.jobs.package!.strategy as { matrix: { include: Record<string, string>[] } }).matrix
      .include;
    expect(include.map((e) => e.id).sort()).toEqual(['linux-x64', 'mac-arm64', 'win-arm64', 'win-x64']);
    expect(include.map((e) => e.runner)).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^ubuntu/),
        expect.stringMatching(/^windows/),
        expect.stringMatching(/^macos/),
      ]),
    );
  });

  it('installs, builds, makes the Electron SQLite binary, checks, packages, smoke-tests and uploads', () => {
    const runs = wf.jobs.package!.steps!.map((s) => String(s.run ?? s.uses));
    const order = [
      /npm ci/,
      /npm run build:main/,
      /build-electron-sqlite\.ts --arch/,
      /dist:check -- --release/,
      /electron-builder --config electron-builder\.yml/,
      /xvfb-run -a npx vitest run test\/e2e\/electron\.test\.ts/,
      /Start-Process .* '\/S'/s,
      /hdiutil attach/,
      /actions\/upload-artifact@v4/,
    ];
    let at = -1;
    for (const re of order) {
      const i = runs.findIndex((r, j) => j > at && re.test(r));
      expect(i, String(re)).toBeGreaterThan(at);
      at = i;
    }
    expect(runs.filter((r) => r.includes('FLOPS_E2E_EXECUTABLE')).length).toBe(3);
  });

  it('ships no CUDA provider and never publishes', () => {
    expect((wf as { env?: Record<string, string> }).env?.ONNXRUNTIME_NODE_INSTALL).toBe('skip');
    expect(text).toMatch(/--publish never/);
  });
});

describe('the workflow lint', () => {
  it('catches what would break a workflow', () => {
    expect(lintWorkflow('name: x\njobs: {}\n')).toEqual(["missing 'on'", "missing 'jobs'"]);
    expect(lintWorkflow('on: push\njobs:\n  a:\n    steps:\n      - run: x\n')).toEqual([
      "a: missing 'runs-on'",
    ]);
    const both = lintWorkflow(
      'on: push\njobs:\n  a:\n    runs-on: x\n    steps:\n      - run: x\n        uses: a/b@v1\n',
    );
    expect(both).toEqual(["a.steps[0]: needs exactly one of 'uses' or 'run'"]);
    expect(
      lintWorkflow(
        'on: push\njobs:\n  a:\n    runs-on: x\n    needs: b\n    steps:\n      - uses: checkout\n',
      ),
    ).toEqual([
      "a: needs unknown job 'b'",
      "a.steps[0]: 'uses' must be owner/repo@ref, ./path or docker://image",
    ]);
    expect(lintWorkflow('on: push\njobs:\n  a:\n    runs-on: x\n    step:\n      - run: x\n')[0]).toMatch(
      /unknown key 'step'/,
    );
    expect(lintWorkflow('on: [push\n')[0]).toMatch(/^YAML:/);
    expect(
      lintWorkflow(
        'on: push\njobs:\n  a:\n    runs-on: ${{ matrix.os }}\n    strategy:\n      matrix:\n        include:\n          - arch: x\n    steps:\n      - run: x\n',
      ),
    ).toEqual(['a: matrix.os is used but include[0] does not define it']);
  });
});
