// What each MonogonNode role means on a node: the services the agent runs for it, and the one
// canonical role order (the CRD enum's). crds/monogon-node.yaml describes the same table in words;
// node-roles.test.ts keeps the two in step.
import { monogonNodeRoles, type MonogonNodeRole } from './gen/crd/monogon-node.js';

/**
 * The services the node agent runs for each role. KubernetesWorker runs nothing yet: it is
 * recorded (spec.roles, the agent's role config) but not run.
 */
export const roleServices: Readonly<Record<MonogonNodeRole, readonly string[]>> = {
  ConsensusMember: ['etcd'],
  KubernetesController: ['kube-apiserver', 'operator'],
  KubernetesWorker: [],
};

/** The role `name` stands for, exactly as the CRD spells it; undefined for anything else. */
export function roleNamed(name: string): MonogonNodeRole | undefined {
  return monogonNodeRoles.find((role) => role === name);
}

/** Roles without duplicates, in the canonical order (the CRD enum's). */
export function sortRoles(roles: Iterable<MonogonNodeRole>): MonogonNodeRole[] {
  const present = new Set(roles);
  return monogonNodeRoles.filter((role) => present.has(role));
}
