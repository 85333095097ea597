// Where a node gets the credentials of its role services: from its own CA when it holds it,
// otherwise from a CA-holding node's NodeCredentials service, authenticated by its node certificate.
import { Metadata, credentials, type ServiceError } from '@grpc/grpc-js';
import { NodeCredentialsClient, nodeCredentialsPort, type RoleCredentials } from '@metropolis/api';
import { errorMessage } from '@metropolis/errors';
import { AgentError } from '../errors.js';
import type { ClusterPki } from './cluster-pki.js';

/** Issues the credentials of the services of `roles` for this node. */
export type RoleCredentialSource = (roles: readonly string[]) => Promise<RoleCredentials>;

export function localCredentials(
  pki: ClusterPki,
  nodeId: string,
  address: string,
): RoleCredentialSource {
  return (roles) => pki.roleCredentials(nodeId, roles, address);
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
  return async (roles) => {
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
            { roles: [...roles] },
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
      `no CA-holding node issued credentials for ${roles.join(', ')}: ${failures.join('; ') || 'no endpoints'}`,
    );
  };
}
