// The app window and the web-content hardening around it (Electron's security checklist): context isolation, a
// sandboxed renderer without Node, web security on, a strict CSP, no navigation away from the app, no new windows,
// no webviews and no permission grants. The window loads the built renderer from disk (dist/renderer/index.html);
// only an unpackaged app may load the Vite dev server instead, and only from the URL it was given.
import {
  BrowserWindow,
  app,
  type BrowserWindowConstructorOptions,
  type Session,
  type WebContents,
} from 'electron';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

import type { SenderPolicy } from './ipc.ts';

/** Where the renderer comes from: the built index.html, or a dev server while developing. */
export interface RendererSource {
  /** Absolute path of dist/renderer/index.html. */
  indexHtml: string;
  /** http(s) URL of the Vite dev server; never honoured in a packaged app. */
  devServerUrl?: string;
}

/** The built files inside the app (the asar root when packaged, the checkout when not). */
export function rendererSource(env: NodeJS.ProcessEnv = process.env): RendererSource {
  const indexHtml = join(app.getAppPath(), 'dist', 'renderer', 'index.html');
  const dev = env.FLOPS_DEV_SERVER_URL;
  if (!app.isPackaged && dev && /^https?:\/\/(localhost|127\.0\.0\.1)(:\d+)?\/?$/.test(dev)) {
    return { indexHtml, devServerUrl: dev };
  }
  return { indexHtml };
}

/** The preload, built as CommonJS (sandboxed preloads cannot be ES modules): see docs/packaging.md. */
export function preloadPath(): string {
  return join(app.getAppPath(), 'dist-electron', 'preload.cjs');
}

/**
 * The page's Content-Security-Policy. Scripts only from the app itself (no inline script, no eval); inline styles
 * are allowed because Svelte and uPlot set style attributes; images may be data:/blob: (sample grids, charts).
 * The dev server variant adds its origin and its HMR WebSocket.
 */
export function contentSecurityPolicy(source: RendererSource): string {
  const dev = source.devServerUrl ? new URL(source.devServerUrl).origin : undefined;
  const self = dev ? `'self' ${dev}` : "'self'";
  const connect = dev ? `${self} ${dev.replace(/^http/, 'ws')}` : "'self'";
  return [
    "default-src 'none'",
    `script-src ${self}`,
    `style-src ${self} 'unsafe-inline'`,
    `img-src ${self} data: blob:`,
    `font-src ${self}`,
    `connect-src ${connect}`,
    `worker-src ${self} blob:`,
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

/** The only URLs an app window may show and that may call the API: our index.html, or the dev server. */
export function isTrustedRendererUrl(url: string, source: RendererSource): boolean {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return false;
  }
  if (parsed.protocol === 'file:') {
    return parsed.pathname === pathToFileURL(source.indexHtml).pathname && parsed.host === '';
  }
  if (source.devServerUrl) return parsed.origin === new URL(source.devServerUrl).origin;
  return false;
}

/** Who may call the API and receive events: the app's windows, showing the app's page. */
export function senderPolicy(source: RendererSource): SenderPolicy {
  return { isAppWindow, isTrustedUrl: (url) => isTrustedRendererUrl(url, source) };
}

export function windowOptions(preload: string): BrowserWindowConstructorOptions {
  return {
    width: 1280,
    height: 820,
    minWidth: 900,
    minHeight: 600,
    show: false,
    title: 'FLOPS Workbench',
    backgroundColor: '#1b1f24',
    webPreferences: {
      preload,
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      nodeIntegrationInSubFrames: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      webviewTag: false,
      experimentalFeatures: false,
      navigateOnDragDrop: false,
      spellcheck: false,
    },
  };
}

/** Windows this app created; only they may call the API or receive events. */
const appWindows = new Set<BrowserWindow>();

export function isAppWindow(contents: WebContents): boolean {
  const win = BrowserWindow.fromWebContents(contents);
  return win !== null && appWindows.has(win) && !win.isDestroyed();
}

export function appWindowContents(): WebContents[] {
  return [...appWindows].filter((w) => !w.isDestroyed()).map((w) => w.webContents);
}

export function mainWindow(): BrowserWindow | undefined {
  return [...appWindows].find((w) => !w.isDestroyed());
}

/**
 * Navigation and window hardening for any web contents (windows, devtools, anything created later): it may not
 * navigate or redirect away from the app's page, may not open windows, and may not attach webviews.
 */
const hardened = new WeakSet<WebContents>();

export function hardenWebContents(contents: WebContents, source: RendererSource): void {
  if (hardened.has(contents)) return;
  hardened.add(contents);
  const refuse = (event: { preventDefault(): void }, url: string, what: string): void => {
    if (isTrustedRendererUrl(url, source)) return;
    event.preventDefault();
    console.warn(`blocked ${what} to ${url}`);
  };
  contents.on('will-navigate', (event, url) => refuse(event, url, 'navigation'));
  contents.on('will-redirect', (event, url) => refuse(event, url, 'redirect'));
  contents.on('will-attach-webview', (event) => event.preventDefault());
  contents.setWindowOpenHandler(({ url }) => {
    console.warn(`blocked window.open of ${url}`);
    return { action: 'deny' };
  });
}

/** The CSP as a response header on the app's page (file:// and the dev server), and no permission grants. */
export function hardenSession(ses: Session, source: RendererSource): void {
  const csp = contentSecurityPolicy(source);
  const urls = ['file://*/*'];
  if (source.devServerUrl) urls.push(`${new URL(source.devServerUrl).origin}/*`);
  ses.webRequest.onHeadersReceived({ urls }, (details, callback) => {
    const headers = { ...details.responseHeaders };
    for (const key of Object.keys(headers)) {
      if (key.toLowerCase() === 'content-security-policy') delete headers[key];
    }
    callback({ responseHeaders: { ...headers, 'Content-Security-Policy': [csp] } });
  });
  // Camera, microphone, notifications, geolocation, HID/serial/USB, clipboard reads...: the workbench needs none.
  ses.setPermissionRequestHandler((_contents, _permission, callback) => callback(false));
  ses.setPermissionCheckHandler(() => false);
  ses.setDevicePermissionHandler(() => false);
}

/** Hardening for every web contents the app will ever create (call before the first window). */
export function setupWebContentsSecurity(source: RendererSource): void {
  app.on('web-contents-created', (_event, contents) => hardenWebContents(contents, source));
}

export function createMainWindow(source: RendererSource, preload: string = preloadPath()): BrowserWindow {
  const win = new BrowserWindow(windowOptions(preload));
  hardenWebContents(win.webContents, source);
  appWindows.add(win);
  win.once('closed', () => appWindows.delete(win));
  win.once('ready-to-show', () => win.show());
  const loading = source.devServerUrl ? win.loadURL(source.devServerUrl) : win.loadFile(source.indexHtml);
  loading.catch((error: unknown) => console.error('the renderer failed to load', error));
  return win;
}
