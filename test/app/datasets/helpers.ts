// Test images built from real pixels: the bundled Fashion-MNIST demo PNGs (28x28 grey), re-encoded into the
// formats under test. Nothing here is random, so every test that uses it is reproducible.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { deflateSync } from 'node:zlib';

import { PNG } from 'pngjs';
import sharp from 'sharp';

export const DEMO_DIR = fileURLToPath(
  new URL('../../../assets/datasets/fashion-mnist-demo', import.meta.url),
);

export interface Grey {
  data: Uint8Array;
  width: number;
  height: number;
}

/** The first `n` test images of a demo class, decoded (28x28 grey). */
export function demoImages(className: string, n: number, split: 'train' | 'test' = 'test'): Grey[] {
  const dir = join(DEMO_DIR, split, className);
  return readdirSync(dir)
    .sort()
    .slice(0, n)
    .map((f) => {
      const png = PNG.sync.read(readFileSync(join(dir, f)));
      const data = new Uint8Array(png.width * png.height);
      for (let i = 0; i < data.length; i++) data[i] = png.data[i * 4]!;
      return { data, width: png.width, height: png.height };
    });
}

/** Grey -> RGB with a per-channel tint, so colour handling is visible in tests. */
export function toRgb(img: Grey): Uint8Array {
  const out = new Uint8Array(img.data.length * 3);
  for (let i = 0; i < img.data.length; i++) {
    const v = img.data[i]!;
    out[i * 3] = v;
    out[i * 3 + 1] = 255 - v;
    out[i * 3 + 2] = (v * 7) & 255;
  }
  return out;
}

export function encodePng(data: Uint8Array, width: number, height: number, channels: 1 | 3 | 4): Buffer {
  const colorType = channels === 1 ? 0 : channels === 3 ? 2 : 6;
  const png = new PNG({ width, height, colorType, inputColorType: colorType, inputHasAlpha: channels === 4 });
  png.data = Buffer.from(data);
  return PNG.sync.write(png, {
    colorType,
    inputColorType: colorType,
    inputHasAlpha: channels === 4,
    bitDepth: 8,
  });
}

export async function encodeWithSharp(
  data: Uint8Array,
  width: number,
  height: number,
  channels: 1 | 3 | 4,
  format: 'jpeg' | 'webp' | 'gif' | 'tiff' | 'png',
  options: Record<string, unknown> = {},
): Promise<Buffer> {
  const img = sharp(Buffer.from(data), { raw: { width, height, channels } });
  switch (format) {
    case 'jpeg':
      return img.jpeg({ quality: 95, ...options }).toBuffer();
    case 'webp':
      return img.webp({ lossless: true, ...options }).toBuffer();
    case 'gif':
      return img.gif(options).toBuffer();
    case 'tiff':
      return img.tiff(options).toBuffer();
    case 'png':
      return img.png(options).toBuffer();
  }
}

function crc32(bytes: Uint8Array): number {
  let c = ~0;
  for (const b of bytes) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
  }
  return ~c >>> 0;
}

function pngChunk(type: string, data: Uint8Array): Buffer {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'latin1');
  Buffer.from(data).copy(out, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

/**
 * A well-formed PNG whose IHDR claims width x height grey pixels (CRCs valid), with one row of image data. Small
 * on disk; a decoder that trusted it would allocate width*height bytes before noticing the missing rows.
 */
export function bombPng(width: number, height: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 0; // grey
  const row = deflateSync(Buffer.alloc(width + 1));
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', ihdr),
    pngChunk('IDAT', row),
    pngChunk('IEND', new Uint8Array(0)),
  ]);
}

/** An iCCP chunk inserted after IHDR (content irrelevant to sniffing; used to force the sharp path). */
export function withIccChunk(png: Buffer): Buffer {
  const profile = Buffer.concat([Buffer.from('x\0\0'), deflateSync(Buffer.alloc(8))]);
  return Buffer.concat([png.subarray(0, 33), pngChunk('iCCP', profile), png.subarray(33)]);
}

export interface BmpOptions {
  bpp: 8 | 24 | 32;
  topDown?: boolean;
  compression?: number;
}

/** A BMP (BITMAPINFOHEADER) of grey pixels: 8-bit with a grey palette, 24-bit BGR, or 32-bit BITFIELDS BGRX. */
export function encodeBmp(img: Grey, options: BmpOptions): Buffer {
  const { width: w, height: h } = img;
  const bpp = options.bpp;
  const stride = Math.floor((bpp * w + 31) / 32) * 4;
  const palette = bpp === 8 ? 256 * 4 : 0;
  const masks = bpp === 32 ? 12 : 0;
  const offset = 14 + 40 + masks + palette;
  const out = Buffer.alloc(offset + stride * h);
  out.write('BM', 0, 'latin1');
  out.writeUInt32LE(out.length, 2);
  out.writeUInt32LE(offset, 10);
  out.writeUInt32LE(40, 14);
  out.writeInt32LE(w, 18);
  out.writeInt32LE(options.topDown ? -h : h, 22);
  out.writeUInt16LE(1, 26);
  out.writeUInt16LE(bpp, 28);
  out.writeUInt32LE(options.compression ?? (bpp === 32 ? 3 : 0), 30);
  if (bpp === 32) {
    out.writeUInt32LE(0x00ff0000, 54);
    out.writeUInt32LE(0x0000ff00, 58);
    out.writeUInt32LE(0x000000ff, 62);
  }
  if (bpp === 8) for (let i = 0; i < 256; i++) out.writeUInt32LE(i * 0x010101, 54 + i * 4);
  for (let y = 0; y < h; y++) {
    const row = offset + (options.topDown ? y : h - 1 - y) * stride;
    for (let x = 0; x < w; x++) {
      const v = img.data[y * w + x]!;
      if (bpp === 8) out[row + x] = v;
      else for (let k = 0; k < 3; k++) out[row + x * (bpp / 8) + k] = v;
    }
  }
  return out;
}
