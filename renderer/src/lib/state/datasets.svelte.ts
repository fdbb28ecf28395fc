// The Datasets page's source of truth: the stored dataset versions, one import in flight (with its progress
// events) and the report of the last import, including the files it skipped and why.
import { errorMessage, type BridgeApi } from '../api.ts';
import type { DatasetVersion, ImportResult } from '../types.ts';

export interface SkippedFile {
  path: string;
  code: string;
  message: string;
}

export interface ImportReportView {
  result: ImportResult;
  skipped: SkippedFile[];
  notes: SkippedFile[];
}

export function newImportId(): string {
  const c = globalThis.crypto as Crypto | undefined;
  if (c && typeof c.randomUUID === 'function') return c.randomUUID();
  return `import-${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
}

/** The per-file lists of a stored import report (JSON in the store; tolerant of older shapes). */
export function reportLists(report: unknown): { skipped: SkippedFile[]; notes: SkippedFile[] } {
  const r = (report ?? {}) as { skipped?: unknown; notes?: unknown };
  const list = (v: unknown): SkippedFile[] =>
    Array.isArray(v)
      ? v
          .filter((x): x is SkippedFile => typeof x === 'object' && x !== null && 'path' in x)
          .map((x) => ({
            path: String(x.path),
            code: String(x.code ?? ''),
            message: String(x.message ?? ''),
          }))
      : [];
  return { skipped: list(r.skipped), notes: list(r.notes) };
}

export class DatasetsState {
  list = $state.raw<DatasetVersion[]>([]);
  loading = $state(false);
  error = $state<string | null>(null);
  selectedId = $state<string | null>(null);
  /** The import in flight: its id and progress. */
  importing = $state.raw<{ importId: string; path: string; done: number; total: number } | null>(null);
  importError = $state<string | null>(null);
  lastImport = $state.raw<ImportReportView | null>(null);

  readonly #api: BridgeApi;
  readonly #unsubscribe: () => void;

  constructor(api: BridgeApi) {
    this.#api = api;
    this.#unsubscribe = api.on('dataset/import-progress', (p) => {
      if (this.importing && p.importId === this.importing.importId) {
        this.importing = { ...this.importing, done: p.done, total: p.total };
      }
    });
  }

  get selected(): DatasetVersion | undefined {
    return this.list.find((d) => d.id === this.selectedId) ?? this.list[0];
  }

  async refresh(): Promise<void> {
    this.loading = true;
    try {
      this.list = await this.#api.invoke('dataset/list', {});
      this.error = null;
    } catch (error) {
      this.error = errorMessage(error);
    } finally {
      this.loading = false;
    }
  }

  select(id: string): void {
    this.selectedId = id;
  }

  /** Imports a folder, CSV manifest or IDX file; resolves once it is stored (or failed: see importError). */
  async import(path: string, name?: string): Promise<DatasetVersion | undefined> {
    const trimmed = path.trim();
    if (!trimmed) {
      this.importError = 'Enter the path of a folder, a CSV manifest or an IDX images file.';
      return undefined;
    }
    const importId = newImportId();
    this.importing = { importId, path: trimmed, done: 0, total: 0 };
    this.importError = null;
    try {
      const result = await this.#api.invoke('dataset/import', {
        path: trimmed,
        importId,
        ...(name?.trim() ? { name: name.trim() } : {}),
      });
      // The result carries counts only; the stored version has the per-file lists.
      const full = await this.#api
        .invoke('dataset/get', { id: result.dataset.id })
        .catch(() => result.dataset);
      this.lastImport = { result, ...reportLists(full.report) };
      await this.refresh();
      this.selectedId = result.dataset.id;
      return full;
    } catch (error) {
      this.importError = errorMessage(error);
      return undefined;
    } finally {
      this.importing = null;
    }
  }

  dispose(): void {
    this.#unsubscribe();
  }
}
