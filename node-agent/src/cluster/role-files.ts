// Where the credentials of this node's role services live (data/pki/control-plane), written
// from a RoleCredentials message whoever issued it: the local CA or a CA-holding node.
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type CertifiedKey, type RoleCredentials, type NodeLayout } from '@metropolis/api';
import type { TlsFiles } from '@metropolis/control-plane';
import { pathExists } from '../storage/path-exists.js';

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

  #pair(name: string): TlsFiles {
    return {
      ca: this.ca,
      cert: join(this.#dir, `${name}.pem`),
      key: join(this.#dir, `${name}-key.pem`),
    };
  }
}
