// Dataset splits as pure functions of (labels, seed): stratified train/val/test, k-shot-per-class subsets and class
// rebalancing. Every random choice comes from engine/rng.ts, seeded per class (deriveSeed(seed, TAG, class)), so a
// class's membership does not move when another class gains or loses images, and the same seed gives the same
// split on every machine. Outputs are sorted ascending index lists; order within an epoch is the loader's job.
import { ConfigError } from '../errors.ts';
import { deriveSeed, Rng } from '../rng.ts';

/** Seed-path tags: each kind of draw gets its own stream, so e.g. a k-shot subset is not a prefix of a split. */
export const SEED_TAGS = {
  split: 0x53504c54, // 'SPLT'
  kshot: 0x4b53484f, // 'KSHO'
  rebalance: 0x5245424c, // 'REBL'
  shuffle: 0x53485546, // 'SHUF'
  augment: 0x41554755, // 'AUGU'
} as const;

export interface SplitFractions {
  /** Fraction of each class that goes to validation, in [0, 1). */
  val: number;
  /** Fraction of each class that goes to test, in [0, 1). */
  test: number;
}

export interface SplitSpec extends SplitFractions {
  seed: number;
}

export interface SplitIndices {
  train: Int32Array;
  val: Int32Array;
  test: Int32Array;
}

/** Unbiased integer in [0, n) (n <= 2^32). Rejection sampling: `u32 % n` alone favours small values. */
export function uniformInt(rng: Rng, n: number): number {
  if (n <= 1) return 0;
  const limit = 0x100000000 - (0x100000000 % n);
  for (;;) {
    const x = rng.nextU32();
    if (x < limit) return x % n;
  }
}

/** Fisher–Yates in place. */
export function shuffleInPlace(values: Int32Array | number[], rng: Rng): void {
  for (let i = values.length - 1; i > 0; i--) {
    const j = uniformInt(rng, i + 1);
    const t = values[i]!;
    values[i] = values[j]!;
    values[j] = t;
  }
}

/**
 * Members of each class among `pool` (default: every index of `labels`), in ascending index order, keyed by label
 * in ascending label order. Sorting first makes the result independent of the order the pool was given in.
 */
export function groupByClass(labels: ArrayLike<number>, pool?: ArrayLike<number>): Map<number, number[]> {
  const indices = pool
    ? Int32Array.from(pool).sort()
    : Int32Array.from({ length: labels.length }, (_, i) => i);
  const groups = new Map<number, number[]>();
  for (const i of indices) {
    if (i < 0 || i >= labels.length)
      throw new ConfigError('pool', `index ${i} is outside 0..${labels.length - 1}`);
    const c = labels[i]!;
    let g = groups.get(c);
    if (!g) groups.set(c, (g = []));
    g.push(i);
  }
  return new Map([...groups.entries()].sort((a, b) => a[0] - b[0]));
}

function checkFraction(field: string, value: number): void {
  if (!Number.isFinite(value) || value < 0 || value >= 1) {
    throw new ConfigError(field, `must be a fraction in [0, 1), got ${value}`);
  }
}

function checkSeed(seed: number): void {
  if (!Number.isSafeInteger(seed) || seed < 0)
    throw new ConfigError('seed', `must be a non-negative integer`);
}

/**
 * How a class of n members is divided: val = round(n·val), test = round(n·test), train the rest. If rounding
 * overshoots n (tiny classes), test then val give way, so train never goes negative. This is the exact rule the
 * tests check; it is applied per class, which is what "stratified" means here.
 */
export function splitCounts(
  n: number,
  fractions: SplitFractions,
): { train: number; val: number; test: number } {
  checkFraction('split.val', fractions.val);
  checkFraction('split.test', fractions.test);
  if (fractions.val + fractions.test >= 1) {
    throw new ConfigError('split', `val + test must be below 1, got ${fractions.val + fractions.test}`);
  }
  let test = Math.round(n * fractions.test);
  let val = Math.round(n * fractions.val);
  if (test + val > n) {
    const over = test + val - n;
    const fromTest = Math.min(test, over);
    test -= fromTest;
    val -= over - fromTest;
  }
  return { train: n - val - test, val, test };
}

/**
 * Stratified train/val/test split of `pool` (default: all indices). Each class is shuffled with its own stream
 * and then cut test-first, so changing the val fraction never changes the test set.
 */
export function stratifiedSplit(
  labels: ArrayLike<number>,
  spec: SplitSpec,
  pool?: ArrayLike<number>,
): SplitIndices {
  checkSeed(spec.seed);
  const train: number[] = [];
  const val: number[] = [];
  const test: number[] = [];
  for (const [c, members] of groupByClass(labels, pool)) {
    const counts = splitCounts(members.length, spec);
    shuffleInPlace(members, new Rng(deriveSeed(spec.seed, SEED_TAGS.split, c)));
    test.push(...members.slice(0, counts.test));
    val.push(...members.slice(counts.test, counts.test + counts.val));
    train.push(...members.slice(counts.test + counts.val));
  }
  const sorted = (a: number[]) => Int32Array.from(a).sort();
  return { train: sorted(train), val: sorted(val), test: sorted(test) };
}

export interface KShotOptions {
  /** Indices to draw from (e.g. the train split); default all. */
  pool?: ArrayLike<number>;
  /** Take every member of a class that has fewer than k instead of failing. Default false: "k-shot" is exact. */
  allowFewer?: boolean;
}

/**
 * Exactly k members of every class present in the pool. For one seed, the k-shot subset is a subset of the
 * (k+1)-shot subset (each class is shuffled once and its first k taken), so few-shot curves over k are nested.
 */
export function kShotPerClass(
  labels: ArrayLike<number>,
  k: number,
  seed: number,
  options: KShotOptions = {},
): Int32Array {
  if (!Number.isInteger(k) || k < 1) throw new ConfigError('kShot', `must be a positive integer, got ${k}`);
  checkSeed(seed);
  const out: number[] = [];
  for (const [c, members] of groupByClass(labels, options.pool)) {
    if (members.length < k && !options.allowFewer) {
      throw new ConfigError('kShot', `class ${c} has ${members.length} examples, fewer than k = ${k}`);
    }
    shuffleInPlace(members, new Rng(deriveSeed(seed, SEED_TAGS.kshot, c)));
    out.push(...members.slice(0, k));
  }
  return Int32Array.from(out).sort();
}

export interface RebalanceOptions {
  /** 'cap': drop members above the target; 'oversample': repeat members up to the target. */
  mode: 'cap' | 'oversample';
  seed: number;
  /** Target count per class. Default: the smallest class for 'cap', the largest for 'oversample'. */
  perClass?: number;
  pool?: ArrayLike<number>;
}

/**
 * Equalises class counts. Capping keeps a random `target` members of each larger class. Oversampling keeps every
 * member floor(target / n) times and adds a random (target mod n) more, so no member is repeated twice more than
 * another. The result may contain repeated indices (oversampling) and is sorted.
 */
export function rebalance(labels: ArrayLike<number>, options: RebalanceOptions): Int32Array {
  checkSeed(options.seed);
  const groups = groupByClass(labels, options.pool);
  if (groups.size === 0) return new Int32Array(0);
  const sizes = [...groups.values()].map((g) => g.length);
  const target = options.perClass ?? (options.mode === 'cap' ? Math.min(...sizes) : Math.max(...sizes));
  if (!Number.isInteger(target) || target < 1) {
    throw new ConfigError('rebalance.perClass', `must be a positive integer, got ${target}`);
  }
  const out: number[] = [];
  for (const [c, members] of groups) {
    shuffleInPlace(members, new Rng(deriveSeed(options.seed, SEED_TAGS.rebalance, c)));
    if (options.mode === 'cap' || members.length >= target) {
      out.push(...members.slice(0, target));
    } else {
      for (let r = 0; r < Math.floor(target / members.length); r++) out.push(...members);
      out.push(...members.slice(0, target % members.length));
    }
  }
  return Int32Array.from(out).sort();
}

/** Members per class label (0..numClasses-1) among `indices`. */
export function classCounts(
  labels: ArrayLike<number>,
  indices: ArrayLike<number>,
  numClasses: number,
): number[] {
  const counts = new Array<number>(numClasses).fill(0);
  for (let i = 0; i < indices.length; i++) {
    const c = labels[indices[i]!]!;
    counts[c] = (counts[c] ?? 0) + 1;
  }
  return counts;
}
