// Which OSUpdate phases end a rollout. The operator writes the phase; metroctl only reads it to
// know when to stop watching and serving.
import type { OSUpdatePhase } from '@metropolis/api';

/** Phases after which the operator does nothing more with the update. */
export const terminalPhases: readonly OSUpdatePhase[] = ['Succeeded', 'Halted', 'Reverted'];

/** Whether the rollout is over: Succeeded, Halted or Reverted. */
export function isTerminalPhase(phase: OSUpdatePhase | undefined): boolean {
  return phase !== undefined && terminalPhases.includes(phase);
}

/** Whether the rollout ended without updating every node: Halted or Reverted. */
export function isFailedPhase(phase: OSUpdatePhase | undefined): boolean {
  return phase === 'Halted' || phase === 'Reverted';
}
