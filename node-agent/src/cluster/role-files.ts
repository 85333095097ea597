// Where the credentials of this node's role services live (data/pki/control-plane): keys this
// node generates, and the certificates a CA (its own or a CA-holding node's) issues for them.
import { X509Certificate } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { NodeLayout, RoleCredentials, RolePublicKeys, SharedSecrets } from '@metropolis/api';
import { encryptionConfig, type ClientCredentials, type TlsFiles } from '@metropolis/control-plane';
import { KeyPair } from '@metropolis/pki/key-pair';
import { writeFileAtomic } from '@metropolis/process';
import { AgentError } from '../errors.js';
import { pathExists } from '../storage/path-exists.js';
import type { RoleCredentialSource } from './role-credentials.js';
import { keysOf, type RoleKeyName } from './role-keys.js';

const certificateOf: Record<RoleKeyName, keyof RoleCredentials> = {
  etcd: 'etcdCertificate',
  kubeApiserver: 'kubeApiserverCertificate',
  kubeApiserverEtcdClient: 'kubeApiserverEtcdClientCertificate',
  operator: 'operatorCertificate',
};

export class RoleFiles {
  readonly #dir: string;
  /** The cluster CA: kube-apiserver's and the operator's pairs chain to it. */
  readonly ca: string;
  /** The etcd CA's certificate, delivered with the credentials: etcd's pairs chain to it. */
  readonly etcdCa: string;

  constructor(layout: NodeLayout) {
    this.#dir = layout.controlPlanePki;
    this.ca = layout.caCertificate;
    this.etcdCa = join(this.#dir, 'etcd-ca.pem');
  }

  /**
   * etcd serves clients and peers, and is a client of its peers, with this pair; the agent and
   * the operator of this node are etcd's clients with it too, on loopback.
   */
  get etcd(): TlsFiles {
    return this.#pair('etcd', this.etcdCa);
  }

  get apiserver(): TlsFiles {
    return this.#pair('kube-apiserver', this.ca);
  }

  get apiserverEtcdClient(): TlsFiles {
    return this.#pair('kube-apiserver-etcd-client', this.etcdCa);
  }

  get operator(): TlsFiles {
    return this.#pair('operator', this.ca);
  }

  get serviceAccount(): { readonly key: string; readonly publicKey: string } {
    return {
      key: join(this.#dir, 'service-account-key.pem'),
      publicKey: join(this.#dir, 'service-account.pub.pem'),
    };
  }

  /** kube-apiserver's EncryptionConfiguration (it holds the keys that encrypt Secrets). */
  get encryptionConfig(): string {
    return join(this.#dir, 'encryption-config.yaml');
  }

  get operatorKubeconfig(): string {
    return join(this.#dir, 'operator.kubeconfig');
  }

  /** Whether the credentials of `role` are on disk. */
  async has(role: 'ConsensusMember' | 'KubernetesController'): Promise<boolean> {
    const files =
      role === 'ConsensusMember'
        ? [this.etcdCa, this.etcd.cert, this.etcd.key]
        : [
            this.etcdCa,
            this.apiserver.cert,
            this.apiserverEtcdClient.cert,
            this.operator.cert,
            this.serviceAccount.key,
            this.encryptionConfig,
          ];
    const found = await Promise.all(files.map((file) => pathExists(file)));
    return found.every(Boolean);
  }

  /**
   * Unless the credentials of `role` are on disk: generates their keys, has `source` certify
   * the public halves, and writes both.
   */
  async ensure(
    role: 'ConsensusMember' | 'KubernetesController',
    source: RoleCredentialSource,
  ): Promise<void> {
    if (await this.has(role)) return;
    const keys = new Map<RoleKeyName, KeyPair>();
    for (const name of keysOf([role])) keys.set(name, await KeyPair.generate());
    await this.#certify(role, keys, source);
  }

  /**
   * New certificates for the keys of `role` already on disk (renewal keeps the keys): each file
   * is replaced at once, so etcd and kube-apiserver, which read them for new connections, never
   * see a certificate without its key.
   */
  async renew(
    role: 'ConsensusMember' | 'KubernetesController',
    source: RoleCredentialSource,
  ): Promise<void> {
    const keys = new Map<RoleKeyName, KeyPair>();
    for (const name of keysOf([role])) {
      keys.set(
        name,
        await KeyPair.fromPrivateKeyPem(await readFile(this.#files(name).key, 'utf8')),
      );
    }
    await this.#certify(role, keys, source);
  }

  /** The certificates of `role` on disk (PEM), by file; none if it has no credentials. */
  async certificates(role: 'ConsensusMember' | 'KubernetesController'): Promise<string[]> {
    const pems = await Promise.all(
      keysOf([role]).map((name) => readFile(this.#files(name).cert, 'utf8').catch(() => undefined)),
    );
    return pems.filter((pem) => pem !== undefined);
  }

  async #certify(
    role: 'ConsensusMember' | 'KubernetesController',
    keys: ReadonlyMap<RoleKeyName, KeyPair>,
    source: RoleCredentialSource,
  ): Promise<void> {
    const publicKeys: RolePublicKeys = {
      etcd: '',
      kubeApiserver: '',
      kubeApiserverEtcdClient: '',
      operator: '',
    };
    for (const [name, pair] of keys) publicKeys[name] = await pair.publicKeyPem();
    await this.#write(keys, await source({ roles: [role], publicKeys }));
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

  /** Writes each key with the certificate issued for it, then the shared secrets. */
  async #write(
    keys: ReadonlyMap<RoleKeyName, KeyPair>,
    credentials: RoleCredentials,
  ): Promise<void> {
    const pairs: [TlsFiles, KeyPair, string][] = [];
    for (const [name, pair] of keys) {
      const certificate = credentials[certificateOf[name]];
      if (typeof certificate !== 'string' || !(await certifies(certificate, pair))) {
        throw new AgentError(
          'AGENT_CREDENTIALS',
          `the issuer sent no certificate for this node's ${name} key`,
        );
      }
      pairs.push([this.#files(name), pair, certificate]);
    }
    await mkdir(this.#dir, { recursive: true, mode: 0o700 });
    for (const [files, pair, certificate] of pairs) {
      // Key first: a certificate on disk always has its key beside it.
      await writeFileAtomic(files.key, await pair.privateKeyPem(), { mode: 0o600 });
      await writeFileAtomic(files.cert, certificate, { mode: 0o644 });
    }
    if (credentials.etcdCaCertificate !== '') {
      await writeFileAtomic(this.etcdCa, credentials.etcdCaCertificate, { mode: 0o644 });
    }
    if (credentials.sharedSecrets !== undefined) {
      await this.#writeShared(credentials.sharedSecrets);
    }
  }

  async #writeShared(secrets: SharedSecrets): Promise<void> {
    const { key, publicKey } = this.serviceAccount;
    await writeFile(key, secrets.serviceAccountSigningKey, { mode: 0o600, flush: true });
    await writeFile(publicKey, secrets.serviceAccountPublicKeys, { flush: true });
    await writeFile(this.encryptionConfig, encryptionConfig(secrets.secretsEncryptionKeys), {
      mode: 0o600,
      flush: true,
    });
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
    files.push(
      this.serviceAccount.key,
      this.serviceAccount.publicKey,
      this.encryptionConfig,
      this.operatorKubeconfig,
    );
    await Promise.all(files.map((file) => rm(file, { force: true })));
  }

  #files(name: RoleKeyName): TlsFiles {
    if (name === 'etcd') return this.etcd;
    if (name === 'kubeApiserver') return this.apiserver;
    return name === 'operator' ? this.operator : this.apiserverEtcdClient;
  }

  #pair(name: string, ca: string): TlsFiles {
    return {
      ca,
      cert: join(this.#dir, `${name}.pem`),
      key: join(this.#dir, `${name}-key.pem`),
    };
  }
}

/** Whether `certificatePem` is a certificate for `pair`'s public key. */
async function certifies(certificatePem: string, pair: KeyPair): Promise<boolean> {
  try {
    const certified = new X509Certificate(certificatePem).publicKey.export({
      type: 'spki',
      format: 'pem',
    });
    return String(certified).trimEnd() === (await pair.publicKeyPem());
  } catch {
    return false;
  }
}
