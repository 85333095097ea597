// Which nodes an OSUpdate must leave alone because another OSUpdate owns them: the older one
// wins a node both select, and nobody touches a node another update is in the middle of. Pure.
import {
  isTerminalOSUpdatePhase,
  type OSUpdateNodePhase,
  type OSUpdateNodeStatus,
  type OSUpdatePhase,
} from '@metropolis/api';

/** Another OSUpdate, as the engine sees it. */
export interface OtherUpdateView {
  readonly name: string;
  /** metadata.creationTimestamp in ms. */
  readonly createdAtMs: number;
  readonly phase: OSUpdatePhase | undefined;
  /** The nodes its nodeSelector selects now. */
  readonly selectedNodes: readonly string[];
  /** Its status.nodes. */
  readonly entries: readonly OSUpdateNodeStatus[];
}

/** Node phases with work under way that another update must not disturb. */
const busyPhases: readonly OSUpdateNodePhase[] = ['Staging', 'Rebooting', 'Verifying', 'Reverting'];
/**
 * Of those, what a finished update still carries through (a node it rebooted is verified and
 * committed). A stage it started is not: staging touches only the inactive slot, and an entry
 * left Staging when the update halted must not hold the node for ever.
 */
const disruptivePhases: readonly OSUpdateNodePhase[] = ['Rebooting', 'Verifying', 'Reverting'];

/**
 * For `self`, the nodes it must not start on, each with the name of the update that claims it:
 * every node selected by an older unfinished update (creation time, then name, breaks ties), and
 * any node another update, older or newer, has work under way on (a finished one: a reboot).
 */
export function nodeClaims(
  self: { readonly name: string; readonly createdAtMs: number },
  others: readonly OtherUpdateView[],
): Map<string, string> {
  const claims = new Map<string, string>();
  const byAge = [...others]
    .filter((other) => other.name !== self.name)
    .sort((a, b) => a.createdAtMs - b.createdAtMs || (a.name < b.name ? -1 : 1));
  for (const other of byAge) {
    const older =
      other.createdAtMs < self.createdAtMs ||
      (other.createdAtMs === self.createdAtMs && other.name < self.name);
    const unfinished = !isTerminalOSUpdatePhase(other.phase);
    const nodes = older && unfinished ? [...other.selectedNodes] : [];
    const busy = unfinished ? busyPhases : disruptivePhases;
    for (const entry of other.entries) {
      if (entry.phase !== undefined && busy.includes(entry.phase)) nodes.push(entry.node);
    }
    for (const node of nodes) if (!claims.has(node)) claims.set(node, other.name);
  }
  return claims;
}
