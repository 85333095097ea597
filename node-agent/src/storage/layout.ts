// Every path the agent touches, declared in one place and bound to the directories the
// "kernel" gives it (real mounts on a VM node, a node directory on a process node).
import { join } from 'node:path';
import type { Slot } from '../slots/slot.js';

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

  systemSlot(slot: Slot): string {
    return slot === 'A' ? this.roots.systemA : this.roots.systemB;
  }

  /** The slot's loader on the ESP (what `\EFI\metropolis\boot-x.efi` names). */
  loader(slot: Slot): string {
    return join(this.roots.esp, 'EFI', 'metropolis', `boot-${slot.toLowerCase()}.efi`);
  }

  /** Node parameters (release keys now; cluster membership later), kept on the ESP as Monogon does. */
  get parameters(): string {
    return join(this.roots.esp, 'metropolis', 'parameters.json');
  }

  get nodeKey(): string {
    return join(this.roots.data, 'identity', 'node-key.pem');
  }

  /** Cluster CA and this node's certificate for the management API. */
  get pkiDir(): string {
    return join(this.roots.data, 'pki');
  }

  /** The cluster CA's private key: only on the node that bootstrapped the cluster. */
  get caKey(): string {
    return join(this.roots.data, 'pki', 'ca-key.pem');
  }

  /** Certificates, keys and kubeconfigs of the control-plane services this node runs. */
  get controlPlanePki(): string {
    return join(this.roots.data, 'pki', 'control-plane');
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

  /** Where bundles are downloaded and verified before anything touches a slot. */
  get staging(): string {
    return join(this.roots.data, 'staging');
  }
}
