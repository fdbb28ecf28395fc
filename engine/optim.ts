// Optimizers over the one flat parameter vector, global-norm clipping and learning-rate schedules. Each optimizer
// makes a single pass over θ per step (state kept in float32 like θ itself, arithmetic in float64) that also sums
// ĝ² for the caller's ‖ĝ‖, and its state round-trips through getState/setState so a resumed run continues
// bit-identically. Schedules are pure functions of the step: nothing about the learning rate is checkpointed.
import { ConfigError, FormatError } from './errors.ts';

/** Adam as in torch.optim.Adam: bias-corrected moments, L2 weight decay added to the gradient. */
export interface AdamConfig {
  kind: 'adam';
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
}

/** SGD with heavy-ball momentum as in torch.optim.SGD (buffer = μ·buffer + g), optionally Nesterov. */
export interface SgdConfig {
  kind: 'sgd';
  momentum: number;
  weightDecay: number;
  nesterov?: boolean;
}

export type OptimizerConfig = AdamConfig | SgdConfig;

/** Typed arrays rather than number[]: the state is as large as θ (structured-clone it, do not JSON it). */
export type OptimizerState =
  | { kind: 'adam'; t: number; m: Float32Array; v: Float32Array }
  | { kind: 'sgd'; t: number; momentum: Float32Array };

export interface Optimizer {
  readonly kind: OptimizerConfig['kind'];
  /**
   * Updates params in place from grad with learning rate lr. Returns Σ_j grad[j]² accumulated in float64 in j
   * order, i.e. globalNorm(grad)² bit for bit: read in the update's own pass so that a caller who knows grad is
   * finite needs no second pass over d values for the norm (train.ts).
   */
  step(params: Float32Array, grad: Float32Array, lr: number): number;
  /** A copy of the state. */
  getState(): OptimizerState;
  setState(state: unknown): void;
}

function checkRange(field: string, value: number, lo: number, hi: number, hiOpen = true): void {
  if (!(Number.isFinite(value) && value >= lo && (hiOpen ? value < hi : value <= hi))) {
    throw new ConfigError(field, `must be in [${lo}, ${hi}${hiOpen ? ')' : ']'}, got ${value}`);
  }
}

function checkStep(params: Float32Array, grad: Float32Array, size: number, lr: number): void {
  if (params.length !== size || grad.length !== size) {
    throw new ConfigError(
      'optimizer',
      `built for ${size} parameters, got θ ${params.length} and ĝ ${grad.length}`,
    );
  }
  if (!(Number.isFinite(lr) && lr >= 0)) throw new ConfigError('optimizer.lr', `must be >= 0, got ${lr}`);
}

function stateBuffer(state: Record<string, unknown>, key: string, size: number): Float32Array {
  const buf = state[key];
  if (!(buf instanceof Float32Array) || buf.length !== size) {
    throw new FormatError('checkpoint', `optimizer state '${key}' is not a Float32Array of ${size} values`);
  }
  return buf;
}

function stateOf(state: unknown, kind: OptimizerConfig['kind']): Record<string, unknown> & { t: number } {
  const s = state as Record<string, unknown> | null;
  if (typeof s !== 'object' || s === null || s.kind !== kind) {
    throw new FormatError('checkpoint', `optimizer state is not a '${kind}' state`);
  }
  if (!(Number.isSafeInteger(s.t) && (s.t as number) >= 0)) {
    throw new FormatError('checkpoint', 'optimizer state has no valid step count');
  }
  return s as Record<string, unknown> & { t: number };
}

export class Adam implements Optimizer {
  readonly kind = 'adam';
  #t = 0;
  readonly #m: Float32Array;
  readonly #v: Float32Array;

  constructor(
    readonly size: number,
    readonly config: AdamConfig,
  ) {
    checkRange('optimizer.beta1', config.beta1, 0, 1);
    checkRange('optimizer.beta2', config.beta2, 0, 1);
    if (!(config.eps > 0)) throw new ConfigError('optimizer.eps', `must be > 0, got ${config.eps}`);
    checkRange('optimizer.weightDecay', config.weightDecay, 0, Infinity);
    this.#m = new Float32Array(size);
    this.#v = new Float32Array(size);
  }

  step(params: Float32Array, grad: Float32Array, lr: number): number {
    checkStep(params, grad, this.size, lr);
    const { beta1, beta2, eps, weightDecay } = this.config;
    this.#t += 1;
    // θ −= lr/(1−β1^t) · m / (√v/√(1−β2^t) + ε), the same arrangement as PyTorch so results are comparable.
    const stepSize = lr / (1 - beta1 ** this.#t);
    const sqrtBc2 = Math.sqrt(1 - beta2 ** this.#t);
    return adamPass(params, grad, this.#m, this.#v, beta1, beta2, weightDecay, stepSize, sqrtBc2, eps);
  }

  getState(): OptimizerState {
    return { kind: 'adam', t: this.#t, m: this.#m.slice(), v: this.#v.slice() };
  }

  setState(state: unknown): void {
    const s = stateOf(state, 'adam');
    const m = stateBuffer(s, 'm', this.size);
    const v = stateBuffer(s, 'v', this.size);
    this.#m.set(m);
    this.#v.set(v);
    this.#t = s.t;
  }
}

/**
 * One Adam pass over θ. Bit for bit the loop this replaced (same operations in the same order, float64
 * arithmetic, float32 storage); it is a plain function so V8 optimises it on its own, with 1 − β hoisted and θ_j
 * read once: ~5% faster on the bench MLP's 109k parameters (0.80 → 0.76 ms, load ~5 on 2 vCPUs).
 * Not taken: multiplying by a hoisted 1/√(1−β2^t) instead of dividing by √(1−β2^t) saves one of the two float64
 * divisions per entry (~17%, ~0.13 ms per step there) but rounds differently from PyTorch's arrangement and
 * from every checkpoint written so far (decision 13).
 * Returns Σ grad[j]² (float64, j order: globalNorm's sum). The extra multiply-add runs beside the divisions
 * (0.734 → 0.739 ms, alternated, 109k entries), where a separate globalNorm pass re-read ĝ for 0.25–0.4 ms per
 * bench-MLP step (decision 14).
 */
function adamPass(
  params: Float32Array,
  grad: Float32Array,
  m: Float32Array,
  v: Float32Array,
  beta1: number,
  beta2: number,
  weightDecay: number,
  stepSize: number,
  sqrtBc2: number,
  eps: number,
): number {
  const c1 = 1 - beta1;
  const c2 = 1 - beta2;
  let sumSq = 0;
  for (let j = 0; j < params.length; j++) {
    const p = params[j]!;
    const raw = grad[j]!;
    sumSq += raw * raw;
    const g = raw + weightDecay * p;
    const mj = beta1 * m[j]! + c1 * g;
    const vj = beta2 * v[j]! + c2 * g * g;
    m[j] = mj;
    v[j] = vj;
    params[j] = p - (stepSize * mj) / (Math.sqrt(vj) / sqrtBc2 + eps);
  }
  return sumSq;
}

export class Sgd implements Optimizer {
  readonly kind = 'sgd';
  #t = 0;
  readonly #buf: Float32Array;

  constructor(
    readonly size: number,
    readonly config: SgdConfig,
  ) {
    checkRange('optimizer.momentum', config.momentum, 0, 1);
    checkRange('optimizer.weightDecay', config.weightDecay, 0, Infinity);
    this.#buf = new Float32Array(size);
  }

  step(params: Float32Array, grad: Float32Array, lr: number): number {
    checkStep(params, grad, this.size, lr);
    const { momentum, weightDecay } = this.config;
    const nesterov = this.config.nesterov ?? false;
    const buf = this.#buf;
    let sumSq = 0;
    for (let j = 0; j < params.length; j++) {
      const raw = grad[j]!;
      sumSq += raw * raw;
      const g = raw + weightDecay * params[j]!;
      // The buffer starts at zero, so the first step's buffer is g, as in PyTorch.
      const b = momentum * buf[j]! + g;
      buf[j] = b;
      params[j] = params[j]! - lr * (nesterov ? g + momentum * b : b);
    }
    this.#t += 1;
    return sumSq;
  }

  getState(): OptimizerState {
    return { kind: 'sgd', t: this.#t, momentum: this.#buf.slice() };
  }

  setState(state: unknown): void {
    const s = stateOf(state, 'sgd');
    this.#buf.set(stateBuffer(s, 'momentum', this.size));
    this.#t = s.t;
  }
}

/** Builds the configured optimizer (extra fields such as the config's `lr` are ignored: lr comes per step). */
export function createOptimizer(config: OptimizerConfig, size: number): Optimizer {
  return config.kind === 'adam' ? new Adam(size, config) : new Sgd(size, config);
}

/** ‖g‖₂ accumulated in float64 (NaN or Infinity when any entry is). */
export function globalNorm(g: Float32Array): number {
  let s = 0;
  for (let j = 0; j < g.length; j++) s += g[j]! * g[j]!;
  return Math.sqrt(s);
}

/**
 * Scales g in place so that ‖g‖ <= maxNorm; returns the norm before clipping. `norm` may be passed when the
 * caller has it already. A non-finite norm leaves g untouched: that is divergence, for the caller to report.
 */
export function clipGlobalNorm(g: Float32Array, maxNorm: number, norm = globalNorm(g)): number {
  if (!(maxNorm > 0)) throw new ConfigError('clipNorm', `must be > 0, got ${maxNorm}`);
  if (Number.isFinite(norm) && norm > maxNorm) {
    const scale = maxNorm / norm;
    for (let j = 0; j < g.length; j++) g[j] = g[j]! * scale;
  }
  return norm;
}

/** Learning-rate schedules; the shapes of the training config's `schedule`, plus epoch-based steps. */
export type LrSchedule =
  | { kind: 'constant' }
  /** lr·γ^⌊step/everySteps⌋, or per epochs: lr·γ^⌊epoch/everyEpochs⌋ with epoch = ⌊step/stepsPerEpoch⌋. */
  | { kind: 'step'; gamma: number; everySteps?: number; everyEpochs?: number; stepsPerEpoch?: number }
  /** Linear warm-up over warmupSteps (reaching lr at the last warm-up step), then cosine decay to minLr. */
  | { kind: 'cosine'; warmupSteps?: number; minLr?: number };

function positiveInt(field: string, value: number | undefined): number {
  if (!(Number.isSafeInteger(value) && (value as number) > 0)) {
    throw new ConfigError(field, `must be a positive integer, got ${value}`);
  }
  return value as number;
}

/**
 * The learning rate for update number `step` (0-based) of `totalSteps`. Pure: a resumed run recomputes it.
 * `totalSteps` is needed only by the cosine schedule.
 */
export function lrAt(step: number, baseLr: number, schedule: LrSchedule, totalSteps = Infinity): number {
  if (!(Number.isSafeInteger(step) && step >= 0))
    throw new ConfigError('step', `must be an integer >= 0, got ${step}`);
  switch (schedule.kind) {
    case 'constant':
      return baseLr;
    case 'step': {
      checkRange('schedule.gamma', schedule.gamma, 0, 1, false);
      if ((schedule.everySteps === undefined) === (schedule.everyEpochs === undefined)) {
        throw new ConfigError('schedule', 'a step schedule needs exactly one of everySteps and everyEpochs');
      }
      const decays =
        schedule.everySteps !== undefined
          ? Math.floor(step / positiveInt('schedule.everySteps', schedule.everySteps))
          : Math.floor(
              Math.floor(step / positiveInt('schedule.stepsPerEpoch', schedule.stepsPerEpoch)) /
                positiveInt('schedule.everyEpochs', schedule.everyEpochs),
            );
      return baseLr * schedule.gamma ** decays;
    }
    case 'cosine': {
      const warmup = schedule.warmupSteps ?? 0;
      const minLr = schedule.minLr ?? 0;
      if (!(Number.isSafeInteger(warmup) && warmup >= 0)) {
        throw new ConfigError('schedule.warmupSteps', `must be an integer >= 0, got ${warmup}`);
      }
      if (!Number.isSafeInteger(totalSteps) || totalSteps < 1) {
        throw new ConfigError('schedule', `cosine needs a finite number of steps, got ${totalSteps}`);
      }
      if (step < warmup) return (baseLr * (step + 1)) / warmup;
      const progress = Math.min(1, (step - warmup) / Math.max(1, totalSteps - warmup));
      return minLr + (baseLr - minLr) * 0.5 * (1 + Math.cos(Math.PI * progress));
    }
  }
}
