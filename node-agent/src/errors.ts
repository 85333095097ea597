// Typed errors of the node agent; rpc/grpc-status.ts turns their codes into gRPC status codes.
import { CodedError } from '@metropolis/errors';

export type AgentErrorCode =
  | 'AGENT_INVALID_ARGUMENT'
  | 'AGENT_NO_RUNNING_SLOT'
  | 'AGENT_SLOT_NOT_BOOTABLE'
  | 'AGENT_STAGE_IN_PROGRESS'
  | 'AGENT_STAGE_REFUSED'
  | 'AGENT_DOWNLOAD_FAILED'
  | 'AGENT_DOWNGRADE_REFUSED'
  | 'AGENT_DEV_KEY_REFUSED'
  | 'AGENT_NOT_BUILT'
  | 'AGENT_PERMISSION_DENIED'
  | 'AGENT_CERTIFICATE_REVOKED'
  | 'AGENT_CONTROL_PLANE'
  | 'AGENT_ALREADY_OWNED'
  | 'AGENT_NOT_APPROVED'
  | 'AGENT_ROLE_REFUSED'
  | 'AGENT_STILL_CONSENSUS_MEMBER'
  | 'AGENT_CREDENTIALS'
  | 'AGENT_ALREADY_REBOOTED'
  | 'AGENT_TOO_MANY_PENDING'
  | 'AGENT_ADDRESS_IN_USE'
  | 'AGENT_STORAGE';

export class AgentError extends CodedError<AgentErrorCode> {}
