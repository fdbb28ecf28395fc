// Config diff between runs, pure: flatten each config to dotted keys and keep the keys whose values differ.
// Arrays are compared whole (an image shape [3, 32, 32] is one value, not three keys).
import type { JsonValue } from './sql.ts';

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Dotted key → leaf value. Nested empty objects are leaves, so `{a: {}}` and `{}` still differ; a root that is not
 * an object (null, a missing config) has no keys.
 */
export function flattenConfig(
  value: unknown,
  prefix = '',
  out = new Map<string, JsonValue>(),
): Map<string, JsonValue> {
  if (isPlainObject(value) && (prefix === '' || Object.keys(value).length > 0)) {
    for (const [k, v] of Object.entries(value)) flattenConfig(v, prefix ? `${prefix}.${k}` : k, out);
  } else if (prefix !== '') {
    out.set(prefix, (value ?? null) as JsonValue);
  }
  return out;
}

export interface ConfigDiffEntry {
  key: string;
  /** One per config, in order; undefined where that config lacks the key. */
  values: (JsonValue | undefined)[];
}

/** Keys (sorted) whose values are not the same in every config; a key missing from some config differs. */
export function diffConfigs(configs: readonly unknown[]): ConfigDiffEntry[] {
  const flat = configs.map((c) => flattenConfig(c ?? {}));
  const keys = [...new Set(flat.flatMap((f) => [...f.keys()]))].sort();
  const out: ConfigDiffEntry[] = [];
  for (const key of keys) {
    const values = flat.map((f) => (f.has(key) ? f.get(key) : undefined));
    const canon = values.map((v) => (v === undefined ? '\u0000missing' : canonicalJson(v)));
    if (canon.some((c) => c !== canon[0])) out.push({ key, values });
  }
  return out;
}

/** JSON with object keys sorted, so key order never counts as a difference. */
function canonicalJson(v: JsonValue): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (isPlainObject(v)) {
    const o = v as Record<string, JsonValue>;
    return `{${Object.keys(o)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k] as JsonValue)}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}
