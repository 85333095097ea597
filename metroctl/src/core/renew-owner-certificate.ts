// Renews the owner certificate: a CA-holding node's NodeCredentials service issues a new one for
// the same owner key to a caller presenting the current, unexpired owner certificate.
import { Metadata, type ServiceError } from '@grpc/grpc-js';
import {
  NodeCredentialsClient,
  nodeCredentialsPort,
  type RenewOwnerCertificateResponse,
} from '@metropolis/api';
import { KeyPair, checkCertifiedKey, parseCertificate } from '@metropolis/pki';
import { MetroctlError } from '../errors.js';
import type { OwnerCredentials } from './config-store.js';
import { fromGrpcError } from './grpc-error.js';
import { nodeChannelOptions, ownerChannelCredentials } from './node-channel.js';

export interface RenewOwnerOptions {
  readonly owner: OwnerCredentials;
  /** Address of the CA-holding node (the bootstrap node). */
  readonly address: string;
  /** Its node ID: the certificate it serves must name it. */
  readonly nodeId: string;
  /** @default 15_000 */
  readonly timeoutMs?: number;
}

/** The new owner certificate (PEM), checked to certify the owner key and chain to the CA. */
export async function renewOwnerCertificate(options: RenewOwnerOptions): Promise<string> {
  const { owner, address, nodeId } = options;
  const client = new NodeCredentialsClient(
    `${address}:${String(nodeCredentialsPort)}`,
    ownerChannelCredentials(owner, nodeId),
    nodeChannelOptions(nodeId),
  );
  try {
    const response = await new Promise<RenewOwnerCertificateResponse>((resolve, reject) => {
      client.renewOwnerCertificate(
        {},
        new Metadata(),
        { deadline: Date.now() + (options.timeoutMs ?? 15_000) },
        (error: ServiceError | null, answer?: RenewOwnerCertificateResponse) => {
          if (error) reject(fromGrpcError(error, `renew the owner certificate at ${address}`));
          else if (answer === undefined) reject(new Error('empty response'));
          else resolve(answer);
        },
      );
    });
    const certificate = parseCertificate(response.ownerCertificate);
    const ca = parseCertificate(owner.caPem);
    const signedByCa = await certificate.verify({ publicKey: ca, signatureOnly: true });
    if (!signedByCa) {
      throw new MetroctlError(
        'METROCTL_UNTRUSTED',
        "the renewed owner certificate is not the CA's",
      );
    }
    await checkCertifiedKey(certificate, await KeyPair.fromPrivateKeyPem(owner.keyPem));
    return response.ownerCertificate;
  } finally {
    client.close();
  }
}
