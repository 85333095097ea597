// One flat config: type-aware rules for all workspaces plus the layer rules of
// docs/ARCHITECTURE.md (lib -> programs -> e2e; programs never import each other).
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import importPlugin from 'eslint-plugin-import';
import unicorn from 'eslint-plugin-unicorn';
import n from 'eslint-plugin-n';

const programs = ['node-agent', 'operator', 'metroctl', 'os-image'];
const workspaces = [
  ...readdirSync(join(import.meta.dirname, 'lib')).map((name) => `lib/${name}`),
  ...programs,
  'e2e',
  'hack',
].filter((dir) => existsSync(join(import.meta.dirname, dir, 'package.json')) || dir === 'hack');
const programPackages = programs.map((name) => `@metropolis/${name}`);

/** Imports a file under `dir` may not make: every program but its own, and e2e. */
function layerBans(own) {
  return [
    ...programPackages
      .filter((name) => name !== own)
      .map((name) => ({
        group: [name, `${name}/*`],
        message: 'Programs never import each other: talk over gRPC or the Kubernetes API.',
      })),
    { group: ['@metropolis/e2e', '@metropolis/e2e/*'], message: 'Nothing imports the e2e suite.' },
    {
      group: ['../../*/src/*', '../../../*/src/*'],
      message: 'Import other workspaces by package name, never by relative path.',
    },
  ];
}

const frameworkBan = {
  name: '@dot-i/k8s-operator',
  message:
    'Only operator/src/framework/k8s-operator-worker.js may import the operator framework (it runs in a worker thread).',
};

export default tseslint.config(
  {
    ignores: [
      '**/dist/**',
      '**/node_modules/**',
      '**/gen/**',
      '**/*.config.js',
      'eslint.config.js',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { import: importPlugin, unicorn, n },
    rules: {
      eqeqeq: ['error', 'always'],
      'no-restricted-properties': [
        'error',
        { object: 'test', property: 'only', message: 'Do not commit test.only.' },
        { object: 'test', property: 'skip', message: 'No skipped test is left behind.' },
        { object: 'process', property: 'env', message: 'Only main.ts reads the environment.' },
      ],
      'no-restricted-imports': ['error', { paths: [frameworkBan] }],
      // client-node's API models are classes that the API itself fills from plain JSON.
      '@typescript-eslint/no-unsafe-class-instance-assignment': 'off',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' },
      ],
    },
  },
  ...['lib', ...programs].map((dir) => ({
    files: [dir === 'lib' ? 'lib/**/*.ts' : `${dir}/**/*.ts`],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [frameworkBan],
          patterns:
            dir === 'lib'
              ? [
                  ...layerBans(''),
                  { group: ['@metropolis/crds'], message: 'lib/* knows nothing of the product.' },
                ]
              : layerBans(`@metropolis/${dir}`),
        },
      ],
    },
  })),
  // A workspace's own package.json lists what its code imports; test tooling (ava, tsx) lives
  // at the root and is allowed only in tests, benchmarks and hack/ scripts.
  ...workspaces.map((dir) => ({
    files: [`${dir}/**/*.ts`],
    rules: {
      'import/no-extraneous-dependencies': [
        'error',
        {
          packageDir: [join(import.meta.dirname, dir), import.meta.dirname],
          includeInternal: true,
          devDependencies: [
            '**/*.test.ts',
            '**/test/**',
            '**/bench/**',
            '**/scripts/**',
            'e2e/**',
            'hack/**',
          ],
        },
      ],
    },
  })),
  {
    // Composition roots read the environment and decide the exit code.
    files: ['*/src/main.ts', 'hack/*.ts'],
    rules: {
      'n/no-process-exit': 'off',
      'no-restricted-properties': ['error', { object: 'test', property: 'only' }],
    },
  },
  {
    // Tests are their own composition roots: they read the binaries' paths from the environment.
    files: ['**/*.test.ts', '**/test/**/*.ts', '**/bench/**/*.ts', 'e2e/**/*.ts'],
    rules: {
      'no-restricted-properties': [
        'error',
        { object: 'test', property: 'only', message: 'Do not commit test.only.' },
        { object: 'test', property: 'skip', message: 'No skipped test is left behind.' },
      ],
    },
  },
  {
    files: ['operator/src/framework/k8s-operator-worker.js'],
    rules: { 'no-restricted-imports': 'off' },
  },
);
