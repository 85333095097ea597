// The ledger and the lists it signs, as a node keeps them: a revoked serial is in the signed
// list, survives a restart of the CA holder, reaches another node's copy, and an older list
// cannot lift it again.
import test from 'ava';
import { X509Certificate } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NodeLayout } from '@metropolis/api';
import { silentLogger } from '@metropolis/logging';
import { CertificateAuthority, RevocationList } from '@metropolis/pki';
import { CertificateLedger } from './certificate-ledger.js';
import { refuseRemoved } from './removed-nodes.js';
import { RevocationLists } from './revocation-lists.js';

async function layout(t: { teardown: (fn: () => Promise<void>) => void }): Promise<NodeLayout> {
  const dir = await mkdtemp(join(tmpdir(), 'ledger-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const roots = { efivarfs: '', esp: '', systemA: '', systemB: '', disk: '', cmdline: '' };
  const nodeLayout = new NodeLayout({ ...roots, data: join(dir, 'data') });
  await mkdir(nodeLayout.pkiDir, { recursive: true });
  return nodeLayout;
}

test('a revoked certificate is in the signed list, on every node, for good', async (t) => {
  const holder = await layout(t);
  const ca = await CertificateAuthority.create({ commonName: 'test CA' });
  await writeFile(holder.caCertificate, ca.certificatePem);
  const ledger = await CertificateLedger.open(holder, ca);
  const before = await ledger.lists();
  t.is(before.etcd, '', 'no etcd CA, no etcd list');

  const issued = await ca.issue({ commonName: 'operator:n', usages: ['client'] });
  await ledger.record(issued.certificatePem, { nodeId: 'n', kind: 'operator' });
  const serial = new X509Certificate(issued.certificatePem).serialNumber;
  t.false(ledger.revoked(serial));
  await ledger.revoke([serial]);
  t.true(ledger.revoked(serial));
  const after = await ledger.lists();
  t.true((await RevocationList.parse(after.cluster, ca.certificatePem)).revokes(serial));

  const reopened = await CertificateLedger.open(holder, ca);
  t.true(reopened.revoked(serial), 'the ledger is kept on the data partition');
  t.like(reopened.issued[0], { nodeId: 'n', kind: 'operator', ca: 'cluster' });

  const other = await layout(t);
  await writeFile(other.caCertificate, ca.certificatePem);
  const copy = new RevocationLists({ layout: other, log: silentLogger });
  await copy.accept(after);
  t.true(copy.revoked(serial));
  const etcdList = copy.etcdListFor(other.caCertificate);
  const der = await readFile(etcdList);
  t.is(der[0], 0x30, 'etcd gets DER (a SEQUENCE), not PEM');

  await copy.accept(before);
  t.true(copy.revoked(serial), 'an older list does not lift a revocation');
  const restarted = new RevocationLists({ layout: other, log: silentLogger });
  await restarted.load();
  t.true(restarted.revoked(serial), 'the copy is kept on the data partition');
});

test('a node whose node certificate was revoked may not register again', async (t) => {
  const holder = await layout(t);
  const ca = await CertificateAuthority.create({ commonName: 'test CA' });
  const ledger = await CertificateLedger.open(holder, ca);
  const issued = await ca.issue({ commonName: 'n', usages: ['client'] });
  await ledger.record(issued.certificatePem, { nodeId: 'n', kind: 'node' });
  t.notThrows(() => {
    refuseRemoved(ledger, 'n');
  });
  await ledger.revoke([new X509Certificate(issued.certificatePem).serialNumber]);
  t.throws(
    () => {
      refuseRemoved(ledger, 'n');
    },
    { message: /node n was removed from this cluster/ },
  );
});
