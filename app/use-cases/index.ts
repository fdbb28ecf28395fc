// The handler table: contract names to use-case functions, checked against the contract so a name cannot be
// missing, misspelt or bound to the wrong function. Transports (main/'s IPC wrapper, the loopback server) dispatch
// through invokeHandler and report errors with toBridgeError.
import type { BridgeErrorData, UseCases } from '../contract.ts';
import type { AppContext } from '../context.ts';
import { FlopsError } from '../../engine/errors.ts';
import { datasetSamples, getDataset, importDataset, listDatasets, splitDataset } from './datasets.ts';
import { exportModel } from './export-model.ts';
import { importModel, listModels, modelModes } from './models.ts';
import {
  cancelRun,
  compareRuns,
  createRun,
  deleteRun,
  exportRun,
  getRun,
  listPresets,
  listRuns,
  noteRun,
  pauseRun,
  resumeRun,
  runAllocations,
  runMetrics,
  startRun,
  tagRun,
  validateRun,
} from './runs.ts';
import { getSettings, setSettings } from './settings.ts';
import { createSweep, previewSweep } from './sweeps.ts';
import { ensureBundled, systemInfo } from './system.ts';
import { fieldIssues } from './validate.ts';

export const useCases: UseCases = {
  'dataset/import': importDataset,
  'dataset/list': listDatasets,
  'dataset/get': getDataset,
  'dataset/samples': datasetSamples,
  'dataset/split': splitDataset,
  'model/import': importModel,
  'model/list': listModels,
  'model/modes': modelModes,
  'run/presets': listPresets,
  'run/validate': validateRun,
  'run/create': createRun,
  'run/start': startRun,
  'run/pause': pauseRun,
  'run/resume': resumeRun,
  'run/cancel': cancelRun,
  'run/delete': deleteRun,
  'run/tag': tagRun,
  'run/note': noteRun,
  'run/list': listRuns,
  'run/get': getRun,
  'run/metrics': runMetrics,
  'run/allocations': runAllocations,
  'run/compare': compareRuns,
  'run/export': exportRun,
  'run/export-model': exportModel,
  'sweep/create': createSweep,
  'sweep/preview': previewSweep,
  'system/info': systemInfo,
  'system/bundled': ensureBundled,
  'settings/get': getSettings,
  'settings/set': setSettings,
};

/** The app core's handlers (the contract's shell handlers, the native dialogs, are answered by the transports). */
export const HANDLER_NAMES = Object.keys(useCases) as (keyof UseCases)[];

export class UnknownHandlerError extends FlopsError {
  constructor(readonly handler: string) {
    super('UNKNOWN_HANDLER', `no handler named '${handler}'`);
  }
}

export function isHandlerName(name: string): name is keyof UseCases {
  // Own keys only: 'constructor' or '__proto__' must not reach a prototype function.
  return Object.hasOwn(useCases, name);
}

/** Calls a handler by name with an untrusted argument (each use case validates it). */
export function invokeHandler(ctx: AppContext, name: string, args: unknown): Promise<unknown> {
  if (!isHandlerName(name)) return Promise.reject(new UnknownHandlerError(name));
  const fn = useCases[name] as (ctx: AppContext, args: unknown) => Promise<unknown>;
  return fn(ctx, args ?? {});
}

/** An error as it crosses a transport: name, stable code, message, and every bad field when there are any. */
export function toBridgeError(error: unknown): BridgeErrorData {
  const e = error instanceof Error ? error : new Error(String(error));
  const raw = (e as { code?: unknown }).code;
  const code = typeof raw === 'string' ? raw : 'INTERNAL';
  const issues = fieldIssues(e);
  return { name: e.name, code, message: e.message, ...(issues.length > 0 ? { issues } : {}) };
}
