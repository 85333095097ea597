// Joining an existing cluster: register with the ticket from the node parameters, wait for the
// owner's approval, collect the node certificate and keep it (with the CA) on the data partition.
import { mkdir, writeFile } from 'node:fs/promises';
import { credentials, status, type ServiceError } from '@grpc/grpc-js';
import {
  NodeRegistrationClient,
  nodeRegistrationPort,
  type CommitResponse,
  type RegisterResponse,
  type NodeLayout,
} from '@metropolis/api';
import { errorMessage } from '@metropolis/errors';
import type { Logger } from '@metropolis/logging';
import { sleep } from '@metropolis/supervisor';
import type { NodeIdentity } from '../identity/node-identity.js';
import type { JoinParameters } from '../storage/node-files.js';

/** What a node needs to join (from its node parameters). */
export interface JoinDeps {
  readonly parameters: JoinParameters;
  readonly identity: NodeIdentity;
  readonly address: string;
  readonly layout: NodeLayout;
  readonly log: Logger;
  /** @default 2000 */
  readonly pollMs?: number;
}

/** Resolves once the node holds its certificate; retries every endpoint until then. */
export async function joinCluster(deps: JoinDeps, signal: AbortSignal): Promise<void> {
  const { parameters, identity, log } = deps;
  const publicKey = Buffer.from(await identity.keyPair.rawPublicKey());
  const request = { registerTicket: parameters.registerTicket, nodePublicKey: publicKey };
  let waitingLogged = false;
  while (!signal.aborted) {
    for (const endpoint of parameters.endpoints) {
      const client = new NodeRegistrationClient(
        `${endpoint}:${String(nodeRegistrationPort)}`,
        credentials.createSsl(Buffer.from(parameters.caCertificate)),
      );
      try {
        await call<RegisterResponse>((callback) =>
          client.register({ ...request, address: deps.address }, callback),
        );
        const committed = await call<CommitResponse>((callback) =>
          client.commit(request, callback),
        );
        await mkdir(deps.layout.pkiDir, { recursive: true, mode: 0o700 });
        await writeFile(deps.layout.caCertificate, committed.caCertificate, {
          flush: true,
        });
        // Last: the node certificate marks the node as owned for the next boot.
        await writeFile(deps.layout.nodeCertificate, committed.nodeCertificate, {
          flush: true,
        });
        log.info('joined the cluster', { endpoint });
        return;
      } catch (error) {
        if ((error as ServiceError).code === status.FAILED_PRECONDITION) {
          if (!waitingLogged)
            log.info('registered, waiting for approval', { node: identity.nodeId });
          waitingLogged = true;
        } else {
          log.warn('registration failed', { endpoint, error: errorMessage(error) });
        }
      } finally {
        client.close();
      }
    }
    await sleep(deps.pollMs ?? 2000, signal);
  }
}

type Callback<T> = (error: ServiceError | null, response?: T) => void;

function call<T>(start: (callback: Callback<T>) => unknown): Promise<T> {
  return new Promise((resolve, reject) => {
    start((error, response) => {
      if (error) reject(error);
      else if (response === undefined) reject(new Error('empty response'));
      else resolve(response);
    });
  });
}
