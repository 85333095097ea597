// The MonogonNode spec and status types (crds/monogon-node.yaml) and the value sets the
// parser checks against. Interim copy of the schema until lib/api generates these types.

export const monogonNodeRoles = [
  'ConsensusMember',
  'KubernetesController',
  'KubernetesWorker',
] as const;
export type MonogonNodeRole = (typeof monogonNodeRoles)[number];

export const monogonNodeStates = ['NEW', 'STANDBY', 'UP', 'DECOMMISSIONED'] as const;
export type MonogonNodeState = (typeof monogonNodeStates)[number];

export const monogonNodeHealths = ['HEALTHY', 'UNHEALTHY', 'HEARTBEAT_TIMEOUT', 'UNKNOWN'] as const;
export type MonogonNodeHealth = (typeof monogonNodeHealths)[number];

export const monogonNodeSlots = ['A', 'B'] as const;
export type MonogonNodeSlot = (typeof monogonNodeSlots)[number];

export type MonogonNodeConditionStatus = 'True' | 'False' | 'Unknown';

/** A Kubernetes metav1.Condition. */
export interface MonogonNodeCondition {
  type: string;
  status: MonogonNodeConditionStatus;
  reason: string;
  message: string;
  lastTransitionTime: string;
  observedGeneration?: number;
}

export interface MonogonNodeSpec {
  roles?: MonogonNodeRole[];
  approved?: boolean;
}

export interface MonogonNodeStatus {
  state?: MonogonNodeState;
  health?: MonogonNodeHealth;
  address?: string;
  tpm?: boolean;
  version?: string;
  bootedSlot?: MonogonNodeSlot;
  bootOrder?: MonogonNodeSlot[];
  runningRoles?: MonogonNodeRole[];
  lastHeartbeat?: string;
  conditions?: MonogonNodeCondition[];
  observedGeneration?: number;
}
