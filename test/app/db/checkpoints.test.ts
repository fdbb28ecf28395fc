import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import {
  latestCheckpoint,
  listCheckpoints,
  pruneCheckpoints,
  readCheckpoint,
  sha256Hex,
  writeCheckpoint,
  type CheckpointInput,
} from '../../../app/db/checkpoints.ts';
import { CheckpointCorruptError } from '../../../app/db/errors.ts';

import { addRun, openTestStore, tempDir } from './fixtures.ts';

function input(step: number, n = 1000): CheckpointInput {
  const params = new Float32Array(n).map((_, i) => Math.sin(i + step));
  return {
    step,
    params,
    optimizerState: new Uint8Array(new Float32Array(2 * n).fill(step).buffer),
    rngState: [1, 2, 3, step],
    allocatorState: { alpha: 0.5, baseline: -step },
    loopState: { epoch: 0, cursor: step * 64 },
  };
}

describe('checkpoints', () => {
  it('stores small parameters inline and large ones in a file, both verified on read', () => {
    const { db, dir } = openTestStore();
    const run = addRun(db);
    const inline = writeCheckpoint(db, run.id, input(10), { now: () => 5 });
    const file = writeCheckpoint(db, run.id, input(20, 5000), { inlineMaxBytes: 4096 });
    expect(inline).toMatchObject({ step: 10, storage: 'blob', path: null, paramCount: 1000, createdAt: 5 });
    expect(file).toMatchObject({ step: 20, storage: 'file', paramCount: 5000 });
    expect(file.path?.startsWith(join(dir, 'checkpoints', `run-${run.id}`))).toBe(true);
    // The row stores the path relative to the database folder, so the folder can move.
    expect(db.prepare('SELECT params_path FROM checkpoints WHERE step = 20').pluck().get()).toMatch(
      new RegExp(`^checkpoints/run-${run.id}/step-20-[0-9a-f]{12}\\.f32$`),
    );
    expect(readdirSync(join(dir, 'checkpoints', `run-${run.id}`))).toHaveLength(1); // no temp file left behind
    const back = readCheckpoint(db, inline.id);
    expect(back?.params).toEqual(input(10).params);
    expect(back).toMatchObject({
      rngState: [1, 2, 3, 10],
      allocatorState: { alpha: 0.5, baseline: -10 },
      loopState: { epoch: 0, cursor: 640 },
    });
    expect(back?.optimizerState).toEqual(input(10).optimizerState);
    const latest = latestCheckpoint(db, run.id);
    expect(latest?.step).toBe(20);
    expect(latest?.paramsSha256).toBe(sha256Hex(new Uint8Array(input(20, 5000).params.buffer)));
    expect(latest?.params).toEqual(input(20, 5000).params);
    expect(listCheckpoints(db, run.id).map((c) => c.step)).toEqual([10, 20]);
    expect(latestCheckpoint(db, addRun(db).id)).toBeUndefined();
  });

  it('writes files under a given folder, absolute when outside the database folder', () => {
    const { db } = openTestStore();
    const run = addRun(db);
    const elsewhere = tempDir();
    const info = writeCheckpoint(db, run.id, input(1), { storage: 'file', dir: elsewhere });
    expect(info.path?.startsWith(elsewhere)).toBe(true);
    expect(db.prepare('SELECT params_path FROM checkpoints').pluck().get()).toBe(info.path);
    expect(readCheckpoint(db, info.id)?.params).toEqual(input(1).params);
  });

  it('detects a flipped bit in a file, in a blob, in optimizer state, and a missing file', () => {
    const { db } = openTestStore();
    const run = addRun(db);
    const f = writeCheckpoint(db, run.id, input(1), { storage: 'file' });
    const bytes = readFileSync(f.path as string);
    bytes[17] = (bytes[17] as number) ^ 1;
    writeFileSync(f.path as string, bytes);
    expect(() => readCheckpoint(db, f.id)).toThrow(CheckpointCorruptError);
    expect(() => latestCheckpoint(db, run.id)).toThrow(/step 1: parameter bytes do not match their sha256/);

    const b = writeCheckpoint(db, run.id, input(2), { storage: 'blob' });
    db.prepare('UPDATE checkpoints SET params_blob = zeroblob(4000) WHERE id = ?').run(b.id);
    expect(() => readCheckpoint(db, b.id)).toThrow(/do not match their sha256/);

    const o = writeCheckpoint(db, run.id, input(3));
    db.prepare('UPDATE checkpoints SET optimizer_state = zeroblob(8000) WHERE id = ?').run(o.id);
    expect(() => readCheckpoint(db, o.id)).toThrow(/optimizer state does not match/);

    const gone = writeCheckpoint(db, run.id, input(4), { storage: 'file' });
    db.prepare('UPDATE checkpoints SET param_count = 999 WHERE id = ?').run(gone.id);
    expect(() => readCheckpoint(db, gone.id)).toThrow(/4000 bytes for 999 parameters/);
    const lost = writeCheckpoint(db, run.id, input(5), { storage: 'file' });
    writeFileSync(lost.path as string, '');
    expect(() => readCheckpoint(db, lost.id)).toThrow(/0 bytes for 1000 parameters/);
    const missing = writeCheckpoint(db, run.id, input(6), { storage: 'file' });
    rmSync(missing.path as string);
    expect(() => readCheckpoint(db, missing.id)).toThrow(/cannot read/);
  });

  it('prunes all but the newest checkpoints, rows first, then files', () => {
    const { db } = openTestStore();
    const run = addRun(db);
    const infos = [1, 2, 3, 4].map((s) =>
      writeCheckpoint(db, run.id, input(s), { storage: s % 2 ? 'file' : 'blob' }),
    );
    expect(pruneCheckpoints(db, run.id, 2)).toBe(2);
    expect(listCheckpoints(db, run.id).map((c) => c.step)).toEqual([3, 4]);
    expect(existsSync(infos[0]?.path as string)).toBe(false);
    expect(existsSync(infos[2]?.path as string)).toBe(true);
    expect(pruneCheckpoints(db, run.id, 5)).toBe(0);
  });

  it('leaves no file behind when the row cannot be written', () => {
    const { db, dir } = openTestStore();
    const run = addRun(db);
    writeCheckpoint(db, run.id, input(1), { storage: 'file' });
    expect(() => writeCheckpoint(db, run.id, input(1, 10), { storage: 'file' })).toThrow(/UNIQUE/);
    expect(readdirSync(join(dir, 'checkpoints', `run-${run.id}`))).toHaveLength(1);
  });
});
