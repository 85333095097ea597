// Where a node gets the certificates of its role services' keys: from its own CA when it holds
// it, otherwise from a CA-holding node's NodeCredentials service, authenticated by its node
// certificate. Both take the same request: public keys in, certificates out.
import { Metadata, credentials, type ServiceError } from '@grpc/grpc-js';
import {
  NodeCredentialsClient,
  nodeCredentialsPort,
  type IssueRoleCredentialsRequest,
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
  readonly caPem: string;
  /** This node's certificate and key. */
  readonly certificatePem: string;
  readonly keyPem: string;
  /** @default 10_000 */
  readonly timeoutMs?: number;
}

/** Asks each endpoint in turn; the first answer wins. */
export function remoteCredentials(options: RemoteCredentialsOptions): RoleCredentialSource {
  return async (request) => {
    const failures: string[] = [];
    for (const endpoint of options.endpoints) {
      const client = new NodeCredentialsClient(
        `${endpoint}:${String(nodeCredentialsPort)}`,
        credentials.createSsl(
          Buffer.from(options.caPem),
          Buffer.from(options.keyPem),
          Buffer.from(options.certificatePem),
        ),
      );
      try {
        return await new Promise<RoleCredentials>((resolve, reject) => {
          client.issueRoleCredentials(
            request,
            new Metadata(),
            { deadline: Date.now() + (options.timeoutMs ?? 10_000) },
            (error: ServiceError | null, response?: RoleCredentials) => {
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
      `no CA-holding node issued credentials for ${request.roles.join(', ')}: ${failures.join('; ') || 'no endpoints'}`,
    );
  };
}
