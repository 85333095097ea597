// Where the builder finds its inputs in a checkout: the node agent's entry and the development
// release key. Found from this file's location, so it works from src/ and from dist/src/.
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface WorkspacePaths {
  /** The os-image workspace (the folder of its package.json). */
  readonly osImage: string;
  /** The monorepo root; esbuild paths in the agent bundle are relative to it. */
  readonly repository: string;
  /** The node agent's entry point, bundled into system.img by default. */
  readonly agentEntry: string;
  /** The operator's entry point; the agent starts it on Kubernetes controller nodes. */
  readonly operatorEntry: string;
  /** The operator's watch-framework worker, bundled beside the operator. */
  readonly operatorWatchEntry: string;
  /** The CustomResourceDefinitions the agent installs when it bootstraps a cluster. */
  readonly crds: string;
  /** The development release key: publicly known, for development and tests only. */
  readonly devReleaseKey: { readonly privateKeyPem: string; readonly publicKeyPem: string };
}

/** Paths of this checkout. */
export function workspacePaths(): WorkspacePaths {
  const here = dirname(fileURLToPath(import.meta.url));
  // src/ under tsx, dist/src/ once compiled.
  const osImage = basename(dirname(here)) === 'dist' ? dirname(dirname(here)) : dirname(here);
  const repository = dirname(osImage);
  return {
    osImage,
    repository,
    agentEntry: join(repository, 'node-agent', 'src', 'main.ts'),
    operatorEntry: join(repository, 'operator', 'src', 'main.ts'),
    operatorWatchEntry: join(repository, 'operator', 'src', 'framework', 'k8s-operator-worker.js'),
    crds: join(repository, 'crds'),
    devReleaseKey: {
      privateKeyPem: join(osImage, 'keys', 'dev-release.key.pem'),
      publicKeyPem: join(osImage, 'keys', 'dev-release.pub.pem'),
    },
  };
}
