import { expect, it } from 'vitest';

import { decodeFloat32, decodeInt32, encodeFloat32, encodeInt32 } from '../../../app/db/blob.ts';

it('encodes little-endian and round-trips, including from unaligned buffers', () => {
  const ints = Int32Array.of(1, -2, 0x7fffffff, -0x80000000);
  const bytes = encodeInt32(ints);
  expect([...bytes.subarray(0, 8)]).toEqual([1, 0, 0, 0, 0xfe, 0xff, 0xff, 0xff]);
  expect(decodeInt32(bytes)).toEqual(ints);
  const floats = Float32Array.of(0.1, -Infinity, 3.5e38, Number.NaN);
  const unaligned = Buffer.concat([Buffer.alloc(1), encodeFloat32(floats)]).subarray(1);
  expect(unaligned.byteOffset % 4).not.toBe(0);
  expect(decodeFloat32(unaligned)).toEqual(floats);
  expect(() => decodeInt32(Buffer.alloc(6))).toThrow(/not 4-byte elements/);
});
