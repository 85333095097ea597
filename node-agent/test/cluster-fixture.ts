// Test fixture: a cluster founded on a process node as metroctl founds one (Bootstrap over a
// channel trusted on first use, proving possession of an owner key the node's parameters list),
// and the owner's Kubernetes client for it.
import { X509Certificate } from 'node:crypto';
import { access } from 'node:fs/promises';
import { connect } from 'node:tls';
import { Metadata, credentials, status as grpcStatus } from '@grpc/grpc-js';
import { KubeConfig } from '@kubernetes/client-node';
import {
  NodeBootstrapClient,
  bootstrapProof,
  nodeManagementPort,
  type BootstrapResponse,
} from '@metropolis/api';
import type { KeyPair } from '@metropolis/pki';
import { unary } from './fixture-node.js';

/** The certificate a TLS server presents, fetched without verifying it (first use). */
export function fetchCertificate(address: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(
      { host: address, port: nodeManagementPort, rejectUnauthorized: false },
      () => {
        const der = socket.getPeerCertificate().raw;
        socket.destroy();
        resolve(new X509Certificate(der).toString());
      },
    );
    socket.once('error', reject);
  });
}

/**
 * Bootstrap as metroctl does it: trust the node's self-signed certificate on first use, and
 * prove possession of the owner key (here signed by `signer`, to forge a proof).
 */
export async function bootstrapOnce(
  address: string,
  owner: KeyPair,
  signer: KeyPair = owner,
): Promise<{ response: BootstrapResponse; servedBy: string }> {
  const ownerPublicKey = Buffer.from(await owner.rawPublicKey());
  const pinned = await fetchCertificate(address);
  const servedBy = new X509Certificate(pinned).subject.replace(/^CN=/, '');
  const ownerSignature = Buffer.from(await signer.sign(bootstrapProof(servedBy)));
  // Pinned: the self-signed certificate is the only trust anchor of this channel.
  const client = new NodeBootstrapClient(
    `${address}:${String(nodeManagementPort)}`,
    credentials.createSsl(Buffer.from(pinned)),
  );
  try {
    const response = await unary<BootstrapResponse>((callback) =>
      client.bootstrap(
        { ownerPublicKey, ownerSignature },
        new Metadata(),
        { deadline: Date.now() + 150_000 },
        callback,
      ),
    );
    return { response, servedBy };
  } finally {
    client.close();
  }
}

/** {@link bootstrapOnce}, retried while the agent is still starting. */
export async function bootstrap(
  address: string,
  owner: KeyPair,
  signer: KeyPair = owner,
): Promise<{ response: BootstrapResponse; servedBy: string }> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await bootstrapOnce(address, owner, signer);
    } catch (error) {
      // The agent may still be starting.
      const code = (error as { code?: unknown }).code;
      if (attempt > 100 || (code !== grpcStatus.UNAVAILABLE && code !== 'ECONNREFUSED'))
        throw error;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}

/** Node parameters that let only `owner` bootstrap the node. */
export async function ownedBy(owner: KeyPair): Promise<Record<string, unknown>> {
  return { bootstrap: { ownerPublicKeys: [await owner.publicKeyPem()] } };
}

/** A kubeconfig of the owner for the cluster `response` describes. */
export function ownerKubeConfig(response: BootstrapResponse, ownerKeyPem: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [
      { name: 'c', server: response.kubernetesEndpoint, caData: b64(response.caCertificate) },
    ],
    users: [{ name: 'owner', certData: b64(response.ownerCertificate), keyData: b64(ownerKeyPem) }],
    contexts: [{ name: 'c', cluster: 'c', user: 'owner' }],
    currentContext: 'c',
  });
  return kc;
}

export function b64(pem: string): string {
  return Buffer.from(pem).toString('base64');
}

export function pathExists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

/** Agent flags that give a test node the real control-plane binaries (hack/build-binaries.sh --env). */
export const controlPlaneArgs: readonly string[] = [
  '--etcd',
  process.env['METROPOLIS_ETCD'] ?? '',
  '--kube-apiserver',
  process.env['METROPOLIS_KUBE_APISERVER'] ?? '',
];
