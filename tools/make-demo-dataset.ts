// Maintainer script: writes the bundled demo dataset, assets/datasets/fashion-mnist-demo/, from Debian's
// Fashion-MNIST (package dataset-fashion-mnist). The output is committed, so neither CI nor users run this.
//
//   npx tsx tools/make-demo-dataset.ts [--source /usr/share/datasets/fashion-mnist] [--out assets/datasets/...]
//
// Only the held-out classes 5-9 (Sandal, Shirt, Sneaker, Bag, Ankle boot) are exported: classes 0-4 are reserved
// for pretraining the bundled backbone, so fine-tuning on the demo is real transfer to unseen classes. Per class,
// 200 train images come from the train file and 100 test images from the t10k file, chosen by a seeded shuffle
// (engine/rng.ts), written as 28x28 8-bit grey PNGs in an ImageFolder layout: <out>/{train,test}/<class>/<idx>.png
// where <idx> is the image's row in the source IDX file.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

import { PNG } from 'pngjs';

import { importImageFolder } from '../app/datasets/import.ts';
import { DEMO_PREPROCESS } from '../app/datasets/preprocess.ts';
import { readIdx } from '../engine/data/idx.ts';
import { kShotPerClass } from '../engine/data/splits.ts';

const SEED = 20250505;
const CLASSES: Record<number, string> = { 5: 'Sandal', 6: 'Shirt', 7: 'Sneaker', 8: 'Bag', 9: 'Ankle boot' };
const PER_CLASS = { train: 200, test: 100 } as const;
const SOURCE_FILES = {
  train: { images: 'train-images-idx3-ubyte.gz', labels: 'train-labels-idx1-ubyte.gz' },
  test: { images: 't10k-images-idx3-ubyte.gz', labels: 't10k-labels-idx1-ubyte.gz' },
} as const;

const { values } = parseArgs({
  options: {
    source: { type: 'string', default: '/usr/share/datasets/fashion-mnist' },
    out: { type: 'string', default: 'assets/datasets/fashion-mnist-demo' },
  },
});
const sourceDir = resolve(values.source);
const outDir = resolve(values.out);

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function debianVersion(pkg: string): string {
  try {
    return execFileSync('dpkg-query', ['-W', '-f=${Version}', pkg], { encoding: 'utf8' }).trim();
  } catch {
    return 'unknown (dpkg-query unavailable)';
  }
}

/** 8-bit greyscale PNG; pngjs's output is a pure function of the pixels and the zlib version. */
function encodeGreyPng(pixels: Uint8Array, width: number, height: number): Buffer {
  const png = new PNG({ width, height, colorType: 0, inputColorType: 0, inputHasAlpha: false, bitDepth: 8 });
  png.data = Buffer.from(pixels);
  return PNG.sync.write(png, { colorType: 0, inputColorType: 0, inputHasAlpha: false, bitDepth: 8 });
}

await rm(outDir, { recursive: true, force: true });
const sourceHashes: Record<string, string> = {};
const selection: Record<string, Record<string, number[]>> = {};
for (const split of ['train', 'test'] as const) {
  const files = SOURCE_FILES[split];
  for (const f of [files.images, files.labels]) sourceHashes[f] = sha256(await readFile(join(sourceDir, f)));
  const images = await readIdx(join(sourceDir, files.images));
  const labels = await readIdx(join(sourceDir, files.labels));
  const [, h, w] = images.dims as [number, number, number];
  const pool = Int32Array.from(labels.data.keys()).filter((i) => CLASSES[labels.data[i]!] !== undefined);
  // kShotPerClass: exactly k per class by a per-class seeded shuffle, the same rule the app offers users.
  const chosen = kShotPerClass(labels.data, PER_CLASS[split], SEED, { pool });
  selection[split] = {};
  for (const i of chosen) {
    const name = CLASSES[labels.data[i]!]!;
    const dir = join(outDir, split, name);
    await mkdir(dir, { recursive: true });
    const pixels = images.data.subarray(i * h * w, (i + 1) * h * w);
    await writeFile(join(dir, `${String(i).padStart(5, '0')}.png`), encodeGreyPng(pixels, w, h));
    (selection[split][name] ??= []).push(i);
  }
}

// The version id the importer gives this folder with the demo backbone's preprocessing: a check on the PNGs that
// does not depend on zlib's byte output, only on the decoded pixels.
const cacheRoot = await mkdtemp(join(tmpdir(), 'demo-dataset-'));
const record = await importImageFolder(outDir, { cacheRoot, preprocess: DEMO_PREPROCESS });
await rm(cacheRoot, { recursive: true, force: true });

await writeFile(
  join(outDir, 'LICENSE'),
  `The MIT License (MIT)

Copyright © 2017 Zalando SE, https://tech.zalando.com

Permission is hereby granted, free of charge, to any person obtaining a copy of this software and associated
documentation files (the “Software”), to deal in the Software without restriction, including without limitation
the rights to use, copy, modify, merge, publish, distribute, sublicense, and/or sell copies of the Software, and to
permit persons to whom the Software is furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all copies or substantial portions of
the Software.

THE SOFTWARE IS PROVIDED “AS IS”, WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED, INCLUDING BUT NOT LIMITED TO THE
WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR
COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR
OTHERWISE, ARISING FROM, OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE.
`,
);

const table = (split: 'train' | 'test') =>
  Object.entries(CLASSES)
    .map(([label, name]) => `| ${label} | ${name} | ${selection[split]![name]!.length} |`)
    .join('\n');
await writeFile(
  join(outDir, 'PROVENANCE.md'),
  `# Fashion-MNIST demo subset: provenance

A small, real, licensed dataset bundled with FLOPS Workbench for the demo and the tests. Generated by
\`tools/make-demo-dataset.ts\`; do not edit by hand.

## Source

- Debian package \`dataset-fashion-mnist\`, version \`${debianVersion('dataset-fashion-mnist')}\` (upstream
  https://github.com/zalandoresearch/fashion-mnist, © 2017 Zalando SE, MIT licence; see \`LICENSE\`).
- Files read from \`${sourceDir}\`:

| file | sha256 |
| --- | --- |
${Object.entries(sourceHashes)
  .map(([f, h]) => `| \`${f}\` | \`${h}\` |`)
  .join('\n')}

## Selection

- Classes 5–9 only (label → folder below). Classes 0–4 (T-shirt/top, Trouser, Pullover, Dress, Coat) are reserved
  for pretraining the bundled backbone, so the demo measures transfer to unseen classes.
- Per class, ${PER_CLASS.train} images from the train file → \`train/<class>/\` and ${PER_CLASS.test} from the t10k
  (test) file → \`test/<class>/\`, chosen by \`kShotPerClass(labels, k, ${SEED}, { pool: classes 5–9 })\`
  (engine/data/splits.ts: a per-class Fisher–Yates shuffle seeded by \`deriveSeed(${SEED}, KSHOT, label)\`, first k
  kept).
- File name = the image's row in its source IDX file (zero-padded), so every PNG can be traced back.
- Pixels are unchanged: 28×28, 8-bit greyscale PNG (pngjs 7, colour type 0).

| label | class | train |
| --- | --- | --- |
${table('train')}

| label | class | test |
| --- | --- | --- |
${table('test')}

Total: ${record.splits.counts.train} train + ${record.splits.counts.test} test = ${record.count} images.

## Check

Imported with \`importImageFolder(dir, { preprocess: DEMO_PREPROCESS })\` (28×28×1, predefined train/test split),
this folder is dataset version

\`${record.id}\`
`,
);
console.log(`wrote ${record.count} images to ${outDir}; version ${record.id}`);
