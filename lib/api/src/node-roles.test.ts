// The role table against crds/monogon-node.yaml: what the CRD tells users a role runs must be
// what the agent runs, and nothing the project does not run may be claimed.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { parse } from 'yaml';
import { monogonNodeRoles } from './gen/crd/monogon-node.js';
import { roleServices, sortRoles } from './node-roles.js';

/** Components of Monogon's roles this project does not run (yet). */
const notRun = ['curator', 'controller-manager', 'scheduler', 'containerd', 'kubelet'];

interface Described {
  description?: string;
  properties?: Record<string, Described>;
  items?: Described;
}

const crd = parse(
  readFileSync(join(import.meta.dirname, '..', '..', '..', 'crds', 'monogon-node.yaml'), 'utf8'),
) as { spec: { versions: { schema: { openAPIV3Schema: Described } }[] } };
const schema = crd.spec.versions[0]?.schema.openAPIV3Schema;
const roles = schema?.properties?.['spec']?.properties?.['roles'];
const runningRoles = schema?.properties?.['status']?.properties?.['runningRoles'];
const rolesText = roles?.description ?? '';
const itemTexts = [roles?.items?.description ?? '', runningRoles?.items?.description ?? ''];

/** The part of spec.roles' description about `role`: from "Role:" to the next role's. */
function sentenceAbout(role: string): string {
  const start = rolesText.indexOf(`${role}:`);
  if (start < 0) return '';
  const ends = monogonNodeRoles
    .map((other) => rolesText.indexOf(`${other}:`, start + 1))
    .filter((index) => index > start);
  return rolesText.slice(start, ends.length > 0 ? Math.min(...ends) : undefined);
}

test('spec.roles names every service each role runs', (t) => {
  for (const role of monogonNodeRoles) {
    const sentence = sentenceAbout(role);
    t.not(sentence, '', `${role} is described`);
    for (const service of roleServices[role])
      t.true(sentence.includes(service), `${role}: ${service}`);
  }
});

test('each role item names the services of its role', (t) => {
  for (const text of itemTexts) {
    for (const role of monogonNodeRoles) {
      const after = text.slice(text.indexOf(role));
      t.true(text.includes(role), role);
      for (const service of roleServices[role])
        t.true(after.includes(service), `${role}: ${service}`);
    }
  }
});

test('a role that runs nothing yet is described as not run', (t) => {
  for (const role of monogonNodeRoles.filter((r) => roleServices[r].length === 0)) {
    t.regex(sentenceAbout(role), /not run/, role);
  }
});

test('the CRD claims no component the project does not run', (t) => {
  for (const text of [rolesText, ...itemTexts]) {
    for (const component of notRun) t.false(text.includes(component), component);
  }
});

test('sortRoles keeps the CRD enum order and drops duplicates', (t) => {
  t.deepEqual(sortRoles(['KubernetesWorker', 'ConsensusMember', 'KubernetesWorker']), [
    'ConsensusMember',
    'KubernetesWorker',
  ]);
  t.deepEqual(sortRoles([...monogonNodeRoles].reverse()), [...monogonNodeRoles]);
});
