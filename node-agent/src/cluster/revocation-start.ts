// Wires the revocation controller on the CA holder: MonogonNodes and RBAC through its admin
// client, etcd's member list from its local member. Its first pass runs before the operator
// starts, so the operator's ClusterRole is bound before any operator needs it.
import { controlPlanePorts } from '@metropolis/api';
import { EtcdCluster } from '@metropolis/control-plane';
import type { CaHolderDeps } from './ca-holder-services.js';
import type { ClusterApi } from './cluster-api.js';
import { bindOperators, listNodeViews } from './operator-bindings.js';
import { RevocationController } from './revocation-controller.js';
import { RoleFiles } from './role-files.js';

export async function startRevocationController(
  deps: CaHolderDeps,
  api: ClusterApi,
  signal: AbortSignal,
): Promise<RevocationController> {
  const files = new RoleFiles(deps.layout);
  const local = `https://127.0.0.1:${String(controlPlanePorts.etcdClient)}`;
  const controller = new RevocationController({
    ledger: deps.pki.ledger,
    selfId: deps.identity.nodeId,
    periodMs: deps.revocationPeriodMs,
    log: deps.log.child({ component: 'revocation' }),
    inputs: {
      nodes: () => listNodeViews(api.kubeConfig),
      members: async () => {
        const etcd = new EtcdCluster(local, await files.clientCredentials(files.etcd), 3_000);
        return (await etcd.memberList(true)).map((member) => member.name);
      },
      bindOperators: (nodeIds) => bindOperators(api.kubeConfig, nodeIds),
    },
  });
  await controller.pass();
  void controller.run(signal);
  return controller;
}
