// Presets: one known-good starting point per trainable mode and estimator, measured on the bundled tiny ViT
// (docs/app.md lists the numbers). A preset is a partial run spec; what the user passes is merged over it.
import type { RunSpecInput } from '../runs/spec.ts';

export interface Preset {
  name: string;
  description: string;
  spec: Omit<RunSpecInput, 'modelId' | 'datasetVersionId'>;
}

const flops = { kind: 'flops' as const, warmupSteps: 20 };

export const PRESETS = {
  'head-lr': {
    name: 'head-lr',
    description: 'new classifier head, likelihood-ratio estimator (noise at the logits), FLOPS allocation',
    spec: {
      mode: { kind: 'head' },
      train: {
        estimator: 'lr',
        allocator: flops,
        budgetPerSample: 10,
        batchSize: 32,
        optimizer: { kind: 'adam', lr: 1e-2 },
        lrSigma: 0.1,
      },
    },
  },
  'head-spsa': {
    name: 'head-spsa',
    description: 'new classifier head, SPSA (central differences), FLOPS allocation',
    spec: {
      mode: { kind: 'head' },
      train: {
        estimator: 'spsa',
        allocator: flops,
        budgetPerSample: 10,
        batchSize: 32,
        optimizer: { kind: 'adam', lr: 3e-2 },
        spsaEps: 1e-2,
      },
    },
  },
  'bitfit-spsa': {
    name: 'bitfit-spsa',
    description: 'biases and LayerNorm affines plus the head, SPSA, FLOPS allocation',
    spec: {
      mode: { kind: 'bitfit' },
      train: {
        estimator: 'spsa',
        allocator: flops,
        budgetPerSample: 10,
        batchSize: 32,
        optimizer: { kind: 'adam', lr: 3e-3 },
        spsaEps: 1e-3,
      },
    },
  },
  'lora-spsa': {
    name: 'lora-spsa',
    description: 'LoRA rank 4 on q and v of every block plus the head, SPSA, FLOPS allocation',
    spec: {
      mode: { kind: 'lora', rank: 4, alpha: 8, targets: ['q', 'v'] },
      train: {
        estimator: 'spsa',
        allocator: flops,
        budgetPerSample: 10,
        batchSize: 32,
        optimizer: { kind: 'adam', lr: 3e-3 },
        spsaEps: 1e-3,
      },
    },
  },
  'lora-lr': {
    name: 'lora-lr',
    description:
      'LoRA rank 4 on q and v of every block plus the head, likelihood-ratio estimator (noise at the adapter and head outputs), FLOPS allocation',
    spec: {
      mode: { kind: 'lora', rank: 4, alpha: 8, targets: ['q', 'v'] },
      train: {
        estimator: 'lr',
        allocator: flops,
        budgetPerSample: 10,
        batchSize: 32,
        optimizer: { kind: 'adam', lr: 3e-3 },
        lrSigma: 0.1,
      },
    },
  },
  'vpt-spsa': {
    name: 'vpt-spsa',
    description: '4 learned prompt tokens plus the head, SPSA, FLOPS allocation',
    spec: {
      mode: { kind: 'vpt', prompts: 4 },
      train: {
        estimator: 'spsa',
        allocator: flops,
        budgetPerSample: 10,
        batchSize: 32,
        optimizer: { kind: 'adam', lr: 3e-3 },
        spsaEps: 1e-3,
      },
    },
  },
  'last-k-spsa': {
    name: 'last-k-spsa',
    description: 'the last encoder block, final LayerNorm and head, SPSA, FLOPS allocation',
    spec: {
      mode: { kind: 'last-k', k: 1 },
      train: {
        estimator: 'spsa',
        allocator: flops,
        budgetPerSample: 10,
        batchSize: 32,
        optimizer: { kind: 'adam', lr: 3e-3 },
        spsaEps: 1e-3,
      },
    },
  },
} as const satisfies Record<string, Preset>;

export type PresetName = keyof typeof PRESETS;
export const PRESET_NAMES = Object.keys(PRESETS) as [PresetName, ...PresetName[]];

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * `over` merged into `base`: objects key by key, everything else (arrays included) replaced. A tagged union whose
 * `kind` changes (allocator flops → uniform) is replaced whole, so no field of the other variant leaks in.
 */
export function mergeSpec(base: unknown, over: unknown): unknown {
  if (!isPlainObject(base) || !isPlainObject(over)) return over === undefined ? base : over;
  if ('kind' in over && 'kind' in base && over.kind !== base.kind) return over;
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = v === undefined ? base[k] : mergeSpec(base[k], v);
  return out;
}

/** The spec a preset plus the user's fields make (the user's win). */
export function applyPreset(preset: PresetName | undefined, spec: unknown): unknown {
  return preset ? mergeSpec(structuredClone(PRESETS[preset].spec), spec ?? {}) : (spec ?? {});
}
