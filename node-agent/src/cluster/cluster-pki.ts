// The cluster CA and the etcd CA, kept on the data partition of the node that bootstrapped the
// cluster, and what they issue: node, owner and admin certificates from the cluster CA; etcd's
// member and client certificates from the etcd CA; the certificates of role services for keys
// their nodes generated, with the secrets all kube-apiservers share.
import { randomBytes, type webcrypto } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import {
  certificateRoles,
  etcdPeerHostname,
  type IssueRoleCredentialsRequest,
  type NodeLayout,
  type RoleCredentials,
  type SharedSecrets,
} from '@metropolis/api';
import { kubeApiserverHosts, type ClientCredentials } from '@metropolis/control-plane';
import { errorMessage } from '@metropolis/errors';
import {
  CertificateAuthority,
  KeyPair,
  ed25519PublicKeyFromRaw,
  publicKeyFromPem,
  type CertificateRequest,
  type IssuedCertificate,
} from '@metropolis/pki';
import { AgentError } from '../errors.js';
import type { NodeIdentity } from '../identity/node-identity.js';
import { pathExists } from '../storage/path-exists.js';
import { CertificateLedger, type CertificateKind } from './certificate-ledger.js';
import {
  defaultLifetimes,
  notAfterIn,
  type CertificateLifetimes,
} from './certificate-lifetimes.js';
import { keysOf, roleKeys, type RoleKeyName } from './role-keys.js';
import { firstServiceIp } from './service-network.js';

export class ClusterPki {
  readonly ca: CertificateAuthority;
  /** Issues only etcd's member and client certificates: no cluster certificate reaches etcd. */
  readonly etcdCa: CertificateAuthority;
  /** Every certificate issued here, recorded before it leaves the node; what can be revoked. */
  readonly ledger: CertificateLedger;
  /** How long what they issue is valid; the CAs themselves do not expire (docs/security.md). */
  readonly lifetimes: CertificateLifetimes;
  #layout: NodeLayout;

  private constructor(
    ca: CertificateAuthority,
    etcdCa: CertificateAuthority,
    ledger: CertificateLedger,
    layout: NodeLayout,
    lifetimes: CertificateLifetimes,
  ) {
    this.ca = ca;
    this.etcdCa = etcdCa;
    this.ledger = ledger;
    this.#layout = layout;
    this.lifetimes = lifetimes;
  }

  /**
   * The lifetime policy: the owner's certificate for `ownerMs`, the set-up certificate that
   * never leaves this node without expiry, every other one for `leafMs`.
   */
  #bounded(request: CertificateRequest, kind: CertificateKind): CertificateRequest {
    if (kind === 'admin') return request;
    const lifetime = kind === 'owner' ? this.lifetimes.ownerMs : this.lifetimes.leafMs;
    return { ...request, notAfter: notAfterIn(lifetime) };
  }

  /** Issues a key pair and certificate, and records it as `owner`'s. */
  async issue(
    request: CertificateRequest,
    owner: { nodeId: string; kind: CertificateKind },
  ): Promise<IssuedCertificate> {
    const issued = await this.ca.issue(this.#bounded(request, owner.kind));
    await this.ledger.record(issued.certificatePem, owner);
    return issued;
  }

  /** Certifies a key its subject holds, and records the certificate as `owner`'s. */
  async certify(
    publicKey: webcrypto.CryptoKey,
    request: CertificateRequest,
    owner: { nodeId: string; kind: CertificateKind },
    issuer: CertificateAuthority = this.ca,
  ): Promise<string> {
    const pem = await issuer.certify(publicKey, this.#bounded(request, owner.kind));
    await this.ledger.record(pem, owner);
    return pem;
  }

  /** Creates a new cluster CA and etcd CA and keeps them on the data partition. */
  static async create(
    layout: NodeLayout,
    lifetimes: CertificateLifetimes = defaultLifetimes,
  ): Promise<ClusterPki> {
    await mkdir(layout.pkiDir, { recursive: true, mode: 0o700 });
    // The etcd CA first: a cluster CA on disk always has its etcd CA beside it.
    const etcdCa = await createEtcdCa(layout);
    const ca = await CertificateAuthority.create({ commonName: 'Metropolis Cluster CA' });
    await writeFile(layout.caKey, await ca.keyPair.privateKeyPem(), { mode: 0o600, flush: true });
    await writeFile(layout.caCertificate, ca.certificatePem, { flush: true });
    const ledger = await CertificateLedger.open(layout, ca);
    // etcd and the listeners refuse every client until a list exists: an empty one first.
    await ledger.lists();
    return new ClusterPki(ca, etcdCa, ledger, layout, lifetimes);
  }

  /**
   * The CAs, if this node holds the cluster CA's key. A holder whose data predates the etcd CA
   * creates it now; its etcd members then need new credentials (docs/cluster.md).
   */
  static async load(
    layout: NodeLayout,
    lifetimes: CertificateLifetimes = defaultLifetimes,
  ): Promise<ClusterPki | undefined> {
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
    const ca = await CertificateAuthority.load(cert, key);
    return new ClusterPki(ca, etcdCa, await CertificateLedger.open(layout, ca), layout, lifetimes);
  }

  /** The node's own certificate for its management API (role metropolis:node). */
  async writeNodeCertificate(identity: NodeIdentity, address: string): Promise<void> {
    const pem = await this.nodeCertificate(identity.keyPair.publicKey, identity.nodeId, [
      address,
      '127.0.0.1',
    ]);
    await writeFile(this.#layout.nodeCertificate, pem, { flush: true });
  }

  /** A node certificate (role metropolis:node) for node `nodeId`'s key, reachable at `hosts`. */
  async nodeCertificate(
    publicKey: webcrypto.CryptoKey,
    nodeId: string,
    hosts: readonly string[],
  ): Promise<string> {
    return this.certify(
      publicKey,
      {
        commonName: nodeId,
        organizations: [certificateRoles.node],
        usages: ['server', 'client'],
        hosts,
      },
      { nodeId, kind: 'node' },
    );
  }

  /** A serving certificate (and its key) for this CA holder's own servers. */
  async servingCertificate(nodeId: string, address: string): Promise<IssuedCertificate> {
    return this.issue(
      {
        commonName: nodeId,
        organizations: [certificateRoles.node],
        usages: ['server'],
        hosts: [address, '127.0.0.1'],
      },
      { nodeId, kind: 'serving' },
    );
  }

  /** The owner's certificate, for the raw Ed25519 key metroctl sent (or the key renewed). */
  async ownerCertificate(publicKey: Uint8Array | webcrypto.CryptoKey): Promise<string> {
    const key =
      publicKey instanceof Uint8Array ? await ed25519PublicKeyFromRaw(publicKey) : publicKey;
    return this.certify(
      key,
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
   * Certificates for the keys `request` carries, for the services of its roles on node `nodeId`
   * at `address`; for a Kubernetes controller also the cluster's shared secrets. The caller
   * decided the node may have these roles; this checks that the keys match them.
   */
  async roleCredentials(
    request: IssueRoleCredentialsRequest,
    nodeId: string,
    address: string,
  ): Promise<RoleCredentials> {
    const keys = await requestedKeys(request);
    const hosts = [address, '127.0.0.1', 'localhost'];
    const certify = async (
      key: webcrypto.CryptoKey | undefined,
      certificate: CertificateRequest,
      kind: CertificateKind,
      issuer: CertificateAuthority = this.ca,
    ): Promise<string> =>
      key === undefined ? '' : this.certify(key, certificate, { nodeId, kind }, issuer);
    const etcdKeys = keys.has('etcd') || keys.has('kubeApiserverEtcdClient');
    return {
      // etcd's come from the etcd CA and name the node: the member certificate (CN = node ID,
      // the peer DNS name) and kube-apiserver's client certificate (no peer name).
      etcdCertificate: await certify(
        keys.get('etcd'),
        {
          commonName: nodeId,
          usages: ['server', 'client'],
          hosts: [address, '127.0.0.1', etcdPeerHostname],
        },
        'etcd',
        this.etcdCa,
      ),
      kubeApiserverCertificate: await certify(
        keys.get('kubeApiserver'),
        {
          commonName: `kube-apiserver:${nodeId}`,
          usages: ['server'],
          hosts: kubeApiserverHosts(hosts, firstServiceIp),
        },
        'kube-apiserver',
      ),
      kubeApiserverEtcdClientCertificate: await certify(
        keys.get('kubeApiserverEtcdClient'),
        { commonName: `kube-apiserver:${nodeId}`, usages: ['client'] },
        'kube-apiserver-etcd-client',
        this.etcdCa,
      ),
      operatorCertificate: await certify(
        keys.get('operator'),
        {
          commonName: `operator:${nodeId}`,
          organizations: [certificateRoles.operator],
          usages: ['client'],
        },
        'operator',
      ),
      sharedSecrets: request.roles.includes('KubernetesController')
        ? await this.#sharedSecrets()
        : undefined,
      etcdCaCertificate: etcdKeys ? this.etcdCa.certificatePem : '',
    };
  }

  /**
   * What every kube-apiserver of the cluster shares, created once beside the CA: the
   * service-account key pair and the keys that encrypt Secrets in etcd.
   */
  async #sharedSecrets(): Promise<SharedSecrets> {
    const key = this.#layout.serviceAccountKey;
    const pub = this.#layout.serviceAccountPublicKey;
    if (!(await pathExists(key)) || !(await pathExists(pub))) {
      // kube-apiserver signs service-account tokens with RSA or ECDSA only.
      const pair = await KeyPair.generate('ecdsa-p256');
      await writeFile(pub, await pair.publicKeyPem(), { flush: true });
      await writeFile(key, await pair.privateKeyPem(), { mode: 0o600, flush: true });
    }
    const encryption = this.#layout.secretsEncryptionKeys;
    if (!(await pathExists(encryption))) {
      await writeFile(encryption, `${randomBytes(32).toString('base64')}\n`, {
        mode: 0o600,
        flush: true,
      });
    }
    const encryptionKeys = (await readFile(encryption, 'utf8'))
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map((line) => Buffer.from(line.trim(), 'base64'));
    return {
      serviceAccountSigningKey: await readFile(key, 'utf8'),
      serviceAccountPublicKeys: await readFile(pub, 'utf8'),
      secretsEncryptionKeys: encryptionKeys,
    };
  }
}

/**
 * The public keys of `request`, by credential: exactly those its roles need (a key for a
 * credential not asked for would be certified for nothing).
 */
async function requestedKeys(
  request: IssueRoleCredentialsRequest,
): Promise<Map<RoleKeyName, webcrypto.CryptoKey>> {
  const unknown = request.roles.filter((role) => roleKeys[role] === undefined);
  if (unknown.length > 0) {
    throw new AgentError(
      'AGENT_INVALID_ARGUMENT',
      `no credentials for roles ${unknown.join(', ')}`,
    );
  }
  const needed = new Set(keysOf(request.roles));
  const given = request.publicKeys ?? {
    etcd: '',
    kubeApiserver: '',
    kubeApiserverEtcdClient: '',
    operator: '',
  };
  const keys = new Map<RoleKeyName, webcrypto.CryptoKey>();
  for (const name of Object.keys(given) as RoleKeyName[]) {
    const pem = given[name];
    if (needed.has(name) !== (pem !== '')) {
      throw new AgentError(
        'AGENT_INVALID_ARGUMENT',
        needed.has(name)
          ? `the request lacks the public key for ${name}`
          : `the request has a public key for ${name}, which its roles do not need`,
      );
    }
    if (pem === '') continue;
    try {
      keys.set(name, await publicKeyFromPem(pem));
    } catch (cause) {
      throw new AgentError(
        'AGENT_INVALID_ARGUMENT',
        `the public key for ${name}: ${errorMessage(cause)}`,
        {
          cause,
        },
      );
    }
  }
  return keys;
}

async function createEtcdCa(layout: NodeLayout): Promise<CertificateAuthority> {
  const ca = await CertificateAuthority.create({ commonName: 'Metropolis etcd CA' });
  await writeFile(layout.etcdCaKey, await ca.keyPair.privateKeyPem(), { mode: 0o600, flush: true });
  await writeFile(layout.etcdCaCertificate, ca.certificatePem, { flush: true });
  return ca;
}
