// Compare: a set of runs, their summary rows and config diff ('run/compare'), their curves on a shared x axis
// ('run/metrics'), seed groups for mean and spread, and a CSV export of every run's metrics ('run/export').
import { errorMessage, type BridgeApi } from '../api.ts';
import { seedGroups } from '../stats.ts';
import type { RunComparison, RunMetrics, XAxisName } from '../types.ts';
import { EMPTY_CURVE, type Curve } from '../curve.ts';

export type CompareMetric = 'trainLoss' | 'trainAcc';

/** Per-run CSVs joined into one, with a leading run_id column (the header is taken once). */
export function joinCsv(parts: readonly { runId: number; text: string }[]): string {
  let header: string | undefined;
  const lines: string[] = [];
  for (const { runId, text } of parts) {
    const [head, ...rows] = text.split(/\r?\n/).filter((l) => l.length > 0);
    if (head === undefined) continue;
    header ??= `run_id,${head}`;
    for (const row of rows) lines.push(`${runId},${row}`);
  }
  return header === undefined ? '' : `${[header, ...lines].join('\n')}\n`;
}

export class CompareState {
  ids = $state.raw<number[]>([]);
  comparison = $state.raw<RunComparison | null>(null);
  metric = $state<CompareMetric>('trainLoss');
  xAxis = $state<XAxisName>('step');
  curves = $state.raw<Record<number, Curve>>({});
  loading = $state(false);
  error = $state<string | null>(null);
  exporting = $state(false);

  readonly #api: BridgeApi;
  #seq = 0;

  constructor(api: BridgeApi) {
    this.#api = api;
  }

  get groups(): number[][] {
    const c = this.comparison;
    if (!c) return [];
    return seedGroups(
      c.runs.map((r) => r.id),
      c.diff,
    );
  }

  /** Groups with more than one seed: those get a mean and spread. */
  get seedSets(): number[][] {
    return this.groups.filter((g) => g.length > 1);
  }

  async load(ids: number[]): Promise<void> {
    this.ids = ids;
    if (ids.length === 0) {
      this.comparison = null;
      this.curves = {};
      return;
    }
    this.loading = true;
    try {
      const [comparison] = await Promise.all([this.#api.invoke('run/compare', { ids }), this.loadCurves()]);
      this.comparison = comparison;
      this.error = null;
    } catch (error) {
      this.error = errorMessage(error);
    } finally {
      this.loading = false;
    }
  }

  async loadCurves(): Promise<void> {
    if (this.ids.length === 0) return;
    const seq = ++this.#seq;
    const m: RunMetrics = await this.#api.invoke('run/metrics', {
      runIds: this.ids,
      metrics: [this.metric],
      x: this.xAxis,
      maxPoints: 1000,
    });
    if (seq !== this.#seq) return;
    const curves: Record<number, Curve> = {};
    for (const id of this.ids) {
      const s = m.series.find((x) => x.runId === id && x.metric === this.metric);
      curves[id] = s ? { steps: s.steps, x: s.x, y: s.y } : EMPTY_CURVE;
    }
    this.curves = curves;
  }

  async setMetric(metric: CompareMetric): Promise<void> {
    this.metric = metric;
    await this.#reload();
  }

  async setXAxis(axis: XAxisName): Promise<void> {
    this.xAxis = axis;
    await this.#reload();
  }

  async #reload(): Promise<void> {
    try {
      await this.loadCurves();
    } catch (error) {
      this.error = errorMessage(error);
    }
  }

  /** Every compared run's metrics as one CSV; resolves to the file to save (or null when it failed). */
  async exportCsv(): Promise<{ filename: string; text: string } | null> {
    this.exporting = true;
    try {
      const parts = await Promise.all(
        this.ids.map(async (runId) => {
          const file = await this.#api.invoke('run/export', { id: runId, format: 'csv' });
          return { runId, text: file.text };
        }),
      );
      return { filename: `compare-${this.ids.join('-')}.csv`, text: joinCsv(parts) };
    } catch (error) {
      this.error = errorMessage(error);
      return null;
    } finally {
      this.exporting = false;
    }
  }
}
