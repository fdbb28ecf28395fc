// The New-run page's live cost preview, pure. It mirrors the engine's accounting (engine/train.ts): every step
// draws B samples, spends one clean forward row per sample, then the budget N = B·n̄ queries. An SPSA or ES query
// is an antithetic pair (θ ± εz: two forward rows); an LR query is one noisy forward row. Epochs use full batches
// only, so an epoch is ⌊train size / B⌋ steps. Evaluation passes are not included.

export type EstimatorKind = 'spsa' | 'lr' | 'es';

export interface CostInput {
  estimator: EstimatorKind;
  /** n̄, queries per sample per step. */
  budgetPerSample: number;
  /** B, samples per step. */
  batchSize: number;
  epochs: number;
  maxSteps?: number | null | undefined;
  /** Training examples (after any k-shot subset); unknown until a dataset is chosen. */
  trainSize?: number | null | undefined;
  /** Measured forward rows per second on this machine, if known. */
  rowsPerSecond?: number | null | undefined;
}

export interface CostPreview {
  queriesPerStep: number;
  /** Forward rows the estimator spends per step (2 per SPSA/ES query). */
  estimatorRowsPerStep: number;
  forwardRowsPerStep: number;
  stepsPerEpoch: number | null;
  totalSteps: number | null;
  queriesPerEpoch: number | null;
  forwardRowsPerEpoch: number | null;
  totalForwardRows: number | null;
  /** Estimated training time in ms from the measured throughput, or null. */
  estimatedMs: number | null;
  /** Why some figures are missing or what limits them. */
  notes: string[];
}

export function rowsPerQuery(estimator: EstimatorKind): number {
  return estimator === 'lr' ? 1 : 2;
}

const positive = (n: number | null | undefined): n is number =>
  typeof n === 'number' && Number.isFinite(n) && n > 0;

export function costPreview(input: CostInput): CostPreview {
  const notes: string[] = [];
  const B = positive(input.batchSize) ? Math.floor(input.batchSize) : 0;
  const nBar = positive(input.budgetPerSample) ? Math.floor(input.budgetPerSample) : 0;
  const queriesPerStep = B * nBar;
  const estimatorRowsPerStep = queriesPerStep * rowsPerQuery(input.estimator);
  const forwardRowsPerStep = B + estimatorRowsPerStep;

  let stepsPerEpoch: number | null = null;
  if (!positive(input.trainSize)) notes.push('Choose a dataset to see per-epoch figures.');
  else if (B === 0) notes.push('Batch size must be positive.');
  else if (input.trainSize < B)
    notes.push(`Batch size ${B} exceeds the ${input.trainSize} training samples.`);
  else stepsPerEpoch = Math.floor(input.trainSize / B);

  let totalSteps: number | null = null;
  if (stepsPerEpoch !== null) {
    const epochs = positive(input.epochs) ? Math.floor(input.epochs) : 1;
    totalSteps = stepsPerEpoch * epochs;
    if (positive(input.maxSteps) && input.maxSteps < totalSteps) {
      totalSteps = Math.floor(input.maxSteps);
      notes.push(`Stopped by max steps (${totalSteps.toLocaleString('en-US')}).`);
    }
  } else if (positive(input.maxSteps)) {
    totalSteps = Math.floor(input.maxSteps);
  }

  const totalForwardRows = totalSteps === null ? null : totalSteps * forwardRowsPerStep;
  let estimatedMs: number | null = null;
  if (totalForwardRows !== null && positive(input.rowsPerSecond)) {
    estimatedMs = (totalForwardRows / input.rowsPerSecond) * 1000;
  } else if (!positive(input.rowsPerSecond)) {
    notes.push('No measured throughput for this mode yet: time is estimated after a first run of it.');
  }
  return {
    queriesPerStep,
    estimatorRowsPerStep,
    forwardRowsPerStep,
    stepsPerEpoch,
    totalSteps,
    queriesPerEpoch: stepsPerEpoch === null ? null : stepsPerEpoch * queriesPerStep,
    forwardRowsPerEpoch: stepsPerEpoch === null ? null : stepsPerEpoch * forwardRowsPerStep,
    totalForwardRows,
    estimatedMs,
    notes,
  };
}

/** One trial of a sweep: the run form's cost with the trial's own budget n̄. */
export interface SweepTrialCost {
  budgetPerSample: number;
  queriesPerStep: number;
  forwardRowsPerStep: number;
  totalSteps: number | null;
  totalQueries: number | null;
  totalForwardRows: number | null;
  estimatedMs: number | null;
}

export interface SweepCost {
  trials: SweepTrialCost[];
  /** Sums over the trials (null while any trial's is unknown). */
  totalSteps: number | null;
  totalQueries: number | null;
  totalForwardRows: number | null;
  /** Every trial's time added up: the wall time when they run one at a time, or share the device's throughput. */
  estimatedMs: number | null;
  /** Runs the device trains at once (1: one at a time). */
  concurrency: number;
  /**
   * With concurrency above 1, the wall time if every run kept its measured rate while others train (the queue
   * starts the trials in order as slots free up); null at concurrency 1 or without a rate.
   */
  parallelMs: number | null;
}

const sum = (values: (number | null)[]): number | null =>
  values.some((v) => v === null) ? null : values.reduce<number>((s, v) => s + (v as number), 0);

/**
 * The cost of a sweep's trials: each is the run form's run (`base`) with its own budget n̄ where the sweep varies
 * it (lr, ε, the allocator and the seed do not change the count of queries or rows), so the sums are per trial,
 * not trials × one run. The time uses the same measured rate as one run.
 */
export function sweepCost(
  base: CostInput,
  points: readonly { budget?: number | undefined }[],
  concurrency?: number | null,
): SweepCost {
  const trials = points.map((p): SweepTrialCost => {
    const budgetPerSample = p.budget ?? base.budgetPerSample;
    const c = costPreview({ ...base, budgetPerSample });
    return {
      budgetPerSample,
      queriesPerStep: c.queriesPerStep,
      forwardRowsPerStep: c.forwardRowsPerStep,
      totalSteps: c.totalSteps,
      totalQueries: c.totalSteps === null ? null : c.totalSteps * c.queriesPerStep,
      totalForwardRows: c.totalForwardRows,
      estimatedMs: c.estimatedMs,
    };
  });
  const slots = positive(concurrency) ? Math.floor(concurrency) : 1;
  const estimatedMs = trials.length ? sum(trials.map((t) => t.estimatedMs)) : null;
  let parallelMs: number | null = null;
  if (slots > 1 && estimatedMs !== null) {
    // List scheduling in queue order: each trial starts on the slot that frees up first.
    const ends = Array.from({ length: Math.min(slots, trials.length) }, () => 0);
    for (const t of trials) {
      const i = ends.indexOf(Math.min(...ends));
      ends[i] = (ends[i] as number) + (t.estimatedMs as number);
    }
    parallelMs = Math.max(...ends);
  }
  return {
    trials,
    totalSteps: trials.length ? sum(trials.map((t) => t.totalSteps)) : null,
    totalQueries: trials.length ? sum(trials.map((t) => t.totalQueries)) : null,
    totalForwardRows: trials.length ? sum(trials.map((t) => t.totalForwardRows)) : null,
    estimatedMs,
    concurrency: slots,
    parallelMs,
  };
}

/** One measured group from `system/info` (provider, model, mode, estimator). */
export interface MeasuredThroughput {
  provider: string;
  modelId: number | null;
  mode: string | null;
  estimator: string | null;
  rowsPerSecond: number;
  runs: number;
}

export interface ThroughputPick {
  rowsPerSecond: number;
  /** What the figure was measured on, for the preview's footnote. */
  basis: string;
}

/**
 * The measured rate that fits the run being configured, or null. The trainable mode decides the rate by orders of
 * magnitude (a head on cached prefixes against the full graph), so a group of another mode is never used; within
 * the mode, the same model and estimator and the device runs go to are preferred, newest first (the list order).
 */
export function pickThroughput(
  measured: readonly MeasuredThroughput[],
  want: { provider: string | null; modelId: number | null; mode: string; estimator: string },
): ThroughputPick | null {
  let best: MeasuredThroughput | null = null;
  let bestScore = -1;
  for (const m of measured) {
    if (m.mode !== want.mode || !positive(m.rowsPerSecond)) continue;
    const score =
      (m.modelId === want.modelId ? 4 : 0) +
      (m.estimator === want.estimator ? 2 : 0) +
      (m.provider === want.provider ? 1 : 0);
    if (score > bestScore) {
      best = m;
      bestScore = score;
    }
  }
  if (!best) return null;
  const model = best.modelId === want.modelId ? 'this model' : 'another model';
  const runs = best.runs === 1 ? '1 recent run' : `${best.runs} recent runs`;
  return {
    rowsPerSecond: best.rowsPerSecond,
    basis: `${runs} of ${model}, ${best.mode} mode, ${best.estimator ?? '?'} on ${best.provider}`,
  };
}
