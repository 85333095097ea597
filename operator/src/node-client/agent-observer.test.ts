// The agent observer over in-memory agents: the latest report always reaches watchers, a
// heartbeat with nothing new wakes nobody, one stream per node whatever the node set does, and a
// restarted agent is streamed from again.
import test from 'ava';
import fc from 'fast-check';
import { silentLogger } from '@metropolis/logging';
import { eventually } from '@metropolis/testing';
import { OperatorMetrics } from '../metrics/operator-metrics.js';
import { AgentObserver } from './agent-observer.js';
import { FakeAgents } from './fake-agents.js';

function setup() {
  const agents = new FakeAgents();
  const metrics = new OperatorMetrics();
  const observer = new AgentObserver({
    dialer: agents,
    metrics,
    logger: silentLogger,
    heartbeatTimeoutMs: 60_000,
    reconnectBackoff: { minMs: 5, maxMs: 20 },
  });
  const controller = new AbortController();
  const running = observer.run(controller.signal);
  const stop = async (): Promise<void> => {
    controller.abort();
    await running;
  };
  return { agents, metrics, observer, stop };
}

/** Waits until `check` holds (polled every 5 ms, for at most 2 s). */
function until(check: () => boolean, what: string): Promise<void> {
  return eventually(
    () => {
      if (!check()) throw new Error(`not reached: ${what}`);
    },
    2_000,
    5,
  );
}

async function gauge(metrics: OperatorMetrics, name: string): Promise<number> {
  const metric = metrics.registry.getSingleMetric(name);
  const values = (await metric?.get())?.values ?? [];
  return values.reduce((sum, value) => sum + value.value, 0);
}

test('the latest report is published; a heartbeat with nothing new wakes nobody', async (t) => {
  const { agents, observer, stop, metrics } = setup();
  t.teardown(stop);
  observer.track('n1', '10.0.0.1');
  await until(() => agents.streams('n1').length === 1, 'a stream');
  const agent = observer.agent('n1');
  if (agent === undefined) throw new Error('n1 is not tracked');
  t.deepEqual(agent.get(), { report: undefined, live: false });

  agents.send('n1', { version: 'v1' });
  t.is(agent.get().report?.version, 'v1');
  t.true(agent.get().live);
  const published = agent.get();
  const heard = observer.lastHeardMs('n1');
  t.not(heard, undefined);

  // The same content again: the liveness clock moves, the published value does not.
  agents.send('n1', { version: 'v1' });
  t.is(agent.get(), published);
  t.true((observer.lastHeardMs('n1') ?? 0) >= (heard ?? Infinity));
  t.is(observer.connection('n1') !== undefined, true);
  t.is(await gauge(metrics, 'metropolis_operator_node_streams'), 1);

  await stop();
  t.deepEqual(agents.streams('n1'), []);
  t.is(agents.connections('n1'), 0);
  t.is(await gauge(metrics, 'metropolis_operator_node_streams'), 0);
});

test('no lost updates: a slow watcher always ends at the last report', async (t) => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.array(fc.constantFrom('v1', 'v2', 'v3', 'v4'), { minLength: 1, maxLength: 5 }), {
        minLength: 1,
        maxLength: 6,
      }),
      async (bursts) => {
        const { agents, observer, stop } = setup();
        try {
          observer.track('n1', '10.0.0.1');
          await until(() => agents.streams('n1').length === 1, 'a stream');
          const agent = observer.agent('n1');
          if (agent === undefined) return false;
          const watching = new AbortController();
          let seen: string | undefined;
          const watcher = (async () => {
            for await (const value of agent.watch(watching.signal)) {
              seen = value.report?.version;
              // Slow: yields to everything else before it looks again.
              await new Promise((resolve) => setImmediate(resolve));
            }
          })();
          for (const burst of bursts) {
            for (const version of burst) agents.send('n1', { version });
            await new Promise((resolve) => setImmediate(resolve));
          }
          const last = bursts.at(-1)?.at(-1);
          await until(() => seen === last, `the watcher sees ${String(last)}`);
          watching.abort();
          await watcher;
          return agent.get().report?.version === last;
        } finally {
          await stop();
        }
      },
    ),
    { numRuns: 40 },
  );
  t.pass();
});

type Command =
  | { readonly kind: 'track'; readonly node: string; readonly address: string }
  | { readonly kind: 'forget'; readonly node: string }
  | { readonly kind: 'pause'; readonly turns: number };

test('never more than one stream per node, whatever the node set does', async (t) => {
  const node = fc.constantFrom('n1', 'n2', 'n3');
  const command: fc.Arbitrary<Command> = fc.oneof(
    fc.record({
      kind: fc.constant('track' as const),
      node,
      address: fc.constantFrom('', '10.0.0.1', '10.0.0.2', '10.0.0.3'),
    }),
    fc.record({ kind: fc.constant('forget' as const), node }),
    fc.record({ kind: fc.constant('pause' as const), turns: fc.integer({ min: 1, max: 5 }) }),
  );
  await fc.assert(
    fc.asyncProperty(fc.array(command, { maxLength: 25 }), async (commands) => {
      const { agents, observer, stop } = setup();
      const wanted = new Map<string, string>();
      try {
        for (const step of commands) {
          switch (step.kind) {
            case 'track':
              observer.track(step.node, step.address);
              wanted.set(step.node, step.address);
              break;
            case 'forget':
              observer.forget(step.node);
              wanted.delete(step.node);
              break;
            case 'pause':
              for (let turn = 0; turn < step.turns; turn++) {
                await new Promise((resolve) => setImmediate(resolve));
              }
              break;
          }
        }
        const settled = (): boolean =>
          ['n1', 'n2', 'n3'].every((name) => {
            const address = wanted.get(name) ?? '';
            const streams = agents.streams(name);
            return address === ''
              ? streams.length === 0 && agents.connections(name) === 0
              : streams.length === 1 && streams[0] === address && agents.connections(name) === 1;
          });
        await until(settled, 'streams to the wanted addresses');
        for (const name of ['n1', 'n2', 'n3']) {
          if ((agents.mostOpen.get(name) ?? 0) > 1) return false;
          if ((observer.agent(name) !== undefined) !== wanted.has(name)) return false;
        }
        return true;
      } finally {
        await stop();
      }
    }),
    { numRuns: 60 },
  );
  t.pass();
});

test('a restarted agent: live goes false, the stream reopens, the new boot is published', async (t) => {
  const { agents, observer, stop, metrics } = setup();
  t.teardown(stop);
  observer.track('n1', '10.0.0.1');
  await until(() => agents.streams('n1').length === 1, 'a stream');
  agents.send('n1', { bootTimeMs: 100 });
  const agent = observer.agent('n1');
  if (agent === undefined) throw new Error('n1 is not tracked');
  t.true(agent.get().live);

  agents.restart('n1');
  const lost = await agent.until((value) => !value.live, AbortSignal.timeout(2_000));
  t.is(lost.report?.bootTimeMs, 100, 'the last report is kept while reconnecting');
  await until(() => agents.streams('n1').length === 1, 'the stream reopened');
  agents.send('n1', { bootTimeMs: 200 });
  t.deepEqual(
    [agent.get().live, agent.get().report?.bootTimeMs],
    [true, 200],
    'the new boot is published on the reopened stream',
  );
  t.is(agents.dials.length, 1, 'the connection is kept: only the stream is reopened');
  t.is(agents.mostOpen.get('n1'), 1);
  t.is(await gauge(metrics, 'metropolis_operator_node_stream_reconnects_total'), 1);
});

test('an address change reopens the stream at the new address; forget closes it', async (t) => {
  const { agents, observer, stop } = setup();
  t.teardown(stop);
  observer.track('n1', '10.0.0.1');
  await until(() => agents.streams('n1').length === 1, 'a stream');
  agents.send('n1', { version: 'v1' });
  observer.track('n1', '10.0.0.2');
  await until(() => agents.streams('n1')[0] === '10.0.0.2', 'the stream at the new address');
  t.deepEqual(
    agents.dials.map((dial) => dial.address),
    ['10.0.0.1', '10.0.0.2'],
  );
  t.is(agents.connections('n1'), 1, 'the old connection is closed');
  t.false(observer.agent('n1')?.get().live, 'not live until the new stream reports');
  t.is(observer.agent('n1')?.get().report?.version, 'v1');

  observer.forget('n1');
  t.is(observer.agent('n1'), undefined);
  await until(() => agents.connections('n1') === 0, 'the connection closed');
  t.deepEqual(agents.streams('n1'), []);
  t.is(observer.connection('n1'), undefined);
});
