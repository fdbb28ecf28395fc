// The `flops` binary as the CLI tests run it: `node bin/flops.js --data-dir <dir> ...` from the repository root,
// without colours, its exit code and output collected.
import { execFile } from 'node:child_process';
import { join } from 'node:path';

/** The repository root, where bin/flops.js runs from. */
export const root = join(import.meta.dirname, '../../..');

export interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runners of the binary on `dataDir`: `flops` returns what it did, `flopsJson` parses its --json output. */
export function flopsCli(dataDir: string) {
  const flops = (...args: string[]): Promise<Result> =>
    new Promise((resolve) => {
      execFile(
        process.execPath,
        ['bin/flops.js', '--data-dir', dataDir, ...args],
        { cwd: root, maxBuffer: 64 << 20, env: { ...process.env, FORCE_COLOR: '0' } },
        (error, stdout, stderr) => {
          const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
          resolve({ code, stdout, stderr });
        },
      );
    });
  const flopsJson = async <T>(...args: string[]): Promise<T> => {
    const r = await flops('--json', ...args);
    if (r.code !== 0) throw new Error(`flops ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
    return JSON.parse(r.stdout) as T;
  };
  return { flops, flopsJson };
}
