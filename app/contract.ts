// The contract between the app layer and its transports (Electron IPC through the preload, the loopback HTTP/WS
// server, the CLI): handler names `domain/verb`, with argument and result types derived from the use-case functions
// (conventions 1), and the events pushed to subscribers.
//
// This module is types only and imports nothing but types, so the renderer may `import type` from it without any
// Node module reaching the browser bundle. Every handler takes ONE plain JSON argument object and resolves to JSON
// (no typed arrays, Maps, Dates or undefined in arrays): the same call works over IPC, HTTP and in-process.
import type { AppContext } from './context.ts';
import type { RunStatus } from './db/runs.ts';
import type { RunProgress } from './runs/execute.ts';
import type {
  datasetSamples,
  getDataset,
  importDataset,
  listDatasets,
  splitDataset,
} from './use-cases/datasets.ts';
import type { exportModel } from './use-cases/export-model.ts';
import type { importModel, listModels, modelModes } from './use-cases/models.ts';
import type {
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
} from './use-cases/runs.ts';
import type { getSettings, setSettings } from './use-cases/settings.ts';
import type { createSweep, previewSweep } from './use-cases/sweeps.ts';
import type { ensureBundled, systemInfo } from './use-cases/system.ts';

/** The use cases as app/ implements them: `(ctx, args) => Promise<result>`. */
export interface UseCases {
  'dataset/import': typeof importDataset;
  'dataset/list': typeof listDatasets;
  'dataset/get': typeof getDataset;
  /** A page of PNG thumbnails from the cache, optionally of one split and class. */
  'dataset/samples': typeof datasetSamples;
  /** A new version of the same images with another stratified split (shared cache, its own id). */
  'dataset/split': typeof splitDataset;
  'model/import': typeof importModel;
  'model/list': typeof listModels;
  /** Trainable parameter counts per mode. */
  'model/modes': typeof modelModes;
  'run/presets': typeof listPresets;
  /** Issues by field instead of an error, for forms. */
  'run/validate': typeof validateRun;
  'run/create': typeof createRun;
  'run/start': typeof startRun;
  'run/pause': typeof pauseRun;
  'run/resume': typeof resumeRun;
  'run/cancel': typeof cancelRun;
  'run/delete': typeof deleteRun;
  'run/tag': typeof tagRun;
  'run/note': typeof noteRun;
  'run/list': typeof listRuns;
  'run/get': typeof getRun;
  /** Down-sampled chart series of several runs; x = step | queries | forwardRows | wall. */
  'run/metrics': typeof runMetrics;
  /** One run's allocations: latest step, histogram of counts, per-step stats and a heatmap matrix. */
  'run/allocations': typeof runAllocations;
  /** Summary table plus config diff. */
  'run/compare': typeof compareRuns;
  /** JSON document or metrics CSV, as text. */
  'run/export': typeof exportRun;
  /** The trained model (latest checkpoint) as standalone ONNX or an HF folder. */
  'run/export-model': typeof exportModel;
  'sweep/create': typeof createSweep;
  /** What sweep/create would create for the same arguments (the random draws too) and its issues; creates nothing. */
  'sweep/preview': typeof previewSweep;
  'system/info': typeof systemInfo;
  /** Registers the bundled demo model and dataset. */
  'system/bundled': typeof ensureBundled;
  /** Stored and effective provider order, threads and concurrency; the provider that ran the last run. */
  'settings/get': typeof getSettings;
  /** Stores and applies them (null: automatic); every bad field is named. */
  'settings/set': typeof setSettings;
}

/** A native open dialog's options (main/dialogs.ts validates them with zod). */
export interface OpenDialogArgs {
  title?: string;
  defaultPath?: string;
}
export interface OpenFileDialogArgs extends OpenDialogArgs {
  filters?: { name: string; extensions: string[] }[];
}
/** Whether this transport can show native dialogs; when not, `reason` says why (the UI shows a path field). */
export type DialogAvailability = { available: true } | { available: false; reason: string };
/** The chosen path (null: the user cancelled), or why no dialog can be shown here. */
export type DialogResult = { available: true; path: string | null } | { available: false; reason: string };

/**
 * Handlers the shell answers itself rather than app/'s use cases: Electron's main process shows native dialogs
 * (main/dialogs.ts); `flops serve` answers that a browser has none (app/server), so the renderer feature-detects
 * with `dialog/available` and never calls a handler that cannot work.
 */
export interface ShellHandlers {
  'dialog/available': (args: Record<string, never>) => Promise<DialogAvailability>;
  'dialog/open-folder': (args: OpenDialogArgs) => Promise<DialogResult>;
  'dialog/open-file': (args: OpenFileDialogArgs) => Promise<DialogResult>;
}
export type ShellHandlerName = keyof ShellHandlers;

/** A use case as a transport exposes it: the context is bound, one argument object remains. */
type Bound<F> = F extends (ctx: AppContext, args: infer A) => Promise<infer R>
  ? (args: A) => Promise<R>
  : never;

export type Handlers = { [K in keyof UseCases]: Bound<UseCases[K]> } & ShellHandlers;
export type HandlerName = keyof Handlers;
export type HandlerArgs<K extends HandlerName> = Parameters<Handlers[K]>[0];
export type HandlerResult<K extends HandlerName> = Awaited<ReturnType<Handlers[K]>>;

/** What subscribers are pushed. */
export interface Events {
  /** At most ~20 per second per run; the last step always arrives. */
  'run/progress': RunProgress;
  /** Every status change the queue makes or sees (queued, running, paused, completed, failed, ...). */
  'run/status': { runId: number; status: RunStatus; error?: string };
  'dataset/import-progress': { importId: string; name?: string; done: number; total: number };
}
export type EventName = keyof Events;

/** One bad field of an argument or config. */
export interface FieldIssueData {
  field: string;
  message: string;
}

/**
 * How a failed call arrives on the other side of a transport: `code` is FlopsError's stable code (ARGS_INVALID,
 * CONFIG_INVALID, NOT_FOUND, RUN_NOT_FOUND, RUN_STATE, ...); `issues` lists every bad field when there are any.
 */
export interface BridgeErrorData {
  name: string;
  code: string;
  message: string;
  issues?: FieldIssueData[];
}

/** The whole surface the renderer sees (window.api in Electron, the HTTP client in a browser). */
export interface BridgeApi {
  /** Rejects with an Error carrying BridgeErrorData's fields. */
  invoke<K extends HandlerName>(name: K, args: HandlerArgs<K>): Promise<HandlerResult<K>>;
  /** Subscribes; returns the unsubscribe function. */
  on<E extends EventName>(name: E, listener: (payload: Events[E]) => void): () => void;
}
