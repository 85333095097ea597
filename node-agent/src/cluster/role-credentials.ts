// Where a node gets the certificates of its role services' keys: from its own CA when it holds
// it, otherwise from a CA-holding node's NodeCredentials service, authenticated by its node
// certificate. Both take the same request: public keys in, certificates out.
import { Metadata, credentials, type CallOptions, type ServiceError } from '@grpc/grpc-js';
import {
  NodeCredentialsClient,
  nodeCredentialsPort,
  type IssueRoleCredentialsRequest,
  type RenewNodeCertificateResponse,
  type RoleCredentials,
} from '@metropolis/api';
import { errorMessage } from '@metropolis/errors';
import { AgentError } from '../errors.js';
import type { ClusterPki } from './cluster-pki.js';

/** Issues certificates for the keys of this node's role services the request carries. */
export type RoleCredentialSource = (
  request: IssueRoleCredentialsRequest,
) => Promise<RoleCredentials>;

/** A CA holder issuing for itself, node `nodeId` at `address`. */
export function localCredentials(
  pki: ClusterPki,
  nodeId: string,
  address: string,
): RoleCredentialSource {
  return (request) => pki.roleCredentials(request, nodeId, address);
}

export interface RemoteCredentialsOptions {
  /** Addresses of CA-holding nodes (the node parameters' registration endpoints). */
  readonly endpoints: readonly string[];
  /** The cluster CA and this node's certificate, read for each call (they are renewed). */
  readonly certificates: () => Promise<{ readonly caPem: string; readonly certificatePem: string }>;
  /** This node's key. */
  readonly keyPem: string;
  /** @default 10_000 */
  readonly timeoutMs?: number;
}

type Call<T> = (
  client: NodeCredentialsClient,
  options: CallOptions,
  callback: (error: ServiceError | null, response?: T) => void,
) => unknown;

/** Asks each CA-holding endpoint in turn; the first answer wins. */
async function askCaHolders<T>(
  options: RemoteCredentialsOptions,
  what: string,
  call: Call<T>,
): Promise<T> {
  const failures: string[] = [];
  const { caPem, certificatePem } = await options.certificates();
  for (const endpoint of options.endpoints) {
    const client = new NodeCredentialsClient(
      `${endpoint}:${String(nodeCredentialsPort)}`,
      credentials.createSsl(
        Buffer.from(caPem),
        Buffer.from(options.keyPem),
        Buffer.from(certificatePem),
      ),
    );
    try {
      return await new Promise<T>((resolve, reject) => {
        call(
          client,
          { deadline: Date.now() + (options.timeoutMs ?? 10_000) },
          (error, response) => {
            if (error) reject(error);
            else if (response === undefined) reject(new Error('empty response'));
            else resolve(response);
          },
        );
      });
    } catch (error) {
      failures.push(`${endpoint}: ${errorMessage(error)}`);
    } finally {
      client.close();
    }
  }
  throw new AgentError(
    'AGENT_CREDENTIALS',
    `no CA-holding node issued ${what}: ${failures.join('; ') || 'no endpoints'}`,
  );
}

/** Role credentials from the CA-holding nodes. */
export function remoteCredentials(options: RemoteCredentialsOptions): RoleCredentialSource {
  return (request) =>
    askCaHolders<RoleCredentials>(
      options,
      `credentials for ${request.roles.join(', ')}`,
      (client, callOptions, callback) =>
        client.issueRoleCredentials(request, new Metadata(), callOptions, callback),
    );
}

/** A renewed node certificate (PEM) from the CA-holding nodes, for the current one. */
export function remoteNodeRenewal(options: RemoteCredentialsOptions): () => Promise<string> {
  return async () => {
    const response = await askCaHolders<RenewNodeCertificateResponse>(
      options,
      'a renewed node certificate',
      (client, callOptions, callback) =>
        client.renewNodeCertificate({}, new Metadata(), callOptions, callback),
    );
    return response.nodeCertificate;
  };
}
