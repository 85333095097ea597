// `metroctl node remove role ROLE ID...`: removes a role from nodes' spec.roles.
import { Command } from 'commander';
import { changeNodeRoles } from '../../core/change-node-roles.js';
import { parseRole } from '../../core/node-roles.js';
import type { CliContext } from '../cli-context.js';

export function removeRoleCommand(context: CliContext): Command {
  return new Command('remove').description('remove something from nodes').addCommand(
    new Command('role')
      .description(
        'remove a role from nodes: ConsensusMember (cm), KubernetesController (kc), ' +
          'KubernetesWorker (kw)',
      )
      .argument('<role>', 'role name or alias, case-insensitive')
      .argument('<ids...>', 'node IDs')
      .action(async (roleName: string, ids: string[]) => {
        const role = parseRole(roleName);
        await changeNodeRoles({
          nodes: await context.nodes(),
          change: 'remove',
          role,
          ids,
          onUpdated: (update) => {
            context.print(
              update.changed
                ? `Updated node ${update.nodeId}.`
                : `Node ${update.nodeId} does not have role ${role}.`,
            );
          },
          onFailed: (id, error) => {
            context.notice(`Couldn't update node ${id}: ${error.message}`);
          },
        });
      }),
  );
}
