// Contract-shaped records the tests hand to the test bridge.
import type { Events, HandlerResult } from '../../app/contract.ts';

type DatasetVersion = HandlerResult<'dataset/list'>[number];
type RunSummary = HandlerResult<'run/list'>[number];
type RunProgress = Events['run/progress'];
type Model = HandlerResult<'model/list'>[number];

export function dataset(over: Partial<DatasetVersion> = {}): DatasetVersion {
  return {
    id: 'a'.repeat(64),
    datasetId: 1,
    name: 'fashion-mnist-demo',
    sourceKind: 'folder',
    sourcePath: '/data/fmnist',
    source: { kind: 'folder', path: '/data/fmnist' },
    classes: ['sandal', 'shirt', 'sneaker', 'bag', 'boot'],
    count: 500,
    splitCounts: {
      counts: { train: 400, val: 50, test: 50 },
      perClass: { train: [80, 80, 80, 80, 80], val: [10, 10, 10, 10, 10], test: [10, 10, 10, 10, 10] },
    },
    height: 28,
    width: 28,
    channels: 1,
    splitSpec: { kind: 'stratified' },
    preprocess: null,
    cachePath: '/cache/a',
    report: { skipped: [], notes: [] },
    createdAt: 1_700_000_000_000,
    ...over,
  };
}

export function model(over: Partial<Model> = {}): Model {
  return {
    id: 1,
    name: 'vit-tiny-fmnist',
    kind: 'hf-vit',
    path: '/models/vit-tiny',
    config: {},
    paramCounts: { total: 100_000 },
    sha256: 'b'.repeat(64),
    createdAt: 1_700_000_000_000,
    ...over,
  };
}

export function runSummary(over: Partial<RunSummary> & { id: number }): RunSummary {
  return {
    name: `run ${over.id}`,
    modelId: 1,
    datasetVersionId: 'a'.repeat(64),
    requestedConfig: {},
    resolvedConfig: null,
    seed: 0,
    status: 'completed',
    executionProvider: 'cpu',
    createdAt: 1_700_000_000_000 + over.id * 1000,
    startedAt: null,
    finishedAt: null,
    pid: null,
    heartbeatAt: null,
    error: null,
    notes: '',
    tags: [],
    lastStep: 10,
    lastLoss: 1,
    stats: {
      steps: 10,
      queries: 640,
      forwardRows: 1000,
      lastLoss: 1,
      wallMs: 2000,
      evalAccuracy: 0.5,
      evalLoss: 1.2,
      bestEvalAccuracy: 0.5,
      initialAccuracy: 0.2,
      meanVarianceEstimate: 0.1,
    },
    ...over,
  };
}

export function progress(runId: number, step: number, over: Partial<RunProgress> = {}): RunProgress {
  return {
    runId,
    step,
    totalSteps: 100,
    epoch: 0,
    loss: 2 - step / 100,
    queries: step * 320,
    forwardRows: step * 352,
    varianceEstimate: 0.1,
    wallMs: step * 20,
    accuracy: 0.25 + (step % 4) / 8,
    counts: [8, 10, 12, 10],
    losses: [0.5, 1, 2, 1.5],
    allocator: { alpha: 0.1, beta: 1 },
    evalAccuracy: null,
    ...over,
  };
}

type SystemInfo = HandlerResult<'system/info'>;
type SettingsView = HandlerResult<'settings/get'>;

export function systemInfo(over: Partial<SystemInfo> = {}): SystemInfo {
  return {
    providers: {
      available: [
        { name: 'cpu', bundled: true },
        { name: 'webgpu', bundled: true },
      ],
      preferred: ['cpu'],
      automatic: ['cpu'],
    },
    throughput: [],
    cpu: { model: 'Test CPU', cores: 4, logical: 8 },
    memoryBytes: 8 * 2 ** 30,
    platform: 'linux',
    arch: 'x64',
    versions: { app: '0.0.0', node: '20', electron: null, onnxruntime: '1.30.0', v8: '11' },
    dataDir: '/data/flops',
    database: '/data/flops/flops.db',
    queue: { device: 'cpu', running: [], waiting: [] },
    ...over,
  };
}

export function settingsView(over: Partial<SettingsView> = {}): SettingsView {
  return {
    stored: { providers: null, threads: null, concurrency: null },
    effective: { providers: ['cpu'], device: 'cpu', threads: null, concurrency: 1 },
    automatic: { providers: ['cpu'], cores: 4 },
    overrides: [],
    ignored: [],
    available: [
      { name: 'cpu', bundled: true, selectable: true },
      { name: 'webgpu', bundled: true, selectable: true },
      { name: 'tensorrt', bundled: false, selectable: false },
    ],
    limits: { threads: 256, concurrency: 16 },
    lastRun: {
      runId: 7,
      name: 'head-lr',
      status: 'completed',
      provider: 'cpu',
      startedAt: 1_700_000_000_000,
    },
    ...over,
  };
}
