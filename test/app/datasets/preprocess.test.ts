import { readFileSync } from 'node:fs';

import { describe, expect, it } from 'vitest';

import {
  convertChannels,
  DEMO_PREPROCESS,
  outputShape,
  parsePreprocessConfig,
  preprocessFromHf,
  preprocessImage,
  type PreprocessConfig,
} from '../../../app/datasets/preprocess.ts';
import { resizeImage, type Resample } from '../../../app/datasets/resize.ts';
import { ConfigError } from '../../../engine/errors.ts';

interface Golden {
  pillow: string;
  width: number;
  height: number;
  cases: { resample: Resample; width: number; height: number; data: string }[]; // data: base64 RGB
}
const golden = JSON.parse(
  readFileSync(new URL('./fixtures/resize-golden.json', import.meta.url), 'utf8'),
) as Golden;

/** The source image of fixtures/make-resize-golden.py. */
function goldenSource(): Uint8Array {
  const { width: w, height: h } = golden;
  const out = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const o = (y * w + x) * 3;
      out[o] = (x * 21 + y * 7) % 256;
      out[o + 1] = x >= 6 ? 255 : 0;
      out[o + 2] = (x * y * 5) % 256;
    }
  return out;
}

describe('resizeImage', () => {
  it(`reproduces Pillow's resize (the one HF image processors use) exactly, lanczos within 1 level`, () => {
    const data = goldenSource();
    for (const c of golden.cases) {
      const out = resizeImage({
        data,
        width: golden.width,
        height: golden.height,
        channels: 3,
        outWidth: c.width,
        outHeight: c.height,
        resample: c.resample,
      });
      const expected = Buffer.from(c.data, 'base64');
      expect(out.length).toBe(expected.length);
      const diffs = Array.from(out, (v, i) => Math.abs(v - expected[i]!));
      const worst = c.resample === 'lanczos' ? 1 : 0; // C's sin() and V8's may differ in the last bit
      expect(Math.max(...diffs), `${c.resample} ${c.width}x${c.height}`).toBeLessThanOrEqual(worst);
    }
  });

  it('is the identity at scale 1 and crops a window', () => {
    const data = goldenSource();
    const same = resizeImage({
      data,
      width: 12,
      height: 10,
      channels: 3,
      outWidth: 12,
      outHeight: 10,
      resample: 'bicubic',
    });
    expect(same).toEqual(data);
    const crop = resizeImage({
      data,
      width: 12,
      height: 10,
      channels: 3,
      outWidth: 24,
      outHeight: 20,
      crop: { top: 5, left: 7, height: 4, width: 3 },
      resample: 'bilinear',
    });
    const full = resizeImage({
      data,
      width: 12,
      height: 10,
      channels: 3,
      outWidth: 24,
      outHeight: 20,
      resample: 'bilinear',
    });
    for (let y = 0; y < 4; y++) {
      expect(Array.from(crop.subarray(y * 9, y * 9 + 9))).toEqual(
        Array.from(full.subarray(((5 + y) * 24 + 7) * 3, ((5 + y) * 24 + 10) * 3)),
      );
    }
  });
});

describe('channels', () => {
  it('grey <-> RGB round-trips, and RGB -> grey uses Pillow luma', () => {
    const grey = Uint8Array.from([0, 17, 128, 255]);
    const rgb = convertChannels({ data: grey, width: 2, height: 2, channels: 1 }, 3);
    expect(Array.from(rgb)).toEqual([0, 0, 0, 17, 17, 17, 128, 128, 128, 255, 255, 255]);
    expect(convertChannels({ data: rgb, width: 2, height: 2, channels: 3 }, 1)).toEqual(grey);
    // L = R*299/1000 + G*587/1000 + B*114/1000 (PIL.Image.convert('L')).
    const px = convertChannels(
      {
        data: Uint8Array.from([255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 200, 30]),
        width: 4,
        height: 1,
        channels: 3,
      },
      1,
    );
    expect(Array.from(px)).toEqual([76, 150, 29, 124]);
    const rgba = convertChannels(
      { data: Uint8Array.from([1, 2, 3, 0]), width: 1, height: 1, channels: 4 },
      3,
    );
    expect(Array.from(rgba)).toEqual([1, 2, 3]);
  });
});

describe('preprocess configs', () => {
  const vit = {
    do_normalize: true,
    do_rescale: true,
    do_resize: true,
    image_mean: [0.5, 0.5, 0.5],
    image_std: [0.5, 0.5, 0.5],
    resample: 2,
    rescale_factor: 0.00392156862745098,
    size: { height: 224, width: 224 },
  };

  it('reads a ViTImageProcessor config', () => {
    const cfg = preprocessFromHf(vit);
    expect(cfg).toEqual({
      channels: 3,
      resize: { height: 224, width: 224 },
      centerCrop: null,
      resample: 'bilinear',
      rescale: 0.00392156862745098,
      mean: [0.5, 0.5, 0.5],
      std: [0.5, 0.5, 0.5],
    });
    expect(outputShape(cfg)).toEqual({ height: 224, width: 224, channels: 3 });
  });

  it('reads DeiT (resize then centre crop) and ConvNeXt (shortest edge / crop_pct) configs', () => {
    const deit = preprocessFromHf({
      ...vit,
      size: { height: 256, width: 256 },
      resample: 3,
      do_center_crop: true,
      crop_size: { height: 224, width: 224 },
    });
    expect(deit).toMatchObject({
      resize: { height: 256, width: 256 },
      centerCrop: { height: 224, width: 224 },
      resample: 'bicubic',
    });
    const convnext = preprocessFromHf({ ...vit, size: { shortest_edge: 224 }, crop_pct: 0.875 });
    expect(convnext).toMatchObject({
      resize: { shortestEdge: 256 },
      centerCrop: { height: 224, width: 224 },
    });
  });

  it('resizes the shortest edge, keeps the aspect ratio and takes the centre', () => {
    // 4 wide x 2 high, a horizontal ramp; shortest edge 2 -> 4x2 (no scaling), centre crop 2x2 = columns 1..2.
    const img = { data: Uint8Array.from([0, 10, 20, 30, 0, 10, 20, 30]), width: 4, height: 2, channels: 1 };
    const cfg: PreprocessConfig = {
      ...DEMO_PREPROCESS,
      resize: { shortestEdge: 2 },
      centerCrop: { height: 2, width: 2 },
    };
    expect(Array.from(preprocessImage(img, cfg))).toEqual([10, 20, 10, 20]);
  });

  it('rejects configs that cannot produce a fixed input (BAD CALL)', () => {
    expect(() => parsePreprocessConfig({ ...DEMO_PREPROCESS, channels: 2 })).toThrow(ConfigError);
    expect(() => parsePreprocessConfig({ ...DEMO_PREPROCESS, resize: { shortestEdge: 32 } })).toThrow(
      /centerCrop: is required/,
    );
    expect(() =>
      parsePreprocessConfig({ ...DEMO_PREPROCESS, centerCrop: { height: 64, width: 64 } }),
    ).toThrow(/larger than the resized image/);
    expect(() => parsePreprocessConfig({ ...DEMO_PREPROCESS, mean: [0, 0] })).toThrow(
      /preprocess\.mean: has 2 values for 1 channels/,
    );
    expect(() => preprocessFromHf({ ...vit, resample: 9 })).toThrow(/unknown PIL filter 9/);
    expect(() => preprocessFromHf({ ...vit, size: undefined })).toThrow(/fixed model input size/);
  });
});
