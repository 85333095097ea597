// NodeCredentials, served by nodes that hold the cluster CA: a node authenticated by its node
// certificate, for its own key, gets certificates for the keys of the role services its
// MonogonNode's spec.roles grant it. Nothing it receives or sends here is a role's private key.
import {
  NodeCredentialsService,
  certificateRoles,
  type IssueRoleCredentialsRequest,
  type NodeCredentialsServer,
  type RevocationLists,
  type RoleCredentials,
} from '@metropolis/api';
import { errorMessage } from '@metropolis/errors';
import type { Logger } from '@metropolis/logging';
import type { ServerUnaryCall, sendUnaryData } from '@grpc/grpc-js';
import { AgentError } from '../errors.js';
import { serveGrpc, type RunningServer } from '../rpc/grpc-server.js';
import type { ServingIdentity } from '../rpc/serving-identity.js';
import { toServiceError } from '../rpc/grpc-status.js';
import { refuseRevoked } from '../rpc/revoked-callers.js';
import type { ClusterApi } from './cluster-api.js';
import type { ClusterPki } from './cluster-pki.js';
import { admittedNode, callingNode } from './caller-identity.js';
import { renewalHandlers } from './renewal-service.js';

export interface CredentialsServerDeps {
  readonly pki: ClusterPki;
  readonly api: ClusterApi;
  /** Runs after credentials were issued, before they are sent (binds a new controller). */
  readonly afterIssue?: () => Promise<void>;
  /** This node's serving certificate (renewed while it serves). */
  readonly serving: ServingIdentity;
  readonly log: Logger;
}

export async function startCredentialsServer(
  listen: string,
  deps: CredentialsServerDeps,
): Promise<RunningServer> {
  const issue = async (
    call: ServerUnaryCall<IssueRoleCredentialsRequest, RoleCredentials>,
  ): Promise<RoleCredentials> => {
    refuseRevoked(call, (serial) => deps.pki.ledger.revoked(serial));
    const nodeId = callingNode(call);
    const record = await admittedNode(deps.api, nodeId);
    const denied = call.request.roles.filter((role) => !record.roles.includes(role));
    if (denied.length > 0) {
      throw new AgentError(
        'AGENT_PERMISSION_DENIED',
        `spec.roles of MonogonNode ${nodeId} do not include ${denied.join(', ')}`,
      );
    }
    const issued = await deps.pki.roleCredentials(call.request, nodeId, record.address);
    // Names only: the response's shared secrets never go to the log.
    deps.log.info('role credentials issued', { node: nodeId, roles: call.request.roles });
    await deps.afterIssue?.().catch((error: unknown) => {
      deps.log.warn('revocation pass after issuing failed', { error: errorMessage(error) });
    });
    return issued;
  };
  const lists = async (
    call: ServerUnaryCall<unknown, RevocationLists>,
  ): Promise<RevocationLists> => {
    refuseRevoked(call, (serial) => deps.pki.ledger.revoked(serial));
    const organizations = [call.getAuthContext().sslPeerCertificate?.subject.O ?? []].flat();
    if (!organizations.includes(certificateRoles.node)) {
      throw new AgentError(
        'AGENT_PERMISSION_DENIED',
        'revocation lists are sent to node certificates only',
      );
    }
    return deps.pki.ledger.lists();
  };
  const service: NodeCredentialsServer = {
    ...renewalHandlers(deps),
    getRevocationLists: (call, callback) => {
      lists(call).then(
        (response) => {
          callback(null, response);
        },
        (error: unknown) => {
          callback(toServiceError(error, deps.log));
        },
      );
    },
    issueRoleCredentials: (
      call: ServerUnaryCall<IssueRoleCredentialsRequest, RoleCredentials>,
      callback: sendUnaryData<RoleCredentials>,
    ) => {
      issue(call).then(
        (response) => {
          callback(null, response);
        },
        (error: unknown) => {
          callback(toServiceError(error, deps.log));
        },
      );
    },
  };
  return serveGrpc(listen, deps.serving, NodeCredentialsService, service);
}
