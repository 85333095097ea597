// Which certificates the CA holder revokes: all of a deleted or DECOMMISSIONED node's, a
// controller's when it leaves KubernetesController, an etcd member's only once it left etcd's
// member list; never the CA holder's own nor the owner's.
import test from 'ava';
import type { CertificateKind, IssuedCertificate } from './certificate-ledger.js';
import type { NodeView } from './operator-bindings.js';
import { serialsToRevoke } from './revocation-controller.js';

const self = 'metropolis-self';
const n = 'metropolis-n';

function issued(nodeId: string, kinds: readonly CertificateKind[]): IssuedCertificate[] {
  return kinds.map((kind) => ({
    serial: `${nodeId}/${kind}`,
    nodeId,
    kind,
    ca: 'cluster',
    notAfter: '9999-12-31T23:59:59.000Z',
  }));
}

const everything: readonly CertificateKind[] = [
  'node',
  'etcd',
  'kube-apiserver',
  'kube-apiserver-etcd-client',
  'operator',
];
const ledger = [
  ...issued(self, ['node', 'serving', 'admin', 'etcd', 'operator']),
  ...issued('', ['owner']),
  ...issued(n, everything),
];
const selfNode: NodeView = {
  nodeId: self,
  roles: ['ConsensusMember', 'KubernetesController'],
  decommissioned: false,
};

function revoked(nodes: NodeView[], members: string[] | undefined): string[] {
  return serialsToRevoke(ledger, [selfNode, ...nodes], members, self).sort();
}

test('a node with its roles keeps every certificate', (t) => {
  const roles = ['ConsensusMember', 'KubernetesController'];
  t.deepEqual(revoked([{ nodeId: n, roles, decommissioned: false }], [self, n]), []);
});

test('a deleted node loses every certificate, its etcd one once its member is gone', (t) => {
  t.deepEqual(revoked([], [self, n]), [
    `${n}/kube-apiserver`,
    `${n}/kube-apiserver-etcd-client`,
    `${n}/node`,
    `${n}/operator`,
  ]);
  t.deepEqual(revoked([], [self]), [...everything].map((kind) => `${n}/${kind}`).sort());
});

test('DECOMMISSIONED counts as deleted', (t) => {
  const roles = ['ConsensusMember', 'KubernetesController'];
  t.deepEqual(
    revoked([{ nodeId: n, roles, decommissioned: true }], [self]),
    [...everything].map((kind) => `${n}/${kind}`).sort(),
  );
});

test('a node that left KubernetesController loses its controller certificates only', (t) => {
  t.deepEqual(
    revoked([{ nodeId: n, roles: ['ConsensusMember'], decommissioned: false }], [self, n]),
    [`${n}/kube-apiserver`, `${n}/kube-apiserver-etcd-client`, `${n}/operator`],
  );
});

test('an etcd certificate goes only once the role and the member are both gone', (t) => {
  const without = { nodeId: n, roles: [], decommissioned: false };
  t.false(revoked([without], [self, n]).includes(`${n}/etcd`), 'still a member');
  t.true(revoked([without], [self]).includes(`${n}/etcd`), 'member removed');
  t.false(revoked([without], undefined).includes(`${n}/etcd`), 'etcd did not answer');
  const joining = { nodeId: n, roles: ['ConsensusMember'], decommissioned: false };
  t.false(revoked([joining], [self]).includes(`${n}/etcd`), 'not added as a member yet');
});

test('nothing already revoked is revoked again', (t) => {
  const once = ledger.map((entry) =>
    entry.nodeId === n ? { ...entry, revokedAt: '2026-01-01T00:00:00.000Z' } : entry,
  );
  t.deepEqual(serialsToRevoke(once, [selfNode], [self], self), []);
});
