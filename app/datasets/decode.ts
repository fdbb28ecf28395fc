// Bytes -> pixels, never throwing for a bad file: every failure comes back as a skip code and a message, so one bad
// file cannot abort an import. Decoder choice is a pure function of the header (format, size, bit depth, ICC), so
// the same file always takes the same path and yields the same pixels.
import { PNG } from 'pngjs';
import sharp, { type OutputInfo } from 'sharp';

import { decodeBmp } from './bmp.ts';
import type { RawImage } from './preprocess.ts';
import { describeBytes, sniffImage, type ImageFormat } from './sniff.ts';
import type { SkipCode } from './types.ts';

export const DEFAULT_MAX_PIXELS = 40_000_000;

/**
 * PNGs up to this many pixels are decoded by pngjs on the calling thread: its 0.11 ms for 32x32 against sharp's
 * ~3 ms per-call overhead is the difference between hundreds and thousands of images per second
 * (environment.md §11). Above it sharp's libuv-threaded decoder wins (measured crossover in docs/datasets.md).
 */
export const PNGJS_MAX_PIXELS = 128 * 128;

export type Decoder = 'sharp' | 'pngjs' | 'bmp';

export type DecodeResult =
  | { ok: true; image: RawImage; format: ImageFormat; decoder: Decoder }
  | { ok: false; code: SkipCode; message: string; format?: ImageFormat | string };

/** Decoder invocations since start-up, per decoder: lets tests prove a cached epoch decodes nothing. */
const calls: Record<Decoder, number> = { sharp: 0, pngjs: 0, bmp: 0 };
export function decoderCalls(): Readonly<Record<Decoder, number>> {
  return { ...calls };
}

const formatNames: Record<ImageFormat, string> = {
  png: 'PNG',
  jpeg: 'JPEG',
  gif: 'GIF',
  webp: 'WebP',
  bmp: 'BMP',
  tiff: 'TIFF',
  avif: 'AVIF',
};

function megapixels(n: number): string {
  return `${(n / 1e6).toFixed(1)} MP`;
}

export interface DecodeOptions {
  maxPixels?: number;
}

export async function decodeImage(bytes: Uint8Array, options: DecodeOptions = {}): Promise<DecodeResult> {
  const maxPixels = options.maxPixels ?? DEFAULT_MAX_PIXELS;
  if (bytes.length === 0) return { ok: false, code: 'empty-file', message: 'the file is empty (0 bytes)' };
  const sniffed = sniffImage(bytes);
  if (sniffed.kind === 'unknown') {
    return { ok: false, code: 'not-image', message: `not an image: ${describeBytes(bytes)}` };
  }
  if (sniffed.kind === 'unsupported') {
    return {
      ok: false,
      code: 'unsupported-format',
      message: `${sniffed.format} images are not supported; convert to PNG or JPEG`,
      format: sniffed.format,
    };
  }
  if (sniffed.kind === 'truncated') {
    return {
      ok: false,
      code: 'corrupt',
      message: `corrupt or truncated: ${sniffed.message}`,
      format: sniffed.format,
    };
  }
  const { format, width, height } = sniffed;
  const name = formatNames[format];
  if (width !== undefined && height !== undefined) {
    if (width === 0 || height === 0) {
      return {
        ok: false,
        code: 'corrupt',
        message: `${name} header declares ${width}x${height} pixels`,
        format,
      };
    }
    if (width * height > maxPixels) {
      return {
        ok: false,
        code: 'too-many-pixels',
        message:
          `${name} header declares ${width}x${height} = ${megapixels(width * height)}, above the pixel limit of ` +
          `${megapixels(maxPixels)}; not decoded (a guard against decompression bombs)`,
        format,
      };
    }
  }

  if (format === 'bmp') {
    calls.bmp++;
    const r = decodeBmp(bytes);
    if (!r.ok) return { ok: false, code: r.code, message: r.message, format };
    return { ok: true, image: r, format, decoder: 'bmp' };
  }

  if (
    format === 'png' &&
    sniffed.bitDepth === 8 &&
    !sniffed.iccProfile &&
    width !== undefined &&
    height !== undefined &&
    width * height <= PNGJS_MAX_PIXELS
  ) {
    calls.pngjs++;
    try {
      // checkCRC stays on: a flipped bit is a corrupt file, not a slightly different image.
      const png = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
      return {
        ok: true,
        image: { data: png.data, width: png.width, height: png.height, channels: 4 },
        format,
        decoder: 'pngjs',
      };
    } catch (e) {
      return {
        ok: false,
        code: 'corrupt',
        message: `corrupt or truncated PNG: ${(e as Error).message}`,
        format,
      };
    }
  }

  calls.sharp++;
  try {
    const { data, info } = await sharp(bytes, {
      limitInputPixels: maxPixels,
      // 'warning' turns libjpeg's "premature end of data" into an error: a truncated file is reported, not
      // imported with a grey bottom half.
      failOn: 'warning',
      pages: 1,
    })
      // Photos carry their orientation in EXIF; the model should see what the user sees.
      .autoOrient()
      .toColourspace('srgb')
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    return {
      ok: true,
      image: { data: new Uint8Array(data.buffer, data.byteOffset, data.length), ...dims(info) },
      format,
      decoder: 'sharp',
    };
  } catch (e) {
    const message = (e as Error).message;
    if (/pixel limit/i.test(message)) {
      return {
        ok: false,
        code: 'too-many-pixels',
        message: `${name} image is above the pixel limit of ${megapixels(maxPixels)}; not decoded`,
        format,
      };
    }
    return { ok: false, code: 'corrupt', message: `corrupt or truncated ${name}: ${message}`, format };
  }
}

function dims(info: OutputInfo): { width: number; height: number; channels: number } {
  return { width: info.width, height: info.height, channels: info.channels };
}
