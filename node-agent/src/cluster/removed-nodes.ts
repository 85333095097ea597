// A node whose certificates were revoked was removed from the cluster: its key may not register
// again. A machine that comes back is reinstalled, and joins with a new key as a new node.
import { AgentError } from '../errors.js';
import type { CertificateLedger } from './certificate-ledger.js';

export function refuseRemoved(ledger: CertificateLedger, nodeId: string): void {
  const removed = ledger.issued.some(
    (entry) => entry.nodeId === nodeId && entry.kind === 'node' && entry.revokedAt !== undefined,
  );
  if (removed) {
    throw new AgentError(
      'AGENT_CERTIFICATE_REVOKED',
      `node ${nodeId} was removed from this cluster and its certificates revoked: reinstall it to join again`,
    );
  }
}
