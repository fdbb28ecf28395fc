// Image format detection from content, and header dimensions read without decoding. The pixel limit is checked
// on these dimensions BEFORE any decoder allocates (a 100-byte PNG can declare 20000x20000 and ask for 1.6 GB);
// sharp's own limitInputPixels is passed as a second line of defence for formats parsed here only partly (TIFF,
// AVIF). File suffixes are never trusted: a renamed file is decoded by what it is.

export type ImageFormat = 'png' | 'jpeg' | 'gif' | 'webp' | 'bmp' | 'tiff' | 'avif';

export type Sniffed =
  | {
      kind: 'image';
      format: ImageFormat;
      width?: number;
      height?: number;
      bitDepth?: number;
      iccProfile?: boolean;
    }
  | { kind: 'unsupported'; format: string }
  | { kind: 'truncated'; format: ImageFormat; message: string }
  | { kind: 'unknown' };

/** File suffixes that the user meant as images; a mismatch with the content is noted, not fatal. */
export const IMAGE_SUFFIXES: Record<string, ImageFormat> = {
  '.png': 'png',
  '.jpg': 'jpeg',
  '.jpeg': 'jpeg',
  '.jpe': 'jpeg',
  '.jfif': 'jpeg',
  '.gif': 'gif',
  '.webp': 'webp',
  '.bmp': 'bmp',
  '.dib': 'bmp',
  '.tif': 'tiff',
  '.tiff': 'tiff',
  '.avif': 'avif',
};

const ascii = (b: Uint8Array, at: number, len: number): string =>
  String.fromCharCode(...b.subarray(at, Math.min(at + len, b.length)));
const u16be = (b: Uint8Array, at: number): number => (b[at]! << 8) | b[at + 1]!;
const u16le = (b: Uint8Array, at: number): number => b[at]! | (b[at + 1]! << 8);
const u32be = (b: Uint8Array, at: number): number =>
  ((b[at]! << 24) | (b[at + 1]! << 16) | u16be(b, at + 2)) >>> 0;
const u24le = (b: Uint8Array, at: number): number => b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16);
const i32le = (b: Uint8Array, at: number): number =>
  b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24);

function startsWith(b: Uint8Array, sig: readonly number[], at = 0): boolean {
  if (b.length < at + sig.length) return false;
  for (let i = 0; i < sig.length; i++) if (b[at + i] !== sig[i]) return false;
  return true;
}

const PNG_SIG = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

function sniffPng(b: Uint8Array): Sniffed {
  if (b.length < 33 || ascii(b, 12, 4) !== 'IHDR') {
    return { kind: 'truncated', format: 'png', message: 'PNG signature without a complete IHDR header' };
  }
  // Colour profiles make sharp convert to sRGB, which the pngjs fast path would not; the decoder checks this flag.
  let icc = false;
  for (let at = 8; at + 8 <= b.length;) {
    const len = u32be(b, at);
    const type = ascii(b, at + 4, 4);
    if (type === 'iCCP') icc = true;
    if (type === 'IDAT' || type === 'IEND') break;
    at += 12 + len;
  }
  return {
    kind: 'image',
    format: 'png',
    width: u32be(b, 16),
    height: u32be(b, 20),
    bitDepth: b[24]!,
    iccProfile: icc,
  };
}

function sniffJpeg(b: Uint8Array): Sniffed {
  // Walk the marker segments up to the first start-of-frame, which holds the dimensions.
  let at = 2;
  while (at + 4 <= b.length) {
    if (b[at] !== 0xff)
      return { kind: 'truncated', format: 'jpeg', message: `bad JPEG marker at byte ${at}` };
    const marker = b[at + 1]!;
    if (marker === 0xff) {
      at++;
      continue;
    }
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd9)) {
      at += 2;
      continue;
    }
    const len = u16be(b, at + 2);
    const isSof = marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
    if (isSof) {
      if (at + 9 > b.length) break;
      return { kind: 'image', format: 'jpeg', height: u16be(b, at + 5), width: u16be(b, at + 7) };
    }
    at += 2 + len;
  }
  return { kind: 'truncated', format: 'jpeg', message: 'JPEG without a frame header (truncated?)' };
}

function sniffWebp(b: Uint8Array): Sniffed {
  const chunk = ascii(b, 12, 4);
  if (chunk === 'VP8X' && b.length >= 30) {
    return { kind: 'image', format: 'webp', width: u24le(b, 24) + 1, height: u24le(b, 27) + 1 };
  }
  if (chunk === 'VP8L' && b.length >= 25) {
    const bits = u32be(new Uint8Array([b[24]!, b[23]!, b[22]!, b[21]!]), 0);
    return {
      kind: 'image',
      format: 'webp',
      width: (bits & 0x3fff) + 1,
      height: ((bits >>> 14) & 0x3fff) + 1,
    };
  }
  if (chunk === 'VP8 ' && b.length >= 30) {
    return { kind: 'image', format: 'webp', width: u16le(b, 26) & 0x3fff, height: u16le(b, 28) & 0x3fff };
  }
  return { kind: 'truncated', format: 'webp', message: 'WebP container without a complete image header' };
}

function sniffBmp(b: Uint8Array): Sniffed {
  if (b.length < 26) return { kind: 'truncated', format: 'bmp', message: 'BMP shorter than its headers' };
  const dib = i32le(b, 14);
  if (dib === 12) return { kind: 'image', format: 'bmp', width: u16le(b, 18), height: u16le(b, 20) };
  return { kind: 'image', format: 'bmp', width: Math.abs(i32le(b, 18)), height: Math.abs(i32le(b, 22)) };
}

function sniffIsoBmff(b: Uint8Array): Sniffed | undefined {
  if (ascii(b, 4, 4) !== 'ftyp') return undefined;
  const size = Math.min(u32be(b, 0), b.length, 64);
  const brands: string[] = [ascii(b, 8, 4)];
  for (let at = 16; at + 4 <= size; at += 4) brands.push(ascii(b, at, 4));
  if (brands.includes('avif') || brands.includes('avis')) return { kind: 'image', format: 'avif' };
  const heif = ['heic', 'heix', 'hevc', 'hevx', 'heim', 'heis', 'mif1', 'msf1'];
  if (brands.some((br) => heif.includes(br))) return { kind: 'unsupported', format: 'HEIC/HEIF' };
  return undefined;
}

/** What the bytes are. Only the first few KB are looked at, except for PNG chunk scanning up to IDAT. */
export function sniffImage(b: Uint8Array): Sniffed {
  if (startsWith(b, PNG_SIG)) return sniffPng(b);
  if (startsWith(b, [0xff, 0xd8, 0xff])) return sniffJpeg(b);
  const head6 = ascii(b, 0, 6);
  if (head6 === 'GIF87a' || head6 === 'GIF89a') {
    if (b.length < 10) return { kind: 'truncated', format: 'gif', message: 'GIF shorter than its header' };
    return { kind: 'image', format: 'gif', width: u16le(b, 6), height: u16le(b, 8) };
  }
  if (ascii(b, 0, 4) === 'RIFF' && ascii(b, 8, 4) === 'WEBP') return sniffWebp(b);
  if (ascii(b, 0, 2) === 'BM' && b.length >= 18) {
    const dib = i32le(b, 14);
    if ([12, 40, 52, 56, 64, 108, 124].includes(dib)) return sniffBmp(b);
  }
  if (startsWith(b, [0x49, 0x49, 0x2a, 0x00]) || startsWith(b, [0x4d, 0x4d, 0x00, 0x2a])) {
    return { kind: 'image', format: 'tiff' };
  }
  const iso = sniffIsoBmff(b);
  if (iso) return iso;
  // Real image formats we recognise but do not decode: reported as such, not as "not an image".
  if (ascii(b, 0, 4) === '8BPS') return { kind: 'unsupported', format: 'Photoshop PSD' };
  if (startsWith(b, [0x00, 0x00, 0x01, 0x00]) && b.length > 6) return { kind: 'unsupported', format: 'ICO' };
  if (startsWith(b, [0x00, 0x00, 0x00, 0x0c, 0x6a, 0x50, 0x20, 0x20])) {
    return { kind: 'unsupported', format: 'JPEG 2000' };
  }
  if (startsWith(b, [0xff, 0x0a]) || startsWith(b, [0x00, 0x00, 0x00, 0x0c, 0x4a, 0x58, 0x4c, 0x20])) {
    return { kind: 'unsupported', format: 'JPEG XL' };
  }
  if (ascii(b, 0, 4) === 'qoif') return { kind: 'unsupported', format: 'QOI' };
  if (startsWith(b, [0x76, 0x2f, 0x31, 0x01])) return { kind: 'unsupported', format: 'OpenEXR' };
  if (ascii(b, 0, 2).match(/^P[1-7]$/) && /\s/.test(ascii(b, 2, 1))) {
    return { kind: 'unsupported', format: 'Netpbm (PBM/PGM/PPM)' };
  }
  const text = ascii(b, 0, 1024).trimStart().toLowerCase();
  if (text.startsWith('<svg') || (text.startsWith('<?xml') && text.includes('<svg'))) {
    return { kind: 'unsupported', format: 'SVG (vector)' };
  }
  return { kind: 'unknown' };
}

/** A short, printable description of the first bytes, for "not an image" messages. */
export function describeBytes(b: Uint8Array): string {
  const head = b.subarray(0, 16);
  const printable = head.every((x) => x === 9 || x === 10 || x === 13 || (x >= 32 && x < 127));
  if (printable) return `text starting ${JSON.stringify(ascii(b, 0, 16))}`;
  return `bytes ${Array.from(head.subarray(0, 8), (x) => x.toString(16).padStart(2, '0')).join(' ')}`;
}
