// The records an import produces. A DatasetVersionRecord is what a run references: it is immutable, and its id is
// a content hash (pixels, labels, class names, split), so two machines importing the same files get the same id.
// The SQLite store keeps these records; until it does, each is also written as manifest.json beside its cache.
import type { SplitSpec } from '../../engine/data/splits.ts';

import type { PreprocessConfig } from './preprocess.ts';

/** Why a file was not imported. Stable strings: the UI and the store key on them. */
export type SkipCode =
  | 'corrupt' // the format was recognised but decoding failed (truncated, bad checksum, broken header)
  | 'not-image' // the bytes are no image format we know (text, archives, ...), whatever the suffix says
  | 'empty-file' // zero bytes
  | 'unreadable' // the OS refused (permissions), a broken link, a missing CSV path, or not a regular file
  | 'outside-root' // a symlink (or CSV path) that leads outside the dataset folder
  | 'duplicate' // byte-identical to a file imported earlier (in path order)
  | 'unsupported-format' // a real image format we do not decode (HEIC, SVG, PSD, RLE BMP, ...)
  | 'too-many-pixels' // the header declares more pixels than the limit; never decoded
  | 'hidden' // dot-files, __MACOSX, Thumbs.db, desktop.ini: ignored, reported so nothing vanishes silently
  | 'not-in-class' // an ImageFolder file outside any class folder
  | 'bad-row'; // a CSV row without a path or label, or with an unknown split

/** Things worth knowing that did not stop a file or class from importing (or that concern a folder). */
export type NoteCode =
  | 'empty-class' // a class folder with no imported image; the class is left out of `classes`
  | 'suffix-mismatch'; // e.g. PNG bytes in a .jpg file: imported by content, noted

export interface SkippedFile {
  /** Path relative to the dataset root, '/'-separated, Unicode NFC. */
  path: string;
  code: SkipCode;
  message: string;
}

export interface ReportNote {
  path: string;
  code: NoteCode;
  message: string;
}

export interface ImportReport {
  /** Entries looked at (files, links and ignored folders; CSV rows). */
  scanned: number;
  imported: number;
  skipped: SkippedFile[];
  notes: ReportNote[];
  /** Skips per code, for a one-line summary. */
  skippedByCode: Partial<Record<SkipCode, number>>;
  /** Images decoded by each decoder (sharp, pngjs, bmp, idx = none). */
  decoders: Record<string, number>;
  elapsedMs: number;
}

export type SplitName = 'train' | 'val' | 'test';

export interface ResolvedSplits {
  /**
   * How the split was made. 'stratified': by `spec` over all images. 'predefined': from the source (split folders,
   * a CSV split column, separate IDX files); `spec` then carves val (and test, if the source has none) out of train.
   */
  kind: 'stratified' | 'predefined';
  spec: SplitSpec;
  counts: Record<SplitName, number>;
  /** counts per class index, per split. */
  perClass: Record<SplitName, number[]>;
}

export interface DatasetSource {
  kind: 'folder' | 'csv' | 'idx';
  /** The folder, the CSV file, or the first IDX images file. */
  path: string;
  /** Every IDX file read (images and labels of each split). */
  files?: string[];
  /** A re-split version: the id of the version whose images it shares (dataset/split). */
  resplitOf?: string;
}

export interface DatasetVersionRecord {
  /** sha256 hex over the cached pixels, labels, class names and split (see cache.ts, versionId). */
  id: string;
  name: string;
  source: DatasetSource;
  classes: string[];
  count: number;
  height: number;
  width: number;
  channels: number;
  /** Folder holding pixels.u8, labels.i32, splits.u8, manifest.json (and sources.json for files). */
  cachePath: string;
  splits: ResolvedSplits;
  /** The preprocessing the cached pixels went through (rescale/normalise are applied later, by the loader). */
  preprocess: PreprocessConfig;
  report: ImportReport;
  /** ISO 8601; not part of the id. */
  createdAt: string;
}
