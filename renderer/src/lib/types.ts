// Names for the contract's types as the pages use them, all derived from app/contract.ts (never written twice).
import type { Events, HandlerArgs, HandlerResult } from './api.ts';

export type DatasetVersion = HandlerResult<'dataset/list'>[number];
export type ImportResult = HandlerResult<'dataset/import'>;
export type ImportProgress = Events['dataset/import-progress'];
export type Model = HandlerResult<'model/list'>[number];
export type ModelModes = HandlerResult<'model/modes'>;
export type TrainMode = ModelModes['modes'][number]['mode'];
export type Preset = HandlerResult<'run/presets'>[number];
export type PresetName = NonNullable<HandlerArgs<'run/validate'>['preset']>;
export type RunSpecInput = HandlerArgs<'run/validate'>['spec'];
export type ValidateResult = HandlerResult<'run/validate'>;
export type RunSummary = HandlerResult<'run/list'>[number];
export type RunStats = RunSummary['stats'];
export type RunDetails = HandlerResult<'run/get'>;
export type Run = RunDetails['run'];
export type RunStatus = Run['status'];
export type RunMetrics = HandlerResult<'run/metrics'>;
export type MetricSeries = RunMetrics['series'][number];
export type XAxisName = RunMetrics['x'];
export type RunAllocations = HandlerResult<'run/allocations'>;
export type RunComparison = HandlerResult<'run/compare'>;
export type CompareRow = RunComparison['runs'][number];
export type SystemInfo = HandlerResult<'system/info'>;
export type RunProgress = Events['run/progress'];
export type RunStatusEvent = Events['run/status'];

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
export type DatasetSamplesPage = HandlerResult<'dataset/samples'>;
export type DatasetSample = DatasetSamplesPage['samples'][number];
export type ModelExport = HandlerResult<'run/export-model'>;
