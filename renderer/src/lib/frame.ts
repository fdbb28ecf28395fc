// Coalesces bursts of work into one call per animation frame. A run streaming 50 steps/s delivers several events
// between two frames; the state classes buffer them and apply them here at once, so every chart redraw happens at
// most once per frame and never inside the event handler. `minIntervalMs` caps the rate further for views that
// need not repaint every frame (a canvas repaint costs the compositor far more than the script that triggers it).

export interface FrameScheduler {
  /** Asks for `flush` to run on a coming frame (once, however often this is called before then). */
  schedule(): void;
  /** Runs a pending flush now (tests, dispose). */
  flushNow(): void;
  cancel(): void;
}

export interface FrameTiming {
  raf: (cb: () => void) => number;
  caf: (id: number) => void;
  now: () => number;
}

function defaultTiming(): FrameTiming {
  const now = (): number => (typeof performance !== 'undefined' ? performance.now() : Date.now());
  if (typeof requestAnimationFrame === 'function') {
    return { raf: (cb) => requestAnimationFrame(() => cb()), caf: (id) => cancelAnimationFrame(id), now };
  }
  return { raf: (cb) => setTimeout(cb, 16) as unknown as number, caf: (id) => clearTimeout(id), now };
}

export function frameScheduler(
  flush: () => void,
  options: { minIntervalMs?: number; timing?: FrameTiming } = {},
): FrameScheduler {
  const timing = options.timing ?? defaultTiming();
  const minInterval = options.minIntervalMs ?? 0;
  let frame: number | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let last = -Infinity;
  const run = (): void => {
    frame = undefined;
    last = timing.now();
    flush();
  };
  const requestFrame = (): void => {
    timer = undefined;
    frame = timing.raf(run);
  };
  return {
    schedule() {
      if (frame !== undefined || timer !== undefined) return;
      const wait = last + minInterval - timing.now();
      if (wait > 0) timer = setTimeout(requestFrame, wait);
      else requestFrame();
    },
    flushNow() {
      if (frame === undefined && timer === undefined) return;
      this.cancel();
      run();
    },
    cancel() {
      if (frame !== undefined) timing.caf(frame);
      clearTimeout(timer);
      frame = undefined;
      timer = undefined;
    },
  };
}
