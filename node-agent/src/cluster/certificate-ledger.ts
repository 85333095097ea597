// The CA holder's record of every certificate it issued (serial, node, kind, CA, expiry) and of
// those it revoked, kept on its data partition, and the revocation lists it signs from it: one
// of the cluster CA and, once the cluster has one, one of the etcd CA.
import { X509Certificate } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { NodeLayout } from '@metropolis/api';
import { CertificateAuthority, signRevocationList } from '@metropolis/pki';
import { writeFileAtomic } from '@metropolis/process';

/** What a certificate is for; the revocation controller decides by it. */
export type CertificateKind =
  | 'node'
  | 'owner'
  | 'admin'
  | 'serving'
  | 'etcd'
  | 'kube-apiserver'
  | 'kube-apiserver-etcd-client'
  | 'operator';

export type IssuingCa = 'cluster' | 'etcd';

export interface IssuedCertificate {
  /** Hex, as Node's X509Certificate writes it. */
  readonly serial: string;
  /** The node it was issued to; '' for the owner. */
  readonly nodeId: string;
  readonly kind: CertificateKind;
  readonly ca: IssuingCa;
  /** ISO 8601. */
  readonly notAfter: string;
  /** ISO 8601, once revoked. */
  readonly revokedAt?: string;
}

/** Signed revocation lists (PEM X.509 CRLs); `etcd` is '' while the cluster has no etcd CA. */
export interface SignedRevocationLists {
  readonly cluster: string;
  readonly etcd: string;
}

/** How long a signed list claims to be current; it is signed again well before. */
const listValidityMs = 7 * 24 * 3_600_000;
const resignAfterMs = 3_600_000;

/** Where the CA holder keeps its ledger and signed lists. */
export function ledgerPaths(layout: NodeLayout) {
  return {
    issued: join(layout.pkiDir, 'issued.json'),
    lists: join(layout.pkiDir, 'crl'),
    etcdCaCertificate: layout.etcdCaCertificate,
    etcdCaKey: layout.etcdCaKey,
  };
}

export class CertificateLedger {
  readonly #paths: ReturnType<typeof ledgerPaths>;
  readonly #clusterCa: CertificateAuthority;
  #issued: IssuedCertificate[];
  #etcd: CertificateAuthority | undefined;
  #signed: { lists: SignedRevocationLists; atMs: number } | undefined;
  /** Rewrites of the ledger, one after the other. */
  #writing: Promise<void> = Promise.resolve();

  private constructor(
    layout: NodeLayout,
    clusterCa: CertificateAuthority,
    issued: IssuedCertificate[],
  ) {
    this.#paths = ledgerPaths(layout);
    this.#clusterCa = clusterCa;
    this.#issued = issued;
  }

  static async open(
    layout: NodeLayout,
    clusterCa: CertificateAuthority,
  ): Promise<CertificateLedger> {
    const text = await readFile(ledgerPaths(layout).issued, 'utf8').catch((error: unknown) => {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return '[]';
      throw error;
    });
    return new CertificateLedger(layout, clusterCa, JSON.parse(text) as IssuedCertificate[]);
  }

  get issued(): readonly IssuedCertificate[] {
    return this.#issued;
  }

  /** Records a certificate just issued (before it leaves this node). */
  async record(pem: string, owner: { nodeId: string; kind: CertificateKind }): Promise<void> {
    const certificate = new X509Certificate(pem);
    const etcdCa = await this.#etcdCa();
    const ca: IssuingCa =
      etcdCa !== undefined && certificate.checkIssued(new X509Certificate(etcdCa.certificatePem))
        ? 'etcd'
        : 'cluster';
    this.#issued.push({
      serial: certificate.serialNumber,
      nodeId: owner.nodeId,
      kind: owner.kind,
      ca,
      notAfter: new Date(certificate.validTo).toISOString(),
    });
    await this.#save();
  }

  /** Revokes `serials` (recorded, not yet revoked) and signs the lists again. */
  async revoke(serials: readonly string[]): Promise<void> {
    if (serials.length === 0) return;
    const at = new Date().toISOString();
    const wanted = new Set(serials);
    this.#issued = this.#issued.map((entry) =>
      wanted.has(entry.serial) && entry.revokedAt === undefined
        ? { ...entry, revokedAt: at }
        : entry,
    );
    await this.#save();
    this.#signed = undefined;
    await this.lists();
  }

  /** Whether the certificate with this serial was revoked. */
  revoked(serial: string): boolean {
    const normal = serial.toUpperCase();
    return this.#issued.some(
      (entry) => entry.revokedAt !== undefined && entry.serial.toUpperCase() === normal,
    );
  }

  /** The current signed lists, signed again when an hour old; kept on the data partition. */
  async lists(): Promise<SignedRevocationLists> {
    const signed = this.#signed;
    if (signed !== undefined && Date.now() - signed.atMs < resignAfterMs) return signed.lists;
    const nextUpdate = new Date(Date.now() + listValidityMs);
    const entries = (ca: IssuingCa) =>
      this.#issued
        // An expired certificate is refused anyway: the list keeps only the ones still valid.
        .filter(
          (entry) =>
            entry.ca === ca &&
            entry.revokedAt !== undefined &&
            Date.parse(entry.notAfter) > Date.now(),
        )
        .map((entry) => ({ serial: entry.serial, revokedAt: new Date(entry.revokedAt ?? 0) }));
    const etcdCa = await this.#etcdCa();
    const lists: SignedRevocationLists = {
      cluster: await signRevocationList(this.#clusterCa, entries('cluster'), nextUpdate),
      etcd:
        etcdCa === undefined ? '' : await signRevocationList(etcdCa, entries('etcd'), nextUpdate),
    };
    await mkdir(this.#paths.lists, { recursive: true, mode: 0o700 });
    await writeFileAtomic(join(this.#paths.lists, 'cluster.pem'), lists.cluster, { mode: 0o644 });
    if (lists.etcd !== '')
      await writeFileAtomic(join(this.#paths.lists, 'etcd.pem'), lists.etcd, { mode: 0o644 });
    this.#signed = { lists, atMs: Date.now() };
    return lists;
  }

  /** The etcd CA, once the cluster has one (its key beside the cluster CA's). */
  async #etcdCa(): Promise<CertificateAuthority | undefined> {
    if (this.#etcd !== undefined) return this.#etcd;
    const [certificate, key] = await Promise.all([
      readFile(this.#paths.etcdCaCertificate, 'utf8').catch(() => undefined),
      readFile(this.#paths.etcdCaKey, 'utf8').catch(() => undefined),
    ]);
    if (certificate === undefined || key === undefined) return undefined;
    this.#etcd = await CertificateAuthority.load(certificate, key);
    return this.#etcd;
  }

  async #save(): Promise<void> {
    const content = `${JSON.stringify(this.#issued, null, 1)}\n`;
    // A failed write fails its caller, not the writes after it.
    this.#writing = this.#writing
      .catch(() => undefined)
      .then(() => writeFileAtomic(this.#paths.issued, content, { mode: 0o600 }));
    await this.#writing;
  }
}
