// Where things are, for the app core and the window: the data folder (Electron's userData, or FLOPS_DATA_DIR for
// tests and portable setups), the bundled demo assets and the Electron build of better-sqlite3. Packaged, the
// assets and the binary are extraResources beside app.asar; in a checkout they are in the repository.
import { app } from 'electron';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The data folder: FLOPS_DATA_DIR when set (each e2e test gets its own; Chromium's profile then lives there too),
 * else app.getPath('userData'): %APPDATA%\FLOPS Workbench, ~/Library/Application Support/FLOPS Workbench,
 * ~/.config/FLOPS Workbench. Must run before app 'ready' so the override also moves Chromium's data.
 */
export function setupDataDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.FLOPS_DATA_DIR) app.setPath('userData', env.FLOPS_DATA_DIR);
  return app.getPath('userData');
}

/** Resources shipped outside the asar: process.resourcesPath when packaged, the checkout's root otherwise. */
function resourcesRoot(): string {
  return app.isPackaged ? process.resourcesPath : app.getAppPath();
}

export function assetsDir(): string {
  return join(resourcesRoot(), 'assets');
}

/** better-sqlite3 built for Electron's ABI (tools/build-electron-sqlite.ts), if present. */
export function electronSqliteBinding(): string | undefined {
  const file = join(resourcesRoot(), 'native', 'electron', 'better_sqlite3.node');
  return existsSync(file) ? file : undefined;
}

/**
 * The core process's environment. FLOPS_SQLITE_BINDING pins the Electron build of better-sqlite3 (app/db/open.ts
 * would find it too, but a utility process need not have process.resourcesPath); FLOPS_ASSETS_DIR says where
 * the bundled model and dataset are once they are no longer beside the sources.
 */
export function coreEnv(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const binding = electronSqliteBinding();
  return {
    ...env,
    FLOPS_ASSETS_DIR: env.FLOPS_ASSETS_DIR ?? assetsDir(),
    ...(binding && !env.FLOPS_SQLITE_BINDING ? { FLOPS_SQLITE_BINDING: binding } : {}),
  };
}
