// `metroctl cluster bootstrap --endpoint ADDR [--node-id ID]`: makes an unowned node the first
// node of a new cluster and this config directory its owner.
import { Command } from 'commander';
import { bootstrapCluster } from '../../core/bootstrap-cluster.js';
import { MetroctlError } from '../../errors.js';
import type { CliContext } from '../cli-context.js';

export function bootstrapCommand(context: CliContext): Command {
  return new Command('bootstrap')
    .description(
      'bootstrap a new cluster on an unowned node and become its owner ' +
        '(trusts the node on first use)',
    )
    .option('--endpoint <addr>', 'the node, ADDR or ADDR:PORT (default port 7839)')
    .option('--node-id <id>', 'refuse the node unless it has this ID')
    .action(async (raw: { endpoint?: string; nodeId?: string }) => {
      const globals = context.globals();
      const endpoint = raw.endpoint ?? globals.endpoints[0];
      if (endpoint === undefined) {
        throw new MetroctlError('METROCTL_USAGE', 'cluster bootstrap needs --endpoint ADDR');
      }
      const config = context.config();
      const result = await bootstrapCluster({
        endpoint,
        ...(raw.nodeId === undefined ? {} : { expectedNodeId: raw.nodeId }),
        config,
        kubeconfigPath: globals.kubeconfig,
        contextName: globals.context,
        logger: context.logger(),
        notice: (line) => {
          context.notice(line);
        },
      });
      const { paths } = config;
      const { kubernetes } = result;
      context.print(`Bootstrapped a cluster on node ${result.nodeId}. You own it.`);
      context.print(`  owner key     ${paths.ownerKey}${result.ownerKeyCreated ? ' (new)' : ''}`);
      context.print(`  owner cert    ${paths.ownerCertificate}`);
      context.print(`  cluster CA    ${paths.ca}`);
      context.print(`  config        ${paths.config}`);
      context.print(
        `  kubeconfig    ${kubernetes.kubeconfigPath}, context ${kubernetes.contextName} ` +
          `(${kubernetes.server})${kubernetes.madeCurrent ? ', now current' : ''}`,
      );
      context.print(`Next: kubectl --context=${kubernetes.contextName} get monogonnodes`);
      context.print(`      metroctl node describe`);
    });
}
