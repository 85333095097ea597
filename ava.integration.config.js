// Integration tier: real etcd, kube-apiserver and gRPC servers; hack/test.sh provides the
// binaries through METROPOLIS_* environment variables.
export default {
  files: ['lib/*/test/**/*.test.ts', '*/test/**/*.test.ts', '!e2e/**'],
  extensions: { ts: 'module' },
  nodeArguments: ['--import=tsx', '--conditions=source'],
  workerThreads: false,
  timeout: '3m',
  concurrency: 2,
};
