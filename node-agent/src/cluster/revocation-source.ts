// Where a node that holds no CA gets the revocation lists: NodeCredentials.GetRevocationLists on
// the CA-holding nodes, authenticated by its node certificate; the first to answer wins. The
// channels stay open between polls (a fleet's polls cost no TLS handshakes) until `signal` aborts.
import { Metadata, credentials } from '@grpc/grpc-js';
import { NodeCredentialsClient, nodeCredentialsPort, type RevocationLists } from '@metropolis/api';
import { errorMessage } from '@metropolis/errors';
import { AgentError } from '../errors.js';
import type { RemoteCredentialsOptions } from './role-credentials.js';
import type { RevocationSource } from './revocation-lists.js';

export function remoteRevocationLists(
  options: RemoteCredentialsOptions,
  signal: AbortSignal,
): RevocationSource {
  const clients = new Map<string, NodeCredentialsClient>();
  // The node certificate the channels were opened with: a renewed one opens new channels.
  let openedWith = '';
  let tls = credentials.createInsecure();
  signal.addEventListener(
    'abort',
    () => {
      for (const client of clients.values()) client.close();
    },
    { once: true },
  );
  const clientOf = (endpoint: string): NodeCredentialsClient => {
    let client = clients.get(endpoint);
    if (client === undefined) {
      client = new NodeCredentialsClient(`${endpoint}:${String(nodeCredentialsPort)}`, tls);
      clients.set(endpoint, client);
    }
    return client;
  };
  return async () => {
    const { caPem, certificatePem } = await options.certificates();
    if (certificatePem !== openedWith) {
      for (const client of clients.values()) client.close();
      clients.clear();
      tls = credentials.createSsl(
        Buffer.from(caPem),
        Buffer.from(options.keyPem),
        Buffer.from(certificatePem),
      );
      openedWith = certificatePem;
    }
    const failures: string[] = [];
    for (const endpoint of options.endpoints) {
      const client = clientOf(endpoint);
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
      }
    }
    throw new AgentError(
      'AGENT_CREDENTIALS',
      `no CA-holding node sent the revocation lists: ${failures.join('; ') || 'no endpoints'}`,
    );
  };
}
