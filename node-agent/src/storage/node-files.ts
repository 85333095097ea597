// Small files the agent reads at boot: node parameters (ESP), the disk description, the
// release description beside the agent's own program, and the management certificates.
import { readFile } from 'node:fs/promises';
import {
  parseReleaseInfo,
  releaseKeyFromPem,
  type ReleaseInfo,
  type ReleaseKey,
} from '@metropolis/bundle';
import { errorMessage } from '@metropolis/errors';
import { ed25519RawFromPem } from '@metropolis/pki';
import { writeFileAtomic } from '@metropolis/process';
import { AgentError } from '../errors.js';
import type { EspPartition } from '../slots/slot-manager.js';
import type { NodeLayout } from '@metropolis/api';

/** The release this agent was built as; a development run from source has none. */
export async function readRelease(url: URL): Promise<ReleaseInfo> {
  const text = await readFile(url, 'utf8').catch(() => undefined);
  if (text === undefined) {
    return {
      version: '0.0.0-dev',
      securityEpoch: 0,
      flavour: 'process',
      architecture: 'x86_64',
      healthCheck: 'ok',
      kubeApiserverArgs: [],
    };
  }
  try {
    return parseReleaseInfo(text, url.pathname);
  } catch (cause) {
    throw new AgentError('AGENT_STORAGE', errorMessage(cause), { cause });
  }
}

/** The ESP's GPT entry; on a process node the emulated disk describes it. */
export async function readEspPartition(path: string): Promise<EspPartition> {
  const disk = parseJson(await readFile(path, 'utf8'), path) as {
    esp?: { partitionNumber?: unknown; start?: unknown; size?: unknown; guid?: unknown };
  };
  const esp = disk.esp;
  if (
    typeof esp?.partitionNumber !== 'number' ||
    typeof esp.start !== 'number' ||
    typeof esp.size !== 'number' ||
    typeof esp.guid !== 'string'
  ) {
    throw new AgentError('AGENT_STORAGE', `${path} does not describe the ESP partition`);
  }
  return {
    partitionNumber: esp.partitionNumber,
    start: BigInt(esp.start),
    size: BigInt(esp.size),
    guid: esp.guid.toLowerCase(),
  };
}

/**
 * Release keys this node trusts, from the node parameters on the ESP, and whether it is a
 * development node (`"development": true`), the only kind that accepts the development key.
 */
export async function readTrustedKeys(
  layout: NodeLayout,
): Promise<{ keys: ReleaseKey[]; development: boolean }> {
  const text = await readFile(layout.parameters, 'utf8').catch(() => undefined);
  if (text === undefined) return { keys: [], development: false };
  const parameters = parseJson(text, layout.parameters) as {
    releaseKeys?: unknown;
    development?: unknown;
  };
  const keys = Array.isArray(parameters.releaseKeys) ? parameters.releaseKeys : [];
  return {
    keys: keys.filter((key): key is string => typeof key === 'string').map(releaseKeyFromPem),
    development: parameters.development === true,
  };
}

/** The join section of the node parameters: how a fresh node finds and joins its cluster. */
export interface JoinParameters {
  readonly caCertificate: string;
  /** Removed from the parameters once the node has joined. */
  readonly registerTicket: string | undefined;
  /** Addresses of nodes that hold the cluster CA. */
  readonly endpoints: readonly string[];
}

export async function readJoinParameters(layout: NodeLayout): Promise<JoinParameters | undefined> {
  const text = await readFile(layout.parameters, 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  const { cluster } = parseJson(text, layout.parameters) as {
    cluster?: { caCertificate?: unknown; registerTicket?: unknown; endpoints?: unknown };
  };
  if (cluster === undefined) return undefined;
  const endpoints = Array.isArray(cluster.endpoints)
    ? cluster.endpoints.filter((endpoint): endpoint is string => typeof endpoint === 'string')
    : [];
  if (
    typeof cluster.caCertificate !== 'string' ||
    (cluster.registerTicket !== undefined && typeof cluster.registerTicket !== 'string') ||
    endpoints.length === 0
  ) {
    throw new AgentError(
      'AGENT_STORAGE',
      `${layout.parameters}: cluster needs caCertificate and endpoints (and registerTicket to join)`,
    );
  }
  return {
    caCertificate: cluster.caCertificate,
    registerTicket: cluster.registerTicket,
    endpoints,
  };
}

/**
 * Rewrites the node parameters without the register ticket (atomically): a joined node no
 * longer needs it, and a stolen ESP must not yield it. True if there was one to remove.
 */
export async function dropRegisterTicket(layout: NodeLayout): Promise<boolean> {
  const text = await readFile(layout.parameters, 'utf8').catch(() => undefined);
  if (text === undefined) return false;
  const parameters = parseJson(text, layout.parameters) as {
    cluster?: { registerTicket?: unknown };
  };
  if (parameters.cluster?.registerTicket === undefined) return false;
  delete parameters.cluster.registerTicket;
  await writeFileAtomic(layout.parameters, `${JSON.stringify(parameters, null, 2)}\n`, {
    mode: 0o644,
  });
  return true;
}

/** Who may bootstrap this unowned node: the owner keys its parameters list (raw Ed25519). */
export async function readOwnerKeys(layout: NodeLayout): Promise<Uint8Array[] | undefined> {
  const text = await readFile(layout.parameters, 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  const { bootstrap } = parseJson(text, layout.parameters) as {
    bootstrap?: { ownerPublicKeys?: unknown };
  };
  if (bootstrap === undefined) return undefined;
  const keys = bootstrap.ownerPublicKeys;
  if (!Array.isArray(keys) || keys.length === 0 || !keys.every((key) => typeof key === 'string')) {
    throw new AgentError(
      'AGENT_STORAGE',
      `${layout.parameters}: bootstrap.ownerPublicKeys must list Ed25519 public keys (PEM)`,
    );
  }
  try {
    return keys.map(ed25519RawFromPem);
  } catch (cause) {
    throw new AgentError(
      'AGENT_STORAGE',
      `${layout.parameters}: bootstrap.ownerPublicKeys: ${errorMessage(cause)}`,
      { cause },
    );
  }
}

export interface ManagementCertificates {
  readonly caPem: string;
  readonly certificatePem: string;
}

/** The cluster CA and this node's certificate, once the node belongs to a cluster. */
export async function readManagementCertificates(
  layout: NodeLayout,
): Promise<ManagementCertificates | undefined> {
  const read = (path: string): Promise<string | undefined> =>
    readFile(path, 'utf8').catch(() => undefined);
  const [caPem, certificatePem] = await Promise.all([
    read(layout.caCertificate),
    read(layout.nodeCertificate),
  ]);
  return caPem && certificatePem ? { caPem, certificatePem } : undefined;
}

function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (cause) {
    throw new AgentError('AGENT_STORAGE', `${what} is not valid JSON`, { cause });
  }
}
