// This node's copy of the cluster's revocation lists: polled from a CA holder (or read from its
// own CA), kept on the data partition so a reboot starts with them, consulted by the agent's
// listeners for every client certificate and read by etcd on every handshake.
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { NodeLayout } from '@metropolis/api';
import { errorMessage } from '@metropolis/errors';
import type { Logger } from '@metropolis/logging';
import { RevocationList, decodePem } from '@metropolis/pki';
import { writeFileAtomic } from '@metropolis/process';
import { sleep } from '@metropolis/supervisor';
import type { SignedRevocationLists } from './certificate-ledger.js';

/** Where the signed lists come from: the CA holder's NodeCredentials, or the local ledger. */
export type RevocationSource = () => Promise<SignedRevocationLists>;

export interface RevocationListsDeps {
  readonly layout: NodeLayout;
  readonly log: Logger;
}

export class RevocationLists {
  readonly #deps: RevocationListsDeps;
  readonly #dir: string;
  #cluster = RevocationList.empty();
  /** Whether the last poll failed: a failure is logged once, not every period. */
  #failing = false;

  constructor(deps: RevocationListsDeps) {
    this.#deps = deps;
    this.#dir = join(deps.layout.pkiDir, 'revoked');
  }

  /** The list of the cluster CA (PEM), as the agent keeps it. */
  get #clusterFile(): string {
    return join(this.#dir, 'cluster.pem');
  }

  /**
   * The list etcd reads: the one of the CA at `etcdCa`, the CA etcd trusts. DER: etcd parses
   * the file with Go's x509.ParseRevocationList, which takes no PEM.
   */
  etcdListFor(etcdCa: string): string {
    return join(this.#dir, etcdCa === this.#deps.layout.caCertificate ? 'cluster.crl' : 'etcd.crl');
  }

  /** Whether the cluster CA revoked the certificate with this serial (hex). */
  revoked(serial: string): boolean {
    return this.#cluster.revokes(serial);
  }

  /** Reads the lists kept from before (none on a node that never had them). */
  async load(): Promise<void> {
    const [pem, caPem] = await Promise.all([
      readFile(this.#clusterFile, 'utf8').catch(() => undefined),
      readFile(this.#deps.layout.caCertificate, 'utf8').catch(() => undefined),
    ]);
    if (pem === undefined || caPem === undefined) return;
    this.#cluster = await RevocationList.parse(pem, caPem).catch((error: unknown) => {
      this.#deps.log.warn('the kept revocation list is unreadable', { error: errorMessage(error) });
      return this.#cluster;
    });
  }

  /**
   * Takes newer lists: the cluster list must be signed by the cluster CA and not older than the
   * one held (an old list could be replayed to lift a revocation). The etcd list came over the
   * same authenticated channel; etcd reads it as it is.
   */
  async accept(lists: SignedRevocationLists): Promise<void> {
    const caPem = await readFile(this.#deps.layout.caCertificate, 'utf8');
    const cluster = await RevocationList.parse(lists.cluster, caPem);
    // Lists carry whole seconds: of two signed in the same second, the longer is the later
    // (revocations only add entries; one goes only when its certificate expires).
    const held = this.#cluster;
    const older =
      cluster.thisUpdate < held.thisUpdate ||
      (cluster.thisUpdate.getTime() === held.thisUpdate.getTime() && cluster.size < held.size);
    if (older) return;
    await mkdir(this.#dir, { recursive: true, mode: 0o700 });
    const der = (pem: string) => new Uint8Array(decodePem(pem, 'X509 CRL'));
    if (lists.etcd !== '')
      await writeFileAtomic(join(this.#dir, 'etcd.crl'), der(lists.etcd), { mode: 0o644 });
    await writeFileAtomic(join(this.#dir, 'cluster.crl'), der(lists.cluster), { mode: 0o644 });
    await writeFileAtomic(this.#clusterFile, lists.cluster, { mode: 0o644 });
    if (cluster.size !== this.#cluster.size) {
      this.#deps.log.info('revocation list updated', { revoked: cluster.size });
    }
    this.#cluster = cluster;
  }

  /** Resolves once the list at `path` is on disk, fetching the lists once if needed. */
  async ensure(path: string, source: RevocationSource): Promise<void> {
    const present = await readFile(path, 'utf8').then(
      () => true,
      () => false,
    );
    if (!present) await this.accept(await source());
  }

  /** Fetches the lists every `periodMs` until `signal` aborts. */
  async poll(source: RevocationSource, periodMs: number, signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      try {
        await this.accept(await source());
        if (this.#failing) this.#deps.log.info('revocation lists received again');
        this.#failing = false;
      } catch (error) {
        if (!this.#failing) {
          this.#deps.log.warn('revocation lists not received; keeping the last ones', {
            error: errorMessage(error),
          });
        }
        this.#failing = true;
      }
      await sleep(periodMs, signal);
    }
  }
}
