// What joining a cluster leaves on a node's data partition, written before its first boot so a
// test node comes up owned: the node key, the cluster CA and the node's certificate, at the
// paths the agent's layout contract (@metropolis/api NodeLayout) names.
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { certificateRoles, nodeIdOf, type NodeLayout } from '@metropolis/api';
import { KeyPair, type CertificateAuthority } from '@metropolis/pki';

/** Writes a fresh node key and a node certificate for `address` from `ca`; returns the node ID. */
export async function preseedNode(
  layout: NodeLayout,
  ca: CertificateAuthority,
  address: string,
): Promise<string> {
  const nodeKey = await KeyPair.generate();
  const nodeId = nodeIdOf(await nodeKey.rawPublicKey());
  await mkdir(dirname(layout.nodeKey), { recursive: true });
  await mkdir(layout.pkiDir, { recursive: true });
  await writeFile(layout.nodeKey, await nodeKey.privateKeyPem(), { mode: 0o600 });
  await writeFile(layout.caCertificate, ca.certificatePem);
  await writeFile(
    layout.nodeCertificate,
    await ca.certify(nodeKey.publicKey, {
      commonName: nodeId,
      organizations: [certificateRoles.node],
      usages: ['server', 'client'],
      hosts: [address],
    }),
  );
  return nodeId;
}
