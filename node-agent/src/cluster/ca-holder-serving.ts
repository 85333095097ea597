// The serving certificate of a CA holder's registration and credentials servers: issued by its
// own CA with the leaf lifetime, and renewed locally while they serve.
import type { Logger } from '@metropolis/logging';
import { ServingIdentity } from '../rpc/serving-identity.js';
import { renewalDue } from './certificate-lifetimes.js';
import type { ClusterPki } from './cluster-pki.js';
import { runRenewalLoop } from './renewal-loop.js';

export interface CaHolderServing {
  /** Registering nodes have no client certificate yet. */
  readonly registration: ServingIdentity;
  /** Nodes and the owner call with their certificates. */
  readonly credentials: ServingIdentity;
}

export async function caHolderServing(
  pki: ClusterPki,
  nodeId: string,
  address: string,
  log: Logger,
  signal: AbortSignal,
): Promise<CaHolderServing> {
  const issue = async (): Promise<{ certificatePem: string; keyPem: string }> => {
    const issued = await pki.servingCertificate(nodeId, address);
    return { certificatePem: issued.certificatePem, keyPem: await issued.keyPair.privateKeyPem() };
  };
  const first = await issue();
  const clientCaPem = pki.ca.certificatePem;
  const serving = {
    registration: new ServingIdentity({ ...first, clientCaPem, requireClientCertificate: false }),
    credentials: new ServingIdentity({ ...first, clientCaPem, requireClientCertificate: true }),
  };
  void runRenewalLoop(
    {
      name: 'CA holder serving certificate',
      due: () => Promise.resolve(renewalDue(serving.credentials.certificatePem)),
      renew: async () => {
        const next = await issue();
        serving.registration.update(next.certificatePem, next.keyPem);
        serving.credentials.update(next.certificatePem, next.keyPem);
      },
      log,
    },
    signal,
  );
  return serving;
}
