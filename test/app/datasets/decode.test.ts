import { describe, expect, it } from 'vitest';

import { decodeBmp } from '../../../app/datasets/bmp.ts';
import { decodeImage, decoderCalls, PNGJS_MAX_PIXELS } from '../../../app/datasets/decode.ts';
import { convertChannels } from '../../../app/datasets/preprocess.ts';
import { sniffImage } from '../../../app/datasets/sniff.ts';

import {
  bombPng,
  demoImages,
  encodeBmp,
  encodePng,
  encodeWithSharp,
  toRgb,
  withIccChunk,
} from './helpers.ts';

const [img] = demoImages('Bag', 1);
const grey = img!;

async function decodedGrey(bytes: Uint8Array): Promise<Uint8Array> {
  const r = await decodeImage(bytes);
  if (!r.ok) throw new Error(`${r.code}: ${r.message}`);
  expect([r.image.width, r.image.height]).toEqual([28, 28]);
  return convertChannels(r.image, 1);
}

describe('decodeImage: supported formats', () => {
  it('decodes small PNGs with pngjs and large or ICC-tagged ones with sharp, to the same pixels', async () => {
    const before = decoderCalls();
    const png = encodePng(grey.data, 28, 28, 1);
    const viaPngjs = await decodeImage(png);
    const viaSharp = await decodeImage(withIccChunk(png));
    expect(viaPngjs.ok && viaPngjs.decoder).toBe('pngjs');
    expect(viaSharp.ok && viaSharp.decoder).toBe('sharp');
    expect(await decodedGrey(png)).toEqual(grey.data);
    const after = decoderCalls();
    expect(after.pngjs - before.pngjs).toBe(2);
    expect(after.sharp - before.sharp).toBe(1);
    expect(PNGJS_MAX_PIXELS).toBeGreaterThanOrEqual(32 * 32);
  });

  it('decodes RGB and RGBA PNGs; alpha is dropped', async () => {
    const rgb = toRgb(grey);
    const rgba = new Uint8Array(28 * 28 * 4);
    for (let i = 0; i < 28 * 28; i++)
      rgba.set([rgb[i * 3]!, rgb[i * 3 + 1]!, rgb[i * 3 + 2]!, i % 256], i * 4);
    for (const bytes of [encodePng(rgb, 28, 28, 3), encodePng(rgba, 28, 28, 4)]) {
      const r = await decodeImage(bytes);
      if (!r.ok) throw new Error(r.message);
      expect(convertChannels(r.image, 3)).toEqual(rgb);
    }
  });

  it('decodes lossless WebP, GIF (first frame), TIFF exactly and JPEG closely', async () => {
    expect(await decodedGrey(await encodeWithSharp(grey.data, 28, 28, 1, 'webp'))).toEqual(grey.data);
    // sharp writes JPEG-compressed TIFF by default; LZW keeps it lossless.
    const tiff = await encodeWithSharp(grey.data, 28, 28, 1, 'tiff', { compression: 'lzw' });
    expect(await decodedGrey(tiff)).toEqual(grey.data);
    const gif = await decodedGrey(
      await encodeWithSharp(grey.data, 28, 28, 1, 'gif', { colours: 256, dither: 0 }),
    );
    expect(Math.max(...gif.map((v, i) => Math.abs(v - grey.data[i]!)))).toBeLessThanOrEqual(8);
    const jpeg = await decodedGrey(await encodeWithSharp(grey.data, 28, 28, 1, 'jpeg'));
    const meanErr = jpeg.reduce((a, v, i) => a + Math.abs(v - grey.data[i]!), 0) / jpeg.length;
    expect(meanErr).toBeLessThan(4);
  });

  it('decodes BMP: 8-bit palette, 24-bit bottom-up, 32-bit bitfields top-down', async () => {
    for (const opts of [{ bpp: 8 }, { bpp: 24 }, { bpp: 32, topDown: true }] as const) {
      const r = await decodeImage(encodeBmp(grey, opts));
      expect(r.ok && r.decoder).toBe('bmp');
      expect(await decodedGrey(encodeBmp(grey, opts))).toEqual(grey.data);
    }
  });
});

describe('decodeImage: bad input never throws', () => {
  it('reports empty, non-image and unsupported files', async () => {
    expect(await decodeImage(new Uint8Array(0))).toMatchObject({ ok: false, code: 'empty-file' });
    expect(await decodeImage(Buffer.from('label,path\ncat,a.png\n'))).toMatchObject({
      ok: false,
      code: 'not-image',
      message: expect.stringMatching(/not an image: text starting "label,path/),
    });
    const heic = Buffer.concat([Buffer.from([0, 0, 0, 24]), Buffer.from('ftypheic\0\0\0\0mif1heic')]);
    expect(await decodeImage(heic)).toMatchObject({ code: 'unsupported-format', message: /HEIC/ });
    expect(await decodeImage(Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"/>'))).toMatchObject({
      code: 'unsupported-format',
    });
    const rle = encodeBmp(grey, { bpp: 8, compression: 1 });
    expect(await decodeImage(rle)).toMatchObject({ code: 'unsupported-format', message: /RLE8/ });
  });

  it('reports truncated and corrupt files of every format as corrupt', async () => {
    const png = encodePng(toRgb(grey), 28, 28, 3);
    const cases: Uint8Array[] = [
      png.subarray(0, 20), // signature, half an IHDR
      png.subarray(0, png.length - 30), // no IEND, cut IDAT (pngjs path)
      withIccChunk(png).subarray(0, png.length - 30), // same through sharp
      (await encodeWithSharp(toRgb(grey), 28, 28, 3, 'jpeg')).subarray(0, 400),
      (await encodeWithSharp(grey.data, 28, 28, 1, 'webp')).subarray(0, 40),
      encodeBmp(grey, { bpp: 24 }).subarray(0, 500),
    ];
    const flipped = Buffer.from(png);
    flipped[40] = flipped[40]! ^ 0xff; // inside IDAT: CRC mismatch
    cases.push(flipped);
    for (const bytes of cases) {
      const r = await decodeImage(bytes);
      expect(r, `case of ${bytes.length} bytes`).toMatchObject({ ok: false, code: 'corrupt' });
    }
  });

  it('rejects a PNG whose header claims 20000x20000 before decoding it', async () => {
    const bomb = bombPng(20000, 20000);
    expect(bomb.length).toBeLessThan(120);
    const before = decoderCalls();
    const r = await decodeImage(bomb);
    expect(r).toMatchObject({
      ok: false,
      code: 'too-many-pixels',
      message:
        'PNG header declares 20000x20000 = 400.0 MP, above the pixel limit of 40.0 MP; not decoded (a guard against decompression bombs)',
    });
    expect(decoderCalls()).toEqual(before);
  });

  it('checks the limit on JPEG, WebP, GIF and BMP headers too', async () => {
    const rgb = toRgb(grey);
    const files = [
      await encodeWithSharp(rgb, 28, 28, 3, 'jpeg'),
      await encodeWithSharp(rgb, 28, 28, 3, 'webp'),
      await encodeWithSharp(rgb, 28, 28, 3, 'webp', { lossless: false }),
      await encodeWithSharp(rgb, 28, 28, 3, 'gif'),
      encodeBmp(grey, { bpp: 24 }),
    ];
    for (const f of files) {
      const s = sniffImage(f);
      expect(s.kind === 'image' && [s.width, s.height]).toEqual([28, 28]);
      expect(await decodeImage(f, { maxPixels: 28 * 28 - 1 })).toMatchObject({ code: 'too-many-pixels' });
    }
    // TIFF dimensions are not parsed here; sharp's own limit catches it.
    const tiff = await encodeWithSharp(rgb, 28, 28, 3, 'tiff');
    expect(await decodeImage(tiff, { maxPixels: 100 })).toMatchObject({ code: 'too-many-pixels' });
  });

  it('decodeBmp refuses a header that promises more data than the file has', () => {
    const bmp = encodeBmp(grey, { bpp: 8 });
    expect(decodeBmp(bmp.subarray(0, 1100))).toMatchObject({
      ok: false,
      code: 'corrupt',
      message: /truncated BMP/,
    });
  });
});
