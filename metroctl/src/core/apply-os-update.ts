// `update apply`: creates an OSUpdate. A bundle URL is used as given; a bundle file is served
// over HTTP from this machine (BundleHttpServer, which also yields the digest) until no selected
// node needs it any more, or until Ctrl-C.
import { isApiRestarting } from './api-restarting.js';
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { OSUpdate, OSUpdateSpec } from '@metropolis/api';
import { BundleHttpServer, type ServedBundle } from '@metropolis/bundle';
import { errorMessage } from '@metropolis/errors';
import { MetroctlError } from '../errors.js';
import { bundleStillNeeded, type BundleNeed } from './bundle-still-needed.js';
import { isErrno } from './is-errno.js';
import type { OSUpdateRequest } from './os-update-request.js';
import { osUpdateName } from './os-update-name.js';
import type { OSUpdates } from './os-updates.js';
import { pollUntil } from './poll-until.js';

/** What serves a bundle file to the nodes (BundleHttpServer; a seam for tests). */
export interface BundleServer {
  serve(file: string): Promise<ServedBundle>;
  close(): Promise<void>;
}

/** A bundle file being served. */
export interface ServedFile extends ServedBundle {
  /** The file's absolute path. */
  readonly file: string;
}

export interface ApplyOSUpdateOptions {
  readonly updates: Pick<OSUpdates, 'create' | 'get'>;
  readonly request: OSUpdateRequest;
  /**
   * The address to serve a bundle file on when --serve-address was not given: the one the
   * nodes reach this machine by. Called only for a file.
   */
  readonly serveAddress: () => Promise<string>;
  /** Ctrl-C: stops serving. Needed for a file only. */
  readonly signal: AbortSignal;
  /** @default BundleHttpServer.start on the host, any free port */
  readonly startServer?: (host: string) => Promise<BundleServer>;
  /** How often the update is read while its file is served. @default 2000 */
  readonly pollIntervalMs?: number;
  /** Called once the file is served, before the update is created. */
  readonly onServing?: (served: ServedFile) => void;
  readonly onCreated?: (update: OSUpdate) => void;
  /** Called while serving, each time the update's progress changed. */
  readonly onProgress?: (update: OSUpdate, need: BundleNeed) => void;
  /** Called when reading the update failed for lack of an answer; it is read again. */
  readonly onRetry?: (error: MetroctlError) => void;
}

/** How `applyOSUpdate` ended. */
export type ApplyOutcome =
  /** A bundle URL: the update was created; nothing to serve. */
  | { readonly kind: 'created'; readonly update: OSUpdate }
  /** A file, served until no node needed it any more. */
  | {
      readonly kind: 'served';
      readonly update: OSUpdate;
      readonly served: ServedFile;
      readonly need: BundleNeed;
    }
  /** Ctrl-C after the update was created: nodes that have not staged it still need the file. */
  | {
      readonly kind: 'interrupted';
      readonly update: OSUpdate;
      readonly served: ServedFile;
      readonly need: BundleNeed;
    }
  /** Ctrl-C before the update was created: nothing was created. */
  | { readonly kind: 'cancelled' };

/** Creates the update; with a file, serves it as long as the nodes need it (see ApplyOutcome). */
export async function applyOSUpdate(options: ApplyOSUpdateOptions): Promise<ApplyOutcome> {
  const { request, updates } = options;
  const name = request.name ?? osUpdateName(request.spec.version);
  const source = request.source;
  if (source.kind === 'url') {
    const update = await updates.create(name, {
      ...request.spec,
      bundle: { url: source.url, sha256: source.sha256 },
    });
    options.onCreated?.(update);
    return { kind: 'created', update };
  }

  const file = resolve(source.path);
  await checkFile(file, source.path);
  const host = source.serveAddress ?? (await options.serveAddress());
  const server = await startServer(options.startServer, host);
  try {
    const served: ServedFile = { ...(await serve(server, file)), file };
    if (source.sha256 !== undefined && source.sha256 !== served.sha256) {
      throw new MetroctlError(
        'METROCTL_USAGE',
        `${source.path} has sha256 ${served.sha256}, not ${source.sha256} (--sha256)`,
      );
    }
    if (options.signal.aborted) return { kind: 'cancelled' };
    options.onServing?.(served);
    const spec: OSUpdateSpec = {
      ...request.spec,
      bundle: { url: served.url, sha256: served.sha256 },
    };
    let update = await updates.create(name, spec);
    options.onCreated?.(update);
    let need = bundleStillNeeded(update);
    let lastProgress: string | undefined;
    const outcome = await pollUntil({
      read: () => updates.get(name),
      onValue: (current) => {
        update = current;
        need = bundleStillNeeded(current);
        const progress = JSON.stringify([
          current.status?.phase,
          current.status?.updated,
          need.reason,
          need.staging,
          need.pending,
        ]);
        if (progress !== lastProgress) options.onProgress?.(current, need);
        lastProgress = progress;
        return !need.needed;
      },
      onError: (error) => {
        // The API server restarting (an update of a controller node) must not stop the
        // serving that the other nodes still need: read again. Anything else ends it.
        if (!isApiRestarting(error)) return false;
        options.onRetry?.(error);
        return true;
      },
      signal: options.signal,
      intervalMs: options.pollIntervalMs ?? 2000,
    });
    return { kind: outcome === 'done' ? 'served' : 'interrupted', update, served, need };
  } finally {
    await server.close();
  }
}

async function checkFile(file: string, given: string): Promise<void> {
  try {
    const info = await stat(file);
    if (!info.isFile()) {
      throw new MetroctlError('METROCTL_USAGE', `--bundle ${given} is not a file`);
    }
  } catch (error) {
    if (error instanceof MetroctlError) throw error;
    if (isErrno(error, 'ENOENT')) {
      throw new MetroctlError(
        'METROCTL_USAGE',
        `--bundle ${given}: no such file (a bundle URL starts with http:// or https://)`,
        { cause: error },
      );
    }
    throw new MetroctlError('METROCTL_FAILED', `cannot read ${given}: ${errorMessage(error)}`, {
      cause: error,
    });
  }
}

async function startServer(
  start: ((host: string) => Promise<BundleServer>) | undefined,
  host: string,
): Promise<BundleServer> {
  try {
    return await (start ?? ((address) => BundleHttpServer.start({ host: address })))(host);
  } catch (error) {
    if (isErrno(error, 'EADDRNOTAVAIL')) {
      throw new MetroctlError(
        'METROCTL_USAGE',
        `cannot serve the bundle on ${host}: not an address of this machine (--serve-address)`,
        { cause: error },
      );
    }
    throw new MetroctlError(
      'METROCTL_FAILED',
      `cannot serve the bundle on ${host}: ${errorMessage(error)}`,
      { cause: error },
    );
  }
}

async function serve(server: BundleServer, file: string): Promise<ServedBundle> {
  try {
    return await server.serve(file);
  } catch (error) {
    throw new MetroctlError('METROCTL_FAILED', `cannot serve ${file}: ${errorMessage(error)}`, {
      cause: error,
    });
  }
}
