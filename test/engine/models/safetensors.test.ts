import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { FormatError } from '../../../engine/errors.ts';
import type { SafetensorsError } from '../../../engine/models/safetensors.ts';
import {
  MAX_HEADER_BYTES,
  readSafetensors,
  readSafetensorsHeader,
  writeSafetensors,
} from '../../../engine/models/safetensors.ts';

const dir = mkdtempSync(join(tmpdir(), 'safetensors-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let counter = 0;

/** Builds a file from a header object (or raw header text) and data bytes; returns its path. */
function makeFile(header: unknown, data: Uint8Array = new Uint8Array(0), lengthOverride?: bigint): string {
  const text = typeof header === 'string' ? header : JSON.stringify(header);
  const hb = new TextEncoder().encode(text);
  const buf = new Uint8Array(8 + hb.length + data.length);
  new DataView(buf.buffer).setBigUint64(0, lengthOverride ?? BigInt(hb.length), true);
  buf.set(hb, 8);
  buf.set(data, 8 + hb.length);
  const path = join(dir, `f${counter++}.safetensors`);
  writeFileSync(path, buf);
  return path;
}

async function expectFormatError(p: Promise<unknown>, pattern: RegExp, tensor?: string): Promise<void> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(FormatError);
  expect((e as Error).message).toMatch(pattern);
  if (tensor !== undefined) {
    expect((e as SafetensorsError).tensor).toBe(tensor);
    expect((e as Error).message).toContain(`'${tensor}'`);
  }
}

describe('safetensors round trip and decoding', () => {
  it('writes F32 tensors that read back bit-exactly, with an 8-byte aligned header', async () => {
    const path = join(dir, 'rt.safetensors');
    const a = { shape: [2, 3], data: Float32Array.from([1, -2, 3.5, 1e-30, -0, Number.MAX_VALUE]) };
    const b = { shape: [], data: Float32Array.from([7]) };
    const c = { shape: [0, 4], data: new Float32Array(0) };
    await writeSafetensors(path, [
      ['a', a],
      ['b', b],
      ['c', c],
    ]);
    const bytes = readFileSync(path);
    const n = Number(bytes.readBigUInt64LE(0));
    expect(n % 8).toBe(0);
    const header = await readSafetensorsHeader(path);
    expect(header.metadata).toEqual({ format: 'pt' });
    expect(header.entries.map((e) => e.name)).toEqual(['a', 'b', 'c']);
    const got = await readSafetensors(path);
    expect(got.get('a')).toEqual(a);
    expect(got.get('b')).toEqual(b);
    expect(got.get('c')!.shape).toEqual([0, 4]);
    const only = await readSafetensors(path, ['b']);
    expect([...only.keys()]).toEqual(['b']);
  });

  it('decodes F16, BF16 and F64 to F32', async () => {
    const f16 = new Uint8Array(10);
    const dv = new DataView(f16.buffer);
    // 1.0, -2.0, 65504 (max half), 2^-24 (smallest subnormal), +inf
    [0x3c00, 0xc000, 0x7bff, 0x0001, 0x7c00].forEach((h, i) => dv.setUint16(2 * i, h, true));
    const bf16 = new Uint8Array(4);
    const dvb = new DataView(bf16.buffer);
    dvb.setUint16(0, 0x3fc0, true); // 1.5
    dvb.setUint16(2, 0xc0a0, true); // -5
    const f64 = new Uint8Array(16);
    new DataView(f64.buffer).setFloat64(0, 0.25, true);
    new DataView(f64.buffer).setFloat64(8, -1e10, true);
    const data = new Uint8Array([...f16, ...bf16, ...f64]);
    const path = makeFile(
      {
        h: { dtype: 'F16', shape: [5], data_offsets: [0, 10] },
        b: { dtype: 'BF16', shape: [2], data_offsets: [10, 14] },
        d: { dtype: 'F64', shape: [2], data_offsets: [14, 30] },
      },
      data,
    );
    const got = await readSafetensors(path);
    expect(Array.from(got.get('h')!.data)).toEqual([1, -2, 65504, 2 ** -24, Infinity]);
    expect(Array.from(got.get('b')!.data)).toEqual([1.5, -5]);
    expect(Array.from(got.get('d')!.data)).toEqual([0.25, -1e10]);
  });
});

describe('safetensors validation errors name the file and the tensor', () => {
  it('file shorter than the length field', async () => {
    const path = join(dir, 'short.safetensors');
    writeFileSync(path, new Uint8Array([1, 2, 3]));
    await expectFormatError(readSafetensors(path), /short\.safetensors: bad header length/);
  });

  it('header length beyond the end of the file', async () => {
    const path = makeFile({}, new Uint8Array(0), 5000n);
    await expectFormatError(readSafetensors(path), /bad header length 5000/);
  });

  it('header over 100 MB is refused before allocating it', async () => {
    const path = makeFile({}, new Uint8Array(0), BigInt(MAX_HEADER_BYTES + 1));
    await expectFormatError(readSafetensorsHeader(path), /exceeds the 100000000-byte limit/);
    const huge = makeFile({}, new Uint8Array(0), 0xffffffffffffffffn);
    await expectFormatError(readSafetensorsHeader(huge), /exceeds/);
  });

  it('non-JSON header and non-object header', async () => {
    await expectFormatError(readSafetensors(makeFile('{"a": [1, 2')), /not valid JSON/);
    await expectFormatError(readSafetensors(makeFile('[1, 2]')), /not a JSON object/);
  });

  it('unknown dtype', async () => {
    const path = makeFile({ w: { dtype: 'F128', shape: [1], data_offsets: [0, 16] } }, new Uint8Array(16));
    await expectFormatError(readSafetensors(path), /unknown dtype "F128"/, 'w');
  });

  it('known but non-float dtype cannot be loaded as weights', async () => {
    const path = makeFile({ idx: { dtype: 'I64', shape: [1], data_offsets: [0, 8] } }, new Uint8Array(8));
    await readSafetensorsHeader(path); // the header itself is valid
    await expectFormatError(readSafetensors(path), /dtype I64 cannot be loaded/, 'idx');
  });

  it('offsets out of range', async () => {
    const path = makeFile({ w: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } }, new Uint8Array(8));
    await expectFormatError(readSafetensors(path), /out of range \(data section is 8 bytes\)/, 'w');
    const rev = makeFile({ w: { dtype: 'F32', shape: [0], data_offsets: [8, 4] } }, new Uint8Array(8));
    await expectFormatError(readSafetensors(rev), /out of range/, 'w');
  });

  it('offsets that do not match the shape', async () => {
    const path = makeFile({ w: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, new Uint8Array(8));
    await expectFormatError(readSafetensors(path), /needs 12 bytes, offsets span 8/, 'w');
  });

  it('overlapping tensors', async () => {
    const path = makeFile(
      {
        a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
        b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] },
      },
      new Uint8Array(12),
    );
    await expectFormatError(readSafetensors(path), /overlap tensor 'a'/, 'b');
  });

  it('malformed shape, offsets and metadata', async () => {
    const bad = (entry: unknown) => makeFile({ w: entry }, new Uint8Array(8));
    await expectFormatError(
      readSafetensors(bad({ dtype: 'F32', shape: [-1], data_offsets: [0, 4] })),
      /bad shape/,
      'w',
    );
    await expectFormatError(
      readSafetensors(bad({ dtype: 'F32', shape: [1], data_offsets: [0] })),
      /bad data_offsets/,
      'w',
    );
    await expectFormatError(readSafetensors(bad(3)), /not an object/, 'w');
    await expectFormatError(
      readSafetensors(makeFile({ __metadata__: [1] })),
      /__metadata__ is not an object/,
    );
  });

  it('a requested tensor that is not in the file, and a missing file', async () => {
    const path = makeFile({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, new Uint8Array(4));
    await expectFormatError(readSafetensors(path, ['nope']), /not present/, 'nope');
    await expectFormatError(readSafetensors(join(dir, 'does-not-exist.safetensors')), /cannot open/);
  });

  it('the writer refuses a tensor whose data does not match its shape', async () => {
    const path = join(dir, 'w-bad.safetensors');
    await expectFormatError(
      writeSafetensors(path, [['x', { shape: [2, 2], data: new Float32Array(3) }]]),
      /does not match 3 values/,
      'x',
    );
  });
});
