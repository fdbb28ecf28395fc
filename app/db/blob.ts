// Typed arrays <-> little-endian BLOBs. Every desktop target is little-endian, where encoding is a plain view of
// the array's bytes; the DataView path keeps the stored format LE (portable exports) on a big-endian host anyway.
import { endianness } from 'node:os';

const LE = endianness() === 'LE';

type Numeric = Int32Array | Float32Array;

function encode(a: Numeric, set: 'setInt32' | 'setFloat32'): Buffer {
  if (LE) return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
  const out = Buffer.alloc(a.byteLength);
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  for (let i = 0; i < a.length; i++) view[set](i * 4, a[i] as number, true);
  return out;
}

function decode<T extends Numeric>(
  bytes: Uint8Array,
  make: (n: number) => T,
  get: 'getInt32' | 'getFloat32',
): T {
  if (bytes.byteLength % 4 !== 0)
    throw new RangeError(`blob of ${bytes.byteLength} bytes is not 4-byte elements`);
  const out = make(bytes.byteLength / 4);
  if (LE) {
    // Copy rather than view: a Buffer from SQLite may sit at an offset that is not 4-byte aligned.
    new Uint8Array(out.buffer).set(bytes);
    return out;
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < out.length; i++) out[i] = view[get](i * 4, true);
  return out;
}

export const encodeInt32 = (a: Int32Array): Buffer => encode(a, 'setInt32');
export const encodeFloat32 = (a: Float32Array): Buffer => encode(a, 'setFloat32');
export const decodeInt32 = (b: Uint8Array): Int32Array => decode(b, (n) => new Int32Array(n), 'getInt32');
export const decodeFloat32 = (b: Uint8Array): Float32Array =>
  decode(b, (n) => new Float32Array(n), 'getFloat32');
