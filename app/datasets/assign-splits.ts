// From split rules to the per-image split assignment (splits.u8) and its summary: shared by the importer and by
// re-splitting an existing version, so both give the same assignment for the same rule.
import { classCounts, stratifiedSplit, type SplitSpec } from '../../engine/data/splits.ts';

import { SPLIT_CODES, SPLIT_NAMES } from './cache.ts';
import type { ResolvedSplits, SplitName } from './types.ts';

const DEFAULT_SPLIT: SplitSpec = { seed: 0, val: 0.1, test: 0.1 };
const NO_CARVE: SplitSpec = { seed: 0, val: 0, test: 0 };

/** Turns predefined and/or seeded split choices into the per-image assignment and its summary. */
export function resolveSplits(
  labels: Int32Array,
  predefined: (SplitName | undefined)[],
  numClasses: number,
  requested: SplitSpec | undefined,
): { codes: Uint8Array; splits: ResolvedSplits } {
  const hasPredefined = predefined.some((s) => s !== undefined);
  const spec = requested ?? (hasPredefined ? NO_CARVE : DEFAULT_SPLIT);
  const codes = new Uint8Array(labels.length);
  if (!hasPredefined) {
    const s = stratifiedSplit(labels, spec);
    for (const name of SPLIT_NAMES) for (const i of s[name]) codes[i] = SPLIT_CODES[name];
  } else {
    // Rows without a split (CSV) count as train; val/test are carved from train only where the source has none.
    for (let i = 0; i < labels.length; i++) codes[i] = SPLIT_CODES[predefined[i] ?? 'train'];
    const has = (name: SplitName) => predefined.includes(name);
    const carve = { seed: spec.seed, val: has('val') ? 0 : spec.val, test: has('test') ? 0 : spec.test };
    if (carve.val > 0 || carve.test > 0) {
      const train = Int32Array.from(codes.keys()).filter((i) => codes[i] === SPLIT_CODES.train);
      const s = stratifiedSplit(labels, carve, train);
      for (const i of s.val) codes[i] = SPLIT_CODES.val;
      for (const i of s.test) codes[i] = SPLIT_CODES.test;
    }
  }
  const counts = { train: 0, val: 0, test: 0 };
  const perClass: Record<SplitName, number[]> = { train: [], val: [], test: [] };
  for (const name of SPLIT_NAMES) {
    const members = Int32Array.from(codes.keys()).filter((i) => codes[i] === SPLIT_CODES[name]);
    counts[name] = members.length;
    perClass[name] = classCounts(labels, members, numClasses);
  }
  return {
    codes,
    splits: { kind: hasPredefined ? 'predefined' : 'stratified', spec: { ...spec }, counts, perClass },
  };
}
