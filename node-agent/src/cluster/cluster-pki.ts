// The cluster CA and the etcd CA, kept on the data partition of the node that bootstrapped the
// cluster, and what they issue: node, owner and admin certificates from the cluster CA; etcd's
// member and client certificates from the etcd CA; the credentials of role services.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import {
  certificateRoles,
  etcdPeerHostname,
  type CertifiedKey,
  type RoleCredentials,
  type NodeLayout,
} from '@metropolis/api';
import { kubeApiserverHosts, type ClientCredentials } from '@metropolis/control-plane';
import { CertificateAuthority, KeyPair, ed25519PublicKeyFromRaw } from '@metropolis/pki';
import type { NodeIdentity } from '../identity/node-identity.js';
import { pathExists } from '../storage/path-exists.js';
import { firstServiceIp } from './service-network.js';

export class ClusterPki {
  readonly ca: CertificateAuthority;
  /** Issues only etcd's member and client certificates: no cluster certificate reaches etcd. */
  readonly etcdCa: CertificateAuthority;
  #layout: NodeLayout;

  private constructor(ca: CertificateAuthority, etcdCa: CertificateAuthority, layout: NodeLayout) {
    this.ca = ca;
    this.etcdCa = etcdCa;
    this.#layout = layout;
  }

  /** Creates a new cluster CA and etcd CA and keeps them on the data partition. */
  static async create(layout: NodeLayout): Promise<ClusterPki> {
    await mkdir(layout.pkiDir, { recursive: true, mode: 0o700 });
    // The etcd CA first: a cluster CA on disk always has its etcd CA beside it.
    const etcdCa = await createEtcdCa(layout);
    const ca = await CertificateAuthority.create({ commonName: 'Metropolis Cluster CA' });
    await writeFile(layout.caKey, await ca.keyPair.privateKeyPem(), { mode: 0o600, flush: true });
    await writeFile(layout.caCertificate, ca.certificatePem, { flush: true });
    return new ClusterPki(ca, etcdCa, layout);
  }

  /**
   * The CAs, if this node holds the cluster CA's key. A holder whose data predates the etcd CA
   * creates it now; its etcd members then need new credentials (docs/cluster.md).
   */
  static async load(layout: NodeLayout): Promise<ClusterPki | undefined> {
    const [cert, key] = await Promise.all([
      readFile(layout.caCertificate, 'utf8').catch(() => undefined),
      readFile(layout.caKey, 'utf8').catch(() => undefined),
    ]);
    if (cert === undefined || key === undefined) return undefined;
    const [etcdCert, etcdKey] = await Promise.all([
      readFile(layout.etcdCaCertificate, 'utf8').catch(() => undefined),
      readFile(layout.etcdCaKey, 'utf8').catch(() => undefined),
    ]);
    const etcdCa =
      etcdCert === undefined || etcdKey === undefined
        ? await createEtcdCa(layout)
        : await CertificateAuthority.load(etcdCert, etcdKey);
    return new ClusterPki(await CertificateAuthority.load(cert, key), etcdCa, layout);
  }

  /** The node's own certificate for its management API (role metropolis:node). */
  async writeNodeCertificate(identity: NodeIdentity, address: string): Promise<void> {
    const pem = await this.ca.certify(identity.keyPair.publicKey, {
      commonName: identity.nodeId,
      organizations: [certificateRoles.node],
      usages: ['server', 'client'],
      hosts: [address, '127.0.0.1'],
    });
    await writeFile(this.#layout.nodeCertificate, pem, { flush: true });
  }

  /** The owner's certificate, for the raw Ed25519 key metroctl sent. */
  async ownerCertificate(rawPublicKey: Uint8Array): Promise<string> {
    return this.ca.certify(await ed25519PublicKeyFromRaw(rawPublicKey), {
      commonName: 'owner',
      organizations: [certificateRoles.owner],
      usages: ['client'],
    });
  }

  /** system:masters credentials the CA holder's agent uses to set the cluster up (kept). */
  async adminCredentials(): Promise<ClientCredentials> {
    const cert = this.#layout.adminCertificate;
    const key = this.#layout.adminKey;
    if (!(await pathExists(cert)) || !(await pathExists(key))) {
      const issued = await this.ca.issue({
        commonName: 'metropolis-node-agent',
        organizations: ['system:masters'],
        usages: ['client'],
      });
      await writeFile(key, await issued.keyPair.privateKeyPem(), { mode: 0o600, flush: true });
      await writeFile(cert, issued.certificatePem, { flush: true });
    }
    return {
      caPem: this.ca.certificatePem,
      certificatePem: await readFile(cert, 'utf8'),
      keyPem: await readFile(key, 'utf8'),
    };
  }

  /**
   * Credentials for the services of `roles` on node `nodeId` at `address`: fresh keys, except
   * the service-account key, which every kube-apiserver of the cluster shares. etcd's come from
   * the etcd CA and name the node: its member certificate (CN = node ID, the peer DNS name) and
   * kube-apiserver's client certificate (CN kube-apiserver:<node ID>, no peer name).
   */
  async roleCredentials(
    roles: readonly string[],
    nodeId: string,
    address: string,
  ): Promise<RoleCredentials> {
    const hosts = [address, '127.0.0.1', 'localhost'];
    const pem = async (issued: { certificatePem: string; keyPair: KeyPair }) => ({
      certificate: issued.certificatePem,
      key: await issued.keyPair.privateKeyPem(),
    });
    const credentials: RoleCredentials = {
      etcd: undefined,
      kubeApiserver: undefined,
      kubeApiserverEtcdClient: undefined,
      operator: undefined,
      serviceAccount: undefined,
      etcdCaCertificate: '',
    };
    if (roles.includes('ConsensusMember')) {
      credentials.etcd = await pem(
        await this.etcdCa.issue({
          commonName: nodeId,
          usages: ['server', 'client'],
          hosts: [address, '127.0.0.1', etcdPeerHostname],
        }),
      );
      credentials.etcdCaCertificate = this.etcdCa.certificatePem;
    }
    if (roles.includes('KubernetesController')) {
      credentials.kubeApiserver = await pem(
        await this.ca.issue({
          commonName: 'kube-apiserver',
          usages: ['server'],
          hosts: kubeApiserverHosts(hosts, firstServiceIp),
        }),
      );
      credentials.kubeApiserverEtcdClient = await pem(
        await this.etcdCa.issue({ commonName: `kube-apiserver:${nodeId}`, usages: ['client'] }),
      );
      credentials.etcdCaCertificate = this.etcdCa.certificatePem;
      credentials.operator = await pem(
        await this.ca.issue({
          commonName: 'operator',
          organizations: [certificateRoles.operator],
          usages: ['client'],
        }),
      );
      credentials.serviceAccount = await this.#serviceAccountKey();
    }
    return credentials;
  }

  /** The cluster's service-account key pair, created once beside the CA. */
  async #serviceAccountKey(): Promise<CertifiedKey> {
    const key = this.#layout.serviceAccountKey;
    const pub = this.#layout.serviceAccountPublicKey;
    if (!(await pathExists(key)) || !(await pathExists(pub))) {
      // kube-apiserver signs service-account tokens with RSA or ECDSA only.
      const pair = await KeyPair.generate('ecdsa-p256');
      await writeFile(pub, await pair.publicKeyPem(), { flush: true });
      await writeFile(key, await pair.privateKeyPem(), { mode: 0o600, flush: true });
    }
    return { certificate: await readFile(pub, 'utf8'), key: await readFile(key, 'utf8') };
  }
}

async function createEtcdCa(layout: NodeLayout): Promise<CertificateAuthority> {
  const ca = await CertificateAuthority.create({ commonName: 'Metropolis etcd CA' });
  await writeFile(layout.etcdCaKey, await ca.keyPair.privateKeyPem(), { mode: 0o600, flush: true });
  await writeFile(layout.etcdCaCertificate, ca.certificatePem, { flush: true });
  return ca;
}
