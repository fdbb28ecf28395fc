// Where user data lives: one folder holding the SQLite database, dataset caches and checkpoint files. The desktop
// app passes Electron's userData path; the CLI uses FLOPS_DATA_DIR or the same per-OS folder Electron would pick
// for productName "FLOPS Workbench", so the app and the CLI see the same runs.
import { homedir, platform } from 'node:os';
import { join } from 'node:path';

export function defaultDataDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.FLOPS_DATA_DIR) return env.FLOPS_DATA_DIR;
  const home = homedir();
  switch (platform()) {
    case 'win32':
      return join(env.APPDATA ?? join(home, 'AppData', 'Roaming'), 'FLOPS Workbench');
    case 'darwin':
      return join(home, 'Library', 'Application Support', 'FLOPS Workbench');
    default:
      return join(env.XDG_CONFIG_HOME ?? join(home, '.config'), 'FLOPS Workbench');
  }
}

export const dataPaths = (dataDir: string) => ({
  db: join(dataDir, 'flops.db'),
  datasets: join(dataDir, 'datasets'),
  checkpoints: join(dataDir, 'checkpoints'),
  exports: join(dataDir, 'exports'),
});
