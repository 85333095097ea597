// The rollout over random clusters, failures and operator restarts: no node reboots twice for a
// step, the budget and etcd quorum hold, and the rollout always ends.
import test from 'ava';
import fc from 'fast-check';
import { isTerminalOSUpdatePhase, type MonogonNodeRole } from '@metropolis/api';
import {
  t0,
  second,
  minute,
  worker,
  controller,
  FakeCluster,
  Engine,
  nodesOf,
  withStrategy,
} from './fake-cluster.js';

/**
 * A whole rollout against random clusters and mishaps: nodes whose new version does not boot,
 * nodes that boot too slowly, operator restarts at any point. Whatever happens: no node
 * reboots more than once to update (and once more to revert), never more than maxUnavailable
 * nodes are down, etcd never loses quorum, and the rollout ends Succeeded, Halted or Reverted.
 */
test('property: safe and finishing, whatever happens', (t) => {
  const roleSet = fc.constantFrom<MonogonNodeRole[]>(worker, controller, ['ConsensusMember'], []);
  const steps = 150;
  const scenario = fc.record({
    roles: fc.array(roleSet, { minLength: 1, maxLength: 7 }),
    maxUnavailable: fc.oneof(fc.integer({ min: 1, max: 3 }), fc.constantFrom('34%', '50%', '100%')),
    failurePolicy: fc.constantFrom<'Halt' | 'Revert'>('Halt', 'Revert'),
    bad: fc.array(fc.boolean(), { minLength: 7, maxLength: 7 }),
    slow: fc.array(
      fc.nat({ max: 9 }).map((n) => n === 0),
      { minLength: 7, maxLength: 7 },
    ),
    // A few, anywhere: an operator that restarts all the time loses every stage result it
    // has not written yet, and never gets anywhere (by design: results live in memory).
    restarts: fc.uniqueArray(fc.nat({ max: steps - 1 }), { maxLength: 6 }),
  });
  fc.assert(
    fc.property(scenario, (s) => {
      const names = s.roles.map((_, index) => `n${String(index)}`);
      const cluster = new FakeCluster(names.map((name, index) => [name, s.roles[index] ?? []]));
      const bad = names.map((_, index) => s.bad[index] === true && index % 3 === 0);
      const slow = names.map((_, index) => s.slow[index] === true);
      names.forEach((name, index) => {
        if (bad[index] === true) cluster.node(name).badVersions.add('0.2.0');
      });
      let engine = new Engine(
        cluster,
        withStrategy({
          maxUnavailable: s.maxUnavailable,
          failurePolicy: s.failurePolicy,
          bootTimeout: '2m',
        }),
      );
      const members = cluster.etcd().members.length;
      const quorum = Math.floor(members / 2) + 1;
      const limit =
        typeof s.maxUnavailable === 'number'
          ? s.maxUnavailable
          : Math.max(1, Math.floor((names.length * Number.parseInt(s.maxUnavailable, 10)) / 100));
      const downSince = new Map<string, number>();
      let now = t0;
      for (let step = 0; step < steps; step += 1) {
        if (s.restarts.includes(step)) engine = engine.restart();
        const before = names.map((name) => cluster.node(name).reboots);
        const plan = engine.plan(now);
        for (const name of nodesOf(plan.actions, 'stage')) engine.finishStage(name);
        names.forEach((name, index) => {
          const node = cluster.node(name);
          if (node.reboots > (before[index] ?? 0)) {
            cluster.down(name);
            downSince.set(name, now);
          }
          const since = downSince.get(name);
          if (
            since !== undefined &&
            now - since >= (slow[index] === true ? 3 * minute : 20 * second)
          ) {
            cluster.boot(name, now);
            downSince.delete(name);
          }
        });
        // Nodes that failed stay failed; the others down are the rollout's doing.
        const down = names.filter((name) => {
          const phase = engine.entry(name).phase;
          return !cluster.node(name).up && phase !== 'Failed' && phase !== 'RolledBack';
        });
        if (down.length > limit) return false;
        const etcdDown = cluster.etcd().members.filter((member) => !member.healthy).length;
        // Fewer than three members tolerate no failure: one at a time, when all are healthy.
        if (members >= 3 && members - etcdDown < quorum) return false;
        if (members > 0 && members < 3 && etcdDown > 1) return false;
        if (isTerminalOSUpdatePhase(engine.status?.phase) && downSince.size === 0) break;
        now += 20 * second;
      }
      const maxReboots = s.failurePolicy === 'Revert' ? 2 : 1;
      if ([...cluster.nodes.values()].some((node) => node.reboots > maxReboots)) return false;
      const phase = engine.status?.phase;
      if (!bad.includes(true) && !slow.includes(true)) return phase === 'Succeeded';
      return isTerminalOSUpdatePhase(phase);
    }),
    { numRuns: 200 },
  );
  t.pass();
});
