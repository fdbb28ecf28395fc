// The `flops train` (and `flops sweep`) flags: one per RunSpec / TrainConfig field, plus --config and --preset.
// Flags only parse types; the run-spec schema validates values, so a bad value is reported with every other bad
// field (exit 1) rather than one at a time as a usage error.
import { readFile } from 'node:fs/promises';

import { InvalidArgumentError, Option, type Command } from 'commander';

import { FlopsError } from '../../engine/errors.ts';
import { applyPreset, mergeSpec, PRESET_NAMES } from '../use-cases/presets.ts';

export function number(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || Number.isNaN(n)) throw new InvalidArgumentError('not a number');
  return n;
}

export function numberList(value: string): number[] {
  return value.split(',').map((v) => number(v));
}

/** `min:max`, e.g. `1e-4:1e-1` (a random sweep's range); the sweep schema checks min <= max. */
export function numberRange(value: string): { min: number; max: number } {
  const parts = value.split(':');
  if (parts.length !== 2) throw new InvalidArgumentError('expected min:max, e.g. 1e-4:1e-1');
  return { min: number(parts[0]!), max: number(parts[1]!) };
}

export function stringList(value: string): string[] {
  return value
    .split(',')
    .map((v) => v.trim())
    .filter((v) => v.length > 0);
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** Adds the spec flags to a command (train and sweep share them). */
export function addSpecOptions(cmd: Command): Command {
  return (
    cmd
      .option('--config <file>', 'a JSON run spec (or {"train": {...}}); flags override it')
      .addOption(new Option('--preset <name>', 'start from a known-good preset').choices(PRESET_NAMES))
      .option('--name <name>', 'run name')
      .option('--model <id|name>', 'model (default: the bundled tiny ViT, registered on first use)')
      .option(
        '--dataset <id|name>',
        'dataset version id, id prefix or name (default: the bundled demo dataset)',
      )
      // trainable mode
      .addOption(
        new Option('--mode <kind>', 'what is trained').choices([
          'head',
          'bitfit',
          'lora',
          'vpt',
          'last-k',
          'full',
          'onnx',
        ]),
      )
      .option(
        '--trainable <list>',
        'onnx mode: initializers to train (default: the output layer), comma-separated; lr trains the output layer only',
        stringList,
      )
      .option('--lora-rank <n>', 'LoRA rank', number)
      .option('--lora-alpha <x>', 'LoRA alpha (scale = alpha / rank)', number)
      .option('--lora-targets <list>', 'LoRA projections, e.g. q,v', stringList)
      .option('--lora-last-k <n>', 'LoRA on the last k blocks only', number)
      .option('--prompts <n>', 'VPT prompt tokens', number)
      .option('--last-k <n>', 'last-k mode: blocks trained', number)
      .addOption(
        new Option(
          '--eval-split <split>',
          'evaluation split (default: val, or test when the dataset has no val samples)',
        ).choices(['val', 'test']),
      )
      .option('--k-shot <n>', 'train on k examples per class', number)
      .option('--tag <tag>', 'tag the run (repeatable)', collect)
      .option('--notes <text>', 'free-text notes')
      // training config
      .option('--seed <n>', 'every random draw derives from it', number)
      .addOption(
        new Option(
          '--estimator <kind>',
          'gradient estimator (lr: every ViT mode but full, the output layer only in onnx mode)',
        ).choices(['spsa', 'lr', 'es']),
      )
      .addOption(
        new Option('--allocator <kind>', 'query allocator').choices([
          'uniform',
          'flops',
          'neyman',
          'bernoulli',
        ]),
      )
      .option('--allocator-lr <x>', 'FLOPS: step size of the allocator parameters', number)
      .option('--warmup-steps <n>', 'FLOPS: uniform steps before allocating', number)
      .option('--neyman-decay <x>', 'Neyman: EMA decay of per-sample variances', number)
      .option('--budget <n>', 'estimator queries per sample per step (n̄)', number)
      .option('--n-min <n>', 'queries per sample at least', number)
      .option('--n-max <n>', 'queries per sample at most', number)
      .option('--batch-size <n>', 'samples per step', number)
      .option('--epochs <n>', 'passes over the training split', number)
      .option('--max-steps <n>', 'stop after this many steps', number)
      .addOption(new Option('--optimizer <kind>', 'optimizer').choices(['adam', 'sgd']))
      .option('--lr <x>', 'learning rate', number)
      .option('--beta1 <x>', 'Adam beta1', number)
      .option('--beta2 <x>', 'Adam beta2', number)
      .option('--adam-eps <x>', 'Adam epsilon', number)
      .option('--momentum <x>', 'SGD momentum', number)
      .option('--weight-decay <x>', 'weight decay', number)
      .addOption(
        new Option('--schedule <kind>', 'learning-rate schedule').choices(['constant', 'step', 'cosine']),
      )
      .option('--schedule-every <n>', 'step schedule: decay every n steps', number)
      .option('--schedule-gamma <x>', 'step schedule: decay factor', number)
      .option('--schedule-warmup <n>', 'cosine schedule: warmup steps', number)
      .option('--eps <x>', 'SPSA/ES perturbation scale (spsaEps)', number)
      .addOption(
        new Option('--directions <kind>', 'SPSA/ES directions').choices(['gaussian', 'rademacher', 'table']),
      )
      .option('--sigma <x>', 'LR noise scale at the target outputs (lrSigma)', number)
      .option('--clip-norm <x>', 'clip the gradient estimate to this global norm', number)
      .option('--eval-every <n>', 'evaluate every n steps', number)
      .option('--checkpoint-every <n>', 'checkpoint every n steps', number)
  );
}

export interface SpecFlags {
  config?: string;
  preset?: (typeof PRESET_NAMES)[number];
  name?: string;
  model?: string;
  dataset?: string;
  mode?: string;
  loraRank?: number;
  loraAlpha?: number;
  loraTargets?: string[];
  loraLastK?: number;
  prompts?: number;
  lastK?: number;
  trainable?: string[];
  evalSplit?: string;
  kShot?: number;
  tag?: string[];
  notes?: string;
  seed?: number;
  estimator?: string;
  allocator?: string;
  allocatorLr?: number;
  warmupSteps?: number;
  neymanDecay?: number;
  budget?: number;
  nMin?: number;
  nMax?: number;
  batchSize?: number;
  epochs?: number;
  maxSteps?: number;
  optimizer?: string;
  lr?: number;
  beta1?: number;
  beta2?: number;
  adamEps?: number;
  momentum?: number;
  weightDecay?: number;
  schedule?: string;
  scheduleEvery?: number;
  scheduleGamma?: number;
  scheduleWarmup?: number;
  eps?: number;
  directions?: string;
  sigma?: number;
  clipNorm?: number;
  evalEvery?: number;
  checkpointEvery?: number;
}

/** Drops undefined values so a merge never overwrites a preset's or config file's field with nothing. */
function defined(o: Record<string, unknown>): Record<string, unknown> | undefined {
  const out = Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
  return Object.keys(out).length > 0 ? out : undefined;
}

/** The spec fields the flags set (model and dataset are resolved by the caller). */
export function specFromFlags(f: SpecFlags): Record<string, unknown> {
  const mode = defined({
    // --trainable names ONNX initializers, so it implies the onnx mode (over a preset's 'head').
    kind: f.mode ?? (f.trainable ? 'onnx' : undefined),
    rank: f.loraRank,
    alpha: f.loraAlpha,
    targets: f.loraTargets,
    lastK: f.loraLastK,
    prompts: f.prompts,
    k: f.lastK,
    trainable: f.trainable,
  });
  const train = defined({
    seed: f.seed,
    estimator: f.estimator,
    allocator: defined({
      kind: f.allocator,
      lr: f.allocatorLr,
      warmupSteps: f.warmupSteps,
      decay: f.neymanDecay,
    }),
    budgetPerSample: f.budget,
    nMin: f.nMin,
    nMax: f.nMax,
    batchSize: f.batchSize,
    epochs: f.epochs,
    maxSteps: f.maxSteps,
    optimizer: defined({
      kind: f.optimizer,
      lr: f.lr,
      beta1: f.beta1,
      beta2: f.beta2,
      eps: f.adamEps,
      momentum: f.momentum,
      weightDecay: f.weightDecay,
    }),
    schedule: defined({
      kind: f.schedule,
      everySteps: f.scheduleEvery,
      gamma: f.scheduleGamma,
      warmupSteps: f.scheduleWarmup,
    }),
    spsaEps: f.eps,
    directions: f.directions,
    lrSigma: f.sigma,
    clipNorm: f.clipNorm,
    evalEverySteps: f.evalEvery,
    checkpointEverySteps: f.checkpointEvery,
  });
  return (
    defined({
      name: f.name,
      mode,
      evalSplit: f.evalSplit,
      kShot: f.kShot,
      tags: f.tag,
      notes: f.notes,
      train,
    }) ?? {}
  );
}

/**
 * A tagged union given only by its fields (`--lr 0.01` without `--optimizer`) gets the kind those fields imply, once
 * the preset and config file are merged in, so a lone flag is checked for its value rather than refused for the
 * missing tag.
 */
function fillKinds(spec: Record<string, unknown>): void {
  const train = spec.train as Record<string, Record<string, unknown> | undefined> | undefined;
  if (!train) return;
  const infer = (key: string, kind: (o: Record<string, unknown>) => string): void => {
    const o = train[key];
    if (o && typeof o === 'object' && o.kind === undefined) o.kind = kind(o);
  };
  infer('optimizer', (o) => (o.momentum !== undefined ? 'sgd' : 'adam'));
  infer('allocator', (o) => (o.decay !== undefined ? 'neyman' : 'flops'));
  infer('schedule', (o) => (o.warmupSteps !== undefined ? 'cosine' : 'step'));
}

/** The preset, then the --config file over it, then the flags over both. */
export async function specInput(f: SpecFlags): Promise<Record<string, unknown>> {
  let fromFile: unknown = {};
  if (f.config) {
    try {
      fromFile = JSON.parse(await readFile(f.config, 'utf8'));
    } catch (error) {
      throw new FlopsError('CONFIG_FILE', `${f.config}: ${(error as Error).message}`);
    }
    if (typeof fromFile !== 'object' || fromFile === null || Array.isArray(fromFile)) {
      throw new FlopsError('CONFIG_FILE', `${f.config}: expected a JSON object`);
    }
  }
  const spec = applyPreset(f.preset, mergeSpec(fromFile, specFromFlags(f))) as Record<string, unknown>;
  fillKinds(spec);
  return spec;
}
