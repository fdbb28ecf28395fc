// safetensors reader and writer (https://github.com/huggingface/safetensors, format v0): an 8-byte little-endian
// header length N, N bytes of JSON `{name: {dtype, shape, data_offsets: [begin, end]}, __metadata__?: {..}}`, then
// the raw little-endian tensor bytes, offsets relative to the end of the header.
//
// Tensors are read one at a time through a file handle rather than reading the whole file: peak memory is then the
// decoded F32 tensors plus one tensor's raw bytes, so ≤ 2x the model even for F16/BF16 files (whose F32 decoding is
// itself twice the file). Every malformed file becomes a FormatError naming the file and, where one is to blame, the
// tensor, because users hand us checkpoints downloaded by other tools and a RangeError from deep inside a decoder
// says nothing about which file is broken.
import { open, type FileHandle } from 'node:fs/promises';

import { FormatError } from '../errors.ts';

/** The JSON header may not exceed this (the reference implementation's limit), so a corrupt length cannot make us
 * allocate gigabytes before failing. */
export const MAX_HEADER_BYTES = 100_000_000;

/** Element sizes of every dtype the format defines; only the float ones can be decoded to F32 here. */
const DTYPE_BYTES: Record<string, number> = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U64: 8,
  U32: 4,
  U16: 2,
  U8: 1,
  BOOL: 1,
  F8_E4M3: 1,
  F8_E5M2: 1,
};
const DECODABLE = new Set(['F64', 'F32', 'F16', 'BF16']);

/** A FormatError that also says which tensor, when one is to blame. */
export class SafetensorsError extends FormatError {
  constructor(
    file: string,
    readonly tensor: string | undefined,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(file, tensor === undefined ? message : `tensor '${tensor}': ${message}`, options);
  }
}

export interface SafetensorsEntry {
  name: string;
  dtype: string;
  shape: number[];
  /** Byte offsets relative to the start of the data section. */
  begin: number;
  end: number;
}

export interface SafetensorsHeader {
  file: string;
  /** Entries in file order (ascending offsets). */
  entries: SafetensorsEntry[];
  metadata: Record<string, string>;
  /** Absolute file offset of the data section (8 + header length). */
  dataStart: number;
  fileSize: number;
}

/** A decoded tensor: F32 data in row-major order. */
export interface F32Tensor {
  shape: number[];
  data: Float32Array;
}

async function readExactly(fh: FileHandle, target: Uint8Array, position: number): Promise<number> {
  let done = 0;
  while (done < target.length) {
    const { bytesRead } = await fh.read(target, done, target.length - done, position + done);
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  return done;
}

function isNonNegInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

/** Parses and validates the header of an open file. */
async function readHeaderFrom(fh: FileHandle, file: string): Promise<SafetensorsHeader> {
  const fileSize = (await fh.stat()).size;
  const err = (message: string, tensor?: string) => new SafetensorsError(file, tensor, message);
  if (fileSize < 8)
    throw err(`bad header length: file is ${fileSize} bytes, shorter than the 8-byte length field`);
  const lenBytes = new Uint8Array(8);
  await readExactly(fh, lenBytes, 0);
  const n = new DataView(lenBytes.buffer).getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER_BYTES)) {
    throw err(
      `header of ${n} bytes exceeds the ${MAX_HEADER_BYTES}-byte limit (corrupt or not a safetensors file)`,
    );
  }
  const headerLen = Number(n);
  if (headerLen < 2 || 8 + headerLen > fileSize) {
    throw err(`bad header length ${headerLen}: the file has ${fileSize - 8} bytes after the length field`);
  }
  const raw = new Uint8Array(headerLen);
  await readExactly(fh, raw, 8);
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(raw));
  } catch (cause) {
    throw new SafetensorsError(file, undefined, `header is not valid JSON (${(cause as Error).message})`, {
      cause,
    });
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json))
    throw err('header is not a JSON object');

  const dataStart = 8 + headerLen;
  const dataSize = fileSize - dataStart;
  const entries: SafetensorsEntry[] = [];
  let metadata: Record<string, string> = {};
  for (const [name, value] of Object.entries(json as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof value !== 'object' || value === null || Array.isArray(value))
        throw err('__metadata__ is not an object');
      metadata = Object.fromEntries(Object.entries(value).map(([k, v]) => [k, String(v)]));
      continue;
    }
    if (typeof value !== 'object' || value === null) throw err('entry is not an object', name);
    const { dtype, shape, data_offsets: offsets } = value as Record<string, unknown>;
    if (typeof dtype !== 'string' || !(dtype in DTYPE_BYTES))
      throw err(`unknown dtype ${JSON.stringify(dtype)}`, name);
    if (!Array.isArray(shape) || !shape.every(isNonNegInt))
      throw err(`bad shape ${JSON.stringify(shape)}`, name);
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isNonNegInt)) {
      throw err(`bad data_offsets ${JSON.stringify(offsets)}`, name);
    }
    const [begin, end] = offsets as [number, number];
    if (begin > end || end > dataSize) {
      throw err(`data_offsets [${begin}, ${end}] out of range (data section is ${dataSize} bytes)`, name);
    }
    const count = (shape as number[]).reduce((a, b) => a * b, 1);
    if (count * DTYPE_BYTES[dtype]! !== end - begin) {
      throw err(
        `shape [${shape.join(', ')}] of ${dtype} needs ${count * DTYPE_BYTES[dtype]!} bytes, offsets span ${end - begin}`,
        name,
      );
    }
    entries.push({ name, dtype, shape: shape as number[], begin, end });
  }
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  for (let i = 1; i < entries.length; i++) {
    const prev = entries[i - 1]!;
    const cur = entries[i]!;
    // Zero-sized tensors occupy no bytes and may share an offset with anything.
    if (cur.begin < prev.end && cur.end > cur.begin) {
      throw err(
        `data_offsets [${cur.begin}, ${cur.end}] overlap tensor '${prev.name}' [${prev.begin}, ${prev.end}]`,
        cur.name,
      );
    }
  }
  return { file, entries, metadata, dataStart, fileSize };
}

/** Reads and validates only the header (names, dtypes, shapes), without touching tensor data. */
export async function readSafetensorsHeader(file: string): Promise<SafetensorsHeader> {
  const fh = await openOrThrow(file);
  try {
    return await readHeaderFrom(fh, file);
  } finally {
    await fh.close();
  }
}

async function openOrThrow(file: string): Promise<FileHandle> {
  try {
    return await open(file, 'r');
  } catch (cause) {
    throw new FormatError(file, `cannot open (${(cause as Error).message})`, { cause });
  }
}

const f16Table = (() => {
  // All 65,536 half-precision values, decoded once (256 KB): a lookup is simpler and faster than bit twiddling.
  const t = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const s = h & 0x8000 ? -1 : 1;
    const e = (h >> 10) & 0x1f;
    const m = h & 0x3ff;
    t[h] =
      e === 0 ? s * m * 2 ** -24 : e === 31 ? (m ? NaN : s * Infinity) : s * (1 + m / 1024) * 2 ** (e - 15);
  }
  return t;
})();

/** Decodes raw little-endian bytes of a float dtype into `out`. */
function decode(dtype: string, raw: Uint8Array, out: Float32Array): void {
  const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const n = out.length;
  if (dtype === 'F32') {
    for (let i = 0; i < n; i++) out[i] = dv.getFloat32(4 * i, true);
  } else if (dtype === 'F64') {
    for (let i = 0; i < n; i++) out[i] = dv.getFloat64(8 * i, true);
  } else if (dtype === 'F16') {
    for (let i = 0; i < n; i++) out[i] = f16Table[dv.getUint16(2 * i, true)]!;
  } else {
    // BF16 is the upper half of an F32.
    const u = new Uint32Array(out.buffer, out.byteOffset, n);
    for (let i = 0; i < n; i++) u[i] = dv.getUint16(2 * i, true) << 16;
  }
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

async function readEntry(fh: FileHandle, h: SafetensorsHeader, e: SafetensorsEntry): Promise<F32Tensor> {
  if (!DECODABLE.has(e.dtype)) {
    throw new SafetensorsError(
      h.file,
      e.name,
      `dtype ${e.dtype} cannot be loaded as float weights (F32, F16, BF16, F64)`,
    );
  }
  const count = e.shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(count);
  const bytes = e.end - e.begin;
  // F32 on a little-endian host: read straight into the output, no second buffer.
  const raw = e.dtype === 'F32' && LITTLE_ENDIAN ? new Uint8Array(out.buffer) : new Uint8Array(bytes);
  const got = await readExactly(fh, raw, h.dataStart + e.begin);
  if (got !== bytes) throw new SafetensorsError(h.file, e.name, `file ended after ${got} of ${bytes} bytes`);
  if (raw.buffer !== out.buffer) decode(e.dtype, raw, out);
  return { shape: e.shape.slice(), data: out };
}

/**
 * Reads tensors (all, or those named in `names`) decoded to F32. Unknown names in `names` are an error naming the
 * tensor; use readSafetensorsHeader first to probe optional tensors.
 */
export async function readSafetensors(
  file: string,
  names?: Iterable<string>,
): Promise<Map<string, F32Tensor>> {
  const fh = await openOrThrow(file);
  try {
    const h = await readHeaderFrom(fh, file);
    const byName = new Map(h.entries.map((e) => [e.name, e]));
    const wanted =
      names === undefined
        ? h.entries
        : [...names].map((n) => {
            const e = byName.get(n);
            if (!e) throw new SafetensorsError(file, n, 'not present in the file');
            return e;
          });
    const out = new Map<string, F32Tensor>();
    for (const e of wanted) out.set(e.name, await readEntry(fh, h, e));
    return out;
  } finally {
    await fh.close();
  }
}

/**
 * Writes F32 tensors (in the given order) as safetensors, streaming one tensor at a time. The header is padded with
 * spaces to a multiple of 8 bytes, as the reference writer does, so readers that map the file get aligned data.
 */
export async function writeSafetensors(
  file: string,
  tensors: Iterable<[string, F32Tensor]> | Map<string, F32Tensor>,
  metadata: Record<string, string> = { format: 'pt' },
): Promise<void> {
  const list = [...tensors];
  const header: Record<string, unknown> = { __metadata__: metadata };
  let off = 0;
  for (const [name, t] of list) {
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (count !== t.data.length) {
      throw new SafetensorsError(
        file,
        name,
        `shape [${t.shape.join(', ')}] does not match ${t.data.length} values`,
      );
    }
    if (name === '__metadata__' || name in header)
      throw new SafetensorsError(file, name, 'duplicate or reserved name');
    header[name] = { dtype: 'F32', shape: t.shape, data_offsets: [off, off + 4 * count] };
    off += 4 * count;
  }
  let json = JSON.stringify(header);
  let headerBytes = new TextEncoder().encode(json);
  const pad = (8 - (headerBytes.length % 8)) % 8;
  if (pad) {
    json += ' '.repeat(pad);
    headerBytes = new TextEncoder().encode(json);
  }
  const fh = await open(file, 'w');
  try {
    const len = new Uint8Array(8);
    new DataView(len.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
    await fh.write(len);
    await fh.write(headerBytes);
    for (const [, t] of list) {
      let bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
      if (!LITTLE_ENDIAN) {
        bytes = new Uint8Array(t.data.byteLength);
        const dv = new DataView(bytes.buffer);
        t.data.forEach((v, i) => dv.setFloat32(4 * i, v, true));
      }
      await fh.write(bytes);
    }
  } finally {
    await fh.close();
  }
}
