// `cluster bootstrap`: trusts an unowned node on first use, asks it to create the cluster with
// our owner key, and keeps what comes back (owner certificate, CA, kubeconfig context).
import { Metadata } from '@grpc/grpc-js';
import {
  NodeBootstrapClient,
  bootstrapProof,
  isNodeId,
  nodeManagementPort,
  type BootstrapRequest,
  type BootstrapResponse,
} from '@metropolis/api';
import type { Logger } from '@metropolis/logging';
import { errorMessage } from '@metropolis/errors';
import { MetroctlError } from '../errors.js';
import { certificateFacts, type CertificateFacts } from './certificate-facts.js';
import type { ConfigStore } from './config-store.js';
import {
  checkKubernetesEndpoint,
  configureKubernetes,
  type KubernetesConfiguration,
} from './configure-kubernetes.js';
import { grpcTarget, parseEndpoint, type Endpoint } from './endpoint.js';
import { fromGrpcError } from './grpc-error.js';
import { nodeChannelOptions, pinnedCertificateCredentials } from './node-channel.js';
import { nodeIdFromPublicKey } from './node-id.js';
import { fetchPeerCertificate } from './peer-certificate.js';

export interface BootstrapClusterOptions {
  /** The unowned node: ADDR or ADDR:PORT (default port 7839). */
  readonly endpoint: string;
  /** Refuse the node unless this is its ID. */
  readonly expectedNodeId?: string;
  readonly config: ConfigStore;
  readonly kubeconfigPath: string;
  /** Cluster, user and context name in the kubeconfig. */
  readonly contextName: string;
  /**
   * How long the node may take: it starts etcd and kube-apiserver before it answers.
   * @default 120_000
   */
  readonly timeoutMs?: number;
  readonly logger: Logger;
  /** Lines for the human at the terminal (stderr): what is being trusted. */
  readonly notice: (line: string) => void;
}

export interface BootstrappedCluster {
  readonly nodeId: string;
  /** sha256 of the node certificate that was trusted on first use. */
  readonly certificateSha256: string;
  /** Whether this bootstrap generated the owner key (false: an existing key was reused). */
  readonly ownerKeyCreated: boolean;
  readonly kubernetesEndpoint: string;
  readonly kubernetes: KubernetesConfiguration;
}

const probeTimeoutMs = 10_000;

/**
 * Bootstraps a cluster on the node at `endpoint` and makes `config` its owner.
 *
 * Trust on first use: the node's self-signed certificate is fetched first; its common name
 * must be the node ID derived from the key it certifies (and `expectedNodeId`, if given), and
 * the Bootstrap call then accepts that exact certificate only.
 */
export async function bootstrapCluster(
  options: BootstrapClusterOptions,
): Promise<BootstrappedCluster> {
  const { config, logger } = options;
  if (options.expectedNodeId !== undefined && !isNodeId(options.expectedNodeId)) {
    throw new MetroctlError(
      'METROCTL_USAGE',
      `--node-id "${options.expectedNodeId}" is not a node ID (metropolis- and 32 hex digits)`,
    );
  }
  const endpoint = parseEndpoint(options.endpoint, nodeManagementPort);
  if (await config.hasOwnerCertificate()) {
    const owned = await config.clusterConfig().then(
      (cluster) => ` (bootstrapped on ${cluster.nodeId})`,
      () => '',
    );
    throw new MetroctlError(
      'METROCTL_CONFIG',
      `${config.paths.dir} already owns a cluster${owned}: pass another --config to bootstrap a new one`,
    );
  }

  const node = await trustOnFirstUse(endpoint, options.expectedNodeId);
  options.notice(
    `Trusting node ${node.commonName} (certificate sha256 ${node.sha256}) on first use`,
  );

  const { keyPair, created } = await config.loadOrCreateOwnerKey();
  logger.debug('owner key', { path: config.paths.ownerKey, created });
  const ownerPublicKey = await keyPair.rawPublicKey();

  logger.info('bootstrapping cluster: the node starts etcd and Kubernetes', {
    node: node.commonName,
  });
  // Proves to the node that we hold a key its parameters list, for this node only.
  const ownerSignature = await keyPair.sign(bootstrapProof(node.commonName));
  const response = await callBootstrap(
    endpoint,
    node,
    { ownerPublicKey: Buffer.from(ownerPublicKey), ownerSignature: Buffer.from(ownerSignature) },
    options.timeoutMs ?? 120_000,
  );
  const { caPem, ownerCertificatePem, kubernetesEndpoint } = checkResponse(
    response,
    node.commonName,
    ownerPublicKey,
  );

  try {
    await config.saveCluster({
      ownerCertificatePem,
      caPem,
      config: { endpoints: [options.endpoint], nodeId: node.commonName, kubernetesEndpoint },
    });
  } catch (error) {
    // The node will not issue the certificate again: hand it to the human rather than lose it.
    options.notice(`The cluster was bootstrapped, but its credentials could not be saved.`);
    options.notice(`Save these as ${config.paths.ownerCertificate} and ${config.paths.ca}:`);
    options.notice(ownerCertificatePem.trimEnd());
    options.notice(caPem.trimEnd());
    throw error;
  }

  let kubernetes: KubernetesConfiguration;
  try {
    kubernetes = await configureKubernetes({
      config,
      kubeconfigPath: options.kubeconfigPath,
      contextName: options.contextName,
    });
  } catch (error) {
    if (!(error instanceof MetroctlError)) throw error;
    throw new MetroctlError(
      error.code,
      `cluster bootstrapped and credentials saved in ${config.paths.dir}, but the kubeconfig ` +
        `was not written (${error.message}): retry with metroctl k8s configure`,
      { cause: error },
    );
  }
  return {
    nodeId: node.commonName,
    certificateSha256: node.sha256,
    ownerKeyCreated: created,
    kubernetesEndpoint,
    kubernetes,
  };
}

/** Fetches the node's certificate and checks that it names the node that holds its key. */
async function trustOnFirstUse(
  endpoint: Endpoint,
  expectedNodeId: string | undefined,
): Promise<CertificateFacts> {
  const peer = await fetchPeerCertificate(endpoint, probeTimeoutMs);
  const where = grpcTarget(endpoint);
  const { certificate } = peer;
  if (certificate.issuer !== certificate.subject || !certificate.verify(certificate.publicKey)) {
    // A node that is part of a cluster serves a certificate from the cluster CA.
    throw new MetroctlError(
      'METROCTL_REJECTED',
      `the node at ${where} already belongs to a cluster: its certificate for ` +
        `"${peer.commonName}" is issued by "${certificate.issuer.replaceAll('\n', ', ')}"`,
    );
  }
  if (peer.ed25519PublicKey === undefined) {
    throw new MetroctlError(
      'METROCTL_UNTRUSTED',
      `the node at ${where} presents a certificate without an Ed25519 key: not a node`,
    );
  }
  const keyNodeId = nodeIdFromPublicKey(peer.ed25519PublicKey);
  if (peer.commonName !== keyNodeId) {
    throw new MetroctlError(
      'METROCTL_UNTRUSTED',
      `the node at ${where} presents a certificate for "${peer.commonName}", but its key ` +
        `belongs to ${keyNodeId}: refusing to trust it`,
    );
  }
  if (expectedNodeId !== undefined && expectedNodeId !== keyNodeId) {
    throw new MetroctlError(
      'METROCTL_UNTRUSTED',
      `the node at ${where} is ${keyNodeId}, not ${expectedNodeId} (--node-id): refusing to trust it`,
    );
  }
  return peer;
}

function callBootstrap(
  endpoint: Endpoint,
  node: CertificateFacts,
  request: BootstrapRequest,
  timeoutMs: number,
): Promise<BootstrapResponse> {
  const client = new NodeBootstrapClient(
    grpcTarget(endpoint),
    pinnedCertificateCredentials(node),
    nodeChannelOptions(node.commonName),
  );
  return new Promise<BootstrapResponse>((resolve, reject) => {
    client.bootstrap(
      request,
      new Metadata(),
      { deadline: Date.now() + timeoutMs },
      (error, response) => {
        if (error) reject(fromGrpcError(error, `bootstrap a cluster on ${node.commonName}`));
        else resolve(response);
      },
    );
  }).finally(() => {
    client.close();
  });
}

/** Checks that the answer certifies our key under the returned CA before anything is saved. */
function checkResponse(
  response: BootstrapResponse,
  nodeId: string,
  ownerPublicKey: Uint8Array,
): { caPem: string; ownerCertificatePem: string; kubernetesEndpoint: string } {
  const malformed = (reason: string): MetroctlError =>
    new MetroctlError('METROCTL_FAILED', `node ${nodeId} answered the bootstrap badly: ${reason}`);
  if (response.nodeId !== nodeId) {
    throw new MetroctlError(
      'METROCTL_UNTRUSTED',
      `the node trusted as ${nodeId} answered as ${response.nodeId}`,
    );
  }
  let ca: CertificateFacts;
  let owner: CertificateFacts;
  try {
    ca = certificateFacts(response.caCertificate, 'the cluster CA');
    owner = certificateFacts(response.ownerCertificate, 'the owner certificate');
  } catch (error) {
    throw malformed(errorMessage(error));
  }
  if (!ca.certificate.ca) throw malformed('the cluster CA certificate is not a CA');
  if (!owner.certificate.verify(ca.certificate.publicKey)) {
    throw malformed('the owner certificate is not signed by the cluster CA');
  }
  const certified = owner.ed25519PublicKey;
  if (certified === undefined || !Buffer.from(certified).equals(Buffer.from(ownerPublicKey))) {
    throw malformed('the owner certificate does not certify our owner key');
  }
  let kubernetesEndpoint: string;
  try {
    kubernetesEndpoint = checkKubernetesEndpoint(response.kubernetesEndpoint);
  } catch (error) {
    throw malformed(errorMessage(error));
  }
  return { caPem: ca.pem, ownerCertificatePem: owner.pem, kubernetesEndpoint };
}
