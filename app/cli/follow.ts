// Following a queued run from the terminal: a progress bar on stderr (step, loss, queries, eval accuracy) fed by the
// queue's events, and Ctrl-C as "pause here" (a checkpoint at the current step; `flops runs resume` continues it
// bit-identically). A second Ctrl-C quits at once; the run is then marked interrupted on the next start and can
// still be resumed from its last checkpoint.
import cliProgress from 'cli-progress';

import type { AppContext } from '../context.ts';
import type { RunStop } from '../runs/queue.ts';
import { int, num, pct } from './format.ts';

export interface FollowOptions {
  /** No bar (--json, or a non-interactive caller). */
  quiet: boolean;
  label?: string;
}

export async function followRun(ctx: AppContext, runId: number, options: FollowOptions): Promise<RunStop> {
  const interactive = !options.quiet && process.stderr.isTTY === true;
  let bar: cliProgress.SingleBar | undefined;
  const off = ctx.events.on('run/progress', (p) => {
    if (p.runId !== runId || !interactive) return;
    const payload = {
      label: options.label ?? `run ${runId}`,
      loss: num(p.loss),
      queries: int(p.queries),
      acc: pct(p.evalAccuracy),
    };
    if (!bar) {
      bar = new cliProgress.SingleBar(
        {
          format:
            '{label} [{bar}] {value}/{total} steps | loss {loss} | queries {queries} | eval acc {acc} | {eta_formatted}',
          stream: process.stderr,
          hideCursor: true,
          barsize: 24,
        },
        cliProgress.Presets.shades_classic,
      );
      bar.start(p.totalSteps, p.step, payload);
    } else {
      bar.setTotal(p.totalSteps);
      bar.update(p.step, payload);
    }
  });
  let interrupts = 0;
  const onSigint = (): void => {
    interrupts += 1;
    if (interrupts > 1) process.exit(130);
    bar?.stop();
    process.stderr.write(`\npausing run ${runId} after its current step (Ctrl-C again to quit now)...\n`);
    void ctx.queue.pause(runId).catch(() => undefined);
  };
  process.on('SIGINT', onSigint);
  try {
    return await ctx.queue.wait(runId);
  } finally {
    process.off('SIGINT', onSigint);
    off();
    bar?.stop();
  }
}
