// Adds or replaces one cluster, user and context in a kubeconfig without touching anything
// else in it: other contexts, preferences and comments survive, as with `kubectl config set-*`.
import { mkdir, readFile, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { errorMessage } from '@metropolis/errors';
import { Document, isMap, isSeq, parseDocument } from 'yaml';
import { MetroctlError } from '../errors.js';
import { isErrno } from './is-errno.js';
import { writeFileAtomic } from '@metropolis/process';

/** One kubeconfig entry: a cluster, a user and a context that share `name`. */
export interface KubeconfigEntry {
  /** Name of the cluster, the user and the context, e.g. `metroctl`. */
  readonly name: string;
  /** `https://ADDRESS:6443` */
  readonly server: string;
  /** Path of the cluster CA (PEM). Files, not inline data: rotating them needs no rewrite. */
  readonly certificateAuthority: string;
  /** Path of the owner certificate (PEM). */
  readonly clientCertificate: string;
  /** Path of the owner key (PKCS#8 PEM). */
  readonly clientKey: string;
}

/** What merging changed. */
export interface KubeconfigMerge {
  readonly text: string;
  /** Whether the entry replaced one with the same name (rather than being added). */
  readonly replaced: boolean;
  /** Whether the context became current-context (only when there was none). */
  readonly madeCurrent: boolean;
}

/**
 * Merges `entry` into kubeconfig YAML (`undefined` or empty: a new kubeconfig). The context
 * becomes current only when none is set, so an existing kubectl setup keeps working as it was.
 * Throws METROCTL_CONFIG when the text is not a kubeconfig, rather than overwrite it.
 */
export function mergeKubeconfig(
  existing: string | undefined,
  entry: KubeconfigEntry,
): KubeconfigMerge {
  const parsed = parseDocument(existing ?? '');
  if (parsed.errors.length > 0) {
    throw new MetroctlError(
      'METROCTL_CONFIG',
      `kubeconfig is not valid YAML (${parsed.errors[0]?.message ?? 'parse error'}): refusing to rewrite it`,
    );
  }
  // An empty file (or one with only comments) is a kubeconfig with nothing in it yet.
  const doc: Document =
    parsed.contents === null
      ? new Document({ apiVersion: 'v1', kind: 'Config', preferences: {} })
      : parsed;
  if (!isMap(doc.contents)) {
    throw new MetroctlError(
      'METROCTL_CONFIG',
      'kubeconfig is not a YAML mapping: refusing to rewrite it',
    );
  }
  const sections = {
    clusters: {
      name: entry.name,
      cluster: { server: entry.server, 'certificate-authority': entry.certificateAuthority },
    },
    users: {
      name: entry.name,
      user: {
        'client-certificate': entry.clientCertificate,
        'client-key': entry.clientKey,
      },
    },
    contexts: { name: entry.name, context: { cluster: entry.name, user: entry.name } },
  };
  let replaced = false;
  for (const [section, item] of Object.entries(sections)) {
    replaced = upsertNamed(doc, section, item) || replaced;
  }
  const current: unknown = doc.get('current-context');
  const madeCurrent = typeof current !== 'string' || current === '';
  if (madeCurrent) doc.set('current-context', entry.name);
  return { text: doc.toString(), replaced, madeCurrent };
}

/** Reads the kubeconfig at `path` (if any), merges `entry` and writes it back atomically. */
export async function writeKubeconfigEntry(
  path: string,
  entry: KubeconfigEntry,
): Promise<Omit<KubeconfigMerge, 'text'>> {
  let existing: string | undefined;
  let mode = 0o600;
  try {
    existing = await readFile(path, 'utf8');
    mode = (await stat(path)).mode & 0o777;
  } catch (error) {
    if (!isErrno(error, 'ENOENT')) {
      throw new MetroctlError('METROCTL_FAILED', `cannot read ${path}: ${errorMessage(error)}`, {
        cause: error,
      });
    }
  }
  let merged: KubeconfigMerge;
  try {
    merged = mergeKubeconfig(existing, entry);
  } catch (error) {
    if (error instanceof MetroctlError) {
      throw new MetroctlError(error.code, `${path}: ${error.message}`, { cause: error });
    }
    throw error;
  }
  try {
    await mkdir(dirname(path), { recursive: true, mode: 0o700 });
    await writeFileAtomic(path, merged.text, { mode });
  } catch (error) {
    throw new MetroctlError('METROCTL_FAILED', `cannot write ${path}: ${errorMessage(error)}`, {
      cause: error,
    });
  }
  return { replaced: merged.replaced, madeCurrent: merged.madeCurrent };
}

/** Replaces the item named like `item` in the list `section`, or appends it. */
function upsertNamed(doc: Document, section: string, item: { name: string }): boolean {
  const list: unknown = doc.get(section);
  if (list === undefined || list === null) {
    doc.set(section, doc.createNode([item]));
    return false;
  }
  if (!isSeq(list)) {
    throw new MetroctlError(
      'METROCTL_CONFIG',
      `kubeconfig "${section}" is not a list: refusing to rewrite it`,
    );
  }
  const index = list.items.findIndex(
    (existing) => isMap(existing) && existing.get('name') === item.name,
  );
  if (index === -1) {
    list.add(doc.createNode(item));
    return false;
  }
  list.set(index, doc.createNode(item));
  return true;
}
