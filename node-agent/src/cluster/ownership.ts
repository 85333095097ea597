// Whether this node belongs to a cluster: one marker file, written atomically after everything
// of a bootstrap or join is durable. A power cut before it leaves leftovers that nobody can use
// yet (no owner holds a certificate of an unfinished bootstrap; an unfinished join only had the
// cluster's public CA and, perhaps, its own certificate), so the node starts over from them.
import { X509Certificate } from 'node:crypto';
import { mkdir, open, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { NodeLayout } from '@metropolis/api';
import type { Logger } from '@metropolis/logging';
import { writeFileAtomic } from '@metropolis/process';
import type { NodeIdentity } from '../identity/node-identity.js';
import { pathExists } from '../storage/path-exists.js';

/** The first step of a bootstrap or join: what follows until {@link markOwned} is unfinished. */
export async function markUnfinished(layout: NodeLayout): Promise<void> {
  await mkdir(layout.pkiDir, { recursive: true, mode: 0o700 });
  await writeFileAtomic(unfinishedMarker(layout), '', { mode: 0o600 });
}

/** Records that the node belongs to a cluster: the last step of a bootstrap or join. */
export async function markOwned(layout: NodeLayout): Promise<void> {
  // The files written before (flushed) are durable once their directory entries are.
  const pki = await open(layout.pkiDir, 'r');
  try {
    await pki.sync();
  } finally {
    await pki.close();
  }
  await writeFileAtomic(layout.ownedMarker, `${new Date().toISOString()}\n`, { mode: 0o600 });
  await rm(unfinishedMarker(layout), { force: true });
}

function unfinishedMarker(layout: NodeLayout): string {
  return join(layout.pkiDir, 'unfinished');
}

/**
 * Settles the state a boot finds: true if the node is owned. Cluster files without the marker
 * are removed (the node is unowned again), unless they are a complete node of an agent older
 * than the marker (no unfinished mark, and a node certificate the CA issued for this node's
 * key), which gets its marker.
 */
export async function settleOwnership(
  layout: NodeLayout,
  identity: NodeIdentity,
  log: Logger,
): Promise<boolean> {
  if (await pathExists(layout.ownedMarker)) return true;
  if (!(await pathExists(layout.pkiDir))) return false;
  const unfinished = await pathExists(unfinishedMarker(layout));
  if (!unfinished && (await certifiesThisNode(layout, identity))) {
    log.info('cluster files complete without an ownership marker: marking the node owned');
    await markOwned(layout);
    return true;
  }
  log.warn('unfinished bootstrap or join (power cut?): removing its files and starting over', {
    pki: layout.pkiDir,
  });
  // What a bootstrap or join writes before the marker; the node identity stays.
  await Promise.all(
    [layout.pkiDir, layout.etcdData, layout.roleConfig, layout.controlPlaneRun].map((path) =>
      rm(path, { recursive: true, force: true }),
    ),
  );
  return false;
}

/** Whether the node certificate on disk is the cluster CA's certificate for this node's key. */
async function certifiesThisNode(layout: NodeLayout, identity: NodeIdentity): Promise<boolean> {
  try {
    const [caPem, nodePem] = await Promise.all([
      readFile(layout.caCertificate, 'utf8'),
      readFile(layout.nodeCertificate, 'utf8'),
    ]);
    const ca = new X509Certificate(caPem);
    const node = new X509Certificate(nodePem);
    const ownKey = Buffer.from(await identity.keyPair.rawPublicKey());
    const certified = node.publicKey.export({ format: 'jwk' }).x;
    return (
      node.verify(ca.publicKey) &&
      certified !== undefined &&
      Buffer.from(certified, 'base64url').equals(ownKey)
    );
  } catch {
    return false;
  }
}
