// Static files of the built renderer (dist/renderer) for `flops serve`: content types browsers accept for module
// scripts, no directory traversal (the resolved path must stay inside the root, symlinks included), and a page that
// says what to do when the renderer has not been built.
import { createReadStream } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

export const DEFAULT_RENDERER_DIR = fileURLToPath(new URL('../../dist/renderer', import.meta.url));

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.ico': 'image/x-icon',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.ttf': 'font/ttf',
  '.wasm': 'application/wasm',
  '.txt': 'text/plain; charset=utf-8',
};

export function contentType(file: string): string {
  return TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream';
}

const NOT_BUILT = (dir: string): string => `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>FLOPS Workbench</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 4rem auto; line-height: 1.5">
<h1>FLOPS Workbench</h1>
<p>The server is running, but the user interface has not been built: <code>${escapeHtml(dir)}</code> has no
<code>index.html</code>.</p>
<p>Build it with <code>npm run build</code> in the checkout, then reload this page. The API is available meanwhile at
<code>POST /api/&lt;domain&gt;/&lt;verb&gt;</code> and <code>/api/events</code> (WebSocket).</p>
</body></html>`;

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Maps a URL path to a file inside root, or undefined when it would leave root or is not a file. */
export async function resolveStatic(root: string, urlPath: string): Promise<string | undefined> {
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return undefined;
  }
  if (decoded.includes('\0')) return undefined;
  const base = resolve(root);
  const candidate = resolve(base, `.${decoded.startsWith('/') ? decoded : `/${decoded}`}`);
  if (candidate !== base && !candidate.startsWith(base + sep)) return undefined;
  try {
    const file = (await stat(candidate)).isDirectory() ? join(candidate, 'index.html') : candidate;
    // A symlink inside the folder must not lead out of it either.
    const [real, realBase] = await Promise.all([realpath(file), realpath(base)]);
    if (real !== realBase && !real.startsWith(realBase + sep)) return undefined;
    return (await stat(real)).isFile() ? real : undefined;
  } catch {
    return undefined;
  }
}

const SECURITY_HEADERS = {
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
};

export async function serveStatic(
  root: string,
  urlPath: string,
  res: ServerResponse,
  method: string,
): Promise<void> {
  let file = await resolveStatic(root, urlPath);
  // Client-side routes (no file extension) get the app shell.
  if (!file && extname(urlPath) === '') file = await resolveStatic(root, '/index.html');
  if (!file) {
    if (!(await resolveStatic(root, '/index.html'))) {
      res.writeHead(200, {
        ...SECURITY_HEADERS,
        'content-type': TYPES['.html'],
        'cache-control': 'no-store',
      });
      res.end(method === 'HEAD' ? undefined : NOT_BUILT(root));
      return;
    }
    res.writeHead(404, { ...SECURITY_HEADERS, 'content-type': TYPES['.txt'] });
    res.end(method === 'HEAD' ? undefined : 'not found\n');
    return;
  }
  const info = await stat(file);
  res.writeHead(200, {
    ...SECURITY_HEADERS,
    'content-type': contentType(file),
    'content-length': info.size,
    // Hashed assets never change; the shell must be re-read so a rebuild is picked up.
    'cache-control': file.endsWith('.html') ? 'no-store' : 'private, max-age=3600',
  });
  if (method === 'HEAD') {
    res.end();
    return;
  }
  createReadStream(file).pipe(res);
}
