// The launcher behind hack/launch-cluster.sh: a cluster of process nodes on this machine, the
// "Cluster running!" block in Monogon's launch-cluster format, and a clean stop on Ctrl-C.
import { mkdir } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { buildBundle, launchCluster } from '@metropolis/e2e';
import type { MonogonNodeRole } from '@metropolis/api';

const roleNames: Record<string, MonogonNodeRole> = {
  cm: 'ConsensusMember',
  consensusmember: 'ConsensusMember',
  kc: 'KubernetesController',
  kubernetescontroller: 'KubernetesController',
  kw: 'KubernetesWorker',
  kubernetesworker: 'KubernetesWorker',
};

const { values } = parseArgs({
  options: {
    nodes: { type: 'string', default: '3' },
    roles: { type: 'string' },
    dir: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (values.help === true) {
  process.stdout.write(
    'usage: hack/launch-cluster.sh [--nodes N] [--roles ROLE[,ROLE]] [--dir DIR]\n' +
      '  --nodes  number of nodes (default 3); node 0 bootstraps the cluster\n' +
      '  --roles  roles for nodes 1..N-1 once approved (kw, kc, cm or full names)\n',
  );
  process.exit(0);
}
const nodes = Number(values.nodes);
if (!Number.isInteger(nodes) || nodes < 1 || nodes > 13) {
  process.stderr.write('launch-cluster: --nodes must be between 1 and 13\n');
  process.exit(2);
}
const initialRoles = (values.roles ?? '')
  .split(',')
  .filter((role) => role !== '')
  .map((role) => {
    const name = roleNames[role.toLowerCase()];
    if (name === undefined) {
      process.stderr.write(`launch-cluster: unknown role ${role}\n`);
      process.exit(2);
    }
    return name;
  });

const cache = process.env['METROPOLIS_CACHE'] ?? join(homedir(), '.cache', 'metropolis-ts');
const kubeconfigPath = process.env['KUBECONFIG'] ?? join(homedir(), '.kube', 'config');
const kubectl = process.env['METROPOLIS_KUBECTL'] ?? 'kubectl';
const cluster = await launchCluster({
  dir: values.dir ?? join(cache, 'launch'),
  nodes,
  ...(initialRoles.length > 0 ? { initialRoles } : {}),
  binaries: {
    etcd: process.env['METROPOLIS_ETCD'] ?? '',
    kubeApiserver: process.env['METROPOLIS_KUBE_APISERVER'] ?? '',
  },
  kubeconfigPath,
  progress: (line) => process.stderr.write(`Launch: ${line}\n`),
});

let stopping = false;
const stop = (): void => {
  if (stopping) return;
  stopping = true;
  process.stderr.write('Launch: stopping every node...\n');
  cluster.stop().then(
    () => {
      process.stderr.write('Launch: stopped, nothing left running.\n');
      process.exit(0);
    },
    (error: unknown) => {
      process.stderr.write(`Launch: stop failed: ${String(error)}\n`);
      process.exit(1);
    },
  );
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);

// Releases to update the cluster to, for `metroctl update apply` (README: updating the cluster).
const bundles = join(values.dir ?? join(cache, 'launch'), 'bundles');
await mkdir(bundles, { recursive: true });
process.stderr.write('Launch: building update bundles v0.2.0 and v0.3.0 (broken)\n');
const good = await buildBundle(bundles, 'v0.2.0');
const broken = await buildBundle(bundles, 'v0.3.0', { healthCheck: 'fail' });

const endpoints = cluster.endpoints.map((endpoint) => `--endpoints ${endpoint}`).join(' ');
process.stdout.write(
  [
    'Launch: Cluster running!',
    `  To access cluster use: npx metroctl --config ${cluster.configDir} ${endpoints}`,
    `  Or use this handy wrapper: ${join(cluster.configDir, 'metroctl.sh')}`,
    `  To access Kubernetes, use kubectl --context=${cluster.contextName}`,
    `    (the pinned kubectl: ${kubectl} --context=${cluster.contextName})`,
    `  Update bundles: ${good} (v0.2.0), ${broken} (v0.3.0, never healthy)`,
    '  Press Ctrl-C to stop the cluster.',
    '',
  ].join('\n'),
);
// Keeps the event loop alive until a signal arrives.
setInterval(() => undefined, 1 << 30);
