// End-to-end tier: suites against a launched cluster of process nodes; slow, one at a time.
export default {
  files: ['e2e/suites/**/*.test.ts'],
  extensions: { ts: 'module' },
  nodeArguments: ['--import=tsx', '--conditions=source'],
  workerThreads: false,
  timeout: '10m',
  concurrency: 1,
};
