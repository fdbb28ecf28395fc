// A small BMP decoder, because the prebuilt sharp 0.35 has no BMP loader (libvips reads BMP only through
// ImageMagick, which the prebuilt binaries leave out). It covers what cameras, Paint and dataset dumps write:
// uncompressed 1/4/8-bit palette, 16/24/32-bit, and BI_BITFIELDS masks, bottom-up or top-down. RLE and embedded
// JPEG/PNG compression are refused as unsupported rather than guessed at.

export type BmpResult =
  | { ok: true; data: Uint8Array; width: number; height: number; channels: 3 }
  | { ok: false; code: 'corrupt' | 'unsupported-format'; message: string };

const BI_RGB = 0;
const BI_BITFIELDS = 3;
const BI_ALPHABITFIELDS = 6;

function maskShift(mask: number): { shift: number; max: number } {
  if (mask === 0) return { shift: 0, max: 0 };
  let shift = 0;
  while (((mask >>> shift) & 1) === 0) shift++;
  return { shift, max: mask >>> shift };
}

export function decodeBmp(b: Uint8Array): BmpResult {
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const corrupt = (message: string): BmpResult => ({ ok: false, code: 'corrupt', message });
  if (b.length < 26) return corrupt('BMP shorter than its headers');
  const dataOffset = view.getUint32(10, true);
  const dib = view.getUint32(14, true);
  if (b.length < 14 + dib) return corrupt('truncated BMP info header');
  let width: number;
  let rawHeight: number;
  let bpp: number;
  let compression = BI_RGB;
  let paletteSize = 0;
  if (dib === 12) {
    width = view.getUint16(18, true);
    rawHeight = view.getUint16(20, true);
    bpp = view.getUint16(24, true);
  } else {
    width = view.getInt32(18, true);
    rawHeight = view.getInt32(22, true);
    bpp = view.getUint16(28, true);
    compression = view.getUint32(30, true);
    paletteSize = view.getUint32(46, true);
  }
  const topDown = rawHeight < 0;
  const height = Math.abs(rawHeight);
  if (width <= 0 || height === 0) return corrupt(`BMP declares ${width}x${height} pixels`);
  if (compression !== BI_RGB && compression !== BI_BITFIELDS && compression !== BI_ALPHABITFIELDS) {
    const names: Record<number, string> = { 1: 'RLE8', 2: 'RLE4', 4: 'embedded JPEG', 5: 'embedded PNG' };
    return {
      ok: false,
      code: 'unsupported-format',
      message: `BMP with ${names[compression] ?? `compression ${compression}`} is not supported; re-save it uncompressed or as PNG`,
    };
  }
  if (![1, 4, 8, 16, 24, 32].includes(bpp)) {
    return {
      ok: false,
      code: 'unsupported-format',
      message: `BMP with ${bpp} bits per pixel is not supported`,
    };
  }

  // Channel masks: explicit for BITFIELDS (in the V4/V5 header or right after a 40-byte header), else the defaults.
  let masks = bpp === 16 ? [0x7c00, 0x03e0, 0x001f] : [0xff0000, 0x00ff00, 0x0000ff];
  if (compression !== BI_RGB) {
    const at = 14 + 40;
    if (b.length < at + 12) return corrupt('truncated BMP colour masks');
    masks = [view.getUint32(at, true), view.getUint32(at + 4, true), view.getUint32(at + 8, true)];
  }

  let palette: Uint8Array | undefined;
  if (bpp <= 8) {
    const entries = paletteSize || 1 << bpp;
    const entryBytes = dib === 12 ? 3 : 4;
    const at = 14 + dib;
    if (b.length < at + entries * entryBytes) return corrupt('truncated BMP palette');
    palette = new Uint8Array(256 * 3);
    for (let i = 0; i < Math.min(entries, 256); i++) {
      // Palette entries are stored B, G, R(, reserved).
      palette[i * 3] = b[at + i * entryBytes + 2]!;
      palette[i * 3 + 1] = b[at + i * entryBytes + 1]!;
      palette[i * 3 + 2] = b[at + i * entryBytes]!;
    }
  }

  const stride = Math.floor((bpp * width + 31) / 32) * 4;
  if (dataOffset + stride * height > b.length) {
    return corrupt(
      `truncated BMP pixel data: needs ${stride * height} bytes from ${dataOffset}, file has ${b.length}`,
    );
  }
  const out = new Uint8Array(width * height * 3);
  const m = masks.map(maskShift);
  for (let y = 0; y < height; y++) {
    const row = dataOffset + (topDown ? y : height - 1 - y) * stride;
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 3;
      if (palette) {
        const bit = x * bpp;
        const byte = b[row + (bit >>> 3)]!;
        const idx = bpp === 8 ? byte : (byte >>> (8 - bpp - (bit & 7))) & ((1 << bpp) - 1);
        out[o] = palette[idx * 3]!;
        out[o + 1] = palette[idx * 3 + 1]!;
        out[o + 2] = palette[idx * 3 + 2]!;
      } else if (bpp === 24) {
        const p = row + x * 3;
        out[o] = b[p + 2]!;
        out[o + 1] = b[p + 1]!;
        out[o + 2] = b[p]!;
      } else {
        const v = bpp === 16 ? view.getUint16(row + x * 2, true) : view.getUint32(row + x * 4, true);
        for (let ch = 0; ch < 3; ch++) {
          const { shift, max } = m[ch]!;
          out[o + ch] = max === 0 ? 0 : Math.round((((v & masks[ch]!) >>> shift) * 255) / max);
        }
      }
    }
  }
  return { ok: true, data: out, width, height, channels: 3 };
}
