// release.json, a system image's description of itself, written by the image builder and read
// by the node agent beside its own program: version, flavour, architecture, and what the
// release changes in how its node runs (kube-apiserver flags; a test build's health hook).
import { isEpoch, type BundleArchitecture, type BundleFlavour } from './bundle-manifest.js';
import { BundleError } from './errors.js';

/**
 * `fail` builds an agent that starts but whose `release` health check never passes: a
 * deliberately broken release for rollback tests. Every other check runs as usual.
 */
export type ReleaseHealthCheck = 'ok' | 'fail';

export interface ReleaseInfo {
  readonly version: string;
  /** The security epoch of the bundle this release was built as (0 when absent). */
  readonly securityEpoch: number;
  readonly flavour: BundleFlavour;
  readonly architecture: BundleArchitecture;
  readonly healthCheck: ReleaseHealthCheck;
  /** Flags this release adds to kube-apiserver's command line (after the agent's own). */
  readonly kubeApiserverArgs: readonly string[];
}

/**
 * release.json: UTF-8 JSON, fields in this order, an empty kubeApiserverArgs and an epoch of 0
 * left out.
 */
export function encodeReleaseInfo(info: ReleaseInfo): Uint8Array {
  const { version, securityEpoch, flavour, architecture, healthCheck, kubeApiserverArgs } = info;
  return new TextEncoder().encode(
    JSON.stringify({
      version,
      ...(securityEpoch === 0 ? {} : { securityEpoch }),
      flavour,
      architecture,
      healthCheck,
      ...(kubeApiserverArgs.length === 0 ? {} : { kubeApiserverArgs }),
    }),
  );
}

/** Parses release.json; `what` names the file in errors. @throws BundleError BUNDLE_MALFORMED */
export function parseReleaseInfo(text: string, what: string): ReleaseInfo {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    throw new BundleError('BUNDLE_MALFORMED', `${what} is not valid JSON`, { cause });
  }
  const field = (name: string): unknown =>
    typeof value === 'object' && value !== null && name in value
      ? (value as Record<string, unknown>)[name]
      : undefined;
  const version = field('version');
  if (typeof version !== 'string' || version === '') {
    throw new BundleError('BUNDLE_MALFORMED', `${what} has no version`);
  }
  const securityEpoch = field('securityEpoch') ?? 0;
  if (!isEpoch(securityEpoch)) {
    throw new BundleError(
      'BUNDLE_MALFORMED',
      `${what}: securityEpoch must be a non-negative integer`,
    );
  }
  const args = field('kubeApiserverArgs') ?? [];
  if (!Array.isArray(args) || !args.every((arg) => typeof arg === 'string')) {
    throw new BundleError(
      'BUNDLE_MALFORMED',
      `${what}: kubeApiserverArgs must be a list of strings`,
    );
  }
  return {
    version,
    securityEpoch,
    flavour: field('flavour') === 'vm' ? 'vm' : 'process',
    architecture: field('architecture') === 'aarch64' ? 'aarch64' : 'x86_64',
    healthCheck: field('healthCheck') === 'fail' ? 'fail' : 'ok',
    kubeApiserverArgs: args,
  };
}
