// Window security: the webPreferences flags, navigation and window.open blocked, webviews refused, the CSP header,
// and every permission request denied.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

import {
  contentSecurityPolicy,
  createMainWindow,
  hardenSession,
  isAppWindow,
  isTrustedRendererUrl,
  rendererSource,
  setupWebContentsSecurity,
  windowOptions,
  type RendererSource,
} from '../../main/window.ts';
import { BrowserWindow, app, resetElectronMock, session } from '../mocks/electron.ts';

const source: RendererSource = { indexHtml: '/opt/flops/dist/renderer/index.html' };
const dev: RendererSource = { ...source, devServerUrl: 'http://localhost:5173' };

beforeEach(() => {
  resetElectronMock();
  vi.spyOn(console, 'warn').mockImplementation(() => undefined);
});
afterEach(() => vi.restoreAllMocks());

/** Emits a navigation-like event and reports whether a handler prevented it. */
function prevented(win: BrowserWindow, name: string, url: string): boolean {
  let stopped = false;
  win.webContents.emit(name, { preventDefault: () => (stopped = true) }, url);
  return stopped;
}

describe('window options', () => {
  it('isolate the page from Node and Electron', () => {
    const web = windowOptions('/app/dist-electron/preload.cjs').webPreferences!;
    expect(web).toMatchObject({
      preload: '/app/dist-electron/preload.cjs',
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      nodeIntegrationInSubFrames: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      webviewTag: false,
    });
  });

  it('the window is created with them, loads the built index.html and counts as an app window', () => {
    const win = createMainWindow(source, '/p.cjs') as unknown as BrowserWindow;
    expect(win.options).toEqual(windowOptions('/p.cjs'));
    expect(win.webContents.getURL()).toBe('file:///opt/flops/dist/renderer/index.html');
    expect(isAppWindow(win.webContents as unknown as Electron.WebContents)).toBe(true);
    expect(isAppWindow(new BrowserWindow().webContents as unknown as Electron.WebContents)).toBe(false);
    win.close();
    expect(isAppWindow(win.webContents as unknown as Electron.WebContents)).toBe(false);
  });

  it('the dev server is used only unpackaged, and only on loopback', () => {
    const env = { FLOPS_DEV_SERVER_URL: 'http://localhost:5173' };
    expect(rendererSource(env).devServerUrl).toBe('http://localhost:5173');
    expect(rendererSource({ FLOPS_DEV_SERVER_URL: 'http://evil.example:5173' }).devServerUrl).toBeUndefined();
    app.isPackaged = true;
    expect(rendererSource(env).devServerUrl).toBeUndefined();
    expect(rendererSource(env).indexHtml).toMatch(/dist[\\/]renderer[\\/]index\.html$/);
  });
});

describe('navigation', () => {
  it('blocks navigation and redirects away from the app, allows the app page itself', () => {
    const win = createMainWindow(source, '/p.cjs') as unknown as BrowserWindow;
    expect(prevented(win, 'will-navigate', 'https://evil.example/')).toBe(true);
    expect(prevented(win, 'will-navigate', 'file:///etc/passwd')).toBe(true);
    expect(prevented(win, 'will-navigate', 'javascript:alert(1)')).toBe(true);
    expect(prevented(win, 'will-redirect', 'https://evil.example/')).toBe(true);
    expect(prevented(win, 'will-navigate', 'file:///opt/flops/dist/renderer/index.html#/runs')).toBe(false);
  });

  it('denies window.open and refuses webviews', () => {
    const win = createMainWindow(source, '/p.cjs') as unknown as BrowserWindow;
    expect(win.webContents.windowOpenHandler!({ url: 'https://example.com/' })).toEqual({ action: 'deny' });
    expect(prevented(win, 'will-attach-webview', 'x')).toBe(true);
  });

  it('hardens web contents the app did not create itself (devtools, a later window)', () => {
    setupWebContentsSecurity(source);
    const other = new BrowserWindow();
    expect(other.webContents.windowOpenHandler!({ url: 'https://example.com/' })).toEqual({ action: 'deny' });
    expect(prevented(other, 'will-navigate', 'https://evil.example/')).toBe(true);
  });

  it('trusts only our index.html, or the configured dev server', () => {
    expect(isTrustedRendererUrl('file:///opt/flops/dist/renderer/index.html', source)).toBe(true);
    expect(isTrustedRendererUrl('file:///opt/flops/dist/renderer/other.html', source)).toBe(false);
    expect(isTrustedRendererUrl('http://localhost:5173/', source)).toBe(false);
    expect(isTrustedRendererUrl('http://localhost:5173/#/runs', dev)).toBe(true);
    expect(isTrustedRendererUrl('http://localhost:5174/', dev)).toBe(false);
    expect(isTrustedRendererUrl('not a url', dev)).toBe(false);
  });
});

describe('session', () => {
  it('sets a strict CSP header on the app page, replacing any the response had', () => {
    hardenSession(session.defaultSession as unknown as Electron.Session, source);
    const hook = session.defaultSession.headersReceived!;
    expect(hook.filter.urls).toEqual(['file://*/*']);
    let response: { responseHeaders?: Record<string, string[]> } = {};
    hook.listener(
      { url: 'file:///x', responseHeaders: { 'content-security-policy': ['default-src *'], 'X-A': ['1'] } },
      (r: typeof response) => (response = r),
    );
    expect(response.responseHeaders).toEqual({
      'X-A': ['1'],
      'Content-Security-Policy': [contentSecurityPolicy(source)],
    });
  });

  it('the CSP allows no inline or eval script, no plugins, no framing, nothing remote', () => {
    const csp = contentSecurityPolicy(source);
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toMatch(/unsafe-eval|script-src[^;]*unsafe-inline|https?:|\*/);
    expect(csp).toContain("object-src 'none'");
    expect(csp).toContain("frame-ancestors 'none'");
    const devCsp = contentSecurityPolicy(dev);
    expect(devCsp).toContain("connect-src 'self' http://localhost:5173 ws://localhost:5173");
    hardenSession(session.defaultSession as unknown as Electron.Session, dev);
    expect(session.defaultSession.headersReceived!.filter.urls).toEqual([
      'file://*/*',
      'http://localhost:5173/*',
    ]);
  });

  it('denies every permission request and check', () => {
    hardenSession(session.defaultSession as unknown as Electron.Session, source);
    const answers: boolean[] = [];
    for (const permission of ['media', 'geolocation', 'notifications', 'clipboard-read', 'openExternal']) {
      session.defaultSession.permissionRequestHandler!({}, permission, (granted: boolean) =>
        answers.push(granted),
      );
    }
    expect(answers).toEqual([false, false, false, false, false]);
    expect(session.defaultSession.permissionCheckHandler!({}, 'media')).toBe(false);
    expect(session.defaultSession.devicePermissionHandler!({ deviceType: 'usb' })).toBe(false);
  });
});
