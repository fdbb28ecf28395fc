// Finding the files of an import: ImageFolder trees (one folder per class, optionally inside train/val/test
// folders) and CSV manifests. Nothing is decoded here; what cannot be a dataset image (hidden files, links leading
// out of the folder, FIFOs, files outside class folders) is reported with a reason instead of being read.
//
// Order is part of the dataset version: candidates are sorted by their '/'-separated, NFC-normalised relative path,
// compared by UTF-16 code units (never localeCompare, whose order depends on the ICU build and locale), so the
// same tree yields the same order on Linux, macOS (which stores NFD names) and Windows.
import { lstat, readdir, readFile, realpath, stat } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';

import { FormatError } from '../../engine/errors.ts';

import type { SkippedFile, SplitName } from './types.ts';

export interface Candidate {
  /** Relative path (NFC, '/'-separated): what reports and sources.json show. */
  rel: string;
  /** Path to read. */
  abs: string;
  className: string;
  split?: SplitName;
}

export interface ClassDir {
  rel: string;
  className: string;
  split?: SplitName;
}

export interface ScanResult {
  layout: 'classes' | 'splits' | 'csv';
  candidates: Candidate[];
  /** Class folders found (ImageFolder), for the empty-class notes. */
  classDirs: ClassDir[];
  skipped: SkippedFile[];
  /** Entries looked at: candidates plus everything skipped here. */
  scanned: number;
}

const SPLIT_FOLDERS: Record<string, SplitName> = {
  train: 'train',
  training: 'train',
  val: 'val',
  valid: 'val',
  validation: 'val',
  dev: 'val',
  test: 'test',
  testing: 'test',
};

/** OS clutter that is never data. Dot-files cover .DS_Store, ._AppleDouble, .git, .ipynb_checkpoints. */
const HIDDEN_NAMES = new Set([
  '__macosx',
  'thumbs.db',
  'desktop.ini',
  '$recycle.bin',
  'system volume information',
]);

export function isHidden(name: string): boolean {
  return name.startsWith('.') || HIDDEN_NAMES.has(name.toLowerCase());
}

const nfc = (s: string): string => s.normalize('NFC');
const byCodeUnits = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

function isInside(root: string, target: string): boolean {
  const rel = relative(root, target);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
}

function errnoMessage(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  return err.code === 'EACCES' || err.code === 'EPERM' ? 'permission denied' : (err.code ?? err.message);
}

/** Nested folders deeper than this are not followed (a guard against link chains, not a real-world limit). */
const MAX_DEPTH = 32;

class Walker {
  readonly skipped: SkippedFile[] = [];
  scanned = 0;

  constructor(readonly realRoot: string) {}

  skip(rel: string, code: SkippedFile['code'], message: string): void {
    this.scanned++;
    this.skipped.push({ path: rel, code, message });
  }

  /** Sorted, NFC-named entries of a folder, or undefined (reported) if it cannot be listed. */
  async list(
    abs: string,
    rel: string,
  ): Promise<{ name: string; raw: string; abs: string; rel: string }[] | undefined> {
    let names: string[];
    try {
      names = await readdir(abs);
    } catch (e) {
      this.skip(rel || '.', 'unreadable', `cannot list folder: ${errnoMessage(e)}`);
      return undefined;
    }
    return names
      .map((raw) => ({
        name: nfc(raw),
        raw,
        abs: join(abs, raw),
        rel: rel ? `${rel}/${nfc(raw)}` : nfc(raw),
      }))
      .sort((a, b) => byCodeUnits(a.name, b.name) || byCodeUnits(a.raw, b.raw));
  }

  /**
   * What an entry is, following a symbolic link only if it stays inside the root. Returns undefined when the
   * entry was skipped (and reported).
   */
  async kind(abs: string, rel: string): Promise<{ kind: 'file' | 'dir'; real: string } | undefined> {
    let real: string;
    try {
      real = await realpath(abs);
    } catch (e) {
      let message = `cannot resolve: ${errnoMessage(e)}`;
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
        const link = await lstat(abs).then(
          (st) => st.isSymbolicLink(),
          () => false,
        );
        message = link ? 'broken symbolic link' : 'file not found';
      }
      this.skip(rel, 'unreadable', message);
      return undefined;
    }
    if (!isInside(this.realRoot, real)) {
      const how = isInside(this.realRoot, abs) ? 'symbolic link leads' : 'path leads';
      this.skip(rel, 'outside-root', `${how} outside the dataset folder (to ${real}); not followed`);
      return undefined;
    }
    let st;
    try {
      st = await stat(real);
    } catch (e) {
      this.skip(rel, 'unreadable', errnoMessage(e));
      return undefined;
    }
    if (st.isDirectory()) return { kind: 'dir', real };
    // FIFOs, sockets and devices would block or never end on read.
    if (!st.isFile()) {
      this.skip(rel, 'unreadable', 'not a regular file (FIFO, socket or device)');
      return undefined;
    }
    return { kind: 'file', real };
  }

  /** Every file under a class folder, recursively (as torchvision's ImageFolder does). */
  async collect(
    abs: string,
    rel: string,
    cls: ClassDir,
    out: Candidate[],
    ancestors: Set<string>,
    depth: number,
  ): Promise<void> {
    const entries = await this.list(abs, rel);
    if (!entries) return;
    for (const e of entries) {
      if (isHidden(e.name)) {
        this.skip(e.rel, 'hidden', 'hidden or system entry; ignored');
        continue;
      }
      const k = await this.kind(e.abs, e.rel);
      if (!k) continue;
      if (k.kind === 'file') {
        this.scanned++;
        out.push({
          rel: e.rel,
          abs: e.abs,
          className: cls.className,
          ...(cls.split ? { split: cls.split } : {}),
        });
      } else if (ancestors.has(k.real) || depth >= MAX_DEPTH) {
        this.skip(e.rel, 'unreadable', 'folder link loops back to a parent folder; not followed');
      } else {
        await this.collect(e.abs, e.rel, cls, out, new Set([...ancestors, k.real]), depth + 1);
      }
    }
  }
}

/**
 * Scans an ImageFolder tree. Layout 'classes': root/<class>/**. Layout 'splits': root/<train|val|test>/<class>/**.
 * 'auto' picks 'splits' when every visible top-level folder is a split name (train, val, valid, validation, dev,
 * test, ...).
 */
export async function scanImageFolder(
  root: string,
  layout: 'auto' | 'classes' | 'splits' = 'auto',
): Promise<ScanResult> {
  let realRoot: string;
  try {
    realRoot = await realpath(root);
    if (!(await stat(realRoot)).isDirectory()) throw new Error('not a folder');
  } catch (e) {
    throw new FormatError(root, `cannot open dataset folder (${errnoMessage(e)})`, { cause: e });
  }
  const w = new Walker(realRoot);
  const top = (await w.list(realRoot, '')) ?? [];
  const topDirs: { name: string; abs: string; rel: string; real: string }[] = [];
  for (const e of top) {
    if (isHidden(e.name)) {
      w.skip(e.rel, 'hidden', 'hidden or system entry; ignored');
      continue;
    }
    const k = await w.kind(e.abs, e.rel);
    if (!k) continue;
    if (k.kind === 'file') w.skip(e.rel, 'not-in-class', 'file at the top level, outside any class folder');
    else topDirs.push({ ...e, real: k.real });
  }
  const resolved =
    layout !== 'auto'
      ? layout
      : topDirs.length > 0 && topDirs.every((d) => SPLIT_FOLDERS[d.name.toLowerCase()])
        ? 'splits'
        : 'classes';

  const classDirs: ClassDir[] = [];
  const candidates: Candidate[] = [];
  const ancestors = new Set([realRoot]);
  for (const d of topDirs) {
    if (resolved === 'classes') {
      const cls = { rel: d.rel, className: d.name };
      classDirs.push(cls);
      await w.collect(d.abs, d.rel, cls, candidates, new Set([...ancestors, d.real]), 1);
      continue;
    }
    const split = SPLIT_FOLDERS[d.name.toLowerCase()];
    if (!split) {
      w.skip(
        d.rel,
        'not-in-class',
        'folder beside the split folders is not a split (train, val, test); ignored',
      );
      continue;
    }
    for (const e of (await w.list(d.abs, d.rel)) ?? []) {
      if (isHidden(e.name)) {
        w.skip(e.rel, 'hidden', 'hidden or system entry; ignored');
        continue;
      }
      const k = await w.kind(e.abs, e.rel);
      if (!k) continue;
      if (k.kind === 'file') {
        w.skip(e.rel, 'not-in-class', `file directly in the ${d.name} folder, outside any class folder`);
        continue;
      }
      const cls = { rel: e.rel, className: e.name, split };
      classDirs.push(cls);
      await w.collect(e.abs, e.rel, cls, candidates, new Set([...ancestors, d.real, k.real]), 2);
    }
  }
  candidates.sort((a, b) => byCodeUnits(a.rel, b.rel));
  return { layout: resolved, candidates, classDirs, skipped: w.skipped, scanned: w.scanned };
}

/** RFC 4180 CSV: quoted fields may hold commas, quotes ("") and newlines. Returns rows with their line numbers. */
export function parseCsv(text: string): { line: number; fields: string[] }[] {
  const rows: { line: number; fields: string[] }[] = [];
  let field = '';
  let fields: string[] = [];
  let line = 1;
  let rowLine = 1;
  let quoted = false;
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0; // a BOM from spreadsheet exports
  const endRow = () => {
    fields.push(field);
    if (fields.length > 1 || fields[0] !== '') rows.push({ line: rowLine, fields });
    fields = [];
    field = '';
  };
  for (; i < text.length; i++) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (ch === '"') {
        quoted = false;
      } else {
        if (ch === '\n') line++;
        field += ch;
      }
    } else if (ch === '"' && field === '') {
      quoted = true;
    } else if (ch === ',') {
      fields.push(field);
      field = '';
    } else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && text[i + 1] === '\n') i++;
      endRow();
      line++;
      rowLine = line;
    } else {
      field += ch;
    }
  }
  if (field !== '' || fields.length > 0) endRow();
  return rows;
}

/**
 * Reads a CSV manifest: columns path,label and optionally split (train/val/test), with or without a header row
 * (a header is recognised by a 'path' column). Relative paths are resolved against `root` (default: the CSV's
 * folder); paths that resolve outside it are refused like outward symlinks.
 */
export async function scanCsv(csvPath: string, rootOption?: string): Promise<ScanResult> {
  let text: string;
  try {
    text = await readFile(csvPath, 'utf8');
  } catch (e) {
    throw new FormatError(csvPath, `cannot read CSV manifest (${errnoMessage(e)})`, { cause: e });
  }
  const root = resolve(rootOption ?? dirname(csvPath));
  let realRoot: string;
  try {
    realRoot = await realpath(root);
  } catch (e) {
    throw new FormatError(root, `cannot open the CSV's root folder (${errnoMessage(e)})`, { cause: e });
  }
  const w = new Walker(realRoot);
  const rows = parseCsv(text);
  let col = { path: 0, label: 1, split: -1 };
  const header = rows[0]?.fields.map((f) => f.trim().toLowerCase());
  if (header?.includes('path')) {
    col = { path: header.indexOf('path'), label: header.indexOf('label'), split: header.indexOf('split') };
    if (col.label < 0) throw new FormatError(csvPath, "the header has a 'path' column but no 'label' column");
    rows.shift();
  } else if ((rows[0]?.fields.length ?? 0) >= 3) {
    col.split = 2;
  }
  const candidates: Candidate[] = [];
  const seen = new Set<string>();
  for (const { line, fields } of rows) {
    const where = `${basename(csvPath)}:${line}`;
    const path = fields[col.path]?.trim() ?? '';
    const label = nfc(fields[col.label]?.trim() ?? '');
    const splitText = col.split >= 0 ? (fields[col.split]?.trim().toLowerCase() ?? '') : '';
    if (!path || !label) {
      w.skip(where, 'bad-row', `row needs a path and a label, got ${JSON.stringify(fields)}`);
      continue;
    }
    const split = splitText ? SPLIT_FOLDERS[splitText] : undefined;
    if (splitText && !split) {
      w.skip(where, 'bad-row', `unknown split '${splitText}' (use train, val or test)`);
      continue;
    }
    const abs = resolve(root, path);
    const rel = nfc(relative(root, abs).split(sep).join('/'));
    if (seen.has(rel)) {
      w.skip(rel, 'duplicate', `listed again at ${where}; the first row wins`);
      continue;
    }
    seen.add(rel);
    const k = await w.kind(abs, rel);
    if (!k) continue;
    if (k.kind === 'dir') {
      w.skip(rel, 'unreadable', `row ${where} names a folder, not a file`);
      continue;
    }
    w.scanned++;
    candidates.push({ rel, abs, className: label, ...(split ? { split } : {}) });
  }
  candidates.sort((a, b) => byCodeUnits(a.rel, b.rel));
  return { layout: 'csv', candidates, classDirs: [], skipped: w.skipped, scanned: w.scanned };
}
