// Where the real binaries are: hack/build-binaries.sh builds them and hack/test.sh passes their
// paths in METROPOLIS_* variables, so nothing here knows the cache layout.
import { TestingError } from './errors.js';

export interface ControlPlaneBinaries {
  readonly etcd: string;
  readonly kubeApiserver: string;
}

const variables = {
  etcd: 'METROPOLIS_ETCD',
  kubeApiserver: 'METROPOLIS_KUBE_APISERVER',
} as const satisfies Record<keyof ControlPlaneBinaries, string>;

/** Reads the binary paths from an environment (a test passes `process.env`). */
export function controlPlaneBinariesFrom(env: NodeJS.ProcessEnv): ControlPlaneBinaries {
  const etcd = env[variables.etcd];
  const kubeApiserver = env[variables.kubeApiserver];
  if (etcd === undefined || kubeApiserver === undefined) {
    throw new TestingError(
      'CONTROL_PLANE_BINARIES_UNSET',
      `${variables.etcd} and ${variables.kubeApiserver} are not set: run the tests through ` +
        'hack/test.sh, or eval "$(hack/build-binaries.sh --env)" first',
    );
  }
  return { etcd, kubeApiserver };
}
