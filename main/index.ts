// The Electron main process: a list of setup calls (conventions 3). main/ is a thin adapter; the app core (the
// database, the use cases and the training queue) runs in a utility process (core-host.ts), so nothing here ever
// blocks on ONNX Runtime or SQLite.
import { app, dialog, session } from 'electron';

import { setupCore } from './core-host.ts';
import { setupDialogs } from './dialogs.ts';
import { setupEvents, setupIpc } from './ipc.ts';
import { setupLifecycle, setupSingleInstance } from './lifecycle.ts';
import { setupMenu } from './menu.ts';
import { setupDataDir } from './paths.ts';
import {
  appWindowContents,
  createMainWindow,
  hardenSession,
  rendererSource,
  senderPolicy,
  setupWebContentsSecurity,
} from './window.ts';

async function main(): Promise<void> {
  // The data folder first: the single-instance lock is keyed on userData, so each FLOPS_DATA_DIR (one per e2e
  // test) gets its own instance.
  const dataDir = setupDataDir();
  if (!setupSingleInstance()) return;
  const source = rendererSource();
  const policy = senderPolicy(source);
  setupWebContentsSecurity(source);
  await app.whenReady();
  hardenSession(session.defaultSession, source);
  const core = await setupCore(dataDir);
  const ipc = setupIpc(core, policy);
  setupDialogs(ipc);
  setupEvents(core, appWindowContents, policy);
  setupMenu(dataDir);
  setupLifecycle(core, () => createMainWindow(source));
  createMainWindow(source);
}

main().catch((error: unknown) => {
  const message = error instanceof Error ? error.message : String(error);
  console.error('FLOPS Workbench could not start:', error);
  dialog.showErrorBox('FLOPS Workbench could not start', message);
  app.exit(1);
});
