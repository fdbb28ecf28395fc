// The one typed training configuration. Every field has a default and a comment with its unit or meaning; the
// resolved config (defaults filled in) is saved with each run so any run can be reproduced from its record.
import { z } from 'zod';

import { ConfigError, FlopsError } from './errors.ts';

const positiveInt = z.number().int().positive();

const allocatorSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('uniform') }),
  z.object({
    kind: z.literal('flops'),
    lr: z.number().positive().default(1e-2), // η_Φ, Adam step size on the 4 allocator parameters (§3.4)
    warmupSteps: z.number().int().nonnegative().default(20), // uniform allocation while the reward baseline settles
  }),
  z.object({
    kind: z.literal('neyman'),
    decay: z.number().min(0).max(1).default(0.9), // EMA decay of each sample's running variance estimate
  }),
  z.object({ kind: z.literal('bernoulli') }), // the reference code's heuristic (§3.6), an ablation
]);

const optimizerSchema = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('adam'),
    lr: z.number().positive().default(1e-3),
    beta1: z.number().min(0).lt(1).default(0.9),
    beta2: z.number().min(0).lt(1).default(0.999),
    eps: z.number().positive().default(1e-8),
    weightDecay: z.number().nonnegative().default(0),
  }),
  z.object({
    kind: z.literal('sgd'),
    lr: z.number().positive().default(1e-2),
    momentum: z.number().min(0).lt(1).default(0.9),
    weightDecay: z.number().nonnegative().default(0),
  }),
]);

const scheduleSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('constant') }),
  z.object({ kind: z.literal('step'), everySteps: positiveInt, gamma: z.number().positive().max(1) }),
  z.object({ kind: z.literal('cosine'), warmupSteps: z.number().int().nonnegative().default(0) }),
]);

export const trainConfigSchema = z.object({
  seed: z.number().int().nonnegative().max(0xffffffff).default(0), // every random draw derives from it
  estimator: z.enum(['spsa', 'lr', 'es']).default('spsa'),
  allocator: allocatorSchema.prefault({ kind: 'uniform' }),
  budgetPerSample: positiveInt.default(10), // n̄: estimator queries per sample per step, N = B·n̄
  nMin: positiveInt.optional(), // floor per sample; default 1 (SPSA, ES) or 2 (antithetic LR)
  nMax: positiveInt.optional(), // cap per sample; default 4·n̄
  batchSize: positiveInt.default(64), // B, samples per step
  epochs: positiveInt.default(1),
  maxSteps: positiveInt.optional(), // stop after this many steps even mid-epoch
  optimizer: optimizerSchema.prefault({ kind: 'adam' }),
  schedule: scheduleSchema.prefault({ kind: 'constant' }),
  spsaEps: z.number().positive().default(1e-3), // ε of the central difference θ ± εz
  directions: z.enum(['gaussian', 'rademacher', 'table']).default('gaussian'), // distribution of SPSA/ES directions
  lrSigma: z.number().positive().default(1e-2), // σ of the Gaussian noise at the target module's outputs (LR)
  clipNorm: z.number().positive().optional(), // global-norm clip of the gradient estimate; off when absent
  evalEverySteps: positiveInt.optional(), // evaluate on the validation split every k steps (and at the end)
  checkpointEverySteps: positiveInt.optional(), // write a resumable checkpoint every k steps
});

export type TrainConfigInput = z.input<typeof trainConfigSchema>;
export type ResolvedTrainConfig = z.output<typeof trainConfigSchema> & { nMin: number; nMax: number };

/** One bad field per issue, all reported at once. */
export class InvalidConfigError extends FlopsError {
  constructor(readonly issues: ConfigError[]) {
    super('CONFIG_INVALID', `invalid training config:\n${issues.map((i) => `  - ${i.message}`).join('\n')}`);
  }
}

/** Validates, fills defaults and checks cross-field constraints. */
export function resolveTrainConfig(input: unknown): ResolvedTrainConfig {
  const parsed = trainConfigSchema.safeParse(input ?? {});
  if (!parsed.success) {
    throw new InvalidConfigError(
      parsed.error.issues.map((issue) => new ConfigError(issue.path.join('.') || '(root)', issue.message)),
    );
  }
  const c = parsed.data;
  const nMin = c.nMin ?? (c.estimator === 'lr' ? 2 : 1);
  const nMax = c.nMax ?? 4 * c.budgetPerSample;
  const issues: ConfigError[] = [];
  if (nMin > c.budgetPerSample) {
    issues.push(
      new ConfigError(
        'nMin',
        `${nMin} exceeds budgetPerSample ${c.budgetPerSample}: budget below batch x nMin`,
      ),
    );
  }
  if (nMax < c.budgetPerSample) {
    issues.push(new ConfigError('nMax', `${nMax} is below budgetPerSample ${c.budgetPerSample}`));
  }
  if (c.estimator === 'lr' && (c.budgetPerSample % 2 !== 0 || nMin % 2 !== 0)) {
    issues.push(
      new ConfigError('budgetPerSample', 'LR uses antithetic pairs: budgetPerSample and nMin must be even'),
    );
  }
  if (issues.length > 0) throw new InvalidConfigError(issues);
  return { ...c, nMin, nMax };
}
