// The crash-safety acceptance test: a writer in a child process is SIGKILLed mid-write (twice, the second time
// after resuming). Each time the database must pass PRAGMA integrity_check, the run must read 'interrupted' after
// markInterruptedRuns(), and its last checkpoint must be intact (sha256 verified) with the exact parameters.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { expect, it } from 'vitest';

import { latestCheckpoint } from '../../../app/db/checkpoints.ts';
import { markInterruptedRuns } from '../../../app/db/lease.ts';
import { readMetrics } from '../../../app/db/metrics.ts';
import { checkIntegrity, openDb } from '../../../app/db/open.ts';
import { getRun } from '../../../app/db/runs.ts';
import { readSteps } from '../../../app/db/steps.ts';

import { paramsAt } from './crash-child.ts';
import { addRun, tempDir } from './fixtures.ts';

const child = fileURLToPath(new URL('./crash-child.ts', import.meta.url));

/** Runs the child until it has reported `checkpoints` checkpoints, waits a random moment more, and SIGKILLs it. */
async function runAndKill(file: string, runId: number, mode: 'start' | 'resume', checkpoints: number) {
  const proc = spawn(process.execPath, ['--import', 'tsx', child, file, String(runId), mode], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  proc.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = once(proc, 'exit');
  let startedAt = -1;
  let lastCheckpoint = -1;
  await new Promise<void>((resolve, reject) => {
    proc.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      startedAt = Number(/ready (\d+)/.exec(out)?.[1] ?? -1);
      const seen = [...out.matchAll(/checkpoint (\d+)/g)].map((m) => Number(m[1]));
      lastCheckpoint = seen.at(-1) ?? -1;
      if (seen.length >= checkpoints) resolve();
    });
    proc.on('exit', (code) => reject(new Error(`child exited early (${code}): ${err}`)));
  });
  await new Promise((r) => setTimeout(r, Math.random() * 30));
  proc.kill('SIGKILL');
  const [code, signal] = await exited;
  expect(code).toBeNull();
  expect(signal).toBe('SIGKILL');
  return { pid: proc.pid as number, startedAt, lastCheckpoint };
}

function verifyAfterCrash(file: string, runId: number, pid: number, lastReported: number): number {
  // Left over -wal from the killed writer: openDb's 'auto' integrity check runs here too.
  const db = openDb(file);
  try {
    expect(checkIntegrity(db, 'full')).toEqual([]);
    expect(getRun(db, runId)).toMatchObject({ status: 'running', pid });
    expect(markInterruptedRuns(db)).toEqual([{ runId, pid, reason: 'process-gone' }]);
    expect(getRun(db, runId)).toMatchObject({ status: 'interrupted', pid: null });
    const ck = latestCheckpoint(db, runId);
    if (!ck) throw new Error('no checkpoint');
    // The child may have committed one more checkpoint between reporting and dying, never fewer.
    expect(ck.step).toBeGreaterThanOrEqual(lastReported);
    expect(ck.params).toEqual(paramsAt(ck.step));
    expect(ck.optimizerState).toEqual(new Uint8Array(paramsAt(ck.step + 1).buffer));
    expect(ck.loopState).toEqual({ epoch: Math.floor(ck.step / 50), cursor: ck.step + 1 });
    // Every step up to the checkpoint is there, without gaps: it was committed with the checkpoint.
    const steps = readMetrics(db, runId).map((m) => m.step);
    expect(steps.slice(0, ck.step + 1)).toEqual(Array.from({ length: ck.step + 1 }, (_, i) => i));
    expect(readSteps(db, runId, { toStep: ck.step })).toHaveLength(ck.step + 1);
    return ck.step;
  } finally {
    db.close();
  }
}

it('survives SIGKILL mid-write: intact database, run interrupted, last checkpoint verified; resumes and survives again', async () => {
  const file = join(tempDir(), 'store.sqlite');
  const setup = openDb(file);
  const runId = addRun(setup).id;
  setup.close();

  const first = await runAndKill(file, runId, 'start', 4);
  const resumeFrom = verifyAfterCrash(file, runId, first.pid, first.lastCheckpoint);

  const second = await runAndKill(file, runId, 'resume', 3);
  expect(second.startedAt).toBe(resumeFrom + 1);
  const after = verifyAfterCrash(file, runId, second.pid, second.lastCheckpoint);
  expect(after).toBeGreaterThan(resumeFrom);
});
