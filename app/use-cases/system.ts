// System information for the UI's status bar and `flops` diagnostics: which execution providers this build of
// ONNX Runtime offers and which the app would ask for, the machine, versions, and where the data lives.
import { readFileSync } from 'node:fs';
import { arch, availableParallelism, cpus, platform, totalmem } from 'node:os';

import * as ort from 'onnxruntime-node';
import { z } from 'zod';

import type { AppContext } from '../context.ts';
import type { DatasetVersion } from '../db/datasets.ts';
import type { Model } from '../db/models.ts';
import type { ReadableDb } from '../db/open.ts';
import { prepared } from '../db/sql.ts';
import { defaultProviders } from '../providers.ts';
import { parseArgs } from './validate.ts';

export interface SystemInfo {
  providers: {
    /** onnxruntime-node's backends on this platform; `bundled`: shipped in the package (no extra download). */
    available: { name: string; bundled: boolean }[];
    /** What runs started now ask for, in preference order (the stored setting, else app/providers.ts's default). */
    preferred: string[];
    /** app/providers.ts's default for this machine (what "automatic" means). */
    automatic: string[];
  };
  /** Measured training throughput of recent completed runs, newest first (see measuredThroughput). */
  throughput: Throughput[];
  cpu: { model: string; cores: number; logical: number };
  memoryBytes: number;
  platform: string;
  arch: string;
  versions: { app: string; node: string; electron: string | null; onnxruntime: string; v8: string };
  dataDir: string;
  database: string;
  queue: { device: string; running: number[]; waiting: number[] };
}

function appVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      version?: string;
    };
    return pkg.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/**
 * Forward rows (and queries) per second of training, measured on the last completed runs of one execution provider,
 * model and trainable mode: each of those changes the rate by orders of magnitude (a head on cached prefixes runs
 * ~20x faster than the full graph), so an estimate is only honest for a matching group.
 */
export interface Throughput {
  provider: string;
  modelId: number | null;
  mode: string | null;
  estimator: string | null;
  /** Forward rows per second of training wall time, over the group's runs (total rows / total time). */
  rowsPerSecond: number;
  queriesPerSecond: number;
  /** How many runs were pooled (the group's newest, at most THROUGHPUT_RUNS). */
  runs: number;
  /** When the newest of them finished (Unix ms). */
  finishedAt: number;
}

const THROUGHPUT_RUNS = 5;

/** The throughput of the latest 100 completed runs, from the store: one query (each run's last metric row by key). */
export function measuredThroughput(db: ReadableDb): Throughput[] {
  const rows = prepared<
    unknown[],
    {
      provider: string;
      model_id: number | null;
      mode: string | null;
      estimator: string | null;
      forward_rows: number;
      queries: number;
      wall_ms: number;
      finished_at: number;
    }
  >(
    db,
    `SELECT r.execution_provider AS provider, r.model_id, json_extract(r.resolved_config, '$.mode.kind') AS mode,
       json_extract(r.resolved_config, '$.train.estimator') AS estimator, m.forward_rows, m.queries, m.wall_ms,
       r.finished_at
     FROM (SELECT id, execution_provider, model_id, resolved_config, finished_at FROM runs
           WHERE status = 'completed' AND execution_provider IS NOT NULL AND finished_at IS NOT NULL
           ORDER BY finished_at DESC LIMIT 100) r
     JOIN metrics m ON m.run_id = r.id AND m.step = (SELECT max(step) FROM metrics WHERE run_id = r.id)
     WHERE m.wall_ms > 0 AND m.forward_rows > 0
     ORDER BY r.finished_at DESC`,
  ).all();
  const groups = new Map<string, Throughput & { rows: number; queries: number; ms: number }>();
  for (const r of rows) {
    const key = JSON.stringify([r.provider, r.model_id, r.mode, r.estimator]);
    let g = groups.get(key);
    if (!g) {
      g = {
        provider: r.provider,
        modelId: r.model_id,
        mode: r.mode,
        estimator: r.estimator,
        rowsPerSecond: 0,
        queriesPerSecond: 0,
        runs: 0,
        finishedAt: r.finished_at,
        rows: 0,
        queries: 0,
        ms: 0,
      };
      groups.set(key, g);
    }
    if (g.runs >= THROUGHPUT_RUNS) continue;
    g.runs += 1;
    g.rows += r.forward_rows;
    g.queries += r.queries;
    g.ms += r.wall_ms;
  }
  return [...groups.values()].map(({ rows: total, queries, ms, ...g }) => ({
    ...g,
    rowsPerSecond: (total / ms) * 1000,
    queriesPerSecond: (queries / ms) * 1000,
  }));
}

export async function systemInfo(ctx: AppContext, args: Record<string, never> = {}): Promise<SystemInfo> {
  parseArgs('system/info', z.object({}), args);
  const list = cpus();
  return {
    providers: {
      available: ort.listSupportedBackends().map((b) => ({ name: b.name, bundled: b.bundled })),
      preferred: ctx.queue.config.providers,
      automatic: defaultProviders(),
    },
    throughput: measuredThroughput(ctx.workspace.db),
    cpu: { model: list[0]?.model.trim() ?? 'unknown', cores: availableParallelism(), logical: list.length },
    memoryBytes: totalmem(),
    platform: platform(),
    arch: arch(),
    versions: {
      app: appVersion(),
      node: process.versions.node,
      electron: process.versions.electron ?? null,
      onnxruntime: ort.env.versions.common ?? 'unknown',
      v8: process.versions.v8,
    },
    dataDir: ctx.workspace.dataDir,
    database: ctx.workspace.paths.db,
    queue: { device: ctx.queue.device, ...ctx.queue.snapshot() },
  };
}

/** Registers the bundled demo model and dataset (idempotent) so a first run needs no files of the user's. */
export async function ensureBundled(
  ctx: AppContext,
  args: Record<string, never> = {},
): Promise<{ model: Model; dataset: DatasetVersion }> {
  parseArgs('system/bundled', z.object({}), args);
  // Loaded on use: registering the dataset may import it, which needs sharp's native decoders.
  const { ensureBundledDataset, ensureBundledModel } = await import('../bundled.ts');
  const model = await ensureBundledModel(ctx.workspace);
  const dataset = await ensureBundledDataset(ctx.workspace);
  return { model, dataset };
}
