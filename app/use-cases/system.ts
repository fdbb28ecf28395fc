// System information for the UI's status bar and `flops` diagnostics: which execution providers this build of
// ONNX Runtime offers and which the app would ask for, the machine, versions, and where the data lives.
import { readFileSync } from 'node:fs';
import { arch, availableParallelism, cpus, platform, totalmem } from 'node:os';

import * as ort from 'onnxruntime-node';
import { z } from 'zod';

import type { AppContext } from '../context.ts';
import type { DatasetVersion } from '../db/datasets.ts';
import type { Model } from '../db/models.ts';
import { defaultProviders } from '../providers.ts';
import { parseArgs } from './validate.ts';

export interface SystemInfo {
  providers: {
    /** onnxruntime-node's backends on this platform; `bundled`: shipped in the package (no extra download). */
    available: { name: string; bundled: boolean }[];
    /** What runs ask for, in preference order (app/providers.ts). */
    preferred: string[];
  };
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

export async function systemInfo(ctx: AppContext, args: Record<string, never> = {}): Promise<SystemInfo> {
  parseArgs('system/info', z.object({}), args);
  const list = cpus();
  return {
    providers: {
      available: ort.listSupportedBackends().map((b) => ({ name: b.name, bundled: b.bundled })),
      preferred: defaultProviders(),
    },
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
