// Builds better-sqlite3 for Electron's ABI, for packaging. Run on a NETWORKED release machine of the target OS
// (the release workflow does), never in postinstall: it downloads a prebuilt binary or Electron's headers.
//
//   tsx tools/build-electron-sqlite.ts [--arch x64|arm64] [--electron 41.7.1]
//   tsx tools/build-electron-sqlite.ts --verify native/electron/linux-x64/better_sqlite3.node [--arch x64]
//
// better-sqlite3 is not N-API: its .node loads only in the runtime it was compiled for (Node 20 = ABI 115,
// Electron 41 = ABI 145; docs/store.md). So the build happens in a temporary COPY of node_modules/better-sqlite3,
// leaving the Node build that the tests and the CLI load untouched, in this order:
//   1. prebuild-install --runtime electron (the project's published prebuilt binary);
//   2. node-gyp rebuild --runtime=electron against Electron's headers.
// npm passes npm_config_nodedir (and friends) to scripts run through npm/npx; node-gyp would then compile against
// Node's headers and "succeed" with the wrong ABI (docs/environment.md §8), so those variables are removed and the
// result is verified: the binary must export node_register_module_v<Electron ABI> and be built for the target
// architecture. It is written to native/electron/<os>-<arch>/better_sqlite3.node (electron-builder.yml ships it as
// resources/native/electron/better_sqlite3.node) and, for the host's architecture, to
// native/electron/better_sqlite3.node, where an unpackaged `electron .` finds it (app/db/open.ts).
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const require = createRequire(import.meta.url);

export type Arch = 'x64' | 'arm64' | 'ia32';
/** electron-builder's ${os} names, used for the per-target folders. */
export const OS_OF: Record<string, 'win' | 'mac' | 'linux'> = { win32: 'win', darwin: 'mac', linux: 'linux' };

export interface BinaryInfo {
  format: 'elf' | 'pe' | 'macho' | 'unknown';
  arch: Arch | 'unknown';
  /** NODE_MODULE_VERSION the addon registers for (node_register_module_v<N>), if found. */
  abi: number | undefined;
}

/** Reads the object format, the machine and the module ABI from an addon's bytes. */
export function binaryInfo(bytes: Buffer): BinaryInfo {
  const abiMatch = /node_register_module_v(\d+)/.exec(bytes.toString('latin1'));
  const abi = abiMatch ? Number(abiMatch[1]) : undefined;
  if (bytes.length >= 20 && bytes.readUInt32BE(0) === 0x7f454c46) {
    const machine = bytes[5] === 2 ? bytes.readUInt16BE(18) : bytes.readUInt16LE(18);
    const arch = machine === 62 ? 'x64' : machine === 183 ? 'arm64' : machine === 3 ? 'ia32' : 'unknown';
    return { format: 'elf', arch, abi };
  }
  if (bytes.length >= 0x40 && bytes.toString('latin1', 0, 2) === 'MZ') {
    const pe = bytes.readUInt32LE(0x3c);
    if (pe + 6 <= bytes.length && bytes.toString('latin1', pe, pe + 4) === 'PE\0\0') {
      const machine = bytes.readUInt16LE(pe + 4);
      const arch =
        machine === 0x8664 ? 'x64' : machine === 0xaa64 ? 'arm64' : machine === 0x14c ? 'ia32' : 'unknown';
      return { format: 'pe', arch, abi };
    }
  }
  if (bytes.length >= 8 && bytes.readUInt32LE(0) === 0xfeedfacf) {
    const cpu = bytes.readUInt32LE(4);
    const arch = cpu === 0x01000007 ? 'x64' : cpu === 0x0100000c ? 'arm64' : 'unknown';
    return { format: 'macho', arch, abi };
  }
  return { format: 'unknown', arch: 'unknown', abi };
}

const FORMAT_OF: Record<string, BinaryInfo['format']> = { linux: 'elf', win32: 'pe', darwin: 'macho' };

/** Throws unless `file` is an addon for this ABI, platform and architecture. */
export function verifyBinding(
  file: string,
  want: { abi: number; platform: string; arch: string },
): BinaryInfo {
  if (!existsSync(file)) throw new Error(`${file} does not exist`);
  const info = binaryInfo(readFileSync(file));
  const problems: string[] = [];
  if (info.abi !== want.abi) {
    problems.push(
      info.abi === undefined
        ? `registers no node_register_module_v<ABI> symbol (expected ${want.abi})`
        : `is built for ABI ${info.abi}, Electron needs ${want.abi}` +
            (info.abi < 130 ? ' (this is a Node build: node-gyp compiled against Node headers)' : ''),
    );
  }
  if (FORMAT_OF[want.platform] && info.format !== FORMAT_OF[want.platform]) {
    problems.push(`is a ${info.format} file, ${want.platform} needs ${FORMAT_OF[want.platform]}`);
  }
  if (info.arch !== want.arch) problems.push(`is built for ${info.arch}, the target is ${want.arch}`);
  if (problems.length > 0) throw new Error(`${file} ${problems.join('; ')}`);
  return info;
}

/** The environment for the native build: without npm's variables that redirect node-gyp to Node's headers. */
export function scrubbedEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(env)) {
    if (
      /^npm_config_(nodedir|target|runtime|disturl|dist_url|arch|target_arch|build_from_source)$/i.test(key)
    ) {
      continue;
    }
    out[key] = value;
  }
  return out;
}

/** Where the binary goes: the per-target copy for packaging, plus the dev copy for the host's own arch. */
export function outputPaths(root: string, platform: string, arch: string, hostArch: string): string[] {
  const os = OS_OF[platform];
  if (!os) throw new Error(`unsupported platform ${platform}`);
  const paths = [join(root, 'native', 'electron', `${os}-${arch}`, 'better_sqlite3.node')];
  if (arch === hostArch) paths.push(join(root, 'native', 'electron', 'better_sqlite3.node'));
  return paths;
}

export function electronTarget(root: string): { version: string; abi: number } {
  const pkg = JSON.parse(readFileSync(join(root, 'node_modules', 'electron', 'package.json'), 'utf8')) as {
    version: string;
  };
  const abi = Number(readFileSync(join(root, 'node_modules', 'electron', 'abi_version'), 'utf8').trim());
  return { version: pkg.version, abi };
}

/** Builds in a temp copy; returns the copy's folder and the built binary. */
function build(version: string, arch: string): { work: string; built: string } {
  const work = mkdtempSync(join(tmpdir(), 'flops-electron-sqlite-'));
  const copy = join(work, 'better-sqlite3');
  const source = dirname(require.resolve('better-sqlite3/package.json'));
  const nodeBuild = join(source, 'build');
  cpSync(source, copy, { recursive: true, filter: (p) => p !== nodeBuild && !p.startsWith(nodeBuild + sep) });
  const env = scrubbedEnv(process.env);
  const node = process.execPath;
  const built = join(copy, 'build', 'Release', 'better_sqlite3.node');
  try {
    execFileSync(
      node,
      [
        require.resolve('prebuild-install/bin.js'),
        '--runtime=electron',
        `--target=${version}`,
        `--arch=${arch}`,
        `--platform=${process.platform}`,
        '--verbose',
      ],
      { cwd: copy, env, stdio: 'inherit' },
    );
  } catch {
    console.warn('no prebuilt binary; compiling against Electron headers with node-gyp');
    execFileSync(
      node,
      [
        require.resolve('node-gyp/bin/node-gyp.js'),
        'rebuild',
        '--release',
        '--runtime=electron',
        `--target=${version}`,
        `--arch=${arch}`,
        '--dist-url=https://electronjs.org/headers',
      ],
      { cwd: copy, env, stdio: 'inherit' },
    );
  }
  if (!existsSync(built)) throw new Error(`the build produced no ${built}`);
  return { work, built };
}

function main(): void {
  const { values } = parseArgs({
    options: {
      arch: { type: 'string', default: process.arch },
      electron: { type: 'string' },
      verify: { type: 'string' },
      root: { type: 'string', default: '.' },
    },
  });
  const root = resolve(values.root);
  const target = electronTarget(root);
  const version = values.electron ?? target.version;
  const want = { abi: target.abi, platform: process.platform, arch: values.arch };
  if (values.verify) {
    const info = verifyBinding(values.verify, want);
    console.log(`${values.verify}: OK (${info.format}, ${info.arch}, ABI ${info.abi})`);
    return;
  }
  const { work, built } = build(version, values.arch);
  const info = verifyBinding(built, want);
  const sha = createHash('sha256').update(readFileSync(built)).digest('hex');
  for (const out of outputPaths(root, process.platform, values.arch, process.arch)) {
    mkdirSync(dirname(out), { recursive: true });
    copyFileSync(built, out);
    console.log(`${out}  (Electron ${version}, ABI ${info.abi}, ${info.arch}, sha256 ${sha})`);
  }
  rmSync(work, { recursive: true, force: true });
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    main();
  } catch (error) {
    console.error(`build-electron-sqlite: ${(error as Error).message}`);
    process.exit(1);
  }
}
