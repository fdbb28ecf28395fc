// Separable image resampling in plain TypeScript, a port of Pillow's 8-bit ImagingResample (the resize Hugging
// Face image processors call): per output pixel, a filter centred on the source position, widened by the scale
// factor when downsampling so it antialiases; weights in 22-bit fixed point; horizontal pass first, rounded to
// uint8, then vertical. Bilinear, bicubic, box and nearest reproduce Pillow 9.4 bit for bit (tested against its
// output); lanczos can differ by one level where C's sin() and V8's differ in the last bit.
//
// It runs here rather than in sharp for three reasons:
// - fidelity: pretrained ViTs saw Pillow-resized inputs; libvips' resize kernels differ.
// - determinism: the cached pixels feed the version hash, and libvips' SIMD paths may differ in the last bit
//   between CPUs and releases; integer arithmetic in V8 does not.
// - speed on small images: sharp costs ~3 ms per call whatever the size (environment.md §11); this costs
//   microseconds on CIFAR-sized inputs, which is what makes >= 1000 images/s possible on 2 cores.
export type Resample = 'nearest' | 'box' | 'bilinear' | 'bicubic' | 'lanczos';

/** Pillow's PRECISION_BITS for 8-bit images: 32 - 8 - 2. */
const PRECISION_BITS = 22;
const ONE = 1 << PRECISION_BITS;
const HALF = 1 << (PRECISION_BITS - 1);

interface Filter {
  support: number;
  weight(x: number): number;
}

function sinc(x: number): number {
  if (x === 0) return 1;
  const px = x * Math.PI;
  return Math.sin(px) / px;
}

// The filter functions exactly as Pillow's resample.c writes them (including which boundary is open).
const FILTERS: Record<Exclude<Resample, 'nearest'>, Filter> = {
  box: { support: 0.5, weight: (x) => (x > -0.5 && x <= 0.5 ? 1 : 0) },
  bilinear: {
    support: 1,
    weight: (x) => {
      const t = x < 0 ? -x : x;
      return t < 1 ? 1 - t : 0;
    },
  },
  bicubic: {
    support: 2,
    weight: (x) => {
      const a = -0.5;
      const t = x < 0 ? -x : x;
      if (t < 1) return ((a + 2) * t - (a + 3)) * t * t + 1;
      if (t < 2) return (((t - 5) * t + 8) * t - 4) * a;
      return 0;
    },
  },
  lanczos: { support: 3, weight: (x) => (x >= -3 && x < 3 ? sinc(x) * sinc(x / 3) : 0) },
};

/** For each output index: first source index, number of taps, and fixed-point weights (stride `taps`). */
interface Coefficients {
  start: Int32Array;
  count: Int32Array;
  taps: number;
  weights: Int32Array;
}

/** Pillow's precompute_coeffs + normalize_coeffs_8bpp. */
function coefficients(inSize: number, outSize: number, filter: Filter): Coefficients {
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = filter.support * filterScale;
  const taps = Math.ceil(support) * 2 + 1;
  const ss = 1 / filterScale;
  const start = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const weights = new Int32Array(outSize * taps);
  const k = new Float64Array(taps);
  for (let i = 0; i < outSize; i++) {
    const center = (i + 0.5) * scale;
    // C's (int) cast truncates toward zero; the clamp to 0 makes that the same as floor here.
    const lo = Math.max(Math.trunc(center - support + 0.5), 0);
    const n = Math.min(Math.trunc(center + support + 0.5), inSize) - lo;
    let total = 0;
    for (let x = 0; x < n; x++) {
      k[x] = filter.weight((x + lo - center + 0.5) * ss);
      total += k[x]!;
    }
    for (let x = 0; x < n; x++) {
      const w = total !== 0 ? k[x]! / total : k[x]!;
      weights[i * taps + x] = w < 0 ? Math.trunc(-0.5 + w * ONE) : Math.trunc(0.5 + w * ONE);
    }
    start[i] = lo;
    count[i] = n;
  }
  return { start, count, taps, weights };
}

/** Pillow's clip8: drop the fraction bits (arithmetic shift = floor) and clamp to 0..255. */
function clip8(acc: number): number {
  const v = acc >> PRECISION_BITS;
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

export interface ResizeRequest {
  /** Interleaved (HWC) uint8 pixels. */
  data: Uint8Array;
  width: number;
  height: number;
  channels: number;
  /** Size of the resized image before cropping. */
  outWidth: number;
  outHeight: number;
  /** Window of the resized image to keep (default: all of it). */
  crop?: { top: number; left: number; height: number; width: number };
  resample: Resample;
}

/** Resizes then crops; returns HWC uint8 of the crop size. */
export function resizeImage(req: ResizeRequest): Uint8Array {
  const { data, width, height, channels: c, outWidth, outHeight, resample } = req;
  const crop = req.crop ?? { top: 0, left: 0, height: outHeight, width: outWidth };
  const out = new Uint8Array(crop.height * crop.width * c);
  if (resample === 'nearest') return nearest(req, crop, out);
  const filter = FILTERS[resample];
  // As in Pillow, an axis whose size does not change is not resampled (its filter would be the identity anyway).
  const needH = outWidth !== width;
  const needV = outHeight !== height;
  const cy = needV ? coefficients(height, outHeight, filter) : undefined;
  let rowLo = crop.top;
  let rowHi = crop.top + crop.height;
  if (cy) {
    // Only the source rows that the kept output rows read are filtered horizontally.
    rowLo = height;
    rowHi = 0;
    for (let y = crop.top; y < crop.top + crop.height; y++) {
      rowLo = Math.min(rowLo, cy.start[y]!);
      rowHi = Math.max(rowHi, cy.start[y]! + cy.count[y]!);
    }
  }
  const stride = crop.width * c;
  // Horizontal pass into tmp (rows rowLo..rowHi, kept columns only), rounded to uint8 as Pillow does.
  const tmp = new Uint8Array((rowHi - rowLo) * stride);
  if (!needH) {
    for (let y = rowLo; y < rowHi; y++) {
      const src = (y * width + crop.left) * c;
      tmp.set(data.subarray(src, src + stride), (y - rowLo) * stride);
    }
  } else {
    const cx = coefficients(width, outWidth, filter);
    const w = cx.weights;
    for (let y = rowLo; y < rowHi; y++) {
      const rowBase = y * width * c;
      let o = (y - rowLo) * stride;
      for (let x = 0; x < crop.width; x++) {
        const ox = crop.left + x;
        const n = cx.count[ox]!;
        const wBase = ox * cx.taps;
        let p = rowBase + cx.start[ox]! * c;
        if (c === 3) {
          // Unrolled for RGB: one pass over the taps for the three channels.
          let a0 = HALF;
          let a1 = HALF;
          let a2 = HALF;
          for (let k = 0; k < n; k++, p += 3) {
            const wk = w[wBase + k]!;
            a0 += data[p]! * wk;
            a1 += data[p + 1]! * wk;
            a2 += data[p + 2]! * wk;
          }
          tmp[o++] = clip8(a0);
          tmp[o++] = clip8(a1);
          tmp[o++] = clip8(a2);
        } else {
          for (let ch = 0; ch < c; ch++) {
            let acc = HALF;
            for (let k = 0, q = p + ch; k < n; k++, q += c) acc += data[q]! * w[wBase + k]!;
            tmp[o++] = clip8(acc);
          }
        }
      }
    }
  }
  if (!cy) {
    out.set(tmp.subarray(0, out.length));
    return out;
  }
  // Vertical pass row by row: each tap adds a whole contiguous tmp row into an accumulator row, which V8 runs
  // several times faster than a per-pixel loop over taps with strided reads.
  const acc = new Int32Array(stride);
  for (let y = 0; y < crop.height; y++) {
    const oy = crop.top + y;
    const s = cy.start[oy]! - rowLo;
    const n = cy.count[oy]!;
    const wBase = oy * cy.taps;
    acc.fill(HALF);
    for (let k = 0; k < n; k++) {
      const wk = cy.weights[wBase + k]!;
      const row = (s + k) * stride;
      for (let i = 0; i < stride; i++) acc[i] = acc[i]! + tmp[row + i]! * wk;
    }
    const outBase = y * stride;
    for (let i = 0; i < stride; i++) out[outBase + i] = clip8(acc[i]!);
  }
  return out;
}

/** Pillow's NEAREST (an affine transform sampling floor((i + 0.5) * scale)). */
function nearest(
  req: ResizeRequest,
  crop: { top: number; left: number; height: number; width: number },
  out: Uint8Array,
): Uint8Array {
  const { data, width, height, channels: c, outWidth, outHeight } = req;
  const sx = width / outWidth;
  const sy = height / outHeight;
  for (let y = 0; y < crop.height; y++) {
    const iy = Math.min(Math.floor((crop.top + y + 0.5) * sy), height - 1);
    for (let x = 0; x < crop.width; x++) {
      const ix = Math.min(Math.floor((crop.left + x + 0.5) * sx), width - 1);
      const src = (iy * width + ix) * c;
      const dst = (y * crop.width + x) * c;
      for (let ch = 0; ch < c; ch++) out[dst + ch] = data[src + ch]!;
    }
  }
  return out;
}
