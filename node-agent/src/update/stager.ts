// StageUpdate: download a bundle into the data partition while verifying its signed manifest
// and hashes, and only then write the inactive slot and its loader. A bad bundle of any kind
// leaves both slots, the ESP and the EFI variables exactly as they were.
import type { NodeLayout } from '@metropolis/api';
import { mkdir, open, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import {
  BundleError,
  developmentReleaseKeyId,
  readBundle,
  type BundleFile,
  type BundleManifest,
  type ReleaseKey,
} from '@metropolis/bundle';
import { errorMessage } from '@metropolis/errors';
import { AgentError } from '../errors.js';
import type { EpochGuard } from './epoch-guard.js';
import type { BundleFetch } from './http-fetch.js';
import type { SlotManager } from '../slots/slot-manager.js';
import { otherSlot, type Slot } from '../slots/slot.js';

export type StagePhase = 'downloading' | 'writing-slot' | 'writing-loader' | 'done';

export interface StageProgress {
  readonly phase: StagePhase;
  readonly bytesDone: number;
  readonly bytesTotal: number;
  /** From the verified manifest; '' until then. */
  readonly version: string;
  readonly slot: Slot;
}

export interface StageRequest {
  readonly url: string;
  /** sha256 of the whole bundle, lowercase hex. */
  readonly sha256: string;
  readonly expectedVersion?: string;
  /** Accept a bundle below the committed security epoch (an owner-approved downgrade). */
  readonly allowDowngrade?: boolean;
}

/** What the node parameters say about release keys. */
export interface UpdateTrust {
  readonly keys: readonly ReleaseKey[];
  /** A development node: only then is the committed development key trusted. */
  readonly development: boolean;
}

/** Bounds of a bundle download, in milliseconds (docs/node-agent.md). */
export interface DownloadLimits {
  /** Until the connection is established. @default 30 s */
  readonly connectTimeoutMs: number;
  /**
   * The stall window: a download that receives less than {@link minBytesPerWindow} in any window
   * this long fails (a host that drips a byte a second is as stuck as a silent one). @default 30 s
   */
  readonly idleTimeoutMs: number;
  /** For the whole download and verification. @default 1 h */
  readonly totalTimeoutMs: number;
}

/** Less than this in one stall window (about 2 KiB/s over the default 30 s) is a stall. */
export const minBytesPerWindow = 64 << 10;

export const defaultDownloadLimits: DownloadLimits = {
  connectTimeoutMs: 30_000,
  idleTimeoutMs: 30_000,
  totalTimeoutMs: 3_600_000,
};

/**
 * The largest loader a node accepts: the loader is read whole into memory and lands on the ESP.
 * Checked against the signed manifest, before any payload byte.
 */
export const maxLoaderBytes = 256 << 20;

export interface StagerDeps {
  readonly slots: SlotManager;
  readonly layout: NodeLayout;
  /** Read at every stage, so new node parameters apply without a reboot. */
  readonly trust: () => Promise<UpdateTrust>;
  readonly epochs: EpochGuard;
  /** @default defaultDownloadLimits */
  readonly download?: Partial<DownloadLimits>;
  readonly flavour: BundleManifest['flavour'];
  readonly architecture: BundleManifest['architecture'];
  /** httpFetch in the agent; the global fetch works too, more slowly. */
  readonly fetch: BundleFetch;
}

/** One stage's download: where it goes, what it trusts, and what ends it early. */
interface DownloadContext {
  readonly slot: Slot;
  readonly slotSize: number;
  readonly trust: UpdateTrust;
  readonly limits: DownloadLimits;
  readonly signal: AbortSignal;
  /** The total timeout. */
  readonly deadline: AbortSignal;
  readonly watchdog: StallWatchdog;
}

// The slot copy moves this much per read and per write, and starts writeback every flushStep.
const chunkSize = 4 << 20;
const flushStep = 32 << 20;
// Progress goes over gRPC; one message per 4 MiB is plenty.
const progressStep = 4 << 20;

export class Stager {
  #deps: StagerDeps;
  #busy = false;

  constructor(deps: StagerDeps) {
    this.#deps = deps;
  }

  /** Removes what a stage cut short (power loss, crash) left in the staging area. */
  async clearStaging(): Promise<void> {
    await rm(this.#deps.layout.staging, { recursive: true, force: true });
  }

  async stage(
    request: StageRequest,
    onProgress: (progress: StageProgress) => void,
    signal?: AbortSignal,
  ): Promise<BundleManifest> {
    if (this.#busy) {
      throw new AgentError(
        'AGENT_STAGE_IN_PROGRESS',
        'another StageUpdate is running on this node',
      );
    }
    this.#busy = true;
    try {
      return await this.#stage(request, onProgress, signal);
    } finally {
      this.#busy = false;
      await this.clearStaging();
    }
  }

  async #stage(
    request: StageRequest,
    onProgress: (progress: StageProgress) => void,
    signal?: AbortSignal,
  ): Promise<BundleManifest> {
    const { layout, slots } = this.#deps;
    validate(request);
    const slot = otherSlot(slots.runningSlot);
    const slotSize = (await stat(layout.systemSlot(slot))).size;
    const trust = await this.#deps.trust();
    const trustedKeys = trust.keys;
    if (trustedKeys.length === 0) {
      throw new AgentError(
        'AGENT_STAGE_REFUSED',
        'this node trusts no release key (node parameters)',
      );
    }
    await this.clearStaging();
    await mkdir(layout.staging, { recursive: true });

    const limits = { ...defaultDownloadLimits, ...this.#deps.download };
    const deadline = AbortSignal.timeout(limits.totalTimeoutMs);
    const watchdog = new StallWatchdog(limits.idleTimeoutMs);
    try {
      return await this.#download(request, onProgress, {
        slot,
        slotSize,
        trust,
        limits,
        signal: AbortSignal.any([...(signal ? [signal] : []), deadline, watchdog.signal]),
        deadline,
        watchdog,
      });
    } finally {
      watchdog.stop();
    }
  }

  async #download(
    request: StageRequest,
    onProgress: (progress: StageProgress) => void,
    abort: DownloadContext,
  ): Promise<BundleManifest> {
    const { layout, slots } = this.#deps;
    const { slot, slotSize, trust, limits } = abort;
    const trustedKeys = trust.keys;
    // Why a download ended early, when one of its own limits ended it.
    const limitHit = (): string | undefined =>
      abort.watchdog.stalled ??
      (abort.deadline.aborted
        ? `not done within ${String(limits.totalTimeoutMs / 1000)} s`
        : undefined);
    const response = await this.#deps
      .fetch(request.url, {
        signal: abort.signal,
        connectTimeoutMs: limits.connectTimeoutMs,
        idleTimeoutMs: limits.idleTimeoutMs,
      })
      .catch((cause: unknown) => {
        throw new AgentError(
          'AGENT_DOWNLOAD_FAILED',
          `cannot download ${request.url}: ${limitHit() ?? errorMessage(cause)}`,
          { cause },
        );
      });
    if (!response.ok || response.body === null) {
      throw new AgentError(
        'AGENT_DOWNLOAD_FAILED',
        `cannot download ${request.url}: HTTP ${String(response.status)}`,
      );
    }
    const total = Number(response.headers.get('content-length') ?? '0');
    let version = '';
    let reported = 0;
    const staged = new Map<BundleFile['role'], { path: string; size: number }>();
    const manifest = await readBundle(abort.watchdog.count(response.body), {
      trustedKeys,
      expectedSha256: request.sha256,
      onManifest: async (candidate) => {
        if (candidate.keyId === developmentReleaseKeyId && !trust.development) {
          throw new AgentError(
            'AGENT_DEV_KEY_REFUSED',
            `bundle ${candidate.version} is signed with the development release key (${developmentReleaseKeyId}), whose private half is public; this node's parameters do not say "development": true`,
          );
        }
        this.#check(candidate, request, slot, slotSize);
        await this.#deps.epochs.checkStage(
          candidate.securityEpoch,
          candidate.version,
          request.allowDowngrade === true,
        );
        version = candidate.version;
      },
      openPayload: async (file) => {
        const path = join(layout.staging, `${file.role}.part`);
        staged.set(file.role, { path, size: file.size });
        return stagingSink(await open(path, 'w'));
      },
      onProgress: ({ bytes, totalBytes }) => {
        if (bytes - reported < progressStep && bytes !== totalBytes) return;
        reported = bytes;
        onProgress({
          phase: 'downloading',
          bytesDone: bytes,
          bytesTotal: total || totalBytes,
          version,
          slot,
        });
      },
    }).catch((cause: unknown) => {
      if (cause instanceof AgentError) throw cause;
      // A refusal of this node's own checks keeps its code (a downgrade, the dev key, …).
      if (cause instanceof BundleError && cause.cause instanceof AgentError) throw cause.cause;
      const limit = limitHit();
      if (limit !== undefined) {
        throw new AgentError('AGENT_DOWNLOAD_FAILED', `cannot download ${request.url}: ${limit}`, {
          cause,
        });
      }
      const what = cause instanceof Error && 'code' in cause ? `${String(cause.code)}: ` : '';
      throw new AgentError('AGENT_STAGE_REFUSED', `bundle refused: ${what}${errorMessage(cause)}`, {
        cause,
      });
    });
    abort.watchdog.stop();

    const system = staged.get('system');
    const loader = staged.get('loader');
    if (!system || !loader)
      throw new AgentError('AGENT_STAGE_REFUSED', 'bundle lacks a system image or loader');

    // From here on the bundle is verified. The entry is disabled first so the firmware can
    // never boot a half-written slot, even if power is cut in the middle; a BootNext left
    // pointing at it (a reboot that never happened) is dropped: what it meant is overwritten.
    await slots.setEntryActive(slot, false);
    await slots.clearNextBootTo(slot);
    await this.#deps.epochs.forgetSlot(slot);
    await copyInto(system.path, layout.systemSlot(slot), (bytesDone) => {
      onProgress({ phase: 'writing-slot', bytesDone, bytesTotal: system.size, version, slot });
    });
    onProgress({ phase: 'writing-loader', bytesDone: 0, bytesTotal: loader.size, version, slot });
    await replaceFile(loader.path, layout.loader(slot));
    await this.#deps.epochs.recordSlot(
      slot,
      manifest.securityEpoch,
      request.allowDowngrade === true,
    );
    await slots.setEntryActive(slot, true);
    await slots.ensureBootEntries();
    onProgress({ phase: 'done', bytesDone: system.size, bytesTotal: system.size, version, slot });
    return manifest;
  }

  #check(manifest: BundleManifest, request: StageRequest, slot: Slot, slotSize: number): void {
    const { flavour, architecture } = this.#deps;
    const refuse = (message: string): never => {
      throw new AgentError('AGENT_STAGE_REFUSED', message);
    };
    if (manifest.flavour !== flavour) {
      refuse(`bundle is for ${manifest.flavour} nodes; this is a ${flavour} node`);
    }
    if (manifest.architecture !== architecture) {
      refuse(`bundle is for ${manifest.architecture}; this node is ${architecture}`);
    }
    if (request.expectedVersion && manifest.version !== request.expectedVersion) {
      refuse(`bundle carries version ${manifest.version}, expected ${request.expectedVersion}`);
    }
    const loader = manifest.files.find((file) => file.role === 'loader');
    if (loader && loader.size > maxLoaderBytes) {
      refuse(
        `loader (${String(loader.size)} bytes) is larger than the ${String(maxLoaderBytes >> 20)} MiB a node accepts`,
      );
    }
    const system = manifest.files.find((file) => file.role === 'system');
    if (system && system.size > slotSize) {
      refuse(
        `system image (${String(system.size)} bytes) is larger than slot ${slot} (${String(slotSize)} bytes)`,
      );
    }
  }
}

/**
 * Aborts a download that receives less than {@link minBytesPerWindow} in a window, checked at
 * the end of each window from the start of the request (so a silent server counts too).
 */
class StallWatchdog {
  readonly #controller = new AbortController();
  readonly #timer: NodeJS.Timeout;
  #bytes = 0;
  stalled: string | undefined;

  constructor(windowMs: number) {
    this.#timer = setInterval(() => {
      if (this.#bytes < minBytesPerWindow) {
        this.stalled = `the download stalled: ${String(this.#bytes)} bytes in ${String(windowMs / 1000)} s (at least ${String(minBytesPerWindow)} expected)`;
        this.stop();
        this.#controller.abort(new Error(this.stalled));
      }
      this.#bytes = 0;
    }, windowMs);
  }

  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** The body, counted as it is read. */
  async *count(body: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
    for await (const chunk of body) {
      this.#bytes += chunk.byteLength;
      yield chunk;
    }
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}

function validate(request: StageRequest): void {
  let url: URL;
  try {
    url = new URL(request.url);
  } catch (cause) {
    throw new AgentError('AGENT_INVALID_ARGUMENT', `not a URL: ${request.url}`, { cause });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new AgentError('AGENT_INVALID_ARGUMENT', `bundle URL must be http(s): ${request.url}`);
  }
  if (!/^[0-9a-f]{64}$/.test(request.sha256)) {
    throw new AgentError('AGENT_INVALID_ARGUMENT', 'sha256 must be 64 lowercase hex digits');
  }
}

/**
 * A staging file is never synced: it is read back from the page cache right after the download
 * and deleted after the slot copy (and at every start), so nothing ever depends on it surviving a
 * power cut. Unsynced, it usually never reaches the disk at all.
 */
function stagingSink(handle: FileHandle) {
  return {
    async write(chunk: Uint8Array): Promise<void> {
      await handle.write(chunk);
    },
    async close(): Promise<void> {
      await handle.close();
    },
  };
}

/**
 * Copies a file into a slot (a partition: written in place from offset 0, never truncated), the
 * next chunk's read running beside the current chunk's write. Writeback starts while the copy
 * goes on (one fdatasync in flight at a time), so the final fsync waits only for the rest.
 */
async function copyInto(
  source: string,
  target: string,
  onBytes: (bytes: number) => void,
): Promise<void> {
  const input = await open(source, 'r');
  const output = await open(target, 'r+');
  let flushing: Promise<void> | undefined;
  try {
    let filled = Buffer.allocUnsafe(chunkSize);
    let spare = Buffer.allocUnsafe(chunkSize);
    let position = 0;
    let reported = 0;
    let flushed = 0;
    let { bytesRead } = await input.read(filled, 0, chunkSize, 0);
    while (bytesRead > 0) {
      const [read, written] = await Promise.allSettled([
        input.read(spare, 0, chunkSize, position + bytesRead),
        output.write(filled, 0, bytesRead, position),
      ]);
      if (written.status === 'rejected') throw written.reason;
      if (read.status === 'rejected') throw read.reason;
      [filled, spare] = [spare, filled];
      position += bytesRead;
      bytesRead = read.value.bytesRead;
      if (flushing === undefined && position - flushed >= flushStep) {
        flushed = position;
        const started = output.datasync();
        flushing = started;
        // A failed flush stays in `flushing` and is thrown below: Linux reports a writeback
        // error to one sync only, so it must not be dropped here.
        started.then(
          () => {
            if (flushing === started) flushing = undefined;
          },
          () => undefined,
        );
      }
      if (position - reported >= progressStep) {
        reported = position;
        onBytes(position);
      }
    }
    await flushing;
    await output.sync();
  } finally {
    await flushing?.catch(() => undefined);
    await input.close();
    await output.close();
  }
}

/** Replaces a file atomically: temp name, fsync, rename, fsync the directory. */
async function replaceFile(source: string, target: string): Promise<void> {
  await mkdir(dirname(target), { recursive: true });
  const temp = `${target}.tmp`;
  const input = await open(source, 'r');
  const output = await open(temp, 'w');
  try {
    await output.writeFile(await input.readFile());
    await output.sync();
  } finally {
    await input.close();
    await output.close();
  }
  await rename(temp, target);
  const dir = await open(dirname(target), 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}
