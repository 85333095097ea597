// `metroctl approve [ID]` (top-level, as in Monogon): without an ID, lists the nodes waiting
// for approval; with one, sets its spec.approved.
import { Command } from 'commander';
import { MetroctlError } from '../../errors.js';
import type { CliContext } from '../cli-context.js';

export function approveCommand(context: CliContext): Command {
  return new Command('approve')
    .description('list nodes waiting for approval, or approve one')
    .argument('[id]', 'node ID to approve')
    .action(async (id: string | undefined) => {
      const nodes = await context.nodes();
      if (id === undefined) {
        const pending = await nodes.pendingApproval();
        if (pending.length === 0) {
          context.notice('There are no nodes pending approval at this time.');
        }
        for (const node of pending) context.print(node.metadata.name);
        return;
      }
      const node = await nodes.get(id);
      const state = node.status?.state;
      if (state !== undefined && state !== 'NEW' && node.spec.approved !== true) {
        throw new MetroctlError(
          'METROCTL_REJECTED',
          `node ${id} is ${state}, not NEW: there is nothing to approve`,
        );
      }
      const approved = await nodes.approve(id);
      context.print(approved ? `Approved node ${id}.` : `Node ${id} is already approved.`);
    });
}
