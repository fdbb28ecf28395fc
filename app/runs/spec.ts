// The app-level run specification: which model, which dataset version, which trainable mode, and the engine's
// training config. Validated with zod at every boundary (CLI flags, IPC, HTTP); every bad field is named.
import { z } from 'zod';

import { InvalidConfigError, resolveTrainConfig, type ResolvedTrainConfig } from '../../engine/config.ts';
import { ConfigError } from '../../engine/errors.ts';
import type { TrainMode } from '../../engine/models/vit/index.ts';

const loraTarget = z.enum(['q', 'k', 'v', 'o']);

export const trainModeSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('head') }),
  z.object({ kind: z.literal('bitfit') }),
  z.object({
    kind: z.literal('lora'),
    rank: z.number().int().positive().default(4),
    alpha: z.number().positive().default(8),
    targets: z.array(loraTarget).nonempty().optional(),
    lastK: z.number().int().positive().optional(),
  }),
  z.object({ kind: z.literal('vpt'), prompts: z.number().int().positive().default(4) }),
  z.object({ kind: z.literal('last-k'), k: z.number().int().positive().default(1) }),
  z.object({ kind: z.literal('full') }),
]) satisfies z.ZodType<TrainMode>;

/**
 * What an imported ONNX classifier trains: the named float initializers (any of them with SPSA/ES), by default the
 * weight and bias of the linear layer that writes the logits (the head case, where LR also applies). A ViT run's
 * {kind: 'head'} means that same default on an ONNX model.
 */
export const onnxModeSchema = z.object({
  kind: z.literal('onnx'),
  /** Initializer names, in θ order; default: the output layer's weight (and bias). */
  trainable: z.array(z.string().min(1)).min(1).max(10_000).optional(),
  /** The output holding the logits (default: the first output). */
  logits: z.string().min(1).optional(),
  /** The image input (default: the first input that is not an initializer). */
  input: z.string().min(1).optional(),
});
export type OnnxMode = z.output<typeof onnxModeSchema>;

/** A run's trainable mode: a ViT mode (HF folders) or an ONNX one (imported .onnx files). */
export const runModeSchema = z.discriminatedUnion('kind', [...trainModeSchema.options, onnxModeSchema]);
export type RunMode = TrainMode | OnnxMode;

export const runSpecSchema = z.object({
  name: z.string().trim().min(1).max(200).optional(),
  modelId: z.number().int().positive(),
  datasetVersionId: z.string().regex(/^[0-9a-f]{64}$/, 'must be a dataset version id (64 hex characters)'),
  mode: runModeSchema.prefault({ kind: 'head' }),
  /** Split used for periodic and final evaluation. */
  evalSplit: z.enum(['val', 'test']).default('val'),
  /** Train on k examples per class only (few-shot, the paper's 16-shot protocol); all when absent. */
  kShot: z.number().int().positive().optional(),
  train: z.unknown().default({}),
  tags: z.array(z.string().trim().min(1).max(64)).max(32).default([]),
  notes: z.string().max(10_000).default(''),
});

export type RunSpecInput = z.input<typeof runSpecSchema>;
export type RunSpec = Omit<z.output<typeof runSpecSchema>, 'train'> & { train: ResolvedTrainConfig };

/** Validates a run spec, naming every bad field (train.* fields come from the engine's config schema). */
export function resolveRunSpec(input: unknown): RunSpec {
  const parsed = runSpecSchema.safeParse(input ?? {});
  const issues: ConfigError[] = parsed.success
    ? []
    : parsed.error.issues.map((i) => new ConfigError(i.path.join('.') || '(root)', i.message));
  let train: ResolvedTrainConfig | undefined;
  try {
    train = resolveTrainConfig(
      parsed.success ? parsed.data.train : ((input as { train?: unknown })?.train ?? {}),
    );
  } catch (error) {
    if (!(error instanceof InvalidConfigError)) throw error;
    issues.push(
      ...error.issues.map((i) => new ConfigError(`train.${i.field}`, i.message.replace(/^[^:]*: /, ''))),
    );
  }
  if (!parsed.success || !train || issues.length > 0) throw new InvalidConfigError(issues);
  return { ...parsed.data, train };
}
