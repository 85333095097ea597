// Typed errors of the operator. Callers match on `code`; main.ts alone turns them into log
// lines and exit codes.
import { CodedError } from '@metropolis/errors';

export type OperatorErrorCode =
  /** A command-line flag is malformed (main.ts exits with a usage error). */
  | 'OPERATOR_BAD_FLAG'
  /** The TLS files for calling node agents cannot be read. */
  | 'OPERATOR_TLS_FILES'
  /** Another instance holds the lease now, or it could not be renewed in time. */
  | 'OPERATOR_LEADERSHIP_LOST'
  /** The MonogonNode API cannot be watched (CRD missing or never ready). */
  | 'OPERATOR_CRD_NOT_READY'
  /** A resource watch failed (the API server gone, a CRD deleted); the operator exits. */
  | 'OPERATOR_WATCH'
  /** An object from the API does not have the shape our types promise. */
  | 'OPERATOR_MALFORMED_RESOURCE'
  /** A call to the Kubernetes API failed. */
  | 'OPERATOR_KUBE_API'
  /** A node agent's status stream ended, failed, or went silent. */
  | 'OPERATOR_NODE_STREAM'
  /** A node agent answered with a certificate or node ID other than the resource's. */
  | 'OPERATOR_NODE_IDENTITY'
  /** A unary call to a node agent failed; `reason` says how. */
  | 'OPERATOR_NODE_CALL'
  /** etcd could not be asked or refused a membership change. */
  | 'OPERATOR_ETCD'
  /** A membership change would leave etcd without quorum; refused. */
  | 'OPERATOR_QUORUM';

export class OperatorError extends CodedError<OperatorErrorCode> {}

/** A failed unary call to a node agent, classified at the gRPC edge. */
export class NodeCallError extends OperatorError {
  /**
   * unimplemented: the agent does not offer the call (gRPC UNIMPLEMENTED); unavailable: it
   * could not be reached or was busy (UNAVAILABLE, DEADLINE_EXCEEDED, ABORTED); failed: anything else.
   */
  readonly reason: 'unimplemented' | 'unavailable' | 'failed';
  /** The agent's own words (gRPC status details). */
  readonly details: string;

  constructor(reason: NodeCallError['reason'], details: string, options?: { cause?: unknown }) {
    super('OPERATOR_NODE_CALL', `node agent call failed (${reason}): ${details}`, options);
    this.reason = reason;
    this.details = details;
  }
}
