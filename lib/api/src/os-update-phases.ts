// Which OSUpdate phases end a rollout. The operator writes the phase and starts nothing new after
// one of these; metroctl reads it to know when to stop watching and serving.
import type { OSUpdatePhase } from './gen/crd/os-update.js';

/** Phases after which the operator does nothing more with the update. */
export const terminalOSUpdatePhases: readonly OSUpdatePhase[] = ['Succeeded', 'Halted', 'Reverted'];

/** Whether the rollout is over: Succeeded, Halted or Reverted. */
export function isTerminalOSUpdatePhase(phase: OSUpdatePhase | undefined): boolean {
  return phase !== undefined && terminalOSUpdatePhases.includes(phase);
}

/** Whether the rollout ended without updating every node: Halted or Reverted. */
export function isFailedOSUpdatePhase(phase: OSUpdatePhase | undefined): boolean {
  return phase === 'Halted' || phase === 'Reverted';
}
