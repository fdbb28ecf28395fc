import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

import { describe, expect, it } from 'vitest';

import { FormatError } from '../../../engine/errors.ts';
import {
  idxToDataset,
  loadIdxDataset,
  parseIdx,
  parseIdxImages,
  parseIdxLabels,
  readIdx,
} from '../../../engine/data/idx.ts';

const fixture = (name: string): string =>
  fileURLToPath(new URL(`../../fixtures/idx/${name}`, import.meta.url));
const IMAGES = fixture('t10k-64-images-idx3-ubyte.gz');
const LABELS = fixture('t10k-64-labels-idx1-ubyte');

const REAL_DIR = '/usr/share/datasets/fashion-mnist';
const REAL_IMAGES = `${REAL_DIR}/t10k-images-idx3-ubyte.gz`;
const REAL_LABELS = `${REAL_DIR}/t10k-labels-idx1-ubyte.gz`;
const haveReal = existsSync(REAL_IMAGES) && existsSync(REAL_LABELS);
if (!haveReal) {
  console.warn(
    `[idx.test] SKIPPING real-data checks: ${REAL_DIR} is absent (Debian package dataset-fashion-mnist)`,
  );
}

/** Builds an IDX file: big-endian magic, dims, then the bytes. */
function idx(magic: number, dims: number[], data: number[]): Uint8Array {
  const out = new Uint8Array(4 + 4 * dims.length + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, magic, false);
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  out.set(data, 4 + 4 * dims.length);
  return out;
}

describe('parseIdx', () => {
  it('reads a big-endian header and the data, plain or gzipped', () => {
    // dims 2x3 > 255 would show a little-endian misread; use 258 rows of 1 to check the byte order.
    const bytes = idx(
      0x803,
      [258, 1, 1],
      Array.from({ length: 258 }, (_, i) => i % 256),
    );
    for (const b of [bytes, gzipSync(bytes)]) {
      const arr = parseIdxImages(b);
      expect(arr.magic).toBe(0x803);
      expect(arr.dims).toEqual([258, 1, 1]);
      expect(arr.data[257]).toBe(1);
    }
    expect(parseIdxLabels(idx(0x801, [3], [7, 8, 9])).data).toEqual(Uint8Array.from([7, 8, 9]));
  });

  it('refuses a bad magic, naming the file', () => {
    const bad = idx(0x01000803, [1, 1, 1], [0]);
    expect(() => parseIdx(bad, 'x.idx')).toThrow(FormatError);
    expect(() => parseIdx(bad, 'x.idx')).toThrow(/x\.idx: bad IDX magic 0x01000803/);
    // A PNG signature is not IDX either.
    expect(() => parseIdx(Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0, 0, 0, 0]))).toThrow(/bad IDX magic/);
  });

  it('refuses labels where images are expected and vice versa', () => {
    expect(() => parseIdxImages(idx(0x801, [1], [3]), 'l')).toThrow(/bad IDX magic 0x801 for images/);
    expect(() => parseIdxLabels(idx(0x803, [1, 1, 1], [3]), 'i')).toThrow(/bad IDX magic 0x803 for labels/);
  });

  it('refuses non-ubyte element types', () => {
    expect(() => parseIdx(idx(0x0d01, [1], [0, 0, 0, 0]))).toThrow(/unsupported IDX element type 'float'/);
  });

  it('refuses truncation in the header, in the data, and in the gzip stream', () => {
    expect(() => parseIdx(Uint8Array.from([0, 0]))).toThrow(/truncated IDX header: 2 bytes/);
    expect(() => parseIdx(idx(0x803, [1, 2, 3], []).subarray(0, 10))).toThrow(
      /truncated IDX header: 10 bytes, need 16/,
    );
    expect(() => parseIdx(idx(0x803, [2, 2, 2], [1, 2, 3]))).toThrow(
      /truncated IDX data: dims 2x2x2 need 8 bytes, file has 3/,
    );
    const gz = gzipSync(idx(0x801, [100], new Array<number>(100).fill(1)));
    expect(() => parseIdx(gz.subarray(0, gz.length - 12), 'cut.gz')).toThrow(/cut\.gz: corrupt gzip stream/);
    expect(() => parseIdx(idx(0x801, [2], [1, 2, 3]))).toThrow(/1 trailing bytes/);
  });

  it('reports an unreadable path as a FormatError', async () => {
    await expect(readIdx('/nonexistent/file.idx')).rejects.toThrow(
      /\/nonexistent\/file\.idx: cannot read file \(ENOENT\)/,
    );
  });
});

describe('datasets', () => {
  it('loads the committed 64-row fixture (gz images, plain labels) as scaled float32 and int64', async () => {
    const ds = await loadIdxDataset(IMAGES, LABELS);
    expect(ds.rows).toBe(64);
    expect(ds.inDim).toBe(784);
    expect(ds.imageShape).toEqual([28, 28]);
    expect(ds.x.length).toBe(64 * 784);
    expect(Math.min(...ds.x)).toBe(0);
    expect(Math.max(...ds.x)).toBeLessThanOrEqual(1);
    // The first Fashion-MNIST test labels: ankle boot, pullover, trouser, trouser, shirt.
    expect(Array.from(ds.y.subarray(0, 5), Number)).toEqual([9, 2, 1, 1, 6]);
    expect(Math.max(...Array.from(ds.y, Number))).toBeLessThan(10);
  });

  it('refuses mismatched image and label counts', () => {
    const images = parseIdxImages(idx(0x803, [2, 1, 1], [0, 255]));
    const labels = parseIdxLabels(idx(0x801, [3], [0, 1, 2]));
    expect(() => idxToDataset(images, labels, { files: ['i', 'l'] })).toThrow(
      /l: 3 labels for 2 images in i/,
    );
    expect(idxToDataset(images, parseIdxLabels(idx(0x801, [2], [4, 5])), { limit: 1 }).x).toEqual(
      Float32Array.from([0]),
    );
  });

  it.runIf(haveReal)('the fixture equals the first 64 rows of the real Fashion-MNIST test set', async () => {
    const [real, fix] = await Promise.all([
      loadIdxDataset(REAL_IMAGES, REAL_LABELS),
      loadIdxDataset(IMAGES, LABELS),
    ]);
    expect(real.rows).toBe(10_000);
    expect(real.x.subarray(0, 64 * 784)).toEqual(fix.x);
    expect(real.y.subarray(0, 64)).toEqual(fix.y);
    const counts = new Array<number>(10).fill(0);
    for (const label of real.y) counts[Number(label)]! += 1;
    expect(counts).toEqual(new Array<number>(10).fill(1000));
  });

  it('keeps the fixture small', async () => {
    expect((await readFile(IMAGES)).length).toBeLessThan(40_000);
  });
});
