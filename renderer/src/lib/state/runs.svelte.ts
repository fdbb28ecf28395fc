// The Runs table's source of truth: every run with its stats, client-side filter and sort, the multi-selection
// that feeds Compare, and tag/note edits. Status events trigger a (coalesced) reload; progress events patch the
// running rows' step and loss once per frame.
import { errorMessage, type BridgeApi } from '../api.ts';
import { frameScheduler, type FrameScheduler } from '../frame.ts';
import { filterRuns, sortRuns, toggleAll, uniqueSorted, type RunSortKey } from '../run-table.ts';
import type { RunProgress, RunStatus, RunSummary } from '../types.ts';

export type { RunSortKey };

export class RunsState {
  all = $state.raw<RunSummary[]>([]);
  loading = $state(false);
  error = $state<string | null>(null);
  text = $state('');
  status = $state<RunStatus | ''>('');
  tag = $state('');
  sortKey = $state<RunSortKey>('created');
  order = $state<'asc' | 'desc'>('desc');
  selected = $state.raw<number[]>([]);

  readonly #api: BridgeApi;
  readonly #unsubscribe: (() => void)[] = [];
  readonly #frame: FrameScheduler;
  /** The latest progress per run since the last frame (plain bookkeeping, not state). */
  #pending: Record<number, RunProgress> = {};
  #reloadTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(api: BridgeApi) {
    this.#api = api;
    this.#frame = frameScheduler(() => this.#applyProgress(), { minIntervalMs: 250 });
    this.#unsubscribe.push(
      api.on('run/status', (e) => {
        // Progress buffered before a status change is older than it: it must not turn a paused run back to running.
        delete this.#pending[e.runId];
        this.#scheduleReload();
      }),
      api.on('run/progress', (p) => {
        this.#pending[p.runId] = p;
        this.#frame.schedule();
      }),
    );
  }

  get visible(): RunSummary[] {
    return sortRuns(
      filterRuns(this.all, { text: this.text, status: this.status, tag: this.tag }),
      this.sortKey,
      this.order,
    );
  }

  get allTags(): string[] {
    return uniqueSorted(this.all.flatMap((r) => r.tags));
  }

  get compareHref(): string {
    return `#/compare?ids=${this.selected.join(',')}`;
  }

  async refresh(): Promise<void> {
    this.loading = true;
    try {
      this.all = await this.#api.invoke('run/list', { limit: 10_000 });
      const ids = this.all.map((r) => r.id);
      this.selected = this.selected.filter((id) => ids.includes(id));
      this.error = null;
    } catch (error) {
      this.error = errorMessage(error);
    } finally {
      this.loading = false;
    }
  }

  sortBy(key: RunSortKey): void {
    if (this.sortKey === key) this.order = this.order === 'asc' ? 'desc' : 'asc';
    else {
      this.sortKey = key;
      this.order = key === 'name' || key === 'status' ? 'asc' : 'desc';
    }
  }

  isSelected(id: number): boolean {
    return this.selected.includes(id);
  }

  toggle(id: number): void {
    this.selected = this.isSelected(id) ? this.selected.filter((x) => x !== id) : [...this.selected, id];
  }

  /** Filters the table to one tag and selects exactly its runs, so Compare opens them all. */
  showTag(tag: string): void {
    this.tag = tag;
    this.text = '';
    this.status = '';
    this.selected = this.all.filter((r) => r.tags.includes(tag)).map((r) => r.id);
  }

  /** Selects every visible run, or clears the selection when all visible ones are selected. */
  toggleAllVisible(): void {
    this.selected = toggleAll(
      this.selected,
      this.visible.map((r) => r.id),
    );
  }

  async setTags(id: number, tags: string[]): Promise<void> {
    await this.#edit(() => this.#api.invoke('run/tag', { id, tags }));
  }

  async setNotes(id: number, notes: string): Promise<void> {
    await this.#edit(() => this.#api.invoke('run/note', { id, notes }));
  }

  async remove(id: number): Promise<void> {
    try {
      await this.#api.invoke('run/delete', { id });
      this.all = this.all.filter((r) => r.id !== id);
      this.selected = this.selected.filter((x) => x !== id);
    } catch (error) {
      this.error = errorMessage(error);
    }
  }

  async #edit(call: () => Promise<{ id: number; tags: string[]; notes: string }>): Promise<void> {
    try {
      const run = await call();
      this.all = this.all.map((r) => (r.id === run.id ? { ...r, tags: run.tags, notes: run.notes } : r));
      this.error = null;
    } catch (error) {
      this.error = errorMessage(error);
    }
  }

  #scheduleReload(): void {
    clearTimeout(this.#reloadTimer);
    this.#reloadTimer = setTimeout(() => void this.refresh(), 200);
  }

  #applyProgress(): void {
    const pending = this.#pending;
    this.#pending = {};
    if (Object.keys(pending).length === 0) return;
    this.all = this.all.map((r) => {
      const p = pending[r.id];
      if (!p) return r;
      return {
        ...r,
        // Steps arriving after the latest status change mean it trains (the store may not say so yet).
        status:
          r.status === 'queued' || r.status === 'paused' || r.status === 'interrupted' ? 'running' : r.status,
        lastStep: p.step,
        lastLoss: p.loss,
        stats: {
          ...r.stats,
          steps: p.step,
          queries: p.queries,
          forwardRows: p.forwardRows,
          lastLoss: p.loss,
          wallMs: p.wallMs,
          evalAccuracy: p.evalAccuracy ?? r.stats.evalAccuracy,
        },
      };
    });
  }

  dispose(): void {
    for (const off of this.#unsubscribe) off();
    this.#frame.cancel();
    clearTimeout(this.#reloadTimer);
  }
}
