// App lifecycle: one instance at a time (a second launch focuses the first: two processes writing one database
// and one data folder would fight over run leases), quit when the last window closes (except on macOS), and on
// quit let the core pause its runs and close the database before the process ends.
import { app, dialog } from 'electron';

import type { CoreHost } from './core-host.ts';
import { mainWindow } from './window.ts';

/** False when another instance holds the lock: this one quits at once. */
export function setupSingleInstance(): boolean {
  if (!app.requestSingleInstanceLock()) {
    app.quit();
    return false;
  }
  app.on('second-instance', () => {
    const win = mainWindow();
    if (!win) return;
    if (win.isMinimized()) win.restore();
    win.focus();
  });
  return true;
}

export function setupLifecycle(
  core: Pick<CoreHost, 'close' | 'onExit' | 'running'>,
  openWindow: () => void,
): void {
  let quitting = false;
  app.on('window-all-closed', () => {
    if (process.platform !== 'darwin') app.quit();
  });
  app.on('activate', () => {
    if (!mainWindow()) openWindow();
  });
  app.on('before-quit', (event) => {
    if (quitting || !core.running) return;
    // Training runs pause at their next step and write a checkpoint; resumable on the next start.
    event.preventDefault();
    quitting = true;
    void core.close().finally(() => app.quit());
  });
  core.onExit((code) => {
    if (quitting) return;
    quitting = true;
    dialog.showErrorBox(
      'FLOPS Workbench',
      `The training core stopped unexpectedly (exit code ${code}). Runs in progress are marked interrupted and ` +
        'can be resumed from their last checkpoint after a restart.',
    );
    app.quit();
  });
}
