// The report's figures: vega-lite 5 specs compiled to vega 5, rendered headless to SVG and rasterised to PNG with
// resvg (offline; system fonts). One colour per allocator across every figure.
import { Resvg } from '@resvg/resvg-js';
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

import { panelLabel, type StudyData, type StudySummary } from './analysis.ts';
import type { StudyEstimator, StudyModeName } from './options.ts';
import { spread } from './stats.ts';

export const LINE_ORDER = ['uniform', 'flops', 'neyman', 'bernoulli', 'oracle'] as const;
const LINE_COLOURS = ['#555555', '#d62728', '#1f77b4', '#2ca02c', '#9467bd'];
const LINE_LABELS: Record<string, string> = {
  uniform: 'uniform',
  flops: 'FLOPS',
  neyman: 'Neyman',
  bernoulli: 'Bernoulli',
  oracle: 'oracle Neyman',
};

const colour = (title: string, domain: readonly string[]) => ({
  field: 'line',
  type: 'nominal' as const,
  title,
  scale: {
    domain: LINE_ORDER.filter((l) => domain.includes(l)).map((l) => LINE_LABELS[l]!),
    range: LINE_ORDER.map((l, i) => [l, LINE_COLOURS[i]!] as const)
      .filter(([l]) => domain.includes(l))
      .map(([, c]) => c),
  },
  legend: {
    orient: 'bottom' as const,
    direction: 'horizontal' as const,
    labelFontSize: 12,
    titleFontSize: 12,
  },
});

const BASE_CONFIG = {
  font: 'DejaVu Sans',
  axis: { labelFontSize: 11, titleFontSize: 12 },
  header: { labelFontSize: 13, titleFontSize: 13, labelFontWeight: 'bold' as const },
  title: { fontSize: 16, subtitleFontSize: 12, anchor: 'start' as const },
  background: 'white',
};

export async function renderPng(spec: TopLevelSpec): Promise<Buffer> {
  // vega-lite's warnings about merged legends (the band's fill scale and the lines' colour scale) are expected.
  const compiled = compile(spec, { logger: vega.logger(vega.Error) });
  const view = new vega.View(vega.parse(compiled.spec), { renderer: 'none' });
  const svg = await view.toSVG();
  view.finalize();
  return new Resvg(svg, { fitTo: { mode: 'zoom', value: 2 }, font: { loadSystemFonts: true } })
    .render()
    .asPng();
}

const panelOrder = (data: { mode: StudyModeName; estimator: StudyEstimator }[]) => {
  const seen: string[] = [];
  for (const m of ['head', 'lora'] as const)
    for (const e of ['spsa', 'lr'] as const)
      if (data.some((d) => d.mode === m && d.estimator === e)) seen.push(panelLabel(m, e));
  return seen;
};

/** Accuracy against cumulative queries: mean over seeds (line) and ± 1 std (band), one panel per budget. */
export function accuracySpec(data: StudyData, summary: StudySummary): TopLevelSpec {
  // One column per nominal budget, so the grid has no holes (vega misplaces the cells of a facet grid with missing
  // row × column combinations): LR's even n̄ = 6 shares the n̄ = 5 column.
  const nominals = [...new Set(data.runs.map((r) => r.nominalBudget))].sort((a, b) => a - b);
  const columnLabel = new Map(
    nominals.map((n) => {
      const other = [
        ...new Set(data.runs.filter((r) => r.nominalBudget === n && r.budget !== n).map((r) => r.budget)),
      ];
      return [n, other.length > 0 ? `n̄ = ${n} (LR: ${other.join(', ')})` : `n̄ = ${n}`] as const;
    }),
  );
  const rows: Record<string, unknown>[] = [];
  const groups = new Map<string, typeof data.runs>();
  for (const r of data.runs) {
    if (r.status !== 'completed') continue;
    const k = `${r.mode}/${r.estimator}/${r.budget}/${r.allocator}`;
    groups.set(k, [...(groups.get(k) ?? []), r]);
  }
  for (const runs of groups.values()) {
    const r0 = runs[0]!;
    const target = summary.targets.find((t) => t.mode === r0.mode && t.estimator === r0.estimator)?.target;
    for (const p of r0.curve) {
      const accs = runs.map((r) => r.curve.find((q) => q.step === p.step)?.accuracy ?? Number.NaN);
      const s = spread(accs);
      rows.push({
        panel: panelLabel(r0.mode, r0.estimator),
        budget: columnLabel.get(r0.nominalBudget),
        budgetValue: r0.budget,
        line: LINE_LABELS[r0.allocator],
        kq: p.queries / 1000,
        acc: 100 * s.mean,
        lo: 100 * (s.mean - s.std),
        hi: 100 * (s.mean + s.std),
        target: target === undefined ? null : 100 * target,
      });
    }
  }
  const lines = [...new Set(data.runs.map((r) => r.allocator))];
  const seeds = new Set(data.runs.map((r) => r.seed)).size;
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: {
      text: 'Held-out accuracy against cumulative queries',
      subtitle: [
        seeds > 1
          ? `Mean over ${seeds} seeds (line) ± 1 std (band); dashed: the target accuracy.`
          : 'One seed; dashed: the target accuracy.',
        'Columns: budget per sample n̄. Rows: trainable mode · estimator. Every run of a row spends the same queries.',
        'x: cumulative estimator queries in thousands (k) of forward rows; y: accuracy on the evaluation split.',
      ],
    },
    data: { values: rows },
    facet: {
      row: { field: 'panel', type: 'nominal', title: null, sort: panelOrder(data.runs) },
      column: {
        field: 'budget',
        type: 'nominal',
        title: null,
        sort: nominals.map((n) => columnLabel.get(n)!),
      },
    },
    spec: {
      width: 230,
      height: 160,
      layer: [
        {
          mark: { type: 'line', strokeWidth: 1.6 },
          encoding: {
            x: {
              field: 'kq',
              type: 'quantitative',
              title: 'cumulative queries (k)',
            },
            y: {
              field: 'acc',
              type: 'quantitative',
              title: 'accuracy (%)',
              scale: { zero: false },
            },
            color: colour('allocator', lines),
          },
        },
        {
          // ± 1 std band: an area on its own fill scale (same colours), so the legend shows only the lines.
          mark: { type: 'area', opacity: 0.16 },
          encoding: {
            x: { field: 'kq', type: 'quantitative', title: 'cumulative queries (k)' },
            y: { field: 'lo', type: 'quantitative', title: 'accuracy (%)', scale: { zero: false } },
            y2: { field: 'hi' },
            fill: { ...colour('allocator', lines), legend: null },
          },
        },
        {
          mark: { type: 'rule', strokeDash: [5, 4], color: 'black', strokeWidth: 1 },
          encoding: { y: { aggregate: 'max', field: 'target', type: 'quantitative' } },
        },
      ],
    },
    resolve: { scale: { x: 'independent' } },
    spacing: { row: 60, column: 30 },
    bounds: 'flush',
    config: BASE_CONFIG,
  } as TopLevelSpec;
}

/** A ratio to uniform (mean ± std over seeds) against the budget per sample, one panel per mode · estimator. */
function ratioSpec(
  raw: Record<string, unknown>[],
  lines: string[],
  title: string,
  subtitle: string[],
  yTitle: string,
  order: string[],
): TopLevelSpec {
  // Lines side by side at each budget (a small multiplicative offset on the log axis) so error bars do not overlap.
  const present = LINE_ORDER.filter((l) => lines.includes(l));
  const rows = raw.map((r) => {
    const i = present.findIndex((l) => LINE_LABELS[l] === r.line);
    return { ...r, bx: (r.budget as number) * Math.exp(0.035 * (i - (present.length - 1) / 2)) };
  });
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: { text: title, subtitle },
    data: { values: rows },
    facet: { column: { field: 'panel', type: 'nominal', title: null, sort: order } },
    spec: {
      width: 260,
      height: 220,
      layer: [
        {
          mark: { type: 'rule', color: 'black', strokeDash: [4, 3] },
          encoding: { y: { datum: 1 } },
        },
        {
          mark: { type: 'errorbar', ticks: true },
          encoding: {
            x: { field: 'bx', type: 'quantitative', title: 'budget per sample n̄ (log scale)' },
            y: { field: 'lo', type: 'quantitative', title: yTitle },
            y2: { field: 'hi' },
            color: colour('allocator', lines),
          },
        },
        {
          mark: { type: 'line', point: { size: 45 }, strokeWidth: 1.6 },
          encoding: {
            x: {
              field: 'bx',
              type: 'quantitative',
              title: 'budget per sample n̄ (log scale)',
              scale: { type: 'log', nice: false, padding: 12 },
              axis: { values: [2, 5, 6, 10, 20], format: 'd' },
            },
            y: { field: 'mean', type: 'quantitative', title: yTitle, scale: { zero: false } },
            color: colour('allocator', lines),
          },
        },
      ],
    },
    resolve: { scale: { y: 'independent' } },
    spacing: 70,
    bounds: 'flush',
    config: BASE_CONFIG,
  } as TopLevelSpec;
}

export function varianceSpec(summary: StudySummary): TopLevelSpec {
  const shown = summary.variance.filter((v) => v.line !== 'uniform');
  const rows = shown.map((v) => ({
    panel: `${panelLabel(v.mode, v.estimator)}${v.exact ? '' : ' (tr Cov)'}`,
    budget: v.budget,
    line: LINE_LABELS[v.line],
    mean: v.ratio.mean,
    lo: v.ratio.mean - v.ratio.std,
    hi: v.ratio.mean + v.ratio.std,
  }));
  const order: string[] = [];
  for (const v of shown) {
    const p = `${panelLabel(v.mode, v.estimator)}${v.exact ? '' : ' (tr Cov)'}`;
    if (!order.includes(p)) order.push(p);
  }
  return ratioSpec(
    rows,
    [...new Set(shown.map((v) => v.line))],
    'Gradient-estimate error relative to uniform allocation (lower is better)',
    [
      'E‖ĝ − g‖² against the exact gradient (head), or tr Cov(ĝ) from independent draws (LoRA), same budget.',
      'Geometric mean over parameter snapshots; mean ± 1 std over seeds. Dashed: 1 = uniform.',
      'Oracle Neyman (head only): queries ∝ the exact per-sample gradient norm, a bound no forward-only allocator can reach.',
    ],
    'error ratio (allocator / uniform)',
    order,
  );
}

export function queriesSpec(summary: StudySummary): TopLevelSpec {
  const rows = summary.cells
    .filter((c) => c.queriesRatio.n > 0 && c.allocator !== 'uniform')
    .map((c) => ({
      panel: panelLabel(c.mode, c.estimator),
      budget: c.budget,
      line: LINE_LABELS[c.allocator],
      mean: c.queriesRatio.mean,
      lo: c.queriesRatio.mean - c.queriesRatio.std,
      hi: c.queriesRatio.mean + c.queriesRatio.std,
    }));
  const order: string[] = [];
  for (const c of summary.cells) {
    const p = panelLabel(c.mode, c.estimator);
    if (!order.includes(p)) order.push(p);
  }
  return ratioSpec(
    rows,
    [...new Set(summary.cells.filter((c) => c.allocator !== 'uniform').map((c) => c.allocator))],
    'Queries to reach the target accuracy, relative to uniform (lower is better)',
    [
      'Cumulative estimator queries at the first evaluation at or above the target accuracy.',
      'Mean ± 1 std over the seeds where both runs reached it. Dashed: 1 = uniform.',
    ],
    'queries ratio (allocator / uniform)',
    order,
  );
}

/** Per-sample allocation against the clean loss the allocator saw (the runs' last steps, from the store). */
export function allocationSpec(data: StudyData): TopLevelSpec {
  const rows = data.allocations.map((p) => ({
    panel: `${panelLabel(p.mode, p.estimator)}, n̄ = ${p.budget}`,
    line: LINE_LABELS[p.allocator],
    allocator: LINE_LABELS[p.allocator],
    loss: p.loss,
    count: p.count,
  }));
  const lines: string[] = [...new Set(data.allocations.map((p) => p.allocator))];
  const order: string[] = [];
  for (const r of rows) if (!order.includes(r.panel)) order.push(r.panel);
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: {
      text: 'Queries allocated to each sample against its clean loss',
      subtitle: [
        'Every sample of the last 20 steps of the first seed’s run (points); black line: LOESS fit.',
        'n_i counts directions for SPSA (2 forward rows each) and noisy forwards for LR; the budget is n̄ per sample on average.',
      ],
    },
    data: { values: rows },
    facet: {
      row: {
        field: 'panel',
        type: 'nominal',
        title: null,
        sort: order,
        header: { labelOrient: 'right', labelAngle: 90 },
      },
      column: {
        field: 'allocator',
        type: 'nominal',
        title: null,
        sort: LINE_ORDER.filter((l) => lines.includes(l)).map((l) => LINE_LABELS[l]),
      },
    },
    spec: {
      width: 200,
      height: 150,
      layer: [
        {
          mark: { type: 'circle', size: 14, opacity: 0.35 },
          encoding: {
            x: { field: 'loss', type: 'quantitative', title: 'clean per-sample loss (nats)' },
            y: { field: 'count', type: 'quantitative', title: 'queries for the sample (n_i)' },
            color: { ...colour('allocator', lines), legend: null },
          },
        },
        {
          transform: [{ loess: 'count', on: 'loss', bandwidth: 0.5 }],
          mark: { type: 'line', color: 'black', strokeWidth: 1.5 },
          encoding: {
            x: { field: 'loss', type: 'quantitative', title: 'clean per-sample loss (nats)' },
            y: { field: 'count', type: 'quantitative', title: 'queries for the sample (n_i)' },
          },
        },
      ],
    },
    resolve: { scale: { y: 'independent' } },
    spacing: { row: 60, column: 40 },
    bounds: 'flush',
    config: BASE_CONFIG,
  } as TopLevelSpec;
}

export interface PlotFile {
  name: string;
  title: string;
  spec: TopLevelSpec;
}

export function plotSpecs(data: StudyData, summary: StudySummary): PlotFile[] {
  const out: PlotFile[] = [];
  if (data.runs.length > 0)
    out.push({
      name: 'accuracy-vs-queries.png',
      title: 'Accuracy vs cumulative queries',
      spec: accuracySpec(data, summary),
    });
  if (summary.variance.length > 0)
    out.push({ name: 'variance-ratio.png', title: 'Variance ratio vs budget', spec: varianceSpec(summary) });
  if (summary.cells.some((c) => c.queriesRatio.n > 0))
    out.push({
      name: 'queries-ratio.png',
      title: 'Queries-to-target ratio vs budget',
      spec: queriesSpec(summary),
    });
  if (data.allocations.length > 0)
    out.push({
      name: 'allocation-vs-loss.png',
      title: 'Allocation vs clean loss',
      spec: allocationSpec(data),
    });
  return out;
}
