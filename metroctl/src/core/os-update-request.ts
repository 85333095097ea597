// `update apply` flags turned into what to create: the spec without its bundle, and where the
// bundle comes from (a URL with its digest, or a file to serve). Pure: no I/O, no API calls.
// Checks what it can say clearly here; the CRD's rules (durations, label syntax, URL host) stay
// the API server's, whose message metroctl prints.
import { isIP } from 'node:net';
import {
  osUpdateFailurePolicies,
  parseMaxUnavailable as parseMaxUnavailableValue,
  type OSUpdateFailurePolicy,
  type OSUpdateNodeSelector,
  type OSUpdateNodeSelectorRequirement,
  type OSUpdateSpec,
  type OSUpdateStrategy,
} from '@metropolis/api';
import { MetroctlError } from '../errors.js';

/** The flags of `update apply` as commander hands them over (strings, unparsed). */
export interface ApplyFlags {
  readonly bundle: string;
  readonly version: string;
  readonly name?: string | undefined;
  /** --selector, repeatable, each comma-separated. */
  readonly selector?: readonly string[] | undefined;
  readonly maxUnavailable?: string | undefined;
  readonly failurePolicy?: string | undefined;
  readonly bootTimeout?: string | undefined;
  readonly healthTimeout?: string | undefined;
  readonly sha256?: string | undefined;
  readonly serveAddress?: string | undefined;
  readonly paused?: boolean | undefined;
}

/** Where the bundle comes from. */
export type BundleSource =
  | { readonly kind: 'url'; readonly url: string; readonly sha256: string }
  | {
      readonly kind: 'file';
      /** As given; the caller resolves it against the working directory. */
      readonly path: string;
      /** --sha256, if given: the served file must hash to it. */
      readonly sha256: string | undefined;
      /** --serve-address, if given; otherwise the address towards the first node. */
      readonly serveAddress: string | undefined;
    };

/** An OSUpdate to create, checked as far as metroctl can. */
export interface OSUpdateRequest {
  /** --name; undefined: generate one. */
  readonly name: string | undefined;
  readonly source: BundleSource;
  /** The spec, except `bundle`, which depends on the source. */
  readonly spec: Omit<OSUpdateSpec, 'bundle'>;
}

/** Parses and checks the flags; METROCTL_USAGE with the flag's name on anything wrong. */
export function parseOSUpdateRequest(flags: ApplyFlags): OSUpdateRequest {
  const version = flags.version.trim();
  if (version === '') throw usage('--version must not be empty');
  const strategy: OSUpdateStrategy = {
    ...(flags.maxUnavailable === undefined
      ? {}
      : { maxUnavailable: parseMaxUnavailable(flags.maxUnavailable) }),
    ...(flags.failurePolicy === undefined
      ? {}
      : { failurePolicy: parseFailurePolicy(flags.failurePolicy) }),
    ...(flags.bootTimeout === undefined ? {} : { bootTimeout: flags.bootTimeout }),
    ...(flags.healthTimeout === undefined ? {} : { healthTimeout: flags.healthTimeout }),
  };
  const nodeSelector = parseNodeSelector(flags.selector ?? []);
  const name = flags.name?.trim();
  if (name === '') throw usage('--name must not be empty');
  return {
    name,
    source: parseBundleSource(flags),
    spec: {
      version,
      ...(nodeSelector === undefined ? {} : { nodeSelector }),
      // Fields left out get the CRD's defaults, so the stored object says what applies.
      ...(Object.keys(strategy).length === 0 ? {} : { strategy }),
      ...(flags.paused === true ? { paused: true } : {}),
    },
  };
}

/** --bundle with --sha256 and --serve-address: a URL needs a digest, a file is served. */
export function parseBundleSource(flags: ApplyFlags): BundleSource {
  const text = flags.bundle.trim();
  if (text === '') throw usage('--bundle must not be empty');
  const sha256 = flags.sha256 === undefined ? undefined : parseSha256(flags.sha256);
  if (/^https?:\/\//.test(text)) {
    if (sha256 === undefined) {
      throw usage(
        '--sha256 is required with a bundle URL (the SHA-256 of the bundle file, as sha256sum ' +
          'prints it); with a file, metroctl serves it and takes the digest from the server',
      );
    }
    if (flags.serveAddress !== undefined) {
      throw usage('--serve-address applies only to a bundle file, which metroctl serves');
    }
    return { kind: 'url', url: text, sha256 };
  }
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(text)?.[1];
  if (scheme !== undefined) {
    throw usage(`--bundle: nodes fetch over http:// or https://, not ${scheme}://`);
  }
  return {
    kind: 'file',
    path: text,
    sha256,
    serveAddress:
      flags.serveAddress === undefined ? undefined : parseServeAddress(flags.serveAddress),
  };
}

/** 64 hex digits, as sha256sum prints them; upper case is accepted and lowered. */
export function parseSha256(text: string): string {
  const digest = text.trim().toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(digest)) {
    throw usage(
      `--sha256 must be 64 hexadecimal digits (the SHA-256 of the bundle file, as sha256sum ` +
        `prints it), not "${text}"`,
    );
  }
  return digest;
}

/**
 * A count of at least 1 (sent as a number) or a percentage from 1% to 100% (sent as a
 * string), as spec.strategy.maxUnavailable takes them.
 */
export function parseMaxUnavailable(text: string): number | string {
  const value = parseMaxUnavailableValue(text);
  if (value !== undefined) return value;
  throw usage(
    `--max-unavailable must be a node count of at least 1 or a percentage from 1% to 100%, ` +
      `not "${text}"`,
  );
}

/** Halt or Revert, case-insensitive. */
export function parseFailurePolicy(text: string): OSUpdateFailurePolicy {
  const policy = osUpdateFailurePolicies.find(
    (name) => name.toLowerCase() === text.trim().toLowerCase(),
  );
  if (policy === undefined) {
    throw usage(`--failure-policy must be Halt or Revert, not "${text}"`);
  }
  return policy;
}

/**
 * --selector terms, kubectl's equality-based syntax: `key=value` (or `key==value`) a label the
 * node must carry with that value, `key!=value` a value it must not have, `key` a label it
 * must carry, `!key` a label it must not carry. undefined when there are no terms (every
 * approved node). Label syntax itself is the API server's to check.
 */
export function parseNodeSelector(terms: readonly string[]): OSUpdateNodeSelector | undefined {
  const matchLabels: Record<string, string> = {};
  const matchExpressions: OSUpdateNodeSelectorRequirement[] = [];
  const parts = terms.flatMap((term) => term.split(',')).map((part) => part.trim());
  for (const part of parts.filter((text) => text !== '')) {
    const equality = /^([^=!\s]+)\s*(==|=|!=)\s*([^=!\s]*)$/.exec(part);
    const existence = /^(!?)([^=!\s]+)$/.exec(part);
    if (equality !== null) {
      const [, key = '', operator, value = ''] = equality;
      if (operator === '!=') {
        matchExpressions.push({ key, operator: 'NotIn', values: [value] });
        continue;
      }
      const previous = matchLabels[key];
      if (previous !== undefined && previous !== value) {
        throw usage(`--selector asks for ${key}=${previous} and ${key}=${value}: no node has both`);
      }
      matchLabels[key] = value;
    } else if (existence !== null) {
      const [, not, key = ''] = existence;
      matchExpressions.push({ key, operator: not === '!' ? 'DoesNotExist' : 'Exists' });
    } else {
      throw usage(`--selector: "${part}" is not key=value, key!=value, key or !key`);
    }
  }
  if (Object.keys(matchLabels).length === 0 && matchExpressions.length === 0) return undefined;
  return {
    ...(Object.keys(matchLabels).length === 0 ? {} : { matchLabels }),
    ...(matchExpressions.length === 0 ? {} : { matchExpressions }),
  };
}

/** An IP address of this machine that the nodes reach: not a host name, not 0.0.0.0 or ::. */
export function parseServeAddress(text: string): string {
  const address = text.trim().replace(/^\[(.*)\]$/, '$1');
  if (isIP(address) === 0) {
    throw usage(`--serve-address must be an IP address of this machine, not "${text}"`);
  }
  if (address === '0.0.0.0' || /^[0:]+$/.test(address)) {
    throw usage(
      `--serve-address must be an address the nodes can reach, not the unspecified ${address}`,
    );
  }
  return address;
}

function usage(message: string): MetroctlError {
  return new MetroctlError('METROCTL_USAGE', message);
}
