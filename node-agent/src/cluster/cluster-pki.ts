// The cluster CA, kept on the data partition of the node that bootstrapped the cluster, and
// what it issues: node, owner and admin certificates, and the credentials of role services.
import type { webcrypto } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import {
  certificateRoles,
  type CertifiedKey,
  type RoleCredentials,
  type NodeLayout,
} from '@metropolis/api';
import { kubeApiserverHosts, type ClientCredentials } from '@metropolis/control-plane';
import {
  CertificateAuthority,
  KeyPair,
  ed25519PublicKeyFromRaw,
  type CertificateRequest,
  type IssuedCertificate,
} from '@metropolis/pki';
import type { NodeIdentity } from '../identity/node-identity.js';
import { pathExists } from '../storage/path-exists.js';
import { CertificateLedger, type CertificateKind } from './certificate-ledger.js';
import { operatorUser } from './operator-bindings.js';
import { firstServiceIp } from './service-network.js';

export class ClusterPki {
  readonly ca: CertificateAuthority;
  /** Every certificate issued here, recorded before it leaves the node; what can be revoked. */
  readonly ledger: CertificateLedger;
  #layout: NodeLayout;

  private constructor(ca: CertificateAuthority, ledger: CertificateLedger, layout: NodeLayout) {
    this.ca = ca;
    this.ledger = ledger;
    this.#layout = layout;
  }

  /** Issues a key pair and certificate, and records it as `owner`'s. */
  async issue(
    request: CertificateRequest,
    owner: { nodeId: string; kind: CertificateKind },
  ): Promise<IssuedCertificate> {
    const issued = await this.ca.issue(request);
    await this.ledger.record(issued.certificatePem, owner);
    return issued;
  }

  /** Certifies a key its subject holds, and records the certificate as `owner`'s. */
  async certify(
    publicKey: webcrypto.CryptoKey,
    request: CertificateRequest,
    owner: { nodeId: string; kind: CertificateKind },
  ): Promise<string> {
    const pem = await this.ca.certify(publicKey, request);
    await this.ledger.record(pem, owner);
    return pem;
  }

  /** Creates a new cluster CA and keeps it on the data partition. */
  static async create(layout: NodeLayout): Promise<ClusterPki> {
    const ca = await CertificateAuthority.create({ commonName: 'Metropolis Cluster CA' });
    await mkdir(layout.pkiDir, { recursive: true, mode: 0o700 });
    await writeFile(layout.caKey, await ca.keyPair.privateKeyPem(), { mode: 0o600, flush: true });
    await writeFile(layout.caCertificate, ca.certificatePem, { flush: true });
    const ledger = await CertificateLedger.open(layout, ca);
    // etcd and the listeners refuse every client until a list exists: an empty one first.
    await ledger.lists();
    return new ClusterPki(ca, ledger, layout);
  }

  /** The CA, if this node holds its key. */
  static async load(layout: NodeLayout): Promise<ClusterPki | undefined> {
    const [cert, key] = await Promise.all([
      readFile(layout.caCertificate, 'utf8').catch(() => undefined),
      readFile(layout.caKey, 'utf8').catch(() => undefined),
    ]);
    if (cert === undefined || key === undefined) return undefined;
    const ca = await CertificateAuthority.load(cert, key);
    return new ClusterPki(ca, await CertificateLedger.open(layout, ca), layout);
  }

  /** The node's own certificate for its management API (role metropolis:node). */
  async writeNodeCertificate(identity: NodeIdentity, address: string): Promise<void> {
    const pem = await this.certify(
      identity.keyPair.publicKey,
      {
        commonName: identity.nodeId,
        organizations: [certificateRoles.node],
        usages: ['server', 'client'],
        hosts: [address, '127.0.0.1'],
      },
      { nodeId: identity.nodeId, kind: 'node' },
    );
    await writeFile(this.#layout.nodeCertificate, pem, { flush: true });
  }

  /** The owner's certificate, for the raw Ed25519 key metroctl sent. */
  async ownerCertificate(rawPublicKey: Uint8Array): Promise<string> {
    return this.certify(
      await ed25519PublicKeyFromRaw(rawPublicKey),
      { commonName: 'owner', organizations: [certificateRoles.owner], usages: ['client'] },
      { nodeId: '', kind: 'owner' },
    );
  }

  /** system:masters credentials the CA holder's agent uses to set the cluster up (kept). */
  async adminCredentials(): Promise<ClientCredentials> {
    const cert = this.#layout.adminCertificate;
    const key = this.#layout.adminKey;
    if (!(await pathExists(cert)) || !(await pathExists(key))) {
      const issued = await this.issue(
        {
          commonName: 'metropolis-node-agent',
          organizations: ['system:masters'],
          usages: ['client'],
        },
        { nodeId: '', kind: 'admin' },
      );
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
   * Credentials for the services of `roles` on the node at `address`: fresh keys, except the
   * service-account key, which every kube-apiserver of the cluster shares.
   */
  async roleCredentials(
    nodeId: string,
    roles: readonly string[],
    address: string,
  ): Promise<RoleCredentials> {
    const to = (kind: CertificateKind) => ({ nodeId, kind });
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
    };
    if (roles.includes('ConsensusMember')) {
      credentials.etcd = await pem(
        await this.issue({ commonName: 'etcd', usages: ['server', 'client'], hosts }, to('etcd')),
      );
    }
    if (roles.includes('KubernetesController')) {
      credentials.kubeApiserver = await pem(
        await this.issue(
          {
            commonName: 'kube-apiserver',
            usages: ['server'],
            hosts: kubeApiserverHosts(hosts, firstServiceIp),
          },
          to('kube-apiserver'),
        ),
      );
      credentials.kubeApiserverEtcdClient = await pem(
        await this.issue(
          { commonName: 'kube-apiserver', usages: ['client'] },
          to('kube-apiserver-etcd-client'),
        ),
      );
      credentials.operator = await pem(
        await this.issue(
          {
            // Kubernetes binds the operator's role per node (see operator-bindings.ts).
            commonName: operatorUser(nodeId),
            organizations: [certificateRoles.operator],
            usages: ['client'],
          },
          to('operator'),
        ),
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
