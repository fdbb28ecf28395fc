import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

import { frameScheduler, type FrameTiming } from '../../../renderer/src/lib/frame.ts';

describe('frameScheduler', () => {
  let frames: (() => void)[];
  let now: number;
  let timing: FrameTiming;

  beforeEach(() => {
    vi.useFakeTimers();
    frames = [];
    now = 0;
    timing = {
      raf: (cb) => frames.push(cb),
      caf: (id) => {
        frames[id - 1] = () => {};
      },
      now: () => now,
    };
  });
  afterEach(() => vi.useRealTimers());

  const nextFrame = () => {
    const pending = frames;
    frames = [];
    for (const f of pending) f();
  };

  it('runs once per frame however often it is asked', () => {
    const flush = vi.fn();
    const s = frameScheduler(flush, { timing });
    for (let i = 0; i < 50; i++) s.schedule();
    expect(flush).not.toHaveBeenCalled();
    nextFrame();
    expect(flush).toHaveBeenCalledTimes(1);
    s.schedule();
    nextFrame();
    expect(flush).toHaveBeenCalledTimes(2);
  });

  it('waits out the minimum interval before asking for a frame', () => {
    const flush = vi.fn();
    const s = frameScheduler(flush, { timing, minIntervalMs: 100 });
    s.schedule();
    nextFrame();
    expect(flush).toHaveBeenCalledTimes(1);
    now = 30;
    s.schedule();
    expect(frames).toHaveLength(0); // too soon: a timer, not a frame
    now = 100;
    vi.advanceTimersByTime(70);
    expect(frames).toHaveLength(1);
    nextFrame();
    expect(flush).toHaveBeenCalledTimes(2);
  });

  it('flushes pending work now, and cancels', () => {
    const flush = vi.fn();
    const s = frameScheduler(flush, { timing });
    s.flushNow();
    expect(flush).not.toHaveBeenCalled();
    s.schedule();
    s.flushNow();
    expect(flush).toHaveBeenCalledTimes(1);
    s.schedule();
    s.cancel();
    nextFrame();
    expect(flush).toHaveBeenCalledTimes(1);
  });
});
