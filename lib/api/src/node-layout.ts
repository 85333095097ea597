// Every path the node agent touches, declared in one place and bound to the directories the
// "kernel" gives it (real mounts on a VM node, a node directory on a process node). A contract:
// the firmware emulator starts the agent on these roots, and test fixtures pre-seed its files.
import { join } from 'node:path';
import {
  loaderDirSegments,
  loaderFileName,
  parametersSegments,
  type SystemSlot,
} from './boot-chain.js';

export interface NodeLayoutRoots {
  /** efivarfs (e.g. /sys/firmware/efi/efivars). */
  readonly efivarfs: string;
  /** The mounted ESP. */
  readonly esp: string;
  /** Block devices (or files) of the two system slots. */
  readonly systemA: string;
  readonly systemB: string;
  /** The mounted data partition. */
  readonly data: string;
  /** The disk description (the ESP's GPT entry) as JSON. */
  readonly disk: string;
  /** The kernel command line (/proc/cmdline). */
  readonly cmdline: string;
}

/** The agent's view of the node's storage. */
export class NodeLayout {
  readonly roots: NodeLayoutRoots;

  constructor(roots: NodeLayoutRoots) {
    this.roots = roots;
  }

  systemSlot(slot: SystemSlot): string {
    return slot === 'A' ? this.roots.systemA : this.roots.systemB;
  }

  /** The slot's loader on the ESP (what `\EFI\metropolis\boot-x.efi` names). */
  loader(slot: SystemSlot): string {
    return join(this.roots.esp, ...loaderDirSegments, loaderFileName(slot));
  }

  /** Node parameters (release keys, cluster membership), kept on the ESP as Monogon does. */
  get parameters(): string {
    return join(this.roots.esp, ...parametersSegments);
  }

  get nodeKey(): string {
    return join(this.roots.data, 'identity', 'node-key.pem');
  }

  /**
   * Written last (atomically) once the node belongs to a cluster: everything else of its
   * bootstrap or join is in place. Without it, cluster files are leftovers of a power cut.
   */
  get ownedMarker(): string {
    return join(this.roots.data, 'owned');
  }

  /** Cluster CA and this node's certificate for the management API. */
  get pkiDir(): string {
    return join(this.roots.data, 'pki');
  }

  /** The cluster CA's certificate. */
  get caCertificate(): string {
    return join(this.pkiDir, 'ca.pem');
  }

  /** The cluster CA's private key: only on the node that bootstrapped the cluster. */
  get caKey(): string {
    return join(this.pkiDir, 'ca-key.pem');
  }

  /**
   * The etcd CA's certificate and key, beside the cluster CA on the CA holder: only etcd
   * members and etcd's clients (kube-apiserver, the local agent and operator) get certificates
   * from it.
   */
  get etcdCaCertificate(): string {
    return join(this.pkiDir, 'etcd-ca.pem');
  }

  get etcdCaKey(): string {
    return join(this.pkiDir, 'etcd-ca-key.pem');
  }

  /** This node's certificate (role metropolis:node), for its management API. */
  get nodeCertificate(): string {
    return join(this.pkiDir, 'node.pem');
  }

  /** The owner's certificate and key, issued when the cluster is bootstrapped. */
  get adminCertificate(): string {
    return join(this.pkiDir, 'admin.pem');
  }

  get adminKey(): string {
    return join(this.pkiDir, 'admin-key.pem');
  }

  /** The key that signs service-account tokens (the public keys that verify them: below). */
  get serviceAccountKey(): string {
    return join(this.pkiDir, 'service-account-key.pem');
  }

  /** PEM, one or more: the signing key's public key first, then older ones still trusted. */
  get serviceAccountPublicKey(): string {
    return join(this.pkiDir, 'service-account.pub.pem');
  }

  /**
   * The keys that encrypt Secrets in etcd, base64, one a line: the first encrypts, all decrypt.
   * Kept beside the CA key and sent only to Kubernetes controllers.
   */
  get secretsEncryptionKeys(): string {
    return join(this.pkiDir, 'secrets-encryption-keys');
  }

  /** The register ticket this cluster hands to joining nodes. */
  get registerTicket(): string {
    return join(this.pkiDir, 'register-ticket');
  }

  /** The roles this node runs, as the operator last applied them. */
  get roleConfig(): string {
    return join(this.roots.data, 'roles.json');
  }

  /** Certificates, keys and kubeconfigs of the control-plane services this node runs. */
  get controlPlanePki(): string {
    return join(this.pkiDir, 'control-plane');
  }

  /** etcd's data directory. */
  get etcdData(): string {
    return join(this.roots.data, 'etcd');
  }

  /** Scratch space and logs of the control-plane services. */
  get controlPlaneRun(): string {
    return join(this.roots.data, 'control-plane');
  }

  /** Scratch file of the data partition's health check (written, synced and removed). */
  get healthProbe(): string {
    return join(this.roots.data, '.health-probe');
  }

  /**
   * The security epoch this node has committed and the epoch of each slot's release (anti-rollback;
   * on the data partition, so a reinstall of the ESP does not reset it).
   */
  get securityEpochs(): string {
    return join(this.roots.data, 'security-epoch.json');
  }

  /** Where bundles are downloaded and verified before anything touches a slot. */
  get staging(): string {
    return join(this.roots.data, 'staging');
  }
}
