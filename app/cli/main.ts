// The `flops` command line: the same use cases the desktop app calls, over a terminal. Global --data-dir picks the
// workspace, --json prints exactly one JSON document on stdout (progress and notes go to stderr). Errors print
// `error: <message>` (every bad field for an invalid config) and exit 1; usage errors exit 2.
import { writeFile } from 'node:fs/promises';

import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';

import { InvalidConfigError } from '../../engine/config.ts';
import { FlopsError } from '../../engine/errors.ts';
import type { ContextOptions, OwnedContext } from '../context.ts';
import type { HandlerArgs, HandlerName, HandlerResult } from '../contract.ts';
import { defaultDataDir } from '../data-dir.ts';
import type { Run } from '../db/runs.ts';
import { RUN_SORTS, RUN_STATUSES } from '../db/runs.ts';
import type { RunStop } from '../runs/queue.ts';
import type { RunSummary } from '../use-cases/runs.ts';
import { NotFoundError } from '../use-cases/validate.ts';
import type { DemoResult } from './demo.ts';
import { followRun } from './follow.ts';
import { date, int, json, keyValues, num, pct, seconds, shortId, table } from './format.ts';
import {
  addSpecOptions,
  number,
  numberList,
  numberRange,
  specInput,
  stringList,
  type SpecFlags,
} from './train-options.ts';

interface GlobalFlags {
  dataDir?: string;
  json?: boolean;
}

/**
 * The app layer loads on first use, so --help and usage errors answer without loading ONNX Runtime, SQLite and
 * the engine (about half a second per command on a busy 2-core machine).
 */
function importApp() {
  return Promise.all([
    import('../context.ts'),
    import('../use-cases/index.ts'),
    import('../use-cases/datasets.ts'),
    import('../use-cases/models.ts'),
  ]).then(([context, index, datasets, models]) => ({
    createAppContext: context.createAppContext,
    invokeHandler: index.invokeHandler,
    toBridgeError: index.toBridgeError,
    resolveDatasetVersion: datasets.resolveDatasetVersion,
    getModelOrThrow: models.getModelOrThrow,
  }));
}
let appModules: ReturnType<typeof importApp> | undefined;
const loadApp = (): ReturnType<typeof importApp> => (appModules ??= importApp());

/** A usage error we detect after parsing (exit 2, like commander's own). */
class UsageError extends Error {}

function out(text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}

function note(text: string, g: GlobalFlags): void {
  // Notes never pollute the one JSON document on stdout.
  if (g.json) process.stderr.write(`${text}\n`);
  else out(text);
}

/** Opens the workspace for one command and closes it (pausing anything still training) whatever happens. */
async function withContext<T>(
  g: GlobalFlags,
  fn: (ctx: OwnedContext) => Promise<T>,
  extra: Partial<ContextOptions> = {},
): Promise<T> {
  const { createAppContext } = await loadApp();
  const ctx = createAppContext({ dataDir: g.dataDir ?? defaultDataDir(), ...extra });
  try {
    return await fn(ctx);
  } finally {
    await ctx.close();
  }
}

async function call<K extends HandlerName>(
  ctx: OwnedContext,
  name: K,
  args: HandlerArgs<K>,
): Promise<HandlerResult<K>> {
  const { invokeHandler } = await loadApp();
  return (await invokeHandler(ctx, name, args)) as HandlerResult<K>;
}

async function resolveModelId(ctx: OwnedContext, ref: string | undefined): Promise<number> {
  if (ref === undefined) return (await call(ctx, 'system/bundled', {})).model.id;
  if (/^\d+$/.test(ref)) return (await loadApp()).getModelOrThrow(ctx, Number(ref)).id;
  const models = await call(ctx, 'model/list', {});
  const match = models.filter((m) => m.name === ref);
  if (match.length === 0) throw new NotFoundError('model', ref);
  return (match.at(-1) as (typeof match)[number]).id;
}

async function resolveDatasetId(ctx: OwnedContext, ref: string | undefined): Promise<string> {
  if (ref === undefined) return (await call(ctx, 'system/bundled', {})).dataset.id;
  return (await loadApp()).resolveDatasetVersion(ctx, ref).id;
}

async function buildSpec(ctx: OwnedContext, f: SpecFlags): Promise<Record<string, unknown>> {
  const spec = await specInput(f);
  // A --config file may name them; flags win; the bundled defaults fill in the rest (registered on first use).
  if (f.model !== undefined || spec.modelId === undefined) spec.modelId = await resolveModelId(ctx, f.model);
  if (f.dataset !== undefined || spec.datasetVersionId === undefined) {
    spec.datasetVersionId = await resolveDatasetId(ctx, f.dataset);
  }
  return spec;
}

function statsRow(r: RunSummary): string[] {
  return [
    String(r.id),
    r.name,
    r.status,
    int(r.stats.steps),
    int(r.stats.queries),
    num(r.stats.lastLoss),
    pct(r.stats.evalAccuracy),
    r.tags.join(','),
    date(r.createdAt),
  ];
}

async function runResult(ctx: OwnedContext, runId: number, stop: RunStop) {
  const details = await call(ctx, 'run/get', { id: runId, events: 0 });
  return { run: details.run, stop, stats: details.stats };
}

function printRunResult(r: Awaited<ReturnType<typeof runResult>>): void {
  const s = r.stats;
  out(
    keyValues([
      ['run', `${r.run.id}  ${r.run.name}`],
      ['status', r.run.status + (r.run.error ? ` (${r.run.error})` : '')],
      ['steps', int(s.steps)],
      ['queries', int(s.queries)],
      ['forward rows', int(s.forwardRows)],
      ['eval accuracy', `${pct(s.evalAccuracy)} (untrained ${pct(s.initialAccuracy)})`],
      ['eval loss', num(s.evalLoss)],
      ['time', seconds(r.stop.outcome?.wallMs ?? s.elapsedMs)],
      ['provider', r.run.executionProvider ?? '-'],
    ]),
  );
  if (r.run.status === 'paused' || r.run.status === 'interrupted') {
    out(`\ncontinue with: flops runs resume ${r.run.id}`);
  } else {
    out(`\ndetails: flops runs show ${r.run.id}`);
  }
}

function exitCodeFor(run: Run): number {
  return run.status === 'completed' ? 0 : run.status === 'paused' ? 130 : 1;
}

async function trainAndFollow(ctx: OwnedContext, g: GlobalFlags, run: Run): Promise<number> {
  note(`run ${run.id}: ${run.name} (queued)`, g);
  const stop = await followRun(ctx, run.id, { quiet: g.json === true });
  const result = await runResult(ctx, run.id, stop);
  if (g.json) out(json(result));
  else printRunResult(result);
  return exitCodeFor(result.run);
}

export function buildProgram(): Command {
  const program = new Command();
  let exitCode = 0;
  const g = (): GlobalFlags => program.opts<GlobalFlags>();

  program
    .name('flops')
    .description('Fine-tune Vision Transformers with forward passes only (FLOPS query allocation).')
    .option('--data-dir <dir>', 'workspace folder (default: $FLOPS_DATA_DIR or the platform data folder)')
    .option('--json', 'print one JSON document instead of tables')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();

  program
    .command('demo')
    .description('fine-tune the bundled model with FLOPS and with uniform allocation, and compare')
    .option('--epochs <n>', 'passes over the training split', number, 10)
    .option('--budget <n>', 'queries per sample per step', number, 10)
    .addOption(new Option('--estimator <kind>', 'estimator').choices(['lr', 'spsa']).default('lr'))
    .option('--seed <n>', 'seed', number, 0)
    .action(async (o: { epochs: number; budget: number; estimator: 'lr' | 'spsa'; seed: number }) => {
      // The demo module loads the importer (sharp) eagerly; only this command needs it.
      const { formatDemo, runDemo } = await import('./demo.ts');
      const result: DemoResult = await runDemo({
        dataDir: g().dataDir ?? defaultDataDir(),
        epochs: o.epochs,
        budgetPerSample: o.budget,
        estimator: o.estimator,
        seed: o.seed,
        ...(g().json ? {} : { log: (line: string) => out(line) }),
      });
      out(g().json ? json(result) : formatDemo(result));
    });

  // datasets
  const datasets = program.command('datasets').description('import and inspect datasets');
  datasets
    .command('import <path>')
    .description(
      'import an image folder (class folders, optionally under train/val/test), a CSV manifest or IDX files',
    )
    .option('--name <name>', 'dataset name (default: the folder or file name)')
    .option('--csv', 'the path is a CSV manifest (path,label[,split])')
    .option('--idx', 'the path is an IDX images file (MNIST format)')
    .option('--labels <file>', 'IDX: the labels file (default: the matching *-labels-idx1-ubyte)')
    .option('--test-images <file>', 'IDX: a test images file')
    .option('--test-labels <file>', 'IDX: its labels file')
    .option('--class-names <list>', 'IDX: class names by label value, comma-separated', stringList)
    .option('--root <dir>', 'CSV: folder relative paths resolve against')
    .option('--model <id>', 'preprocess for this model (default: the bundled model, 28x28 grey)', number)
    .option('--val <fraction>', 'validation fraction', number)
    .option('--test <fraction>', 'test fraction', number)
    .option('--split-seed <n>', 'split seed', number)
    .action(async (path: string, o: Record<string, unknown>) => {
      if (o.csv && o.idx) throw new UsageError('--csv and --idx exclude each other');
      await withContext(g(), async (ctx) => {
        const interactive = !g().json && process.stderr.isTTY === true;
        const off = ctx.events.on('dataset/import-progress', (p) => {
          if (interactive) process.stderr.write(`\rimporting ${p.done}/${p.total}`);
        });
        const split =
          o.val !== undefined || o.test !== undefined || o.splitSeed !== undefined
            ? {
                ...(o.val !== undefined ? { val: o.val as number } : {}),
                ...(o.test !== undefined ? { test: o.test as number } : {}),
                ...(o.splitSeed !== undefined ? { seed: o.splitSeed as number } : {}),
              }
            : undefined;
        try {
          const r = await call(ctx, 'dataset/import', {
            path,
            ...(o.csv ? { format: 'csv' as const } : o.idx ? { format: 'idx' as const } : {}),
            ...(o.name ? { name: o.name as string } : {}),
            ...(o.labels ? { labels: o.labels as string } : {}),
            ...(o.testImages ? { testImages: o.testImages as string } : {}),
            ...(o.testLabels ? { testLabels: o.testLabels as string } : {}),
            ...(o.classNames ? { classNames: o.classNames as string[] } : {}),
            ...(o.root ? { root: o.root as string } : {}),
            ...(o.model !== undefined ? { modelId: o.model as number } : {}),
            ...(split ? { split } : {}),
          });
          if (interactive) process.stderr.write('\n');
          if (g().json) return out(json(r));
          const d = r.dataset;
          const counts = (d.splitCounts as { counts?: Record<string, number> }).counts ?? {};
          out(
            keyValues([
              ['dataset', `${d.name}  ${d.id}`],
              ['images', `${int(r.summary.imported)} imported, ${int(r.summary.skipped)} skipped`],
              ['classes', `${d.classes.length}: ${d.classes.join(', ')}`],
              [
                'splits',
                Object.entries(counts)
                  .map(([k, v]) => `${k} ${v}`)
                  .join(', '),
              ],
              ['size', `${d.width}x${d.height}x${d.channels}`],
              ['time', seconds(r.summary.elapsedMs)],
            ]),
          );
          const skipped = Object.entries(r.summary.skippedByCode);
          if (skipped.length > 0) out(`skipped: ${skipped.map(([k, v]) => `${v} ${k}`).join(', ')}`);
        } finally {
          off();
        }
      });
    });
  datasets
    .command('list')
    .description('stored dataset versions, newest first')
    .action(() =>
      withContext(g(), async (ctx) => {
        const list = await call(ctx, 'dataset/list', {});
        if (g().json) return out(json(list));
        if (list.length === 0) return out('no datasets yet: flops datasets import <folder>');
        out(
          table(
            ['id', 'name', 'images', 'classes', 'size', 'splits', 'created'],
            list.map((d) => {
              const counts = (d.splitCounts as { counts?: Record<string, number> }).counts ?? {};
              return [
                shortId(d.id),
                d.name,
                int(d.count),
                String(d.classes.length),
                `${d.width}x${d.height}x${d.channels}`,
                Object.values(counts).join('/'),
                date(d.createdAt),
              ];
            }),
          ),
        );
      }),
    );
  datasets
    .command('show <id>')
    .description('one dataset version (id, id prefix or name)')
    .action((id: string) =>
      withContext(g(), async (ctx) => {
        const d = await call(ctx, 'dataset/get', { id });
        if (g().json) return out(json(d));
        const split = d.splitCounts as {
          counts?: Record<string, number>;
          perClass?: Record<string, number[]>;
        };
        out(
          keyValues([
            ['id', d.id],
            ['name', d.name],
            ['source', `${d.sourceKind} ${d.sourcePath}`],
            ['images', int(d.count)],
            ['size', `${d.width}x${d.height}x${d.channels}`],
            ['cache', d.cachePath ?? '-'],
            ['created', date(d.createdAt)],
          ]),
        );
        const splits = Object.keys(split.counts ?? {});
        out('');
        out(
          table(
            ['class', ...splits],
            d.classes.map((c, i) => [c, ...splits.map((s) => String(split.perClass?.[s]?.[i] ?? 0))]),
          ),
        );
      }),
    );
  datasets
    .command('split <id>')
    .description('a new version of the same images with another stratified split (no decoding)')
    .option('--val <x>', 'fraction of every class for validation (default 0.1)', number)
    .option('--test <x>', 'fraction of every class for test (default 0.1)', number)
    .option('--seed <n>', 'split seed (default 0)', number)
    .option('--keep-test', "keep the version's test images; re-draw val from the others")
    .option('--name <name>', "dataset name of the new version (default: the version's)")
    .action(
      (id: string, o: { val?: number; test?: number; seed?: number; keepTest?: boolean; name?: string }) =>
        withContext(g(), async (ctx) => {
          const d = await call(ctx, 'dataset/split', {
            id,
            ...(o.val !== undefined ? { val: o.val } : {}),
            ...(o.test !== undefined ? { test: o.test } : {}),
            ...(o.seed !== undefined ? { seed: o.seed } : {}),
            ...(o.keepTest ? { keepTest: true } : {}),
            ...(o.name ? { name: o.name } : {}),
          });
          if (g().json) return out(json(d));
          const counts = (d.splitCounts as { counts?: Record<string, number> }).counts ?? {};
          out(
            keyValues([
              ['dataset', `${d.name}  ${d.id}`],
              ['from', String((d.source as { resplitOf?: string }).resplitOf ?? '-')],
              [
                'splits',
                Object.entries(counts)
                  .map(([k, v]) => `${k} ${v}`)
                  .join(', '),
              ],
            ]),
          );
        }),
    );

  // models
  const models = program.command('models').description('register and inspect models');
  models
    .command('import <path>')
    .description('register a Hugging Face ViT/DeiT folder (config.json + model.safetensors) or an .onnx file')
    .option('--name <name>', 'model name (default: the folder or file name)')
    .action((path: string, o: { name?: string }) =>
      withContext(g(), async (ctx) => {
        const m = await call(ctx, 'model/import', { path, ...(o.name ? { name: o.name } : {}) });
        if (g().json) return out(json(m));
        out(
          `model ${m.id}: ${m.name} (${m.kind}, ${int((m.paramCounts as { total?: number }).total)} parameters)`,
        );
      }),
    );
  models
    .command('list')
    .description('registered models')
    .action(() =>
      withContext(g(), async (ctx) => {
        const list = await call(ctx, 'model/list', {});
        if (g().json) return out(json(list));
        if (list.length === 0)
          return out('no models yet: flops models import <folder> (train uses the bundled one)');
        out(
          table(
            ['id', 'name', 'kind', 'parameters', 'path'],
            list.map((m) => [
              String(m.id),
              m.name,
              m.kind,
              int((m.paramCounts as { total?: number }).total),
              m.path,
            ]),
          ),
        );
      }),
    );
  models
    .command('modes <id>')
    .description('trainable parameters per mode')
    .option('--classes <n>', 'classes of the new head', number)
    .action((id: string, o: { classes?: number }) =>
      withContext(g(), async (ctx) => {
        const r = await call(ctx, 'model/modes', {
          id: await resolveModelId(ctx, id),
          ...(o.classes !== undefined ? { numClasses: o.classes } : {}),
        });
        if (g().json) return out(json(r));
        out(`model ${r.modelId}: ${int(r.total)} parameters, head of ${r.numClasses} classes`);
        out(
          table(
            ['mode', 'trainable', 'share'],
            r.modes.map((m) => [
              m.mode.kind === 'lora' ? `lora r${m.mode.rank}` : m.mode.kind,
              int(m.trainable),
              pct(m.fraction),
            ]),
          ),
        );
      }),
    );

  // train
  addSpecOptions(program.command('train').description('create a run and train it, showing progress'))
    .option(
      '--threads <n>',
      'ONNX Runtime threads per run, overriding the stored setting for this command (default: the stored setting, else all cores)',
      number,
    )
    .action((f: SpecFlags & { threads?: number }) =>
      withContext(
        g(),
        async (ctx) => {
          const spec = await buildSpec(ctx, f);
          const run = await call(ctx, 'run/create', {
            spec,
            ...(f.preset ? { preset: f.preset } : {}),
          } as HandlerArgs<'run/create'>);
          exitCode = await trainAndFollow(ctx, g(), run);
        },
        f.threads !== undefined ? { threads: f.threads } : {},
      ),
    );

  // runs
  const runs = program.command('runs').description('list, inspect, compare, export and continue runs');
  runs
    .command('list')
    .description('runs, newest first')
    .option('--status <list>', `filter by status (${RUN_STATUSES.join(', ')})`, stringList)
    .option('--tag <tag>', 'only runs with this tag')
    .option('--text <text>', 'search names, notes and tags')
    .addOption(new Option('--sort <key>', 'sort key').choices(Object.keys(RUN_SORTS)))
    .option('--asc', 'ascending order')
    .option('--limit <n>', 'at most n runs', number)
    .action(
      (o: { status?: string[]; tag?: string; text?: string; sort?: string; asc?: boolean; limit?: number }) =>
        withContext(g(), async (ctx) => {
          const list = await call(ctx, 'run/list', {
            ...(o.status ? { status: o.status } : {}),
            ...(o.tag ? { tag: o.tag } : {}),
            ...(o.text ? { text: o.text } : {}),
            ...(o.sort ? { sort: o.sort } : {}),
            ...(o.asc ? { order: 'asc' } : {}),
            ...(o.limit !== undefined ? { limit: o.limit } : {}),
          } as HandlerArgs<'run/list'>);
          if (g().json) return out(json(list));
          if (list.length === 0) return out('no runs');
          out(
            table(
              ['id', 'name', 'status', 'steps', 'queries', 'loss', 'eval acc', 'tags', 'created'],
              list.map(statsRow),
            ),
          );
        }),
    );
  runs
    .command('show <id>')
    .description('one run: status, numbers, config, evaluations, recent events')
    .action((id: string) =>
      withContext(g(), async (ctx) => {
        const d = await call(ctx, 'run/get', { id: runIdArg(id), events: 10 });
        if (g().json) return out(json(d));
        const r = d.run;
        const cfg = (r.resolvedConfig ?? {}) as { mode?: { kind?: string }; train?: Record<string, unknown> };
        out(
          keyValues([
            ['run', `${r.id}  ${r.name}`],
            ['status', r.status + (r.error ? ` (${r.error})` : '')],
            ['model', d.model ? `${d.model.id} ${d.model.name}` : '-'],
            ['dataset', d.dataset ? `${d.dataset.name} ${shortId(d.dataset.id)}` : '-'],
            ['mode', cfg.mode?.kind ?? '-'],
            ['steps', int(d.stats.steps)],
            ['queries', int(d.stats.queries)],
            ['forward rows', int(d.stats.forwardRows)],
            [
              'eval accuracy',
              `${pct(d.stats.evalAccuracy)} (best ${pct(d.stats.bestEvalAccuracy)}, untrained ${pct(d.stats.initialAccuracy)})`,
            ],
            ['mean var. est.', num(d.stats.meanVarianceEstimate)],
            ['provider', r.executionProvider ?? '-'],
            ['created', date(r.createdAt)],
            ['finished', date(r.finishedAt)],
            ['tags', r.tags.join(', ') || '-'],
            ['notes', r.notes || '-'],
            ['checkpoints', d.checkpoints.map((c) => String(c.step)).join(', ') || '-'],
          ]),
        );
        out('\ntrain config');
        out(keyValues(Object.entries(flatten(cfg.train ?? {})).map(([k, v]) => [k, JSON.stringify(v)])));
        if (d.evaluations.length > 0) {
          out('');
          out(
            table(
              ['step', 'split', 'loss', 'accuracy'],
              d.evaluations.map((e) => [String(e.step), e.split, num(e.loss), pct(e.accuracy)]),
            ),
          );
        }
        if (d.events.length > 0) {
          out('\nrecent events');
          for (const e of d.events)
            out(`${date(e.ts)}  ${e.level.padEnd(5)}  ${e.kind}  ${JSON.stringify(e.message)}`);
        }
      }),
    );
  runs
    .command('compare <ids...>')
    .description('runs side by side, and the config keys that differ')
    .action((ids: string[]) =>
      withContext(g(), async (ctx) => {
        const c = await call(ctx, 'run/compare', { ids: ids.map(runIdArg) });
        if (g().json) return out(json(c));
        out(compareTable(c));
      }),
    );
  runs
    .command('export <id>')
    .description('the run as one JSON document (default) or its metrics as CSV')
    .option('--csv', 'metrics as CSV')
    .addOption(
      new Option('--checkpoints <which>', 'JSON: include checkpoints').choices(['none', 'latest', 'all']),
    )
    .option('--out <file>', 'write to a file instead of stdout')
    .action((id: string, o: { csv?: boolean; checkpoints?: 'none' | 'latest' | 'all'; out?: string }) =>
      withContext(g(), async (ctx) => {
        const r = await call(ctx, 'run/export', {
          id: runIdArg(id),
          format: o.csv ? 'csv' : 'json',
          ...(o.checkpoints ? { checkpoints: o.checkpoints } : {}),
        });
        if (o.out) {
          await writeFile(o.out, r.text);
          if (g().json)
            out(json({ file: o.out, filename: r.filename, mimeType: r.mimeType, bytes: r.text.length }));
          else out(`wrote ${o.out}`);
        } else {
          out(r.text);
        }
      }),
    );
  runs
    .command('export-model <id>')
    .description("the run's trained model (latest checkpoint) as standalone ONNX or a Hugging Face folder")
    .addOption(
      new Option('--format <format>', 'onnx file or HF folder (runs on imported .onnx models: onnx only)')
        .choices(['onnx', 'hf'])
        .default('onnx'),
    )
    .requiredOption('--out <path>', 'the .onnx file (onnx) or the folder (hf) to write')
    .action((id: string, o: { format: 'onnx' | 'hf'; out: string }) =>
      withContext(g(), async (ctx) => {
        const r = await call(ctx, 'run/export-model', { runId: runIdArg(id), format: o.format, path: o.out });
        if (g().json) return out(json(r));
        out(`wrote ${r.path} (${r.format}, ${int(r.bytes)} bytes, step ${r.step}, sha256 ${r.sha256})`);
      }),
    );
  runs
    .command('resume <id>')
    .description('continue a paused or interrupted run from its last checkpoint')
    .action((id: string) =>
      withContext(g(), async (ctx) => {
        const run = await call(ctx, 'run/resume', { id: runIdArg(id) });
        exitCode = await trainAndFollow(ctx, g(), run);
      }),
    );
  runs
    .command('cancel <id>')
    .description('cancel a queued, paused or interrupted run')
    .action((id: string) =>
      withContext(g(), async (ctx) => {
        const run = await call(ctx, 'run/cancel', { id: runIdArg(id) });
        out(g().json ? json(run) : `run ${run.id}: ${run.status}`);
      }),
    );
  runs
    .command('delete <id>')
    .description('delete a run and everything recorded for it')
    .action((id: string) =>
      withContext(g(), async (ctx) => {
        const r = await call(ctx, 'run/delete', { id: runIdArg(id) });
        out(g().json ? json(r) : `run ${r.id} deleted`);
      }),
    );
  runs
    .command('tag <id> <tags...>')
    .description('add tags (prefix a tag with - to remove it)')
    .action((id: string, tags: string[]) =>
      withContext(g(), async (ctx) => {
        const run = await call(ctx, 'run/tag', {
          id: runIdArg(id),
          add: tags.filter((t) => !t.startsWith('-')),
          remove: tags.filter((t) => t.startsWith('-')).map((t) => t.slice(1)),
        });
        out(g().json ? json(run) : `run ${run.id}: ${run.tags.join(', ') || '(no tags)'}`);
      }),
    );
  runs
    .command('note <id> <text>')
    .description("replace a run's notes")
    .action((id: string, text: string) =>
      withContext(g(), async (ctx) => {
        const run = await call(ctx, 'run/note', { id: runIdArg(id), notes: text });
        out(g().json ? json(run) : `run ${run.id}: notes saved`);
      }),
    );

  // sweep
  addSpecOptions(
    program
      .command('sweep')
      .description(
        'a grid (or --random N trials) over lr, eps, budget, allocator and seed; runs queued one by one',
      ),
  )
    .option(
      '--lrs <list>',
      'learning rates, comma-separated (with --random: values to choose from)',
      numberList,
    )
    .option('--epss <list>', 'perturbation scales (spsaEps, or lrSigma for LR)', numberList)
    .option('--budgets <list>', 'queries per sample per step', numberList)
    .option('--allocators <list>', 'allocators (uniform, flops, neyman, bernoulli)', stringList)
    .option('--seeds <list>', 'seeds', numberList)
    .option('--random <n>', 'random search: n trials drawn from the ranges and lists (else a grid)', number)
    .option('--lr-range <min:max>', 'random: learning rate, log-uniform', numberRange)
    .option('--eps-range <min:max>', 'random: spsaEps (lrSigma for LR), log-uniform', numberRange)
    .option('--budget-range <min:max>', 'random: queries per sample, integer-uniform', numberRange)
    .option('--seed-range <min:max>', 'random: run seeds, integer-uniform', numberRange)
    .option('--sweep-seed <n>', 'random: the seed the trials are drawn with (default 0)', number)
    .option('--sweep-name <name>', 'names the runs and their sweep:<name> tag')
    .action(
      (
        f: SpecFlags & {
          lrs?: number[];
          epss?: number[];
          budgets?: number[];
          allocators?: string[];
          seeds?: number[];
          random?: number;
          lrRange?: { min: number; max: number };
          epsRange?: { min: number; max: number };
          budgetRange?: { min: number; max: number };
          seedRange?: { min: number; max: number };
          sweepSeed?: number;
          sweepName?: string;
        },
      ) =>
        withContext(g(), async (ctx) => {
          const ranges = { lrRange: f.lrRange, epsRange: f.epsRange, budgetRange: f.budgetRange };
          const rangeFlags = Object.entries({ ...ranges, seedRange: f.seedRange, sweepSeed: f.sweepSeed })
            .filter(([, v]) => v !== undefined)
            .map(([k]) => `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`);
          if (f.random === undefined && rangeFlags.length > 0) {
            throw new UsageError(`${rangeFlags.join(', ')} need --random <n>`);
          }
          const base = await buildSpec(ctx, f);
          const common = {
            base,
            ...(f.preset ? { preset: f.preset } : {}),
            ...(f.sweepName ? { name: f.sweepName } : {}),
          };
          // In a random sweep a list is a choice and a range wins over a list of the same dimension.
          const sweep = await call(
            ctx,
            'sweep/create',
            (f.random !== undefined
              ? {
                  ...common,
                  kind: 'random',
                  random: {
                    trials: f.random,
                    ...(f.sweepSeed !== undefined ? { sweepSeed: f.sweepSeed } : {}),
                    ...((f.lrRange ?? f.lrs) ? { lr: f.lrRange ?? f.lrs } : {}),
                    ...((f.epsRange ?? f.epss) ? { eps: f.epsRange ?? f.epss } : {}),
                    ...((f.budgetRange ?? f.budgets) ? { budget: f.budgetRange ?? f.budgets } : {}),
                    ...(f.allocators ? { allocator: f.allocators } : {}),
                    ...((f.seedRange ?? f.seeds) ? { seed: f.seedRange ?? f.seeds } : {}),
                  },
                }
              : {
                  ...common,
                  grid: {
                    ...(f.lrs ? { lr: f.lrs } : {}),
                    ...(f.epss ? { eps: f.epss } : {}),
                    ...(f.budgets ? { budget: f.budgets } : {}),
                    ...(f.allocators ? { allocator: f.allocators } : {}),
                    ...(f.seeds ? { seed: f.seeds } : {}),
                  },
                }) as HandlerArgs<'sweep/create'>,
          );
          note(`sweep ${sweep.name}: ${sweep.runs.length} runs, tag ${sweep.tag}`, g());
          for (const [i, run] of sweep.runs.entries()) {
            const stop = await followRun(ctx, run.id, {
              quiet: g().json === true,
              label: `${i + 1}/${sweep.runs.length} run ${run.id}`,
            });
            if (stop.status === 'paused') {
              // Ctrl-C: the sweep stops here. The paused run can be resumed; the ones not started are cancelled
              // rather than left queued, where the next `flops serve` would start them unasked.
              exitCode = 130;
              for (const rest of sweep.runs.slice(i + 1))
                await ctx.queue.cancel(rest.id).catch(() => undefined);
              break;
            }
            if (stop.status !== 'completed') exitCode = 1;
          }
          const comparison = await call(ctx, 'run/compare', { ids: sweep.runs.map((r) => r.id) });
          if (g().json)
            return out(
              json({
                sweep: { name: sweep.name, tag: sweep.tag, kind: sweep.kind, points: sweep.points },
                comparison,
              }),
            );
          out(compareTable(comparison));
        }),
    );

  // serve
  program
    .command('serve')
    .description('serve the UI and the API on 127.0.0.1 with a random token')
    .option('--port <n>', 'port (default: a free one)', number, 0)
    .option('--host <host>', 'only 127.0.0.1 is allowed', '127.0.0.1')
    .option(
      '--concurrency <n>',
      'runs training at once per device (default: the stored setting, else 1)',
      number,
    )
    .option('--renderer <dir>', 'built renderer folder (default: dist/renderer)')
    .action(async (o: { port: number; host: string; concurrency?: number; renderer?: string }) => {
      if (o.host !== '127.0.0.1')
        throw new UsageError(`flops serve binds 127.0.0.1 only (got --host ${o.host})`);
      const { startServer } = await import('../server/index.ts');
      const { createAppContext } = await loadApp();
      const ctx = createAppContext({
        dataDir: g().dataDir ?? defaultDataDir(),
        startQueued: true,
        // Only a given flag overrides the stored setting (settings/set) for this session.
        ...(o.concurrency !== undefined && {
          concurrency: { cpu: o.concurrency, cuda: o.concurrency, dml: o.concurrency, coreml: o.concurrency },
        }),
      });
      let server: Awaited<ReturnType<typeof startServer>>;
      try {
        server = await startServer(ctx, { port: o.port, ...(o.renderer ? { rendererDir: o.renderer } : {}) });
      } catch (error) {
        await ctx.close();
        throw error;
      }
      if (g().json) out(JSON.stringify({ url: server.url, port: server.port, token: server.token }));
      else out(`FLOPS Workbench is serving ${ctx.workspace.dataDir}\nopen ${server.url}\n(Ctrl-C to stop)`);
      await new Promise<void>((resolveStop) => {
        const stop = (): void => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          resolveStop();
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
      await server.close();
      await ctx.close();
    });

  // The exit code a command asks for (a failed or paused run) travels out through this hook.
  program.hook('postAction', () => {
    process.exitCode = exitCode;
  });
  return program;
}

function runIdArg(value: string): number {
  if (!/^\d+$/.test(value)) throw new UsageError(`'${value}' is not a run id`);
  return Number(value);
}

function flatten(
  o: Record<string, unknown>,
  prefix = '',
  acc: Record<string, unknown> = {},
): Record<string, unknown> {
  for (const [k, v] of Object.entries(o)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (typeof v === 'object' && v !== null && !Array.isArray(v))
      flatten(v as Record<string, unknown>, key, acc);
    else acc[key] = v;
  }
  return acc;
}

function compareTable(c: HandlerResult<'run/compare'>): string {
  const main = table(
    [
      'id',
      'status',
      'mode',
      'estimator',
      'allocator',
      'budget',
      'lr',
      'eps',
      'seed',
      'steps',
      'queries',
      'eval acc',
      'best',
      'mean var',
      'time',
    ],
    c.runs.map((r) => [
      String(r.id),
      r.status,
      r.mode ?? '-',
      r.estimator ?? '-',
      r.allocator ?? '-',
      int(r.budgetPerSample),
      num(r.lr),
      num(r.eps),
      String(r.seed),
      int(r.steps),
      int(r.queries),
      pct(r.evalAccuracy),
      pct(r.bestEvalAccuracy),
      num(r.meanVarianceEstimate),
      seconds(r.elapsedMs),
    ]),
  );
  if (c.diff.length === 0) return `${main}\n\nconfigs: identical`;
  const diff = table(
    ['config key', ...c.runs.map((r) => `run ${r.id}`)],
    c.diff.map((d) => [d.key, ...d.values.map((v) => (v === null ? '-' : JSON.stringify(v)))]),
    ['left', ...c.runs.map(() => 'left' as const)],
  );
  return `${main}\n\n${diff}`;
}

/** Runs the CLI; resolves to the process exit code. */
export async function main(argv: string[] = process.argv): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Commander printed its message already; help and version are not errors.
      if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version') return 0;
      if (error.code === 'commander.help' || error.code === 'commander.executeSubCommandAsync') return 0;
      return error.exitCode === 0 ? 0 : 2;
    }
    const jsonMode = program.opts<GlobalFlags>().json === true;
    if (error instanceof UsageError || error instanceof InvalidArgumentError) {
      process.stderr.write(`error: ${error.message}\n`);
      return 2;
    }
    if (jsonMode) {
      const { toBridgeError } = await loadApp();
      process.stdout.write(`${json({ error: toBridgeError(error) })}\n`);
    }
    process.stderr.write(`error: ${errorMessage(error)}\n`);
    return 1;
  }
}

function errorMessage(error: unknown): string {
  if (error instanceof InvalidConfigError) {
    return `invalid run config:\n${error.issues.map((i) => `  - ${i.message}`).join('\n')}`;
  }
  if (error instanceof FlopsError) return error.message;
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}

if (import.meta.url === `file://${process.argv[1]}` || process.env.FLOPS_CLI_MAIN === '1') {
  process.exitCode = await main();
}
