// The Electron build of better-sqlite3 cannot be made offline (it needs a prebuilt download or Electron's headers),
// but its safety net can be tested: the check that refuses a binary built for the wrong ABI or architecture (the
// silent "compiled against Node headers" trap), the scrubbing of npm's header variables, and the output layout.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

import {
  binaryInfo,
  electronTarget,
  outputPaths,
  scrubbedEnv,
  verifyBinding,
} from '../../tools/build-electron-sqlite.ts';

const root = resolve('.');
const nodeBuild = join(root, 'node_modules', 'better-sqlite3', 'build', 'Release', 'better_sqlite3.node');
const temp = mkdtempSync(join(tmpdir(), 'flops-sqlite-build-'));
afterAll(() => rmSync(temp, { recursive: true, force: true }));

describe('binary checks', () => {
  it("reads the format, machine and module ABI of this checkout's Node build", () => {
    const info = binaryInfo(readFileSync(nodeBuild));
    expect(info).toEqual({ format: 'elf', arch: process.arch, abi: Number(process.versions.modules) });
  });

  it('Electron 41 is ABI 145', () => {
    expect(electronTarget(root)).toEqual({ version: '41.7.1', abi: 145 });
  });

  it('refuses the Node build where the Electron build is expected, naming the trap', () => {
    expect(() => verifyBinding(nodeBuild, { abi: 145, platform: 'linux', arch: process.arch })).toThrow(
      /ABI \d+, Electron needs 145 \(this is a Node build: node-gyp compiled against Node headers\)/,
    );
  });

  it('refuses the wrong architecture or object format', () => {
    const abi = Number(process.versions.modules);
    const other = process.arch === 'x64' ? 'arm64' : 'x64';
    expect(() => verifyBinding(nodeBuild, { abi, platform: 'linux', arch: other })).toThrow(
      new RegExp(`built for ${process.arch}, the target is ${other}`),
    );
    expect(() => verifyBinding(nodeBuild, { abi, platform: 'win32', arch: process.arch })).toThrow(
      /elf file, win32 needs pe/,
    );
    expect(verifyBinding(nodeBuild, { abi, platform: 'linux', arch: process.arch }).abi).toBe(abi);
  });

  it('recognises PE and Mach-O headers', () => {
    const pe = Buffer.alloc(0x100);
    pe.write('MZ', 0, 'latin1');
    pe.writeUInt32LE(0x80, 0x3c);
    pe.write('PE\0\0', 0x80, 'latin1');
    pe.writeUInt16LE(0xaa64, 0x84);
    pe.write('node_register_module_v145', 0xa0, 'latin1');
    expect(binaryInfo(pe)).toEqual({ format: 'pe', arch: 'arm64', abi: 145 });
    const macho = Buffer.alloc(64);
    macho.writeUInt32LE(0xfeedfacf, 0);
    macho.writeUInt32LE(0x0100000c, 4);
    expect(binaryInfo(macho)).toEqual({ format: 'macho', arch: 'arm64', abi: undefined });
  });

  it('a file without the registration symbol is refused', () => {
    const file = join(temp, 'empty.node');
    writeFileSync(file, Buffer.alloc(64));
    expect(() => verifyBinding(file, { abi: 145, platform: 'linux', arch: 'x64' })).toThrow(
      /no node_register_module_v/,
    );
  });
});

describe('build environment and outputs', () => {
  it("drops npm's header and target variables, keeps the rest", () => {
    const env = scrubbedEnv({
      PATH: '/bin',
      npm_config_nodedir: '/usr',
      npm_config_target: '20.0.0',
      npm_config_runtime: 'node',
      npm_config_disturl: 'x',
      npm_config_arch: 'x64',
      npm_config_cache: '/c',
    });
    expect(env).toEqual({ PATH: '/bin', npm_config_cache: '/c' });
  });

  it('writes per-target binaries (electron-builder ${os}-${arch}) and the dev copy for the host arch', () => {
    expect(outputPaths('/r', 'win32', 'arm64', 'x64')).toEqual([
      join('/r', 'native', 'electron', 'win-arm64', 'better_sqlite3.node'),
    ]);
    expect(outputPaths('/r', 'darwin', 'arm64', 'arm64')).toEqual([
      join('/r', 'native', 'electron', 'mac-arm64', 'better_sqlite3.node'),
      join('/r', 'native', 'electron', 'better_sqlite3.node'),
    ]);
    expect(() => outputPaths('/r', 'aix', 'x64', 'x64')).toThrow(/unsupported/);
  });

  it('--verify exits 1 on the Node build', () => {
    const r = spawnSync(
      process.execPath,
      ['--import', 'tsx', 'tools/build-electron-sqlite.ts', '--verify', nodeBuild],
      {
        cwd: root,
        encoding: 'utf8',
      },
    );
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/Electron needs 145/);
  });
});
