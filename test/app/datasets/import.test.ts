import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { DatasetCache, verifyDatasetCache, CACHE_FILES } from '../../../app/datasets/cache.ts';
import { decoderCalls } from '../../../app/datasets/decode.ts';
import {
  EmptyDatasetError,
  importCsvManifest,
  importIdx,
  importImageFolder,
} from '../../../app/datasets/import.ts';
import { DEMO_PREPROCESS, type PreprocessConfig } from '../../../app/datasets/preprocess.ts';
import type { DatasetVersionRecord } from '../../../app/datasets/types.ts';
import { readIdx } from '../../../engine/data/idx.ts';
import { BatchLoader } from '../../../engine/data/loader.ts';
import { FormatError } from '../../../engine/errors.ts';

import {
  bombPng,
  DEMO_DIR,
  demoImages,
  encodeBmp,
  encodePng,
  encodeWithSharp,
  toRgb,
  type Grey,
} from './helpers.ts';

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'datasets-import-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

const png = (g: Grey) => encodePng(g.data, g.width, g.height, 1);
const NOW = () => new Date('2025-05-05T00:00:00Z');

async function leftovers(cacheRoot: string): Promise<string[]> {
  return (await readdir(cacheRoot).catch(() => [])).filter((n) => n.startsWith('.importing-'));
}

describe('importImageFolder on a messy folder', () => {
  let root: string;
  let record: DatasetVersionRecord;
  const bags = demoImages('Bag', 9);
  const sandals = demoImages('Sandal', 3);
  const unicodeName = 'Ünïcødé 画像.png';

  beforeAll(async () => {
    root = join(tmp, 'messy');
    const outside = join(tmp, 'outside');
    await mkdir(join(outside, 'dir'), { recursive: true });
    await writeFile(join(outside, 'secret.png'), png(bags[8]!));
    await writeFile(join(outside, 'dir', 'x.png'), png(bags[7]!));

    const bag = join(root, 'Bag');
    await mkdir(join(bag, 'sub', 'deeper'), { recursive: true });
    await writeFile(join(bag, 'a.png'), png(bags[0]!));
    await writeFile(join(bag, 'b.jpg'), await encodeWithSharp(toRgb(bags[1]!), 28, 28, 3, 'jpeg'));
    await writeFile(join(bag, 'c.webp'), await encodeWithSharp(bags[2]!.data, 28, 28, 1, 'webp'));
    await writeFile(join(bag, 'd.gif'), await encodeWithSharp(bags[3]!.data, 28, 28, 1, 'gif'));
    await writeFile(join(bag, 'e.bmp'), encodeBmp(bags[4]!, { bpp: 24 }));
    // macOS stores decomposed (NFD) names; the report must show the composed form on every platform.
    await writeFile(join(bag, unicodeName.normalize('NFD')), png(bags[5]!));
    await writeFile(join(bag, 'sub', 'deeper', 'nested.png'), png(bags[6]!));
    await writeFile(join(bag, 'misnamed.jpg'), png(bags[7]!));
    await writeFile(join(bag, 'copy-of-a.png'), png(bags[0]!));
    await writeFile(join(bag, 'corrupt.png'), png(bags[1]!).subarray(0, 200));
    await writeFile(join(bag, 'empty.png'), '');
    await writeFile(join(bag, 'notes.jpg'), 'shot on a phone, cropped later\n');
    await writeFile(join(bag, '.DS_Store'), Buffer.from([0, 0, 0, 1, 0x42, 0x75, 0x64, 0x31]));
    await writeFile(join(bag, '.hidden.png'), png(bags[2]!));
    await writeFile(join(bag, 'huge.png'), bombPng(20000, 20000));
    await writeFile(
      join(bag, 'photo.heic'),
      Buffer.concat([Buffer.from([0, 0, 0, 24]), Buffer.from('ftypheic\0\0\0\0mif1heic')]),
    );
    await symlink(join(outside, 'secret.png'), join(bag, 'link-out.png'));
    await symlink(join(bag, 'does-not-exist.png'), join(bag, 'broken.png'));
    execFileSync('mkfifo', [join(bag, 'fifo')]);

    const sandal = join(root, 'Sandal');
    await mkdir(sandal);
    for (const [i, g] of sandals.entries()) await writeFile(join(sandal, `s${i}.png`), png(g));
    await symlink(join(bag, 'a.png'), join(sandal, 'link-in.png'));

    await mkdir(join(root, 'Empty'));
    await mkdir(join(root, 'Broken'));
    await writeFile(join(root, 'Broken', 'only-bad.png'), Buffer.from('not really a png'));
    await writeFile(join(root, 'README.txt'), 'fashion photos\n');
    await mkdir(join(root, '.git'));
    await writeFile(join(root, '.git', 'config'), '[core]\n');
    await symlink(join(outside, 'dir'), join(root, 'linkdir'));

    record = await importImageFolder(root, {
      cacheRoot: join(tmp, 'cache'),
      preprocess: DEMO_PREPROCESS,
      now: NOW,
    });
  });

  it('imports every good image, nested and unicode-named ones included', async () => {
    expect(record.classes).toEqual(['Bag', 'Sandal']);
    expect(record.count).toBe(11);
    expect(record.report.imported).toBe(11);
    const sources = JSON.parse(
      await readFile(join(record.cachePath, CACHE_FILES.sources), 'utf8'),
    ) as string[];
    expect(sources).toEqual([
      'Bag/a.png',
      'Bag/b.jpg',
      'Bag/c.webp',
      'Bag/d.gif',
      'Bag/e.bmp',
      'Bag/misnamed.jpg',
      'Bag/sub/deeper/nested.png',
      `Bag/${unicodeName}`,
      'Sandal/s0.png',
      'Sandal/s1.png',
      'Sandal/s2.png',
    ]);
    expect(record.report.decoders).toEqual({ pngjs: 6 + 1, sharp: 3, bmp: 1 });
  });

  it('reports each bad entry with its reason', () => {
    const byPath = Object.fromEntries(record.report.skipped.map((s) => [s.path, s.code]));
    expect(byPath).toEqual({
      '.git': 'hidden',
      'Bag/.DS_Store': 'hidden',
      'Bag/.hidden.png': 'hidden',
      'Bag/broken.png': 'unreadable',
      'Bag/copy-of-a.png': 'duplicate',
      'Bag/corrupt.png': 'corrupt',
      'Bag/empty.png': 'empty-file',
      'Bag/fifo': 'unreadable',
      'Bag/huge.png': 'too-many-pixels',
      'Bag/link-out.png': 'outside-root',
      'Bag/notes.jpg': 'not-image',
      'Bag/photo.heic': 'unsupported-format',
      'Broken/only-bad.png': 'not-image',
      'README.txt': 'not-in-class',
      'Sandal/link-in.png': 'duplicate',
      linkdir: 'outside-root',
    });
    const message = (path: string) => record.report.skipped.find((s) => s.path === path)!.message;
    expect(message('Bag/huge.png')).toMatch(
      /PNG header declares 20000x20000 = 400\.0 MP, above the pixel limit of 40\.0 MP/,
    );
    expect(message('Bag/copy-of-a.png')).toMatch(/same content as Bag\/a\.png/);
    expect(message('Bag/link-out.png')).toMatch(/symbolic link leads outside the dataset folder/);
    expect(message('Bag/broken.png')).toBe('broken symbolic link');
    expect(message('Bag/fifo')).toMatch(/not a regular file/);
    expect(message('Bag/corrupt.png')).toMatch(/corrupt or truncated PNG/);
    expect(record.report.skippedByCode).toMatchObject({
      hidden: 3,
      duplicate: 2,
      'outside-root': 2,
      unreadable: 2,
    });
    expect(record.report.notes.map((n) => [n.path, n.code])).toEqual([
      ['Bag/misnamed.jpg', 'suffix-mismatch'],
      ['Broken', 'empty-class'],
      ['Empty', 'empty-class'],
    ]);
    expect(record.report.scanned).toBe(11 + 16);
  });

  it('splits stratified by the default 80/10/10 and caches the decoded pixels', async () => {
    expect(record.splits).toMatchObject({
      kind: 'stratified',
      spec: { seed: 0, val: 0.1, test: 0.1 },
      counts: { train: 9, val: 1, test: 1 },
      perClass: { train: [6, 3], val: [1, 0], test: [1, 0] },
    });
    const cache = await DatasetCache.open(record.cachePath);
    expect([...cache.labels]).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1]);
    const out = new Uint8Array(784);
    cache.read(Int32Array.of(0), out);
    expect(out).toEqual(bags[0]!.data);
    cache.read(Int32Array.of(7), out); // the unicode-named file
    expect(out).toEqual(bags[5]!.data);
    expect(await leftovers(join(tmp, 'cache'))).toEqual([]);
    const manifest = JSON.parse(await readFile(join(record.cachePath, CACHE_FILES.manifest), 'utf8'));
    expect(manifest).toEqual(record);
    expect(record.createdAt).toBe('2025-05-05T00:00:00.000Z');
  });
});

describe('dataset versions', () => {
  /** 3 classes x 5 real images, written in `order`. */
  async function smallFolder(name: string, order: 'forward' | 'reverse'): Promise<string> {
    const root = join(tmp, name);
    const files: [string, Buffer][] = [];
    for (const cls of ['Bag', 'Sneaker', 'Shirt']) {
      for (const [i, g] of demoImages(cls, 5).entries()) files.push([join(root, cls, `${i}.png`), png(g)]);
    }
    if (order === 'reverse') files.reverse();
    for (const [path, bytes] of files) {
      await mkdir(join(path, '..'), { recursive: true });
      await writeFile(path, bytes);
    }
    return root;
  }
  const rgb16: PreprocessConfig = {
    ...DEMO_PREPROCESS,
    channels: 3,
    resize: { height: 16, width: 16 },
    mean: [0.5],
    std: [0.5],
  };

  it('has a golden content hash, independent of file order, concurrency, cache location and time', async () => {
    const a = await importImageFolder(await smallFolder('v1', 'forward'), {
      cacheRoot: join(tmp, 'vcache1'),
      preprocess: rgb16,
    });
    const b = await importImageFolder(await smallFolder('v2', 'reverse'), {
      cacheRoot: join(tmp, 'vcache2'),
      preprocess: rgb16,
      concurrency: 1,
      name: 'other name',
      now: NOW,
    });
    // Golden: pixels of the bundled demo PNGs resized 28x28 -> 16x16x3 by resize.ts (Pillow-exact bilinear),
    // labels, class names and the default split. It changes only if one of those does, or the id's definition
    // (which then needs a new domain tag in cache.ts).
    expect(a.id).toBe('53467b8c430296193e51761b25e82131af92f73d8147dd0307fe5dcb8156ef17');
    expect(b.id).toBe(a.id);
    expect([a.height, a.width, a.channels]).toEqual([16, 16, 3]);
    expect(await verifyDatasetCache(a.cachePath)).toBe(true);
  });

  it('changes with the split seed, the preprocessing, or one pixel', async () => {
    const root = await smallFolder('v3', 'forward');
    const cacheRoot = join(tmp, 'vcache3');
    const base = await importImageFolder(root, { cacheRoot, preprocess: rgb16 });
    const seeded = await importImageFolder(root, {
      cacheRoot,
      preprocess: rgb16,
      split: { seed: 1, val: 0.1, test: 0.1 },
    });
    const grey = await importImageFolder(root, { cacheRoot, preprocess: { ...rgb16, channels: 1 } });
    const changed = demoImages('Bag', 1)[0]!;
    changed.data[400] = changed.data[400]! ^ 1;
    await writeFile(join(root, 'Bag', '0.png'), png(changed));
    const pixel = await importImageFolder(root, { cacheRoot, preprocess: rgb16 });
    expect(new Set([base.id, seeded.id, grey.id, pixel.id]).size).toBe(4);
    // Importing the same content again reuses the version folder.
    const again = await importImageFolder(await smallFolder('v3b', 'forward'), {
      cacheRoot,
      preprocess: rgb16,
    });
    expect(again.id).toBe(base.id);
    expect(again.cachePath).toBe(base.cachePath);
  });

  it('detects a tampered cache', async () => {
    const rec = await importImageFolder(await smallFolder('v4', 'forward'), {
      cacheRoot: join(tmp, 'vcache4'),
      preprocess: DEMO_PREPROCESS,
    });
    const file = join(rec.cachePath, CACHE_FILES.pixels);
    const bytes = await readFile(file);
    bytes[10] = bytes[10]! ^ 1;
    await writeFile(file, bytes);
    expect(await verifyDatasetCache(rec.cachePath)).toBe(false);
  });
});

describe('the cache round trip', () => {
  it('trains from the cache: two epochs decode nothing, in memory or streamed from disk', async () => {
    const root = join(tmp, 'roundtrip');
    const imgs = demoImages('Sneaker', 20);
    for (const [i, g] of imgs.entries()) {
      await mkdir(join(root, i % 2 ? 'odd' : 'even'), { recursive: true });
      await writeFile(join(root, i % 2 ? 'odd' : 'even', `${String(i).padStart(2, '0')}.png`), png(g));
    }
    const before = decoderCalls();
    const rec = await importImageFolder(root, {
      cacheRoot: join(tmp, 'rtcache'),
      preprocess: DEMO_PREPROCESS,
    });
    const afterImport = decoderCalls();
    expect(afterImport.pngjs - before.pngjs).toBe(20);

    const memory = await DatasetCache.open(rec.cachePath);
    const disk = await DatasetCache.open(rec.cachePath, { maxInMemoryBytes: 0 });
    expect(memory.pixels).toBeDefined();
    expect(disk.pixels).toBeUndefined();
    const train = memory.indices('train');
    expect(train.length).toBe(rec.splits.counts.train);
    for (const src of [memory, disk]) {
      const loader = new BatchLoader(src, { batchSize: 4, seed: 9, indices: train });
      let rows = 0;
      for (const epoch of [0, 1]) {
        for await (const b of loader.epoch(epoch)) {
          rows += b.size;
          // Row 0 of every batch equals the source image of its sample id, rescaled to [0, 1].
          const sources = JSON.parse(
            await readFile(join(rec.cachePath, CACHE_FILES.sources), 'utf8'),
          ) as string[];
          const n = Number(sources[b.sampleIds[0]!]!.split('/')[1]!.slice(0, 2));
          expect(Math.round(b.pixels[300]! * 255)).toBe(imgs[n]!.data[300]);
        }
      }
      expect(rows).toBe(2 * train.length);
    }
    await disk.close();
    expect(decoderCalls()).toEqual(afterImport);
  });
});

describe('the bundled demo dataset', () => {
  it('imports as 1000 train + 500 test images of 5 held-out classes, with the id in PROVENANCE.md', async () => {
    const rec = await importImageFolder(DEMO_DIR, {
      cacheRoot: join(tmp, 'democache'),
      preprocess: DEMO_PREPROCESS,
    });
    expect(rec.classes).toEqual(['Ankle boot', 'Bag', 'Sandal', 'Shirt', 'Sneaker']);
    expect(rec.splits.kind).toBe('predefined');
    expect(rec.splits.counts).toEqual({ train: 1000, val: 0, test: 500 });
    expect(rec.splits.perClass.train).toEqual([200, 200, 200, 200, 200]);
    expect(rec.splits.perClass.test).toEqual([100, 100, 100, 100, 100]);
    // Its licence and provenance files are reported, not imported.
    expect(rec.report.skipped.map((s) => [s.path, s.code])).toEqual([
      ['LICENSE', 'not-in-class'],
      ['PROVENANCE.md', 'not-in-class'],
    ]);
    const provenance = await readFile(join(DEMO_DIR, 'PROVENANCE.md'), 'utf8');
    expect(provenance).toContain(`\`${rec.id}\``);
    expect(await readFile(join(DEMO_DIR, 'LICENSE'), 'utf8')).toMatch(/MIT License[\s\S]*Zalando SE/);
  });

  const t10k = '/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz';
  it.skipIf(!existsSync(t10k))('holds unchanged Fashion-MNIST pixels, named by their IDX row', async () => {
    const images = await readIdx(t10k);
    const names = (await readdir(join(DEMO_DIR, 'test', 'Bag'))).sort().slice(0, 3);
    const decoded = demoImages('Bag', 3);
    for (const [k, name] of names.entries()) {
      const row = Number(name.slice(0, 5));
      expect(decoded[k]!.data).toEqual(new Uint8Array(images.data.subarray(row * 784, (row + 1) * 784)));
    }
  });

  it('carves a stratified val split out of the predefined train split on request', async () => {
    const rec = await importImageFolder(DEMO_DIR, {
      cacheRoot: join(tmp, 'democache'),
      preprocess: DEMO_PREPROCESS,
      split: { seed: 3, val: 0.1, test: 0 },
    });
    expect(rec.splits.counts).toEqual({ train: 900, val: 100, test: 500 });
    expect(rec.splits.perClass.val).toEqual([20, 20, 20, 20, 20]);
  });
});

describe('CSV manifests', () => {
  it('imports path,label[,split] rows and reports bad ones', async () => {
    const root = join(tmp, 'csv');
    await mkdir(join(root, 'imgs'), { recursive: true });
    const g = demoImages('Shirt', 4);
    await writeFile(join(root, 'imgs', 'a,1.png'), png(g[0]!));
    await writeFile(join(root, 'imgs', 'b.png'), png(g[1]!));
    await writeFile(join(root, 'imgs', 'c.png'), png(g[2]!));
    await writeFile(join(tmp, 'csv-outside.png'), png(g[3]!));
    await writeFile(
      join(root, 'labels.csv'),
      [
        'path,label,split',
        '"imgs/a,1.png",shirt,train',
        'imgs/b.png,"shirt, long",test',
        'imgs/c.png,shirt,',
        'imgs/missing.png,shirt,train',
        'imgs/b.png,shirt,train',
        '../csv-outside.png,shirt,train',
        'imgs/c.png,,train',
        'imgs/c.png,shirt,holdout',
        '',
      ].join('\r\n'),
    );
    const rec = await importCsvManifest(join(root, 'labels.csv'), {
      cacheRoot: join(tmp, 'csvcache'),
      preprocess: DEMO_PREPROCESS,
    });
    expect(rec.source.kind).toBe('csv');
    expect(rec.classes).toEqual(['shirt', 'shirt, long']);
    expect(rec.count).toBe(3);
    expect(rec.splits).toMatchObject({ kind: 'predefined', counts: { train: 2, val: 0, test: 1 } });
    expect(Object.fromEntries(rec.report.skipped.map((s) => [s.path, s.code]))).toEqual({
      'imgs/missing.png': 'unreadable',
      'imgs/b.png': 'duplicate',
      '../csv-outside.png': 'outside-root',
      'labels.csv:8': 'bad-row',
      'labels.csv:9': 'bad-row',
    });
  });

  it('refuses a header without a label column (BAD CALL)', async () => {
    await writeFile(join(tmp, 'nolabel.csv'), 'path,class\nx.png,a\n');
    await expect(
      importCsvManifest(join(tmp, 'nolabel.csv'), { cacheRoot: join(tmp, 'c'), preprocess: DEMO_PREPROCESS }),
    ).rejects.toThrow(FormatError);
  });
});

describe('IDX files', () => {
  const fixtures = fileURLToPath(new URL('../../fixtures/idx/', import.meta.url));
  const pair = {
    images: join(fixtures, 't10k-64-images-idx3-ubyte.gz'),
    labels: join(fixtures, 't10k-64-labels-idx1-ubyte'),
  };
  const names = [
    'T-shirt/top',
    'Trouser',
    'Pullover',
    'Dress',
    'Coat',
    'Sandal',
    'Shirt',
    'Sneaker',
    'Bag',
    'Ankle boot',
  ];

  it.skipIf(!existsSync(pair.images))(
    'imports an IDX pair, classes in label order, without any decoder',
    async () => {
      const before = decoderCalls();
      const rec = await importIdx(
        { train: pair },
        {
          cacheRoot: join(tmp, 'idxcache'),
          preprocess: DEMO_PREPROCESS,
          classNames: names,
          split: { seed: 0, val: 0.25, test: 0.25 },
        },
      );
      expect(decoderCalls()).toEqual(before);
      expect(rec.source.kind).toBe('idx');
      expect(rec.count).toBe(64);
      expect(rec.classes).toEqual(names.filter((n) => rec.classes.includes(n)));
      expect(rec.splits.kind).toBe('predefined');
      expect(rec.splits.counts.train + rec.splits.counts.val + rec.splits.counts.test).toBe(64);
      expect(rec.splits.counts.val).toBeGreaterThan(0);
    },
  );

  const full = '/usr/share/datasets/fashion-mnist';
  it.skipIf(!existsSync(`${full}/t10k-images-idx3-ubyte.gz`))(
    'imports the full Fashion-MNIST test set',
    async () => {
      const rec = await importIdx(
        {
          train: { images: `${full}/t10k-images-idx3-ubyte.gz`, labels: `${full}/t10k-labels-idx1-ubyte.gz` },
        },
        { cacheRoot: join(tmp, 'idxfull'), preprocess: DEMO_PREPROCESS, classNames: names },
      );
      expect(rec.count).toBe(10_000);
      expect(rec.classes).toEqual(names);
      expect(rec.splits.perClass.train).toEqual(new Array(10).fill(1000));
    },
  );
});

describe('failures', () => {
  it('a folder with no importable image fails with the report attached, leaving no temp files', async () => {
    const root = join(tmp, 'junk');
    await mkdir(join(root, 'cls'), { recursive: true });
    await writeFile(join(root, 'cls', 'a.txt'), 'text');
    await writeFile(join(root, 'cls', 'b.png'), '');
    const cacheRoot = join(tmp, 'junkcache');
    const err = await importImageFolder(root, { cacheRoot, preprocess: DEMO_PREPROCESS }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(EmptyDatasetError);
    expect((err as EmptyDatasetError).message).toMatch(
      /no image could be imported \(1 empty-file, 1 not-image\)/,
    );
    expect((err as EmptyDatasetError).report.skipped).toHaveLength(2);
    expect(await leftovers(cacheRoot)).toEqual([]);
  });

  it('a missing folder is a FormatError; an aborted import cleans up', async () => {
    await expect(
      importImageFolder(join(tmp, 'nope'), { cacheRoot: join(tmp, 'c'), preprocess: DEMO_PREPROCESS }),
    ).rejects.toThrow(/cannot open dataset folder/);
    const ac = new AbortController();
    ac.abort();
    const cacheRoot = join(tmp, 'abortcache');
    await expect(
      importImageFolder(DEMO_DIR, { cacheRoot, preprocess: DEMO_PREPROCESS, signal: ac.signal }),
    ).rejects.toThrow();
    expect(await leftovers(cacheRoot)).toEqual([]);
  });
});
