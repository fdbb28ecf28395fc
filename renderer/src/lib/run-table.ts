// The Runs table's filter and sort, and small list helpers, pure (RunsState applies them).
import type { RunStatus, RunSummary } from './types.ts';

export type RunSortKey = 'created' | 'name' | 'status' | 'steps' | 'queries' | 'loss' | 'accuracy';

type Sortable = (r: RunSummary) => number | string | null;

const SORTS: Record<RunSortKey, Sortable> = {
  created: (r) => r.createdAt,
  name: (r) => r.name.toLowerCase(),
  status: (r) => r.status,
  steps: (r) => r.stats.steps,
  queries: (r) => r.stats.queries,
  loss: (r) => r.stats.lastLoss,
  accuracy: (r) => r.stats.evalAccuracy,
};

/** Sorted copy; missing values (null) go last whatever the direction; ties newest first. */
export function sortRuns(runs: readonly RunSummary[], key: RunSortKey, order: 'asc' | 'desc'): RunSummary[] {
  const get = SORTS[key];
  const dir = order === 'asc' ? 1 : -1;
  return [...runs].sort((a, b) => {
    const x = get(a);
    const y = get(b);
    if (x === null && y === null) return b.id - a.id;
    if (x === null) return 1;
    if (y === null) return -1;
    if (x < y) return -dir;
    if (x > y) return dir;
    return b.id - a.id;
  });
}

export interface RunFilter {
  text: string;
  status: RunStatus | '';
  tag: string;
}

/** Case-insensitive text over name, notes, tags (or the exact id); a status; a tag. */
export function filterRuns(runs: readonly RunSummary[], f: RunFilter): RunSummary[] {
  const text = f.text.trim().toLowerCase();
  return runs.filter(
    (r) =>
      (!f.status || r.status === f.status) &&
      (!f.tag || r.tags.includes(f.tag)) &&
      (!text ||
        r.name.toLowerCase().includes(text) ||
        r.notes.toLowerCase().includes(text) ||
        r.tags.some((t) => t.toLowerCase().includes(text)) ||
        String(r.id) === text.replace(/^#/, '')),
  );
}

/** Distinct values, sorted. */
export function uniqueSorted(values: Iterable<string>): string[] {
  return [...new Set(values)].sort();
}

/** 'a, b,,a ' → ['a', 'b']. */
export function parseTags(text: string): string[] {
  return [
    ...new Set(
      text
        .split(',')
        .map((t) => t.trim())
        .filter(Boolean),
    ),
  ];
}

/** `ids` plus `add` (no duplicates), or minus `add` when every one of them is already in. */
export function toggleAll(ids: readonly number[], add: readonly number[]): number[] {
  const all = add.length > 0 && add.every((id) => ids.includes(id));
  return all ? ids.filter((id) => !add.includes(id)) : [...new Set([...ids, ...add])];
}
