// IDX reader for the MNIST family (MNIST, Fashion-MNIST, KMNIST). The format is tiny: a 4-byte big-endian magic
// (two zero bytes, an element-type code, the number of dimensions), one big-endian u32 per dimension, then the
// elements row-major. The files are usually distributed gzipped, so a gzip header is detected by its magic bytes
// rather than by the file name (renamed downloads are common).
import { readFile } from 'node:fs/promises';
import { gunzipSync } from 'node:zlib';

import { FormatError } from '../errors.ts';

/** Element-type code 0x08 (unsigned byte), the only type the MNIST family uses. */
const UBYTE = 0x08;
/** The two magics the datasets use: ubyte with 3 dims (images) and ubyte with 1 dim (labels). */
export const IDX_IMAGES_MAGIC = 0x0803;
export const IDX_LABELS_MAGIC = 0x0801;

const TYPE_NAMES: Record<number, string> = {
  0x08: 'ubyte',
  0x09: 'byte',
  0x0b: 'short',
  0x0c: 'int',
  0x0d: 'float',
  0x0e: 'double',
};

export interface IdxArray {
  /** The 32-bit magic as read (e.g. 0x803). */
  magic: number;
  dims: number[];
  /** Elements row-major; a view into the (decompressed) file bytes. */
  data: Uint8Array;
}

export interface IdxDataset {
  /** Pixels scaled to [0, 1], row-major [rows, height * width]. */
  x: Float32Array;
  /** Class labels as int64, the dtype the ONNX graphs take for `y`. */
  y: BigInt64Array;
  rows: number;
  /** Per-image shape [height, width]. */
  imageShape: [number, number];
  /** height * width, the flattened input dimension. */
  inDim: number;
}

function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/**
 * Parses IDX bytes (gzipped or not). `file` names the source in errors. Only the unsigned-byte element type is
 * supported; other valid IDX types are refused with a FormatError naming the type, so a float IDX file is not
 * misread as bytes.
 */
export function parseIdx(input: Uint8Array, file = '<bytes>'): IdxArray {
  let bytes = input;
  if (isGzip(bytes)) {
    try {
      bytes = gunzipSync(bytes);
    } catch (cause) {
      throw new FormatError(file, `corrupt gzip stream (${(cause as Error).message})`, { cause });
    }
  }
  if (bytes.length < 4)
    throw new FormatError(file, `truncated IDX header: ${bytes.length} bytes, need at least 4`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getUint32(0, false);
  const type = bytes[2]!;
  const ndims = bytes[3]!;
  if (bytes[0] !== 0 || bytes[1] !== 0 || ndims === 0 || TYPE_NAMES[type] === undefined) {
    throw new FormatError(file, `bad IDX magic 0x${magic.toString(16).padStart(8, '0')}`);
  }
  if (type !== UBYTE) {
    throw new FormatError(
      file,
      `unsupported IDX element type '${TYPE_NAMES[type]}' (only ubyte is supported)`,
    );
  }
  const headerBytes = 4 + 4 * ndims;
  if (bytes.length < headerBytes) {
    throw new FormatError(
      file,
      `truncated IDX header: ${bytes.length} bytes, need ${headerBytes} for ${ndims} dims`,
    );
  }
  const dims: number[] = [];
  for (let i = 0; i < ndims; i++) dims.push(view.getUint32(4 + 4 * i, false));
  const count = dims.reduce((a, b) => a * b, 1);
  const available = bytes.length - headerBytes;
  if (available < count) {
    throw new FormatError(
      file,
      `truncated IDX data: dims ${dims.join('x')} need ${count} bytes, file has ${available}`,
    );
  }
  // Extra bytes mean the header does not describe the file, i.e. it is not the file we think it is.
  if (available > count) {
    throw new FormatError(
      file,
      `IDX data has ${available - count} trailing bytes after dims ${dims.join('x')}`,
    );
  }
  return { magic, dims, data: bytes.subarray(headerBytes) };
}

export async function readIdx(path: string): Promise<IdxArray> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (cause) {
    throw new FormatError(
      path,
      `cannot read file (${(cause as NodeJS.ErrnoException).code ?? String(cause)})`,
      {
        cause,
      },
    );
  }
  return parseIdx(bytes, path);
}

function expectMagic(arr: IdxArray, magic: number, what: string, file: string): void {
  if (arr.magic !== magic) {
    throw new FormatError(
      file,
      `bad IDX magic 0x${arr.magic.toString(16)} for ${what} (expected 0x${magic.toString(16)})`,
    );
  }
}

/** Images: magic 0x803, dims [n, height, width]. */
export function parseIdxImages(bytes: Uint8Array, file = '<bytes>'): IdxArray {
  const arr = parseIdx(bytes, file);
  expectMagic(arr, IDX_IMAGES_MAGIC, 'images', file);
  return arr;
}

/** Labels: magic 0x801, dims [n]. */
export function parseIdxLabels(bytes: Uint8Array, file = '<bytes>'): IdxArray {
  const arr = parseIdx(bytes, file);
  expectMagic(arr, IDX_LABELS_MAGIC, 'labels', file);
  return arr;
}

/** Pairs images and labels into model-ready arrays; `limit` keeps the first rows only. */
export function idxToDataset(
  images: IdxArray,
  labels: IdxArray,
  options: { limit?: number; files?: [string, string] } = {},
): IdxDataset {
  const [imagesFile, labelsFile] = options.files ?? ['<images>', '<labels>'];
  expectMagic(images, IDX_IMAGES_MAGIC, 'images', imagesFile);
  expectMagic(labels, IDX_LABELS_MAGIC, 'labels', labelsFile);
  const [n, h, w] = images.dims as [number, number, number];
  const nLabels = labels.dims[0]!;
  if (n !== nLabels) {
    throw new FormatError(labelsFile, `${nLabels} labels for ${n} images in ${imagesFile}`);
  }
  const rows = Math.min(n, options.limit ?? n);
  const inDim = h * w;
  const x = new Float32Array(rows * inDim);
  const pixels = images.data;
  for (let i = 0; i < x.length; i++) x[i] = pixels[i]! / 255;
  const y = new BigInt64Array(rows);
  for (let i = 0; i < rows; i++) y[i] = BigInt(labels.data[i]!);
  return { x, y, rows, imageShape: [h, w], inDim };
}

/** Reads an images file and a labels file (each gzipped or not) into a dataset. */
export async function loadIdxDataset(
  imagesPath: string,
  labelsPath: string,
  options: { limit?: number } = {},
): Promise<IdxDataset> {
  const [images, labels] = await Promise.all([readIdx(imagesPath), readIdx(labelsPath)]);
  return idxToDataset(images, labels, { ...options, files: [imagesPath, labelsPath] });
}
