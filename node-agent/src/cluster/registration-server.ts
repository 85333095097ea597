// NodeRegistration, served by nodes that hold the cluster CA: new nodes register with the
// ticket and collect their certificate once the owner approved them, proving each time that
// they hold the key they name (a signature over a fresh nonce). The CA key stays on these
// nodes' data partitions; the operator never holds it.
import { timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import {
  NodeRegistrationService,
  commitProof,
  nodeIdOf,
  registerProof,
  type NodeRegistrationServer,
} from '@metropolis/api';
import type { Logger } from '@metropolis/logging';
import { ed25519PublicKeyFromRaw, verifyEd25519 } from '@metropolis/pki';
import { AgentError } from '../errors.js';
import { serveGrpc, type RunningServer } from '../rpc/grpc-server.js';
import type { ServingIdentity } from '../rpc/serving-identity.js';
import { toServiceError } from '../rpc/grpc-status.js';
import type { ClusterPki } from './cluster-pki.js';
import type { ClusterApi } from './cluster-api.js';
import { RegistrationNonces } from './registration-nonces.js';
import { refuseRemoved } from './removed-nodes.js';

export interface RegistrationDeps {
  readonly pki: ClusterPki;
  readonly api: Pick<ClusterApi, 'registerNode' | 'approval'>;
  /** The current register ticket (the owner may rotate it). */
  readonly ticket: () => Promise<string>;
  /** How many nodes may wait for approval at once. */
  readonly maxPending: number;
  /** This node's serving certificate (renewed while it serves). */
  readonly serving: ServingIdentity;
  readonly log: Logger;
}

/** Runs `handler` and answers with its result or its error as a gRPC status. */
function unary<Request, Response>(handler: (request: Request) => Promise<Response>, log: Logger) {
  return (
    call: { request: Request },
    callback: (error: ReturnType<typeof toServiceError> | null, response?: Response) => void,
  ): void => {
    handler(call.request).then(
      (response) => {
        callback(null, response);
      },
      (error: unknown) => {
        callback(toServiceError(error, log));
      },
    );
  };
}

export async function startRegistrationServer(
  listen: string,
  deps: RegistrationDeps,
): Promise<RunningServer> {
  const nonces = new RegistrationNonces();
  const checkTicket = async (ticket: string): Promise<void> => {
    const given = Buffer.from(ticket);
    const expected = Buffer.from(await deps.ticket());
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      throw new AgentError('AGENT_PERMISSION_DENIED', 'wrong register ticket');
    }
  };
  /** The node key's ID, once the caller proved it holds the key. */
  const proven = async (
    publicKey: Uint8Array,
    nonce: Uint8Array,
    signature: Uint8Array,
    message: Uint8Array,
  ): Promise<string> => {
    await ed25519PublicKeyFromRaw(publicKey);
    if (!nonces.valid(nonce)) {
      throw new AgentError('AGENT_PERMISSION_DENIED', 'unknown or expired nonce (call Nonce)');
    }
    if (!(await verifyEd25519(publicKey, message, signature))) {
      throw new AgentError(
        'AGENT_PERMISSION_DENIED',
        'the signature does not prove possession of the node key',
      );
    }
    const nodeId = nodeIdOf(publicKey);
    refuseRemoved(deps.pki.ledger, nodeId);
    return nodeId;
  };
  const service: NodeRegistrationServer = {
    nonce: unary(() => Promise.resolve({ nonce: nonces.issue() }), deps.log),
    register: unary(async (request) => {
      await checkTicket(request.registerTicket);
      if (isIP(request.address) === 0) {
        throw new AgentError('AGENT_INVALID_ARGUMENT', `address ${request.address} is not an IP`);
      }
      const nodeId = await proven(
        request.nodePublicKey,
        request.nonce,
        request.signature,
        registerProof(request.nonce, request.address),
      );
      await deps.api.registerNode(nodeId, request.address, deps.maxPending);
      deps.log.info('node registered', { node: nodeId, address: request.address });
      return { nodeId };
    }, deps.log),
    // No ticket here: the owner's approval of this very key is what lets a node in, and a
    // node that registered before a ticket rotation may still finish.
    commit: unary(async (request) => {
      const nodeId = await proven(
        request.nodePublicKey,
        request.nonce,
        request.signature,
        commitProof(request.nonce),
      );
      const approval = await deps.api.approval(nodeId);
      if (approval === undefined) {
        throw new AgentError('AGENT_NOT_APPROVED', `node ${nodeId} is not registered`);
      }
      if (!approval.approved) {
        throw new AgentError(
          'AGENT_NOT_APPROVED',
          `node ${nodeId} is not approved yet (metroctl approve ${nodeId})`,
        );
      }
      const nodeCertificate = await deps.pki.nodeCertificate(
        await ed25519PublicKeyFromRaw(request.nodePublicKey),
        nodeId,
        [approval.address],
      );
      deps.log.info('node certificate issued', { node: nodeId });
      return { nodeCertificate, caCertificate: deps.pki.ca.certificatePem };
    }, deps.log),
  };
  return serveGrpc(listen, deps.serving, NodeRegistrationService, service);
}
