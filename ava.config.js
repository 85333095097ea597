// Unit tier: tests beside the code, run on TypeScript source through tsx.
// workerThreads: false because tsx's loader is not inherited by ava's worker threads on Node 20.
export default {
  files: ['lib/*/src/**/*.test.ts', '*/src/**/*.test.ts', 'e2e/harness/**/*.test.ts'],
  extensions: { ts: 'module' },
  nodeArguments: ['--import=tsx', '--conditions=source'],
  workerThreads: false,
  timeout: '60s',
};
