// The node's own health checks, run periodically: the data partition is writable and not full,
// the clock lies within the node certificate's validity, a trial boot is within its deadline,
// and the release does not declare itself broken (a test build's hook).
import { X509Certificate } from 'node:crypto';
import { rm, statfs, writeFile } from 'node:fs/promises';
import { errorMessage } from '@metropolis/errors';
import { sleep } from '@metropolis/supervisor';
import type { BootStateView } from '../slots/slot-manager.js';
import type { CheckResult } from './health-book.js';

export interface NodeChecksDeps {
  /** The mounted data partition. */
  readonly dataDir: string;
  /** A scratch file on the data partition the writability check creates and removes. */
  readonly probeFile: string;
  /** This node's cluster certificate (PEM); undefined before the node belongs to a cluster. */
  readonly nodeCertificate: () => Promise<string | undefined>;
  readonly boot: () => Promise<BootStateView>;
  /** When an uncommitted trial boot falls back (ms since epoch). */
  readonly trialDeadlineMs: () => number;
  /** 'fail': the release was built never to become healthy (update tests). */
  readonly releaseHealthCheck: 'ok' | 'fail';
  readonly report: (checks: readonly CheckResult[]) => void;
  /** @default 5000 */
  readonly intervalMs?: number;
  readonly now?: () => number;
}

/** The data partition counts as full below 5 % free, or below 1 GiB on a large partition. */
export function minimumFreeBytes(sizeBytes: number): number {
  return Math.min(sizeBytes * 0.05, 1024 ** 3);
}

export class NodeChecks {
  readonly #deps: NodeChecksDeps;
  /** The validity of the certificate last checked: parsed again only when the PEM changes. */
  #validity: { readonly pem: string; readonly from: number; readonly to: number } | undefined;

  constructor(deps: NodeChecksDeps) {
    this.#deps = deps;
  }

  /** Runs every check once and reports them. */
  async check(): Promise<void> {
    this.#deps.report(
      await Promise.all([
        this.#dataPartition(),
        this.#clock(),
        this.#trial(),
        Promise.resolve(this.#release()),
      ]),
    );
  }

  /**
   * Checks every interval until `signal` aborts, starting one interval from now: the agent runs
   * `check()` itself before it serves, and a second round at once would tell nothing new.
   */
  async run(signal: AbortSignal): Promise<void> {
    for (;;) {
      await sleep(this.#deps.intervalMs ?? 5_000, signal);
      if (signal.aborted) return;
      await this.check();
    }
  }

  async #dataPartition(): Promise<CheckResult> {
    const name = 'data-partition';
    const { dataDir, probeFile } = this.#deps;
    try {
      const stats = await statfs(dataDir);
      const size = stats.blocks * stats.bsize;
      const free = stats.bavail * stats.bsize;
      const wanted = minimumFreeBytes(size);
      if (free < wanted) {
        return {
          name,
          ok: false,
          message: `full: ${mebibytes(free)} free of ${mebibytes(size)} (needs at least ${mebibytes(wanted)})`,
        };
      }
      await writeFile(probeFile, 'health probe\n', { flush: true });
      await rm(probeFile);
      return {
        name,
        ok: true,
        message: `writable, ${String(Math.floor((free / size) * 100))}% free`,
      };
    } catch (error) {
      await rm(probeFile, { force: true }).catch(() => undefined);
      return { name, ok: false, message: `not writable: ${errorMessage(error)}` };
    }
  }

  async #clock(): Promise<CheckResult> {
    const name = 'clock';
    const pem = await this.#deps.nodeCertificate();
    if (pem === undefined) {
      return { name, ok: true, message: 'no cluster certificate yet to check the time against' };
    }
    const { from, to } = this.#validityOf(pem);
    const now = (this.#deps.now ?? Date.now)();
    const time = new Date(now).toISOString();
    if (now < from) {
      return {
        name,
        ok: false,
        message: `the time ${time} is before the node certificate's validity starts (${new Date(from).toISOString()}): TLS with this node fails`,
      };
    }
    if (now > to) {
      return {
        name,
        ok: false,
        message: `the time ${time} is after the node certificate expired (${new Date(to).toISOString()})`,
      };
    }
    return { name, ok: true, message: "within the node certificate's validity" };
  }

  #validityOf(pem: string): { readonly from: number; readonly to: number } {
    if (this.#validity?.pem !== pem) {
      const certificate = new X509Certificate(pem);
      this.#validity = {
        pem,
        from: Date.parse(certificate.validFrom),
        to: Date.parse(certificate.validTo),
      };
    }
    return this.#validity;
  }

  async #trial(): Promise<CheckResult> {
    const name = 'trial';
    const boot = await this.#deps.boot();
    if (!boot.trial) {
      return { name, ok: true, message: `slot ${boot.runningSlot} is committed` };
    }
    const deadline = this.#deps.trialDeadlineMs();
    const by = new Date(deadline).toISOString();
    if ((this.#deps.now ?? Date.now)() > deadline) {
      return {
        name,
        ok: false,
        message: `trial boot of slot ${boot.runningSlot} was not committed by ${by}: the node falls back to its committed slot`,
      };
    }
    return {
      name,
      ok: true,
      message: `trial boot of slot ${boot.runningSlot}: to be committed by ${by}`,
    };
  }

  #release(): CheckResult {
    return this.#deps.releaseHealthCheck === 'fail'
      ? {
          name: 'release',
          ok: false,
          message: 'this release is built never to become healthy (a test build)',
        }
      : { name: 'release', ok: true, message: 'the release declares no failure' };
  }
}

function mebibytes(bytes: number): string {
  return `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
}
