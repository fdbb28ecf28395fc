// ESLint flat config. The boundary rules below are the reason this file exists: they keep engine/ a pure
// numerical library, app/ free of Electron and renderer/ free of Node (conventions 4). test/lint checks they bite.
import js from '@eslint/js';
import svelte from 'eslint-plugin-svelte';
import globals from 'globals';
import tseslint from 'typescript-eslint';

const electron = { name: 'electron', message: 'Only main/ may import electron.' };
const sqlite = { name: 'better-sqlite3', message: 'Only app/ touches SQLite.' };

/** Import restrictions per folder; exported so the lint test can assert each one bites. */
export const boundaries = {
  engine: {
    paths: [electron, sqlite],
    patterns: [
      {
        group: ['**/app/**', '**/main/**', '**/renderer/**'],
        message: 'engine/ depends on nothing above it.',
      },
      { group: ['svelte', 'svelte/*'], message: 'engine/ has no DOM or UI.' },
    ],
  },
  app: {
    paths: [electron],
    patterns: [
      { group: ['**/main/**', '**/renderer/**'], message: 'app/ never depends on main/ or renderer/.' },
    ],
  },
  renderer: {
    paths: [
      electron,
      sqlite,
      { name: 'onnxruntime-node', message: 'The renderer talks to the engine only through the contract.' },
    ],
    patterns: [
      { group: ['node:*'], message: 'renderer/ runs in a browser: no node:* modules.' },
      { group: ['**/engine/**', '**/main/**'], message: 'renderer/ sees only the contract types from app/.' },
      {
        group: ['**/app/**', '!**/app/contract.ts', '!**/app/contract-types.ts'],
        message: 'renderer/ may import only the contract from app/.',
      },
    ],
  },
};

const restrict = (rules) => ({ 'no-restricted-imports': ['error', rules] });

export default tseslint.config(
  {
    ignores: [
      'node_modules/',
      'dist/',
      'dist-electron/',
      'release/',
      'coverage/',
      'test-artifacts/',
      'test/fixtures/',
      '.flops-data/',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  ...svelte.configs['flat/recommended'],
  {
    languageOptions: { globals: { ...globals.node }, ecmaVersion: 2023, sourceType: 'module' },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  {
    files: ['**/*.svelte', '**/*.svelte.ts'],
    languageOptions: {
      globals: { ...globals.browser },
      parserOptions: { parser: tseslint.parser, extraFileExtensions: ['.svelte'] },
    },
  },
  {
    files: ['engine/**/*.ts'],
    rules: {
      ...restrict(boundaries.engine),
      'no-restricted-globals': [
        'error',
        ...['window', 'document', 'navigator'].map((name) => ({ name, message: 'engine/ has no DOM.' })),
      ],
    },
  },
  { files: ['app/**/*.ts'], rules: restrict(boundaries.app) },
  {
    files: ['renderer/**/*.ts', 'renderer/**/*.svelte'],
    languageOptions: { globals: { ...globals.browser } },
    rules: restrict(boundaries.renderer),
  },
);
