// The application menu: the platform's standard roles (so copy/paste, zoom and window management work and are
// keyboard reachable), plus opening the data folder. Reload and the developer tools only in an unpackaged app.
import { Menu, app, shell, type MenuItemConstructorOptions } from 'electron';

export interface MenuOptions {
  isMac: boolean;
  /** Unpackaged (development): adds reload and the developer tools. */
  isDev: boolean;
  dataDir: string;
}

export const DOCS_URL = 'https://github.com/flops-workbench/flops-workbench#readme';

export function menuTemplate(options: MenuOptions): MenuItemConstructorOptions[] {
  const openDataFolder: MenuItemConstructorOptions = {
    label: 'Open Data Folder',
    click: () => void shell.openPath(options.dataDir),
  };
  const view: MenuItemConstructorOptions[] = [
    ...(options.isDev
      ? ([
          { role: 'reload' },
          { role: 'forceReload' },
          { role: 'toggleDevTools' },
          { type: 'separator' },
        ] satisfies MenuItemConstructorOptions[])
      : []),
    { role: 'resetZoom' },
    { role: 'zoomIn' },
    { role: 'zoomOut' },
    { type: 'separator' },
    { role: 'togglefullscreen' },
  ];
  return [
    ...(options.isMac ? [{ role: 'appMenu' } satisfies MenuItemConstructorOptions] : []),
    {
      label: 'File',
      submenu: [openDataFolder, { type: 'separator' }, options.isMac ? { role: 'close' } : { role: 'quit' }],
    },
    { role: 'editMenu' },
    { label: 'View', submenu: view },
    { role: 'windowMenu' },
    {
      role: 'help',
      submenu: [{ label: 'Documentation', click: () => void shell.openExternal(DOCS_URL) }],
    },
  ];
}

export function setupMenu(dataDir: string): void {
  const template = menuTemplate({ isMac: process.platform === 'darwin', isDev: !app.isPackaged, dataDir });
  Menu.setApplicationMenu(Menu.buildFromTemplate(template));
}
