// `metroctl node add role ROLE ID...`: adds a role to nodes' spec.roles (aliases cm, kc, kw).
import { Command } from 'commander';
import { changeNodeRoles } from '../../core/change-node-roles.js';
import { parseRole } from '../../core/node-roles.js';
import type { CliContext } from '../cli-context.js';

export function addRoleCommand(context: CliContext): Command {
  return new Command('add').description('add something to nodes').addCommand(
    new Command('role')
      .description(
        'add a role to nodes: ConsensusMember (cm), KubernetesController (kc), ' +
          'KubernetesWorker (kw)',
      )
      .argument('<role>', 'role name or alias, case-insensitive')
      .argument('<ids...>', 'node IDs')
      .action(async (roleName: string, ids: string[]) => {
        const role = parseRole(roleName);
        await changeNodeRoles({
          nodes: await context.nodes(),
          change: 'add',
          role,
          ids,
          onUpdated: (update) => {
            context.print(
              update.changed
                ? `Updated node ${update.nodeId}.`
                : `Node ${update.nodeId} already has role ${role}.`,
            );
          },
          onFailed: (id, error) => {
            context.notice(`Couldn't update node ${id}: ${error.message}`);
          },
        });
      }),
  );
}
