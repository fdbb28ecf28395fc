// Human output for the CLI: aligned plain-text tables and a few number formats. Kept dumb on purpose: --json is the
// machine interface; these are for eyes.
export type Align = 'left' | 'right';

/** A table with a header rule; numeric-looking columns are right-aligned unless `align` says otherwise. */
export function table(headers: string[], rows: string[][], align?: Align[]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const numeric = headers.map(
    (_, i) =>
      rows.length > 0 &&
      rows.every((r) => /^[-+]?[\d,.]+(e[-+]?\d+)?( ?[%a-z]{0,3})?$|^-$/i.test(r[i] ?? '')),
  );
  const cell = (text: string, i: number): string =>
    (align?.[i] ?? (numeric[i] ? 'right' : 'left')) === 'right'
      ? text.padStart(widths[i] ?? 0)
      : text.padEnd(widths[i] ?? 0);
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => cell(c, i))
      .join('  ')
      .trimEnd();
  return [line(headers), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

/** "key  value" lines with the keys aligned. */
export function keyValues(pairs: [string, string][]): string {
  const width = Math.max(0, ...pairs.map(([k]) => k.length));
  return pairs.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n');
}

export const dash = '-';

export function pct(x: number | null | undefined): string {
  return x === null || x === undefined || Number.isNaN(x) ? dash : `${(100 * x).toFixed(1)}%`;
}

export function int(x: number | null | undefined): string {
  return x === null || x === undefined ? dash : Math.round(x).toLocaleString('en-US');
}

export function num(x: number | null | undefined, digits = 4): string {
  if (x === null || x === undefined || Number.isNaN(x)) return dash;
  if (x !== 0 && (Math.abs(x) < 1e-3 || Math.abs(x) >= 1e5)) return x.toExponential(2);
  return Number(x.toPrecision(digits)).toString();
}

export function seconds(ms: number | null | undefined): string {
  return ms === null || ms === undefined ? dash : `${(ms / 1000).toFixed(1)} s`;
}

export function date(ms: number | null | undefined): string {
  if (!ms) return dash;
  const d = new Date(ms);
  const pad = (n: number): string => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

export function shortId(id: string): string {
  return id.slice(0, 12);
}

export function json(value: unknown): string {
  return JSON.stringify(value, null, 2);
}
