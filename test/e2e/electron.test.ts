// Electron end to end (Playwright's Electron support), only where an Electron binary is installed: offline
// installs skip the binary download (ELECTRON_SKIP_BINARY_DOWNLOAD=1), and then this suite skips with a visible
// message instead of failing. Each test gets a fresh data folder through FLOPS_DATA_DIR (conventions 14). Where it
// runs (a networked machine, the release workflow) it launches the real app: window, preload surface, a call into
// the core, bad arguments, and a short demo run on the bundled model and dataset. With FLOPS_E2E_EXECUTABLE set
// (the release workflow's smoke test) it launches that installed, packaged app instead of the checkout.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';

import type { ElectronApplication, Page } from 'playwright-core';

import type { BridgeApi } from '../../app/contract.ts';

/** The page's globals as the tests read them (this program has no DOM lib; the callbacks run in the page). */
type PageGlobals = { api: BridgeApi; require?: unknown; process?: unknown };

/** The electron package's export is the binary's path; it throws when the binary was never downloaded. */
function electronBinary(): string | undefined {
  try {
    // Node's own require: the suite's vi.mock('electron') applies to imports, not to this.
    const path = createRequire(import.meta.url)('electron') as unknown;
    return typeof path === 'string' && existsSync(path) ? path : undefined;
  } catch {
    return undefined;
  }
}

/** The release workflow points this at the installed, packaged app to smoke-test it. */
const packaged = process.env.FLOPS_E2E_EXECUTABLE;
const binary = packaged ?? electronBinary();
if (!binary) console.warn('Electron binary not installed; skipping Electron end-to-end tests');

const root = process.cwd();
const artifacts = join(root, 'test-artifacts', 'electron');

describe.skipIf(!binary)('Electron app', () => {
  let app: ElectronApplication | undefined;
  let dataDir: string;

  beforeAll(() => {
    mkdirSync(artifacts, { recursive: true });
    if (packaged) return;
    const built = ['dist-electron/main/index.js', 'dist-electron/preload.cjs', 'dist/renderer/index.html'];
    if (!built.every((f) => existsSync(join(root, f)))) {
      const shell = process.platform === 'win32';
      execFileSync('npm', ['run', 'build:main'], { cwd: root, stdio: 'inherit', shell });
      execFileSync('npx', ['vite', 'build'], { cwd: root, stdio: 'inherit', shell });
    }
  });

  afterEach(async () => {
    await app?.close();
    app = undefined;
    rmSync(dataDir, { recursive: true, force: true });
  });

  async function launch(): Promise<Page> {
    const { _electron } = await import('playwright-core');
    dataDir = mkdtempSync(join(tmpdir(), 'flops-e2e-'));
    app = await _electron.launch({
      executablePath: binary!,
      // A packaged app knows its own code; a checkout is started as `electron <root>`.
      args: packaged ? [] : [root],
      env: { ...process.env, FLOPS_DATA_DIR: dataDir } as Record<string, string>,
      timeout: 60_000,
    });
    const page = await app.firstWindow();
    await page.waitForLoadState('domcontentloaded');
    return page;
  }

  it('opens the window with only the contract exposed', async () => {
    const page = await launch();
    expect(await page.title()).toBe('FLOPS Workbench');
    const surface = await page.evaluate(() => {
      const page = globalThis as unknown as PageGlobals;
      return {
        api: Object.keys(page.api).sort(),
        require: typeof page.require,
        process: typeof page.process,
      };
    });
    expect(surface).toEqual({ api: ['invoke', 'on'], require: 'undefined', process: 'undefined' });
    await page.screenshot({ path: join(artifacts, 'window.png') });
  });

  it('answers calls from the core on a fresh data folder, with field errors intact', async () => {
    const page = await launch();
    const info = await page.evaluate(() =>
      (globalThis as unknown as PageGlobals).api.invoke('system/info', {}),
    );
    expect(info.dataDir).toBe(dataDir);
    expect(info.versions.electron).toBeTruthy();
    const error = await page.evaluate(() =>
      (globalThis as unknown as PageGlobals).api.invoke('run/list', { limit: -1 }).then(
        () => null,
        (e: { code: string; issues?: { field: string }[] }) => ({
          code: e.code,
          fields: e.issues?.map((i) => i.field),
        }),
      ),
    );
    expect(error).toEqual({ code: 'ARGS_INVALID', fields: ['limit'] });
  });

  it('runs a short demo training run and streams its progress', async () => {
    const page = await launch();
    const outcome = await page.evaluate(async () => {
      const api = (globalThis as unknown as PageGlobals).api;
      const { model, dataset } = await api.invoke('system/bundled', {});
      let progress = 0;
      const off = api.on('run/progress', () => void progress++);
      const finished = new Promise<string>((resolve) => {
        api.on('run/status', (s) => {
          if (['completed', 'failed', 'diverged', 'cancelled'].includes(s.status)) resolve(s.status);
        });
      });
      await api.invoke('run/create', {
        preset: 'head-spsa',
        spec: { modelId: model.id, datasetVersionId: dataset.id, train: { maxSteps: 5 } },
      });
      const status = await finished;
      off();
      return { status, progress };
    });
    expect(outcome.status).toBe('completed');
    expect(outcome.progress).toBeGreaterThan(0);
    await page.screenshot({ path: join(artifacts, 'after-demo-run.png') });
  });
});
