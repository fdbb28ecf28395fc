import { describe, expect, it } from 'vitest';

import {
  formatCount,
  formatDuration,
  formatInt,
  formatPercent,
  formatValue,
} from '../../../renderer/src/lib/format.ts';

describe('format', () => {
  it('formats counts, integers, values, percentages and durations', () => {
    expect(formatCount(999)).toBe('999');
    expect(formatCount(1234)).toBe('1.23k');
    expect(formatCount(2_000_000)).toBe('2M');
    expect(formatCount(279_760)).toBe('280k'); // trailing zeros of the integer part stay
    expect(formatCount(100_000)).toBe('100k');
    expect(formatCount(2_750_000)).toBe('2.75M');
    expect(formatCount(999_999)).toBe('1M');
    expect(formatCount(-1500)).toBe('-1.5k');
    expect(formatCount(null)).toBe('–');
    expect(formatInt(1234567)).toBe('1\u2009234\u2009567');
    expect(formatValue(0.000123)).toBe('1.230e-4');
    expect(formatValue(1.23456)).toBe('1.235');
    expect(formatPercent(0.4567)).toBe('45.7%');
    expect(formatDuration(850)).toBe('850 ms');
    expect(formatDuration(12_340)).toBe('12.3 s');
    expect(formatDuration(2 * 3600_000 + 3 * 60_000)).toBe('2 h 03 min');
  });
});
