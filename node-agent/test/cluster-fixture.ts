// Test fixture: a cluster founded on a process node as metroctl founds one (Bootstrap over a
// channel trusted on first use), and the owner's Kubernetes client for it.
import { X509Certificate } from 'node:crypto';
import { connect } from 'node:tls';
import { Metadata, credentials, status as grpcStatus } from '@grpc/grpc-js';
import { KubeConfig } from '@kubernetes/client-node';
import { NodeBootstrapClient, nodeManagementPort, type BootstrapResponse } from '@metropolis/api';
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

/** Bootstrap as metroctl does it: trust the node's self-signed certificate on first use. */
export async function bootstrapOnce(
  address: string,
  owner: KeyPair,
): Promise<{ response: BootstrapResponse; servedBy: string }> {
  const ownerPublicKey = Buffer.from(await owner.rawPublicKey());
  const pinned = await fetchCertificate(address);
  const servedBy = new X509Certificate(pinned).subject.replace(/^CN=/, '');
  // Pinned: the self-signed certificate is the only trust anchor of this channel.
  const client = new NodeBootstrapClient(
    `${address}:${String(nodeManagementPort)}`,
    credentials.createSsl(Buffer.from(pinned)),
  );
  try {
    const response = await unary<BootstrapResponse>((callback) =>
      client.bootstrap(
        { ownerPublicKey },
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
): Promise<{ response: BootstrapResponse; servedBy: string }> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await bootstrapOnce(address, owner);
    } catch (error) {
      // The agent may still be starting.
      const code = (error as { code?: unknown }).code;
      if (attempt > 100 || (code !== grpcStatus.UNAVAILABLE && code !== 'ECONNREFUSED'))
        throw error;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}

/** A kubeconfig for the owner the bootstrap `response` certified, with its key. */
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

function b64(pem: string): string {
  return Buffer.from(pem).toString('base64');
}
