// How many nodes may go down, in which order, and when etcd can spare a member.
import test from 'ava';
import type { MonogonNodeRole } from '@metropolis/api';
import type { EtcdView } from '../consensus/etcd-view.js';
import { disruptionBudget, quorumCheck, rolloutOrder, rolloutTier } from './disruption-budget.js';

test('the budget counts nodes being updated and nodes down for other reasons', (t) => {
  t.is(disruptionBudget({ maxUnavailable: 2, disrupting: 0, unavailable: 0 }), 2);
  t.is(disruptionBudget({ maxUnavailable: 2, disrupting: 1, unavailable: 0 }), 1);
  t.is(disruptionBudget({ maxUnavailable: 2, disrupting: 1, unavailable: 1 }), 0);
  t.is(disruptionBudget({ maxUnavailable: 1, disrupting: 0, unavailable: 3 }), 0, 'never negative');
});

const worker: MonogonNodeRole[] = ['KubernetesWorker'];
const controller: MonogonNodeRole[] = ['ConsensusMember', 'KubernetesController'];
const consensus: MonogonNodeRole[] = ['ConsensusMember'];

test('tiers: workers, then controllers, then consensus members', (t) => {
  t.is(rolloutTier([]), 'worker');
  t.is(rolloutTier(worker), 'worker');
  t.is(rolloutTier(['KubernetesWorker', ...controller]), 'controller');
  t.is(rolloutTier(consensus), 'consensus');
});

test('order: by tier, then by name, the operator node last in its tier', (t) => {
  const nodes = [
    { name: 'c-2', specRoles: consensus },
    { name: 'k-1', specRoles: controller },
    { name: 'w-2', specRoles: worker },
    { name: 'k-0', specRoles: controller },
    { name: 'w-1', specRoles: [] },
  ];
  t.deepEqual(
    rolloutOrder(nodes).map((node) => node.name),
    ['w-1', 'w-2', 'k-0', 'k-1', 'c-2'],
  );
  t.deepEqual(
    rolloutOrder(nodes, 'k-0').map((node) => node.name),
    ['w-1', 'w-2', 'k-1', 'k-0', 'c-2'],
  );
});

function etcd(...members: [name: string, healthy: boolean, voting?: boolean][]): EtcdView {
  return {
    members: members.map(([name, healthy, voting]) => ({ name, healthy, voting: voting ?? true })),
  };
}

test('quorum: three healthy members can spare one', (t) => {
  t.deepEqual(quorumCheck(etcd(['a', true], ['b', true], ['c', true]), 'a'), { ok: true });
});

test('quorum: with one member already unhealthy, none can be spared', (t) => {
  const view = etcd(['a', true], ['b', true], ['c', false]);
  const check = quorumCheck(view, 'a');
  t.false(check.ok);
  t.like(check, {
    message:
      'etcd has 3 voting members and needs 2; with this node down only 1 healthy would remain (unhealthy: c)',
  });
  t.true(quorumCheck(view, 'c').ok, 'the unhealthy member itself may go: the others keep quorum');
});

test('quorum: learners do not count; one or two members reboot only when all are healthy', (t) => {
  t.true(quorumCheck(etcd(['a', true], ['b', true], ['c', true], ['d', false, false]), 'a').ok);
  t.true(quorumCheck(etcd(['a', true]), 'a').ok, 'a single-node control plane is updated too');
  t.true(quorumCheck(etcd(['a', true], ['b', true]), 'a').ok);
  const refused = quorumCheck(etcd(['a', true], ['b', false]), 'a');
  t.false(refused.ok);
  if (!refused.ok) t.regex(refused.message, /tolerates no failure.*unhealthy: b/);
});

test('quorum: without a view of etcd, no', (t) => {
  t.like(quorumCheck(undefined, 'a'), {
    ok: false,
    message: 'etcd member health could not be read; no member is rebooted blind',
  });
});
