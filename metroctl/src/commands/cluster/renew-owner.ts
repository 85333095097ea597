// `metroctl cluster renew-owner`: replaces the owner certificate with a new one for the same
// owner key, before the current one expires (kubectl reads the same file, so it follows).
import { X509Certificate } from 'node:crypto';
import { Command } from 'commander';
import { MetroctlError } from '../../errors.js';
import type { CliContext } from '../cli-context.js';

export function renewOwnerCommand(context: CliContext): Command {
  return new Command('renew-owner')
    .description(
      'renew the owner certificate (same owner key) at the node that bootstrapped the cluster; the current one must not have expired',
    )
    .action(async () => {
      const store = context.config();
      const [owner, cluster] = await Promise.all([store.ownerCredentials(), store.clusterConfig()]);
      const address = context.globals().endpoints[0] ?? cluster.endpoints[0];
      if (address === undefined) {
        throw new MetroctlError('METROCTL_CONFIG', 'no endpoint: pass --endpoints or bootstrap');
      }
      const { renewOwnerCertificate } = await import('../../core/renew-owner-certificate.js');
      const renewed = await renewOwnerCertificate({
        owner,
        address,
        nodeId: cluster.nodeId,
      });
      await store.saveOwnerCertificate(renewed);
      const validTo = new Date(new X509Certificate(renewed).validTo).toISOString();
      context.print(
        `owner certificate renewed: valid until ${validTo} (${store.paths.ownerCertificate})`,
      );
    });
}
