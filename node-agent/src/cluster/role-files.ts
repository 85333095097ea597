// Where the credentials of this node's role services live (data/pki/control-plane), written
// from a RoleCredentials message whoever issued it: the local CA or a CA-holding node.
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type CertifiedKey, type RoleCredentials, type NodeLayout } from '@metropolis/api';
import type { ClientCredentials, TlsFiles } from '@metropolis/control-plane';
import { pathExists } from '../storage/path-exists.js';
import type { RoleCredentialSource } from './role-credentials.js';

export class RoleFiles {
  readonly #dir: string;
  readonly ca: string;

  constructor(layout: NodeLayout) {
    this.#dir = layout.controlPlanePki;
    this.ca = layout.caCertificate;
  }

  /** etcd serves clients and peers, and is a client of its peers, with this pair. */
  get etcd(): TlsFiles {
    return this.#pair('etcd');
  }

  get apiserver(): TlsFiles {
    return this.#pair('kube-apiserver');
  }

  get apiserverEtcdClient(): TlsFiles {
    return this.#pair('kube-apiserver-etcd-client');
  }

  get operator(): TlsFiles {
    return this.#pair('operator');
  }

  get serviceAccount(): { readonly key: string; readonly publicKey: string } {
    return {
      key: join(this.#dir, 'service-account-key.pem'),
      publicKey: join(this.#dir, 'service-account.pub.pem'),
    };
  }

  get operatorKubeconfig(): string {
    return join(this.#dir, 'operator.kubeconfig');
  }

  /** Whether the credentials of `role` are on disk. */
  async has(role: 'ConsensusMember' | 'KubernetesController'): Promise<boolean> {
    const files =
      role === 'ConsensusMember'
        ? [this.etcd.cert, this.etcd.key]
        : [this.apiserver.cert, this.operator.cert, this.serviceAccount.key];
    const found = await Promise.all(files.map((file) => pathExists(file)));
    return found.every(Boolean);
  }

  /** Gets the credentials of `role` from `source` unless they are on disk already. */
  async ensure(
    role: 'ConsensusMember' | 'KubernetesController',
    source: RoleCredentialSource,
  ): Promise<void> {
    if (!(await this.has(role))) await this.write(await source([role]));
  }

  /** The PEMs of a pair, to be a TLS client with it. */
  async clientCredentials(pair: TlsFiles): Promise<ClientCredentials> {
    const [caPem, certificatePem, keyPem] = await Promise.all([
      readFile(pair.ca, 'utf8'),
      readFile(pair.cert, 'utf8'),
      readFile(pair.key, 'utf8'),
    ]);
    return { caPem, certificatePem, keyPem };
  }

  async write(credentials: RoleCredentials): Promise<void> {
    await mkdir(this.#dir, { recursive: true, mode: 0o700 });
    const pairs: [TlsFiles, CertifiedKey | undefined][] = [
      [this.etcd, credentials.etcd],
      [this.apiserver, credentials.kubeApiserver],
      [this.apiserverEtcdClient, credentials.kubeApiserverEtcdClient],
      [this.operator, credentials.operator],
    ];
    for (const [files, pem] of pairs) {
      if (pem === undefined) continue;
      // Key first: a certificate on disk always has its key beside it.
      await writeFile(files.key, pem.key, { mode: 0o600, flush: true });
      await writeFile(files.cert, pem.certificate, { flush: true });
    }
    const serviceAccount = credentials.serviceAccount;
    if (serviceAccount !== undefined) {
      await writeFile(this.serviceAccount.key, serviceAccount.key, { mode: 0o600, flush: true });
      await writeFile(this.serviceAccount.publicKey, serviceAccount.certificate, { flush: true });
    }
  }

  /** Removes etcd's credentials once the node no longer is a consensus member. */
  async removeEtcd(): Promise<void> {
    await rm(this.etcd.cert, { force: true });
    await rm(this.etcd.key, { force: true });
  }

  /** Removes the controller's keys, certificates and kubeconfig once the node left the role. */
  async removeController(): Promise<void> {
    const files = [this.apiserver, this.apiserverEtcdClient, this.operator].flatMap((pair) => [
      pair.cert,
      pair.key,
    ]);
    files.push(this.serviceAccount.key, this.serviceAccount.publicKey, this.operatorKubeconfig);
    await Promise.all(files.map((file) => rm(file, { force: true })));
  }

  #pair(name: string): TlsFiles {
    return {
      ca: this.ca,
      cert: join(this.#dir, `${name}.pem`),
      key: join(this.#dir, `${name}-key.pem`),
    };
  }
}
