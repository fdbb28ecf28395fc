// Allocation views, pure: where the per-sample query budget went in one step (histogram, counts against loss) and
// the loss-rank bins the heatmap shows over time. rankBins matches app's run/allocations, so rows computed here
// from live progress events line up with the rows the server sends.

/** How many samples got each count: counts ascending, with their frequency. */
export function countHistogram(counts: readonly number[]): { counts: number[]; samples: number[] } {
  const freq = new Map<number, number>();
  for (const c of counts) freq.set(c, (freq.get(c) ?? 0) + 1);
  const keys = [...freq.keys()].sort((a, b) => a - b);
  return { counts: keys, samples: keys.map((k) => freq.get(k) as number) };
}

/**
 * The histogram on a dense integer axis from the smallest to the largest count (zeros filled in), so bars sit at
 * their count and empty counts show as gaps. Capped at `maxBins` by widening the bins.
 */
export function denseHistogram(
  counts: readonly number[],
  maxBins = 60,
): { x: number[]; y: number[]; width: number } {
  if (counts.length === 0) return { x: [], y: [], width: 1 };
  let lo = Infinity;
  let hi = -Infinity;
  for (const c of counts) {
    if (c < lo) lo = c;
    if (c > hi) hi = c;
  }
  const width = Math.max(1, Math.ceil((hi - lo + 1) / maxBins));
  const bins = Math.floor((hi - lo) / width) + 1;
  const y = new Array<number>(bins).fill(0);
  for (const c of counts) {
    const b = Math.floor((c - lo) / width);
    y[b] = (y[b] as number) + 1;
  }
  return { x: Array.from({ length: bins }, (_, b) => lo + b * width), y, width };
}

/** Mean count per loss-rank bin of one step (bin 0 = lowest clean loss). */
export function rankBins(counts: readonly number[], losses: readonly number[], bins: number): number[] {
  const n = Math.min(counts.length, losses.length);
  const order = Array.from({ length: n }, (_, i) => i).sort(
    (i, j) => (losses[i] as number) - (losses[j] as number),
  );
  const sums = new Array<number>(bins).fill(0);
  const ns = new Array<number>(bins).fill(0);
  order.forEach((row, rank) => {
    const b = Math.min(bins - 1, Math.floor((rank * bins) / n));
    sums[b] = (sums[b] as number) + (counts[row] as number);
    ns[b] = (ns[b] as number) + 1;
  });
  return sums.map((s, b) => ((ns[b] as number) > 0 ? s / (ns[b] as number) : 0));
}

/** (loss, count) pairs sorted by loss: the scatter's x must ascend for the chart. */
export function countsByLoss(
  counts: readonly number[],
  losses: readonly number[],
): { loss: number[]; count: number[] } {
  const n = Math.min(counts.length, losses.length);
  const order = Array.from({ length: n }, (_, i) => i).sort(
    (i, j) => (losses[i] as number) - (losses[j] as number),
  );
  return { loss: order.map((i) => losses[i] as number), count: order.map((i) => counts[i] as number) };
}

/** Gini coefficient of the counts: 0 = uniform allocation. */
export function gini(counts: readonly number[]): number {
  const n = counts.length;
  if (n === 0) return 0;
  const sorted = [...counts].sort((a, b) => a - b);
  let sum = 0;
  let ranked = 0;
  sorted.forEach((c, i) => {
    sum += c;
    ranked += (2 * (i + 1) - n - 1) * c;
  });
  return sum === 0 ? 0 : ranked / (n * sum);
}

export interface Heatmap {
  steps: number[];
  bins: number;
  rows: number[][];
}

/**
 * Appends rows, keeping at most `maxRows`: when full, every other row is dropped, so the picture stays spread over
 * the whole run at half the time resolution instead of scrolling the start away.
 */
export function appendHeatmapRows(
  heatmap: Heatmap,
  add: readonly { step: number; row: number[] }[],
  maxRows = 400,
): Heatmap {
  let steps = heatmap.steps.concat(add.map((a) => a.step));
  let rows = heatmap.rows.concat(add.map((a) => a.row));
  while (rows.length > maxRows) {
    const last = rows.length - 1;
    steps = steps.filter((_, i) => i % 2 === 0 || i === last);
    rows = rows.filter((_, i) => i % 2 === 0 || i === last);
  }
  return { steps, bins: heatmap.bins, rows };
}
