// `flops serve`: the contract over loopback HTTP and WebSocket, so the renderer runs in a browser (say, through an
// SSH tunnel to a headless workstation) exactly as in Electron. It binds 127.0.0.1 only and every request must carry
// the random token printed in the URL: other local users and web pages cannot reach the API or the data.
//
//   POST /api/<domain>/<verb>   JSON body = the handler's argument → {"result": ...} or {"error": BridgeErrorData}
//   GET  /api/events            WebSocket; each message is {"event": name, "payload": ...}
//   GET  /*                     the built renderer (dist/renderer)
//
// Token: `?token=` or `Authorization: Bearer`. A page load with a valid ?token= also gets an HttpOnly, SameSite=Strict
// cookie, because the browser fetches the page's scripts and styles without the query string; the cookie is accepted
// for those static GETs only, never for the API, so a cross-site request cannot use it.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

import { WebSocketServer, type WebSocket } from 'ws';

import type { DialogAvailability, DialogResult, ShellHandlerName } from '../contract.ts';
import type { AppContext } from '../context.ts';
import { FlopsError } from '../../engine/errors.ts';
import { invokeHandler, toBridgeError } from '../use-cases/index.ts';
import { DEFAULT_RENDERER_DIR, serveStatic } from './static.ts';

export const LOOPBACK = '127.0.0.1';

export interface ServeOptions {
  /** Only 127.0.0.1 is accepted; anything else throws (the API exposes the data folder and the filesystem). */
  host?: string;
  /** 0 (default) picks a free port. */
  port?: number;
  /** Default: 32 random bytes, hex. */
  token?: string;
  rendererDir?: string;
  /** Largest accepted request body (default 16 MiB). */
  maxBodyBytes?: number;
}

export interface RunningServer {
  url: string;
  host: string;
  port: number;
  token: string;
  server: Server;
  close(): Promise<void>;
}

export class ServerConfigError extends FlopsError {
  constructor(message: string) {
    super('SERVE_CONFIG', message);
  }
}

const STATUS_BY_CODE: Record<string, number> = {
  ARGS_INVALID: 400,
  CONFIG_INVALID: 400,
  NOT_FOUND: 404,
  RUN_NOT_FOUND: 404,
  UNKNOWN_HANDLER: 404,
  RUN_STATE: 409,
  AMBIGUOUS: 409,
};

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function sameToken(given: string | undefined, token: string): boolean {
  if (!given) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

function cookieToken(req: IncomingMessage, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === name) return v.join('=');
  }
  return undefined;
}

function bearer(req: IncomingMessage): string | undefined {
  const h = req.headers.authorization;
  return h?.startsWith('Bearer ') ? h.slice(7).trim() : undefined;
}

async function readBody(req: IncomingMessage, limit: number): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new HttpError(413, `request body over ${limit} bytes`);
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8').trim();
  if (text === '') return {};
  try {
    return JSON.parse(text);
  } catch {
    throw new HttpError(400, 'the request body is not JSON');
  }
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
  });
  res.end(text);
}

const NO_DIALOGS =
  'a browser cannot open native file dialogs for this server: type or paste the path (it is read on this machine)';

function isShellHandler(name: string): name is ShellHandlerName {
  return name === 'dialog/available' || name === 'dialog/open-folder' || name === 'dialog/open-file';
}

/**
 * The shell's handlers as a browser gets them: a typed "not available" rather than a 404, so the renderer shows a
 * path field instead of a Browse button and nothing lands in the console. The arguments are not looked at: no
 * dialog is shown whatever they say.
 */
function browserShell(name: ShellHandlerName): DialogAvailability | DialogResult {
  void name;
  return { available: false, reason: NO_DIALOGS };
}

export async function startServer(ctx: AppContext, options: ServeOptions = {}): Promise<RunningServer> {
  const host = options.host ?? LOOPBACK;
  if (host !== LOOPBACK) {
    throw new ServerConfigError(
      `refusing to listen on ${host}: flops serve binds ${LOOPBACK} only (tunnel over SSH)`,
    );
  }
  const token = options.token ?? randomBytes(32).toString('hex');
  const rendererDir = options.rendererDir ?? DEFAULT_RENDERER_DIR;
  const maxBody = options.maxBodyBytes ?? 16 << 20;
  let cookieName = 'flops_token';

  const authorised = (req: IncomingMessage, url: URL, allowCookie: boolean): boolean =>
    sameToken(url.searchParams.get('token') ?? undefined, token) ||
    sameToken(bearer(req), token) ||
    (allowCookie && sameToken(cookieToken(req, cookieName), token));

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', `http://${LOOPBACK}`);
    const method = req.method ?? 'GET';
    const isApi = url.pathname === '/api' || url.pathname.startsWith('/api/');
    if (!authorised(req, url, !isApi && (method === 'GET' || method === 'HEAD'))) {
      res.setHeader('www-authenticate', 'Bearer');
      sendJson(res, 401, {
        error: {
          name: 'Unauthorized',
          code: 'UNAUTHORIZED',
          message: 'missing or wrong token (see the URL flops serve printed)',
        },
      });
      return;
    }
    if (!isApi) {
      if (method !== 'GET' && method !== 'HEAD') {
        sendJson(res, 405, {
          error: { name: 'MethodNotAllowed', code: 'METHOD', message: `${method} not allowed` },
        });
        return;
      }
      if (sameToken(url.searchParams.get('token') ?? undefined, token)) {
        res.setHeader('set-cookie', `${cookieName}=${token}; HttpOnly; SameSite=Strict; Path=/`);
      }
      await serveStatic(rendererDir, url.pathname, res, method);
      return;
    }
    if (method !== 'POST') {
      res.setHeader('allow', 'POST');
      sendJson(res, 405, {
        error: { name: 'MethodNotAllowed', code: 'METHOD', message: 'API calls are POST' },
      });
      return;
    }
    const name = url.pathname.slice('/api/'.length);
    try {
      const args = await readBody(req, maxBody);
      const result = isShellHandler(name) ? browserShell(name) : await invokeHandler(ctx, name, args);
      sendJson(res, 200, { result: result ?? null });
    } catch (error) {
      if (error instanceof HttpError) {
        sendJson(res, error.status, { error: { name: 'HttpError', code: 'HTTP', message: error.message } });
        return;
      }
      const data = toBridgeError(error);
      sendJson(res, STATUS_BY_CODE[data.code] ?? (error instanceof FlopsError ? 422 : 500), { error: data });
    }
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) sendJson(res, 500, { error: toBridgeError(error) });
      else res.destroy();
    });
  });

  const wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 });
  const sockets = new Set<WebSocket>();
  server.on('upgrade', (req, socket, head) => {
    const url = new URL(req.url ?? '/', `http://${LOOPBACK}`);
    if (url.pathname !== '/api/events' || !authorised(req, url, true)) {
      socket.end('HTTP/1.1 401 Unauthorized\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      sockets.add(ws);
      ws.on('close', () => sockets.delete(ws));
      ws.on('error', () => sockets.delete(ws));
    });
  });
  const offEvents = ctx.events.onAny((event, payload) => {
    if (sockets.size === 0) return;
    const text = JSON.stringify({ event, payload });
    for (const ws of sockets) if (ws.readyState === ws.OPEN) ws.send(text);
  });

  await new Promise<void>((resolveListen, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, LOOPBACK, () => {
      server.off('error', reject);
      resolveListen();
    });
  });
  const address = server.address() as AddressInfo;
  // Cookies are per host, not per port: name it after the port so two servers do not overwrite each other's.
  cookieName = `flops_token_${address.port}`;
  const base = `http://${LOOPBACK}:${address.port}`;
  return {
    url: `${base}/?token=${token}`,
    host: address.address,
    port: address.port,
    token,
    server,
    close: async () => {
      offEvents();
      for (const ws of sockets) ws.terminate();
      wss.close();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
