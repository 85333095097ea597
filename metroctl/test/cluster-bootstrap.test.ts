// `metroctl cluster bootstrap` against an in-test NodeBootstrap server with a self-signed
// certificate: trust on first use, --node-id pinning, refusals, and the files and kubeconfig
// it writes, which then really reach a kube-apiserver with the owner's Ed25519 certificate.
import test, { type ExecutionContext } from 'ava';
import { spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { copyFile, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { bootstrapProof } from '@metropolis/api';
import { CertificateAuthority, KeyPair, verifyEd25519 } from '@metropolis/pki';
import { ControlPlane, controlPlaneBinariesFrom, freePort } from '@metropolis/testing';
import { parse } from 'yaml';
import { FakeBootstrapNode, type FakeNodeOptions } from './fake-bootstrap-node.js';
import { installMonogonNodeCrd } from './monogon-node-fixture.js';
import { runMetroctl } from './run-metroctl.js';

interface Sandbox {
  home: string;
  config: string;
  kubeconfig: string;
}

async function sandbox(t: ExecutionContext): Promise<Sandbox> {
  const home = await mkdtemp(join(tmpdir(), 'metroctl-bootstrap-'));
  t.teardown(() => rm(home, { recursive: true, force: true }));
  return { home, config: join(home, 'metroctl'), kubeconfig: join(home, 'kubeconfig') };
}

async function fakeNode(
  t: ExecutionContext,
  options?: Partial<FakeNodeOptions>,
): Promise<FakeBootstrapNode> {
  const node = await FakeBootstrapNode.start({
    ca: options?.ca ?? (await CertificateAuthority.create({ commonName: 'test cluster CA' })),
    kubernetesEndpoint: options?.kubernetesEndpoint ?? 'https://127.0.0.1:6443',
    ...options,
  });
  t.teardown(() => node.stop());
  return node;
}

function bootstrap(box: Sandbox, ...args: string[]) {
  return runMetroctl(
    ['--config', box.config, '--kubeconfig', box.kubeconfig, 'cluster', 'bootstrap', ...args],
    box.home,
  );
}

const modeOf = async (path: string): Promise<number> => (await stat(path)).mode & 0o777;

const exists = (path: string): Promise<boolean> =>
  stat(path).then(
    () => true,
    () => false,
  );

interface Kubeconfig {
  clusters: { name: string; cluster: Record<string, string> }[];
  users: { name: string; user: Record<string, string> }[];
  contexts: { name: string; context: Record<string, string> }[];
  'current-context': string;
}

test('bootstrap trusts the node on first use, saves the credentials and a working context', async (t) => {
  const controlPlane = await ControlPlane.start({
    binaries: controlPlaneBinariesFrom(process.env),
  });
  t.teardown(() => controlPlane.stop());
  const admin = new KubeConfig();
  admin.loadFromString(await controlPlane.kubeconfig());
  await installMonogonNodeCrd(admin);
  // The fake node hands out certificates of the harness CA, so its kube-apiserver accepts them.
  const node = await fakeNode(t, {
    ca: controlPlane.ca,
    kubernetesEndpoint: controlPlane.server,
    ownerGroups: ['system:masters'],
  });
  const box = await sandbox(t);
  // A kubeconfig with someone's context already in it.
  await copyFile(controlPlane.kubeconfigPath, box.kubeconfig);

  const run = await bootstrap(box, '--endpoint', node.address);
  t.is(run.code, 0, run.stderr);
  t.true(
    run.stderr.includes(
      `Trusting node ${node.id} (certificate sha256 ${node.certificateSha256}) on first use\n`,
    ),
    run.stderr,
  );
  t.regex(run.stdout, new RegExp(`^Bootstrapped a cluster on node ${node.id}\\. You own it\\.\n`));
  t.regex(run.stdout, /owner key {5}.*owner-key\.pem \(new\)/);

  // The node was asked once, with the raw public key of the owner key now on disk.
  const ownerKey = await KeyPair.fromPrivateKeyPem(
    await readFile(join(box.config, 'owner-key.pem'), 'utf8'),
  );
  t.is(node.calls.length, 1);
  t.deepEqual(new Uint8Array(node.calls[0] ?? []), await ownerKey.rawPublicKey());
  t.true(
    await verifyEd25519(
      await ownerKey.rawPublicKey(),
      bootstrapProof(node.id),
      node.signatures[0] ?? Buffer.alloc(0),
    ),
    'the call proves possession of the owner key, for this node',
  );

  t.is(await modeOf(box.config), 0o700);
  t.is(await modeOf(join(box.config, 'owner-key.pem')), 0o600);
  const owner = new X509Certificate(await readFile(join(box.config, 'owner.pem'), 'utf8'));
  const ca = new X509Certificate(await readFile(join(box.config, 'ca.pem'), 'utf8'));
  t.true(owner.verify(ca.publicKey));
  t.is(ca.fingerprint256, new X509Certificate(controlPlane.ca.certificatePem).fingerprint256);
  t.deepEqual(JSON.parse(await readFile(join(box.config, 'config.json'), 'utf8')), {
    endpoints: [node.address],
    nodeId: node.id,
    kubernetesEndpoint: controlPlane.server,
  });

  const kubeconfig = parse(await readFile(box.kubeconfig, 'utf8')) as Kubeconfig;
  t.deepEqual(
    kubeconfig.contexts.map((context) => context.name),
    ['harness', 'metroctl'],
  );
  t.is(kubeconfig['current-context'], 'harness', 'the current context is left alone');
  t.deepEqual(kubeconfig.clusters[1], {
    name: 'metroctl',
    cluster: { server: controlPlane.server, 'certificate-authority': join(box.config, 'ca.pem') },
  });
  t.deepEqual(kubeconfig.users[1], {
    name: 'metroctl',
    user: {
      'client-certificate': join(box.config, 'owner.pem'),
      'client-key': join(box.config, 'owner-key.pem'),
    },
  });

  // The new context reaches the cluster with the owner's Ed25519 certificate: from metroctl...
  const describe = await runMetroctl(
    ['--kubeconfig', box.kubeconfig, 'node', 'describe'],
    box.home,
  );
  t.is(describe.code, 0, describe.stderr);
  t.regex(describe.stdout, /^NODE ID {3}STATE/);
  // ...and from kubectl (Go's TLS stack), when the binaries include it.
  const kubectl = process.env.METROPOLIS_KUBECTL;
  if (kubectl !== undefined) {
    const get = spawnSync(
      kubectl,
      ['--kubeconfig', box.kubeconfig, '--context', 'metroctl', 'get', 'monogonnodes'],
      { encoding: 'utf8' },
    );
    t.is(get.status, 0, get.stderr);
  }

  // A config directory that owns a cluster is never overwritten by a second bootstrap.
  const again = await bootstrap(box, '--endpoint', node.address);
  t.is(again.code, 9);
  t.regex(again.stderr, new RegExp(`already owns a cluster \\(bootstrapped on ${node.id}\\)`));
  t.is(node.calls.length, 1);
});

test('--node-id pins the node: another ID is refused before anything is sent', async (t) => {
  const node = await fakeNode(t);
  const box = await sandbox(t);
  const other = `metropolis-${'0'.repeat(32)}`;
  const refused = await bootstrap(box, '--endpoint', node.address, '--node-id', other);
  t.is(refused.code, 7);
  t.is(refused.stdout, '');
  t.is(
    refused.stderr,
    `metroctl: the node at ${node.address} is ${node.id}, not ${other} (--node-id): ` +
      'refusing to trust it\n',
  );
  t.is(node.calls.length, 0);
  t.false(await exists(box.config), 'no owner key is created for a node that is not trusted');

  const accepted = await bootstrap(box, '--endpoint', node.address, '--node-id', node.id);
  t.is(accepted.code, 0, accepted.stderr);
  t.is(node.calls.length, 1);
  t.true(await exists(join(box.config, 'owner.pem')));
  const kubeconfig = parse(await readFile(box.kubeconfig, 'utf8')) as Kubeconfig;
  t.is(kubeconfig['current-context'], 'metroctl', 'a new kubeconfig gets it as current context');

  const malformed = await bootstrap(box, '--endpoint', node.address, '--node-id', 'node-1');
  t.is(malformed.code, 2);
});

test('a certificate that does not name the node ID of its own key is refused', async (t) => {
  const node = await fakeNode(t, { commonName: () => `metropolis-${'a'.repeat(32)}` });
  const box = await sandbox(t);
  const run = await bootstrap(box, '--endpoint', node.address);
  t.is(run.code, 7);
  t.regex(
    run.stderr,
    /presents a certificate for "metropolis-a{32}", but its key belongs to metropolis-/,
  );
  t.is(node.calls.length, 0);
});

test('a node that refuses is reported (exit 6); the owner key is kept for a retry', async (t) => {
  const node = await fakeNode(t);
  node.answer = 'already-bootstrapped';
  const box = await sandbox(t);
  const refused = await bootstrap(box, '--endpoint', node.address);
  t.is(refused.code, 6);
  t.regex(
    refused.stderr,
    new RegExp(
      `metroctl: cannot bootstrap a cluster on ${node.id}: this node already belongs to a ` +
        'cluster \\(FAILED_PRECONDITION\\)',
    ),
  );
  t.false(await exists(join(box.config, 'owner.pem')));
  const key = await readFile(join(box.config, 'owner-key.pem'), 'utf8');

  node.answer = 'certificate';
  const retried = await bootstrap(box, '--endpoint', node.address);
  t.is(retried.code, 0, retried.stderr);
  t.regex(retried.stdout, /owner-key\.pem\n/, 'the key is reused, not new');
  t.is(await readFile(join(box.config, 'owner-key.pem'), 'utf8'), key);
  t.deepEqual(node.calls[0], node.calls[1]);
});

test('an answer that does not certify our key is not saved (exit 1)', async (t) => {
  const node = await fakeNode(t);
  node.answer = 'foreign-certificate';
  const box = await sandbox(t);
  const run = await bootstrap(box, '--endpoint', node.address);
  t.is(run.code, 1);
  t.regex(run.stderr, /the owner certificate does not certify our owner key/);
  t.false(await exists(join(box.config, 'owner.pem')));
  t.false(await exists(box.kubeconfig));
});

test('an unreachable node exits 3; no endpoint is a usage error', async (t) => {
  const box = await sandbox(t);
  const port = await freePort();
  const run = await bootstrap(box, '--endpoint', `127.0.0.1:${String(port)}`);
  t.is(run.code, 3);
  t.regex(run.stderr, new RegExp(`cannot reach 127\\.0\\.0\\.1:${String(port)}: .*ECONNREFUSED`));

  const usage = await bootstrap(box);
  t.is(usage.code, 2);
  t.is(usage.stderr, 'metroctl: cluster bootstrap needs --endpoint ADDR\n');
});

test('k8s configure (re)writes the context from the config directory', async (t) => {
  const node = await fakeNode(t);
  const box = await sandbox(t);
  t.is((await bootstrap(box, '--endpoint', node.address)).code, 0);
  await rm(box.kubeconfig);
  const k8s = (...args: string[]) =>
    runMetroctl(
      ['--config', box.config, '--kubeconfig', box.kubeconfig, ...args, 'k8s', 'configure'],
      box.home,
    );

  const restored = await k8s();
  t.is(restored.code, 0, restored.stderr);
  t.deepEqual(restored.stdout.split('\n'), [
    `Wrote context metroctl (https://127.0.0.1:6443) in ${box.kubeconfig}, now current.`,
    'Next: kubectl --context=metroctl get monogonnodes',
    '',
  ]);

  const other = await k8s('--context', 'other', '--endpoints', '10.0.0.9');
  t.is(other.code, 0, other.stderr);
  const kubeconfig = parse(await readFile(box.kubeconfig, 'utf8')) as Kubeconfig;
  t.deepEqual(
    kubeconfig.clusters.map((cluster) => [cluster.name, cluster.cluster.server]),
    [
      ['metroctl', 'https://127.0.0.1:6443'],
      ['other', 'https://10.0.0.9:6443'],
    ],
  );
  t.is(kubeconfig['current-context'], 'metroctl');

  const rewritten = await k8s();
  t.regex(rewritten.stdout, /^Rewrote context metroctl/);

  const unowned = await runMetroctl(
    ['--config', join(box.home, 'empty'), '--kubeconfig', box.kubeconfig, 'k8s', 'configure'],
    box.home,
  );
  t.is(unowned.code, 9);
  t.regex(unowned.stderr, /no owner certificate at .*: bootstrap a cluster first/);

  await writeFile(join(box.config, 'ca.pem'), 'not a certificate\n');
  const damaged = await k8s();
  t.is(damaged.code, 9);
  t.is(damaged.stderr, `metroctl: ${join(box.config, 'ca.pem')} is not a PEM X.509 certificate\n`);
});
