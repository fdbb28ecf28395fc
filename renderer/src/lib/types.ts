// Names for the contract's types as the pages use them, all derived from app/contract.ts (never written twice).
import type { Events, HandlerArgs, HandlerResult } from './api.ts';

export type DatasetVersion = HandlerResult<'dataset/list'>[number];
export type ImportResult = HandlerResult<'dataset/import'>;
export type Model = HandlerResult<'model/list'>[number];
export type ModelModes = HandlerResult<'model/modes'>;
export type TrainMode = ModelModes['modes'][number]['mode'];
export type Preset = HandlerResult<'run/presets'>[number];
export type PresetName = NonNullable<HandlerArgs<'run/validate'>['preset']>;
export type RunSpecInput = HandlerArgs<'run/validate'>['spec'];
export type RunSummary = HandlerResult<'run/list'>[number];
export type RunDetails = HandlerResult<'run/get'>;
export type Run = RunDetails['run'];
export type RunStatus = Run['status'];
export type RunMetrics = HandlerResult<'run/metrics'>;
export type XAxisName = RunMetrics['x'];
export type RunAllocations = HandlerResult<'run/allocations'>;
export type RunComparison = HandlerResult<'run/compare'>;
export type SystemInfo = HandlerResult<'system/info'>;
export type RunProgress = Events['run/progress'];

/** A number input's value: Svelte binds an empty number input to null. */
export type Num = number | null;

/** Statuses in which a run may still change. */
export const LIVE_STATUSES: readonly RunStatus[] = ['queued', 'running', 'paused', 'interrupted'];

/** Per split counts and per class counts, as the importer stores them on a dataset version. */
export interface SplitCounts {
  counts: Partial<Record<'train' | 'val' | 'test', number>>;
  perClass: Partial<Record<'train' | 'val' | 'test', number[]>>;
}

export function splitCounts(v: DatasetVersion): SplitCounts {
  const raw = (v.splitCounts ?? {}) as Partial<SplitCounts>;
  return { counts: raw.counts ?? {}, perClass: raw.perClass ?? {} };
}

/** Images per split of a dataset version (0 for a split it lacks). */
export function splitSizes(v: DatasetVersion): { train: number; val: number; test: number } {
  const c = splitCounts(v).counts;
  return { train: c.train ?? 0, val: c.val ?? 0, test: c.test ?? 0 };
}

export type DatasetSamplesPage = HandlerResult<'dataset/samples'>;
export type DatasetSample = DatasetSamplesPage['samples'][number];
export type ModelExport = HandlerResult<'run/export-model'>;
