// One run, live: its record, the loss and accuracy curves (down-sampled by 'run/metrics', then extended by
// 'run/progress' events once per animation frame), the allocation view (latest step, heatmap over time), the
// throughput, and the pause/resume/cancel controls. Arrays are replaced, never pushed into.
import { rankBins, appendHeatmapRows, type Heatmap } from '../allocation.ts';
import { errorMessage, type BridgeApi } from '../api.ts';
import { frameScheduler, type FrameScheduler } from '../frame.ts';
import {
  appendPoints,
  EMPTY_CURVE,
  LIVE_MAX,
  LIVE_TARGET,
  mergeTail,
  tailStart,
  type Curve,
} from '../curve.ts';
import {
  LIVE_STATUSES,
  type RunAllocations,
  type RunDetails,
  type RunMetrics,
  type RunProgress,
  type RunStatus,
  type XAxisName,
} from '../types.ts';

export interface LatestAllocation {
  step: number;
  counts: number[];
  losses: number[];
  params: Record<string, unknown>;
}

/**
 * While a run trains, re-read the down-sampled series and the allocation overview this often (train accuracy,
 * evaluations, the heatmap spread over the whole run).
 */
const RESYNC_MS = 5000;
/**
 * Between those, the rows stored since the last read are read this often and bucketed like it. Progress events are
 * throttled (20/s): at thousands of steps a second they are a sparse sample, and a curve continued by them alone
 * turns from a dense min/max envelope into a thin line of single steps, which the smoothing then follows closely.
 */
const TAIL_MS = 1000;
/** A tail longer than this many steps is not read raw; the whole series is re-read instead. */
const TAIL_MAX_STEPS = 20_000;
const HEAT_BINS = 16;
/** Live repaint caps: curves and counters 5 times a second, the allocation charts and heatmap twice. */
const CURVE_INTERVAL_MS = 200;
const ALLOC_INTERVAL_MS = 500;

export function xOf(p: RunProgress, axis: XAxisName): number {
  switch (axis) {
    case 'step':
      return p.step;
    case 'queries':
      return p.queries;
    case 'forwardRows':
      return p.forwardRows;
    case 'wall':
      return p.wallMs;
  }
}

function seriesCurve(m: RunMetrics, metric: string): Curve {
  const s = m.series.find((x) => x.metric === metric);
  return s ? { steps: s.steps, x: s.x, y: s.y } : EMPTY_CURVE;
}

function announcedProvider(details: RunDetails): string | null {
  for (const e of details.events) {
    const provider = (e.message as { provider?: unknown } | null)?.provider;
    if (e.kind === 'run/problem' && typeof provider === 'string') return provider;
  }
  return null;
}

export class RunView {
  readonly id: number;
  details = $state.raw<RunDetails | null>(null);
  status = $state<RunStatus | null>(null);
  error = $state<string | null>(null);
  actionError = $state<string | null>(null);
  pendingAction = $state<'pause' | 'resume' | 'cancel' | 'start' | null>(null);
  xAxis = $state<XAxisName>('step');
  loss = $state.raw<Curve>(EMPTY_CURVE);
  trainAcc = $state.raw<Curve>(EMPTY_CURVE);
  evalAcc = $state.raw<Curve>(EMPTY_CURVE);
  progress = $state.raw<RunProgress | null>(null);
  allocation = $state.raw<LatestAllocation | null>(null);
  heatmap = $state.raw<Heatmap>({ steps: [], bins: HEAT_BINS, rows: [] });
  /** Steps and forward rows per second over the last few seconds of progress. */
  rate = $state.raw<{ stepsPerSecond: number; rowsPerSecond: number } | null>(null);
  /**
   * The execution provider: recorded on the run when it finishes, announced in its 'run/problem' event when it
   * starts (kept once seen: that event scrolls out of the newest few on a long run).
   */
  provider = $state<string | null>(null);

  readonly #api: BridgeApi;
  readonly #frame: FrameScheduler;
  readonly #allocFrame: FrameScheduler;
  readonly #unsubscribe: (() => void)[] = [];
  #pending: RunProgress[] = [];
  #allocPending: RunProgress[] = [];
  /**
   * Counts status events. A status read by a request (run/get, a control's answer) is older than any event that
   * arrived while the request was in flight, so it is applied only when none did.
   */
  #statusEvents = 0;
  #lastEventStatus: RunStatus | null = null;
  /** Whether progress arrived after the latest status event (a resumed run streams before the store says so). */
  #progressSinceStatus = false;
  #window: RunProgress[] = [];
  #resyncTimer: ReturnType<typeof setInterval> | undefined;
  #tailTimer: ReturnType<typeof setInterval> | undefined;
  #metricsSeq = 0;
  /** The last read series (before live points) and its bucket width, which tails are bucketed to. */
  #history: { loss: Curve; acc: Curve; width: number; x: XAxisName } | null = null;
  #tailBusy = false;
  #disposed = false;

  constructor(api: BridgeApi, id: number) {
    this.#api = api;
    this.id = id;
    this.#frame = frameScheduler(() => this.#flush(), { minIntervalMs: CURVE_INTERVAL_MS });
    this.#allocFrame = frameScheduler(() => this.#flushAllocation(), { minIntervalMs: ALLOC_INTERVAL_MS });
    this.#unsubscribe.push(
      api.on('run/progress', (p) => {
        if (p.runId !== this.id) return;
        this.#progressSinceStatus = true;
        this.#pending.push(p);
        this.#allocPending.push(p);
        this.#frame.schedule();
        this.#allocFrame.schedule();
      }),
      api.on('run/status', (s) => {
        if (s.runId !== this.id) return;
        this.#statusEvents++;
        this.#lastEventStatus = s.status;
        this.#progressSinceStatus = false;
        this.status = s.status;
        void this.#loadDetails();
        if (!LIVE_STATUSES.includes(s.status)) {
          void this.loadMetrics();
          void this.loadAllocations();
        }
        this.#syncTimer();
      }),
    );
  }

  get live(): boolean {
    return this.status === 'running';
  }

  get canPause(): boolean {
    return this.status === 'running';
  }

  get canResume(): boolean {
    return this.status === 'paused' || this.status === 'interrupted';
  }

  get canCancel(): boolean {
    return this.status !== null && LIVE_STATUSES.includes(this.status);
  }

  get canStart(): boolean {
    return this.status === 'queued' && this.details?.queue === null;
  }

  async load(): Promise<void> {
    await Promise.all([this.#loadDetails(), this.loadMetrics(), this.loadAllocations()]);
    this.#syncTimer();
  }

  async #loadDetails(): Promise<void> {
    const events = this.#statusEvents;
    try {
      const details = await this.#api.invoke('run/get', { id: this.id, events: 20 });
      if (this.#disposed) return;
      this.details = details;
      this.#readStatus(details.run.status, events);
      this.provider = details.run.executionProvider ?? announcedProvider(details) ?? this.provider;
      this.error = null;
    } catch (error) {
      this.error = errorMessage(error);
    }
  }

  /** Re-reads the down-sampled curves on the current x axis; live points newer than the answer are kept. */
  async loadMetrics(): Promise<void> {
    const seq = ++this.#metricsSeq;
    const x = this.xAxis;
    try {
      const m = await this.#api.invoke('run/metrics', {
        runIds: [this.id],
        metrics: ['trainLoss', 'trainAcc'],
        x,
        maxPoints: LIVE_TARGET,
      });
      if (seq !== this.#metricsSeq || this.#disposed) return;
      const live = this.loss;
      const loss = seriesCurve(m, 'trainLoss');
      const acc = seriesCurve(m, 'trainAcc');
      const width = m.series.find((s) => s.metric === 'trainLoss')?.width ?? 1;
      this.#history = { loss, acc, width, x };
      this.loss = appendPoints(loss, x === this.xAxis ? live : EMPTY_CURVE);
      this.trainAcc = acc;
      const evals = m.evaluations.find((e) => e.runId === this.id)?.points ?? [];
      this.evalAcc = {
        steps: evals.map((p) => p.step),
        x: evals.map((p) => p.x),
        y: evals.map((p) => p.accuracy),
      };
    } catch (error) {
      this.error = errorMessage(error);
    }
  }

  /**
   * Reads the rows stored since the last full read, raw, and buckets them at that read's width (see TAIL_MS), so the
   * curves stay one series of one density up to the latest stored step. Falls back to a full read when the tail is
   * too long or the curve would outgrow LIVE_MAX.
   */
  async loadTail(): Promise<void> {
    const h = this.#history;
    if (!h || h.x !== this.xAxis || this.#tailBusy) return;
    const from = tailStart(h.loss, h.width);
    const latest = this.progress?.step ?? 0;
    if (latest - from > TAIL_MAX_STEPS) return void this.loadMetrics();
    const seq = this.#metricsSeq;
    this.#tailBusy = true;
    try {
      const m = await this.#api.invoke('run/metrics', {
        runIds: [this.id],
        metrics: ['trainLoss', 'trainAcc'],
        x: h.x,
        maxPoints: TAIL_MAX_STEPS,
        fromStep: from,
      });
      // A full read started meanwhile (or the axis changed): its answer wins.
      if (seq !== this.#metricsSeq || this.#disposed || this.#history !== h) return;
      if (m.series.some((s) => s.width > 1)) return void this.loadMetrics();
      const loss = mergeTail(h.loss, seriesCurve(m, 'trainLoss'), from, h.width, this.loss);
      if (loss.steps.length > LIVE_MAX) return void this.loadMetrics();
      this.loss = loss;
      this.trainAcc = mergeTail(
        h.acc,
        seriesCurve(m, 'trainAcc'),
        tailStart(h.acc, h.width),
        h.width,
        EMPTY_CURVE,
      );
    } catch (error) {
      this.error = errorMessage(error);
    } finally {
      this.#tailBusy = false;
    }
  }

  async loadAllocations(): Promise<void> {
    try {
      const a: RunAllocations = await this.#api.invoke('run/allocations', {
        id: this.id,
        bins: HEAT_BINS,
        maxSteps: 200,
      });
      if (this.#disposed) return;
      if (a.latest && (this.allocation?.step ?? -1) < a.latest.step) {
        this.allocation = {
          step: a.latest.step,
          counts: a.latest.counts,
          losses: a.latest.losses,
          params: (a.latest.allocatorParams ?? {}) as Record<string, unknown>,
        };
      }
      const liveAfter = this.heatmap.steps.filter((s) => s > (a.heatmap.steps.at(-1) ?? -1));
      this.heatmap = appendHeatmapRows(
        { steps: a.heatmap.steps, bins: a.heatmap.bins, rows: a.heatmap.rows },
        liveAfter.map((step) => ({
          step,
          row: this.heatmap.rows[this.heatmap.steps.indexOf(step)] as number[],
        })),
      );
    } catch (error) {
      this.error = errorMessage(error);
    }
  }

  setXAxis(axis: XAxisName): void {
    if (axis === this.xAxis) return;
    this.xAxis = axis;
    this.loss = EMPTY_CURVE;
    this.trainAcc = EMPTY_CURVE;
    this.evalAcc = EMPTY_CURVE;
    void this.loadMetrics();
  }

  async pause(): Promise<void> {
    await this.#act('pause', () => this.#api.invoke('run/pause', { id: this.id }));
  }

  async resume(): Promise<void> {
    await this.#act('resume', () => this.#api.invoke('run/resume', { id: this.id }));
  }

  async cancel(): Promise<void> {
    await this.#act('cancel', () => this.#api.invoke('run/cancel', { id: this.id }));
  }

  async start(): Promise<void> {
    await this.#act('start', () => this.#api.invoke('run/start', { id: this.id }));
  }

  async #act(action: NonNullable<RunView['pendingAction']>, call: () => Promise<{ status: RunStatus }>) {
    this.pendingAction = action;
    this.actionError = null;
    const events = this.#statusEvents;
    try {
      const run = await call();
      this.#readStatus(run.status, events);
      await this.#loadDetails();
    } catch (error) {
      this.actionError = errorMessage(error);
    } finally {
      this.pendingAction = null;
      this.#syncTimer();
    }
  }

  /**
   * A status the store reported. Ignored when a status event arrived meanwhile, and when the queue has announced
   * 'running' but the store still says queued or paused: the worker records the start only once it is set up.
   */
  #readStatus(status: RunStatus, eventsBefore: number): void {
    if (eventsBefore !== this.#statusEvents) return;
    if (
      this.#lastEventStatus === 'running' &&
      (status === 'queued' || status === 'paused' || status === 'interrupted')
    ) {
      return;
    }
    this.status = status;
  }

  /** Applies the progress events received since the last frame, in one replacement per array. */
  #flush(): void {
    const batch = this.#pending;
    if (batch.length === 0) return;
    this.#pending = [];
    const axis = this.xAxis;
    this.loss = appendPoints(this.loss, {
      steps: batch.map((p) => p.step),
      x: batch.map((p) => xOf(p, axis)),
      y: batch.map((p) => p.loss),
    });
    const last = batch[batch.length - 1] as RunProgress;
    const prevEval = this.progress?.evalAccuracy ?? null;
    if (last.evalAccuracy !== null && last.evalAccuracy !== prevEval) {
      this.evalAcc = appendPoints(this.evalAcc, {
        steps: [last.step],
        x: [xOf(last, axis)],
        y: [last.evalAccuracy],
      });
    }
    const first = this.progress === null;
    this.progress = last;
    // Steps after the latest status event mean the run trains, whatever an older read said (queued, paused).
    if (
      this.#progressSinceStatus &&
      this.status !== 'running' &&
      (this.status === null || LIVE_STATUSES.includes(this.status))
    ) {
      this.status = 'running';
    }
    this.#updateRate(batch);
    // The provider is announced once training starts: re-read the record with the first steps.
    if (first && this.provider === null) void this.#loadDetails();
  }

  /** The allocation view: this step's counts and the heatmap rows of the steps received since its last paint. */
  #flushAllocation(): void {
    const batch = this.#allocPending;
    if (batch.length === 0) return;
    this.#allocPending = [];
    const last = batch[batch.length - 1] as RunProgress;
    this.allocation = { step: last.step, counts: last.counts, losses: last.losses, params: last.allocator };
    this.heatmap = appendHeatmapRows(
      this.heatmap,
      batch
        .filter((p) => p.counts.length > 0 && p.step > (this.heatmap.steps.at(-1) ?? -1))
        .map((p) => ({ step: p.step, row: rankBins(p.counts, p.losses, this.heatmap.bins) })),
    );
  }

  #updateRate(batch: RunProgress[]): void {
    const last = batch[batch.length - 1] as RunProgress;
    this.#window = this.#window.concat(batch).filter((p) => last.wallMs - p.wallMs <= 5000);
    const first = this.#window[0] as RunProgress;
    const dt = (last.wallMs - first.wallMs) / 1000;
    if (dt > 0 && last.step > first.step) {
      this.rate = {
        stepsPerSecond: (last.step - first.step) / dt,
        rowsPerSecond: (last.forwardRows - first.forwardRows) / dt,
      };
    }
  }

  #syncTimer(): void {
    const want = this.status === 'running';
    if (want && this.#resyncTimer === undefined && !this.#disposed) {
      // The two reads are staggered so their redraws never land in the same frame.
      this.#resyncTimer = setInterval(() => {
        void this.loadMetrics();
        setTimeout(() => {
          if (!this.#disposed) void this.loadAllocations();
        }, RESYNC_MS / 2);
      }, RESYNC_MS);
      this.#tailTimer = setInterval(() => void this.loadTail(), TAIL_MS);
    } else if (!want && this.#resyncTimer !== undefined) {
      clearInterval(this.#resyncTimer);
      clearInterval(this.#tailTimer);
      this.#resyncTimer = undefined;
      this.#tailTimer = undefined;
    }
  }

  dispose(): void {
    this.#disposed = true;
    for (const off of this.#unsubscribe) off();
    this.#frame.cancel();
    this.#allocFrame.cancel();
    clearInterval(this.#resyncTimer);
    clearInterval(this.#tailTimer);
    this.#resyncTimer = undefined;
    this.#tailTimer = undefined;
  }
}
