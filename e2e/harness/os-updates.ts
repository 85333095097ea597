// OSUpdates as the suites and benches create them: through the cluster's API, as kubectl would.
import { CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import {
  osUpdateGroup,
  osUpdateResource,
  osUpdateVersion,
  type OSUpdateSpec,
} from '@metropolis/api';

export async function createOSUpdate(
  kubeConfig: KubeConfig,
  name: string,
  spec: OSUpdateSpec,
): Promise<void> {
  await kubeConfig.makeApiClient(CustomObjectsApi).createClusterCustomObject({
    ...osUpdateResource,
    body: {
      apiVersion: `${osUpdateGroup}/${osUpdateVersion}`,
      kind: 'OSUpdate',
      metadata: { name },
      spec,
    },
  });
}
