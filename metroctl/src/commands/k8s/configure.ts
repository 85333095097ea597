// `metroctl k8s configure`: (re)writes the kubeconfig context for the cluster that the config
// directory owns, e.g. after the kubeconfig was lost or to point it at another node.
import { Command } from 'commander';
import { configureKubernetes } from '../../core/configure-kubernetes.js';
import type { CliContext } from '../cli-context.js';

export function configureCommand(context: CliContext): Command {
  return new Command('configure')
    .description(
      'write the kubeconfig context (--context) for the cluster the config directory owns; ' +
        'the first --endpoints overrides the Kubernetes endpoint',
    )
    .action(async () => {
      const globals = context.globals();
      const [endpoint] = globals.endpoints;
      const written = await configureKubernetes({
        config: context.config(),
        kubeconfigPath: globals.kubeconfig,
        contextName: globals.context,
        ...(endpoint === undefined ? {} : { endpoint }),
      });
      context.print(
        `${written.replaced ? 'Rewrote' : 'Wrote'} context ${written.contextName} ` +
          `(${written.server}) in ${written.kubeconfigPath}` +
          `${written.madeCurrent ? ', now current' : ''}.`,
      );
      context.print(`Next: kubectl --context=${written.contextName} get monogonnodes`);
    });
}
