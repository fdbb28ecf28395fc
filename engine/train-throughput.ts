// Throughput of the real training loop, shared by the MLP and ViT benches: run train() for warm-up steps plus
// timed rounds, and turn the step events' cumulative forward rows and wall clock into rows/s per round.
import type { ResolvedTrainConfig } from './config.ts';
import { train, type StepEvent } from './train.ts';
import type { TrainingProblem } from './train-helpers.ts';

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export interface ThroughputRounds {
  warmup: number; // steps run before timing starts (session warm-up, first allocations)
  rounds: number;
  perRound: number; // steps per timed round
}

/** Forward rows per second and milliseconds per step of each timed round. `config.maxSteps` is set here. */
export async function measureTrainingThroughput(
  problem: TrainingProblem,
  config: ResolvedTrainConfig,
  { warmup, rounds, perRound }: ThroughputRounds,
): Promise<{ rates: number[]; msPerStep: number[] }> {
  const events: StepEvent[] = [];
  await train(
    problem,
    { ...config, maxSteps: warmup + rounds * perRound },
    {
      onEvent: (e) => void (e.type === 'step' && events.push(e)),
    },
  );
  const rates: number[] = [];
  const msPerStep: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const from = events[warmup + r * perRound - 1]!;
    const to = events[warmup + (r + 1) * perRound - 1]!;
    const ms = to.wallMs - from.wallMs;
    rates.push((to.forwardRows - from.forwardRows) / (ms / 1000));
    msPerStep.push(ms / perRound);
  }
  return { rates, msPerStep };
}
