// The FLOPS allocator as reconstructed in §3.4: a Gaussian Allocator P(A | λ; Φ) over the standardised per-sample
// losses with four learned parameters Φ = (α, β, log c, log h), trained by the likelihood-ratio (score-function)
// method on the variance-proxy reward R = −(1/B²) Σ v̂_i/n_i. Per step:
//   u = standardise(ℓ);  μ = α u + β;  K = c·E + τI, E_ij = exp(−(u_i − u_j)²/(2h²));  s = μ + chol(K) ξ
//   n = n_min + integerise((N − B n_min) · max(s, 0) / Σ max(s, 0))
// and after the queries: Φ ← Adam-ascent on (R − R̄)/std(R) · ∇_Φ log N(s; μ, K).
// The log-density is that of the continuous sample s; rectification and rounding belong to the environment.
import { ConfigError, DivergenceError } from '../errors.ts';
import { Rng } from '../rng.ts';
import { integerise, uniformCounts } from './integerise.ts';
import { cholesky, cholInverse, cholLogDet, cholSolve, lowerMatVec } from './linalg.ts';
import {
  checkFeedback,
  checkRequest,
  readState,
  standardise,
  stateNumber,
  stateNumbers,
  stateOptionalNumber,
} from './request.ts';
import type { AllocationFeedback, AllocationRequest, Allocator } from './types.ts';
import { allocationVariance } from './variance.ts';

export interface FlopsConfig {
  kind: 'flops';
  alpha0: number; // initial slope of the mean on the standardised loss; > 0 tilts queries toward hard samples
  beta0: number; // initial intercept; large against √c so that most s_i > 0 and few samples sit at n_min
  c0: number; // initial RBF amplitude c (the sample's variance scale), > 0
  h0: number; // initial RBF length scale h, in standard deviations of the loss, > 0
  lr: number; // η_Φ: Adam step size on Φ
  // Steps with req.step < warmupSteps are allocated uniformly while R̄ and std(R) settle (Q15). Keyed on the
  // global step, not on a call count, so a run resumed from a checkpoint stays in the same phase.
  warmupSteps: number;
  rewardBaselineDecay: number; // EMA decay of the baseline R̄ and of the running variance of R
  jitter: number; // relative diagonal jitter: τ = jitter·c + 1e-6, so tied losses still give a PD K
  /**
   * What the advantage is computed from. 'variance' (default, §3.4 (a)): R = −V̂(n) = −(1/B²) Σ v̂_i/n_i.
   * 'relative': R = −V̂(n)/V̂(uniform) on the same v̂, so how hard the batch is cancels out and only the effect of
   * the allocation is left. Both have the same per-batch optimum; on the T5 task the relative reward moved α about
   * 2–3× further in the same number of steps, because batch-to-batch swings in V dominate the plain reward.
   */
  reward: 'variance' | 'relative';
}

/** §3.4's suggested initialisation (α=1, β=3, c=1, h=1), η_Φ = 1e-2, R̄ decay 0.9, τ = 1e-3·c + 1e-6; Q15's warm-up. */
export const FLOPS_DEFAULTS: Omit<FlopsConfig, 'kind'> = {
  alpha0: 1,
  beta0: 3,
  c0: 1,
  h0: 1,
  lr: 1e-2,
  warmupSteps: 50,
  rewardBaselineDecay: 0.9,
  jitter: 1e-3,
  reward: 'variance',
};

/** τ's absolute part: keeps K positive definite even when c has been driven to ~0. */
const ABS_JITTER = 1e-6;
/** log c and log h are kept in [−LOG_BOUND, LOG_BOUND] so exp() stays finite and K well conditioned. */
const LOG_BOUND = 15;
const ADAM_BETA1 = 0.9;
const ADAM_BETA2 = 0.999;
const ADAM_EPS = 1e-8;

export function checkFlopsConfig(c: FlopsConfig): void {
  const bad = (field: string, msg: string): never => {
    throw new ConfigError(`allocator.${field}`, msg);
  };
  if (!Number.isFinite(c.alpha0)) bad('alpha0', `must be finite, got ${c.alpha0}`);
  if (!Number.isFinite(c.beta0)) bad('beta0', `must be finite, got ${c.beta0}`);
  if (!(c.c0 > 0 && Number.isFinite(c.c0))) bad('c0', `must be > 0, got ${c.c0}`);
  if (!(c.h0 > 0 && Number.isFinite(c.h0))) bad('h0', `must be > 0, got ${c.h0}`);
  if (!(c.lr > 0 && Number.isFinite(c.lr))) bad('lr', `must be > 0, got ${c.lr}`);
  if (!Number.isInteger(c.warmupSteps) || c.warmupSteps < 0) {
    bad('warmupSteps', `must be an integer ≥ 0, got ${c.warmupSteps}`);
  }
  if (!(c.rewardBaselineDecay >= 0 && c.rewardBaselineDecay < 1)) {
    bad('rewardBaselineDecay', `must be in [0, 1), got ${c.rewardBaselineDecay}`);
  }
  if (!(c.jitter >= 0 && Number.isFinite(c.jitter))) bad('jitter', `must be ≥ 0, got ${c.jitter}`);
  if (c.reward !== 'variance' && c.reward !== 'relative') {
    bad('reward', `must be "variance" or "relative", got ${JSON.stringify(c.reward)}`);
  }
}

// --- The Gaussian model, as pure functions of (u, Φ) so the tests can check the gradient against finite
// differences. Φ is a length-4 array [α, β, log c, log h]: the layout Adam updates in place.

export const PHI_NAMES = ['alpha', 'beta', 'logC', 'logH'] as const;

interface GaussianModel {
  mu: Float64Array;
  e: Float64Array; // E_ij = exp(−D_ij²/(2h²)), row-major B×B
  k: Float64Array; // K = c E + τ I
  l: Float64Array | null; // chol(K); null when K is not numerically PD
}

function buildModel(u: Float64Array, phi: ArrayLike<number>, jitter: number): GaussianModel {
  const b = u.length;
  const [alpha, beta, logC, logH] = [phi[0]!, phi[1]!, phi[2]!, phi[3]!];
  const c = Math.exp(logC);
  const h2 = Math.exp(2 * logH);
  const tau = jitter * c + ABS_JITTER;
  const mu = Float64Array.from(u, (ui) => alpha * ui + beta);
  const e = new Float64Array(b * b);
  const k = new Float64Array(b * b);
  for (let i = 0; i < b; i++) {
    for (let j = 0; j < b; j++) {
      const d = u[i]! - u[j]!;
      const eij = Math.exp(-(d * d) / (2 * h2));
      e[i * b + j] = eij;
      k[i * b + j] = c * eij + (i === j ? tau : 0);
    }
  }
  return { mu, e, k, l: cholesky(k, b) };
}

function factor(m: GaussianModel): Float64Array {
  if (!m.l) throw new RangeError('FLOPS allocator: covariance K is not positive definite');
  return m.l;
}

/** log N(s; μ(u, Φ), K(u, Φ)) including the −(B/2) log 2π constant. */
export function gaussianLogDensity(
  s: Float64Array,
  u: Float64Array,
  phi: ArrayLike<number>,
  jitter: number,
): number {
  const b = u.length;
  const m = buildModel(u, phi, jitter);
  const l = factor(m);
  const diff = s.map((si, i) => si - m.mu[i]!);
  const r = cholSolve(l, b, diff);
  let quad = 0;
  for (let i = 0; i < b; i++) quad += diff[i]! * r[i]!;
  return -0.5 * quad - 0.5 * cholLogDet(l, b) - 0.5 * b * Math.log(2 * Math.PI);
}

/**
 * ∇_Φ log N(s; μ, K) for Φ = [α, β, log c, log h] (§3.4):
 *   r = K⁻¹(s − μ),  G = ½(r rᵀ − K⁻¹),  ∂/∂α = rᵀu,  ∂/∂β = rᵀ1,
 *   ∂/∂log c = tr(G · c(E + jitter·I))   (τ = jitter·c + 1e-6 moves with c; §3.4 omits this jitter term),
 *   ∂/∂log h = tr(G · c E ⊙ D²) / h².
 */
export function scoreGradient(
  s: Float64Array,
  u: Float64Array,
  phi: ArrayLike<number>,
  jitter: number,
): Float64Array {
  const m = buildModel(u, phi, jitter);
  return scoreFromModel(m, s, u, phi, jitter);
}

function scoreFromModel(
  m: GaussianModel,
  s: Float64Array,
  u: Float64Array,
  phi: ArrayLike<number>,
  jitter: number,
): Float64Array {
  const b = u.length;
  const l = factor(m);
  const c = Math.exp(phi[2]!);
  const h2 = Math.exp(2 * phi[3]!);
  const r = cholSolve(
    l,
    b,
    s.map((si, i) => si - m.mu[i]!),
  );
  const kinv = cholInverse(l, b);
  let dAlpha = 0;
  let dBeta = 0;
  let dLogC = 0;
  let dLogH = 0;
  for (let i = 0; i < b; i++) {
    dAlpha += r[i]! * u[i]!;
    dBeta += r[i]!;
    for (let j = 0; j < b; j++) {
      const g = 0.5 * (r[i]! * r[j]! - kinv[i * b + j]!);
      const eij = m.e[i * b + j]!;
      const d = u[i]! - u[j]!;
      dLogC += g * c * (eij + (i === j ? jitter : 0));
      dLogH += (g * c * eij * d * d) / h2;
    }
  }
  return Float64Array.of(dAlpha, dBeta, dLogC, dLogH);
}

/** What allocate() drew, kept until update() scores it. */
interface Pending {
  step: number;
  sampleIds: Int32Array;
  u: Float64Array;
  s: Float64Array;
  sampled: Int32Array; // the allocation s maps to (used even in warm-up, where it is only evaluated)
  uniform: Int32Array;
  warm: boolean;
  model: GaussianModel; // Φ cannot change between allocate() and update(), so the factor is reused
}

export class FlopsAllocator implements Allocator {
  readonly name = 'flops';
  readonly config: FlopsConfig;
  readonly #phi: Float64Array;
  readonly #m = new Float64Array(4); // Adam first moment
  readonly #v = new Float64Array(4); // Adam second moment
  #t = 0; // Adam steps taken
  #baseline: number | undefined; // R̄
  #rewardVar = 0; // running variance of R around R̄
  #rewards = 0; // rewards seen (the first sets R̄, the second seeds the variance)
  #pending: Pending | undefined;
  #last: { reward: number; rewardUniform: number; advantage: number } | undefined;
  #lastStep = 0;
  #warm = true;

  constructor(config: FlopsConfig) {
    checkFlopsConfig(config);
    this.config = config;
    this.#phi = Float64Array.of(config.alpha0, config.beta0, Math.log(config.c0), Math.log(config.h0));
  }

  /** Φ = [α, β, log c, log h] (a copy). */
  get phi(): Float64Array {
    return this.#phi.slice();
  }

  allocate(req: AllocationRequest): Int32Array {
    const bounds = checkRequest(req, 'flops', true);
    const b = req.losses.length;
    const u = standardise(req.losses);
    const model = buildModel(u, this.#phi, this.config.jitter);
    if (!model.l) {
      throw new DivergenceError(
        req.step,
        `FLOPS allocator: covariance not positive definite at c = ${Math.exp(this.#phi[2]!)}, ` +
          `h = ${Math.exp(this.#phi[3]!)}; raise allocator.jitter (now ${this.config.jitter})`,
      );
    }
    // ξ is drawn during warm-up too: update() feeds the baseline the reward this sample would have earned.
    const xi = new Float32Array(b);
    new Rng(req.seed).fillGaussian(xi);
    const lxi = lowerMatVec(model.l, b, xi);
    const s = model.mu.map((mi, i) => mi + lxi[i]!);
    // Rectify; all-zero weights give the uniform share (the spec's "if Σw = 0 then w_i = 1").
    const w = s.map((si) => Math.max(si, 0));
    const sampled = integerise(w, bounds, 'excess');
    const uniform = uniformCounts(b, bounds);
    const warm = req.step < this.config.warmupSteps;
    this.#pending = { step: req.step, sampleIds: req.sampleIds.slice(), u, s, sampled, uniform, warm, model };
    this.#lastStep = req.step;
    this.#warm = warm;
    return (warm ? uniform : sampled).slice();
  }

  /**
   * Scores the step's allocation and takes one Adam-ascent step on Φ. During warm-up the queries were spread
   * uniformly, but v̂_i estimates the per-query variance whatever n_i was, so the reward the sampled allocation
   * would have earned is evaluated on the same v̂ and fed to the baseline: R̄ and std(R) then settle at the level
   * of the Gaussian policy itself, not of uniform, and the first real update starts with a calibrated advantage.
   * Φ does not move during warm-up.
   */
  update(fb: AllocationFeedback): void {
    checkFeedback(fb, 'flops', this.#lastStep);
    const p = this.#pending;
    if (!p)
      throw new ConfigError('allocator.feedback', 'FLOPS update() called without a preceding allocate()');
    if (p.sampleIds.length !== fb.sampleIds.length || p.sampleIds.some((id, i) => id !== fb.sampleIds[i])) {
      throw new ConfigError('allocator.feedback', 'sample ids differ from those of the last allocate()');
    }
    this.#pending = undefined;
    const v = fb.varianceEstimates;
    // The policy's reward: of the counts actually used, or in warm-up of the counts s would have given.
    const reward = -allocationVariance(p.warm ? p.sampled : fb.counts, v);
    const rewardUniform = -allocationVariance(p.uniform, v);

    // The baseline and its std track whichever reward drives learning; snapshot() reports the plain −V̂ either way.
    const r = this.config.reward === 'relative' ? (rewardUniform < 0 ? reward / -rewardUniform : -1) : reward;
    const d = this.config.rewardBaselineDecay;
    let advantage = 0;
    if (this.#baseline === undefined) {
      this.#baseline = r;
    } else {
      const dev = r - this.#baseline;
      // The current deviation is included in the std so |advantage| ≤ 1/√(1 − d): one outlier batch cannot
      // throw Φ far, whatever the scale of v̂ (it grows with d, m, ‖a‖² and 1/σ²).
      this.#rewardVar = this.#rewards === 1 ? dev * dev : d * this.#rewardVar + (1 - d) * dev * dev;
      advantage = this.#rewardVar > 0 ? dev / Math.sqrt(this.#rewardVar) : 0;
      this.#baseline = d * this.#baseline + (1 - d) * r;
    }
    this.#rewards++;
    // Reported: the step's own −V̂ (uniform's during warm-up), so the UI curve shows what training got.
    this.#last = { reward: -allocationVariance(fb.counts, v), rewardUniform, advantage };
    if (p.warm || advantage === 0) return;

    const grad = scoreFromModel(p.model, p.s, p.u, this.#phi, this.config.jitter);
    this.#t++;
    const bc1 = 1 - ADAM_BETA1 ** this.#t;
    const bc2 = 1 - ADAM_BETA2 ** this.#t;
    for (let k = 0; k < 4; k++) {
      const g = advantage * grad[k]!;
      this.#m[k] = ADAM_BETA1 * this.#m[k]! + (1 - ADAM_BETA1) * g;
      this.#v[k] = ADAM_BETA2 * this.#v[k]! + (1 - ADAM_BETA2) * g * g;
      // Ascent: R is a reward.
      this.#phi[k] =
        this.#phi[k]! + (this.config.lr * (this.#m[k]! / bc1)) / (Math.sqrt(this.#v[k]! / bc2) + ADAM_EPS);
    }
    for (const k of [2, 3]) this.#phi[k] = Math.min(LOG_BOUND, Math.max(-LOG_BOUND, this.#phi[k]!));
    if (!this.#phi.every(Number.isFinite)) {
      throw new DivergenceError(
        p.step,
        `FLOPS allocator: parameters became non-finite (${this.#phi.join(', ')})`,
      );
    }
  }

  /**
   * alpha, beta, logC, logH always; warm (1 during warm-up); once a feedback has been seen: reward (−V̂ of the
   * step's allocation), rewardUniform (−V̂ of the uniform allocation on the same v̂), advantage, and
   * rewardBaseline (R̄, on the scale of `config.reward`: −V̂, or −V̂/V̂_uniform for 'relative').
   */
  snapshot(): Record<string, number> {
    const out: Record<string, number> = {};
    PHI_NAMES.forEach((name, k) => (out[name] = this.#phi[k]!));
    out.warm = this.#warm ? 1 : 0;
    if (this.#last) {
      out.reward = this.#last.reward;
      out.rewardUniform = this.#last.rewardUniform;
      out.advantage = this.#last.advantage;
    }
    if (this.#baseline !== undefined) out.rewardBaseline = this.#baseline;
    return out;
  }

  getState(): unknown {
    return {
      kind: 'flops',
      version: 1,
      phi: [...this.#phi],
      adamM: [...this.#m],
      adamV: [...this.#v],
      adamT: this.#t,
      rewardBaseline: this.#baseline ?? null,
      rewardVar: this.#rewardVar,
      rewards: this.#rewards,
    };
  }

  setState(s: unknown): void {
    const o = readState(s, 'flops', 1);
    const phi = stateNumbers(o, 'phi', 4);
    const m = stateNumbers(o, 'adamM', 4);
    const v = stateNumbers(o, 'adamV', 4);
    const t = stateNumber(o, 'adamT');
    const rewards = stateNumber(o, 'rewards');
    const rewardVar = stateNumber(o, 'rewardVar');
    if (!Number.isInteger(t) || t < 0 || !Number.isInteger(rewards) || rewards < 0 || rewardVar < 0) {
      throw new ConfigError('allocator.state', 'adamT and rewards must be integers ≥ 0 and rewardVar ≥ 0');
    }
    this.#phi.set(phi);
    this.#m.set(m);
    this.#v.set(v);
    this.#t = t;
    this.#baseline = stateOptionalNumber(o, 'rewardBaseline');
    this.#rewardVar = rewardVar;
    this.#rewards = rewards;
    this.#pending = undefined;
    this.#last = undefined;
  }
}
