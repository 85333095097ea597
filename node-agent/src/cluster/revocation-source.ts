// Where a node that holds no CA gets the revocation lists: NodeCredentials.GetRevocationLists on
// the CA-holding nodes, authenticated by its node certificate; the first to answer wins.
import { Metadata, credentials } from '@grpc/grpc-js';
import { NodeCredentialsClient, nodeCredentialsPort, type RevocationLists } from '@metropolis/api';
import { errorMessage } from '@metropolis/errors';
import { AgentError } from '../errors.js';
import type { RemoteCredentialsOptions } from './role-credentials.js';
import type { RevocationSource } from './revocation-lists.js';

export function remoteRevocationLists(options: RemoteCredentialsOptions): RevocationSource {
  const tls = credentials.createSsl(
    Buffer.from(options.caPem),
    Buffer.from(options.keyPem),
    Buffer.from(options.certificatePem),
  );
  return async () => {
    const failures: string[] = [];
    for (const endpoint of options.endpoints) {
      const client = new NodeCredentialsClient(`${endpoint}:${String(nodeCredentialsPort)}`, tls);
      try {
        return await new Promise<RevocationLists>((resolve, reject) => {
          client.getRevocationLists(
            {},
            new Metadata(),
            { deadline: Date.now() + (options.timeoutMs ?? 10_000) },
            (error, response) => {
              if (error) reject(error);
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
      `no CA-holding node sent the revocation lists: ${failures.join('; ') || 'no endpoints'}`,
    );
  };
}
