// `npm run study`: the query-efficiency study on the bundled model and dataset (or stored ones given by id). Runs
// land in the store tagged 'study'; the report (report.md, results.json, PNG figures) goes to --out or
// <data dir>/study-<timestamp>/. --quick is the CI-sized version: head mode, n̄ = 10, one seed, short runs.
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';

import { defaultDataDir } from '../data-dir.ts';
import {
  ALLOCATORS,
  ESTIMATORS,
  MODES,
  type StudyAllocator,
  type StudyEstimator,
  type StudyModeName,
} from './options.ts';
import { rebuildReport, runStudy } from './study.ts';

const USAGE = `usage: npm run study -- [--quick] [--data-dir DIR] [--out DIR] [--model ID] [--dataset VERSION_ID]
                        [--modes head,lora] [--estimators spsa,lr] [--budgets 2,5,10,20]
                        [--allocators uniform,flops,neyman,bernoulli] [--seeds 0,1,2] [--json]
       npm run study -- --from <results.json> [--out DIR]   (re-render a finished study's report)`;

function list<T extends string>(
  value: string | undefined,
  allowed: readonly T[],
  name: string,
): T[] | undefined {
  if (value === undefined) return undefined;
  const items = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const bad = items.filter((i) => !allowed.includes(i as T));
  if (bad.length > 0)
    throw new RangeError(`--${name}: unknown ${bad.join(', ')} (one of ${allowed.join(', ')})`);
  return items as T[];
}

function numbers(value: string | undefined, name: string): number[] | undefined {
  if (value === undefined) return undefined;
  const xs = value.split(',').map((s) => Number(s.trim()));
  if (xs.some((x) => !Number.isInteger(x) || x < 0))
    throw new RangeError(`--${name}: expected integers, got ${value}`);
  return xs;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
      'data-dir': { type: 'string' },
      out: { type: 'string' },
      model: { type: 'string' },
      dataset: { type: 'string' },
      modes: { type: 'string' },
      estimators: { type: 'string' },
      budgets: { type: 'string' },
      allocators: { type: 'string' },
      seeds: { type: 'string' },
      from: { type: 'string' },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  if (values.from !== undefined) {
    // Re-render the report of a finished study (no training): --from <results.json> [--out DIR].
    const out = values.out ?? dirname(values.from);
    const rebuilt = await rebuildReport(values.from, out);
    console.log(`report: ${rebuilt.reportPath}`);
    return;
  }
  const modelId = values.model === undefined ? undefined : Number(values.model);
  if (modelId !== undefined && !(Number.isInteger(modelId) && modelId > 0))
    throw new RangeError(`--model: expected a model id, got ${values.model}`);
  const result = await runStudy({
    dataDir: values['data-dir'] ?? defaultDataDir(),
    out: values.out,
    quick: values.quick,
    modelId,
    datasetVersionId: values.dataset,
    modes: list<StudyModeName>(values.modes, MODES, 'modes'),
    estimators: list<StudyEstimator>(values.estimators, ESTIMATORS, 'estimators'),
    allocators: list<StudyAllocator>(values.allocators, ALLOCATORS, 'allocators'),
    budgets: numbers(values.budgets, 'budgets'),
    seeds: numbers(values.seeds, 'seeds'),
    log: values.json ? (line) => console.error(line) : (line) => console.log(line),
  });
  if (values.json) {
    console.log(
      JSON.stringify(
        {
          outDir: result.outDir,
          report: result.reportPath,
          results: result.resultsPath,
          plots: result.plots,
        },
        null,
        2,
      ),
    );
  } else {
    console.log('');
    for (const s of result.summary.statements) console.log(`- ${s}`);
    console.log(`\nreport: ${result.reportPath}`);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((error: unknown) => {
    console.error(error instanceof Error ? `${error.name}: ${error.message}` : error);
    process.exit(1);
  });
}
