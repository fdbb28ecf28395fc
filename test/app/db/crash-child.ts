// Child process of crash.test.ts: a stand-in training loop that writes a run through the real writer as fast as
// it can — metrics, allocations, replay rows, and a checkpoint every 10 steps — until it is SIGKILLed.
// Usage: node --import tsx crash-child.ts <db file> <run id> start|resume
import { fileURLToPath } from 'node:url';

import { openDb } from '../../../app/db/open.ts';
import { prepareResume } from '../../../app/db/resume.ts';
import { transitionRun } from '../../../app/db/runs.ts';
import { openRunWriter } from '../../../app/db/writer.ts';

/** The parameters after `step`, a pure function of the step so the parent can check a checkpoint's contents. */
export function paramsAt(step: number): Float32Array {
  // Alternate sizes so checkpoints land both inline (12 KB) and in files (24 KB) under the 16 KB threshold.
  const n = step % 20 === 9 ? 3000 : 6000;
  return Float32Array.from({ length: n }, (_, i) => Math.sin(step * 1000 + i));
}

function main(): void {
  const [file, runIdText, mode] = process.argv.slice(2);
  if (!file || !runIdText || (mode !== 'start' && mode !== 'resume'))
    throw new Error('usage: <db> <run> start|resume');
  const runId = Number(runIdText);
  const db = openDb(file);
  let first = 0;
  if (mode === 'start') {
    transitionRun(db, runId, 'running', { pid: process.pid });
  } else {
    const { checkpoint } = prepareResume(db, runId, { pid: process.pid });
    first = (checkpoint?.step ?? -1) + 1;
  }
  const writer = openRunWriter(db, runId, {
    pid: process.pid,
    maxRows: 7,
    intervalMs: 20,
    checkpoints: { inlineMaxBytes: 16 * 1024 },
  });
  process.stdout.write(`ready ${first}\n`);
  for (let step = first; ; step++) {
    writer.metric({
      step,
      epoch: Math.floor(step / 50),
      queries: (step + 1) * 640,
      forwardRows: (step + 1) * 704,
      trainLoss: 1 / (1 + step),
      trainAcc: step / (1 + step),
      lr: 1e-3,
      gradNorm: 1,
      varianceEstimate: 0.5,
      wallMs: step,
    });
    const ids = Int32Array.from({ length: 16 }, (_, i) => (step * 16 + i) % 1000);
    writer.allocation({
      step,
      sampleIds: ids,
      counts: ids.map((x) => 1 + (x % 5)),
      losses: Float32Array.from(ids, (x) => x / 1000),
      allocatorParams: { alpha: step },
    });
    writer.step({ step, seed: (step * 2654435761) >>> 0, scalars: Float32Array.of(step, -step) });
    if (step % 10 === 9) {
      writer.checkpoint({
        step,
        params: paramsAt(step),
        optimizerState: new Uint8Array(paramsAt(step + 1).buffer),
        rngState: [step, 1, 2, 3],
        allocatorState: { step },
        loopState: { epoch: Math.floor(step / 50), cursor: step + 1 },
      });
      process.stdout.write(`checkpoint ${step}\n`);
    }
  }
}

// Only as a process of its own: the test imports paramsAt from here.
if (process.argv[1] === fileURLToPath(import.meta.url)) main();
