// Throughput of the Gaussian generator, for engine/bench.ts. SPSA regenerates every direction from its seed, so
// this rate bounds how cheaply a step can rebuild z_k (a ViT-B head plus LoRA is ~10^6 draws per direction).
import { Rng } from './rng.ts';

/**
 * Best-of-rounds rate of `Rng.fillGaussian` on one core. The best round is reported rather than the mean because
 * the quantity of interest is what the generator can do, not how busy the machine was.
 */
export function benchRng(opts: { size?: number; rounds?: number } = {}): { gaussians_per_sec: number } {
  const size = opts.size ?? 1 << 20;
  const rounds = opts.rounds ?? 12;
  const rng = new Rng(0x5eed);
  const out = new Float32Array(size);
  rng.fillGaussian(out); // warm-up: lets the JIT optimise the loop before timing
  let best = 0;
  for (let r = 0; r < rounds; r++) {
    const t0 = performance.now();
    rng.fillGaussian(out);
    const seconds = (performance.now() - t0) / 1000;
    if (seconds > 0) best = Math.max(best, size / seconds);
  }
  return { gaussians_per_sec: best };
}
