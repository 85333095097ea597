// Loads the kubeconfig metroctl talks to the cluster with, and selects a context by name
// (default `metroctl`, the one bootstrap and `k8s configure` write).
import { KubeConfig } from '@kubernetes/client-node';
import { errorMessage } from '@metropolis/errors';
import { MetroctlError } from '../errors.js';
import { isErrno } from './is-errno.js';

/** A KubeConfig from `path` with `context` current. METROCTL_CONFIG if either is missing. */
export function loadKubeConfig(path: string, context: string): KubeConfig {
  const kc = new KubeConfig();
  try {
    kc.loadFromFile(path);
  } catch (error) {
    if (isErrno(error, 'ENOENT')) {
      throw new MetroctlError(
        'METROCTL_CONFIG',
        `no kubeconfig at ${path}: bootstrap a cluster or run metroctl k8s configure`,
        { cause: error },
      );
    }
    // The YAML parser's message goes on with a code frame; its first line has the position.
    const [reason] = errorMessage(error).split('\n', 1);
    throw new MetroctlError('METROCTL_CONFIG', `cannot load kubeconfig ${path}: ${reason ?? ''}`, {
      cause: error,
    });
  }
  if (kc.getContextObject(context) === null) {
    throw new MetroctlError(
      'METROCTL_CONFIG',
      `no context "${context}" in ${path}: run metroctl k8s configure, or pass --context`,
    );
  }
  kc.setCurrentContext(context);
  return kc;
}
