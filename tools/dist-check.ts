// `npm run dist:check`: the offline check of electron-builder.yml (installers themselves need a networked release
// machine; docs/packaging.md). It
//   1. validates the config against app-builder-lib's own JSON schema (scheme.json) with ajv, as electron-builder
//      does before a build;
//   2. checks the project's packaging rules (targets per platform, no in-place native rebuild, the bundled demo
//      assets and the Electron build of better-sqlite3 as extra resources);
//   3. resolves, per target (os × arch), the files electron-builder would ship: the `files` patterns against the
//      repository, the production dependency tree with electron-builder's default exclusions and the `!` patterns,
//      and `extraResources` — using electron-builder's pattern semantics (minimatch, first-match-wins order);
//   4. confirms every native binary inside the app (*.node, *.dll, *.dylib, *.so[.N]) is covered by asarUnpack,
//      that each target ships its own onnxruntime binaries and no other platform's;
//   5. reports the expected size per target: app.asar, app.asar.unpacked and resources, uncompressed and gzip'd.
// It exits 1 when any check fails. Usage: tsx tools/dist-check.ts [--config f] [--project d] [--json]
// [--no-compress] [--release] (--release: missing build outputs and the Electron SQLite binary are errors).
import { createReadStream, existsSync, lstatSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createGzip } from 'node:zlib';

import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { Minimatch } from 'minimatch';
import { parse as parseYaml } from 'yaml';

export type Os = 'win' | 'mac' | 'linux';
export const PLATFORM_OF: Record<Os, 'win32' | 'darwin' | 'linux'> = {
  win: 'win32',
  mac: 'darwin',
  linux: 'linux',
};

export interface Finding {
  level: 'error' | 'warning';
  message: string;
}

export interface Target {
  os: Os;
  arch: string;
  /** electron-builder target names for this os/arch (nsis, dmg, AppImage, deb, ...). */
  packages: string[];
}

export interface ShippedFile {
  /** Path inside the app (app.asar root) or inside resources/ for extra resources. */
  path: string;
  source: string;
  size: number;
  place: 'asar' | 'unpacked' | 'resources';
}

export interface TargetReport extends Target {
  id: string;
  files: number;
  asarBytes: number;
  unpackedBytes: number;
  resourcesBytes: number;
  totalBytes: number;
  /** gzip -6 of every shipped file: an estimate of the installer's payload (Electron itself not included). */
  compressedBytes?: number;
  onnxruntimeBytes: number;
  nativeBinaries: string[];
}

export interface DistCheckOptions {
  configPath: string;
  projectDir: string;
  /** Compute the gzip'd size estimate (reads every shipped file once; a few seconds). */
  compress?: boolean;
  /** Release mode: missing build outputs and a missing Electron SQLite binary are errors, not warnings. */
  release?: boolean;
}

export interface DistCheckResult {
  ok: boolean;
  findings: Finding[];
  targets: TargetReport[];
  /** Size of node_modules/electron/dist when a binary is installed (host platform only), else undefined. */
  electronRuntimeBytes?: number;
  /** Internal: the shipped files per target id, for tests and --json consumers. */
  shipped: Record<string, ShippedFile[]>;
}

type Config = Record<string, unknown>;
type FileSet = { from?: string; to?: string; filter?: string | string[] };
type Patterns = (string | FileSet)[];

/** Build outputs that may legitimately be missing offline (npm run build:main && vite build make them). */
const BUILD_OUTPUTS = ['dist', 'dist-electron'];
const NATIVE = /\.(node|dll|dylib|exe)$|\.so(\.\d+)*$/;
const ORT_BIN = 'node_modules/onnxruntime-node/bin/napi-v6/';
const REQUIRED_RESOURCES = [
  { from: 'assets/models/vit-tiny-fmnist', what: 'the bundled demo model' },
  { from: 'assets/datasets/fashion-mnist-demo', what: 'the bundled demo dataset' },
];
const SQLITE_RESOURCE = 'native/electron';

// ---- electron-builder's file-pattern semantics (app-builder-lib/out/fileMatcher.js, util/filter.js) ------------

const MM = { dot: true };
/** app-builder-lib fileMatcher.excludedNames / excludedExts (26.x). */
const EXCLUDED_NAMES =
  '.git,.hg,.svn,CVS,RCS,SCCS,__pycache__,.DS_Store,thumbs.db,.gitignore,.gitkeep,.gitattributes,.npmignore,' +
  '.idea,.vs,.flowconfig,.jshintrc,.eslintrc,.circleci,.yarn-integrity,.yarn-metadata.json,yarn-error.log,' +
  'yarn.lock,package-lock.json,npm-debug.log,pnpm-lock.yaml,bun.lock,bun.lockb,appveyor.yml,.travis.yml,' +
  'circle.yml,.nyc_output,.husky,.github,electron-builder.env';
const EXCLUDED_EXTS = 'iml,hprof,orig,pyc,pyo,rbc,swp,csproj,sln,suo,xproj,cc,d.ts,mk,a,o,obj,forge-meta';
/** NodeModuleCopyHelper's names dropped anywhere in a dependency, and at a dependency's top level. */
const MODULE_EXCLUDED = new Set([
  '.DS_Store',
  'CHANGELOG.md',
  'ChangeLog',
  'changelog.md',
  'Changelog.md',
  'Changelog',
  'binding.gyp',
  '.npmignore',
  'node_gyp_bins',
  ...EXCLUDED_NAMES.split(','),
]);
const MODULE_TOP_EXCLUDED = new Set([
  'karma.conf.js',
  '.coveralls.yml',
  'README.md',
  'readme.markdown',
  'README',
  'readme.md',
  'Readme.md',
  'Readme',
  'readme',
  'test',
  'tests',
  '__tests__',
  'powered-test',
  'example',
  'examples',
  '.bin',
]);

function hasMagic(m: Minimatch): boolean {
  if (m.set.length > 1) return true;
  return (m.set[0] ?? []).some((part) => typeof part !== 'string');
}

/** FileMatcher.computeParsedPatterns: a plain folder name also matches everything below it. */
function parsePatterns(patterns: readonly string[]): Minimatch[] {
  const out: Minimatch[] = [];
  for (const pattern of patterns) {
    const m = new Minimatch(pattern, MM);
    out.push(m);
    if (!pattern.includes('.') && !hasMagic(m)) out.push(new Minimatch(`${pattern}/**/*`, MM));
  }
  return out;
}

/** filter.js minimatchAll: in order, a match is only re-tested by exclusions and a miss only by inclusions. */
function matchAll(path: string, patterns: readonly Minimatch[]): boolean {
  let match = false;
  for (const p of patterns) {
    if (match !== p.negate) continue;
    match = p.match(path);
  }
  return match;
}

function normalizePattern(pattern: string, expand: (s: string) => string): string {
  let p = pattern.replace(/\\/g, '/');
  if (p.startsWith('./')) p = p.slice(2);
  const negate = p.startsWith('!');
  const body = join(negate ? p.slice(1) : p)
    .split(sep)
    .join('/');
  return expand((negate ? '!' : '') + (body === '.' ? '' : body));
}

function asArray<T>(value: T | T[] | undefined | null): T[] {
  if (value === undefined || value === null) return [];
  return Array.isArray(value) ? value : [value];
}

// ---- reading the config -------------------------------------------------------------------------------------

function readConfig(path: string, findings: Finding[]): Config | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    findings.push({ level: 'error', message: `cannot read ${path}: ${(error as Error).message}` });
    return undefined;
  }
  try {
    const parsed: unknown = parseYaml(text, { prettyErrors: true, uniqueKeys: true });
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      findings.push({ level: 'error', message: `${path} is not a YAML mapping` });
      return undefined;
    }
    return parsed as Config;
  } catch (error) {
    findings.push({ level: 'error', message: `${path} is not valid YAML: ${(error as Error).message}` });
    return undefined;
  }
}

const validators = new Map<string, ValidateFunction>();

/** Same ajv options as app-builder-lib's schemaValidator, so the verdict is electron-builder's. */
export function validateSchema(config: Config, projectDir: string): Finding[] {
  const schemaPath = join(projectDir, 'node_modules', 'app-builder-lib', 'scheme.json');
  let validate = validators.get(schemaPath);
  if (!validate) {
    const schema = JSON.parse(readFileSync(schemaPath, 'utf8')) as object;
    validate = new Ajv({ allErrors: true, verbose: false, coerceTypes: true, strict: false }).compile(schema);
    validators.set(schemaPath, validate);
  }
  if (validate(structuredClone(config))) return [];
  return relevantErrors(validate.errors ?? []).map((e) => ({
    level: 'error' as const,
    message: `schema: configuration${e.instancePath.replace(/\//g, '.')} ${describe(e)}`,
  }));
}

/** Drop anyOf/oneOf noise when a more specific error exists (as app-builder-lib does). */
function relevantErrors(errors: ErrorObject[]): ErrorObject[] {
  const composite = new Set(['anyOf', 'oneOf', 'if']);
  const specific = errors.filter((e) => !composite.has(e.keyword));
  const list = specific.length > 0 ? specific : errors;
  const seen = new Set<string>();
  return list.filter((e) => {
    const key = `${e.instancePath}|${describe(e)}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

function describe(e: ErrorObject): string {
  const p = e.params as { additionalProperty?: string; allowedValues?: unknown[] };
  if (e.keyword === 'additionalProperties') return `has an unknown property '${p.additionalProperty}'`;
  if (e.keyword === 'enum') return `${e.message} (${(p.allowedValues ?? []).join(', ')})`;
  return e.message ?? e.keyword;
}

// ---- targets and project rules ------------------------------------------------------------------------------

export function targetsOf(config: Config): Target[] {
  const targets: Target[] = [];
  for (const os of ['win', 'mac', 'linux'] as const) {
    const platform = config[os] as { target?: unknown } | undefined;
    const byArch = new Map<string, string[]>();
    for (const t of asArray(platform?.target as unknown)) {
      const { name, archs } =
        typeof t === 'string'
          ? { name: t, archs: ['x64'] }
          : {
              name: String((t as { target: unknown }).target),
              archs: asArray((t as { arch?: string | string[] }).arch ?? 'x64'),
            };
      for (const arch of archs) byArch.set(arch, [...(byArch.get(arch) ?? []), name]);
    }
    for (const [arch, packages] of byArch) targets.push({ os, arch, packages });
  }
  return targets;
}

function projectRules(config: Config, targets: Target[]): Finding[] {
  const f: Finding[] = [];
  const error = (message: string) => f.push({ level: 'error', message });
  if (!config.appId) error('appId is missing');
  if (!config.productName) error('productName is missing');
  if (typeof config.artifactName !== 'string' || !config.artifactName.includes('${version}')) {
    error('artifactName must include ${version}');
  }
  if (config.asar === false)
    error('asar must stay on (native binaries go to app.asar.unpacked via asarUnpack)');
  if (config.npmRebuild !== false) {
    error(
      'npmRebuild must be false: it rebuilds node_modules in place for Electron (breaking the Node build that tests ' +
        'and the CLI load) and, run through npx, silently compiles against Node headers; ship ' +
        'native/electron/better_sqlite3.node from tools/build-electron-sqlite.ts instead',
    );
  }
  const has = (os: Os, arch: string, pkg: string) =>
    targets.some((t) => t.os === os && t.arch === arch && t.packages.includes(pkg));
  for (const arch of ['x64', 'arm64'])
    if (!has('win', arch, 'nsis')) error(`missing target: win nsis ${arch}`);
  if (!has('mac', 'arm64', 'dmg')) error('missing target: mac dmg arm64');
  for (const pkg of ['AppImage', 'deb'])
    if (!has('linux', 'x64', pkg)) error(`missing target: linux ${pkg} x64`);
  for (const t of targets) {
    if (t.os === 'mac' && t.arch !== 'arm64') {
      error(`mac ${t.arch} target: onnxruntime-node 1.30 ships no darwin/${t.arch} binary (arm64 only)`);
    }
  }
  const resources = asArray(config.extraResources as FileSet | FileSet[] | string).map((r) =>
    typeof r === 'string' ? r : (r.from ?? ''),
  );
  for (const r of REQUIRED_RESOURCES) {
    if (!resources.some((from) => from.replace(/\/$/, '') === r.from)) {
      error(`extraResources must ship ${r.what} (${r.from})`);
    }
  }
  if (!resources.some((from) => from.startsWith(SQLITE_RESOURCE))) {
    error(`extraResources must ship better-sqlite3 built for Electron (${SQLITE_RESOURCE}/...)`);
  }
  return f;
}

// ---- walking the project and its production dependencies ------------------------------------------------------

function walk(dir: string, base: string, skip: (rel: string, name: string) => boolean, out: string[]): void {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names.sort()) {
    const abs = join(dir, name);
    const rel = relative(base, abs).split(sep).join('/');
    if (skip(rel, name)) continue;
    const st = lstatSync(abs);
    if (st.isSymbolicLink()) continue;
    if (st.isDirectory()) walk(abs, base, skip, out);
    else if (st.isFile()) out.push(rel);
  }
}

interface Module {
  name: string;
  dir: string;
  /** Where it lands in the app: node_modules/<name>, or nested under its parent. */
  dest: string;
  /** package.json's os/cpu: a platform package (sharp's libvips, resvg's binding) installs on matching hosts only. */
  os?: string[];
  cpu?: string[];
}

interface PackageJson {
  name?: string;
  version?: string;
  main?: string;
  productName?: string;
  os?: string[];
  cpu?: string[];
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
}

function readPackage(dir: string): PackageJson | undefined {
  try {
    return JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as PackageJson;
  } catch {
    return undefined;
  }
}

/** Node's resolution: the nearest node_modules/<name> from `fromDir` up to the project. */
function resolveModule(name: string, fromDir: string, projectDir: string): string | undefined {
  let dir = fromDir;
  for (;;) {
    const candidate = join(dir, 'node_modules', name);
    if (existsSync(join(candidate, 'package.json'))) return candidate;
    if (dir === projectDir) return undefined;
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

/** The production dependency closure (dependencies + installed optionalDependencies), as electron-builder ships it. */
export function productionModules(projectDir: string, pkg: PackageJson, findings: Finding[]): Module[] {
  const modules = new Map<string, Module>();
  const queue: { name: string; from: string; optional: boolean }[] = [];
  const enqueue = (p: PackageJson, from: string) => {
    for (const name of Object.keys(p.dependencies ?? {})) queue.push({ name, from, optional: false });
    for (const name of Object.keys(p.optionalDependencies ?? {})) queue.push({ name, from, optional: true });
  };
  enqueue(pkg, projectDir);
  while (queue.length > 0) {
    const { name, from, optional } = queue.shift()!;
    const dir = resolveModule(name, from, projectDir);
    if (!dir) {
      if (!optional) findings.push({ level: 'error', message: `dependency ${name} is not installed` });
      continue;
    }
    if (modules.has(dir)) continue;
    const dest = relative(projectDir, dir).split(sep).join('/');
    const p = readPackage(dir);
    modules.set(dir, {
      name,
      dir,
      dest,
      ...(Array.isArray(p?.os) ? { os: p.os } : {}),
      ...(Array.isArray(p?.cpu) ? { cpu: p.cpu } : {}),
    });
    if (p) enqueue(p, dir);
  }
  return [...modules.values()];
}

const moduleFileCache = new Map<string, string[]>();

/** A dependency's files after NodeModuleCopyHelper's default exclusions (relative to the module). */
function moduleFiles(mod: Module, windows: boolean): string[] {
  const key = `${mod.dir}|${windows}`;
  const hit = moduleFileCache.get(key);
  if (hit) return hit;
  const exts = ['.o', '.obj', '.pdb', ...EXCLUDED_EXTS.split(',').map((e) => `.${e}`)];
  if (!windows) exts.push('.dll', '.exe');
  const files: string[] = [];
  walk(
    mod.dir,
    mod.dir,
    (rel, name) => {
      if (name === 'node_modules' || MODULE_EXCLUDED.has(name) || name.startsWith('._')) return true;
      if (!rel.includes('/') && MODULE_TOP_EXCLUDED.has(name)) return true;
      const parent = rel.includes('/') ? rel.slice(0, rel.lastIndexOf('/')) : '';
      if (parent.endsWith('build') && /^(gyp-mac-tool|Makefile)$|\.(mk|gypi|Makefile)$/.test(name))
        return true;
      if (parent.endsWith('Release') && (name === '.deps' || name === 'obj.target')) return true;
      let isFile = false;
      try {
        isFile = statSync(join(mod.dir, rel)).isFile();
      } catch {
        return true;
      }
      return isFile && exts.some((e) => name.endsWith(e));
    },
    files,
  );
  moduleFileCache.set(key, files);
  return files;
}

/** npm's os/cpu rule: a list of allowed values, or of `!excluded` ones. */
function allows(list: string[] | undefined, value: string): boolean {
  if (!list || list.length === 0) return true;
  if (list.includes(`!${value}`)) return false;
  const positive = list.filter((v) => !v.startsWith('!'));
  return positive.length === 0 || positive.includes(value);
}

/** Whether npm would install this package on the target's own runner. */
function installsOn(mod: Module, target: Target): boolean {
  return allows(mod.os, PLATFORM_OF[target.os]) && allows(mod.cpu, target.arch);
}

// ---- resolving one target ------------------------------------------------------------------------------------

function macroExpander(target: Target, pkg: PackageJson): (s: string) => string {
  const values: Record<string, string> = {
    arch: target.arch,
    os: target.os,
    // electron-builder expands ${platform} to the building machine's platform; each OS builds on its own runner.
    platform: PLATFORM_OF[target.os],
    name: pkg.name ?? '',
    version: pkg.version ?? '',
    productName: pkg.productName ?? pkg.name ?? '',
    '/*': '{,/**/*}',
  };
  return (s) => s.replace(/\$\{([_a-zA-Z./*+]+)\}/g, (m, key: string) => values[key] ?? m);
}

function stringPatterns(list: Patterns): string[] {
  return list.filter((p): p is string => typeof p === 'string');
}

/** getMainFileMatchers: the user's patterns plus electron-builder's defaults, in its order. */
function appPatterns(config: Config, platform: Config, expand: (s: string) => string): Minimatch[] {
  const user = [
    ...stringPatterns(asArray(config.files as Patterns | string)),
    ...stringPatterns(asArray(platform.files as Patterns | string)),
  ].map((p) => normalizePattern(p, expand));
  const patterns = [...user];
  if (!patterns.includes('package.json')) patterns.push('package.json');
  const directories = (config.directories ?? {}) as { output?: string; buildResources?: string };
  const first = ['!**/node_modules/**'];
  first.push(`!${directories.buildResources ?? 'build'}{,/**/*}`);
  first.push(`!${expand(directories.output ?? 'dist')}{,/**/*}`);
  let insertAt = 0;
  for (let i = patterns.length - 1; i >= 0; i--) {
    if (patterns[i]!.startsWith('**/')) {
      insertAt = i + 1;
      break;
    }
  }
  patterns.splice(insertAt, 0, ...first);
  patterns.push(
    `!**/*.{${EXCLUDED_EXTS},pdb}`,
    '!**/._*',
    '!**/electron-builder.{yaml,yml,json,json5,toml,ts}',
  );
  patterns.push(`!**/{${EXCLUDED_NAMES}}`, '!.yarn{,/**/*}', '!.editorconfig', '!.yarnrc.yml');
  return parsePatterns(patterns);
}

/** getNodeModuleFileMatcher: only the exclusions apply to dependencies, after an implicit `**\/*`. */
function modulePatterns(config: Config, platform: Config, expand: (s: string) => string): Minimatch[] {
  const excludes = [
    ...stringPatterns(asArray(config.files as Patterns | string)),
    ...stringPatterns(asArray(platform.files as Patterns | string)),
  ].filter((p) => p.startsWith('!'));
  return parsePatterns(['**/*', ...excludes.map((p) => normalizePattern(p, expand))]);
}

function unpackPatterns(config: Config, platform: Config, expand: (s: string) => string): Minimatch[] {
  const list = [
    ...asArray(config.asarUnpack as string | string[]),
    ...asArray(platform.asarUnpack as string | string[]),
  ];
  return parsePatterns(list.map((p) => normalizePattern(p, expand)));
}

interface Resolved {
  shipped: ShippedFile[];
  findings: Finding[];
}

function resolveTarget(
  target: Target,
  config: Config,
  pkg: PackageJson,
  projectDir: string,
  projectFiles: string[],
  modules: Module[],
  release: boolean,
): Resolved {
  const findings: Finding[] = [];
  const id = `${target.os}-${target.arch}`;
  const platform = (config[target.os] ?? {}) as Config;
  const expand = macroExpander(target, pkg);
  const app = appPatterns(config, platform, expand);
  const mods = modulePatterns(config, platform, expand);
  const unpack = unpackPatterns(config, platform, expand);
  const shipped: ShippedFile[] = [];
  const add = (path: string, source: string, place: ShippedFile['place']) =>
    shipped.push({ path, source, size: statSync(source).size, place });

  for (const rel of projectFiles) {
    if (matchAll(rel, app)) add(rel, join(projectDir, rel), matchAll(rel, unpack) ? 'unpacked' : 'asar');
  }
  const foreign = modules.filter((m) => !installsOn(m, target));
  if (foreign.length > 0) {
    findings.push({
      level: 'warning',
      message:
        `${id}: ${foreign.map((m) => m.name).join(', ')} are this machine's platform packages and are left out; ` +
        `the ${PLATFORM_OF[target.os]}/${target.arch} counterparts are installed on that platform's runner, so ` +
        `the size below lacks them`,
    });
  }
  for (const mod of modules) {
    if (!installsOn(mod, target)) continue;
    for (const rel of moduleFiles(mod, target.os === 'win')) {
      const path = `${mod.dest}/${rel}`;
      if (matchAll(path, mods)) add(path, join(mod.dir, rel), matchAll(path, unpack) ? 'unpacked' : 'asar');
    }
  }

  const resources = [
    ...asArray(config.extraResources as FileSet | FileSet[] | string),
    ...asArray(platform.extraResources as FileSet | FileSet[] | string),
  ];
  for (const r of resources) {
    const set: FileSet = typeof r === 'string' ? { from: r, to: r } : r;
    const from = expand(set.from ?? '.');
    const to = expand(set.to ?? set.from ?? '.');
    const abs = resolve(projectDir, from);
    if (!existsSync(abs)) {
      const sqlite = from.startsWith(SQLITE_RESOURCE);
      findings.push({
        level: sqlite && !release ? 'warning' : 'error',
        message: sqlite
          ? `${id}: ${from} is missing: run tools/build-electron-sqlite.ts --arch ${target.arch} on a networked ` +
            `${target.os} release machine before packaging`
          : `${id}: extraResources source ${from} does not exist`,
      });
      continue;
    }
    if (statSync(abs).isFile()) {
      add(to, abs, 'resources');
      continue;
    }
    const filter = parsePatterns(asArray(set.filter ?? '**/*').map((p) => normalizePattern(p, expand)));
    const files: string[] = [];
    walk(abs, abs, () => false, files);
    for (const rel of files) if (matchAll(rel, filter)) add(`${to}/${rel}`, join(abs, rel), 'resources');
  }

  // Native binaries inside the app must be unpacked: a dlopen cannot read from inside app.asar.
  for (const f of shipped) {
    if (f.place === 'asar' && NATIVE.test(f.path)) {
      findings.push({
        level: 'error',
        message: `${id}: native binary ${f.path} is not covered by asarUnpack`,
      });
    }
  }

  // Exactly this target's onnxruntime binaries.
  const own = `${PLATFORM_OF[target.os]}/${target.arch}`;
  const ortDirs = new Map<string, number>();
  for (const f of shipped) {
    if (!f.path.startsWith(ORT_BIN)) continue;
    const dir = f.path.slice(ORT_BIN.length).split('/').slice(0, 2).join('/');
    ortDirs.set(dir, (ortDirs.get(dir) ?? 0) + f.size);
  }
  for (const [dir, bytes] of ortDirs) {
    if (dir !== own) {
      findings.push({
        level: 'error',
        message: `${id}: ships another platform's onnxruntime binaries (${dir}, ${mb(bytes)}); exclude them in ${target.os}.files`,
      });
    }
  }
  const cuda = shipped.filter((f) => /libonnxruntime_providers_(cuda|tensorrt)\.so$/.test(f.path));
  if (cuda.length > 0) {
    findings.push({
      level: 'warning',
      message:
        `${id}: ships the CUDA/TensorRT provider libraries (${mb(cuda.reduce((s, f) => s + f.size, 0))}) that ` +
        "onnxruntime-node's install script downloaded; install with ONNXRUNTIME_NODE_INSTALL=skip to leave them to " +
        'the users who have CUDA (docs/packaging.md)',
    });
  }
  if (!shipped.some((f) => f.path === `${ORT_BIN}${own}/onnxruntime_binding.node`)) {
    findings.push({ level: 'error', message: `${id}: onnxruntime-node's ${own} binding is not shipped` });
  }

  // The entry points must be inside `files`, whether or not they are built yet.
  const entries = [
    { path: pkg.main ?? 'index.js', what: "package.json's main" },
    { path: 'dist-electron/preload.cjs', what: 'the preload' },
    { path: 'dist/renderer/index.html', what: "the renderer's index.html" },
  ];
  for (const e of entries) {
    if (!matchAll(e.path, app)) {
      findings.push({ level: 'error', message: `${id}: ${e.what} (${e.path}) is not included by files` });
    } else if (!existsSync(join(projectDir, e.path))) {
      findings.push({
        level: release ? 'error' : 'warning',
        message: `${id}: ${e.path} is not built yet (npm run build:main && vite build); sizes exclude it`,
      });
    }
  }
  return { shipped, findings };
}

/** FileSet objects ({from, to, filter}) in `files` are copied by electron-builder but not resolved here. */
function fileSetWarnings(config: Config): Finding[] {
  const lists = [
    config.files,
    ...['win', 'mac', 'linux'].map((os) => (config[os] as Config | undefined)?.files),
  ];
  return lists
    .flatMap((l) => asArray(l as Patterns | string))
    .filter((p): p is FileSet => typeof p === 'object' && p !== null)
    .map((p) => ({
      level: 'warning' as const,
      message: `files entry {from: ${p.from ?? '.'}} is not resolved by dist:check; its files are not counted`,
    }));
}

/** A positive `files` pattern that matches nothing is a typo, unless it names a build output not built yet. */
function unusedPatterns(config: Config, projectFiles: string[], release: boolean): Finding[] {
  const findings: Finding[] = [];
  const lists = [
    config.files,
    ...['win', 'mac', 'linux'].map((os) => (config[os] as Config | undefined)?.files),
  ];
  for (const p of lists.flatMap((l) => stringPatterns(asArray(l as Patterns | string)))) {
    if (p.startsWith('!') || p.includes('${') || p === 'package.json') continue;
    const matchers = parsePatterns([normalizePattern(p, (s) => s)]);
    if (projectFiles.some((f) => matchers.some((m) => m.match(f)))) continue;
    const top = p.replace(/^\.\//, '').split('/')[0] ?? '';
    if (BUILD_OUTPUTS.includes(top) && !release) continue;
    findings.push({ level: 'error', message: `files pattern '${p}' matches nothing` });
  }
  return findings;
}

// ---- sizes ---------------------------------------------------------------------------------------------------

const gzipCache = new Map<string, number>();

async function gzipSize(file: string): Promise<number> {
  const hit = gzipCache.get(file);
  if (hit !== undefined) return hit;
  let bytes = 0;
  const gzip = createGzip({ level: 6 });
  gzip.on('data', (chunk: Buffer) => (bytes += chunk.length));
  await pipeline(createReadStream(file), gzip);
  gzipCache.set(file, bytes);
  return bytes;
}

async function compressAll(files: string[], concurrency = 4): Promise<void> {
  const queue = [...new Set(files)].filter((f) => !gzipCache.has(f));
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let f = queue.shift(); f !== undefined; f = queue.shift()) await gzipSize(f);
    }),
  );
}

function dirSize(dir: string): number {
  const files: string[] = [];
  walk(dir, dir, () => false, files);
  return files.reduce((sum, f) => sum + statSync(join(dir, f)).size, 0);
}

export function mb(bytes: number): string {
  return `${(bytes / 1_048_576).toFixed(1)} MiB`;
}

// ---- the check -----------------------------------------------------------------------------------------------

export async function distCheck(options: DistCheckOptions): Promise<DistCheckResult> {
  const projectDir = resolve(options.projectDir);
  const release = options.release ?? false;
  const findings: Finding[] = [];
  const result = (
    targets: TargetReport[] = [],
    shipped: Record<string, ShippedFile[]> = {},
  ): DistCheckResult => ({
    ok: !findings.some((f) => f.level === 'error'),
    findings,
    targets,
    shipped,
  });

  const config = readConfig(options.configPath, findings);
  if (!config) return result();
  findings.push(...validateSchema(config, projectDir));
  const targets = targetsOf(config);
  findings.push(...projectRules(config, targets));

  const rootPkg = readPackage(projectDir) ?? {};
  const pkg: PackageJson = { ...rootPkg, ...((config.extraMetadata as PackageJson | undefined) ?? {}) };
  const output = ((config.directories as { output?: string } | undefined)?.output ?? 'dist').split('/')[0];
  const projectFiles: string[] = [];
  walk(
    projectDir,
    projectDir,
    (rel, name) => name === '.git' || rel === 'node_modules' || rel === output,
    projectFiles,
  );
  findings.push(...unusedPatterns(config, projectFiles, release), ...fileSetWarnings(config));
  const modules = productionModules(projectDir, rootPkg, findings);

  const reports: TargetReport[] = [];
  const shippedById: Record<string, ShippedFile[]> = {};
  for (const target of targets) {
    const id = `${target.os}-${target.arch}`;
    const { shipped, findings: own } = resolveTarget(
      target,
      config,
      pkg,
      projectDir,
      projectFiles,
      modules,
      release,
    );
    findings.push(...own);
    shippedById[id] = shipped;
    const sum = (place?: ShippedFile['place']) =>
      shipped.filter((f) => !place || f.place === place).reduce((s, f) => s + f.size, 0);
    reports.push({
      ...target,
      id,
      files: shipped.length,
      asarBytes: sum('asar'),
      unpackedBytes: sum('unpacked'),
      resourcesBytes: sum('resources'),
      totalBytes: sum(),
      onnxruntimeBytes: shipped.filter((f) => f.path.startsWith(ORT_BIN)).reduce((s, f) => s + f.size, 0),
      nativeBinaries: shipped.filter((f) => NATIVE.test(f.path)).map((f) => f.path),
    });
  }

  if (options.compress) {
    await compressAll(Object.values(shippedById).flatMap((list) => list.map((f) => f.source)));
    for (const r of reports) {
      r.compressedBytes = shippedById[r.id]!.reduce((s, f) => s + (gzipCache.get(f.source) ?? 0), 0);
    }
  }
  const electronDist = join(projectDir, 'node_modules', 'electron', 'dist');
  const out = result(reports, shippedById);
  if (existsSync(electronDist)) out.electronRuntimeBytes = dirSize(electronDist);
  return out;
}

export function formatReport(result: DistCheckResult, configPath: string): string {
  const lines = [`dist:check ${configPath}`];
  const errors = result.findings.filter((f) => f.level === 'error');
  const warnings = result.findings.filter((f) => f.level === 'warning');
  for (const f of errors) lines.push(`  ✗ ${f.message}`);
  for (const f of warnings) lines.push(`  ! ${f.message}`);
  if (result.targets.length > 0) {
    lines.push('', 'expected size per target (app payload; the Electron runtime itself is not included):');
    const head = ['target', 'packages', 'files', 'app.asar', 'unpacked', 'resources', 'total', 'gzip -6'];
    const rows = result.targets.map((t) => [
      t.id,
      t.packages.join('+'),
      String(t.files),
      mb(t.asarBytes),
      mb(t.unpackedBytes),
      mb(t.resourcesBytes),
      mb(t.totalBytes),
      t.compressedBytes === undefined ? '-' : mb(t.compressedBytes),
    ]);
    const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
    const fmt = (r: string[]) =>
      '  ' + r.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
    lines.push(fmt(head), ...rows.map(fmt));
    lines.push(
      result.electronRuntimeBytes === undefined
        ? '  Electron runtime: not installed here (ELECTRON_SKIP_BINARY_DOWNLOAD), add it per platform'
        : `  Electron runtime (this host's platform): ${mb(result.electronRuntimeBytes)} uncompressed`,
    );
  }
  lines.push(
    '',
    result.ok
      ? `OK (${warnings.length} warning${warnings.length === 1 ? '' : 's'})`
      : `FAILED: ${errors.length} error${errors.length === 1 ? '' : 's'}`,
  );
  return lines.join('\n');
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      config: { type: 'string', default: 'electron-builder.yml' },
      project: { type: 'string', default: '.' },
      json: { type: 'boolean', default: false },
      'no-compress': { type: 'boolean', default: false },
      release: { type: 'boolean', default: false },
    },
  });
  const result = await distCheck({
    configPath: values.config,
    projectDir: values.project,
    compress: !values['no-compress'],
    release: values.release,
  });
  if (values.json) {
    const { shipped: _shipped, ...rest } = result;
    console.log(JSON.stringify(rest, null, 2));
  } else {
    console.log(formatReport(result, values.config));
  }
  return result.ok ? 0 : 1;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().then(
    (code) => process.exit(code),
    (error: unknown) => {
      console.error(error);
      process.exit(2);
    },
  );
}
