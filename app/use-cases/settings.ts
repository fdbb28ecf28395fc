// Workspace settings that change what runs get: the execution-provider preference, ONNX Runtime's intra-op threads
// per run and how many runs train at once per device. They are stored in the workspace database (app/db/settings.ts;
// docs/app.md says why not a file), read by createAppContext when the app, `flops serve` or a CLI command opens the
// workspace, and applied to the run queue at once by `settings/set`, so the next run started uses them. A startup
// flag (`flops train --threads`, `flops serve --concurrency`) overrides a stored value for that session only, until
// `settings/set` changes the same field.
import { availableParallelism } from 'node:os';

import * as ort from 'onnxruntime-node';
import { z } from 'zod';

import type { AppContext } from '../context.ts';
import type { ProviderName } from '../../engine/onnx/session.ts';
import type { ReadableDb } from '../db/open.ts';
import { readSettingRows, writeSettingRows } from '../db/settings.ts';
import { prepared, type JsonValue } from '../db/sql.ts';
import { defaultProviders } from '../providers.ts';
import { parseArgs, type FieldIssue } from './validate.ts';

export const SETTING_KEYS = ['providers', 'threads', 'concurrency'] as const;
export type SettingKey = (typeof SETTING_KEYS)[number];

/** The providers the engine knows how to ask for (engine/onnx/session.ts's ProviderName). */
export const PROVIDER_NAMES = [
  'cuda',
  'dml',
  'coreml',
  'webgpu',
  'cpu',
] as const satisfies readonly ProviderName[];

/** More intra-op threads than this only adds contention; more concurrent runs than this is a typo. */
export const MAX_THREADS = 256;
export const MAX_CONCURRENCY = 16;

/** What the workspace stores; null means automatic (the app's default). */
export interface Settings {
  /** Execution providers in preference order: runs try them in turn. */
  providers: ProviderName[] | null;
  /** ORT intra-op threads per run. */
  threads: number | null;
  /** Runs training at once, per device (the device is the first provider of the list). */
  concurrency: Partial<Record<ProviderName, number>> | null;
}

const AUTOMATIC: Settings = { providers: null, threads: null, concurrency: null };

/** The providers this build of onnxruntime-node offers on this platform, as the engine names them. */
export function availableProviderNames(): Set<ProviderName> {
  const names = new Set(ort.listSupportedBackends().map((b) => b.name));
  return new Set(PROVIDER_NAMES.filter((p) => names.has(p)));
}

function fieldSchemas(available: ReadonlySet<string>) {
  return {
    providers: z
      .array(z.enum(PROVIDER_NAMES))
      .min(1, 'choose at least one provider')
      .max(PROVIDER_NAMES.length)
      .superRefine((list, check) => {
        list.forEach((p, i) => {
          if (list.indexOf(p) !== i)
            check.addIssue({ code: 'custom', path: [i], message: `${p} is listed twice` });
          else if (!available.has(p)) {
            check.addIssue({
              code: 'custom',
              path: [i],
              message: `${p} is not available in this build (available: ${[...available].join(', ')})`,
            });
          }
        });
      })
      .nullable(),
    threads: z.number().int().min(1).max(MAX_THREADS).nullable(),
    // A plain record with the keys checked here, so an unknown device is named as concurrency.<key>.
    concurrency: z
      .record(z.string(), z.number().int().min(1).max(MAX_CONCURRENCY))
      .superRefine((record, check) => {
        for (const key of Object.keys(record)) {
          if (!(PROVIDER_NAMES as readonly string[]).includes(key)) {
            check.addIssue({
              code: 'custom',
              path: [key],
              message: `not a device (${PROVIDER_NAMES.join(', ')})`,
            });
          }
        }
      })
      .transform((record) => record as Partial<Record<ProviderName, number>>)
      .nullable(),
  };
}

function issuesOf(error: z.ZodError, prefix: string): FieldIssue[] {
  return error.issues.map((i) => ({ field: [prefix, ...i.path.map(String)].join('.'), message: i.message }));
}

/**
 * The stored settings, each value checked as `settings/set` would check it. A value that no longer passes (a
 * workspace copied from a machine with DirectML, a hand-edited row) counts as automatic and is reported in `ignored`.
 */
export function loadSettings(
  db: ReadableDb,
  available: ReadonlySet<string> = availableProviderNames(),
): { settings: Settings; ignored: FieldIssue[] } {
  const { values: rows, unreadable } = readSettingRows(db);
  const schemas = fieldSchemas(available);
  const settings: Settings = { ...AUTOMATIC };
  // A row that is not even JSON (a hand edit past the table's CHECK) is automatic too, and reported.
  const ignored: FieldIssue[] = unreadable
    .filter((u) => (SETTING_KEYS as readonly string[]).includes(u.key))
    .map((u) => ({ field: u.key, message: u.message }));
  for (const key of SETTING_KEYS) {
    if (!(key in rows)) continue;
    const parsed = schemas[key].safeParse(rows[key]);
    if (parsed.success) (settings as unknown as Record<string, unknown>)[key] = parsed.data;
    else ignored.push(...issuesOf(parsed.error, key));
  }
  return { settings, ignored };
}

/** The last run that recorded an execution provider: the provider that really ran, not the one asked for. */
export interface LastRunProvider {
  runId: number;
  name: string;
  status: string;
  provider: string;
  startedAt: number | null;
}

function lastRunProvider(db: ReadableDb): LastRunProvider | null {
  const row = prepared<
    unknown[],
    { id: number; name: string; status: string; execution_provider: string; started_at: number | null }
  >(
    db,
    `SELECT id, name, status, execution_provider, started_at FROM runs WHERE execution_provider IS NOT NULL
     ORDER BY coalesce(started_at, created_at) DESC, id DESC LIMIT 1`,
  ).get();
  return row
    ? {
        runId: row.id,
        name: row.name,
        status: row.status,
        provider: row.execution_provider,
        startedAt: row.started_at,
      }
    : null;
}

export interface SettingsView {
  /** What the workspace stores (null: automatic). */
  stored: Settings;
  /** What runs started now get. `threads` null: the cores divided among a CPU device's concurrent runs. */
  effective: { providers: string[]; device: string; threads: number | null; concurrency: number };
  /** What automatic means on this machine. */
  automatic: { providers: string[]; cores: number };
  /** Fields a startup flag fixes for this session (a stored value applies again at the next start). */
  overrides: SettingKey[];
  /** Stored values that no longer validate, treated as automatic. */
  ignored: FieldIssue[];
  available: { name: string; bundled: boolean; selectable: boolean }[];
  limits: { threads: number; concurrency: number };
  lastRun: LastRunProvider | null;
}

function view(ctx: AppContext): SettingsView {
  const available = availableProviderNames();
  const { settings, ignored } = loadSettings(ctx.workspace.db, available);
  const config = ctx.queue.config;
  const device = ctx.queue.device;
  return {
    stored: settings,
    effective: {
      providers: config.providers,
      device,
      threads: config.threads,
      concurrency: Math.max(1, config.concurrency[device] ?? 1),
    },
    automatic: { providers: defaultProviders(), cores: availableParallelism() },
    overrides: SETTING_KEYS.filter((k) => ctx.overrides?.has(k)),
    ignored,
    available: ort.listSupportedBackends().map((b) => ({
      name: b.name,
      bundled: b.bundled,
      selectable: available.has(b.name as ProviderName),
    })),
    limits: { threads: MAX_THREADS, concurrency: MAX_CONCURRENCY },
    lastRun: lastRunProvider(ctx.workspace.db),
  };
}

/** The stored settings, what is in effect, and the provider that ran the last run. */
export async function getSettings(ctx: AppContext, args: Record<string, never> = {}): Promise<SettingsView> {
  parseArgs('settings/get', z.object({}).strict(), args);
  return view(ctx);
}

export type SettingsPatch = Partial<{ [K in SettingKey]: Settings[K] }>;

/**
 * Stores the fields given (null: back to automatic) after checking every one of them, and applies them to the run
 * queue: runs started from now on get them, runs already training keep theirs. Answers like settings/get.
 */
export async function setSettings(ctx: AppContext, args: SettingsPatch): Promise<SettingsView> {
  const schemas = fieldSchemas(availableProviderNames());
  const patch = parseArgs(
    'settings/set',
    z
      .object({
        providers: schemas.providers.optional(),
        threads: schemas.threads.optional(),
        concurrency: schemas.concurrency.optional(),
      })
      .strict(),
    args,
  );
  writeSettingRows(ctx.workspace.db, patch as Record<string, JsonValue | undefined>);
  ctx.queue.configure({
    ...(patch.providers !== undefined ? { providers: patch.providers ?? defaultProviders() } : {}),
    ...(patch.threads !== undefined ? { threads: patch.threads } : {}),
    ...(patch.concurrency !== undefined ? { concurrency: patch.concurrency ?? {} } : {}),
  });
  // The user's choice in this session wins over the flag the session started with.
  for (const key of SETTING_KEYS) if (patch[key] !== undefined) ctx.overrides?.delete(key);
  return view(ctx);
}
