// `npm run dist:check` must pass on the real electron-builder.yml and fail on a broken one. The broken copies are
// the real config with one thing wrong each, written to a temp folder and checked against this repository.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';

import { distCheck, formatReport, type DistCheckResult } from '../../tools/dist-check.ts';

const root = resolve('.');
const realConfig = join(root, 'electron-builder.yml');
const temp = mkdtempSync(join(tmpdir(), 'flops-dist-check-'));
afterAll(() => rmSync(temp, { recursive: true, force: true }));

type Config = Record<string, unknown>;
const original = (): Config => parse(readFileSync(realConfig, 'utf8')) as Config;

let n = 0;
function writeConfig(config: Config | string): string {
  const file = join(temp, `broken-${n++}.yml`);
  writeFileSync(file, typeof config === 'string' ? config : stringify(config));
  return file;
}

async function check(config: Config | string): Promise<DistCheckResult> {
  return distCheck({ configPath: writeConfig(config), projectDir: root });
}

const errors = (r: DistCheckResult) => r.findings.filter((f) => f.level === 'error').map((f) => f.message);

describe('the real electron-builder.yml', () => {
  let result: DistCheckResult;
  beforeAll(async () => {
    result = await distCheck({ configPath: realConfig, projectDir: root });
  });

  it('passes: schema, project rules, files, asarUnpack', () => {
    expect(errors(result)).toEqual([]);
    expect(result.ok).toBe(true);
    expect(result.targets.map((t) => `${t.id}:${t.packages.join('+')}`)).toEqual([
      'win-x64:nsis',
      'win-arm64:nsis',
      'mac-arm64:dmg',
      'linux-x64:AppImage+deb',
    ]);
  });

  it('each target ships its own onnxruntime binaries and no other platform', () => {
    const own = {
      'win-x64': 'win32/x64',
      'win-arm64': 'win32/arm64',
      'mac-arm64': 'darwin/arm64',
      'linux-x64': 'linux/x64',
    };
    for (const [id, dir] of Object.entries(own)) {
      const ort = result.shipped[id]!.filter((f) => f.path.includes('onnxruntime-node/bin/'));
      expect(ort.length, id).toBeGreaterThan(0);
      expect(
        ort.every((f) => f.path.startsWith(`node_modules/onnxruntime-node/bin/napi-v6/${dir}/`)),
        id,
      ).toBe(true);
      expect(ort.every((f) => f.place === 'unpacked')).toBe(true);
    }
    const mac = result.shipped['mac-arm64']!.map((f) => f.path);
    expect(mac).toContain('node_modules/onnxruntime-node/bin/napi-v6/darwin/arm64/libonnxruntime.1.dylib');
    expect(mac).not.toContain(
      'node_modules/onnxruntime-node/bin/napi-v6/darwin/arm64/libonnxruntime.1.30.0.dylib',
    );
    const win = result.shipped['win-x64']!.map((f) => f.path);
    expect(win).toContain('node_modules/onnxruntime-node/bin/napi-v6/win32/x64/DirectML.dll');
  });

  it('every native binary is outside the asar, and the demo assets are resources', () => {
    for (const [id, files] of Object.entries(result.shipped)) {
      const natives = files.filter((f) => /\.(node|dll|dylib)$|\.so(\.\d+)*$/.test(f.path));
      expect(
        natives.filter((f) => f.place === 'asar'),
        id,
      ).toEqual([]);
      const paths = files.map((f) => f.path);
      expect(paths).toContain('assets/models/vit-tiny-fmnist/model.safetensors');
      expect(paths.some((p) => p.startsWith('assets/datasets/fashion-mnist-demo/train/'))).toBe(true);
      expect(paths).toContain('package.json');
      expect(paths).toContain('migrations/0010_datasets.sql');
      expect(paths.some((p) => p.startsWith('node_modules/better-sqlite3/lib/'))).toBe(true);
      expect(paths.some((p) => p.startsWith('node_modules/better-sqlite3/build/'))).toBe(false);
      expect(paths.some((p) => /^(app|engine|test|renderer|tools)\//.test(p))).toBe(false);
    }
  });

  it('reports a size per target, the foreign binaries excluded', () => {
    const linux = result.targets.find((t) => t.id === 'linux-x64')!;
    expect(linux.onnxruntimeBytes).toBeGreaterThan(40e6);
    expect(linux.onnxruntimeBytes).toBeLessThan(50e6);
    expect(linux.totalBytes).toBe(linux.asarBytes + linux.unpackedBytes + linux.resourcesBytes);
    const report = formatReport(result, 'electron-builder.yml');
    expect(report).toMatch(/linux-x64\s+AppImage\+deb/);
    expect(report).toMatch(/^OK/m);
  });
});

describe('a deliberately broken copy fails', () => {
  it('invalid YAML', async () => {
    const r = await check('appId: x\nfiles: [\n');
    expect(r.ok).toBe(false);
    expect(errors(r).join('\n')).toMatch(/not valid YAML/);
  });

  it('a key the schema does not know (a typo), and a value of the wrong type', async () => {
    const c = original();
    c.asarUnpak = c.asarUnpack;
    c.compression = 'fastest';
    const r = await check(c);
    expect(r.ok).toBe(false);
    expect(errors(r).join('\n')).toMatch(/unknown property 'asarUnpak'/);
    expect(errors(r).join('\n')).toMatch(/compression/);
  });

  it('native binaries left inside the asar', async () => {
    const c = original();
    c.asarUnpack = ['node_modules/sharp/**'];
    const r = await check(c);
    expect(r.ok).toBe(false);
    expect(errors(r)).toContainEqual(
      expect.stringMatching(/linux-x64: native binary .*libonnxruntime\.so\.1 is not covered by asarUnpack/),
    );
    expect(errors(r)).toContainEqual(expect.stringMatching(/win-x64: .*DirectML\.dll is not covered/));
  });

  it('every platform shipping every onnxruntime binary', async () => {
    const c = original();
    delete (c.linux as Config).files;
    const r = await check(c);
    expect(r.ok).toBe(false);
    expect(errors(r)).toContainEqual(
      expect.stringMatching(/linux-x64: ships another platform's onnxruntime binaries \(darwin\/arm64/),
    );
    expect(errors(r)).toContainEqual(expect.stringMatching(/linux-x64: .*\(linux\/arm64/));
  });

  it('a macOS x64 target (onnxruntime-node has no darwin/x64 binary)', async () => {
    const c = original();
    (c.mac as Config).target = [{ target: 'dmg', arch: ['x64', 'arm64'] }];
    const r = await check(c);
    expect(errors(r)).toContainEqual(expect.stringMatching(/mac x64 target: .*no darwin\/x64/));
    expect(errors(r)).toContainEqual(
      expect.stringMatching(/mac-x64: onnxruntime-node's darwin\/x64 binding is not shipped/),
    );
  });

  it('an in-place native rebuild', async () => {
    const c = original();
    c.npmRebuild = true;
    expect(errors(await check(c))).toContainEqual(expect.stringMatching(/npmRebuild must be false/));
  });

  it('files that leave out the main entry, or name nothing', async () => {
    const c = original();
    c.files = (c.files as string[]).filter((p) => p !== 'dist-electron/**').concat('migratons/**');
    const r = await check(c);
    expect(errors(r)).toContainEqual(
      expect.stringMatching(/main \(dist-electron\/main\/index\.js\) is not included by files/),
    );
    expect(errors(r)).toContainEqual(expect.stringMatching(/the preload .* is not included/));
    expect(errors(r)).toContainEqual("files pattern 'migratons/**' matches nothing");
  });

  it('the bundled dataset or the Electron SQLite binary missing from extraResources, or a missing source', async () => {
    const c = original();
    c.extraResources = (c.extraResources as { from: string }[])
      .filter((r) => !r.from.includes('fashion-mnist-demo') && !r.from.startsWith('native/'))
      .concat({ from: 'assets/models/nope', to: 'x' } as { from: string });
    const r = await check(c);
    expect(errors(r)).toContainEqual(expect.stringMatching(/must ship the bundled demo dataset/));
    expect(errors(r)).toContainEqual(expect.stringMatching(/must ship better-sqlite3 built for Electron/));
    expect(errors(r)).toContainEqual(
      expect.stringMatching(/extraResources source assets\/models\/nope does not exist/),
    );
  });

  it('missing targets and artifact names without the version', async () => {
    const c = original();
    (c.win as Config).target = [{ target: 'nsis', arch: ['x64'] }];
    (c.linux as Config).target = ['AppImage'];
    c.artifactName = '${name}-${os}.${ext}';
    const e = errors(await check(c));
    expect(e).toContain('missing target: win nsis arm64');
    expect(e).toContain('missing target: linux deb x64');
    expect(e).toContain('artifactName must include ${version}');
  });
});

describe('the command', () => {
  const run = (...args: string[]) =>
    spawnSync(process.execPath, ['--import', 'tsx', 'tools/dist-check.ts', '--no-compress', ...args], {
      cwd: root,
      encoding: 'utf8',
    });

  it('exits 0 on the real config and prints the size table', () => {
    const r = run();
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/expected size per target/);
    const json = JSON.parse(run('--json').stdout) as { ok: boolean; targets: { id: string }[] };
    expect(json.ok).toBe(true);
    expect(json.targets.map((t) => t.id)).toContain('mac-arm64');
  });

  it('exits 1 on a broken copy', () => {
    const c = original();
    c.asarUnpack = [];
    const r = run('--config', writeConfig(c));
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/FAILED: \d+ errors/);
  });

  it('--release turns the missing Electron SQLite binary into an error', () => {
    const r = run('--release');
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/✗ .*native\/electron\/linux-x64 is missing/);
  });
});

describe('the size estimate', () => {
  it('gzips every shipped file once', async () => {
    // A tiny project: one dependency-free app with the real schema, so compression runs in milliseconds.
    const project = join(temp, 'tiny');
    mkdirSync(join(project, 'node_modules'), { recursive: true });
    symlinkSync(
      join(root, 'node_modules', 'app-builder-lib'),
      join(project, 'node_modules', 'app-builder-lib'),
    );
    mkdirSync(join(project, 'dist'), { recursive: true });
    writeFileSync(
      join(project, 'package.json'),
      JSON.stringify({ name: 'tiny', version: '1.0.0', main: 'dist/main.js' }),
    );
    writeFileSync(join(project, 'dist', 'main.js'), 'x'.repeat(100_000));
    const config = join(project, 'electron-builder.yml');
    // electron-builder's default output folder is dist/ (excluded from files), hence directories.output.
    const tiny = {
      appId: 'a.b',
      directories: { output: 'out' },
      files: ['dist/**'],
      linux: { target: ['deb'] },
    };
    writeFileSync(config, stringify(tiny));
    const r = await distCheck({ configPath: config, projectDir: project, compress: true });
    const t = r.targets[0]!;
    expect(t.totalBytes).toBe(100_000 + readFileSync(join(project, 'package.json')).length);
    expect(t.compressedBytes).toBeGreaterThan(0);
    expect(t.compressedBytes).toBeLessThan(2_000);
    expect(errors(r).join('\n')).toMatch(/onnxruntime-node's linux\/x64 binding is not shipped/);
  });
});

// Keep the CLI honest about its own help: a broken flag is an error, not a silent default.
it('refuses unknown flags', () => {
  expect(() =>
    execFileSync(process.execPath, ['--import', 'tsx', 'tools/dist-check.ts', '--bogus'], {
      cwd: root,
      stdio: 'pipe',
    }),
  ).toThrow();
});
