// The program as the node agent starts it (flags, files, exit codes), against a real
// kube-apiserver: it leads, serves /metrics and /healthz, and on SIGTERM releases the lease and exits 0.
import test from 'ava';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  certificateRoles,
  operatorArgs,
  operatorEnvironment,
  operatorNodeFlags,
} from '@metropolis/api';
import { eventuallyDefined, freePort } from '@metropolis/testing';
import { TestCluster } from './test-cluster.js';

const main = join(import.meta.dirname, '..', 'src', 'main.ts');

interface Exit {
  readonly code: number | null;
  readonly stderr: string;
}

function start(args: readonly string[]) {
  // With the node flags and environment the agent adds.
  const child = spawn(
    process.execPath,
    [...operatorNodeFlags, '--import=tsx', '--conditions=source', main, ...args],
    { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...operatorEnvironment } },
  );
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = new Promise<Exit>((resolve) => {
    child.on('exit', (code) => {
      resolve({ code, stderr });
    });
  });
  return { child, exited };
}

test('bad flags are a usage error (exit 2) with a one-line reason', async (t) => {
  const { exited } = start([
    '--tls-ca',
    'a',
    '--tls-cert',
    'b',
    '--tls-key',
    'c',
    '--heartbeat-timeout',
    'soon',
  ]);
  const exit = await exited;
  t.is(exit.code, 2);
  t.regex(exit.stderr, /"soon" is not a duration/);
});

test('it leads, serves /metrics and /healthz, and on SIGTERM releases the lease and exits 0', async (t) => {
  const cluster = await TestCluster.start(t);
  const dir = await mkdtemp(join(tmpdir(), 'operator-main-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const issued = await cluster.controlPlane.ca.issue({
    commonName: 'operator',
    organizations: [certificateRoles.operator],
    usages: ['client'],
  });
  const files = { ca: join(dir, 'ca.pem'), cert: join(dir, 'cert.pem'), key: join(dir, 'key.pem') };
  await writeFile(files.ca, cluster.controlPlane.ca.certificatePem);
  await writeFile(files.cert, issued.certificatePem);
  await writeFile(files.key, await issued.keyPair.privateKeyPem(), { mode: 0o600 });
  const port = await freePort();
  // The command line a node agent writes: the builder both sides share.
  const { child, exited } = start(
    operatorArgs({
      kubeconfig: cluster.controlPlane.kubeconfigPath,
      tls: files,
      identity: 'node-1',
      heartbeatTimeout: '10s',
      metricsListen: `127.0.0.1:${String(port)}`,
      lease: { duration: '3s', renewDeadline: '2s', retryPeriod: '250ms' },
    }),
  );
  t.teardown(() => {
    child.kill('SIGKILL');
    return Promise.resolve();
  });

  await eventuallyDefined('it holds the lease', 30_000, async () =>
    (await cluster.lease()).spec?.holderIdentity === 'node-1' ? true : undefined,
  );
  const scrape = await eventuallyDefined('metrics served', 10_000, async () => {
    const text = await (await fetch(`http://127.0.0.1:${String(port)}/metrics`)).text();
    // Leading and watching: the watch worker runs and answers for its heap.
    return /metropolis_operator_leader 1/.test(text) &&
      /metropolis_operator_watch_worker_heap_bytes\{kind="used"\} [1-9]/.test(text)
      ? text
      : undefined;
  });
  t.regex(scrape, /metropolis_operator_process_cpu_seconds_total/, 'process metrics too');
  t.regex(
    scrape,
    /metropolis_operator_nodejs_heap_size_used_bytes [1-9]/,
    "the main thread's heap beside the worker's",
  );
  const healthz = await fetch(`http://127.0.0.1:${String(port)}/healthz`);
  t.is(healthz.status, 200, 'the liveness endpoint the node agent checks');

  child.kill('SIGTERM');
  const exit = await exited;
  t.is(exit.code, 0, exit.stderr);
  t.is((await cluster.lease()).spec?.holderIdentity, undefined, 'released for a successor');
});
