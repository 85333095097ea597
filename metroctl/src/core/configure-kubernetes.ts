// Points a kubeconfig context at the cluster a config directory owns: the cluster CA and the
// owner certificate and key, by path, so kubectl and metroctl share one set of credentials.
import { controlPlanePorts } from '@metropolis/api';
import { MetroctlError } from '../errors.js';
import type { ConfigStore } from './config-store.js';
import { parseEndpoint } from './endpoint.js';
import { writeKubeconfigEntry } from './kubeconfig-merge.js';

export interface ConfigureKubernetesOptions {
  readonly config: ConfigStore;
  readonly kubeconfigPath: string;
  /** Name of the cluster, user and context. */
  readonly contextName: string;
  /**
   * A node address to reach kube-apiserver at (port 6443 unless given) instead of the
   * Kubernetes endpoint recorded at bootstrap.
   */
  readonly endpoint?: string;
}

/** What was written. */
export interface KubernetesConfiguration {
  readonly kubeconfigPath: string;
  readonly contextName: string;
  readonly server: string;
  /** Whether a context of this name existed and was replaced. */
  readonly replaced: boolean;
  /** Whether the context became current-context (there was none). */
  readonly madeCurrent: boolean;
}

/** Writes (or rewrites) the context. METROCTL_CONFIG if the directory owns no cluster. */
export async function configureKubernetes(
  options: ConfigureKubernetesOptions,
): Promise<KubernetesConfiguration> {
  // Reading them checks they exist and that the key is private before kubectl relies on them.
  await options.config.ownerCredentials();
  const server =
    options.endpoint === undefined
      ? (await options.config.clusterConfig()).kubernetesEndpoint
      : kubernetesServer(options.endpoint);
  const { paths } = options.config;
  const written = await writeKubeconfigEntry(options.kubeconfigPath, {
    name: options.contextName,
    server,
    certificateAuthority: paths.ca,
    clientCertificate: paths.ownerCertificate,
    clientKey: paths.ownerKey,
  });
  return {
    kubeconfigPath: options.kubeconfigPath,
    contextName: options.contextName,
    server,
    ...written,
  };
}

/** `https://HOST:6443` for a node address (with its own port, if it names one). */
export function kubernetesServer(endpoint: string): string {
  const { host, port } = parseEndpoint(endpoint, controlPlanePorts.kubeApiserver);
  return new URL(`https://${host.includes(':') ? `[${host}]` : host}:${String(port)}`).origin;
}

/** Checks that `text` is an https URL, as a Kubernetes endpoint must be. */
export function checkKubernetesEndpoint(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch (cause) {
    throw new MetroctlError('METROCTL_FAILED', `"${text}" is not a Kubernetes endpoint URL`, {
      cause,
    });
  }
  if (url.protocol !== 'https:') {
    throw new MetroctlError('METROCTL_FAILED', `Kubernetes endpoint "${text}" is not https`);
  }
  return url.origin;
}
