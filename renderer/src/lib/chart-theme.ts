// Canvas charts cannot use CSS variables directly: read the theme's colours off an element when a chart is built
// (and rebuild it when the theme changes).

export interface ChartColors {
  series: string[];
  text: string;
  grid: string;
  border: string;
  heatLow: string;
  heatHigh: string;
}

export function chartColors(el: Element): ChartColors {
  const style = getComputedStyle(el);
  const v = (name: string, fallback: string): string => style.getPropertyValue(name).trim() || fallback;
  return {
    series: [1, 2, 3, 4, 5, 6].map((i, k) =>
      v(`--chart-${i}`, ['#2457c5', '#d9480f', '#2b8a3e', '#862e9c', '#0b7285', '#c2255c'][k] as string),
    ),
    text: v('--muted', '#5b6470'),
    grid: v('--grid', 'rgba(0,0,0,0.08)'),
    border: v('--border', '#d5dae1'),
    heatLow: v('--heat-low', '#f1f5ff'),
    heatHigh: v('--heat-high', '#08306b'),
  };
}

let drawable: boolean | undefined;

/** Whether this document can draw on a 2D canvas (false under jsdom without the canvas package). */
export function canDraw(): boolean {
  if (drawable === undefined) {
    if (typeof navigator !== 'undefined' && /\bjsdom\b/.test(navigator.userAgent)) drawable = false;
    else {
      try {
        drawable = !!document.createElement('canvas').getContext('2d');
      } catch {
        drawable = false;
      }
    }
  }
  return drawable;
}

/** '#rrggbb' or 'rgb(r, g, b)' → [r, g, b]; unknown formats give mid grey. */
export function parseColor(c: string): [number, number, number] {
  const hex = /^#([0-9a-f]{6})$/i.exec(c.trim());
  if (hex) {
    const n = parseInt(hex[1] as string, 16);
    return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
  }
  const rgb = /^rgba?\(\s*(\d+)[\s,]+(\d+)[\s,]+(\d+)/i.exec(c.trim());
  if (rgb) return [Number(rgb[1]), Number(rgb[2]), Number(rgb[3])];
  return [128, 128, 128];
}

/** '#2457c5', 0.2 → 'rgba(36, 87, 197, 0.2)'. */
export function withAlpha(c: string, alpha: number): string {
  const [r, g, b] = parseColor(c);
  return `rgba(${r}, ${g}, ${b}, ${alpha})`;
}
