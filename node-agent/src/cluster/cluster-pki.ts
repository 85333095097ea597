// The cluster CA, kept on the data partition of the node that bootstrapped the cluster, and
// the certificates it issues to this node's control-plane services, the operator and the owner.
import { access, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { certificateRoles } from '@metropolis/api';
import { kubeApiserverHosts, type ClientCredentials } from '@metropolis/control-plane';
import { CertificateAuthority, KeyPair, ed25519PublicKeyFromRaw } from '@metropolis/pki';
import type { NodeIdentity } from '../identity/node-identity.js';
import type { NodeLayout } from '../storage/layout.js';

/** First address of the service range: kube-apiserver's in-cluster address. */
export const firstServiceIp = '10.96.0.1';
export const serviceRange = '10.96.0.0/16';

export interface ControlPlaneFiles {
  readonly ca: string;
  readonly etcdCert: string;
  readonly etcdKey: string;
  readonly apiserverCert: string;
  readonly apiserverKey: string;
  /** kube-apiserver's client certificate towards etcd. */
  readonly apiserverEtcdCert: string;
  readonly apiserverEtcdKey: string;
  readonly serviceAccountKey: string;
  readonly serviceAccountPublic: string;
  readonly operatorCert: string;
  readonly operatorKey: string;
  /** system:masters credentials the agent itself uses to set the cluster up. */
  readonly admin: ClientCredentials;
}

export class ClusterPki {
  readonly ca: CertificateAuthority;
  #layout: NodeLayout;

  private constructor(ca: CertificateAuthority, layout: NodeLayout) {
    this.ca = ca;
    this.#layout = layout;
  }

  /** Creates a new cluster CA and keeps it on the data partition. */
  static async create(layout: NodeLayout): Promise<ClusterPki> {
    const ca = await CertificateAuthority.create({ commonName: 'Metropolis Cluster CA' });
    await mkdir(layout.pkiDir, { recursive: true, mode: 0o700 });
    await writeFile(layout.caKey, await ca.keyPair.privateKeyPem(), { mode: 0o600, flush: true });
    await writeFile(join(layout.pkiDir, 'ca.pem'), ca.certificatePem, { flush: true });
    return new ClusterPki(ca, layout);
  }

  /** The CA, if this node holds its key. */
  static async load(layout: NodeLayout): Promise<ClusterPki | undefined> {
    const [cert, key] = await Promise.all([
      readFile(join(layout.pkiDir, 'ca.pem'), 'utf8').catch(() => undefined),
      readFile(layout.caKey, 'utf8').catch(() => undefined),
    ]);
    if (cert === undefined || key === undefined) return undefined;
    return new ClusterPki(await CertificateAuthority.load(cert, key), layout);
  }

  /** The node's own certificate for its management API (role metropolis:node). */
  async writeNodeCertificate(identity: NodeIdentity, address: string): Promise<void> {
    const pem = await this.ca.certify(identity.keyPair.publicKey, {
      commonName: identity.nodeId,
      organizations: [certificateRoles.node],
      usages: ['server', 'client'],
      hosts: [address, '127.0.0.1'],
    });
    await writeFile(join(this.#layout.pkiDir, 'node.pem'), pem, { flush: true });
  }

  /** The owner's certificate, for the raw Ed25519 key metroctl sent. */
  async ownerCertificate(rawPublicKey: Uint8Array): Promise<string> {
    return this.ca.certify(await ed25519PublicKeyFromRaw(rawPublicKey), {
      commonName: 'owner',
      organizations: [certificateRoles.owner],
      usages: ['client'],
    });
  }

  /** Issues (once) what etcd, kube-apiserver and the operator on this node need. */
  async controlPlaneFiles(address: string): Promise<ControlPlaneFiles> {
    const dir = this.#layout.controlPlanePki;
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const path = (name: string): string => join(dir, name);
    const pair = async (
      name: string,
      issue: () => Promise<{ certificatePem: string; keyPair: KeyPair }>,
    ) => {
      const cert = path(`${name}.pem`);
      const key = path(`${name}-key.pem`);
      if (!(await exists(cert)) || !(await exists(key))) {
        const issued = await issue();
        await writeFile(key, await issued.keyPair.privateKeyPem(), { mode: 0o600 });
        await writeFile(cert, issued.certificatePem);
      }
      return { cert, key };
    };
    const hosts = [address, '127.0.0.1', 'localhost'];
    const etcd = await pair('etcd', () =>
      this.ca.issue({ commonName: 'etcd', usages: ['server', 'client'], hosts }),
    );
    const apiserver = await pair('kube-apiserver', () =>
      this.ca.issue({
        commonName: 'kube-apiserver',
        usages: ['server'],
        hosts: kubeApiserverHosts(hosts, firstServiceIp),
      }),
    );
    const apiserverEtcd = await pair('kube-apiserver-etcd-client', () =>
      this.ca.issue({ commonName: 'kube-apiserver', usages: ['client'] }),
    );
    const operator = await pair('operator', () =>
      this.ca.issue({
        commonName: 'operator',
        organizations: [certificateRoles.operator],
        usages: ['client'],
      }),
    );
    const admin = await pair('admin', () =>
      this.ca.issue({
        commonName: 'metropolis-node-agent',
        organizations: ['system:masters'],
        usages: ['client'],
      }),
    );
    // kube-apiserver signs service-account tokens with RSA or ECDSA only.
    const serviceAccountKey = path('service-account-key.pem');
    const serviceAccountPublic = path('service-account.pub.pem');
    if (!(await exists(serviceAccountKey))) {
      const key = await KeyPair.generate('ecdsa-p256');
      await writeFile(serviceAccountPublic, await key.publicKeyPem());
      await writeFile(serviceAccountKey, await key.privateKeyPem(), { mode: 0o600 });
    }
    return {
      ca: join(this.#layout.pkiDir, 'ca.pem'),
      etcdCert: etcd.cert,
      etcdKey: etcd.key,
      apiserverCert: apiserver.cert,
      apiserverKey: apiserver.key,
      apiserverEtcdCert: apiserverEtcd.cert,
      apiserverEtcdKey: apiserverEtcd.key,
      serviceAccountKey,
      serviceAccountPublic,
      operatorCert: operator.cert,
      operatorKey: operator.key,
      admin: {
        caPem: this.ca.certificatePem,
        certificatePem: await readFile(admin.cert, 'utf8'),
        keyPem: await readFile(admin.key, 'utf8'),
      },
    };
  }
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}
