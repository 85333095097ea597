// NodeRegistration, served by nodes that hold the cluster CA: new nodes register with the
// ticket and collect their certificate once the owner approved them. The CA key stays on these
// nodes' data partitions; the operator never holds it.
import { timingSafeEqual } from 'node:crypto';
import {
  NodeRegistrationService,
  certificateRoles,
  nodeIdOf,
  type NodeRegistrationServer,
} from '@metropolis/api';
import type { Logger } from '@metropolis/logging';
import { ed25519PublicKeyFromRaw } from '@metropolis/pki';
import { AgentError } from '../errors.js';
import { serveGrpc, type RunningServer } from '../rpc/grpc-server.js';
import { toServiceError } from '../rpc/grpc-status.js';
import type { ClusterPki } from './cluster-pki.js';
import type { ClusterApi } from './cluster-api.js';
import { refuseRemoved } from './removed-nodes.js';

export interface RegistrationDeps {
  readonly pki: ClusterPki;
  readonly api: ClusterApi;
  readonly ticket: string;
  /** This node: its ID and address go into the serving certificate. */
  readonly nodeId: string;
  readonly address: string;
  readonly log: Logger;
}

export async function startRegistrationServer(
  listen: string,
  deps: RegistrationDeps,
): Promise<RunningServer> {
  const checkTicket = (ticket: string): void => {
    const given = Buffer.from(ticket);
    const expected = Buffer.from(deps.ticket);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      throw new AgentError('AGENT_PERMISSION_DENIED', 'wrong register ticket');
    }
  };
  const service: NodeRegistrationServer = {
    register: (call, callback) => {
      const run = async () => {
        checkTicket(call.request.registerTicket);
        await ed25519PublicKeyFromRaw(call.request.nodePublicKey);
        const nodeId = nodeIdOf(call.request.nodePublicKey);
        refuseRemoved(deps.pki.ledger, nodeId);
        await deps.api.registerNode(nodeId, call.request.address);
        deps.log.info('node registered', { node: nodeId, address: call.request.address });
        return { nodeId };
      };
      run().then(
        (response) => {
          callback(null, response);
        },
        (error: unknown) => {
          callback(toServiceError(error, deps.log));
        },
      );
    },
    commit: (call, callback) => {
      const run = async () => {
        checkTicket(call.request.registerTicket);
        const publicKey = await ed25519PublicKeyFromRaw(call.request.nodePublicKey);
        const nodeId = nodeIdOf(call.request.nodePublicKey);
        refuseRemoved(deps.pki.ledger, nodeId);
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
        const nodeCertificate = await deps.pki.certify(
          publicKey,
          {
            commonName: nodeId,
            organizations: [certificateRoles.node],
            usages: ['server', 'client'],
            hosts: [approval.address],
          },
          { nodeId, kind: 'node' },
        );
        deps.log.info('node certificate issued', { node: nodeId });
        return { nodeCertificate, caCertificate: deps.pki.ca.certificatePem };
      };
      run().then(
        (response) => {
          callback(null, response);
        },
        (error: unknown) => {
          callback(toServiceError(error, deps.log));
        },
      );
    },
  };
  const serving = await deps.pki.issue(
    {
      commonName: deps.nodeId,
      organizations: [certificateRoles.node],
      usages: ['server'],
      hosts: [deps.address, '127.0.0.1'],
    },
    { nodeId: deps.nodeId, kind: 'serving' },
  );
  return serveGrpc(
    listen,
    {
      clientCaPem: null,
      certificatePem: serving.certificatePem,
      keyPem: await serving.keyPair.privateKeyPem(),
    },
    NodeRegistrationService,
    service,
  );
}
