// The New-run page's sweep: a grid or N random trials over lr, eps, budget, allocator and run seed, on top of the
// run form's spec. The preview comes from the core ('sweep/preview': the same expansion and checks as
// 'sweep/create'), so a random sweep's table lists exactly the trials that get created; launching sends the same
// arguments (and the preview's name when none was typed, so even the run names match).
import {
  errorIssues,
  errorMessage,
  issuesOrRoot,
  type BridgeApi,
  type FieldIssueData,
  type HandlerArgs,
  type HandlerResult,
} from '../api.ts';
import { sweepCost, type SweepCost } from '../cost.ts';
import type { Num } from '../types.ts';
import type { RunForm } from './run-form.svelte.ts';
import type { AllocatorKind } from './run-form.svelte.ts';

export type SweepKind = 'grid' | 'random';
export type SweepDimension = 'lr' | 'eps' | 'budget' | 'seed';
export type SweepField = SweepDimension | 'allocator' | 'trials' | 'sweepSeed' | 'name';
export type SweepPreview = HandlerResult<'sweep/preview'>;
export type SweepArgs = HandlerArgs<'sweep/create'>;
export type SweepPoint = SweepPreview['points'][number];

export const SWEEP_DIMENSIONS: readonly SweepDimension[] = ['lr', 'eps', 'budget', 'seed'];
export const ALLOCATOR_KINDS: readonly AllocatorKind[] = ['uniform', 'flops', 'neyman', 'bernoulli'];
const FIELDS: readonly SweepField[] = [...SWEEP_DIMENSIONS, 'allocator', 'trials', 'sweepSeed', 'name'];

type Dim = number[] | { min: number; max: number };

const PREVIEW_DELAY_MS = 300;

/**
 * One dimension's text: '' (not swept), a list '0.001, 0.01' (commas or spaces), or for random search a range
 * '1e-4:1e-1'. Only the syntax is checked here; the core judges the values (positive, integer, min ≤ max).
 */
export function parseDimension(
  text: string,
  kind: SweepKind,
): { value?: Dim; error?: undefined } | { value?: undefined; error: string } {
  const t = text.trim();
  if (t === '') return {};
  const num = (s: string): number | string => {
    const n = Number(s.trim());
    return s.trim() !== '' && Number.isFinite(n) ? n : `'${s.trim()}' is not a number`;
  };
  const range = t.match(/^([^:]+):([^:]+)$/);
  if (range) {
    if (kind === 'grid')
      return { error: 'a grid takes a list of values (a, b, c); ranges are for random search' };
    const [min, max] = [num(range[1] as string), num(range[2] as string)];
    if (typeof min === 'string') return { error: min };
    if (typeof max === 'string') return { error: max };
    return { value: { min, max } };
  }
  const values = t
    .split(/[\s,]+/)
    .filter(Boolean)
    .map(num);
  const bad = values.find((v) => typeof v === 'string');
  if (bad !== undefined) return { error: bad as string };
  return { value: values as number[] };
}

/** Which form field a core issue belongs to: 'random.lr.min' → lr, 'grid.allocator.0' → allocator. */
export function sweepFieldOf(field: string): SweepField | null {
  const m = field.match(/^(?:random|grid)\.([A-Za-z]+)/);
  const key = m ? m[1] : field;
  return FIELDS.includes(key as SweepField) ? (key as SweepField) : null;
}

export class SweepForm {
  kind = $state<SweepKind>('random');
  name = $state('');
  trials = $state<Num>(8);
  sweepSeed = $state<Num>(0);
  lr = $state('');
  eps = $state('');
  budget = $state('');
  seed = $state('');
  allocators = $state.raw<AllocatorKind[]>([]);

  preview = $state.raw<SweepPreview | null>(null);
  /** Issues of the arguments (ARGS_INVALID from the core, or the syntax checks here), by field. */
  issues = $state.raw<FieldIssueData[]>([]);
  previewing = $state(false);
  launching = $state(false);
  launchError = $state<string | null>(null);

  readonly #api: BridgeApi;
  readonly #run: RunForm;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #sequence = 0;

  constructor(api: BridgeApi, run: RunForm) {
    this.#api = api;
    this.#run = run;
  }

  /** Syntax issues of the dimension texts and counts (what cannot even be sent). */
  get localIssues(): FieldIssueData[] {
    const issues: FieldIssueData[] = [];
    for (const key of SWEEP_DIMENSIONS) {
      const parsed = parseDimension(this[key], this.kind);
      if (parsed.error) issues.push({ field: key, message: parsed.error });
    }
    if (this.kind === 'random') {
      if (this.trials === null) issues.push({ field: 'trials', message: 'enter how many runs' });
      if (this.sweepSeed === null) issues.push({ field: 'sweepSeed', message: 'enter a whole number' });
    }
    return issues;
  }

  issuesFor(field: SweepField): string[] {
    // A syntax issue is about the text as it is now; the core's answer was about an earlier text.
    const pick = (issues: FieldIssueData[]) =>
      issues.filter((i) => sweepFieldOf(i.field) === field).map((i) => i.message);
    const local = pick(this.localIssues);
    return local.length > 0 ? local : pick(this.issues);
  }

  /** Issues on no field here (e.g. "declare at least one of lr, eps, ..."). */
  get otherIssues(): string[] {
    return this.issues
      .filter((i) => sweepFieldOf(i.field) === null)
      .map((i) => (/^(random|grid|\(root\))$/.test(i.field) ? i.message : `${i.field}: ${i.message}`));
  }

  /**
   * The preview's refusals by trial: 'runs[2] (lr=...).train.budgetPerSample' → row 2, "train.budgetPerSample:
   * must be even". The run form's own issues are left out (they are shown on its fields, once).
   */
  get rowIssues(): Record<number, string[]> {
    const out: Record<number, string[]> = {};
    for (const issue of this.preview?.issues ?? []) {
      const m = issue.field.match(/^runs\[(\d+)\] \([^)]*\)\.(.*)$/);
      if (!m) continue;
      const row = Number(m[1]);
      out[row] = [...(out[row] ?? []), `${m[2]}: ${issue.message}`];
    }
    return out;
  }

  /** The arguments of sweep/preview and sweep/create (null while a field cannot be sent). */
  get args(): SweepArgs {
    const dims: Record<string, unknown> = {};
    for (const key of SWEEP_DIMENSIONS) {
      const parsed = parseDimension(this[key], this.kind);
      if (parsed.value !== undefined) dims[key] = parsed.value;
    }
    if (this.allocators.length > 0) dims.allocator = this.allocators;
    const common = {
      base: this.#run.spec,
      ...this.#run.presetArg,
      ...(this.name.trim() ? { name: this.name.trim() } : {}),
    };
    // Values go as typed (null trials included): the core names whatever is wrong, as for the run form.
    return (
      this.kind === 'grid'
        ? { kind: 'grid', ...common, grid: dims }
        : { kind: 'random', ...common, random: { trials: this.trials, sweepSeed: this.sweepSeed, ...dims } }
    ) as SweepArgs;
  }

  /**
   * What the previewed trials cost, each with its own budget n̄, and in all; null until there is a preview. The
   * time uses the run form's measured rate and the device's runs at once.
   */
  get cost(): SweepCost | null {
    const points = this.preview?.points ?? [];
    if (points.length === 0) return null;
    return sweepCost(this.#run.costInput, points, this.#run.concurrency);
  }

  /** A stable key of the arguments, to re-preview when any of them changes. */
  get key(): string {
    return JSON.stringify(this.args);
  }

  /** The value a trial runs with: the swept one, else the run form's. */
  valueOf(point: SweepPoint, key: SweepDimension | 'allocator'): number | string | null {
    const v = point[key];
    if (v !== undefined) return v;
    const r = this.#run;
    switch (key) {
      case 'lr':
        return r.lr;
      case 'eps':
        return r.estimator === 'lr' ? r.lrSigma : r.spsaEps;
      case 'budget':
        return r.budgetPerSample;
      case 'seed':
        return r.seed;
      case 'allocator':
        return r.allocator;
    }
  }

  toggleAllocator(kind: AllocatorKind): void {
    this.allocators = this.allocators.includes(kind)
      ? this.allocators.filter((k) => k !== kind)
      : ALLOCATOR_KINDS.filter((k) => k === kind || this.allocators.includes(k));
  }

  requestPreview(): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => void this.refreshPreview(), PREVIEW_DELAY_MS);
  }

  /** Asks the core what the sweep would create; an older answer never overwrites a newer one. */
  async refreshPreview(): Promise<boolean> {
    clearTimeout(this.#timer);
    const sequence = ++this.#sequence;
    if (this.localIssues.length > 0) {
      this.issues = [];
      this.preview = null;
      return false;
    }
    this.previewing = true;
    try {
      const preview = await this.#api.invoke('sweep/preview', this.args);
      if (sequence !== this.#sequence) return false;
      this.preview = preview;
      // Trials' issues stay with the preview (rowIssues); the arguments' go under their fields.
      this.issues = preview.issues.filter((i) => !i.field.startsWith('runs['));
      return preview.issues.length === 0 && preview.points.length > 0;
    } catch (error) {
      if (sequence !== this.#sequence) return false;
      this.issues = issuesOrRoot(error);
      this.preview = null;
      return false;
    } finally {
      if (sequence === this.#sequence) this.previewing = false;
    }
  }

  /** Creates and queues the sweep's runs; resolves to its tag, or null when it was refused. */
  async launch(): Promise<{ tag: string; ids: number[] } | null> {
    this.launchError = null;
    if (!(await this.refreshPreview())) {
      this.launchError = 'Fix the sweep (or the run settings) first.';
      return null;
    }
    this.launching = true;
    try {
      // The preview's name when none was typed: the default is a timestamp, and the runs should be the ones shown.
      const name = this.name.trim() || this.preview?.name;
      const sweep = await this.#api.invoke('sweep/create', {
        ...this.args,
        ...(name ? { name } : {}),
        start: true,
      });
      return { tag: sweep.tag, ids: sweep.runs.map((r) => r.id) };
    } catch (error) {
      const issues = errorIssues(error);
      if (issues.length) this.issues = issues;
      this.launchError = errorMessage(error);
      return null;
    } finally {
      this.launching = false;
    }
  }

  dispose(): void {
    clearTimeout(this.#timer);
    this.#sequence++;
  }
}
