// Joining an existing cluster: register with the ticket from the node parameters (signing a
// fresh nonce of the CA holder with the node key, to prove the key is ours), wait for the
// owner's approval, collect the node certificate and keep it (with the CA) on the data
// partition; then the node is owned and the ticket leaves its parameters.
import { writeFile } from 'node:fs/promises';
import { credentials, status, type ServiceError } from '@grpc/grpc-js';
import {
  NodeRegistrationClient,
  commitProof,
  nodeRegistrationPort,
  registerProof,
  type CommitResponse,
  type NonceResponse,
  type RegisterResponse,
  type NodeLayout,
} from '@metropolis/api';
import { errorMessage } from '@metropolis/errors';
import type { Logger } from '@metropolis/logging';
import { sleep } from '@metropolis/supervisor';
import type { NodeIdentity } from '../identity/node-identity.js';
import { dropRegisterTicket, type JoinParameters } from '../storage/node-files.js';
import { markOwned, markUnfinished } from './ownership.js';
import type { HaltPoint } from './test-halt.js';

/** What a node needs to join (from its node parameters). */
export interface JoinDeps {
  readonly parameters: JoinParameters;
  readonly identity: NodeIdentity;
  readonly address: string;
  readonly layout: NodeLayout;
  readonly log: Logger;
  /** Test-only fault points between the steps of a join. */
  readonly halt: HaltPoint;
  /** @default 2000 */
  readonly pollMs?: number;
}

/** Resolves once the node holds its certificate; retries every endpoint until then. */
export async function joinCluster(deps: JoinDeps, signal: AbortSignal): Promise<void> {
  const { parameters, identity, log, layout } = deps;
  const registerTicket = parameters.registerTicket ?? '';
  const nodePublicKey = Buffer.from(await identity.keyPair.rawPublicKey());
  const signed = async (client: NodeRegistrationClient, proof: (nonce: Buffer) => Uint8Array) => {
    const { nonce } = await call<NonceResponse>((callback) => client.nonce({}, callback));
    const signature = Buffer.from(await identity.keyPair.sign(proof(nonce)));
    return { registerTicket, nodePublicKey, nonce, signature };
  };
  let waitingLogged = false;
  while (!signal.aborted) {
    for (const endpoint of parameters.endpoints) {
      const client = new NodeRegistrationClient(
        `${endpoint}:${String(nodeRegistrationPort)}`,
        credentials.createSsl(Buffer.from(parameters.caCertificate)),
      );
      try {
        const registration = await signed(client, (nonce) => registerProof(nonce, deps.address));
        // A node registered before the ticket was rotated is refused here, but may still
        // collect its certificate once approved.
        const registered = await call<RegisterResponse>((callback) =>
          client.register({ ...registration, address: deps.address }, callback),
        ).then(
          () => undefined,
          (error: unknown) => error,
        );
        const commit = await signed(client, commitProof);
        const committed = await call<CommitResponse>((callback) =>
          client.commit(commit, callback),
        ).catch((error: unknown) => {
          throw registered ?? error;
        });
        await markUnfinished(layout);
        await writeFile(layout.caCertificate, committed.caCertificate, { flush: true });
        await deps.halt('join:ca');
        await writeFile(layout.nodeCertificate, committed.nodeCertificate, { flush: true });
        await deps.halt('join:node-certificate');
        // Last: from here on the node belongs to the cluster, on every boot.
        await markOwned(layout);
        await dropRegisterTicket(layout);
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
