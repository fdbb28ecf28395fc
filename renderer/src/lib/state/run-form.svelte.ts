// The New-run form: every field, the spec it makes, validation by 'run/validate' (debounced; a stale answer is
// dropped), the live cost preview, presets, and submission (one run, or one per seed as a sweep).
import { errorIssues, errorMessage, issuesOrRoot, type BridgeApi, type FieldIssueData } from '../api.ts';
import {
  costPreview,
  pickThroughput,
  type CostInput,
  type CostPreview,
  type EstimatorKind,
  type MeasuredThroughput,
  type ThroughputPick,
} from '../cost.ts';
import { issuesFor, unplacedIssues, type FormField } from '../field-issues.ts';
import { parseTags } from '../run-table.ts';
import {
  splitSizes,
  type DatasetVersion,
  type Model,
  type ModelModes,
  type Num,
  type Preset,
  type PresetName,
  type RunSpecInput,
  type TrainMode,
} from '../types.ts';

export type AllocatorKind = 'uniform' | 'flops' | 'neyman' | 'bernoulli';
export type ModeKind = TrainMode['kind'];

const VALIDATE_DELAY_MS = 250;

export class RunForm {
  preset = $state<PresetName | ''>('');
  name = $state('');
  modelId = $state<number | null>(null);
  datasetVersionId = $state('');
  evalSplit = $state<'val' | 'test'>('val');
  kShot = $state<Num>(null);
  modeKind = $state<ModeKind>('head');
  loraRank = $state<Num>(4);
  vptPrompts = $state<Num>(4);
  lastK = $state<Num>(1);
  /** The initializers an imported ONNX model trains (mode 'onnx'); set to the model's default set when it loads. */
  onnxTrainable = $state.raw<string[]>([]);
  estimator = $state<EstimatorKind>('spsa');
  allocator = $state<AllocatorKind>('flops');
  flopsLr = $state<Num>(0.01);
  warmupSteps = $state<Num>(20);
  neymanDecay = $state<Num>(0.9);
  budgetPerSample = $state<Num>(10);
  batchSize = $state<Num>(32);
  epochs = $state<Num>(1);
  maxSteps = $state<Num>(null);
  optimizer = $state<'adam' | 'sgd'>('adam');
  lr = $state<Num>(0.01);
  spsaEps = $state<Num>(0.01);
  lrSigma = $state<Num>(0.1);
  seed = $state<Num>(0);
  seeds = $state<Num>(1);
  evalEverySteps = $state<Num>(null);
  tags = $state('');
  notes = $state('');

  issues = $state.raw<FieldIssueData[]>([]);
  warnings = $state.raw<string[]>([]);
  validating = $state(false);
  /** Whether the last validation passed (null before the first answer). */
  valid = $state<boolean | null>(null);
  submitting = $state(false);
  submitError = $state<string | null>(null);
  presets = $state.raw<Preset[]>([]);
  datasets = $state.raw<DatasetVersion[]>([]);
  models = $state.raw<Model[]>([]);
  /** Trainable parameters per mode of the chosen model. */
  modeCounts = $state.raw<ModelModes | null>(null);
  /** Training throughput measured on recent completed runs (`system/info`), and the device runs go to. */
  throughput = $state.raw<MeasuredThroughput[]>([]);
  device = $state<string | null>(null);
  /** Runs the device trains at once (`settings/get`'s effective concurrency); null when unknown. */
  concurrency = $state<number | null>(null);

  readonly #api: BridgeApi;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #sequence = 0;

  constructor(api: BridgeApi) {
    this.#api = api;
  }

  get dataset(): DatasetVersion | undefined {
    return this.datasets.find((d) => d.id === this.datasetVersionId);
  }

  /** Training examples the run will draw from (k-shot caps it at k per class). */
  get trainSize(): number | null {
    const d = this.dataset;
    if (!d) return null;
    const train = splitSizes(d).train;
    return this.kShot && this.kShot > 0 ? Math.min(train, this.kShot * d.classes.length) : train;
  }

  /** The measured rate that fits this run's model, mode and estimator, for the time estimate. */
  get measured(): ThroughputPick | null {
    return pickThroughput(this.throughput, {
      provider: this.device,
      modelId: this.modelId,
      mode: this.modeKind,
      estimator: this.estimator,
    });
  }

  get rowsPerSecond(): number | null {
    return this.measured?.rowsPerSecond ?? null;
  }

  /** What the cost preview counts, for one run with these fields (a sweep's trials change only n̄). */
  get costInput(): CostInput {
    return {
      estimator: this.estimator,
      budgetPerSample: this.budgetPerSample ?? 0,
      batchSize: this.batchSize ?? 0,
      epochs: this.epochs ?? 1,
      maxSteps: this.maxSteps,
      trainSize: this.trainSize,
      rowsPerSecond: this.rowsPerSecond,
    };
  }

  get cost(): CostPreview {
    return costPreview(this.costInput);
  }

  get mode(): Record<string, unknown> {
    switch (this.modeKind) {
      case 'lora':
        return { kind: 'lora', rank: this.loraRank, alpha: 2 * (this.loraRank ?? 4) };
      case 'vpt':
        return { kind: 'vpt', prompts: this.vptPrompts };
      case 'last-k':
        return { kind: 'last-k', k: this.lastK };
      case 'onnx':
        return { kind: 'onnx', trainable: this.onnxTrainable };
      default:
        return { kind: this.modeKind };
    }
  }

  get allocatorSpec(): Record<string, unknown> {
    switch (this.allocator) {
      case 'flops':
        return { kind: 'flops', lr: this.flopsLr, warmupSteps: this.warmupSteps };
      case 'neyman':
        return { kind: 'neyman', decay: this.neymanDecay };
      default:
        return { kind: this.allocator };
    }
  }

  /** The run spec the fields make. Values are passed as they are, so the validator names whatever is wrong. */
  get spec(): RunSpecInput {
    const train: Record<string, unknown> = {
      seed: this.seed,
      estimator: this.estimator,
      allocator: this.allocatorSpec,
      budgetPerSample: this.budgetPerSample,
      batchSize: this.batchSize,
      epochs: this.epochs,
      optimizer: { kind: this.optimizer, lr: this.lr },
    };
    if (this.estimator === 'lr') train.lrSigma = this.lrSigma;
    else train.spsaEps = this.spsaEps;
    if (this.maxSteps !== null) train.maxSteps = this.maxSteps;
    if (this.evalEverySteps !== null) train.evalEverySteps = this.evalEverySteps;
    const spec: Record<string, unknown> = {
      modelId: this.modelId,
      datasetVersionId: this.datasetVersionId,
      mode: this.mode,
      evalSplit: this.evalSplit,
      train,
      tags: parseTags(this.tags),
      notes: this.notes,
    };
    if (this.name.trim()) spec.name = this.name.trim();
    if (this.kShot !== null) spec.kShot = this.kShot;
    return spec as RunSpecInput;
  }

  /** Form-level issues that no validator call reports (the seeds count lives only in this form). */
  get localIssues(): FieldIssueData[] {
    const s = this.seeds;
    if (s === null || !Number.isInteger(s) || s < 1 || s > 50) {
      return [{ field: 'seeds', message: 'must be a whole number from 1 to 50' }];
    }
    return [];
  }

  get allIssues(): FieldIssueData[] {
    return [...this.localIssues, ...this.issues];
  }

  issuesFor(field: FormField): string[] {
    return issuesFor(this.allIssues, field);
  }

  get unplaced(): string[] {
    return unplacedIssues(this.allIssues);
  }

  async load(): Promise<void> {
    const [presets, datasets, models, system, settings] = await Promise.all([
      this.#api.invoke('run/presets', {}).catch(() => [] as Preset[]),
      this.#api.invoke('dataset/list', {}).catch(() => [] as DatasetVersion[]),
      this.#api.invoke('model/list', {}).catch(() => [] as Model[]),
      this.#api.invoke('system/info', {}).catch(() => null),
      this.#api.invoke('settings/get', {}).catch(() => null),
    ]);
    this.presets = presets;
    this.datasets = datasets;
    this.models = models;
    if (!this.datasetVersionId && datasets[0]) this.datasetVersionId = datasets[0].id;
    this.datasetChanged();
    const trainable = models.find((m) => m.kind === 'hf-vit') ?? models[0];
    if (this.modelId === null && trainable) this.modelId = trainable.id;
    this.throughput = system?.throughput ?? [];
    this.device = system?.queue.device ?? null;
    this.concurrency = settings?.effective.concurrency ?? null;
  }

  /** Images per split of the chosen dataset. */
  get splitSizes(): { train: number; val: number; test: number } | null {
    const d = this.dataset;
    return d ? splitSizes(d) : null;
  }

  /** After a dataset is chosen: evaluate on the test split when it has no validation split. */
  datasetChanged(): void {
    const sizes = this.splitSizes;
    if (sizes && sizes[this.evalSplit] === 0) {
      const other = this.evalSplit === 'val' ? 'test' : 'val';
      if (sizes[other] > 0) this.evalSplit = other;
    }
  }

  /** Loads the chosen model's per-mode parameter counts (for the mode picker), for the dataset's classes. */
  async loadModeCounts(): Promise<void> {
    const id = this.modelId;
    if (id === null) {
      this.modeCounts = null;
      return;
    }
    const numClasses = this.dataset?.classes.length;
    try {
      const counts = await this.#api.invoke('model/modes', { id, ...(numClasses ? { numClasses } : {}) });
      if (this.modelId !== id) return;
      this.modeCounts = counts;
      if (counts.onnx) {
        // An ONNX model trains named initializers; keep a choice that fits this model (an earlier run's), else
        // start from its default set (the logits layer), which is also the only set LR can train.
        const names = counts.onnx.initializers.map((i) => i.name);
        const fits = this.onnxTrainable.length > 0 && this.onnxTrainable.every((n) => names.includes(n));
        if (!fits) this.onnxTrainable = counts.onnx.defaultTrainable;
        this.modeKind = 'onnx';
      } else if (this.modeKind === 'onnx') {
        this.modeKind = 'head';
      }
    } catch {
      if (this.modelId === id) this.modeCounts = null;
    }
  }

  /** The chosen model's initializers and default trainable set, when it is an imported ONNX model. */
  get onnx(): NonNullable<ModelModes['onnx']> | null {
    return this.modeCounts?.onnx ?? null;
  }

  /**
   * Whether the checked initializers are exactly the logits layer (the head case): the only set LR can train, as
   * its noise goes on the logits (app/runs/onnx-plan.ts refuses LR otherwise).
   */
  get onnxHeadOnly(): boolean {
    const head = this.onnx?.defaultTrainable ?? [];
    const chosen = this.onnxTrainable;
    return (
      head.length > 0 &&
      chosen.length === head.length &&
      chosen.every((n, i) => chosen.indexOf(n) === i) &&
      head.every((n) => chosen.includes(n))
    );
  }

  /** Whether the LR estimator can train the chosen mode. */
  get lrAllowed(): boolean {
    return this.modeKind !== 'onnx' || this.onnxHeadOnly;
  }

  toggleInitializer(name: string): void {
    const on = this.onnxTrainable.includes(name);
    // Kept in the model's order, which is θ order for the run.
    const order = this.onnx?.initializers.map((i) => i.name) ?? [];
    this.onnxTrainable = on
      ? this.onnxTrainable.filter((n) => n !== name)
      : order.filter((n) => n === name || this.onnxTrainable.includes(n));
  }

  resetTrainable(): void {
    this.onnxTrainable = this.onnx?.defaultTrainable ?? [];
  }

  /** Trainable parameters of the chosen mode, when known. */
  get trainableParams(): number | null {
    if (this.modeKind === 'onnx') {
      const onnx = this.onnx;
      if (!onnx) return null;
      // The head case counts the (possibly new) head the run makes; any other set is the initializers' sizes.
      if (this.onnxHeadOnly) return this.modeCounts?.modes[0]?.trainable ?? null;
      return onnx.initializers
        .filter((i) => this.onnxTrainable.includes(i.name))
        .reduce((s, i) => s + i.size, 0);
    }
    return this.modeCounts?.modes.find((m) => m.mode.kind === this.modeKind)?.trainable ?? null;
  }

  /** Sets the fields a preset (or an earlier run's spec) gives; fields it leaves out keep their values. */
  applySpec(spec: Partial<RunSpecInput> & { train?: unknown }): void {
    const mode = spec.mode as Record<string, unknown> | undefined;
    if (mode?.kind) {
      this.modeKind = mode.kind as ModeKind;
      if (typeof mode.rank === 'number') this.loraRank = mode.rank;
      if (typeof mode.prompts === 'number') this.vptPrompts = mode.prompts;
      if (typeof mode.k === 'number') this.lastK = mode.k;
      if (Array.isArray(mode.trainable)) this.onnxTrainable = mode.trainable.map(String);
    }
    if (typeof spec.modelId === 'number') this.modelId = spec.modelId;
    if (typeof spec.datasetVersionId === 'string') this.datasetVersionId = spec.datasetVersionId;
    if (spec.evalSplit) this.evalSplit = spec.evalSplit;
    if (typeof spec.kShot === 'number') this.kShot = spec.kShot;
    const t = (spec.train ?? {}) as Record<string, unknown>;
    const num = (v: unknown): number | undefined => (typeof v === 'number' ? v : undefined);
    if (t.estimator === 'spsa' || t.estimator === 'lr' || t.estimator === 'es') this.estimator = t.estimator;
    const alloc = t.allocator as Record<string, unknown> | undefined;
    if (alloc?.kind) {
      this.allocator = alloc.kind as AllocatorKind;
      this.flopsLr = num(alloc.lr) ?? this.flopsLr;
      this.warmupSteps = num(alloc.warmupSteps) ?? this.warmupSteps;
      this.neymanDecay = num(alloc.decay) ?? this.neymanDecay;
    }
    const opt = t.optimizer as Record<string, unknown> | undefined;
    if (opt?.kind === 'adam' || opt?.kind === 'sgd') this.optimizer = opt.kind;
    this.lr = num(opt?.lr) ?? this.lr;
    this.budgetPerSample = num(t.budgetPerSample) ?? this.budgetPerSample;
    this.batchSize = num(t.batchSize) ?? this.batchSize;
    this.epochs = num(t.epochs) ?? this.epochs;
    this.maxSteps = num(t.maxSteps) ?? this.maxSteps;
    this.spsaEps = num(t.spsaEps) ?? this.spsaEps;
    this.lrSigma = num(t.lrSigma) ?? this.lrSigma;
    this.seed = num(t.seed) ?? this.seed;
    this.evalEverySteps = num(t.evalEverySteps) ?? this.evalEverySteps;
  }

  choosePreset(name: PresetName | ''): void {
    this.preset = name;
    const preset = this.presets.find((p) => p.name === name);
    if (!preset) return;
    this.applySpec(preset.spec as Partial<RunSpecInput>);
    // An imported ONNX model trains named initializers (its mode picker is hidden): a head preset means its
    // logits layer; any other preset's mode cannot apply, and the form shows the preset as modified.
    if (this.onnx) {
      if (this.modeKind === 'head') this.resetTrainable();
      this.modeKind = 'onnx';
    }
  }

  /** The chosen preset's definition, if any. */
  get presetSpec(): Preset | undefined {
    return this.presets.find((p) => p.name === this.preset);
  }

  /**
   * The fields the chosen preset sets whose values the form no longer has ('train.estimator'), in the preset's
   * order; empty when no preset is chosen or the form still matches it. A field the form does not send (LoRA
   * targets, σ once the estimator is SPSA) is not counted: the run gets the same default either way, or another
   * field already differs. On an ONNX model a head preset's mode is the logits layer alone.
   */
  get presetChanges(): string[] {
    const preset = this.presetSpec;
    if (!preset) return [];
    const want = preset.spec as Record<string, unknown>;
    const have = this.spec as unknown as Record<string, unknown>;
    const changes: string[] = [];
    for (const key of Object.keys(want)) {
      if (key === 'mode' && this.modeKind === 'onnx' && (want.mode as { kind?: string }).kind === 'head') {
        if (!this.onnxHeadOnly) changes.push('mode');
        continue;
      }
      differingFields(want[key], have[key], key, changes);
    }
    return changes;
  }

  get presetModified(): boolean {
    return this.presetChanges.length > 0;
  }

  /**
   * The preset named in run/validate, run/create and sweep/create: only while the form still matches it, so a run
   * whose fields were changed after choosing a preset does not claim it (its requested config, its default name).
   */
  get presetArg(): { preset?: PresetName } {
    return this.preset && !this.presetModified ? { preset: this.preset } : {};
  }

  /** Prefills from an earlier run (its requested spec), for "run again with changes". */
  async loadFrom(runId: number): Promise<void> {
    try {
      const details = await this.#api.invoke('run/get', { id: runId, events: 0 });
      const requested = (details.run.requestedConfig ?? {}) as Partial<RunSpecInput>;
      this.applySpec(requested);
      this.name = `${details.run.name} (copy)`;
    } catch (error) {
      this.submitError = errorMessage(error);
    }
  }

  /** Validates after a short pause in typing; an older answer never overwrites a newer one. */
  requestValidation(): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => void this.validate(), VALIDATE_DELAY_MS);
  }

  async validate(): Promise<boolean> {
    clearTimeout(this.#timer);
    const sequence = ++this.#sequence;
    this.validating = true;
    try {
      const result = await this.#api.invoke('run/validate', { spec: this.spec, ...this.presetArg });
      if (sequence !== this.#sequence) return false;
      this.issues = result.ok ? [] : result.issues;
      this.warnings = result.ok ? result.warnings : [];
      this.valid = result.ok && this.localIssues.length === 0;
    } catch (error) {
      if (sequence !== this.#sequence) return false;
      this.issues = issuesOrRoot(error);
      this.valid = false;
    } finally {
      if (sequence === this.#sequence) this.validating = false;
    }
    return this.valid === true;
  }

  /** Creates the run (or one per seed, as a sweep); returns the new run ids, or [] when it failed. */
  async submit(): Promise<number[]> {
    this.submitError = null;
    if (!(await this.validate())) return [];
    this.submitting = true;
    try {
      const seeds = this.seeds ?? 1;
      if (seeds > 1) {
        const first = this.seed ?? 0;
        const sweep = await this.#api.invoke('sweep/create', {
          base: this.spec,
          ...this.presetArg,
          grid: { seed: Array.from({ length: seeds }, (_, i) => first + i) },
          ...(this.name.trim() ? { name: this.name.trim().slice(0, 64) } : {}),
        });
        return sweep.runs.map((r) => r.id);
      }
      const run = await this.#api.invoke('run/create', { spec: this.spec, ...this.presetArg });
      return [run.id];
    } catch (error) {
      const issues = errorIssues(error);
      if (issues.length) this.issues = issues;
      this.submitError = errorMessage(error);
      return [];
    } finally {
      this.submitting = false;
    }
  }

  dispose(): void {
    clearTimeout(this.#timer);
    this.#sequence++;
  }
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** Adds to `out` the paths of `want`'s leaves that `have` holds with another value (undefined: not sent, skipped). */
function differingFields(want: unknown, have: unknown, path: string, out: string[]): void {
  if (have === undefined) return;
  if (isObject(want)) {
    if (!isObject(have)) {
      out.push(path);
      return;
    }
    for (const key of Object.keys(want)) differingFields(want[key], have[key], `${path}.${key}`, out);
    return;
  }
  if (JSON.stringify(want) !== JSON.stringify(have)) out.push(path);
}
